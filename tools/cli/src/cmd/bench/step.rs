//! `snnkit bench step`: median seconds of one training step after warm-up. SMA-VGG8 (default):
//! train-mode forward with AZO, MSE on the mean over T, backward, AdamW update. `--arch
//! ms-resnet18|ms-resnet34|ms-resnet104`: the SMA-MS-ResNet on an image batch repeated T times,
//! cross-entropy, backward, SGD update.

use anyhow::{bail, Result};
use snnkit_model::{MsResNetArch, MsResNetConfig, NetworkConfig, Vgg8Config};
use snnkit_train::bench::{step_times, StepBench, StepTimes};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Network: sma-vgg8, ms-resnet18, ms-resnet34 or ms-resnet104.
    #[arg(long, default_value = "sma-vgg8")]
    arch: String,
    /// ResNet width multiplier k (stage widths int(64k)..int(512k)); 1 = the published widths.
    #[arg(long, default_value_t = 1.0)]
    width_mult: f64,
    /// Conv widths of the five blocks, comma-separated (default: the reference 64,128,256,512,512).
    #[arg(long, value_delimiter = ',')]
    widths: Option<Vec<usize>>,
    /// Hidden head widths (two), comma-separated (default 2048,1024). The head input is
    /// widths[4]·9 (3×3 pooling).
    #[arg(long, value_delimiter = ',')]
    head: Option<Vec<usize>>,
    /// Time steps T (default 16 for SMA-VGG8, the published 6 / 6 / 5 for MS-ResNet-18/34/104).
    #[arg(long)]
    frames: Option<usize>,
    /// Batch size.
    #[arg(long, default_value_t = 2, alias = "batch")]
    batch_size: usize,
    /// Input height and width.
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Classes.
    #[arg(long, default_value_t = 11)]
    classes: usize,
    /// AZO channel ratio RCR (default 10 for SMA-VGG8, 4 for the ResNets).
    #[arg(long)]
    rcr: Option<usize>,
    /// Build without SMA.
    #[arg(long)]
    no_sma: bool,
    /// Build without AZO.
    #[arg(long)]
    no_azo: bool,
    /// Untimed warm-up steps.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed steps.
    #[arg(long, default_value_t = 5, alias = "reps", alias = "repeats")]
    iters: usize,
    /// Skip the per-part breakdown (a second, profiled pass of `--iters` steps).
    #[arg(long)]
    no_breakdown: bool,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print JSON (key median_step_s).
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark.
pub fn run(args: Args) -> Result<()> {
    if args.arch != "sma-vgg8" && args.arch != "vgg8" {
        return run_resnet(args);
    }
    let mut m = Vgg8Config {
        time_steps: args.frames.unwrap_or(16),
        num_classes: args.classes,
        height: args.size,
        width: args.size,
        sma: !args.no_sma,
        ..Vgg8Config::default()
    };
    if let Some(w) = &args.widths {
        let Ok(w) = <[usize; 5]>::try_from(w.as_slice()) else {
            bail!("--widths takes five numbers")
        };
        m.widths = w;
    }
    if let Some(h) = &args.head {
        let Ok(h) = <[usize; 2]>::try_from(h.as_slice()) else {
            bail!("--head takes two numbers")
        };
        m.head = h;
    }
    m.azo = if args.no_azo || args.no_sma {
        None
    } else {
        Some(snnkit_model::AzoConfig {
            rcr: args.rcr.unwrap_or(10),
            rtr: 4,
        })
    };
    if args.iters == 0 {
        bail!("--iters must be at least 1");
    }
    let device = snnkit_train::parse_device(&args.device)?;
    let b = StepBench {
        model: NetworkConfig::Vgg8(m.clone()),
        batch: args.batch_size,
        warmup: args.warmup,
        iters: args.iters,
        breakdown: !args.no_breakdown,
    };
    let t = step_times(&b, &device)?;
    let setting = serde_json::json!({
        "widths": m.widths,
        "head": m.head,
        "frames": m.time_steps,
        "batch": args.batch_size,
        "size": args.size,
        "sma": m.sma,
        "azo": m.azo.is_some(),
        "device": snnkit_train::device_name(&device),
    });
    let headline = format!(
        "SMA-VGG8 widths {:?} head {:?}, T={} B={} {}x{}, SMA {} AZO {}, {} parameters, {}",
        m.widths,
        m.head,
        m.time_steps,
        args.batch_size,
        args.size,
        args.size,
        m.sma,
        m.azo.is_some(),
        t.parameters,
        snnkit_train::device_name(&device)
    );
    report(&t, setting, &headline, args.iters, args.json)
}

/// `--arch ms-resnet*`: the same step for SMA-MS-ResNet (AZO, RCR 4 / RTR 2, in ResNet-104
/// only, as published; `--no-azo` removes it).
fn run_resnet(args: Args) -> Result<()> {
    let arch = MsResNetArch::parse(&args.arch)?;
    if args.widths.is_some() || args.head.is_some() {
        bail!("--widths and --head are SMA-VGG8 options; use --width-mult for the ResNets");
    }
    if args.iters == 0 {
        bail!("--iters must be at least 1");
    }
    let preset = MsResNetConfig::preset(arch);
    let m = MsResNetConfig {
        time_steps: args.frames.unwrap_or(preset.time_steps),
        num_classes: args.classes,
        height: args.size,
        width: args.size,
        width_mult: args.width_mult,
        sma: !args.no_sma,
        // The published setting: AZO only in ResNet-104 (its fine-tuning stage).
        azo: if args.no_azo || args.no_sma {
            None
        } else {
            preset.azo.map(|a| snnkit_model::AzoConfig {
                rcr: args.rcr.unwrap_or(a.rcr),
                ..a
            })
        },
        ..preset.clone()
    };
    let device = snnkit_train::parse_device(&args.device)?;
    let b = StepBench {
        model: NetworkConfig::MsResNet(m.clone()),
        batch: args.batch_size,
        warmup: args.warmup,
        iters: args.iters,
        breakdown: !args.no_breakdown,
    };
    let t = step_times(&b, &device)?;
    let setting = serde_json::json!({
        "arch": arch.name(),
        "width_mult": m.width_mult,
        "widths": m.stage_widths(),
        "frames": m.time_steps,
        "batch": args.batch_size,
        "size": args.size,
        "sma": m.sma,
        "azo": m.azo.is_some(),
        "device": snnkit_train::device_name(&device),
    });
    let headline = format!(
        "SMA-{} widths {:?}, T={} B={} {}x{}, SMA {} AZO {}, {} parameters, {}",
        arch.name(),
        m.stage_widths(),
        m.time_steps,
        args.batch_size,
        args.size,
        args.size,
        m.sma,
        m.azo.is_some(),
        t.parameters,
        snnkit_train::device_name(&device)
    );
    report(&t, setting, &headline, args.iters, args.json)
}

/// Prints the timings: with `json`, every [`StepTimes`] field plus the `setting` measured;
/// otherwise `headline`, the medians and the breakdown.
fn report(
    t: &StepTimes,
    setting: serde_json::Value,
    headline: &str,
    iters: usize,
    json: bool,
) -> Result<()> {
    if json {
        let mut v = serde_json::to_value(t)?;
        if let (Some(o), serde_json::Value::Object(extra)) = (v.as_object_mut(), setting) {
            o.extend(extra);
        }
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    println!("{headline}");
    println!(
        "median step {:.3} s (forward + loss {:.3} s, backward {:.3} s, optimizer {:.3} s), \
         {:.1} samples/s, median of {iters} steps",
        t.median_step_s,
        t.median_forward_s,
        t.median_backward_s,
        t.median_update_s,
        t.samples_per_s,
    );
    if !t.breakdown_s.is_empty() {
        let total: f64 = t.breakdown_s.values().sum();
        println!(
            "where a step goes (mean of {iters} more steps with timers on; {:.0}% in named parts):",
            100.0 * t.breakdown_coverage
        );
        let mut parts: Vec<(&String, &f64)> = t.breakdown_s.iter().collect();
        parts.sort_by(|a, b| b.1.total_cmp(a.1));
        for (k, v) in parts {
            println!(
                "  {:<40} {:>8.3} s {:>6.1}%",
                part_label(k),
                v,
                100.0 * v / total.max(1e-12)
            );
        }
    }
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build; build with --release for representative figures");
    }
    Ok(())
}

/// A user-facing name for a breakdown key (the JSON keeps the keys).
fn part_label(key: &str) -> String {
    let (base, bwd) = match key.strip_suffix("_bwd") {
        Some(b) => (b, true),
        None => (key, false),
    };
    let name = match base {
        "conv" => "convolutions (host blocks)",
        "sma_encoder_conv" => "SMA encoder convolutions",
        "sma_attention" => "SMA attention",
        "sma_combine" => "SMA weighting + sum",
        "azo" => "AZO selection",
        "batchnorm" => "BatchNorm",
        "lif" => "LIF neurons",
        "pool" => "max-pooling",
        "head" => "head (pool, linear, dropout)",
        "forward_candle_ops" => "other forward ops (candle)",
        "backward_candle_ops" => "other backward ops (candle autograd)",
        "loss" => "loss",
        "optimizer" => "optimizer",
        "unattributed" => "unattributed",
        other => other,
    };
    if bwd {
        format!("{name}, backward")
    } else if matches!(
        base,
        "forward_candle_ops" | "backward_candle_ops" | "loss" | "optimizer" | "unattributed"
    ) {
        name.to_string()
    } else {
        format!("{name}, forward")
    }
}
