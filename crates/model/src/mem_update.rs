//! The MS-ResNet neuron (`mem_update` of the authors' `MS_ResNet.py`), multi-step over T.
//!
//! Per element: `u_0 = x_0`, `u_t = decay·u_{t−1}·(1 − s_{t−1}) + x_t` with the reset factor
//! detached, `s_t = (u_t > v_th)` (strict). Backward: rectangular surrogate
//! `ds/du = 1/(2·lens)` where `|u − v_th| < lens`, 0 elsewhere (with the published `v_th = lens =
//! 0.5` that is 1 on `0 < u < 1`); `gU_t = gS_t·sg(u_t) + gU_{t+1}·decay·(1 − s_t)`, `gX_t = gU_t`.
//!
//! Like the LIF ([`crate::lif`]), the whole sequence is one fused candle custom op on the CPU
//! (parallel over neurons, `u` recomputed in the backward); other devices run the same arithmetic
//! as composed candle ops.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cpu_slice::f32_slice;
use crate::lif::FiringRates;

/// Neuron constants of `MS_ResNet.py` (`thresh`, `decay`, `lens`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemUpdateConfig {
    /// Firing threshold (`thresh = 0.5`); a spike fires at `u > v_th`.
    pub v_th: f32,
    /// Membrane decay (`decay = 0.25`).
    pub decay: f32,
    /// Half-width of the rectangular surrogate (`lens = 0.5`).
    pub lens: f32,
}

impl Default for MemUpdateConfig {
    fn default() -> Self {
        Self {
            v_th: 0.5,
            decay: 0.25,
            lens: 0.5,
        }
    }
}

impl MemUpdateConfig {
    /// Surrogate derivative at membrane value `u` (computed in f32 like the reference).
    #[inline(always)]
    pub fn surrogate(&self, u: f32) -> f32 {
        if (u - self.v_th).abs() < self.lens {
            1.0 / (2.0 * self.lens)
        } else {
            0.0
        }
    }
}

/// Neurons per rayon task.
const CHUNK: usize = 4096;

/// CPU forward over `x` read as `[t, n]`: spikes `[t, n]` and the spike count.
pub fn mem_update_forward_cpu(x: &[f32], t: usize, cfg: &MemUpdateConfig) -> (Vec<f32>, u64) {
    let n = x.len().checked_div(t).unwrap_or(0);
    let mut out = vec![0f32; x.len()];
    if n == 0 {
        return (out, 0);
    }
    // Parallel over neuron chunks; each task writes its own column block of every row.
    let count: u64 = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|ci| {
            let (lo, hi) = (ci * CHUNK, ((ci + 1) * CHUNK).min(n));
            let mut u = vec![0f32; hi - lo];
            let mut s = vec![0f32; hi - lo];
            let mut local = vec![0f32; (hi - lo) * t];
            let mut spikes = 0u64;
            for step in 0..t {
                let xs = &x[step * n + lo..step * n + hi];
                let os = &mut local[step * (hi - lo)..(step + 1) * (hi - lo)];
                for (((o, ui), si), &xi) in os.iter_mut().zip(&mut u).zip(&mut s).zip(xs) {
                    // Same operation order as `mem_old * decay * (1 - spike) + x`.
                    *ui = if step == 0 {
                        xi
                    } else {
                        *ui * cfg.decay * (1.0 - *si) + xi
                    };
                    *si = if *ui > cfg.v_th { 1.0 } else { 0.0 };
                    *o = *si;
                    spikes += (*si != 0.0) as u64;
                }
            }
            (ci, local, spikes)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|(ci, local, spikes)| {
            let lo = ci * CHUNK;
            let w = ((ci + 1) * CHUNK).min(n) - lo;
            for step in 0..t {
                out[step * n + lo..step * n + lo + w]
                    .copy_from_slice(&local[step * w..(step + 1) * w]);
            }
            spikes
        })
        .sum();
    (out, count)
}

/// CPU backward: input `x` and spike gradient `gs` (both `[t, n]`) -> `gx`.
///
/// # Panics
/// If `gs` is shorter than `x` (the op wrapper checks sizes first).
pub fn mem_update_backward_cpu(x: &[f32], gs: &[f32], t: usize, cfg: &MemUpdateConfig) -> Vec<f32> {
    let n = x.len().checked_div(t).unwrap_or(0);
    let mut gx = vec![0f32; x.len()];
    if n == 0 {
        return gx;
    }
    let parts: Vec<(usize, Vec<f32>)> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|ci| {
            let (lo, hi) = (ci * CHUNK, ((ci + 1) * CHUNK).min(n));
            let w = hi - lo;
            // Recompute u over all T for this chunk.
            let mut u = vec![0f32; t * w];
            for step in 0..t {
                for j in 0..w {
                    let xi = x[step * n + lo + j];
                    u[step * w + j] = if step == 0 {
                        xi
                    } else {
                        let prev = u[(step - 1) * w + j];
                        let sp = if prev > cfg.v_th { 1.0 } else { 0.0 };
                        prev * cfg.decay * (1.0 - sp) + xi
                    };
                }
            }
            let mut local = vec![0f32; t * w];
            let mut carry = vec![0f32; w]; // dL/du_{t+1}
            for step in (0..t).rev() {
                for j in 0..w {
                    let ui = u[step * w + j];
                    let keep = if ui > cfg.v_th { 0.0 } else { 1.0 };
                    let gu =
                        gs[step * n + lo + j] * cfg.surrogate(ui) + carry[j] * cfg.decay * keep;
                    local[step * w + j] = gu;
                    carry[j] = gu;
                }
            }
            (ci, local)
        })
        .collect();
    for (ci, local) in parts {
        let lo = ci * CHUNK;
        let w = ((ci + 1) * CHUNK).min(n) - lo;
        for step in 0..t {
            gx[step * n + lo..step * n + lo + w].copy_from_slice(&local[step * w..(step + 1) * w]);
        }
    }
    gx
}

fn check_steps(len: usize, t: usize) -> Result<()> {
    if len.checked_rem(t) != Some(0) {
        candle_core::bail!("mem_update: {len} elements do not split into {t} timesteps");
    }
    Ok(())
}

/// The fused multi-step neuron as a candle custom op; the input is read as `[T, N]` whatever its
/// shape (a folded `[T·B, C, H, W]` works), the output keeps the input's shape.
#[derive(Debug, Clone)]
pub struct MemUpdateOp {
    /// Neuron constants.
    pub cfg: MemUpdateConfig,
    /// Number of timesteps.
    pub t: usize,
    /// Receives the spike count of the forward.
    pub spike_count: Arc<AtomicU64>,
}

impl CustomOp1 for MemUpdateOp {
    fn name(&self) -> &'static str {
        "snnkit-mem-update"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::scope("lif");
        let x = f32_slice(s, l, "mem_update")?;
        check_steps(x.len(), self.t)?;
        let (out, count) = mem_update_forward_cpu(x, self.t, &self.cfg);
        self.spike_count.store(count, Ordering::Relaxed);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let gx = arg.apply_op2_no_bwd(
            &grad.contiguous()?,
            &MemUpdateBwdOp {
                cfg: self.cfg,
                t: self.t,
            },
        )?;
        Ok(Some(gx))
    }
}

struct MemUpdateBwdOp {
    cfg: MemUpdateConfig,
    t: usize,
}

impl CustomOp2 for MemUpdateBwdOp {
    fn name(&self) -> &'static str {
        "snnkit-mem-update-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::scope("lif_bwd");
        let x = f32_slice(s1, l1, "mem_update-bwd x")?;
        let g = f32_slice(s2, l2, "mem_update-bwd grad")?;
        if x.len() != g.len() {
            candle_core::bail!("mem_update-bwd: x and grad sizes differ");
        }
        check_steps(x.len(), self.t)?;
        Ok((
            CpuStorage::F32(mem_update_backward_cpu(x, g, self.t, &self.cfg)),
            l1.shape().clone(),
        ))
    }
}

/// Membrane values and spikes `[T, N]` by composed candle ops, without a graph.
fn composed_u(x: &Tensor, cfg: &MemUpdateConfig) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
    let x = x.detach();
    let t = x.dim(0)?;
    let (mut us, mut ss): (Vec<Tensor>, Vec<Tensor>) = (Vec::new(), Vec::new());
    for step in 0..t {
        let xt = x.get(step)?;
        let u = match (us.last(), ss.last()) {
            (Some(u), Some(s)) => ((u * cfg.decay as f64)? * s.affine(-1.0, 1.0)?)?.add(&xt)?,
            _ => xt,
        };
        let s = u.gt(cfg.v_th as f64)?.to_dtype(x.dtype())?;
        us.push(u);
        ss.push(s);
    }
    Ok((us, ss))
}

/// Attaches the composed backward to spikes computed without a graph (non-CPU devices).
struct MemUpdateAttachOp {
    cfg: MemUpdateConfig,
}

impl CustomOp2 for MemUpdateAttachOp {
    fn name(&self) -> &'static str {
        "snnkit-mem-update-composed"
    }

    fn cpu_fwd(
        &self,
        _s1: &CpuStorage,
        _l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        Ok((s2.try_clone(l2)?, l2.shape().clone()))
    }

    fn cuda_fwd(
        &self,
        _s1: &candle_core::CudaStorage,
        _l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        Ok((s2.try_clone(l2)?, l2.shape().clone()))
    }

    fn bwd(
        &self,
        arg1: &Tensor,
        _arg2: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (us, ss) = composed_u(arg1, &self.cfg)?;
        let t = us.len();
        let scale = 1.0 / (2.0 * self.cfg.lens as f64);
        let mut carry = us[0].zeros_like()?;
        let mut gx = vec![carry.clone(); t];
        for step in (0..t).rev() {
            let u = &us[step];
            // |u − v_th| < lens in f32, as the reference evaluates it (not 0 < u < 1).
            let sg = u
                .affine(1.0, -(self.cfg.v_th as f64))?
                .abs()?
                .lt(self.cfg.lens as f64)?
                .to_dtype(u.dtype())?;
            let keep = ss[step].affine(-1.0, 1.0)?;
            let gu =
                ((grad.get(step)? * (sg * scale)?)? + ((&carry * self.cfg.decay as f64)? * keep)?)?;
            gx[step] = gu.clone();
            carry = gu;
        }
        Ok((Some(Tensor::stack(&gx, 0)?), None))
    }
}

/// Multi-step neuron over `x` read as `[t, N]` in memory order; returns spikes of `x`'s shape and
/// the spike count.
pub fn mem_update_t(x: &Tensor, t: usize, cfg: &MemUpdateConfig) -> Result<(Tensor, u64)> {
    check_steps(x.elem_count(), t)?;
    if x.dtype() != DType::F32 {
        candle_core::bail!("mem_update: expected f32 input, got {:?}", x.dtype());
    }
    let x = x.contiguous()?;
    match x.device() {
        Device::Cpu => {
            let counter = Arc::new(AtomicU64::new(0));
            let s = x.apply_op1(MemUpdateOp {
                cfg: *cfg,
                t,
                spike_count: counter.clone(),
            })?;
            Ok((s, counter.load(Ordering::Relaxed)))
        }
        _ => mem_update_composed(&x, t, cfg),
    }
}

/// The device-agnostic path (composed candle ops, same arithmetic and gradient as
/// [`MemUpdateOp`]); public so the CPU tests can compare both.
pub fn mem_update_composed(x: &Tensor, t: usize, cfg: &MemUpdateConfig) -> Result<(Tensor, u64)> {
    let x2 = x.contiguous()?.reshape((t, ()))?;
    let (_, ss) = composed_u(&x2, cfg)?;
    let s = Tensor::stack(&ss, 0)?.contiguous()?;
    let n = s.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()? as u64;
    let s = x2.apply_op2(&s, MemUpdateAttachOp { cfg: *cfg })?;
    Ok((s.reshape(x.shape())?, n))
}

/// A named `mem_update` layer that records its firing rate after every forward.
#[derive(Debug, Clone)]
pub struct MemUpdate {
    /// Neuron constants.
    pub cfg: MemUpdateConfig,
    name: String,
    rates: FiringRates,
}

impl MemUpdate {
    /// New layer called `name` (the reference module path, e.g. `conv2_x.0.residual_function.0`).
    pub fn new(cfg: MemUpdateConfig, name: &str, rates: FiringRates) -> Self {
        Self {
            cfg,
            name: name.to_string(),
            rates,
        }
    }

    /// Layer name used for its firing rate.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Spikes for `x` read as `[t, N]` (e.g. a folded `[T·B, C, H, W]`); output keeps `x`'s shape.
    pub fn forward_steps(&self, x: &Tensor, t: usize) -> Result<Tensor> {
        let (s, n) = mem_update_t(x, t, &self.cfg)?;
        self.rates
            .record(&self.name, n as f64 / x.elem_count().max(1) as f64);
        Ok(s)
    }
}
