//! `snnkit bench loader`: batches per second from a cache, in memory and from disk, with and without
//! augmentation.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use candle_core::Device;
use snnkit_cache::{
    convert_dataset, split_path, Augment, DatasetConvert, Downsample, FrameSetting, Loader,
    LoaderConfig, Pool, SplitBy,
};
use snnkit_datasets::synthetic::{generate, SynthConfig};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Cache file to read (default: the default synthetic set, converted to T=16 in a temporary folder).
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Batch size.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Epochs per measurement.
    #[arg(long, default_value_t = 3)]
    epochs: u64,
    /// Shift of the augmented runs (± pixels); flips are on in those runs too.
    #[arg(long, default_value_t = 5)]
    shift: usize,
    /// Also measure with sum pooling by this factor (0 or 1 = skip).
    #[arg(long, default_value_t = 2)]
    downsample: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark.
pub fn run(args: Args) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let path = match &args.cache {
        Some(p) => p.clone(),
        None => {
            let raw = tmp.path().join("raw");
            generate(&raw, &SynthConfig::default())?;
            let setting = FrameSetting::Frames {
                frames: 16,
                split_by: SplitBy::Number,
            };
            let req = DatasetConvert::new("synthetic", &raw, setting, tmp.path());
            convert_dataset(&req, &mut |_| ControlFlow::Continue(()))?;
            split_path(tmp.path(), "synthetic", setting, "train")
        }
    };
    let aug = Augment {
        hflip: true,
        max_shift: args.shift,
    };
    let mut cases = vec![
        ("memory", Augment::NONE, None, u64::MAX),
        ("memory+aug", aug, None, u64::MAX),
        ("disk", Augment::NONE, None, 0),
        ("disk+aug", aug, None, 0),
    ];
    if args.downsample > 1 {
        let d = Some(Downsample {
            factor: args.downsample,
            mode: Pool::Sum,
        });
        cases.push(("memory+aug+pool", aug, d, u64::MAX));
    }
    let mut rows = Vec::new();
    for (name, augment, downsample, limit) in cases {
        let cfg = LoaderConfig {
            augment,
            downsample,
            in_memory_limit: limit,
            ..LoaderConfig::train(args.batch)
        };
        let t_open = Instant::now();
        let loader = Loader::open(&path, cfg, &Device::Cpu)?;
        let open_s = t_open.elapsed().as_secs_f64();
        let t0 = Instant::now();
        let cpu0 = super::convert::process_cpu_seconds();
        let mut samples = 0usize;
        for epoch in 0..args.epochs {
            for batch in loader.epoch(epoch) {
                samples += batch?.indices.len();
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu = super::convert::process_cpu_seconds()
            .zip(cpu0)
            .map(|(b, a)| b - a)
            .unwrap_or(f64::NAN);
        let shape = loader.sample_shape();
        rows.push((
            name,
            samples as f64 / secs.max(1e-9),
            samples as f64 / cpu,
            open_s,
            shape,
        ));
    }
    if args.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(n, sps, per_cpu, open_s, shape)| {
                serde_json::json!({
                    "case": n, "samples_per_s": sps, "samples_per_cpu_s": per_cpu, "open_s": open_s,
                    "sample_shape": shape,
                })
            })
            .collect();
        crate::cmd::convert::print_stdout(&serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    println!(
        "{} (batch {}, {} epochs)",
        path.display(),
        args.batch,
        args.epochs
    );
    for (name, sps, per_cpu, open_s, shape) in rows {
        println!(
            "{name:>16}: {sps:>9.0} samples/s, {per_cpu:>9.0} per CPU-second  (open {open_s:.2} s, sample {shape:?})"
        );
    }
    println!("(2 shared cores: figures are noisy; run in --release)");
    Ok(())
}
