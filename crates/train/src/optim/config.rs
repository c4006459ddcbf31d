//! Optimizer hyperparameters, as they appear in a training config's `[optimizer]` table.

use serde::{Deserialize, Serialize};

/// Which update rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// `torch.optim.Adam` (weight decay added to the gradient).
    Adam,
    /// `torch.optim.AdamW` (decoupled weight decay `p ← p·(1 − lr·wd)`).
    #[serde(rename = "adamw")]
    AdamW,
    /// `torch.optim.NAdam` with `momentum_decay`.
    #[serde(rename = "nadam")]
    NAdam,
    /// `torch.optim.SGD` with momentum, dampening, Nesterov and weight decay.
    Sgd,
}

/// Hyperparameters of every optimizer kind; fields a kind does not use are ignored.
/// Defaults are PyTorch's (betas 0.9/0.999, eps 1e-8, NAdam momentum_decay 4e-3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimizerConfig {
    /// The update rule.
    #[serde(rename = "name")]
    pub kind: OptimizerKind,
    /// Base learning rate.
    pub lr: f64,
    /// Weight decay (decoupled for AdamW, added to the gradient otherwise).
    pub weight_decay: f64,
    /// Adam β1.
    pub beta1: f64,
    /// Adam β2.
    pub beta2: f64,
    /// Adam ε.
    pub eps: f64,
    /// NAdam ψ.
    pub momentum_decay: f64,
    /// SGD momentum.
    pub momentum: f64,
    /// SGD dampening.
    pub dampening: f64,
    /// SGD Nesterov momentum.
    pub nesterov: bool,
}

impl Default for OptimizerConfig {
    fn default() -> Self {
        Self {
            kind: OptimizerKind::AdamW,
            lr: 1e-3,
            weight_decay: 0.0,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            momentum_decay: 4e-3,
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
        }
    }
}
