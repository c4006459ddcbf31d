//! Fast CPU 2-D convolution for candle, NCHW f32: stride 1 with "same" padding (k // 2)
//! ([`conv2d_same`]), and any kernel, stride and padding ([`conv2d_strided`], im2col + GEMM).
//!
//! [`conv2d_same`] is the entry point the model crate calls. On the CPU with f32 tensors it
//! runs this crate's kernels as a candle custom op with its own backward (input gradient = same
//! convolution of the output gradient with the kernel flipped and the channels swapped; weight
//! gradient = correlation of the input with the output gradient): direct kernels (`direct/`)
//! for AVX-512F or AVX2 + FMA, picked at run time ([`Isa`], `SNNKIT_CONV_ISA` forces one), a
//! tiled implicit GEMM over the `gemm` crate (`kernel.rs`) on any other CPU. Other devices and
//! dtypes fall back to candle's `conv2d` and its autograd. Second derivatives through the fast
//! path are not supported. `docs/conv.md` has the design and the measurements.

#![warn(missing_docs)]

mod direct;
mod isa;
mod kernel;
mod op;
pub mod profile;
mod strided;

pub use isa::{active_isa, supported_isas, with_isa, Isa};

use candle_core::{DType, Device, Result, Tensor, Var};

/// Whether the fast kernel handles these tensors (CPU, both f32). `SNNKIT_CONV_KERNEL=candle`
/// turns it off (candle's convolution everywhere), for before/after comparisons.
fn fast_path(x: &Tensor, w: &Tensor) -> bool {
    static CANDLE_ONLY: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let candle_only = *CANDLE_ONLY
        .get_or_init(|| std::env::var("SNNKIT_CONV_KERNEL").is_ok_and(|v| v == "candle"));
    !candle_only
        && matches!(x.device(), Device::Cpu)
        && x.dtype() == DType::F32
        && w.dtype() == DType::F32
}

/// Kernel size of `w [cout, cin, k, k]`, checked odd and square.
fn kernel_size(w: &Tensor) -> Result<usize> {
    let (_, _, kh, kw) = w.dims4()?;
    if kh != kw || kh % 2 != 1 {
        candle_core::bail!("conv2d_same expects an odd square kernel, got {kh}x{kw}");
    }
    Ok(kh)
}

/// Stride-1 convolution of `x` `[N, Cin, H, W]` with `w` `[Cout, Cin, k, k]` and zero padding
/// `k / 2` (odd `k`); output `[N, Cout, H, W]`. Differentiable with respect to both arguments.
pub fn conv2d_same(x: &Tensor, w: &Tensor) -> Result<Tensor> {
    let k = kernel_size(w)?;
    if fast_path(x, w) {
        // Cheap when already contiguous; BatchNorm's training output is not.
        let op = op::Conv2dSame {
            bwd_part: profile::backward_part("conv_bwd"),
        };
        x.contiguous()?.apply_op2(&w.contiguous()?, op)
    } else {
        x.conv2d(w, k / 2, 1, 1, 1)
    }
}

/// Gradients of [`conv2d_same`] for an output gradient `grad` `[N, Cout, H, W]`:
/// `(grad wrt x, grad wrt w)`. The same computation the autograd backward runs, exposed for
/// benchmarks and for callers that drive the backward pass themselves.
pub fn conv2d_same_backward(x: &Tensor, w: &Tensor, grad: &Tensor) -> Result<(Tensor, Tensor)> {
    let k = kernel_size(w)?;
    if fast_path(x, w) && grad.dtype() == DType::F32 && matches!(grad.device(), Device::Cpu) {
        let (x, w, grad) = (x.contiguous()?, w.contiguous()?, grad.contiguous()?);
        let gx = grad.apply_op2_no_bwd(&w, &op::InputGrad)?;
        let gw = x.apply_op2_no_bwd(&grad, &op::WeightGrad { k })?;
        return Ok((gx, gw));
    }
    // Fallback: candle's autograd on fresh variables.
    let xv = Var::from_tensor(&x.detach())?;
    let wv = Var::from_tensor(&w.detach())?;
    let y = xv.as_tensor().conv2d(wv.as_tensor(), k / 2, 1, 1, 1)?;
    let grads = (y * grad.detach())?.sum_all()?.backward()?;
    let missing = || candle_core::Error::Msg("conv2d_same_backward: no gradient".into());
    let gx = grads.get(xv.as_tensor()).ok_or_else(missing)?.clone();
    let gw = grads.get(wv.as_tensor()).ok_or_else(missing)?.clone();
    Ok((gx, gw))
}

/// Convolution of `x` `[N, Cin, H, W]` with `w` `[Cout, Cin, kh, kw]`, zero padding `padding`
/// and stride `stride` (any kernel size): `[N, Cout, H', W']`, differentiable with respect to
/// both arguments. On the CPU with f32 tensors: im2col + GEMM with its own backward (the
/// MS-ResNet's stride-2 convolutions); elsewhere candle's `conv2d`.
pub fn conv2d_strided(x: &Tensor, w: &Tensor, stride: usize, padding: usize) -> Result<Tensor> {
    if stride == 0 {
        candle_core::bail!("conv2d_strided: stride must be positive");
    }
    if fast_path(x, w) {
        x.contiguous()?.apply_op2(
            &w.contiguous()?,
            strided::Conv2dStrided {
                stride,
                pad: padding,
                bwd_part: profile::backward_part("conv_bwd"),
            },
        )
    } else {
        x.conv2d(w, padding, stride, 1, 1)
    }
}
