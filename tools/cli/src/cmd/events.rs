//! `snnkit events FILE --out OUT`: decode, or convert to the format OUT's extension names.
//!
//! `.npy` gives the int64 `[N, 4]` array (t, x, y, p) of the CLI contract; `.aedat4`, `.aedat`
//! (AEDAT 3.1), `.raw` (EVT 2.0 or 3.0, `--out-format`), `.dat` and `.h5` (DSEC layout) write
//! event files. The work is `snnkit_events::convert::convert`; this module only parses flags and
//! draws the progress bar.

use crate::cmd::inspect::DecodeArgs;
use crate::progress::{Mode, Ticker};
use crate::usage::usage;
use anyhow::Result;
use snnkit_events::convert::{convert, ConvertOptions, Target};
use snnkit_events::Format;
use std::path::PathBuf;

/// Arguments of `snnkit events`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    decode: DecodeArgs,
    /// Output file; its extension picks the format: .npy (int64 [N, 4]: t, x, y, p, in file
    /// order), .aedat4, .aedat (AEDAT 3.1), .raw (EVT 2.0/3.0, see --out-format), .dat, .h5 (DSEC).
    /// Missing parent folders are created.
    #[arg(long)]
    out: PathBuf,
    /// Encoding of a .raw output: evt2 or evt3 (default evt3). `--format` names the input's.
    #[arg(long, value_name = "evt2|evt3")]
    out_format: Option<Format>,
    /// Sensor size for the output header as WIDTHxHEIGHT (default: the input's, else the largest
    /// coordinates + 1).
    #[arg(long, value_parser = parse_size)]
    sensor: Option<(u16, u16)>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let (w, h) = s
        .split_once('x')
        .ok_or_else(|| format!("expected WIDTHxHEIGHT, found {s:?}"))?;
    let n = |v: &str| {
        v.parse::<u16>()
            .map_err(|_| format!("{v:?} is not a size in 1..65536"))
    };
    Ok((n(w)?, n(h)?))
}

/// Runs `snnkit events`.
pub fn run(args: Args) -> Result<()> {
    let raw = match args.out_format {
        None => Some(Format::Evt3),
        Some(f @ (Format::Evt2 | Format::Evt3)) => Some(f),
        Some(f) => {
            return Err(usage!(
                "--out-format {f}: only evt2 or evt3 (for a .raw output)"
            ))
        }
    };
    // The extension picks the format: one that names none is a usage error, before any work.
    let target = Target::from_path(&args.out, raw).map_err(|e| usage!("--out: {e}"))?;
    if args.out_format.is_some() && !matches!(target, Target::Evt2 | Target::Evt3) {
        return Err(usage!(
            "--out-format applies to a .raw output only; {} has another extension",
            args.out.display()
        ));
    }
    crate::usage::create_parent(&args.out)?;
    let ticker = Ticker::new(
        Mode::detect(args.quiet),
        &format!("events {}", args.decode.file.display()),
        "bytes",
        0,
    );
    let opts = ConvertOptions {
        raw,
        sensor_size: args.sensor,
    };
    let done = convert(
        &args.decode.file,
        &args.decode.options(),
        &args.out,
        &opts,
        |pos, len| ticker.bytes(pos, len),
    )?;
    ticker.finish();
    if !args.quiet && done.to != Target::Npy {
        eprintln!(
            "{} events, {} -> {} ({})",
            done.events,
            done.from,
            done.to.format().map_or("npy", |f| f.name()),
            args.out.display()
        );
    }
    Ok(())
}
