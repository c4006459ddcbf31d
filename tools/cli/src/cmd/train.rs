//! `snnkit train`: train an SMA-AZO network on a frame cache, or SMA-MS-ResNet on a static-image
//! dataset (logic in `snnkit_train`).

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use snnkit_train::{EpochMetrics, Progress, TrainConfig, TrainOptions};
use std::path::{Path, PathBuf};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Built-in preset: dvs128-gesture, cifar10-dvs, n-caltech101, synthetic (frame caches);
    /// ms-resnet18-imagenet, ms-resnet34-imagenet, ms-resnet104-imagenet,
    /// ms-resnet104-azo-finetune, ms-resnet18-synthetic (images, --data).
    #[arg(long)]
    pub preset: Option<String>,
    /// TOML file whose fields override the preset's (or the defaults). It may name its base
    /// with `preset = "NAME"`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Cache folder: holds train.h5/test.h5, or CACHE_DIR/<dataset>/<setting>/.
    #[arg(long, required_unless_present = "data", conflicts_with = "data")]
    pub cache: Option<PathBuf>,
    /// Static-image dataset root, for configurations with an [images] table (the ms-resnet
    /// presets): ImageFolder ROOT/train/<class>/*, ROOT/val/<class>/* (ImageNet's layout), or
    /// CIFAR-10's binary batches.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Run folder (config.toml, metrics.jsonl, checkpoints, curves.png, summary.json).
    #[arg(long)]
    pub out: PathBuf,
    /// Apply one of the paper's SMA ablations to the network: T1-T4, S1-S4 (which blocks carry an
    /// SMA), L1-L3 (where in the block), N2-N6 (number of scales). See docs/training.md.
    #[arg(long)]
    pub ablation: Option<String>,
    /// Override the epoch count.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override the training batch size.
    #[arg(long)]
    pub batch_size: Option<usize>,
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
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Continue from RUN_DIR/last.safetensors (the configuration comes from RUN_DIR/config.toml
    /// when neither --preset nor --config is given).
    #[arg(long)]
    pub resume: bool,
    /// Start from these weights (a safetensors state_dict, e.g. from `snnkit convert-weights`)
    /// instead of the seeded initialisation. Every name and shape must match the network.
    #[arg(long, value_name = "WEIGHTS")]
    pub init_from: Option<PathBuf>,
    /// No progress bars or per-epoch lines.
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
        (None, None) => bail!(
            "give --preset NAME or --config FILE.toml (presets: {})",
            snnkit_train::preset_names().join(", ")
        ),
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
        cfg.epochs = e;
    }
    if let Some(b) = args.batch_size {
        cfg.data.batch_size = b;
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
    if args.json {
        println!("{}", serde_json::to_string_pretty(&res.summary)?);
    } else if !args.quiet {
        print_summary(&res.summary, &args.out);
    }
    Ok(())
}

/// The data folder for `cfg`: `--data` for configurations that read images, `--cache` otherwise.
pub fn data_path(cfg: &TrainConfig, cache: Option<&Path>, data: Option<&Path>) -> Result<PathBuf> {
    match (cfg.images.is_some(), cache, data) {
        (true, _, Some(d)) | (false, Some(d), _) => Ok(d.to_path_buf()),
        (true, _, None) => bail!(
            "configuration {:?} reads static images: give the dataset root with --data ROOT",
            cfg.name
        ),
        (false, None, _) => bail!(
            "configuration {:?} reads a frame cache: give it with --cache DIR (--data is for image presets)",
            cfg.name
        ),
    }
}

/// Prints the end-of-run lines.
pub fn print_summary(s: &snnkit_train::Summary, out: &Path) {
    println!(
        "best test accuracy {:.2}% at epoch {} of {} (the paper reports the best epoch's test accuracy); last epoch {:.2}%",
        100.0 * s.best_test_acc,
        s.best_epoch,
        s.epochs,
        100.0 * s.final_test_acc
    );
    println!(
        "{} parameters on {}, {:.1} s, {:.1} training samples/s",
        s.parameters, s.device, s.seconds, s.train_samples_per_s
    );
    println!("run folder: {}", out.display());
}

/// Per-phase indicatif bars plus one line per epoch.
pub struct Bars {
    quiet: bool,
    bar: Option<ProgressBar>,
    phase: String,
}

impl Bars {
    /// Bars on stderr (hidden when `quiet` or when stderr is not a terminal).
    pub fn new(quiet: bool) -> Self {
        Self {
            quiet,
            bar: None,
            phase: String::new(),
        }
    }
}

impl Progress for Bars {
    fn start(&mut self, epoch: usize, epochs: usize, phase: &str, batches: usize) {
        let bar = ProgressBar::with_draw_target(
            Some(batches as u64),
            if self.quiet {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            },
        );
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("epoch {epoch}/{epochs} {phase:5}"));
        self.phase = phase.to_string();
        self.bar = Some(bar);
    }

    fn batch(&mut self, done: usize, loss: f64, acc: f64, samples_per_s: f64) {
        if let Some(b) = &self.bar {
            b.set_position(done as u64);
            b.set_message(format!(
                "loss {loss:.4} acc {:.1}% {samples_per_s:.1} samples/s",
                100.0 * acc
            ));
        }
    }

    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
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
