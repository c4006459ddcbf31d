//! `snnkit events FILE --out OUT`: decode, or convert to the format OUT's extension names.
//!
//! `.npy` gives the int64 `[N, 4]` array (t, x, y, p) of the CLI contract; `.aedat4`, `.aedat`
//! (AEDAT 3.1), `.raw` (EVT 2.0 or 3.0, `--out-format`), `.dat` and `.h5` (DSEC layout) write
//! event files. The work is `snnkit_events::convert::convert`; this module only parses flags and
//! draws the progress bar.

use crate::cmd::inspect::DecodeArgs;
use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use snnkit_events::convert::{convert, ConvertOptions, Target};
use snnkit_events::Format;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Arguments of `snnkit events`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    decode: DecodeArgs,
    /// Output file; its extension picks the format: .npy (int64 [N, 4]: t, x, y, p, in file
    /// order), .aedat4, .aedat (AEDAT 3.1), .raw (EVT 2.0/3.0, see --out-format), .dat, .h5 (DSEC).
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
        Some(f) => bail!("--out-format {f}: only evt2 or evt3 (for a .raw output)"),
    };
    let is_raw =
        Target::from_path(&args.out, raw).is_ok_and(|t| matches!(t, Target::Evt2 | Target::Evt3));
    if args.out_format.is_some() && !is_raw {
        bail!(
            "--out-format applies to a .raw output only; {} has another extension",
            args.out.display()
        );
    }
    let bar = if args.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar
    };
    let opts = ConvertOptions {
        raw,
        sensor_size: args.sensor,
    };
    let done = convert(
        &args.decode.file,
        &args.decode.options(),
        &args.out,
        &opts,
        |pos, len| {
            bar.set_length(len);
            bar.set_position(pos);
        },
    )?;
    bar.finish_and_clear();
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
