//! snnkit-train: losses, optimizers with PyTorch semantics, the training loop, checkpoints,
//! metrics and plots for SMA-AZO spiking networks.
//!
//! - [`Loss`]: MSE on the time-mean output, per-timestep cross-entropy ("TET"), plain CE.
//! - [`Optimizer`] with [`OptimizerConfig`]: AdamW, Adam, NAdam and SGD following torch 2.0.1
//!   step by step, and [`CosineAnnealingLr`] (torch's recursive formula, stepped per epoch).
#![deny(missing_docs)]

pub use error::{Error, Result};
pub use loss::{one_hot, Loss};
pub use optim::{clip_grad_norm, CosineAnnealingLr, Optimizer, OptimizerConfig, OptimizerKind};

mod error;
mod loss;
mod optim;
