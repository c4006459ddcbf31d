//! `Snn_Conv2d` of `MS_ResNet.py`: a 2-D convolution applied to every timestep (here to the folded
//! `[T·B, C, H, W]` tensor, which is the same computation), optional bias.

use candle_core::{Result, Tensor, Var};

use crate::error;
use crate::store::ParamStore;

/// A convolution with PyTorch's default init, weight `<prefix>.weight` `[Cout, Cin, k, k]` and,
/// when `bias`, `<prefix>.bias` `[Cout]`.
#[derive(Debug, Clone)]
pub struct SnnConv2d {
    /// Kernel.
    pub weight: Var,
    /// Bias (the backbone convs have none; the ResNet-104 stem convs do).
    pub bias: Option<Var>,
    /// Stride.
    pub stride: usize,
    /// Zero padding on each side.
    pub padding: usize,
}

impl SnnConv2d {
    /// New conv `cin → cout`, kernel `k`, drawn `U(±1/sqrt(cin·k·k))` (PyTorch's default).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: &ParamStore,
        prefix: &str,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        padding: usize,
        bias: bool,
    ) -> error::Result<Self> {
        let bound = 1.0 / ((cin * k * k) as f64).sqrt();
        let weight = store.param_uniform(&format!("{prefix}.weight"), (cout, cin, k, k), bound)?;
        let bias = if bias {
            Some(store.param_uniform(&format!("{prefix}.bias"), cout, bound)?)
        } else {
            None
        };
        Ok(Self {
            weight,
            bias,
            stride,
            padding,
        })
    }

    /// `x` `[N, Cin, H, W]` -> `[N, Cout, H', W']` through the crate's single convolution entry
    /// point ([`crate::conv::conv2d`]).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let _p = crate::profile::scope("conv");
        crate::conv::conv2d(
            x,
            self.weight.as_tensor(),
            self.bias.as_ref().map(|b| b.as_tensor()),
            self.stride,
            self.padding,
        )
    }
}
