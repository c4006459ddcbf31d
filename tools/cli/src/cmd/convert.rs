//! `snnkit convert`: a dataset's raw files into the HDF5 frame cache, one file per split.
//!
//! The work happens in `snnkit_cache::convert_dataset`; this module parses arguments, draws the progress bar and
//! prints the summary.

use std::ops::ControlFlow;
use std::path::PathBuf;

use anyhow::Result;

use crate::progress::{Mode, Ticker};
use crate::usage::usage;
use snnkit_cache::convert::{ConvertOptions, Progress};
use snnkit_cache::{
    convert_dataset, Compression, ConvertSummary, DatasetConvert, FrameSetting, SplitBy,
};

/// `writeln!` into a `String` (cannot fail). Also used by `snnkit cache info`.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}
pub(crate) use say;

/// SpikingJelly's `split_by`.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SplitByArg {
    /// Equal event counts per frame.
    Number,
    /// Equal time spans per frame.
    Time,
}

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Dataset name: dvs128-gesture, cifar10-dvs, n-caltech101, n-mnist, n-cars, synthetic.
    #[arg(long, value_parser = super::dataset_arg)]
    dataset: String,
    /// Dataset root folder.
    #[arg(long)]
    root: PathBuf,
    /// Frames per sample T (with --split-by).
    #[arg(long, requires = "split_by", conflicts_with = "duration", value_parser = clap::value_parser!(u64).range(1..))]
    frames: Option<u64>,
    /// How events are split into the T frames.
    #[arg(long, value_enum, requires = "frames")]
    split_by: Option<SplitByArg>,
    /// Fixed frame duration in µs instead of --frames (samples are zero-padded to the longest).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    duration: Option<u64>,
    /// Cache folder; writes CACHE_DIR/<dataset>/<setting>/{train,test}.h5 (folders created).
    #[arg(long)]
    out: PathBuf,
    /// Decoding/binning threads; 0 = all cores.
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// No progress; the summary table stays.
    #[arg(long)]
    quiet: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Skip unreadable raw files (listed in the summary) instead of failing.
    #[arg(long)]
    skip_bad: bool,
    /// Chunk compression: none, deflate (= deflate:3) or deflate:LEVEL (1-9).
    #[arg(long, default_value_t = Compression::DEFAULT)]
    compression: Compression,
    /// Rebuild splits that are already up to date.
    #[arg(long)]
    force: bool,
    /// Start over instead of resuming an interrupted conversion.
    #[arg(long)]
    no_resume: bool,
    /// n-caltech101: convert the class folders present when some of the 101 are missing (labels
    /// follow the sorted names present); by default an incomplete tree is an error.
    #[arg(long)]
    allow_missing_classes: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let setting = match (args.frames, args.split_by, args.duration) {
        (Some(frames), Some(split_by), None) => FrameSetting::Frames {
            frames: frames as usize,
            split_by: match split_by {
                SplitByArg::Number => SplitBy::Number,
                SplitByArg::Time => SplitBy::Time,
            },
        },
        (None, None, Some(us)) => FrameSetting::Duration { us },
        _ => {
            return Err(usage!(
                "give either --frames T --split-by number|time, or --duration US"
            ))
        }
    };
    let mut req = DatasetConvert::new(&args.dataset, &args.root, setting, &args.out);
    req.compression = args.compression;
    req.open.allow_missing_classes = args.allow_missing_classes;
    req.options = ConvertOptions {
        jobs: args.jobs,
        skip_bad: args.skip_bad,
        resume: !args.no_resume,
        force: args.force,
        ..ConvertOptions::default()
    };
    let ticker = Ticker::new(Mode::detect(args.quiet), "convert", "files", 0);
    let mut current_split = String::new();
    let summary = convert_dataset(&req, &mut |p: &Progress| {
        if p.split != current_split {
            current_split.clone_from(&p.split);
            ticker.set_label(&format!("convert {}", p.split));
            ticker.set_total(p.units_total as u64);
        }
        let rate = p.events_done as f64 / p.elapsed.as_secs_f64().max(1e-9);
        ticker.set(
            p.units_done as u64,
            format!("{} samples, {:.1} M events/s", p.samples_done, rate / 1e6),
        );
        ControlFlow::Continue(())
    });
    ticker.finish();
    let summary = summary?;
    if args.json {
        print_stdout(&serde_json::to_string_pretty(&summary)?)?;
    } else {
        print_summary(&summary)?;
    }
    Ok(())
}

fn print_summary(s: &ConvertSummary) -> Result<()> {
    let mut out = String::new();
    say!(
        out,
        "{} {} -> {}",
        s.dataset,
        s.setting,
        s.out_dir.display()
    );
    for sp in &s.splits {
        let state = if sp.up_to_date {
            " (up to date, not rewritten)".to_string()
        } else if sp.resumed_units > 0 {
            format!(" (resumed after {} files)", sp.resumed_units)
        } else {
            String::new()
        };
        say!(
            out,
            "  {:5} {:6} samples  {:>10}  {:>8.0} B/sample  {}  {}{}",
            sp.split,
            sp.samples,
            human_bytes(sp.file_bytes),
            sp.bytes_per_sample,
            sp.dtype.name(),
            sp.path.display(),
            state
        );
        for bad in &sp.skipped {
            let why = match bad.error.as_str() {
                "" => "(skipped in an earlier, interrupted run)".to_string(),
                e if e.contains(&bad.file) => e.to_string(),
                e => format!("{}: {e}", bad.file),
            };
            say!(out, "        skipped {why}");
        }
    }
    say!(
        out,
        "  {} samples, {:.1} M events in {:.2} s ({:.1} M events/s)",
        s.samples,
        s.events as f64 / 1e6,
        s.seconds,
        s.events_per_s / 1e6
    );
    print_stdout(out.trim_end())
}

/// `1.5 MiB`-style sizes.
pub fn human_bytes(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Prints `text` and a newline on stdout; a closed pipe (`| head`) is not an error.
pub fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
