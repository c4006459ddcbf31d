//! Fused CPU per-channel bias add on `[N, C, H, W]`: one pass forward, and a backward whose bias
//! gradient is a parallel per-channel sum (candle's generic reduction over dims (0, 2, 3) was a
//! visible share of the step).

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::cpu_slice::f32_slice as slice;

/// `(x [N, C, H, W], b [C]) -> x + b`.
pub(crate) struct BiasAdd {
    /// Profile part the backward is recorded under (the layer's convolution backward).
    pub bwd_part: &'static str,
}

impl CustomOp2 for BiasAdd {
    fn name(&self) -> &'static str {
        "snnkit-bias-add"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = slice(s1, l1, "bias add x")?;
        let b = slice(s2, l2, "bias add b")?;
        let (c, hw) = match l1.dims() {
            [_, c, h, w] => (*c, h * w),
            d => candle_core::bail!("bias add: expected [N, C, H, W], got {d:?}"),
        };
        if b.len() != c {
            candle_core::bail!("bias add: {} biases for {c} channels", b.len());
        }
        let mut y = vec![0f32; x.len()];
        if hw > 0 {
            y.par_chunks_mut(hw).enumerate().for_each(|(k, out)| {
                let bv = b[k % c];
                for (o, &v) in out.iter_mut().zip(&x[k * hw..(k + 1) * hw]) {
                    *o = v + bv;
                }
            });
        }
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let _p = crate::profile::scope(self.bwd_part);
        let db = g.contiguous()?.apply_op1_no_bwd(&ChannelSum)?;
        Ok((Some(g.clone()), Some(db.reshape(b.shape())?)))
    }
}

/// `[N, C, H, W] -> [C]` sums (f64 accumulation).
struct ChannelSum;

impl CustomOp1 for ChannelSum {
    fn name(&self) -> &'static str {
        "snnkit-channel-sum"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let g = slice(s, l, "channel sum")?;
        let (n, c, hw) = match l.dims() {
            [n, c, h, w] => (*n, *c, h * w),
            d => candle_core::bail!("channel sum: expected [N, C, H, W], got {d:?}"),
        };
        let sums: Vec<f32> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let mut acc = 0f64;
                for ni in 0..n {
                    let base = (ni * c + ch) * hw;
                    acc += g[base..base + hw].iter().map(|&v| v as f64).sum::<f64>();
                }
                acc as f32
            })
            .collect();
        Ok((CpuStorage::F32(sums), Shape::from(c)))
    }
}
