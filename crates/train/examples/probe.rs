//! Tuning aid: synthesise (if needed), convert (if needed) and train with a TOML config over the
//! `synthetic` preset, printing each epoch. `cargo run --release -p snnkit-train --example probe -- DIR [CONFIG.toml] [T]`
use candle_core::Device;
use snnkit_cache::{convert_dataset, DatasetConvert, FrameSetting, SplitBy};
use snnkit_datasets::synthetic::{generate, SynthConfig};
use snnkit_train::{train, EpochMetrics, Progress, TrainConfig, TrainOptions};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

struct Print;
impl Progress for Print {
    fn epoch(&mut self, m: &EpochMetrics) {
        let dead: Vec<&String> = m
            .firing_rates
            .iter()
            .filter(|(_, &r)| r < 1e-3)
            .map(|(k, _)| k)
            .collect();
        println!(
            "epoch {:>2} lr {:.2e} train loss {:.4} acc {:.3} | test loss {:.4} acc {:.3} | {:.1}+{:.1} s {:.1} sps | quiet layers {:?}",
            m.epoch, m.lr, m.train_loss, m.train_acc, m.test_loss, m.test_acc, m.train_seconds, m.eval_seconds, m.train_samples_per_s, dead
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = PathBuf::from(&args[1]);
    let cfg_path = args.get(2).map(PathBuf::from);
    let t: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(8);
    let users: usize = args.get(4).map(|s| s.parse().unwrap()).unwrap_or(8);
    let raw = dir.join("raw");
    let t0 = Instant::now();
    if !raw.join("classes.txt").exists() {
        let s = generate(
            &raw,
            &SynthConfig {
                users,
                test_users: 2,
                ..SynthConfig::default()
            },
        )
        .unwrap();
        println!(
            "synth {:?} in {:.1}s",
            (s.train_samples, s.test_samples, s.events),
            t0.elapsed().as_secs_f64()
        );
    }
    let cache = dir.join("cache");
    let t0 = Instant::now();
    let setting = FrameSetting::Frames {
        frames: t,
        split_by: SplitBy::Number,
    };
    let conv = convert_dataset(
        &DatasetConvert::new("synthetic", &raw, setting, &cache),
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap();
    println!(
        "convert {} samples in {:.1}s",
        conv.samples,
        t0.elapsed().as_secs_f64()
    );
    let cfg = TrainConfig::resolve(Some("synthetic"), cfg_path.as_deref()).unwrap();
    let out = dir.join(format!("run-{}", std::process::id()));
    let t0 = Instant::now();
    let res = train(
        &cfg,
        &TrainOptions {
            cache: conv.out_dir.clone(),
            out,
            device: Device::Cpu,
            resume: false,
            stop_after: None,
        },
        &mut Print,
    )
    .unwrap();
    println!(
        "train {:.1}s best {:.3} @ {}",
        t0.elapsed().as_secs_f64(),
        res.summary.best_test_acc,
        res.summary.best_epoch
    );
}
