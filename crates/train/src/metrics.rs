//! Per-epoch metrics (`metrics.jsonl`), the run summary (`summary.json`) and the progress hooks a
//! front end (the CLI's progress bars) implements.

use crate::checkpoint::write_atomic;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    /// Epoch number (1-based).
    pub epoch: usize,
    /// Learning rate used during this epoch.
    pub lr: f64,
    /// Mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// Training accuracy (train mode: AZO and dropout on), on the mean output over T.
    pub train_acc: f64,
    /// Mean test loss (eval mode).
    pub test_loss: f64,
    /// Test accuracy on the mean output over T.
    pub test_acc: f64,
    /// Test top-5 accuracy (top-K when there are K < 5 classes).
    #[serde(default)]
    pub test_top5: f64,
    /// Best test accuracy up to and including this epoch.
    pub best_test_acc: f64,
    /// Epoch of `best_test_acc`.
    pub best_epoch: usize,
    /// Training samples seen this epoch.
    pub train_samples: usize,
    /// Wall time of the training pass (seconds).
    pub train_seconds: f64,
    /// Wall time of the test pass (seconds).
    pub eval_seconds: f64,
    /// Training throughput (samples/s).
    pub train_samples_per_s: f64,
    /// Spike rate per LIF layer on the test set (eval mode), keyed by reference module path.
    pub firing_rates: BTreeMap<String, f64>,
}

impl EpochMetrics {
    /// The fields that must agree between a resumed and an uninterrupted run (everything but
    /// wall times).
    pub fn without_timing(&self) -> EpochMetrics {
        EpochMetrics {
            train_seconds: 0.0,
            eval_seconds: 0.0,
            train_samples_per_s: 0.0,
            ..self.clone()
        }
    }
}

/// `summary.json`, written when a run ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Preset or experiment name.
    pub name: String,
    /// Epochs completed.
    pub epochs: usize,
    /// Best test accuracy over epochs: the number the paper reports.
    pub best_test_acc: f64,
    /// Epoch of the best test accuracy.
    pub best_epoch: usize,
    /// Test accuracy after the last epoch.
    pub final_test_acc: f64,
    /// Training loss of the last epoch.
    pub final_train_loss: f64,
    /// Total training + evaluation wall time of this process (seconds; a resumed run counts
    /// only its own epochs).
    pub seconds: f64,
    /// Mean training throughput over the epochs of this process.
    pub train_samples_per_s: f64,
    /// Trainable parameters.
    pub parameters: usize,
    /// Device the run used (`cpu`, `cuda:0`).
    pub device: String,
    /// Files of the run folder.
    pub files: BTreeMap<String, String>,
    /// How to read `best_test_acc`.
    pub note: String,
}

/// Reads `metrics.jsonl` (one [`EpochMetrics`] per line).
pub fn read_jsonl(path: &Path) -> Result<Vec<EpochMetrics>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l)
                .map_err(|e| Error::Other(format!("{}: line {}: {e}", path.display(), i + 1)))
        })
        .collect()
}

/// Writes all `rows` as `metrics.jsonl`, atomically (the file is small; rewriting it keeps it
/// consistent with the checkpoint when a run is interrupted).
pub fn write_jsonl(path: &Path, rows: &[EpochMetrics]) -> Result<()> {
    let mut s = String::new();
    for r in rows {
        s += &serde_json::to_string(r)?;
        s.push('\n');
    }
    write_atomic(path, s.as_bytes())
}

/// Writes any serialisable value as pretty JSON, atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(value)?;
    write_atomic(path, (s + "\n").as_bytes())
}

/// Hooks for progress display. Every method has an empty default.
pub trait Progress {
    /// A phase starts: `phase` is `"train"` or `"test"`, with its batch count.
    fn start(&mut self, _epoch: usize, _epochs: usize, _phase: &str, _batches: usize) {}
    /// A batch finished: running mean loss and accuracy, and throughput so far.
    fn batch(&mut self, _done: usize, _loss: f64, _acc: f64, _samples_per_s: f64) {}
    /// The phase finished.
    fn finish(&mut self) {}
    /// An epoch finished with these metrics.
    fn epoch(&mut self, _m: &EpochMetrics) {}
    /// A free-form message (resume point, files written).
    fn message(&mut self, _msg: &str) {}
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
