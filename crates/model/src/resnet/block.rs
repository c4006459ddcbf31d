//! `BasicBlock_18` / `BasicBlock_104` of `MS_ResNet.py`, with the optional SMA at index 2 of
//! `residual_function` (`train_amp.py` L313–323).
//!
//! `residual_function` = `[0]` neuron → `[1]` conv3×3(stride) → (`[2]` SMA) → BN(γ 0.5) → neuron →
//! conv3×3 → BN(γ 0); the shortcut is the identity, or conv1×1(stride) + BN (18/34), or
//! AvgPool(1,2,2) + conv1×1 + BN (104), whenever the stride or the width changes.

use candle_core::{Result, Tensor};

use crate::error;
use crate::layers::{avg_pool2x2, BatchNorm};
use crate::lif::FiringRates;
use crate::mem_update::{MemUpdate, MemUpdateConfig};
use crate::resnet::conv::SnnConv2d;
use crate::sma::{Sma, SmaConfig, SmaLayout};
use crate::store::ParamStore;

/// Which block of the authors' file: it decides the shortcut's form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// `BasicBlock_18` (ResNet-18/34): shortcut conv1×1 with the block's stride.
    Basic18,
    /// `BasicBlock_104`: shortcut AvgPool(1,2,2), then conv1×1 with stride 1.
    Basic104,
}

#[derive(Debug, Clone)]
enum Shortcut {
    Identity,
    Projection {
        avg_pool: bool,
        conv: SnnConv2d,
        bn: BatchNorm,
    },
}

/// One residual block.
#[derive(Debug, Clone)]
pub struct BasicBlock {
    lif1: MemUpdate,
    conv1: SnnConv2d,
    sma: Option<Sma>,
    bn1: BatchNorm,
    lif2: MemUpdate,
    conv2: SnnConv2d,
    bn2: BatchNorm,
    shortcut: Shortcut,
}

/// The SMA of a block: its configuration and parameter layout.
#[derive(Debug, Clone)]
pub struct BlockSma {
    /// Hyper-parameters (channels are the block's output width).
    pub cfg: SmaConfig,
    /// Names and T-MSE width.
    pub layout: SmaLayout,
}

impl BasicBlock {
    /// Block `prefix` (e.g. `conv3_x.0`) from `cin` to `cout` channels with `stride`; `sma`
    /// inserts an SMA after the first conv.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: &ParamStore,
        prefix: &str,
        kind: BlockKind,
        cin: usize,
        cout: usize,
        stride: usize,
        sma: Option<&BlockSma>,
        neuron: MemUpdateConfig,
        rates: &FiringRates,
    ) -> error::Result<Self> {
        let rf = format!("{prefix}.residual_function");
        // Module indices after the SMA move up by one, as `Sequential.insert(2, SMA)` does.
        let off = usize::from(sma.is_some());
        let lif1 = MemUpdate::new(neuron, &format!("{rf}.0"), rates.clone());
        let conv1 = SnnConv2d::new(store, &format!("{rf}.1"), cin, cout, 3, stride, 1, false)?;
        let sma = match sma {
            Some(s) => Some(Sma::with_layout(
                store,
                &format!("{rf}.2"),
                &s.cfg,
                rates,
                &s.layout,
            )?),
            None => None,
        };
        let bn1 = BatchNorm::with_weight(store, &format!("{rf}.{}.bn", 2 + off), cout, 0.5)?;
        let lif2 = MemUpdate::new(neuron, &format!("{rf}.{}", 3 + off), rates.clone());
        let conv2 = SnnConv2d::new(
            store,
            &format!("{rf}.{}", 4 + off),
            cout,
            cout,
            3,
            1,
            1,
            false,
        )?;
        let bn2 = BatchNorm::with_weight(store, &format!("{rf}.{}.bn", 5 + off), cout, 0.0)?;
        let shortcut = if stride != 1 || cin != cout {
            let sc = format!("{prefix}.shortcut");
            match kind {
                BlockKind::Basic18 => Shortcut::Projection {
                    avg_pool: false,
                    conv: SnnConv2d::new(
                        store,
                        &format!("{sc}.0"),
                        cin,
                        cout,
                        1,
                        stride,
                        0,
                        false,
                    )?,
                    bn: BatchNorm::with_weight(store, &format!("{sc}.1.bn"), cout, 0.5)?,
                },
                BlockKind::Basic104 => Shortcut::Projection {
                    avg_pool: true,
                    conv: SnnConv2d::new(store, &format!("{sc}.1"), cin, cout, 1, 1, 0, false)?,
                    bn: BatchNorm::with_weight(store, &format!("{sc}.2.bn"), cout, 0.5)?,
                },
            }
        } else {
            Shortcut::Identity
        };
        Ok(Self {
            lif1,
            conv1,
            sma,
            bn1,
            lif2,
            conv2,
            bn2,
            shortcut,
        })
    }

    /// Whether this block holds an SMA.
    pub fn has_sma(&self) -> bool {
        self.sma.is_some()
    }

    /// `x` folded `[T·B, Cin, H, W]` -> `[T·B, Cout, H', W']` (the residual sum, real-valued).
    pub fn forward(&self, x: &Tensor, t: usize, train: bool) -> Result<Tensor> {
        let s = self.lif1.forward_steps(x, t)?;
        let mut y = self.conv1.forward(&s)?;
        if let Some(sma) = &self.sma {
            y = sma.forward_folded(&y, t, train)?.output;
        }
        let y = self.bn1.forward_t(&y, train)?;
        let s = self.lif2.forward_steps(&y, t)?;
        let y = self.conv2.forward(&s)?;
        let y = self.bn2.forward_t(&y, train)?;
        let sc = match &self.shortcut {
            Shortcut::Identity => x.clone(),
            Shortcut::Projection { avg_pool, conv, bn } => {
                let xi = if *avg_pool {
                    avg_pool2x2(x)?
                } else {
                    x.clone()
                };
                bn.forward_t(&conv.forward(&xi)?, train)?
            }
        };
        y + sc
    }
}
