//! `snnkit eval`: accuracy, per-class accuracy, confusion matrix (JSON + PNG) and firing rates of
//! a checkpoint on a frame cache or, for image-trained checkpoints, on an image dataset's
//! held-out split (top-1 and top-5).

use crate::usage::usage;
use anyhow::Result;
use std::path::PathBuf;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// A checkpoint written by `snnkit train` (last.safetensors or best.safetensors).
    #[arg(
        long,
        required_unless_present = "init_from",
        conflicts_with = "init_from"
    )]
    pub checkpoint: Option<PathBuf>,
    /// Bare weights instead of a checkpoint (a safetensors state_dict, e.g. from
    /// `snnkit convert-weights`), in the network of --preset or --config.
    #[arg(long, value_name = "WEIGHTS")]
    pub init_from: Option<PathBuf>,
    /// With --init-from: the preset describing the network and loader.
    #[arg(long, requires = "init_from", value_parser = super::preset_arg)]
    pub preset: Option<String>,
    /// With --init-from: a TOML configuration (as for `snnkit train`) describing the network.
    #[arg(long, requires = "init_from")]
    pub config: Option<PathBuf>,
    /// Frame cache: a split file, a setting folder, a dataset folder or a cache root (as for
    /// `snnkit train`).
    #[arg(long, required_unless_present = "data", conflicts_with = "data")]
    pub cache: Option<PathBuf>,
    /// With --cache: the setting folder to use when the dataset folder holds several.
    #[arg(long, requires = "cache")]
    pub setting: Option<String>,
    /// Image dataset root (as for `snnkit train --data`), for image-trained checkpoints.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Split to evaluate (default: the run's test split).
    #[arg(long)]
    pub split: Option<String>,
    /// Evaluation batch size (default: the run's).
    #[arg(long, alias = "batch", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: Option<u64>,
    /// Folder for confusion_<split>.json and confusion_<split>.png (default: next to the
    /// checkpoint); created with its parents.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu", value_parser = super::device_arg)]
    pub device: String,
    /// Print the full report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// No progress; the accuracy line and the report stay.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let device = snnkit_train::parse_device(&args.device)?;
    let mut bars = super::train::Bars::new(args.quiet);
    // Either flag names the data; the checkpoint's (or --preset/--config's) configuration says
    // how to read it.
    let data = match (&args.cache, &args.data) {
        (Some(c), _) => super::cache_with_setting(c, args.setting.as_deref())?,
        (None, Some(d)) => d.clone(),
        (None, None) => PathBuf::new(),
    };
    let batch = args.batch_size.map(|b| b as usize);
    let report = match (&args.checkpoint, &args.init_from) {
        (Some(c), _) => snnkit_train::evaluate_checkpoint(
            c,
            &data,
            args.split.as_deref(),
            batch,
            &device,
            &mut bars,
        )?,
        (None, Some(w)) => {
            if args.preset.is_none() && args.config.is_none() {
                return Err(usage!(
                    "--init-from needs --preset NAME or --config FILE.toml to describe the network"
                ));
            }
            let cfg =
                snnkit_train::TrainConfig::resolve(args.preset.as_deref(), args.config.as_deref())?;
            snnkit_train::evaluate_weights(
                w,
                &cfg,
                &data,
                args.split.as_deref(),
                batch,
                &device,
                &mut bars,
            )?
        }
        (None, None) => return Err(usage!("give --checkpoint FILE or --init-from WEIGHTS")),
    };
    let source = report.checkpoint.clone();
    let out = match &args.out {
        Some(o) => o.clone(),
        None => source
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(".")),
    };
    let (json_path, png_path) = snnkit_train::write_report(&report, &out)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{}: epoch {}, {} samples of {} ({} split): accuracy {:.2}%, top-5 {:.2}% (loss {:.4})",
        source.display(),
        report.epoch,
        report.samples,
        report.cache_file.display(),
        report.split,
        100.0 * report.accuracy,
        100.0 * report.top5,
        report.loss
    );
    println!("per class:");
    for c in &report.per_class {
        println!(
            "  {:>3} {:<24} {:>6.1}% ({}/{})",
            c.label,
            c.name,
            100.0 * c.accuracy,
            c.correct,
            c.samples
        );
    }
    println!("confusion matrix (rows true, columns predicted):");
    for row in &report.confusion {
        println!(
            "  {}",
            row.iter().map(|v| format!("{v:>4}")).collect::<String>()
        );
    }
    println!("firing rates per LIF layer:");
    for (k, v) in &report.firing_rates {
        println!("  {k:<28} {:.4}", v);
    }
    println!("wrote {} and {}", json_path.display(), png_path.display());
    Ok(())
}
