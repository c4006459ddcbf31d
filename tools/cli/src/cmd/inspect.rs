//! `snnkit inspect FILE`: format, sensor size, event count, time span and polarity counts.

use anyhow::Result;
use snnkit_events::{
    Aedat2Layout, Aedat2Orientation, AtisOverflow, Format, Profile, ReadOptions, Recording,
};
use std::io::Write;
use std::path::PathBuf;

/// How to decode an event file (shared by `inspect`, `events` and the benchmarks).
#[derive(clap::Args, Debug, Clone)]
pub struct DecodeArgs {
    /// The event file.
    pub file: PathBuf,
    /// File format: aedat2, aedat3, aedat4, atis-bin, hdf5, evt2, evt3, dat (detected from the
    /// header when absent).
    #[arg(long)]
    pub format: Option<Format>,
    /// Dataset convention: dvs128-gesture, cifar10-dvs, n-mnist, n-caltech101, n-cars (sensor size and,
    /// for cifar10-dvs, SpikingJelly's coordinate mapping).
    #[arg(long)]
    pub profile: Option<Profile>,
    /// Spec-strict decoding: drop AEDAT 3.1 events whose validity bit is 0 and AEDAT 2.0 DVS128
    /// external events (default: keep them, as SpikingJelly does).
    #[arg(long)]
    pub strict: bool,
    /// ATIS .bin: treat y == 240 rows as timestamp-overflow markers as Tonic does (drop them and
    /// add 8192 µs to later timestamps); default keeps them as events, as SpikingJelly does.
    #[arg(long)]
    pub tonic: bool,
    /// AEDAT 2.0 address layout: dvs128 or davis (default: from the `# AEChip:` header line, else
    /// from the addresses).
    #[arg(long)]
    pub aedat2_layout: Option<Aedat2Layout>,
    /// AEDAT 2.0 orientation: native keeps jAER's stored fields (origin lower left; the default,
    /// as the reference readers use), upright rotates them by 180° (x -> W-1-x, y -> H-1-y) as
    /// Tonic's read_davis_346 does, matching AEDAT 4 recordings. Needs the sensor size.
    #[arg(long, default_value = "native", value_name = "native|upright")]
    pub orientation: Aedat2Orientation,
}

impl DecodeArgs {
    /// The library options these flags select.
    pub fn options(&self) -> ReadOptions {
        ReadOptions {
            format: self.format,
            profile: self.profile,
            strict: self.strict,
            atis_overflow: if self.tonic {
                AtisOverflow::Tonic
            } else {
                AtisOverflow::SpikingJelly
            },
            aedat2_layout: self.aedat2_layout,
            aedat2_orientation: self.orientation,
        }
    }

    /// Decodes the file; the error names the file and the byte offset.
    pub fn read(&self) -> Result<Recording> {
        Ok(snnkit_events::read_file(&self.file, &self.options())?)
    }
}

/// Arguments of `snnkit inspect`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    decode: DecodeArgs,
    /// Print one JSON object (keys: file, format, width, height, events, t_min, t_max, on, off).
    #[arg(long)]
    json: bool,
}

/// Runs `snnkit inspect`.
pub fn run(args: Args) -> Result<()> {
    let rec = args.decode.read()?;
    let s = rec.summary();
    // Write errors (a closed pipe) become an error exit instead of a panic.
    let mut out = std::io::stdout().lock();
    if args.json {
        let v = serde_json::json!({
            "file": args.decode.file.display().to_string(),
            "format": rec.format.name(),
            "width": rec.width,
            "height": rec.height,
            "events": s.events,
            "t_min": s.t_min,
            "t_max": s.t_max,
            "on": s.on,
            "off": s.off,
        });
        writeln!(out, "{v}")?;
    } else {
        let opt = |v: Option<i64>| v.map_or("-".to_string(), |v| v.to_string());
        writeln!(out, "file    {}", args.decode.file.display())?;
        writeln!(out, "format  {}", rec.format)?;
        writeln!(
            out,
            "sensor  {} x {}",
            opt(rec.width.map(i64::from)),
            opt(rec.height.map(i64::from))
        )?;
        writeln!(out, "events  {} ({} on, {} off)", s.events, s.on, s.off)?;
        writeln!(out, "t       {} .. {} µs", opt(s.t_min), opt(s.t_max))?;
    }
    Ok(())
}
