//! `snnkit demo`: the whole pipeline on the synthetic dataset — synthesise AEDAT 3.1 recordings,
//! convert them into the HDF5 frame cache, train the `synthetic` preset (SMA and AZO on), and
//! evaluate the best checkpoint on the held-out users — printing where everything went.

use anyhow::{Context, Result};
use snnkit_cache::{convert_dataset, DatasetConvert, FrameSetting, SplitBy};
use snnkit_datasets::synthetic::{generate, SynthConfig};
use snnkit_train::{files, TrainConfig, TrainOptions};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Output folder (raw/, cache/, run/ inside; `runs/` is git-ignored).
    #[arg(long, default_value = "runs/demo")]
    pub out: PathBuf,
    /// Frames per sample (T).
    #[arg(long, default_value_t = DEMO_FRAMES, value_parser = clap::value_parser!(u64).range(1..))]
    pub frames: u64,
    /// Override the preset's epoch count.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Seed of the synthetic data.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu", value_parser = super::device_arg)]
    pub device: String,
    /// No progress bars or per-epoch lines.
    #[arg(long)]
    pub quiet: bool,
}

/// T of the demo's frames (the `synthetic` preset takes T from the cache).
pub const DEMO_FRAMES: u64 = 4;

/// The synthetic set the demo trains on: the generator's defaults with more users, so the
/// held-out split has enough samples for a stable accuracy figure.
pub fn demo_synth_config(seed: u64) -> SynthConfig {
    SynthConfig {
        seed,
        users: 8,
        test_users: 2,
        ..SynthConfig::default()
    }
}

/// Files of a previous demo run that a new one replaces (nothing else is ever deleted); the
/// report names of earlier versions (`confusion.*`) included.
fn run_files() -> Vec<String> {
    let (json, png) = snnkit_train::report_file_names("test");
    let mut v: Vec<String> = [
        files::CONFIG,
        files::METRICS,
        files::LAST,
        files::BEST,
        files::CURVES,
        files::SUMMARY,
        "confusion.json",
        "confusion.png",
    ]
    .map(String::from)
    .to_vec();
    v.extend([json, png]);
    v
}

/// Runs the demo.
pub fn run(args: Args) -> Result<()> {
    let total = Instant::now();
    let raw = args.out.join("raw");
    let cache = args.out.join("cache");
    let run_dir = args.out.join("run");
    let device = snnkit_train::parse_device(&args.device)?;

    // 1. synthesise
    let t0 = Instant::now();
    let synth = demo_synth_config(args.seed);
    let s =
        generate(&raw, &synth).with_context(|| format!("synthesising into {}", raw.display()))?;
    let synth_s = t0.elapsed().as_secs_f64();
    say(
        &args,
        &format!(
            "[1/4] synth:   {} recordings, {} train + {} test samples, {} events -> {} ({synth_s:.1} s)",
            s.recordings.len(),
            s.train_samples,
            s.test_samples,
            s.events,
            raw.display()
        ),
    );

    // 2. convert
    let t0 = Instant::now();
    let setting = FrameSetting::Frames {
        frames: args.frames as usize,
        split_by: SplitBy::Number,
    };
    let req = DatasetConvert::new("synthetic", &raw, setting, &cache);
    let conv = convert_dataset(&req, &mut |_| ControlFlow::Continue(()))
        .with_context(|| format!("converting {} into {}", raw.display(), cache.display()))?;
    let convert_s = t0.elapsed().as_secs_f64();
    say(
        &args,
        &format!(
            "[2/4] convert: {} samples, T = {}, split by number -> {} ({convert_s:.1} s)",
            conv.samples,
            args.frames,
            conv.out_dir.display()
        ),
    );

    // 3. train
    let t0 = Instant::now();
    let mut cfg = TrainConfig::preset("synthetic")?;
    if let Some(e) = args.epochs {
        cfg.epochs = e;
    }
    clear_previous_run(&run_dir)?;
    say(
        &args,
        &format!(
            "[3/4] train:   preset synthetic ({} epochs, batch {}, {:?} lr {}, SMA {} AZO {}) -> {}",
            cfg.epochs,
            cfg.data.batch_size,
            cfg.optimizer.kind,
            cfg.optimizer.lr,
            cfg.model.vgg8.sma,
            cfg.model.vgg8.azo.is_some(),
            run_dir.display()
        ),
    );
    let opts = TrainOptions {
        cache: conv.out_dir.clone(),
        out: run_dir.clone(),
        device: device.clone(),
        resume: false,
        stop_after: None,
        init_from: None,
    };
    let mut bars = super::train::Bars::new(args.quiet);
    let res = snnkit_train::train(&cfg, &opts, &mut bars)?;
    let train_s = t0.elapsed().as_secs_f64();

    // 4. eval
    let t0 = Instant::now();
    let best = run_dir.join(snnkit_train::files::BEST);
    let mut quiet_bars = super::train::Bars::new(true);
    let report = snnkit_train::evaluate_checkpoint(
        &best,
        &conv.out_dir,
        None,
        None,
        &device,
        &mut quiet_bars,
    )?;
    let (json_path, png_path) = snnkit_train::write_report(&report, &run_dir)?;
    let eval_s = t0.elapsed().as_secs_f64();
    say(
        &args,
        &format!(
            "[4/4] eval:    best checkpoint (epoch {}) on {} held-out samples: accuracy {:.2}% ({eval_s:.1} s)",
            report.epoch,
            report.samples,
            100.0 * report.accuracy
        ),
    );

    let sm = &res.summary;
    println!();
    println!(
        "best test accuracy {:.2}% at epoch {} of {} (the paper reports the best epoch's test accuracy)",
        100.0 * sm.best_test_acc,
        sm.best_epoch,
        sm.epochs
    );
    println!(
        "times: synth {synth_s:.1} s, convert {convert_s:.1} s, train {train_s:.1} s ({:.1} samples/s), eval {eval_s:.1} s, total {:.1} s",
        sm.train_samples_per_s,
        total.elapsed().as_secs_f64()
    );
    println!("raw recordings:   {}", raw.display());
    println!("frame cache:      {}", conv.out_dir.display());
    println!("run folder:       {}", run_dir.display());
    for f in [
        files::CONFIG,
        files::METRICS,
        files::BEST,
        files::LAST,
        files::CURVES,
        files::SUMMARY,
    ] {
        println!("  {}", run_dir.join(f).display());
    }
    println!(
        "  {} (per-class accuracy, confusion matrix, firing rates)",
        json_path.display()
    );
    println!("  {}", png_path.display());
    Ok(())
}

/// A stage line: stderr, like every log line (docs/cli.md); dropped by `--quiet`.
fn say(args: &Args, msg: &str) {
    if !args.quiet {
        eprintln!("{msg}");
    }
}

/// Removes the files of an earlier demo run so training starts fresh.
fn clear_previous_run(run_dir: &Path) -> Result<()> {
    for f in run_files() {
        let p = run_dir.join(f);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    Ok(())
}
