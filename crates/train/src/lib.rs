//! snnkit-train: losses, optimizers with PyTorch semantics, the training loop, checkpoints,
//! metrics and plots for SMA-AZO spiking networks.
//!
//! - [`Loss`]: MSE on the time-mean output, per-timestep cross-entropy ("TET"), plain CE.
//! - [`Optimizer`] with [`OptimizerConfig`]: AdamW, Adam, NAdam and SGD following torch 2.0.1
//!   step by step, and [`CosineAnnealingLr`] (torch's recursive formula, stepped per epoch).
//! - [`TrainConfig`]: the run's configuration, from embedded TOML presets
//!   (`dvs128-gesture`, `cifar10-dvs`, `n-caltech101`, `synthetic`; the ImageNet recipe
//!   `ms-resnet18-imagenet`, `ms-resnet34-imagenet`, `ms-resnet104-imagenet`,
//!   `ms-resnet104-azo-finetune`, and `ms-resnet18-synthetic`) and user TOML overrides.
//!   An `[images]` table switches the data to a static-image dataset ([`DataSource`]);
//!   `[model] arch` picks SMA-VGG8 or SMA-MS-ResNet ([`build_network`]).
//! - [`train`] with [`TrainOptions`]: the loop over `snnkit_cache::Loader` batches and
//!   `snnkit_model::SmaVgg8`, writing a run folder (`config.toml`, `metrics.jsonl`,
//!   `last.safetensors`, `best.safetensors`, `curves.png`, `summary.json`); resumable.
//! - [`evaluate_checkpoint`] → [`EvalReport`]: accuracy, per-class accuracy, confusion matrix,
//!   firing rates; [`write_report`] saves it as `confusion_<split>.json` and `.png`
//!   ([`plot::confusion`] draws the matrix).
//! - [`explain()`] with [`ExplainOptions`] → [`ExplainReport`] (`report.json`): firing-rate
//!   heatmaps, spike counts per layer, scale importance per SMA module and class, energy.
//! - [`bench::step_times`]: median seconds per training step.
//! - [`read_torch_checkpoint`] / [`convert_torch_checkpoint`]: PyTorch `torch.save` checkpoints
//!   (zip format, bare `state_dict` or under `state_dict`/`model`/`net`, DDP `module.` stripped)
//!   to named tensors or a safetensors file.
#![deny(missing_docs)]

pub use checkpoint::{load_weights, Checkpoint, CheckpointMeta, WeightsMismatch};
pub use config::{
    preset_names, DataConfig, ImagesConfig, ModelConfig, ScheduleConfig, ScheduleKind, TrainConfig,
    ABLATIONS,
};
pub use data::{device_name, locate_split, open_loader, parse_device};
pub use error::{Error, Result};
pub use eval::{
    evaluate, evaluate_checkpoint, evaluate_weights, model_from_checkpoint, report_file_names,
    topk_count, write_report, ClassAccuracy, EvalReport, EvalStats,
};
pub use explain::{explain, ExplainOptions, ExplainReport};
pub use loss::{one_hot, Loss};
pub use metrics::{read_jsonl, EpochMetrics, NoProgress, Progress, Summary};
pub use net::{build_network, network_config, DataShape};
pub use optim::{clip_grad_norm, CosineAnnealingLr, Optimizer, OptimizerConfig, OptimizerKind};
pub use source::{DataSource, SourceBatch};
pub use torch_import::{convert_torch_checkpoint, read_torch_checkpoint, TorchStateDict};
pub use trainer::{files, final_weights, train, RunResult, TrainOptions};

pub mod bench;
pub mod checkpoint;
pub mod config;
mod data;
mod error;
mod eval;
pub mod explain;
mod font;
mod loss;
mod metrics;
mod net;
mod optim;
pub mod plot;
mod source;
pub mod torch_import;
mod trainer;
