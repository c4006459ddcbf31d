//! One type for "the network a trainer trains": SMA-VGG8 or SMA-MS-ResNet, chosen by
//! configuration. Both speak the same interface: time-major outputs `[T', B, K]` for the losses
//! (the ResNets average over T before `fc`, so theirs is `[1, B, K]`), parameters and buffers by
//! the reference's PyTorch names, firing rates, dropout RNG state.

use std::collections::BTreeMap;
use std::path::Path;

use candle_core::{Device, Result, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::error;
use crate::resnet::{MsResNet, MsResNetConfig};
use crate::store::ParamStore;
use crate::vgg::{SmaVgg8, Vgg8Config, HEAD_LINEARS};

/// Which network, with its configuration. Serialised externally tagged
/// (`{"sma-vgg8": {...}}` / `{"ms-resnet": {...}}`); [`NetworkConfig::from_json`] also reads a bare
/// [`Vgg8Config`] (what checkpoints held before the ResNets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NetworkConfig {
    /// SMA-VGG8.
    #[serde(rename = "sma-vgg8")]
    Vgg8(Vgg8Config),
    /// SMA-MS-ResNet-18/34/104.
    #[serde(rename = "ms-resnet")]
    MsResNet(MsResNetConfig),
}

impl NetworkConfig {
    /// Parses a config written by [`serde_json`] from this type, or a bare [`Vgg8Config`].
    pub fn from_json(text: &str) -> std::result::Result<Self, serde_json::Error> {
        serde_json::from_str::<Self>(text)
            .or_else(|_| serde_json::from_str::<Vgg8Config>(text).map(Self::Vgg8))
    }

    /// Simulation length T.
    pub fn time_steps(&self) -> usize {
        match self {
            Self::Vgg8(c) => c.time_steps,
            Self::MsResNet(c) => c.time_steps,
        }
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        match self {
            Self::Vgg8(c) => c.num_classes,
            Self::MsResNet(c) => c.num_classes,
        }
    }

    /// Input `(channels, height, width)`.
    pub fn input_chw(&self) -> (usize, usize, usize) {
        match self {
            Self::Vgg8(c) => (c.in_channels, c.height, c.width),
            Self::MsResNet(c) => (c.in_channels, c.height, c.width),
        }
    }

    /// Short architecture name (`sma-vgg8`, `ms-resnet18`, ...).
    pub fn arch_name(&self) -> &'static str {
        match self {
            Self::Vgg8(_) => "sma-vgg8",
            Self::MsResNet(c) => c.arch.name(),
        }
    }
}

/// A built network.
#[derive(Debug)]
pub enum Network {
    /// SMA-VGG8.
    Vgg8(SmaVgg8),
    /// SMA-MS-ResNet.
    MsResNet(MsResNet),
}

impl Network {
    /// Builds the configured network on `device`.
    pub fn new(cfg: &NetworkConfig, device: &Device) -> error::Result<Self> {
        Ok(match cfg {
            NetworkConfig::Vgg8(c) => Self::Vgg8(SmaVgg8::new(c, device)?),
            NetworkConfig::MsResNet(c) => Self::MsResNet(MsResNet::new(c, device)?),
        })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> NetworkConfig {
        match self {
            Self::Vgg8(m) => NetworkConfig::Vgg8(m.config().clone()),
            Self::MsResNet(m) => NetworkConfig::MsResNet(m.config().clone()),
        }
    }

    /// `x` `[T, B, C, H, W]` (for a ResNet also an image batch `[B, C, H, W]`, repeated T times)
    /// -> `[T', B, K]`: `T' = T` for VGG8 (one output per timestep), `T' = 1` for the ResNets.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        match self {
            Self::Vgg8(m) => m.forward_t(x, train),
            Self::MsResNet(m) => {
                let out = if x.rank() == 4 {
                    m.forward_trace(x, train)?.output
                } else {
                    m.forward_sequence(x, train)?.output
                };
                out.unsqueeze(0)
            }
        }
    }

    /// Parameters and buffers.
    pub fn store(&self) -> &ParamStore {
        match self {
            Self::Vgg8(m) => m.store(),
            Self::MsResNet(m) => m.store(),
        }
    }

    /// Trainable parameters sorted by name.
    pub fn named_parameters(&self) -> Vec<(String, Var)> {
        self.store().named_parameters()
    }

    /// BatchNorm buffers sorted by name.
    pub fn named_buffers(&self) -> Vec<(String, Tensor)> {
        self.store().named_buffers()
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.config().num_classes()
    }

    /// Names of the classifier head's Linear weights (`others.{2,5,8}.weight` for SMA-VGG8,
    /// `fc.weight` for an MS-ResNet): what [`crate::InitOptions::head_gain`] scales.
    pub fn head_weights(&self) -> Vec<String> {
        match self {
            Self::Vgg8(_) => HEAD_LINEARS.iter().map(|n| format!("{n}.weight")).collect(),
            Self::MsResNet(_) => vec!["fc.weight".into()],
        }
    }

    /// Spike rate per neuron layer of the last forward.
    pub fn firing_rates(&self) -> BTreeMap<String, f64> {
        match self {
            Self::Vgg8(m) => m.firing_rates(),
            Self::MsResNet(m) => m.firing_rates(),
        }
    }

    /// Dropout RNG state `(seed, word position)` for checkpoints.
    pub fn dropout_rng_state(&self) -> ([u8; 32], u128) {
        match self {
            Self::Vgg8(m) => m.dropout_rng_state(),
            Self::MsResNet(m) => m.dropout_rng_state(),
        }
    }

    /// Restores a dropout RNG state.
    pub fn set_dropout_rng_state(&self, seed: [u8; 32], word_pos: u128) {
        match self {
            Self::Vgg8(m) => m.set_dropout_rng_state(seed, word_pos),
            Self::MsResNet(m) => m.set_dropout_rng_state(seed, word_pos),
        }
    }

    /// Saves parameters and buffers under the reference names (atomic).
    pub fn save_safetensors(&self, path: &Path) -> error::Result<()> {
        self.store().save_safetensors(path)
    }

    /// Loads parameters and buffers by the reference names.
    pub fn load_safetensors(&self, path: &Path) -> error::Result<()> {
        self.store().load_safetensors(path)
    }
}
