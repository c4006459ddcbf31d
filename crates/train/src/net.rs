//! The networks the trainer runs, behind one type: SMA-VGG8 on frame batches `[T, B, 2, H, W]`,
//! or SMA-MS-ResNet on image batches `[B, 3, H, W]` (direct encoding: the network repeats each
//! image over its T steps). Both give `[T', B, K]` to the losses: VGG8 its per-step outputs,
//! the ResNet (which averages over T before `fc`) a single step.

use crate::config::TrainConfig;
use crate::error::{Error, Result};
use candle_core::{Device, Tensor, Var};
use snnkit_model::{MsResNet, MsResNetConfig, ParamStore, SmaVgg8, Vgg8Config};
use std::collections::BTreeMap;

/// A trainable network.
pub enum Network {
    /// SMA-VGG8 (the neuromorphic recipes).
    Vgg8(SmaVgg8),
    /// SMA-MS-ResNet-18/34/104 (the ImageNet recipe).
    ResNet(MsResNet),
}

/// What the data gives a network: the sample shape (frames `[T, 2, H, W]` or images `[3, H, W]`)
/// and the class count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataShape {
    /// Shape of one sample as batches carry it.
    pub sample: Vec<usize>,
    /// Number of classes.
    pub num_classes: usize,
}

impl DataShape {
    /// Whether a network built for `self` can take samples of `other`: the same class count and,
    /// for frames, the same `[T, 2, H, W]`; for images the same channel count (the ResNet pools
    /// globally, so evaluation crops may be larger than training crops, e.g. 288 vs 224).
    pub fn accepts(&self, other: &DataShape) -> bool {
        self.num_classes == other.num_classes
            && match (self.sample.as_slice(), other.sample.as_slice()) {
                (&[c, _, _], &[c2, _, _]) => c == c2,
                (a, b) => a == b,
            }
    }
}

impl Network {
    /// Builds the network `cfg` describes for data of `shape` (on `device`, initialised from
    /// `cfg.seed`), with the `[model]` init tweaks for VGG8.
    pub fn build(cfg: &TrainConfig, shape: &DataShape, device: &Device) -> Result<Self> {
        let k = shape.num_classes;
        match (&cfg.resnet, shape.sample.as_slice()) {
            (Some(r), &[c, h, w]) => {
                let rc = MsResNetConfig {
                    num_classes: k,
                    in_channels: c,
                    height: h,
                    width: w,
                    init_seed: cfg.seed,
                    dropout_seed: cfg.seed.wrapping_add(0x9e37_79b9),
                    ..r.clone()
                };
                Ok(Network::ResNet(MsResNet::new(&rc, device)?))
            }
            (None, &[t, _, h, w]) => {
                let vcfg = cfg.model.to_vgg8(t, k, h, w, cfg.seed)?;
                let model = SmaVgg8::new(&vcfg, device)?;
                cfg.model.apply_init(&model)?;
                Ok(Network::Vgg8(model))
            }
            (r, s) => Err(Error::Config {
                origin: "[resnet] / [images]".into(),
                message: format!(
                    "{} cannot take samples of shape {s:?}",
                    if r.is_some() { "MS-ResNet" } else { "SMA-VGG8" }
                ),
            }),
        }
    }

    /// Rebuilds a network from a checkpoint's `model_json` (a `Vgg8Config` or an
    /// `MsResNetConfig`, as [`Network::config_json`] wrote it).
    pub fn from_config_json(json: &str, resnet: bool, device: &Device) -> Result<Self> {
        let bad = |e: serde_json::Error| Error::Other(format!("model config: {e}"));
        Ok(if resnet {
            let c: MsResNetConfig = serde_json::from_str(json).map_err(bad)?;
            Network::ResNet(MsResNet::new(&c, device)?)
        } else {
            let c: Vgg8Config = serde_json::from_str(json).map_err(bad)?;
            Network::Vgg8(SmaVgg8::new(&c, device)?)
        })
    }

    /// The network's configuration as JSON (stored in checkpoints).
    pub fn config_json(&self) -> Result<String> {
        match self {
            Network::Vgg8(m) => serde_json::to_string(m.config()),
            Network::ResNet(m) => serde_json::to_string(m.config()),
        }
        .map_err(|e| Error::Other(e.to_string()))
    }

    /// Output `[T', B, K]` for a batch (`train`: batch statistics, AZO, dropout).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        match self {
            Network::Vgg8(m) => m.forward_t(x, train),
            Network::ResNet(m) => m.forward_t(x, train)?.unsqueeze(0),
        }
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        match self {
            Network::Vgg8(m) => m.config().num_classes,
            Network::ResNet(m) => m.config().num_classes,
        }
    }

    /// The shape of one sample the network takes (frames `[T, C, H, W]`, images `[C, H, W]`).
    pub fn sample_shape(&self) -> Vec<usize> {
        match self {
            Network::Vgg8(m) => {
                let c = m.config();
                vec![c.time_steps, c.in_channels, c.height, c.width]
            }
            Network::ResNet(m) => {
                let c = m.config();
                vec![c.in_channels, c.height, c.width]
            }
        }
    }

    /// Parameters and buffers.
    pub fn store(&self) -> &ParamStore {
        match self {
            Network::Vgg8(m) => m.store(),
            Network::ResNet(m) => m.store(),
        }
    }

    /// Trainable parameters, sorted by name.
    pub fn named_parameters(&self) -> Vec<(String, Var)> {
        match self {
            Network::Vgg8(m) => m.named_parameters(),
            Network::ResNet(m) => m.named_parameters(),
        }
    }

    /// Spike rate per neuron layer of the last forward.
    pub fn firing_rates(&self) -> BTreeMap<String, f64> {
        match self {
            Network::Vgg8(m) => m.firing_rates(),
            Network::ResNet(m) => m.firing_rates(),
        }
    }

    /// Dropout RNG state for checkpoints.
    pub fn dropout_rng_state(&self) -> ([u8; 32], u128) {
        match self {
            Network::Vgg8(m) => m.dropout_rng_state(),
            Network::ResNet(m) => m.dropout_rng_state(),
        }
    }

    /// Restores a dropout RNG state.
    pub fn set_dropout_rng_state(&self, seed: [u8; 32], word_pos: u128) {
        match self {
            Network::Vgg8(m) => m.set_dropout_rng_state(seed, word_pos),
            Network::ResNet(m) => m.set_dropout_rng_state(seed, word_pos),
        }
    }
}
