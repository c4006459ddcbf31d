//! `snnkit bench images`: images per second through the image loader (decode, crop, resize,
//! flip, normalise, batch), on an ImageFolder tree or a generated set of ImageNet-sized JPEGs.

use anyhow::{Context, Result};
use candle_core::Device;
use snnkit_datasets::synthetic_images::{generate, ImageFormat, ImageSynthConfig};
use snnkit_datasets::{open_images, Split};
use snnkit_images::{bench::throughput, ImageLoader, ImageLoaderConfig};
use std::path::PathBuf;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// ImageFolder root (train/<class>/*) or CIFAR-10 folder to read (default: 256 generated
    /// 500x375 JPEGs, quality 90, the size of a typical ImageNet image, in a temporary folder).
    #[arg(long)]
    root: Option<PathBuf>,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Output side (RandomResizedCrop size, or CenterCrop size with --eval).
    #[arg(long, default_value_t = 224)]
    size: usize,
    /// Images to time (after one warm-up batch).
    #[arg(long, default_value_t = 512)]
    images: usize,
    /// Measure the evaluation transform (Resize 256 + CenterCrop) instead of the training one.
    #[arg(long)]
    eval: bool,
    /// Decoding threads (default: rayon's, one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark.
pub fn run(a: Args) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let root = match &a.root {
        Some(r) => r.clone(),
        None => {
            let cfg = ImageSynthConfig {
                classes: 4,
                train_per_class: 64,
                val_per_class: 1,
                width: 500,
                height: 375,
                format: ImageFormat::Jpeg(90),
                ..Default::default()
            };
            generate(&cfg, tmp.path(), |_, _| {})?;
            tmp.path().to_path_buf()
        }
    };
    let split = if a.eval { Split::Test } else { Split::Train };
    let set = open_images(&root, split).with_context(|| format!("opening {}", root.display()))?;
    let mut cfg = if a.eval {
        ImageLoaderConfig::eval(a.batch)
    } else {
        ImageLoaderConfig::train(a.batch)
    };
    cfg.size = a.size;
    let loader = ImageLoader::new(set.into(), cfg, &Device::Cpu)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.threads.unwrap_or(0))
        .build()?;
    let t = pool.install(|| throughput(&loader, a.images, 1))?;
    if a.json {
        let mut v = serde_json::to_value(&t)?;
        v["transform"] = serde_json::json!(if a.eval { "eval" } else { "train" });
        println!("{v}");
    } else {
        println!(
            "{} transform, {}x{} output, batch {}, {} threads: {:.1} images/s ({} images in {:.2} s)",
            if a.eval { "eval" } else { "train" },
            t.size,
            t.size,
            t.batch_size,
            t.threads,
            t.images_per_s,
            t.images,
            t.seconds
        );
    }
    Ok(())
}
