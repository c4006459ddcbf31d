//! Fused training-mode BatchNorm for the CPU: one pass for the statistics, one for the output, and
//! a two-pass backward, instead of ~10 composed candle ops whose reductions and broadcasts dominated
//! the step time. Sums are accumulated in f64, as PyTorch's CPU kernel does.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::cpu_slice::f32_slice as slice;

/// Per-channel statistics of the last forward (shared between the op's forward and backward).
#[derive(Debug, Default, Clone)]
pub(crate) struct BnSaved {
    /// Batch mean per channel.
    pub mean: Vec<f64>,
    /// Biased batch variance per channel.
    pub var: Vec<f64>,
    /// `1/sqrt(var + eps)` per channel.
    pub invstd: Vec<f64>,
    /// Elements per channel (N·H·W).
    pub count: usize,
}

/// `(n, c, hw)` of an `[N, C, H, W]` layout.
fn nchw(l: &Layout) -> Result<(usize, usize, usize)> {
    match l.dims() {
        [n, c, h, w] => Ok((*n, *c, h * w)),
        d => candle_core::bail!("batchnorm: expected [N, C, H, W], got {d:?}"),
    }
}

/// Sum over the (n, hw) positions of channel `ch` of `f(x)`.
fn channel_sum(n: usize, c: usize, hw: usize, ch: usize, f: impl Fn(usize) -> f64) -> f64 {
    let mut acc = 0f64;
    for ni in 0..n {
        let base = (ni * c + ch) * hw;
        let mut part = 0f64;
        for i in base..base + hw {
            part += f(i);
        }
        acc += part;
    }
    acc
}

/// Forward: `(x, gamma, beta) -> y`, saving the statistics.
pub(crate) struct BnTrainOp {
    pub eps: f64,
    pub saved: Arc<Mutex<BnSaved>>,
}

impl CustomOp3 for BnTrainOp {
    fn name(&self) -> &'static str {
        "snnkit-batchnorm-train"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::scope("batchnorm");
        let x = slice(s1, l1, "batchnorm x")?;
        let gamma = slice(s2, l2, "batchnorm weight")?;
        let beta = slice(s3, l3, "batchnorm bias")?;
        let (n, c, hw) = nchw(l1)?;
        if gamma.len() != c || beta.len() != c {
            candle_core::bail!(
                "batchnorm: {} weights and {} biases for {c} channels",
                gamma.len(),
                beta.len()
            );
        }
        let m = (n * hw).max(1) as f64;
        let stats: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let mean = channel_sum(n, c, hw, ch, |i| x[i] as f64) / m;
                let var = channel_sum(n, c, hw, ch, |i| {
                    let d = x[i] as f64 - mean;
                    d * d
                }) / m;
                (mean, var)
            })
            .collect();
        let invstd: Vec<f64> = stats
            .iter()
            .map(|(_, v)| 1.0 / (v + self.eps).sqrt())
            .collect();
        let alpha: Vec<f32> = (0..c)
            .map(|ch| (invstd[ch] * gamma[ch] as f64) as f32)
            .collect();
        let shift: Vec<f32> = (0..c)
            .map(|ch| (beta[ch] as f64 - stats[ch].0 * alpha[ch] as f64) as f32)
            .collect();
        let mut y = vec![0f32; x.len()];
        y.par_chunks_mut(hw.max(1))
            .enumerate()
            .for_each(|(k, out)| {
                let ch = k % c;
                let xs = &x[k * hw..(k + 1) * hw];
                for (o, &v) in out.iter_mut().zip(xs) {
                    *o = v * alpha[ch] + shift[ch];
                }
            });
        if let Ok(mut s) = self.saved.lock() {
            *s = BnSaved {
                mean: stats.iter().map(|s| s.0).collect(),
                var: stats.iter().map(|s| s.1).collect(),
                invstd,
                count: n * hw,
            };
        }
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        dy: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let saved = self
            .saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("batchnorm state lock poisoned".into()))?
            .clone();
        let sums = Arc::new(Mutex::new((Vec::new(), Vec::new())));
        let op = BnBwdOp {
            saved: saved.clone(),
            gamma: gamma.to_vec1::<f32>()?,
            sums: sums.clone(),
        };
        let dx = x.apply_op2_no_bwd(&dy.contiguous()?, &op)?;
        let (sum_dy, sum_dy_xhat) = sums
            .lock()
            .map_err(|_| candle_core::Error::Msg("batchnorm sums lock poisoned".into()))?
            .clone();
        let c = sum_dy.len();
        let dgamma = Tensor::from_vec(
            sum_dy_xhat.iter().map(|&v| v as f32).collect::<Vec<_>>(),
            c,
            x.device(),
        )?;
        let dbeta = Tensor::from_vec(
            sum_dy.iter().map(|&v| v as f32).collect::<Vec<_>>(),
            c,
            x.device(),
        )?;
        Ok((Some(dx), Some(dgamma), Some(dbeta)))
    }
}

/// Backward: `(x, dy) -> dx`; also leaves `Σ dy` and `Σ dy·x̂` per channel in `sums`.
struct BnBwdOp {
    saved: BnSaved,
    gamma: Vec<f32>,
    sums: Arc<Mutex<(Vec<f64>, Vec<f64>)>>,
}

impl CustomOp2 for BnBwdOp {
    fn name(&self) -> &'static str {
        "snnkit-batchnorm-train-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::scope("batchnorm_bwd");
        let x = slice(s1, l1, "batchnorm-bwd x")?;
        let dy = slice(s2, l2, "batchnorm-bwd dy")?;
        let (n, c, hw) = nchw(l1)?;
        let sv = &self.saved;
        if sv.mean.len() != c || self.gamma.len() != c || dy.len() != x.len() {
            candle_core::bail!("batchnorm backward: saved statistics do not match the input");
        }
        let m = sv.count.max(1) as f64;
        let sums: Vec<(f64, f64)> = (0..c)
            .into_par_iter()
            .map(|ch| {
                let (mean, inv) = (sv.mean[ch], sv.invstd[ch]);
                let sdy = channel_sum(n, c, hw, ch, |i| dy[i] as f64);
                let sdx = channel_sum(n, c, hw, ch, |i| dy[i] as f64 * (x[i] as f64 - mean)) * inv;
                (sdy, sdx)
            })
            .collect();
        // dx = γ·invstd·(dy − Σdy/M − x̂·Σ(dy·x̂)/M)
        let coef: Vec<(f32, f32, f32, f32)> = (0..c)
            .map(|ch| {
                let inv = sv.invstd[ch];
                let k = self.gamma[ch] as f64 * inv;
                let a = sums[ch].0 / m;
                let b = sums[ch].1 / m * inv;
                (k as f32, a as f32, b as f32, sv.mean[ch] as f32)
            })
            .collect();
        let mut dx = vec![0f32; x.len()];
        dx.par_chunks_mut(hw.max(1))
            .enumerate()
            .for_each(|(k, out)| {
                let (kk, a, b, mean) = coef[k % c];
                let (xs, ds) = (&x[k * hw..(k + 1) * hw], &dy[k * hw..(k + 1) * hw]);
                for i in 0..out.len() {
                    out[i] = kk * (ds[i] - a - (xs[i] - mean) * b);
                }
            });
        if let Ok(mut s) = self.sums.lock() {
            *s = (
                sums.iter().map(|v| v.0).collect(),
                sums.iter().map(|v| v.1).collect(),
            );
        }
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}
