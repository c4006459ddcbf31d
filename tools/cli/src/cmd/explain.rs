//! `snnkit explain`: firing-rate heatmaps, spike counts per layer, scale importance and an energy
//! estimate for a checkpoint on a frame cache (logic in `snnkit_train::explain`).

use anyhow::Result;
use std::path::PathBuf;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// A checkpoint written by `snnkit train`.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Frame cache: a split file, a setting folder, a dataset folder or a cache root (as for
    /// `snnkit train`).
    #[arg(long)]
    pub cache: PathBuf,
    /// The setting folder to use when the dataset folder holds several.
    #[arg(long)]
    pub setting: Option<String>,
    /// Output folder (created with its parents): report.json, heatmap_*.png, spike_counts.png, scale_importance_*.png.
    #[arg(long)]
    pub out: PathBuf,
    /// A second checkpoint whose spike counts go side by side (e.g. VGG8 without SMA).
    #[arg(long, value_name = "CHECKPOINT")]
    pub compare: Option<PathBuf>,
    /// Analyse at most this many samples (file order; default: the whole split or class).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Only samples of this class (name or label index).
    #[arg(long)]
    pub class: Option<String>,
    /// Split to analyse (default: the run's test split).
    #[arg(long)]
    pub split: Option<String>,
    /// LIF layers to draw heatmaps of, comma-separated (default: the LIF of every conv block).
    #[arg(long, value_delimiter = ',')]
    pub layers: Vec<String>,
    /// Heatmaps for this many samples of each class.
    #[arg(long, default_value_t = 1)]
    pub heatmaps_per_class: usize,
    /// Batch size (default: the run's evaluation batch size).
    #[arg(long, alias = "batch", value_parser = parse_batch)]
    pub batch_size: Option<usize>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu", value_parser = super::device_arg)]
    pub device: String,
    /// Print report.json on stdout instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// No progress; the tables stay.
    #[arg(long)]
    pub quiet: bool,
}

/// `--batch-size`: at least 1.
fn parse_batch(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("a batch holds at least 1 sample".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let device = snnkit_train::parse_device(&args.device)?;
    let opts = snnkit_train::ExplainOptions {
        split: args.split.clone(),
        samples: args.samples,
        class: args.class.clone(),
        batch_size: args.batch_size,
        heatmap_layers: args.layers.clone(),
        heatmaps_per_class: args.heatmaps_per_class,
        compare: args.compare.clone(),
    };
    let cache = super::cache_with_setting(&args.cache, args.setting.as_deref())?;
    let mut bars = super::train::Bars::new(args.quiet);
    let rep = snnkit_train::explain(
        &args.checkpoint,
        &cache,
        &args.out,
        &opts,
        &device,
        &mut bars,
    )?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rep)?);
        return Ok(());
    }
    for m in &rep.models {
        println!(
            "{}: {} samples, accuracy {:.2}%, {:.0} spikes per sample",
            m.checkpoint.display(),
            m.samples,
            100.0 * m.accuracy,
            m.total_spikes_per_sample
        );
        println!(
            "  {:<28} {:>12} {:>10}",
            "LIF layer", "spikes/sample", "rate"
        );
        for l in &m.spikes {
            println!(
                "  {:<28} {:>12.1} {:>10.4}",
                l.layer, l.spikes_per_sample, l.firing_rate
            );
        }
        for s in &m.scale_importance {
            println!("  scale importance {} (kernels {:?}):", s.module, s.kernels);
            for c in &s.per_class {
                let f = |v: &[f64]| {
                    v.iter()
                        .map(|x| format!("{x:.3}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                println!(
                    "    {:<20} temporal [{}]  channel [{}]",
                    c.class,
                    f(&c.temporal),
                    f(&c.channel)
                );
            }
        }
        let e = &m.energy;
        println!("  energy per sample (0.9 pJ per accumulate, 4.6 pJ per multiply-accumulate):");
        println!(
            "    {:<30} {:>4} {:>8} {:>12} {:>10} {:>12} {:>10}",
            "layer", "kind", "in rate", "SNN ops", "SNN uJ", "ANN MACs", "ANN uJ"
        );
        for l in &e.layers {
            let rate = l
                .input_rate
                .map(|r| format!("{r:.4}"))
                .unwrap_or("-".into());
            println!(
                "    {:<30} {:>4} {:>8} {:>12.4e} {:>10.4} {:>12.4e} {:>10.4}",
                l.layer, l.kind, rate, l.ops, l.energy_uj, l.ann_macs, l.ann_energy_uj
            );
        }
        println!(
            "    total: {:.3e} SOPs + {:.3e} MACs = {:.4} uJ (SNN) vs {:.3e} MACs = {:.4} uJ (ANN): {:.1}x",
            e.sops, e.snn_macs, e.snn_uj, e.ann_macs, e.ann_uj, e.ratio
        );
    }
    println!(
        "wrote {} and {} images to {}",
        snnkit_train::explain::REPORT_JSON,
        rep.files.len(),
        args.out.display()
    );
    Ok(())
}
