//! `snnkit train`: train an SMA-AZO network on a frame cache, or SMA-MS-ResNet on a static-image
//! dataset (logic in `snnkit_train`).

use crate::progress::{Mode, Ticker};
use crate::usage::usage;
use anyhow::{Context, Result};
use snnkit_train::{EpochMetrics, Progress, TrainConfig, TrainOptions};
use std::path::{Path, PathBuf};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Built-in preset: dvs128-gesture, cifar10-dvs, n-caltech101, synthetic (frame caches);
    /// ms-resnet18-imagenet, ms-resnet34-imagenet, ms-resnet104-imagenet,
    /// ms-resnet104-azo-finetune, ms-resnet18-synthetic (images, --data).
    #[arg(long, value_parser = super::preset_arg)]
    pub preset: Option<String>,
    /// TOML file whose fields override the preset's (or the defaults). It may name its base
    /// with `preset = "NAME"`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Frame cache: a split file, a setting folder (train.h5, test.h5), a dataset folder or a
    /// cache root (CACHE_DIR/<dataset>/<setting>/); see docs/cli.md.
    #[arg(long, required_unless_present = "data", conflicts_with = "data")]
    pub cache: Option<PathBuf>,
    /// With --cache: the setting folder to use when the dataset folder holds several
    /// (e.g. frames16_number); overrides the configuration's data.setting.
    #[arg(long, requires = "cache")]
    pub setting: Option<String>,
    /// Static-image dataset root, for configurations with an [images] table (the ms-resnet
    /// presets): ImageFolder ROOT/train/<class>/*, ROOT/val/<class>/* (ImageNet's layout), or
    /// CIFAR-10's binary batches.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run folder (config.toml, metrics.jsonl, checkpoints, curves.png, summary.json); created
    /// with its parents.
    #[arg(long)]
    pub out: PathBuf,
    /// Apply one of the paper's SMA ablations to the network: T1-T4, S1-S4 (which blocks carry an
    /// SMA), L1-L3 (where in the block), N2-N6 (number of scales). See docs/training.md.
    #[arg(long, value_parser = super::ablation_arg)]
    pub ablation: Option<String>,
    /// Override the epoch count. With --resume, more epochs than planned extend the run (the
    /// cosine horizon is recomputed; see docs/cli.md).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub epochs: Option<u64>,
    /// Override the training batch size (refused when the training split holds fewer samples).
    #[arg(long, alias = "batch", value_parser = clap::value_parser!(u64).range(1..))]
    pub batch_size: Option<u64>,
    /// Override the learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Override the seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Clip the global gradient L2 norm to this value (0 = off).
    #[arg(long)]
    pub clip_grad: Option<f64>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu", value_parser = super::device_arg)]
    pub device: String,
    /// Continue from RUN_DIR/last.safetensors (the configuration comes from RUN_DIR/config.toml
    /// when neither --preset nor --config is given). A finished run is reported as complete.
    #[arg(long)]
    pub resume: bool,
    /// Start from these weights (a safetensors state_dict, e.g. from `snnkit convert-weights`)
    /// instead of the seeded initialisation. Every name and shape must match the network.
    #[arg(long, value_name = "WEIGHTS")]
    pub init_from: Option<PathBuf>,
    /// No progress or per-epoch lines; the final accuracy line stays.
    #[arg(long)]
    pub quiet: bool,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Resolves the configuration from the arguments.
pub fn resolve_config(args: &Args) -> Result<TrainConfig> {
    let mut cfg = match (&args.preset, &args.config) {
        (None, None) if args.resume => {
            let p = args.out.join(snnkit_train::files::CONFIG);
            TrainConfig::resolve(None, Some(&p)).with_context(|| {
                format!("--resume without --preset/--config reads {}", p.display())
            })?
        }
        (None, None) => {
            return Err(usage!(
                "give --preset NAME or --config FILE.toml (presets: {})",
                snnkit_train::preset_names().join(", ")
            ))
        }
        (p, c) => TrainConfig::resolve(p.as_deref(), c.as_deref())?,
    };
    if let Some(a) = &args.ablation {
        cfg.model.apply_ablation(a)?;
        // Idempotent, so `--resume --ablation X` finds the same configuration.
        if !cfg.name.ends_with(&format!("-{a}")) {
            cfg.name = format!("{}-{a}", cfg.name);
        }
    }
    if let Some(e) = args.epochs {
        cfg.epochs = e as usize;
    }
    if let Some(b) = args.batch_size {
        cfg.data.batch_size = b as usize;
    }
    if let Some(s) = &args.setting {
        cfg.data.setting.clone_from(s);
    }
    if let Some(lr) = args.lr {
        cfg.optimizer.lr = lr;
    }
    if let Some(s) = args.seed {
        cfg.seed = s;
    }
    if let Some(c) = args.clip_grad {
        cfg.clip_grad = c;
    }
    cfg.validate("command line")?;
    Ok(cfg)
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let cfg = resolve_config(&args)?;
    let device = snnkit_train::parse_device(&args.device)?;
    let opts = TrainOptions {
        cache: data_path(&cfg, args.cache.as_deref(), args.data.as_deref())?,
        out: args.out.clone(),
        device,
        resume: args.resume,
        stop_after: None,
        init_from: args.init_from.clone(),
    };
    let mut progress = Bars::new(args.quiet);
    let res = snnkit_train::train(&cfg, &opts, &mut progress)?;
    let s = &res.summary;
    if args.json {
        println!("{}", serde_json::to_string_pretty(s)?);
    } else if res.already_complete {
        println!(
            "{} is complete: {} of {} epochs trained, best test accuracy {:.2}% at epoch {}; nothing to do (add --epochs N to extend it)",
            args.out.display(),
            s.epochs,
            cfg.epochs,
            100.0 * s.best_test_acc,
            s.best_epoch
        );
    } else if args.quiet {
        println!("{}", accuracy_line(s));
    } else {
        print_summary(s, &args.out);
    }
    Ok(())
}

/// The data folder for `cfg`: `--data` for configurations that read images, `--cache` otherwise.
pub fn data_path(cfg: &TrainConfig, cache: Option<&Path>, data: Option<&Path>) -> Result<PathBuf> {
    match (cfg.images.is_some(), cache, data) {
        (true, _, Some(d)) | (false, Some(d), _) => Ok(d.to_path_buf()),
        (true, _, None) => Err(usage!(
            "configuration {:?} reads static images: give the dataset root with --data ROOT",
            cfg.name
        )),
        (false, None, _) => Err(usage!(
            "configuration {:?} reads a frame cache: give it with --cache PATH (--data is for image presets)",
            cfg.name
        )),
    }
}

/// Prints the end-of-run lines.
pub fn print_summary(s: &snnkit_train::Summary, out: &Path) {
    println!(
        "{} (the paper reports the best epoch's test accuracy)",
        accuracy_line(s)
    );
    println!(
        "{} parameters on {}, {:.1} s, {:.1} training samples/s",
        s.parameters, s.device, s.seconds, s.train_samples_per_s
    );
    println!("run folder: {}", out.display());
}

/// The one-line result of a run (all that `--quiet` prints).
pub fn accuracy_line(s: &snnkit_train::Summary) -> String {
    format!(
        "best test accuracy {:.2}% at epoch {} of {}; last epoch {:.2}%",
        100.0 * s.best_test_acc,
        s.best_epoch,
        s.epochs,
        100.0 * s.final_test_acc
    )
}

/// Progress of training and evaluation (docs/cli.md): a bar per phase on a terminal, a plain
/// line at a steady interval otherwise, per-epoch lines on stderr either way; `quiet` drops all
/// of it.
pub struct Bars {
    quiet: bool,
    mode: Mode,
    ticker: Option<Ticker>,
    first: bool,
}

impl Bars {
    /// Progress on stderr, hidden when `quiet`.
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            mode: Mode::detect(quiet),
            ticker: None,
            first: true,
        }
    }
}

impl Progress for Bars {
    fn start(&mut self, epoch: usize, epochs: usize, phase: &str, batches: usize) {
        let label = format!("epoch {epoch}/{epochs} {phase}");
        let t = Ticker::new(self.mode, &label, "batches", batches as u64);
        if self.first {
            // The first batch also opens the files and starts the prefetcher: say so, or the
            // first seconds (minutes for a large preset) look like a hang.
            self.first = false;
            match self.mode {
                Mode::Lines => eprintln!("{label}: loading first batch ({batches} batches)"),
                Mode::Bar => t.message("loading first batch".into()),
                Mode::Hidden => {}
            }
        }
        self.ticker = Some(t);
    }

    fn batch(&mut self, done: usize, loss: f64, acc: f64, samples_per_s: f64) {
        if let Some(t) = &self.ticker {
            t.set(
                done as u64,
                format!(
                    "loss {loss:.4}, acc {:.1}%, {samples_per_s:.1} samples/s",
                    100.0 * acc
                ),
            );
        }
    }

    fn finish(&mut self) {
        if let Some(t) = self.ticker.take() {
            t.finish();
        }
    }

    fn epoch(&mut self, m: &EpochMetrics) {
        if self.quiet {
            return;
        }
        eprintln!(
            "epoch {:>3}: lr {:.3e}  train loss {:.4} acc {:5.1}%  test loss {:.4} acc {:5.1}%  best {:5.1}% (epoch {})  {:.1} s, {:.1} samples/s",
            m.epoch,
            m.lr,
            m.train_loss,
            100.0 * m.train_acc,
            m.test_loss,
            100.0 * m.test_acc,
            100.0 * m.best_test_acc,
            m.best_epoch,
            m.train_seconds + m.eval_seconds,
            m.train_samples_per_s
        );
    }

    fn message(&mut self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }
}
