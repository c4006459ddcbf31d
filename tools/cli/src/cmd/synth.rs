//! `snnkit synth`: write the synthetic dataset (DVS128 Gesture layout, AEDAT 3.1) into a folder.

use anyhow::{Context, Result};
use snnkit_datasets::synthetic::{generate, SynthClass, SynthConfig};
use std::path::PathBuf;

/// Arguments (defaults are `SynthConfig::default()`).
#[derive(clap::Args)]
pub struct Args {
    /// Output folder (created if needed).
    #[arg(long)]
    out: PathBuf,
    /// Seed of every random choice.
    #[arg(long, default_value_t = SynthConfig::default().seed)]
    seed: u64,
    /// Number of recordings (one per user).
    #[arg(long, default_value_t = SynthConfig::default().users)]
    users: usize,
    /// How many of the last users form the test split.
    #[arg(long, default_value_t = SynthConfig::default().test_users)]
    test_users: usize,
    /// Comma-separated classes (rotate_cw, rotate_ccw, move_left, move_right, move_up,
    /// move_down, expand, contract); default all.
    #[arg(long, value_delimiter = ',')]
    classes: Vec<String>,
    /// Samples of each class per recording.
    #[arg(long, default_value_t = SynthConfig::default().repeats)]
    repeats: usize,
    /// Gesture length in ms.
    #[arg(long, default_value_t = SynthConfig::default().gesture_us / 1000)]
    gesture_ms: i64,
    /// Motion events per gesture.
    #[arg(long, default_value_t = SynthConfig::default().events_per_gesture)]
    events_per_gesture: usize,
    /// Background-activity events per second (whole sensor).
    #[arg(long, default_value_t = SynthConfig::default().background_rate_hz)]
    background_rate: f64,
    /// Hot pixels per recording.
    #[arg(long, default_value_t = SynthConfig::default().hot_pixels)]
    hot_pixels: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand.
pub fn run(a: Args) -> Result<()> {
    let classes = if a.classes.is_empty() {
        SynthClass::ALL.to_vec()
    } else {
        a.classes
            .iter()
            .map(|c| c.trim().parse::<SynthClass>())
            .collect::<Result<_, _>>()?
    };
    let cfg = SynthConfig {
        seed: a.seed,
        users: a.users,
        test_users: a.test_users,
        classes,
        repeats: a.repeats,
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
