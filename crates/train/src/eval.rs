//! Evaluation: accuracy on the time-mean output, per-class accuracy, confusion matrix and LIF
//! firing rates, for the per-epoch test pass and for `snnkit eval`.

use crate::checkpoint;
use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::metrics::{write_json, Progress};
use crate::net::{network_config, DataShape};
use crate::source::DataSource;
use candle_core::{DType, Device, Tensor, D};
use serde::{Deserialize, Serialize};
use snnkit_model::{Network, NetworkConfig};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Number of correct predictions of `out` (`[T, B, K]`) on the time-mean, against `labels` (`[B]`).
pub fn correct_count(out: &Tensor, labels: &Tensor) -> candle_core::Result<(usize, Vec<u32>)> {
    let pred = out.mean(0)?.argmax(D::Minus1)?;
    let ok = pred
        .eq(&labels.to_dtype(DType::U32)?)?
        .to_dtype(DType::F32)?
        .sum_all()?
        .to_scalar::<f32>()?;
    Ok((ok as usize, pred.to_vec1::<u32>()?))
}

/// Number of samples whose label is among the `k` largest time-mean outputs of `out`
/// (`[T, B, K]`): fewer than `k` classes score strictly higher than the label.
pub fn topk_count(out: &Tensor, labels: &[u32], k: usize) -> candle_core::Result<usize> {
    let mean = out.mean(0)?.to_vec2::<f32>()?;
    Ok(mean
        .iter()
        .zip(labels)
        .filter(|(row, &l)| {
            let v = row.get(l as usize).copied().unwrap_or(f32::NEG_INFINITY);
            row.iter().filter(|&&x| x > v).count() < k
        })
        .count())
}

/// Result of one pass over a split in eval mode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalStats {
    /// Samples evaluated.
    pub samples: usize,
    /// Mean loss per sample.
    pub loss: f64,
    /// Accuracy on the time-mean output.
    pub accuracy: f64,
    /// Top-5 accuracy (top-K when there are K < 5 classes).
    #[serde(default)]
    pub top5: f64,
    /// `confusion[true][predicted]` counts.
    pub confusion: Vec<Vec<u64>>,
    /// Spike rate per LIF layer, averaged over samples.
    pub firing_rates: BTreeMap<String, f64>,
    /// Wall time (seconds).
    pub seconds: f64,
}

/// Runs `model` in eval mode (no AZO, BN running stats, no dropout) over every batch of `loader`,
/// with `cfg`'s loss (and label smoothing).
pub fn evaluate(
    model: &Network,
    loader: &DataSource,
    cfg: &TrainConfig,
    progress: &mut dyn Progress,
    epoch: usize,
    epochs: usize,
) -> Result<EvalStats> {
    let start = Instant::now();
    let k = model.num_classes();
    let mut confusion = vec![vec![0u64; k]; k];
    let (mut n, mut correct, mut loss_sum, mut top5) = (0usize, 0usize, 0f64, 0usize);
    let mut rates: BTreeMap<String, f64> = BTreeMap::new();
    progress.start(epoch, epochs, "test", loader.batches_per_epoch());
    for (i, batch) in loader.epoch(0).enumerate() {
        let batch = batch?;
        let b = batch.labels_vec.len();
        let out = model.forward_t(&batch.input, false)?;
        let l = cfg
            .loss
            .compute_smoothed(&out, &batch.labels, cfg.label_smoothing)?
            .to_scalar::<f32>()? as f64;
        let (ok, pred) = correct_count(&out, &batch.labels)?;
        top5 += topk_count(&out, &batch.labels_vec, 5)?;
        for (&t, &p) in batch.labels_vec.iter().zip(&pred) {
            if (t as usize) < k && (p as usize) < k {
                confusion[t as usize][p as usize] += 1;
            }
        }
        for (name, r) in model.firing_rates() {
            *rates.entry(name).or_default() += r * b as f64;
        }
        n += b;
        correct += ok;
        loss_sum += l * b as f64;
        let secs = start.elapsed().as_secs_f64().max(1e-9);
        progress.batch(
            i + 1,
            loss_sum / n as f64,
            correct as f64 / n as f64,
            n as f64 / secs,
        );
    }
    progress.finish();
    let nf = n.max(1) as f64;
    Ok(EvalStats {
        samples: n,
        loss: loss_sum / nf,
        accuracy: correct as f64 / nf,
        top5: top5 as f64 / nf,
        confusion,
        firing_rates: rates.into_iter().map(|(k, v)| (k, v / nf)).collect(),
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Accuracy of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassAccuracy {
    /// Label index.
    pub label: usize,
    /// Class name from the cache.
    pub name: String,
    /// Test samples of this class.
    pub samples: u64,
    /// Of which predicted correctly.
    pub correct: u64,
    /// `correct / samples` (0 when the class has no samples).
    pub accuracy: f64,
}

/// What `snnkit eval` reports (`--json` prints this).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The checkpoint evaluated.
    pub checkpoint: PathBuf,
    /// The cache file evaluated on.
    pub cache_file: PathBuf,
    /// The split evaluated (names the report files, see [`report_file_names`]).
    #[serde(default)]
    pub split: String,
    /// Epochs the checkpoint had trained.
    pub epoch: usize,
    /// Samples evaluated.
    pub samples: usize,
    /// Overall (top-1) accuracy.
    pub accuracy: f64,
    /// Top-5 accuracy (top-K when there are K < 5 classes).
    #[serde(default)]
    pub top5: f64,
    /// Mean loss with the run's loss function.
    pub loss: f64,
    /// Per-class accuracy.
    pub per_class: Vec<ClassAccuracy>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<u64>>,
    /// Class names, in label order.
    pub class_names: Vec<String>,
    /// Spike rate per LIF layer.
    pub firing_rates: BTreeMap<String, f64>,
}

/// Rebuilds the network stored in a checkpoint, on `device` (SMA-VGG8, or SMA-MS-ResNet when
/// the checkpoint's configuration has a `[resnet]` table).
pub fn model_from_checkpoint(
    ck: &checkpoint::Checkpoint,
    device: &Device,
) -> Result<(TrainConfig, Network)> {
    let cfg = TrainConfig::from_toml_str(
        &ck.meta.config_toml,
        &format!("{} (config)", ck.path.display()),
    )?;
    // A tagged NetworkConfig, or a bare Vgg8Config (checkpoints from before the ResNets).
    let ncfg = NetworkConfig::from_json(&ck.meta.model_json).map_err(|e| Error::Checkpoint {
        path: ck.path.clone(),
        message: format!("model config: {e}"),
    })?;
    let model = Network::new(&ncfg, device)?;
    model
        .store()
        .load_state_dict(&ck.model_tensors(), false, &ck.path)?;
    Ok((cfg, model))
}

/// Evaluates a checkpoint on the test split of `cache` (the split and loader settings come from
/// the checkpoint's configuration; `split` overrides the split, `batch` the batch size). For a
/// checkpoint trained on images, `cache` is the image dataset root and the held-out split
/// (`val/`, or CIFAR-10's `test_batch.bin`) is evaluated.
pub fn evaluate_checkpoint(
    ckpt: &Path,
    cache: &Path,
    split: Option<&str>,
    batch: Option<usize>,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<EvalReport> {
    let ck = checkpoint::load(ckpt, device)?;
    let (cfg, model) = model_from_checkpoint(&ck, device)?;
    let epoch = ck.meta.epoch;
    drop(ck);
    evaluate_model(
        &model, cfg, ckpt, epoch, cache, split, batch, device, progress,
    )
}

/// Evaluates bare weights (a safetensors `state_dict`, e.g. from `snnkit convert-weights`) in
/// the network `cfg` describes, sized from the cache. Names that are missing, unexpected or of
/// the wrong shape give one [`Error::WeightsMismatch`].
pub fn evaluate_weights(
    weights: &Path,
    cfg: &TrainConfig,
    cache: &Path,
    split: Option<&str>,
    batch: Option<usize>,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<EvalReport> {
    let split_name = split.unwrap_or(&cfg.data.test_split).to_string();
    let shape = DataSource::open(cache, cfg, &split_name, false, device)?.shape();
    let model = Network::new(&network_config(cfg, &shape)?, device)?;
    checkpoint::load_weights(model.store(), weights)?;
    evaluate_model(
        &model,
        cfg.clone(),
        weights,
        0,
        cache,
        split,
        batch,
        device,
        progress,
    )
}

/// The shared part of [`evaluate_checkpoint`] and [`evaluate_weights`].
#[allow(clippy::too_many_arguments)]
fn evaluate_model(
    model: &Network,
    mut cfg: TrainConfig,
    source: &Path,
    epoch: usize,
    cache: &Path,
    split: Option<&str>,
    batch: Option<usize>,
    device: &Device,
    progress: &mut dyn Progress,
) -> Result<EvalReport> {
    if let Some(b) = batch {
        cfg.data.eval_batch_size = b;
        cfg.validate("--batch-size")?;
    }
    let split = split
        .map(str::to_string)
        .unwrap_or_else(|| cfg.data.test_split.clone());
    let loader = DataSource::open(cache, &cfg, &split, false, device)?;
    check_fits(model, &loader.shape(), &loader.path())?;
    let stats = evaluate(model, &loader, &cfg, progress, epoch, epoch)?;
    let names = loader.class_names();
    let per_class = stats
        .confusion
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let samples: u64 = row.iter().sum();
            let correct = row[i];
            ClassAccuracy {
                label: i,
                name: names.get(i).cloned().unwrap_or_else(|| i.to_string()),
                samples,
                correct,
                accuracy: if samples > 0 {
                    correct as f64 / samples as f64
                } else {
                    0.0
                },
            }
        })
        .collect();
    Ok(EvalReport {
        checkpoint: source.to_path_buf(),
        cache_file: loader.path(),
        split,
        epoch,
        samples: stats.samples,
        accuracy: stats.accuracy,
        top5: stats.top5,
        loss: stats.loss,
        per_class,
        confusion: stats.confusion,
        class_names: names,
        firing_rates: stats.firing_rates,
    })
}

/// Refuses data of `shape` (read from `path`) that the network cannot take.
pub(crate) fn check_fits(model: &Network, shape: &DataShape, path: &Path) -> Result<()> {
    let expects = DataShape::of_network(&model.config());
    if !expects.accepts(shape) {
        return Err(Error::CacheLayout {
            path: path.to_path_buf(),
            message: format!(
                "samples are {:?} with {} classes after the loader; the network expects {:?} with {} classes",
                shape.sample, shape.num_classes, expects.sample, expects.num_classes
            ),
        });
    }
    Ok(())
}

/// The file names [`write_report`] gives the report of `split`: `confusion_<split>.json` and
/// `confusion_<split>.png`, so that evaluating another split never overwrites a report.
pub fn report_file_names(split: &str) -> (String, String) {
    let split = if split.is_empty() { "test" } else { split };
    (
        format!("confusion_{split}.json"),
        format!("confusion_{split}.png"),
    )
}

/// Writes `report` as `dir/confusion_<split>.json` (the whole report, pretty JSON) and its
/// confusion matrix as `dir/confusion_<split>.png` ([`report_file_names`]), creating `dir` if
/// needed. Returns the two paths.
pub fn write_report(report: &EvalReport, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let (json_name, png_name) = report_file_names(&report.split);
    let json = dir.join(json_name);
    let png = dir.join(png_name);
    write_json(&json, report)?;
    crate::plot::confusion(
        &png,
        &report.confusion,
        &report.class_names,
        &format!("Confusion matrix, accuracy {:.1}%", 100.0 * report.accuracy),
    )?;
    Ok((json, png))
}
