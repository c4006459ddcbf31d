//! The single entry point for every 2-D convolution of the model.
//!
//! Stride-1 "same" convolutions with an odd square kernel (all convolutions of SMA-VGG8) go to
//! [`snnkit_conv::conv2d_same`], which the conv crate makes fast on the CPU; everything else (the
//! MS-ResNet's stride-2 3×3, 7×7 stride-2 stem and 1×1 stride-2 shortcut convs) to
//! [`snnkit_conv::conv2d_strided`] (im2col + GEMM on the CPU, candle's `conv2d` elsewhere). The bias is added here so the fast kernel only has to do the GEMM part.

use candle_core::{Result, Tensor};

/// `x` `[N, Cin, H, W]` convolved with `w` `[Cout, Cin, kh, kw]`, zero padding `padding`, stride
/// `stride`, plus `bias` `[Cout]` when given.
pub fn conv2d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
    padding: usize,
) -> Result<Tensor> {
    let (_, _, kh, kw) = w.dims4()?;
    let y = if stride == 1 && kh == kw && kh % 2 == 1 && padding == kh / 2 {
        snnkit_conv::conv2d_same(x, w)?
    } else {
        snnkit_conv::conv2d_strided(x, w, stride, padding)?
    };
    match bias {
        Some(b) if y.device().is_cpu() && y.dtype() == candle_core::DType::F32 => {
            y.contiguous()?.apply_op2(
                &b.contiguous()?,
                crate::bias_op::BiasAdd {
                    bwd_part: crate::profile::backward_part("conv_bwd"),
                },
            )
        }
        Some(b) => y.broadcast_add(&b.reshape((1, (), 1, 1))?),
        None => Ok(y),
    }
}
