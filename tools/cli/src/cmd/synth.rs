//! `snnkit synth`: write the synthetic dataset (DVS128 Gesture layout, AEDAT 3.1) into a folder,
//! or with `--images` a synthetic static-image set (ImageFolder layout, PNG or JPEG).

use crate::progress::{Mode, Ticker};
use crate::usage::usage;
use anyhow::{Context, Result};
use snnkit_datasets::synthetic::{generate, SynthClass, SynthConfig};
use snnkit_datasets::synthetic_images::{self, ImageFormat, ImageSynthConfig};
use std::path::PathBuf;

/// Arguments (defaults are `SynthConfig::default()`).
#[derive(clap::Args)]
pub struct Args {
    /// Output folder (created with its parents); synth_config.toml records the settings.
    #[arg(long)]
    out: PathBuf,
    /// Seed of every random choice.
    #[arg(long, default_value_t = SynthConfig::default().seed)]
    seed: u64,
    /// Number of recordings (one per user).
    #[arg(long, conflicts_with = "images", default_value_t = SynthConfig::default().users)]
    users: usize,
    /// How many of the last users form the test split.
    #[arg(long, conflicts_with = "images", default_value_t = SynthConfig::default().test_users)]
    test_users: usize,
    /// Comma-separated classes (rotate_cw, rotate_ccw, move_left, move_right, move_up,
    /// move_down, expand, contract); default all.
    #[arg(long, value_delimiter = ',', conflicts_with = "images")]
    classes: Vec<String>,
    /// Samples of each class per recording.
    #[arg(long, conflicts_with = "images", alias = "repeats", default_value_t = SynthConfig::default().repeats)]
    samples_per_class: usize,
    /// Gesture length in ms.
    #[arg(long, conflicts_with = "images", default_value_t = SynthConfig::default().gesture_us / 1000)]
    gesture_ms: i64,
    /// Motion events per gesture.
    #[arg(long, conflicts_with = "images", default_value_t = SynthConfig::default().events_per_gesture)]
    events_per_gesture: usize,
    /// Background-activity events per second (whole sensor).
    #[arg(long, conflicts_with = "images", default_value_t = SynthConfig::default().background_rate_hz)]
    background_rate: f64,
    /// Hot pixels per recording.
    #[arg(long, conflicts_with = "images", default_value_t = SynthConfig::default().hot_pixels)]
    hot_pixels: usize,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Write a static-image dataset instead: OUT/train/<class>/*.png, OUT/val/<class>/*.png
    /// (one texture per class, for `snnkit train --data OUT`).
    #[arg(long)]
    images: bool,
    /// Image classes (1..=8) with --images.
    #[arg(long, requires = "images", default_value_t = ImageSynthConfig::default().classes)]
    image_classes: usize,
    /// Training images per class with --images.
    #[arg(long, requires = "images", default_value_t = ImageSynthConfig::default().train_per_class)]
    train_per_class: usize,
    /// Validation images per class with --images.
    #[arg(long, requires = "images", default_value_t = ImageSynthConfig::default().val_per_class)]
    val_per_class: usize,
    /// Image size WIDTHxHEIGHT with --images (ImageNet-sized: 500x375).
    #[arg(long, requires = "images", default_value = "48x48")]
    size: String,
    /// Image file format with --images: png or jpeg.
    #[arg(long, requires = "images", default_value = "png")]
    format: String,
    /// JPEG quality (1..=100) with --format jpeg.
    #[arg(long, requires = "images", default_value_t = 90)]
    quality: u8,
}

/// `WxH` into `(width, height)`.
fn parse_size(s: &str) -> Result<(usize, usize)> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| usage!("--size {s:?}: expected WIDTHxHEIGHT, e.g. 500x375"))?;
    let n = |v: &str| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| usage!("--size {s:?}: {v:?} is not a pixel count"))
    };
    Ok((n(w)?, n(h)?))
}

fn run_images(a: Args) -> Result<()> {
    let (width, height) = parse_size(&a.size)?;
    let format = match a.format.as_str() {
        "png" => ImageFormat::Png,
        "jpeg" | "jpg" => ImageFormat::Jpeg(a.quality),
        f => return Err(usage!("--format {f:?}: expected png or jpeg")),
    };
    let cfg = ImageSynthConfig {
        seed: a.seed,
        classes: a.image_classes,
        train_per_class: a.train_per_class,
        val_per_class: a.val_per_class,
        width,
        height,
        format,
    };
    cfg.validate().map_err(|e| usage!("{e}"))?;
    let ticker = Ticker::new(Mode::detect(false), "synth", "images", 0);
    let s = synthetic_images::generate(&cfg, &a.out, |done, total| {
        ticker.set_total(total as u64);
        ticker.set(done as u64, String::new());
    })
    .with_context(|| format!("writing {}", a.out.display()))?;
    ticker.finish();
    let classes = &synthetic_images::PATTERNS[..cfg.classes];
    if a.json {
        let v = serde_json::json!({
            "out": a.out,
            "train_images": s.train_images,
            "val_images": s.val_images,
            "bytes": s.bytes,
            "classes": classes,
        });
        println!("{v}");
    } else {
        println!(
            "wrote {} train / {} val images ({} bytes, {width}x{height}) to {}, {} classes",
            s.train_images,
            s.val_images,
            s.bytes,
            a.out.display(),
            classes.len()
        );
    }
    Ok(())
}

/// Runs the subcommand.
pub fn run(a: Args) -> Result<()> {
    if a.images {
        return run_images(a);
    }
    let classes = if a.classes.is_empty() {
        SynthClass::ALL.to_vec()
    } else {
        a.classes
            .iter()
            .map(|c| c.trim().parse::<SynthClass>())
            .collect::<Result<_, _>>()
            .map_err(|e| usage!("--classes: {e}"))?
    };
    let cfg = SynthConfig {
        seed: a.seed,
        users: a.users,
        test_users: a.test_users,
        classes,
        repeats: a.samples_per_class,
        gesture_us: a.gesture_ms.saturating_mul(1000),
        events_per_gesture: a.events_per_gesture,
        background_rate_hz: a.background_rate,
        hot_pixels: a.hot_pixels,
        ..SynthConfig::default()
    };
    let s = generate(&a.out, &cfg).with_context(|| format!("writing {}", a.out.display()))?;
    if a.json {
        let v = serde_json::json!({
            "out": a.out,
            "recordings": s.recordings,
            "train_samples": s.train_samples,
            "test_samples": s.test_samples,
            "events": s.events,
            "classes": cfg.classes.iter().map(|c| c.name()).collect::<Vec<_>>(),
        });
        println!("{v}");
    } else {
        println!(
            "wrote {} recordings ({} events) to {}: {} train / {} test samples, {} classes",
            s.recordings.len(),
            s.events,
            a.out.display(),
            s.train_samples,
            s.test_samples,
            cfg.classes.len()
        );
    }
    Ok(())
}
