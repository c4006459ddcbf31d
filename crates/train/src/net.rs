//! Building the network a configuration names for the data at hand: SMA-VGG8 from `[model]` on
//! frame batches `[T, B, 2, H, W]`, or SMA-MS-ResNet from `[resnet]` on image batches
//! `[B, 3, H, W]` (direct encoding: the network repeats each image over its T steps). Both are
//! `snnkit_model::Network`, which gives the losses `[T', B, K]`.

use crate::config::TrainConfig;
use crate::error::{Error, Result};
use candle_core::Device;
use snnkit_model::{Network, NetworkConfig};

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
    /// The shape a network built from `cfg` takes.
    pub fn of_network(cfg: &NetworkConfig) -> Self {
        let (c, h, w) = cfg.input_chw();
        let sample = match cfg {
            NetworkConfig::Vgg8(_) => vec![cfg.time_steps(), c, h, w],
            NetworkConfig::MsResNet(_) => vec![c, h, w],
        };
        Self {
            sample,
            num_classes: cfg.num_classes(),
        }
    }

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

/// The network configuration `cfg` describes for data of `shape` (initialised from `cfg.seed`):
/// `[model]`'s `arch` for frames `[T, C, H, W]`, or an MS-ResNet with `model.time_steps` steps
/// for images `[C, H, W]`.
pub fn network_config(cfg: &TrainConfig, shape: &DataShape) -> Result<NetworkConfig> {
    let k = shape.num_classes;
    match shape.sample.as_slice() {
        &[t, c, h, w] => cfg.model.to_network(t, k, [c, h, w], cfg.seed),
        &[c, h, w] => match cfg
            .model
            .to_network(cfg.model.time_steps, k, [c, h, w], cfg.seed)?
        {
            NetworkConfig::Vgg8(_) => Err(Error::Config {
                origin: "[model] arch".into(),
                message: "images need an MS-ResNet arch (SMA-VGG8 takes event frames)".into(),
            }),
            n => Ok(n),
        },
        s => Err(Error::Config {
            origin: "[model]".into(),
            message: format!("no network takes samples of shape {s:?}"),
        }),
    }
}

/// Builds the network of [`network_config`] on `device`, with the `[model.init]` adjustments
/// (`bn_bias_init`, `head_gain`).
pub fn build_network(cfg: &TrainConfig, shape: &DataShape, device: &Device) -> Result<Network> {
    let net = Network::new(&network_config(cfg, shape)?, device)?;
    cfg.model.init.apply(&net)?;
    Ok(net)
}
