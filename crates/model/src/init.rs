//! Initialisation adjustments applied once to a freshly built network (never to loaded weights):
//! a BatchNorm bias shift and a gain on the head's Linear weights. The network says which
//! layers those are, so callers name no parameters.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::network::Network;

/// Adjustments on top of PyTorch's initialisation (the trainer's `[model.init]` table).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InitOptions {
    /// Initial bias of every BatchNorm layer (`0` = PyTorch's init). A positive shift makes the
    /// LIF after each BN fire from the first step, which a narrow network trained for a few
    /// epochs needs (the parity fixtures re-draw the SMA encoders' BN biases for the same reason).
    pub bn_bias_init: f64,
    /// Factor applied to the head's Linear weights after init (`1` = PyTorch's init); the head
    /// LIFs of a narrow network otherwise start silent. SMA-VGG8's head is `others.2/5/8`, an
    /// MS-ResNet's is `fc`.
    pub head_gain: f64,
}

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            bn_bias_init: 0.0,
            head_gain: 1.0,
        }
    }
}

impl InitOptions {
    /// Applies the adjustments to `net`'s parameters.
    pub fn apply(&self, net: &Network) -> Result<()> {
        // BatchNorm layers are the prefixes that own a running mean.
        let bn: std::collections::HashSet<String> = net
            .named_buffers()
            .into_iter()
            .filter_map(|(n, _)| n.strip_suffix(".running_mean").map(str::to_string))
            .collect();
        let head = net.head_weights();
        for (name, var) in net.named_parameters() {
            if self.bn_bias_init != 0.0 {
                if let Some(prefix) = name.strip_suffix(".bias") {
                    if bn.contains(prefix) {
                        var.set(
                            &var.as_tensor()
                                .ones_like()?
                                .affine(self.bn_bias_init, 0.0)?,
                        )?;
                    }
                }
            }
            if self.head_gain != 1.0 && head.contains(&name) {
                var.set(&var.as_tensor().affine(self.head_gain, 0.0)?)?;
            }
        }
        Ok(())
    }
}
