//! `snnkit explain`: what a trained network does inside, as in the paper's Fig. 3 and Fig. 4 —
//! firing-rate heatmaps, spike counts per layer, scale importance per SMA module and class, and
//! an energy estimate from the measured firing rates. Everything lands in one `report.json` with
//! the definitions of its numbers, plus PNGs.

use crate::checkpoint;
use crate::data::open_loader;
use crate::error::{Error, Result};
use crate::eval::{check_fits, model_from_checkpoint};
use crate::metrics::{write_json, Progress};
use crate::net::DataShape;
use crate::plot;
use candle_core::{DType, Device, Tensor, D};
use serde::Serialize;
use snnkit_model::{Network, SmaVgg8};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Energy of one accumulate (spike-driven synaptic operation), 45 nm CMOS (Horowitz, ISSCC 2014).
pub const E_AC_PJ: f64 = 0.9;
/// Energy of one 32-bit float multiply-accumulate, 45 nm CMOS.
pub const E_MAC_PJ: f64 = 4.6;

/// The report's file name.
pub const REPORT_JSON: &str = "report.json";

/// What to analyse.
#[derive(Debug, Clone, Default)]
pub struct ExplainOptions {
    /// Split (default: the run's test split).
    pub split: Option<String>,
    /// At most this many samples, in file order (`None` = all of the split, or of the class).
    pub samples: Option<usize>,
    /// Only samples of this class (a class name or label index).
    pub class: Option<String>,
    /// Batch size (default: the run's evaluation batch size).
    pub batch_size: Option<usize>,
    /// LIF layers to draw heatmaps of (empty = the LIF of every conv block).
    pub heatmap_layers: Vec<String>,
    /// Heatmaps for this many samples per class (the first ones analysed).
    pub heatmaps_per_class: usize,
    /// A second checkpoint to compare spike counts with (e.g. VGG8 without SMA).
    pub compare: Option<PathBuf>,
}

/// Spikes of one LIF layer over the analysed samples.
#[derive(Debug, Clone, Serialize)]
pub struct LayerSpikes {
    /// Layer name (reference module path).
    pub layer: String,
    /// Neurons of the layer per sample and time step.
    pub neurons: u64,
    /// Spikes per sample (summed over time and neurons, averaged over samples).
    pub spikes_per_sample: f64,
    /// Spikes per sample at each time step.
    pub spikes_per_step: Vec<f64>,
    /// Spikes / (neurons · T · samples); equals `snnkit eval`'s firing rate for the same samples.
    pub firing_rate: f64,
}

/// Scale weights of one SMA module for one class.
#[derive(Debug, Clone, Serialize)]
pub struct ClassScales {
    /// Class name.
    pub class: String,
    /// Samples of the class analysed.
    pub samples: usize,
    /// Mean `W_α` per scale (over time steps and samples).
    pub temporal: Vec<f64>,
    /// Mean `W_β` per scale (over channels, time steps and samples).
    pub channel: Vec<f64>,
    /// Mean `W_α` per time step and scale (`[T][N]`).
    pub temporal_per_step: Vec<Vec<f64>>,
    /// Mean `W_β` over channels per time step and scale (`[T][N]`).
    pub channel_per_step: Vec<Vec<f64>>,
}

/// Scale importance of one SMA module.
#[derive(Debug, Clone, Serialize)]
pub struct ModuleScales {
    /// Module name (`block2.1`, ...).
    pub module: String,
    /// Kernel size of each scale.
    pub kernels: Vec<usize>,
    /// Per class.
    pub per_class: Vec<ClassScales>,
    /// Largest `|Σ_n W_α[n,t,b] − 1|` and `|Σ_n W_β[n,t,b,c] − 1|` seen (softmax over scales).
    pub max_sum_error: f64,
}

/// Operations and energy of one layer with weights, per sample.
#[derive(Debug, Clone, Serialize)]
pub struct LayerEnergy {
    /// Layer name.
    pub layer: String,
    /// `sop` (spike-driven accumulates) or `mac` (real-valued input).
    pub kind: String,
    /// Spike source feeding it (for `sop`).
    pub input: Option<String>,
    /// Firing rate of that input.
    pub input_rate: Option<f64>,
    /// Synapses per input neuron (MACs per step / input neurons).
    pub fan_out: f64,
    /// Operations per sample in the SNN (SOPs or MACs over all T steps).
    pub ops: f64,
    /// Energy per sample in the SNN (µJ).
    pub energy_uj: f64,
    /// MACs per sample of the same layer in an ANN (one pass).
    pub ann_macs: f64,
    /// Energy per sample in the ANN (µJ).
    pub ann_energy_uj: f64,
}

/// The energy estimate of one network.
#[derive(Debug, Clone, Serialize)]
pub struct Energy {
    /// Per layer with weights.
    pub layers: Vec<LayerEnergy>,
    /// Σ SOPs per sample.
    pub sops: f64,
    /// Σ MACs per sample in the SNN (real-valued inputs).
    pub snn_macs: f64,
    /// SNN energy per sample (µJ).
    pub snn_uj: f64,
    /// Σ MACs per sample of the ANN.
    pub ann_macs: f64,
    /// ANN energy per sample (µJ).
    pub ann_uj: f64,
    /// `ann_uj / snn_uj`.
    pub ratio: f64,
}

/// Everything measured on one checkpoint.
#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    /// The checkpoint.
    pub checkpoint: PathBuf,
    /// Whether the network has SMA modules.
    pub sma: bool,
    /// Samples analysed.
    pub samples: usize,
    /// Accuracy on them (time-mean output).
    pub accuracy: f64,
    /// Spikes per LIF layer, in forward order.
    pub spikes: Vec<LayerSpikes>,
    /// Total spikes per sample over all LIF layers.
    pub total_spikes_per_sample: f64,
    /// Scale importance per SMA module.
    pub scale_importance: Vec<ModuleScales>,
    /// Energy estimate.
    pub energy: Energy,
}

/// `report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainReport {
    /// What every number means.
    pub definitions: BTreeMap<String, String>,
    /// The cache file analysed.
    pub cache_file: PathBuf,
    /// Cache indices of the samples analysed.
    pub sample_indices: Vec<usize>,
    /// Class filter, if any.
    pub class: Option<String>,
    /// The checkpoint, then the `--compare` one.
    pub models: Vec<ModelReport>,
    /// PNGs written (relative to the output folder).
    pub files: Vec<String>,
}

fn definitions() -> BTreeMap<String, String> {
    [
        ("firing_rate", "spikes / (neurons x T x samples) of a LIF layer in eval mode; the number `snnkit eval` reports for the same samples"),
        ("spikes_per_sample", "spikes of a LIF layer summed over neurons and time steps, averaged over samples (Fig. 3's spike count)"),
        ("spikes_per_step", "the same per time step"),
        ("heatmap", "for one sample and LIF layer: spikes summed over channels at each time step (panels t0..), and over all steps (panel 'sum'), each panel min-max normalised to [0, 1], viridis colormap, drawn at 60% opacity over the input frame (ON+OFF event counts, grey); the layer's map is scaled to the input size"),
        ("temporal", "scale importance: mean over time steps and samples of the class of the T-MSE softmax weight W_alpha[n, t, b] of scale n; sums to 1 over scales"),
        ("channel", "scale importance: mean over channels, time steps and samples of the C-MSE softmax weight W_beta[n, t, b, c]; sums to 1 over scales"),
        ("max_sum_error", "largest deviation of a softmax-over-scales sum from 1 over every module, time step, sample (and channel)"),
        ("sop", "synaptic operations: a layer fed by binary spikes does one accumulate per spike and synapse: spikes in x fan_out = input firing rate x T x MACs per step"),
        ("mac", "multiply-accumulates of a layer fed by real values (the event frames, the conv output SMA's encoders read, the average pool before the head, the attention maps): T x MACs per step"),
        ("fan_out", "MACs per step / input neurons: synapses per input neuron (exact for linear layers, the mean for convolutions with zero padding)"),
        ("energy", "E_SNN = 0.9 pJ x SOPs + 4.6 pJ x MACs; E_ANN = 4.6 pJ x MACs of one pass of the same network with real activations (45 nm figures, Horowitz 2014); BatchNorm, pooling and LIF updates are not counted, as is usual"),
        ("accuracy", "share of the analysed samples whose time-mean output's argmax is the label"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Per module and class: (samples, Σ W_α `[T][N]`, Σ over samples of W_β's channel mean `[T][N]`).
type ScaleSums = (usize, Vec<Vec<f64>>, Vec<Vec<f64>>);

/// Per-layer accumulators over batches.
#[derive(Default)]
struct Acc {
    spikes: BTreeMap<String, (u64, Vec<f64>)>, // neurons per step, spikes per step summed
    pooled: BTreeMap<String, f64>,             // blockK -> pooled spikes summed
    scales: BTreeMap<String, BTreeMap<usize, ScaleSums>>,
    max_sum_error: BTreeMap<String, f64>,
    correct: usize,
    samples: usize,
}

fn to_vec3(t: &Tensor) -> Result<Vec<Vec<Vec<f32>>>> {
    Ok(t.to_dtype(DType::F32)?.to_vec3::<f32>()?)
}

/// Analyses `model` on the samples `indices` of `loader`; draws heatmaps for `heat` samples.
#[allow(clippy::too_many_arguments)]
fn analyse(
    model: &SmaVgg8,
    loader: &snnkit_cache::Loader,
    indices: &[usize],
    batch: usize,
    heat: &BTreeMap<usize, usize>,
    layers: &[String],
    out: &Path,
    tag: &str,
    files: &mut Vec<String>,
    progress: &mut dyn Progress,
) -> Result<ModelReport> {
    let names = loader.reader().info().class_names.clone();
    let t_steps = model.config().time_steps;
    let mut acc = Acc::default();
    let chunks: Vec<&[usize]> = indices.chunks(batch.max(1)).collect();
    progress.start(1, 1, "explain", chunks.len());
    for (bi, chunk) in chunks.iter().enumerate() {
        let b = loader.batch(chunk, 0)?;
        let rec = model.forward_recorded(&b.frames)?;
        let (ok, _) = crate::eval::correct_count(&rec.output, &b.labels)?;
        acc.correct += ok;
        acc.samples += chunk.len();
        for (name, s) in &rec.spikes {
            let dims = s.dims();
            let neurons: u64 = dims[2..].iter().product::<usize>() as u64;
            let per_step = s
                .flatten_from(1)?
                .sum(1)?
                .to_dtype(DType::F64)?
                .to_vec1::<f64>()?;
            let e = acc
                .spikes
                .entry(name.clone())
                .or_insert((neurons, vec![0.0; per_step.len()]));
            for (a, v) in e.1.iter_mut().zip(&per_step) {
                *a += v;
            }
        }
        for (k, p) in rec.blocks.iter().enumerate() {
            *acc.pooled.entry(format!("block{}", k + 1)).or_default() +=
                p.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
        }
        for (module, (wa, wb)) in &rec.scale_weights {
            // W_α [N,T,B]; W_β [N,T,B,C] -> mean over C.
            let sa = (wa.sum(0)? - 1.0)?.abs()?.max_all()?.to_scalar::<f32>()? as f64;
            let sb = (wb.sum(0)? - 1.0)?.abs()?.max_all()?.to_scalar::<f32>()? as f64;
            let e = acc.max_sum_error.entry(module.clone()).or_default();
            *e = e.max(sa).max(sb);
            let wa = to_vec3(wa)?;
            let wbm = to_vec3(&wb.mean(D::Minus1)?)?;
            let n = wa.len();
            let per_class = acc.scales.entry(module.clone()).or_default();
            for (j, &label) in b.labels_vec.iter().enumerate() {
                let e = per_class.entry(label as usize).or_insert_with(|| {
                    (0, vec![vec![0.0; n]; t_steps], vec![vec![0.0; n]; t_steps])
                });
                e.0 += 1;
                for s in 0..n {
                    for t in 0..t_steps {
                        e.1[t][s] += wa[s][t][j] as f64;
                        e.2[t][s] += wbm[s][t][j] as f64;
                    }
                }
            }
        }
        // Heatmaps for the chosen samples.
        for (j, &idx) in chunk.iter().enumerate() {
            let Some(&class) = heat.get(&idx) else {
                continue;
            };
            let frame = b.frames.narrow(1, j, 1)?.squeeze(1)?.sum(1)?; // [T, H, W]
            let frame = frame.to_dtype(DType::F32)?.to_vec3::<f32>()?;
            for layer in layers {
                let Some(s) = rec.spikes.get(layer) else {
                    return Err(Error::Other(format!(
                        "no LIF layer {layer} (layers: {})",
                        model.lif_layers().join(", ")
                    )));
                };
                if s.rank() != 5 {
                    continue;
                }
                let map = s.narrow(1, j, 1)?.squeeze(1)?.sum(1)?; // [T, h, w]
                let map = map.to_dtype(DType::F32)?.to_vec3::<f32>()?;
                let cname = names.get(class).cloned().unwrap_or(class.to_string());
                let file = format!(
                    "heatmap{tag}_{}_{}_{idx}.png",
                    sanitize(layer),
                    sanitize(&cname)
                );
                plot::heatmap_overlay(
                    &out.join(&file),
                    &frame,
                    &map,
                    &format!("{layer}  class {cname}  sample {idx}"),
                )?;
                files.push(file);
            }
        }
        progress.batch(
            bi + 1,
            0.0,
            acc.correct as f64 / acc.samples.max(1) as f64,
            0.0,
        );
    }
    progress.finish();
    let n = acc.samples.max(1) as f64;
    let order = model.lif_layers();
    let spikes: Vec<LayerSpikes> = order
        .iter()
        .filter_map(|l| acc.spikes.get(l).map(|v| (l, v)))
        .map(|(l, (neurons, per_step))| {
            let total: f64 = per_step.iter().sum();
            LayerSpikes {
                layer: l.clone(),
                neurons: *neurons,
                spikes_per_sample: total / n,
                spikes_per_step: per_step.iter().map(|v| v / n).collect(),
                firing_rate: total / (*neurons as f64 * per_step.len() as f64 * n),
            }
        })
        .collect();
    let scale_importance = acc
        .scales
        .iter()
        .map(|(module, per)| {
            let kernels = model.config().sma_kernels.clone();
            let per_class = per
                .iter()
                .map(|(&c, (cnt, ta, tb))| {
                    let k = *cnt as f64;
                    let step = |m: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
                        m.iter()
                            .map(|r| r.iter().map(|v| v / k).collect())
                            .collect()
                    };
                    let (ta, tb) = (step(ta), step(tb));
                    let mean = |m: &Vec<Vec<f64>>| -> Vec<f64> {
                        (0..kernels.len())
                            .map(|s| m.iter().map(|r| r[s]).sum::<f64>() / m.len() as f64)
                            .collect()
                    };
                    ClassScales {
                        class: names.get(c).cloned().unwrap_or(c.to_string()),
                        samples: *cnt,
                        temporal: mean(&ta),
                        channel: mean(&tb),
                        temporal_per_step: ta,
                        channel_per_step: tb,
                    }
                })
                .collect();
            ModuleScales {
                module: module.clone(),
                kernels,
                per_class,
                max_sum_error: acc.max_sum_error.get(module).copied().unwrap_or(0.0),
            }
        })
        .collect();
    let rate_of = |src: &str| -> Option<f64> {
        if let Some(l) = spikes.iter().find(|l| l.layer == src) {
            return Some(l.firing_rate);
        }
        None
    };
    let mut layers_e = Vec::new();
    for sl in model.synaptic_layers() {
        let fan_out = sl.macs_per_step as f64 / sl.input_neurons.max(1) as f64;
        let ann = sl.macs_per_step as f64;
        let (kind, rate, ops) = match &sl.spike_input {
            Some(src) => {
                let rate = match src
                    .strip_prefix("block")
                    .and_then(|k| k.parse::<usize>().ok())
                {
                    Some(_) => acc
                        .pooled
                        .get(src)
                        .map(|s| s / n / (sl.input_neurons as f64 * t_steps as f64)),
                    None => rate_of(src),
                }
                .unwrap_or(0.0);
                ("sop", Some(rate), rate * t_steps as f64 * ann)
            }
            None => ("mac", None, t_steps as f64 * ann),
        };
        let e = if kind == "sop" { E_AC_PJ } else { E_MAC_PJ };
        layers_e.push(LayerEnergy {
            layer: sl.name.clone(),
            kind: kind.into(),
            input: sl.spike_input.clone(),
            input_rate: rate,
            fan_out,
            ops,
            energy_uj: ops * e * 1e-6,
            ann_macs: ann,
            ann_energy_uj: ann * E_MAC_PJ * 1e-6,
        });
    }
    let sum = |f: &dyn Fn(&LayerEnergy) -> f64| layers_e.iter().map(f).sum::<f64>();
    let sops = sum(&|l| if l.kind == "sop" { l.ops } else { 0.0 });
    let snn_macs = sum(&|l| if l.kind == "mac" { l.ops } else { 0.0 });
    let snn_uj = sum(&|l| l.energy_uj);
    let ann_uj = sum(&|l| l.ann_energy_uj);
    let energy = Energy {
        sops,
        snn_macs,
        snn_uj,
        ann_macs: sum(&|l| l.ann_macs),
        ann_uj,
        ratio: if snn_uj > 0.0 { ann_uj / snn_uj } else { 0.0 },
        layers: layers_e,
    };
    Ok(ModelReport {
        checkpoint: PathBuf::new(),
        sma: model.config().sma,
        samples: acc.samples,
        accuracy: acc.correct as f64 / n,
        total_spikes_per_sample: spikes.iter().map(|l| l.spikes_per_sample).sum(),
        spikes,
        scale_importance,
        energy,
    })
}

/// `blockK LIF (name)` for a conv block's own LIF (`block2.3` with an SMA before it, `block2.2`
/// without), so networks with and without SMA line up in the comparison; other layers keep their
/// name.
fn block_lif_label(layer: &str) -> String {
    match layer.split_once('.') {
        Some((b, i)) if b.starts_with("block") && i.parse::<usize>().is_ok() => {
            format!("{b} LIF")
        }
        _ => layer.to_string(),
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Runs the analysis of `ckpt` (and `opts.compare`) on `cache`, writing `report.json` and the
/// PNGs into `out`. See the module docs.
pub fn explain(
    ckpt: &Path,
    cache: &Path,
    out: &Path,
    opts: &ExplainOptions,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<ExplainReport> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut files = Vec::new();
    let mut models = Vec::new();
    let mut cache_file = PathBuf::new();
    let mut sample_indices = Vec::new();
    let paths: Vec<&Path> = std::iter::once(ckpt)
        .chain(opts.compare.as_deref())
        .collect();
    for (mi, path) in paths.iter().enumerate() {
        let ck = checkpoint::load(path, device)?;
        let (cfg, network) = model_from_checkpoint(&ck, device)?;
        let split = opts.split.clone().unwrap_or(cfg.data.test_split.clone());
        let loader = open_loader(cache, &cfg, &split, false, device)?;
        let shape = DataShape {
            sample: loader.sample_shape().to_vec(),
            num_classes: loader.num_classes(),
        };
        check_fits(&network, &shape, &loader.reader().info().path)?;
        // The recording hooks and operation counts exist for SMA-VGG8 (the paper's Fig. 3/4).
        let model = match &network {
            Network::Vgg8(m) => m,
            other => {
                return Err(Error::Other(format!(
                    "{}: explain supports SMA-VGG8 checkpoints; this one is {}",
                    path.display(),
                    other.config().arch_name()
                )))
            }
        };
        let names = &loader.reader().info().class_names;
        let class = match &opts.class {
            None => None,
            Some(c) => Some(
                names
                    .iter()
                    .position(|n| n == c)
                    .or_else(|| c.parse::<usize>().ok().filter(|&i| i < names.len()))
                    .ok_or_else(|| {
                        Error::Other(format!(
                            "no class {c:?} in {} (classes: {})",
                            loader.reader().info().path.display(),
                            names.join(", ")
                        ))
                    })?,
            ),
        };
        let labels = loader.reader().labels();
        let indices: Vec<usize> = (0..labels.len())
            .filter(|&i| class.is_none_or(|c| labels[i] as usize == c))
            .take(opts.samples.unwrap_or(usize::MAX))
            .collect();
        if indices.is_empty() {
            return Err(Error::Other(format!(
                "{}: no samples to analyse",
                loader.reader().info().path.display()
            )));
        }
        // Heatmaps: the first `heatmaps_per_class` samples of each class.
        let mut heat = BTreeMap::new();
        let mut per: BTreeMap<usize, usize> = BTreeMap::new();
        for &i in &indices {
            let c = labels[i] as usize;
            let k = per.entry(c).or_default();
            if *k < opts.heatmaps_per_class {
                heat.insert(i, c);
                *k += 1;
            }
        }
        let layers: Vec<String> = if opts.heatmap_layers.is_empty() {
            // The LIF of every conv block: the layers named `blockK.N` without a sub-module.
            model
                .lif_layers()
                .into_iter()
                .filter(|l| l.starts_with("block") && l.matches('.').count() == 1)
                .collect()
        } else {
            opts.heatmap_layers.clone()
        };
        let tag = if mi == 0 { "" } else { "_compare" };
        let batch = opts.batch_size.unwrap_or(cfg.data.eval_batch_size);
        let mut rep = analyse(
            model, &loader, &indices, batch, &heat, &layers, out, tag, &mut files, progress,
        )?;
        rep.checkpoint = path.to_path_buf();
        if mi == 0 {
            cache_file = loader.reader().info().path.clone();
            sample_indices = indices;
        }
        models.push(rep);
    }
    // Spike counts per layer (side by side with --compare).
    let f = "spike_counts.png".to_string();
    let series: Vec<(String, Vec<(String, f64)>)> = models
        .iter()
        .map(|m| {
            // `run/best.safetensors`: the run folder tells two `best` files apart.
            let comps: Vec<String> = m
                .checkpoint
                .components()
                .rev()
                .take(2)
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let label: Vec<&str> = comps.iter().rev().map(String::as_str).collect();
            (
                label.join("/") + if m.sma { " (SMA)" } else { " (no SMA)" },
                m.spikes
                    .iter()
                    .map(|l| (block_lif_label(&l.layer), l.spikes_per_sample))
                    .collect(),
            )
        })
        .collect();
    plot::spike_counts(&out.join(&f), &series)?;
    files.push(f);
    for m in models.first().iter().flat_map(|m| &m.scale_importance) {
        let f = format!("scale_importance_{}.png", sanitize(&m.module));
        let classes: Vec<String> = m.per_class.iter().map(|c| c.class.clone()).collect();
        let temporal: Vec<Vec<f64>> = m.per_class.iter().map(|c| c.temporal.clone()).collect();
        let channel: Vec<Vec<f64>> = m.per_class.iter().map(|c| c.channel.clone()).collect();
        plot::scale_importance(
            &out.join(&f),
            &m.module,
            &m.kernels,
            &classes,
            &temporal,
            &channel,
        )?;
        files.push(f);
    }
    let report = ExplainReport {
        definitions: definitions(),
        cache_file,
        sample_indices,
        class: opts.class.clone(),
        models,
        files,
    };
    write_json(&out.join(REPORT_JSON), &report)?;
    Ok(report)
}
