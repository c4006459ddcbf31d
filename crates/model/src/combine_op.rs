//! Fused CPU op for one SMA scale's contribution to the output, AZO included:
//! `out[r] = acc[r] + wab[src[r]] · M[src[r]]` over the `(t, b, c)` rows of a folded
//! `[T·B, C, H, W]` map, where `src` is the AZO row map (identity without AZO; `t−1` for the
//! replaced `(t, c)`). One graph node per scale instead of broadcast-mul, reshapes, index-select
//! and add, each of which costs full-size passes in candle's backward.
//!
//! Rounding matches the reference: each scale's `W·M` is rounded, then added in scale order.

use std::sync::{Arc, Mutex};

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use crate::cpu_slice::f32_slice as slice;

/// The op. `src[r]` is the source row of output row `r`; a source row `q` feeds at most row `q`
/// itself and row `q + step` (the next timestep), with `step = B·C`.
#[derive(Clone)]
pub(crate) struct CombineOp {
    pub src: Arc<Vec<u32>>,
    pub step: usize,
}

impl CombineOp {
    fn check(&self, rows: usize, hw: usize, m: &[f32], wab: &[f32]) -> Result<()> {
        if self.src.len() != rows || wab.len() != rows || m.len() != rows * hw {
            candle_core::bail!("sma combine: inconsistent sizes");
        }
        Ok(())
    }

    fn forward(
        &self,
        m: &[f32],
        wab: &[f32],
        acc: Option<&[f32]>,
        rows: usize,
        hw: usize,
    ) -> Vec<f32> {
        let mut out = vec![0f32; rows * hw];
        if hw == 0 {
            return out;
        }
        out.par_chunks_mut(hw).enumerate().for_each(|(r, o)| {
            let q = self.src[r] as usize;
            let w = wab[q];
            let ms = &m[q * hw..(q + 1) * hw];
            match acc {
                Some(a) => {
                    let a = &a[r * hw..(r + 1) * hw];
                    for ((o, &mv), &av) in o.iter_mut().zip(ms).zip(a) {
                        *o = av + w * mv;
                    }
                }
                None => {
                    for (o, &mv) in o.iter_mut().zip(ms) {
                        *o = w * mv;
                    }
                }
            }
        });
        out
    }

    /// Gradients for `M` and `wab` (the latter returned through `dwab`).
    fn backward(&self, m: &Tensor, wab: &Tensor, g: &Tensor) -> Result<(Tensor, Tensor)> {
        let dwab = Arc::new(Mutex::new(Vec::new()));
        let op = CombineBwd {
            op: self.clone(),
            wab: wab.flatten_all()?.to_vec1::<f32>()?,
            dwab: dwab.clone(),
        };
        let dm = m.apply_op2_no_bwd(&g.contiguous()?, &op)?;
        let dw = dwab
            .lock()
            .map_err(|_| candle_core::Error::Msg("combine lock poisoned".into()))?
            .clone();
        let dw = Tensor::from_vec(dw, wab.shape(), wab.device())?;
        Ok((dm, dw))
    }
}

/// `(m, wab) -> W·M` for the first scale.
pub(crate) struct CombineFirst(pub CombineOp);

impl CustomOp2 for CombineFirst {
    fn name(&self) -> &'static str {
        "snnkit-sma-combine"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let m = slice(s1, l1, "sma combine m")?;
        let wab = slice(s2, l2, "sma combine wab")?;
        let rows = wab.len();
        let hw = m.len() / rows.max(1);
        self.0.check(rows, hw, m, wab)?;
        Ok((
            CpuStorage::F32(self.0.forward(m, wab, None, rows, hw)),
            l1.shape().clone(),
        ))
    }

    fn bwd(
        &self,
        m: &Tensor,
        wab: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let _p = crate::profile::scope("sma_combine_bwd");
        let (dm, dw) = self.0.backward(m, wab, g)?;
        Ok((Some(dm), Some(dw)))
    }
}

/// `(m, wab, acc) -> acc + W·M` for the following scales.
pub(crate) struct CombineAcc(pub CombineOp);

impl CustomOp3 for CombineAcc {
    fn name(&self) -> &'static str {
        "snnkit-sma-combine-acc"
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
        let m = slice(s1, l1, "sma combine m")?;
        let wab = slice(s2, l2, "sma combine wab")?;
        let acc = slice(s3, l3, "sma combine acc")?;
        let rows = wab.len();
        let hw = m.len() / rows.max(1);
        self.0.check(rows, hw, m, wab)?;
        if acc.len() != m.len() {
            candle_core::bail!("sma combine: accumulator size mismatch");
        }
        Ok((
            CpuStorage::F32(self.0.forward(m, wab, Some(acc), rows, hw)),
            l1.shape().clone(),
        ))
    }

    fn bwd(
        &self,
        m: &Tensor,
        wab: &Tensor,
        _acc: &Tensor,
        _res: &Tensor,
        g: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let _p = crate::profile::scope("sma_combine_bwd");
        let (dm, dw) = self.0.backward(m, wab, g)?;
        Ok((Some(dm), Some(dw), Some(g.clone())))
    }
}

/// Backward: `(m, g) -> dM`, with `dwab` left in the shared vector.
struct CombineBwd {
    op: CombineOp,
    wab: Vec<f32>,
    dwab: Arc<Mutex<Vec<f32>>>,
}

impl CustomOp2 for CombineBwd {
    fn name(&self) -> &'static str {
        "snnkit-sma-combine-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let m = slice(s1, l1, "sma combine bwd m")?;
        let g = slice(s2, l2, "sma combine bwd g")?;
        let rows = self.wab.len();
        let hw = m.len() / rows.max(1);
        self.op.check(rows, hw, m, &self.wab)?;
        if g.len() != m.len() {
            candle_core::bail!("sma combine bwd: gradient size mismatch");
        }
        let (src, step) = (&self.op.src, self.op.step);
        let mut dm = vec![0f32; m.len()];
        let mut dw = vec![0f32; rows];
        if hw > 0 {
            dm.par_chunks_mut(hw)
                .zip(dw.par_iter_mut())
                .enumerate()
                .for_each(|(q, (d, dwq))| {
                    // Output rows reading source row q: q itself (unless overwritten) and q + step
                    // (when that row was replaced by its previous timestep).
                    let own = src[q] as usize == q;
                    let next = q + step < rows && src[q + step] as usize == q;
                    let ms = &m[q * hw..(q + 1) * hw];
                    let w = self.wab[q];
                    let mut acc = 0f64;
                    let gq = &g[q * hw..(q + 1) * hw];
                    let gn = if next {
                        &g[(q + step) * hw..(q + step + 1) * hw]
                    } else {
                        gq
                    };
                    for i in 0..hw {
                        let gi = match (own, next) {
                            (true, true) => gq[i] + gn[i],
                            (true, false) => gq[i],
                            (false, true) => gn[i],
                            (false, false) => 0.0,
                        };
                        d[i] = w * gi;
                        acc += (gi * ms[i]) as f64;
                    }
                    *dwq = acc as f32;
                });
        }
        if let Ok(mut s) = self.dwab.lock() {
            *s = dw;
        }
        Ok((CpuStorage::F32(dm), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azo::{azo_replace_folded, azo_source_rows};
    use candle_core::{Device, Var};

    /// Fused op against the composed path (broadcast-mul, AZO index-select, add), forward and
    /// backward, with a chain pair (t = 1 and 2 both selected) and t = 0 selected.
    #[test]
    fn fused_combine_matches_composed() {
        let (t, b, c, h, w) = (4, 2, 3, 2, 3);
        let dev = Device::Cpu;
        let m: Vec<Var> = (0..2)
            .map(|_| {
                Var::from_tensor(&Tensor::randn(0f32, 1.0, (t * b, c, h, w), &dev).unwrap())
                    .unwrap()
            })
            .collect();
        let wab: Vec<Var> = (0..2)
            .map(|_| Var::from_tensor(&Tensor::rand(0f32, 1.0, (t * b, c), &dev).unwrap()).unwrap())
            .collect();
        let sels = [(vec![0usize, 1, 2], vec![1usize, 2]), (vec![3], vec![0])];
        let g = Tensor::randn(0f32, 1.0, (t * b, c, h, w), &dev).unwrap();
        // Fused.
        let mut out: Option<Tensor> = None;
        for s in 0..2 {
            let op = CombineOp {
                src: Arc::new(azo_source_rows(t, b, c, &sels[s].0, &sels[s].1)),
                step: b * c,
            };
            out = Some(match out {
                None => m[s]
                    .as_tensor()
                    .apply_op2(wab[s].as_tensor(), CombineFirst(op))
                    .unwrap(),
                Some(o) => m[s]
                    .as_tensor()
                    .apply_op3(wab[s].as_tensor(), &o, CombineAcc(op))
                    .unwrap(),
            });
        }
        let fused = out.unwrap();
        // Composed.
        let mut comp: Option<Tensor> = None;
        for s in 0..2 {
            let z = wab[s]
                .as_tensor()
                .reshape((t * b, c, 1, 1))
                .unwrap()
                .broadcast_mul(m[s].as_tensor())
                .unwrap();
            let z = azo_replace_folded(&z, t, &sels[s].0, &sels[s].1).unwrap();
            comp = Some(match comp {
                None => z,
                Some(o) => (o + z).unwrap(),
            });
        }
        let comp = comp.unwrap();
        let v = |x: &Tensor| x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(v(&fused), v(&comp));
        let g1 = fused
            .mul(&g)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g2 = comp.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
        for var in m.iter().chain(&wab) {
            let (a, b) = (
                v(g1.get(var.as_tensor()).unwrap()),
                v(g2.get(var.as_tensor()).unwrap()),
            );
            let err = a
                .iter()
                .zip(&b)
                .fold(0f32, |e, (p, q)| e.max((p - q).abs()));
            assert!(a.iter().all(|x| x.is_finite()), "non-finite gradient");
            assert!(err < 1e-5, "gradient differs by {err}");
        }
    }
}
