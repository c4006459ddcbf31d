//! Fused CPU 2×2 max-pooling (stride 2, floor mode) with PyTorch's backward: the gradient of each
//! window goes to its first maximum in row-major order. One pass each way instead of the ~20
//! composed ops (and their graph nodes) of the device-agnostic version.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::cpu_slice::f32_slice as slice;

fn dims(l: &Layout) -> Result<(usize, usize, usize, usize)> {
    match l.dims() {
        [n, c, h, w] => Ok((*n, *c, *h, *w)),
        d => candle_core::bail!("max_pool2x2: expected [N, C, H, W], got {d:?}"),
    }
}

/// Index (within the plane) of the first maximum of the window at output `(i, j)`.
#[inline(always)]
fn argmax(p: &[f32], w: usize, i: usize, j: usize) -> usize {
    let base = 2 * i * w + 2 * j;
    let mut best = base;
    for k in [base + 1, base + w, base + w + 1] {
        // `>` keeps the first of equal values; NaN wins like PyTorch's `isnan` rule.
        if p[k] > p[best] || p[k].is_nan() {
            best = k;
        }
    }
    best
}

/// Forward op.
pub(crate) struct MaxPool2x2;

impl CustomOp1 for MaxPool2x2 {
    fn name(&self) -> &'static str {
        "snnkit-maxpool2x2"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::scope("pool");
        let x = slice(s, l, "max_pool2x2")?;
        let (n, c, h, w) = dims(l)?;
        let (ho, wo) = (h / 2, w / 2);
        let mut y = vec![0f32; n * c * ho * wo];
        if ho * wo > 0 {
            y.par_chunks_mut(ho * wo).enumerate().for_each(|(k, out)| {
                let p = &x[k * h * w..(k + 1) * h * w];
                for i in 0..ho {
                    for j in 0..wo {
                        out[i * wo + j] = p[argmax(p, w, i, j)];
                    }
                }
            });
        }
        Ok((CpuStorage::F32(y), Shape::from((n, c, ho, wo))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(
            arg.apply_op2_no_bwd(&grad.contiguous()?, &MaxPool2x2Bwd)?,
        ))
    }
}

/// Backward op: `(x, dy) -> dx`.
struct MaxPool2x2Bwd;

impl CustomOp2 for MaxPool2x2Bwd {
    fn name(&self) -> &'static str {
        "snnkit-maxpool2x2-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::scope("pool_bwd");
        let x = slice(s1, l1, "max_pool2x2 bwd x")?;
        let dy = slice(s2, l2, "max_pool2x2 bwd dy")?;
        let (n, c, h, w) = dims(l1)?;
        let (ho, wo) = (h / 2, w / 2);
        if dy.len() != n * c * ho * wo {
            candle_core::bail!("max_pool2x2 bwd: gradient size mismatch");
        }
        let mut dx = vec![0f32; x.len()];
        if h * w > 0 {
            dx.par_chunks_mut(h * w).enumerate().for_each(|(k, out)| {
                let p = &x[k * h * w..(k + 1) * h * w];
                let g = &dy[k * ho * wo..(k + 1) * ho * wo];
                for i in 0..ho {
                    for j in 0..wo {
                        out[argmax(p, w, i, j)] += g[i * wo + j];
                    }
                }
            });
        }
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}
