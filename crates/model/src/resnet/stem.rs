//! `conv1` of `MS_ResNet.py`: 7×7 stride-2 conv + tdBN (ResNet-18/34), or three 3×3 convs with
//! bias (the first with stride 2, no neuron between them) + tdBN (ResNet-104). No max-pool: the
//! authors define `self.pool` but never call it.

use candle_core::{Result, Tensor};

use crate::error;
use crate::layers::BatchNorm;
use crate::resnet::conv::SnnConv2d;
use crate::resnet::MsResNetArch;
use crate::store::ParamStore;

/// The stem.
#[derive(Debug, Clone)]
pub struct Stem {
    convs: Vec<SnnConv2d>,
    bn: BatchNorm,
    names: Vec<String>,
}

impl Stem {
    /// Stem of `arch` from `cin` image channels to `width` (parameters under `conv1.`).
    pub fn new(
        store: &ParamStore,
        arch: MsResNetArch,
        cin: usize,
        width: usize,
    ) -> error::Result<Self> {
        let (convs, bn_name) = match arch {
            MsResNetArch::ResNet104 => (
                vec![
                    SnnConv2d::new(store, "conv1.0", cin, width, 3, 2, 1, true)?,
                    SnnConv2d::new(store, "conv1.1", width, width, 3, 1, 1, true)?,
                    SnnConv2d::new(store, "conv1.2", width, width, 3, 1, 1, true)?,
                ],
                "conv1.3.bn",
            ),
            _ => (
                vec![SnnConv2d::new(
                    store, "conv1.0", cin, width, 7, 2, 3, false,
                )?],
                "conv1.1.bn",
            ),
        };
        let names = (0..convs.len()).map(|i| format!("conv1.{i}")).collect();
        let bn = BatchNorm::with_weight(store, bn_name, width, 0.5)?;
        Ok(Self { convs, bn, names })
    }

    /// `x` folded `[T·B, C, H, W]` -> `[T·B, width, H/2, W/2]`.
    pub fn forward(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let mut y = x.clone();
        for c in &self.convs {
            y = c.forward(&y)?;
        }
        self.bn.forward_t(&y, train)
    }

    /// The bias of the conv right before the BN (its gradient is analytically zero in training).
    pub(crate) fn bias_before_bn(&self) -> Vec<String> {
        match (self.convs.last(), self.names.last()) {
            (Some(c), Some(n)) if c.bias.is_some() => vec![format!("{n}.bias")],
            _ => vec![],
        }
    }
}
