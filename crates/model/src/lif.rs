//! Multi-step leaky integrate-and-fire neuron (spikingjelly 0.0.0.0.14 `LIFNode`, step mode `m`).
//!
//! Dynamics per timestep, elementwise, starting from `V = v_reset`:
//! `H_t = V_{t-1} + (X_t - (V_{t-1} - v_reset)) / tau` (decay_input), `S_t = (H_t >= v_th)`,
//! `V_t = H_t (1 - S_t) + v_reset S_t` (hard reset, reset detached).
//! Backward (BPTT) uses the ATan surrogate `sg(x) = alpha/2 / (1 + (pi/2 alpha x)^2)` at `x = H - v_th`:
//! `gH_t = gS_t sg + gV_t (1 - S_t)`, `gX_t = gH_t / tau`, `gV_{t-1} = gH_t (1 - 1/tau)`.
//!
//! On the CPU the whole sequence is ONE fused candle custom op ([`LifOp`]) parallel over neurons;
//! the backward recomputes `H` from the input (cheaper than keeping a `[T, N]` buffer alive).
//! On other devices the same arithmetic runs as composed candle ops (forward without a graph, then a
//! custom op whose forward copies the spikes and whose backward is composed too), so CUDA works
//! today and a CUDA kernel can later be plugged into [`LifOp::cuda_fwd`] without touching callers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::cpu_slice::f32_slice;

/// LIF hyper-parameters. `Default` = the reference's `LIFNode(tau=2, v_threshold=1, v_reset=0,
/// detach_reset=True, surrogate=ATan(alpha=2))`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LifConfig {
    /// Membrane time constant (decay_input form).
    pub tau: f32,
    /// Firing threshold; a spike fires at `H >= v_th`.
    pub v_th: f32,
    /// Hard-reset potential (also the initial membrane potential).
    pub v_reset: f32,
    /// ATan surrogate sharpness.
    pub alpha: f32,
}

impl Default for LifConfig {
    fn default() -> Self {
        Self {
            tau: 2.0,
            v_th: 1.0,
            v_reset: 0.0,
            alpha: 2.0,
        }
    }
}

impl LifConfig {
    /// ATan surrogate derivative at membrane value `h`.
    #[inline(always)]
    pub fn surrogate(&self, h: f32) -> f32 {
        let z = std::f32::consts::FRAC_PI_2 * self.alpha * (h - self.v_th);
        self.alpha / 2.0 / (1.0 + z * z)
    }

    /// One charge step (same operation order as spikingjelly's `v + (x - (v - v_reset)) / tau`).
    #[inline(always)]
    fn charge(&self, v: f32, x: f32) -> f32 {
        if self.v_reset == 0.0 {
            v + (x - v) / self.tau
        } else {
            v + (x - (v - self.v_reset)) / self.tau
        }
    }
}

/// Shared firing-rate recorder: layer name -> spike rate of the last forward. When asked
/// ([`FiringRates::keep_tensors`]) it also keeps the spike maps and SMA scale weights of the next
/// forwards, for analysis (`SmaVgg8::forward_recorded`).
#[derive(Debug, Clone, Default)]
pub struct FiringRates {
    inner: Arc<Mutex<BTreeMap<String, f64>>>,
    kept: Arc<Mutex<Option<Kept>>>,
}

/// Tensors kept while [`FiringRates::keep_tensors`] is on.
#[derive(Debug, Clone, Default)]
pub struct Kept {
    /// Spikes per LIF layer as the layer saw them (`[T·B, ...]` folded, detached).
    pub spikes: BTreeMap<String, Tensor>,
    /// SMA module name -> (`W_α [N,T,B]`, `W_β [N,T,B,C]`), detached.
    pub scale_weights: BTreeMap<String, (Tensor, Tensor)>,
}

impl FiringRates {
    /// Empty recorder.
    pub fn new() -> Self {
        Self::default()
    }
    /// Record `rate` for layer `name` (replaces the previous value).
    pub fn record(&self, name: &str, rate: f64) {
        if let Ok(mut m) = self.inner.lock() {
            m.insert(name.to_string(), rate);
        }
    }
    /// Snapshot of all recorded rates, sorted by name.
    pub fn snapshot(&self) -> BTreeMap<String, f64> {
        self.inner.lock().map(|m| m.clone()).unwrap_or_default()
    }
    /// Forget all recorded rates.
    pub fn clear(&self) {
        if let Ok(mut m) = self.inner.lock() {
            m.clear();
        }
    }
    /// Starts (`true`, with nothing kept yet) or stops keeping spike maps and scale weights.
    pub fn keep_tensors(&self, on: bool) {
        if let Ok(mut k) = self.kept.lock() {
            *k = on.then(Kept::default);
        }
    }
    /// What was kept since [`FiringRates::keep_tensors`]`(true)` (left empty for the next forward).
    pub fn take_kept(&self) -> Kept {
        self.kept
            .lock()
            .ok()
            .and_then(|mut k| k.as_mut().map(std::mem::take))
            .unwrap_or_default()
    }
    /// Keeps `spikes` of layer `name` when keeping is on.
    pub fn keep_spikes(&self, name: &str, spikes: &Tensor) {
        if let Ok(mut k) = self.kept.lock() {
            if let Some(k) = k.as_mut() {
                k.spikes.insert(name.to_string(), spikes.detach());
            }
        }
    }
    /// Keeps the scale weights of SMA module `name` when keeping is on.
    pub fn keep_scale_weights(&self, name: &str, w_alpha: &Tensor, w_beta: &Tensor) {
        if let Ok(mut k) = self.kept.lock() {
            if let Some(k) = k.as_mut() {
                k.scale_weights
                    .insert(name.to_string(), (w_alpha.detach(), w_beta.detach()));
            }
        }
    }
}

/// Neurons per rayon task: large enough to amortise scheduling, small enough that the per-task
/// `H` buffer of the backward (`T * CHUNK` floats) stays in L2.
const CHUNK: usize = 2048;

/// Splits a `[T, N]` buffer into per-neuron-chunk lists of `T` row pieces, so each rayon task owns
/// the whole time series of its neurons (safe disjoint mutable borrows, no unsafe).
fn split_rows(buf: &mut [f32], n: usize) -> Vec<Vec<&mut [f32]>> {
    let n_chunks = n.div_ceil(CHUNK).max(1);
    let t = buf.len().checked_div(n).unwrap_or(0);
    let mut per_chunk: Vec<Vec<&mut [f32]>> =
        (0..n_chunks).map(|_| Vec::with_capacity(t)).collect();
    if n == 0 {
        return per_chunk;
    }
    for row in buf.chunks_mut(n) {
        for (ci, piece) in row.chunks_mut(CHUNK).enumerate() {
            per_chunk[ci].push(piece);
        }
    }
    per_chunk
}

/// CPU forward over `x` `[T, N]` (contiguous): returns spikes `[T, N]` and the spike count.
pub fn lif_forward_cpu(x: &[f32], t: usize, cfg: &LifConfig) -> (Vec<f32>, u64) {
    let n = x.len().checked_div(t).unwrap_or(0);
    let mut out = vec![0f32; x.len()];
    let count = AtomicU64::new(0);
    split_rows(&mut out, n)
        .into_par_iter()
        .enumerate()
        .for_each(|(ci, rows)| {
            let base = ci * CHUNK;
            let mut v: Vec<f32> = Vec::new();
            let mut spikes = 0u64;
            for (step, o) in rows.into_iter().enumerate() {
                let len = o.len();
                if v.is_empty() {
                    v = vec![cfg.v_reset; len];
                }
                let xs = &x[step * n + base..step * n + base + len];
                // Zipped iterators: no bounds checks, so the loop vectorises.
                for ((o, vi), &xi) in o.iter_mut().zip(v.iter_mut()).zip(xs) {
                    let h = cfg.charge(*vi, xi);
                    let s = h >= cfg.v_th;
                    *o = if s { 1.0 } else { 0.0 };
                    spikes += s as u64;
                    *vi = if s { cfg.v_reset } else { h };
                }
            }
            count.fetch_add(spikes, Ordering::Relaxed);
        });
    (out, count.into_inner())
}

/// CPU backward: given the input `x` `[T, N]` and the spike gradient `gs` `[T, N]`, returns `gx`.
///
/// # Panics
/// If `gs` is shorter than `x` (the op wrapper [`LifOp`] checks sizes and returns an error).
pub fn lif_backward_cpu(x: &[f32], gs: &[f32], t: usize, cfg: &LifConfig) -> Vec<f32> {
    let n = x.len().checked_div(t).unwrap_or(0);
    let mut gx = vec![0f32; x.len()];
    let decay = 1.0 - 1.0 / cfg.tau;
    split_rows(&mut gx, n)
        .into_par_iter()
        .enumerate()
        .for_each(|(ci, mut rows)| {
            let base = ci * CHUNK;
            let len = rows.first().map(|r| r.len()).unwrap_or(0);
            // Recompute H for this chunk's neurons over all T.
            let mut h = vec![0f32; t * len];
            let mut v = vec![cfg.v_reset; len];
            for step in 0..t {
                let xs = &x[step * n + base..step * n + base + len];
                let hs = &mut h[step * len..(step + 1) * len];
                for ((hs, vi), &xi) in hs.iter_mut().zip(v.iter_mut()).zip(xs) {
                    let hv = cfg.charge(*vi, xi);
                    *hs = hv;
                    *vi = if hv >= cfg.v_th { cfg.v_reset } else { hv };
                }
            }
            // Reverse-time BPTT; `v` now carries dL/dV_t.
            v.iter_mut().for_each(|g| *g = 0.0);
            for step in (0..t).rev() {
                let hs = &h[step * len..(step + 1) * len];
                let gss = &gs[step * n + base..step * n + base + len];
                let out = &mut rows[step];
                for (((o, gv), &hv), &g) in out.iter_mut().zip(v.iter_mut()).zip(hs).zip(gss) {
                    let keep = if hv >= cfg.v_th { 0.0 } else { 1.0 };
                    let gh = g * cfg.surrogate(hv) + *gv * keep;
                    *o = gh / cfg.tau;
                    *gv = gh * decay;
                }
            }
        });
    gx
}

/// The fused multi-step LIF as a candle custom op: the input's elements are read as `[T, N]`
/// (time-major), whatever its shape, and the output keeps the input's shape. That lets callers
/// pass a folded `[T·B, C, H, W]` tensor without reshape nodes (each costs two full passes in
/// candle's backward).
#[derive(Debug, Clone)]
pub struct LifOp {
    /// Neuron parameters.
    pub cfg: LifConfig,
    /// Number of timesteps T (the leading factor of the element count).
    pub t: usize,
    /// Receives the number of spikes emitted by the forward (for firing rates).
    pub spike_count: Arc<AtomicU64>,
}

impl CustomOp1 for LifOp {
    fn name(&self) -> &'static str {
        "snnkit-lif"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::scope("lif");
        let x = f32_slice(s, l, "lif")?;
        check_steps(x.len(), self.t)?;
        let (out, count) = lif_forward_cpu(x, self.t, &self.cfg);
        self.spike_count.store(count, Ordering::Relaxed);
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let grad = grad.contiguous()?;
        let gx = arg.apply_op2_no_bwd(
            &grad,
            &LifBwdOp {
                cfg: self.cfg,
                t: self.t,
            },
        )?;
        Ok(Some(gx))
    }
}

/// Backward of [`LifOp`] on the CPU: `(x, dL/dS) -> dL/dX`.
struct LifBwdOp {
    cfg: LifConfig,
    t: usize,
}

impl CustomOp2 for LifBwdOp {
    fn name(&self) -> &'static str {
        "snnkit-lif-bwd"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let _p = crate::profile::scope("lif_bwd");
        let x = f32_slice(s1, l1, "lif-bwd x")?;
        let g = f32_slice(s2, l2, "lif-bwd grad")?;
        if x.len() != g.len() {
            candle_core::bail!("lif-bwd: x and grad sizes differ");
        }
        check_steps(x.len(), self.t)?;
        Ok((
            CpuStorage::F32(lif_backward_cpu(x, g, self.t, &self.cfg)),
            l1.shape().clone(),
        ))
    }
}

/// Device-agnostic path: attaches the composed LIF backward to spikes computed without a graph.
/// Its forward returns a copy of `spikes` on any backend (so CUDA works without a kernel).
struct LifAttachOp {
    cfg: LifConfig,
}

impl CustomOp2 for LifAttachOp {
    fn name(&self) -> &'static str {
        "snnkit-lif-composed"
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

    fn metal_fwd(
        &self,
        _s1: &candle_core::MetalStorage,
        _l1: &Layout,
        s2: &candle_core::MetalStorage,
        l2: &Layout,
    ) -> Result<(candle_core::MetalStorage, Shape)> {
        Ok((s2.try_clone(l2)?, l2.shape().clone()))
    }

    fn bwd(
        &self,
        arg1: &Tensor,
        _arg2: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(lif_backward_composed(arg1, grad, &self.cfg)?), None))
    }
}

/// Membrane values `H` `[T, ...]` and spikes by composed candle ops (no graph).
fn lif_h_composed(x: &Tensor, cfg: &LifConfig) -> Result<(Vec<Tensor>, Vec<Tensor>)> {
    let x = x.detach();
    let t = x.dim(0)?;
    let mut v = x.get(0)?.zeros_like()?.affine(1.0, cfg.v_reset as f64)?;
    let (mut hs, mut ss) = (Vec::with_capacity(t), Vec::with_capacity(t));
    for step in 0..t {
        let xt = x.get(step)?;
        let h = (&v + ((xt - v.affine(1.0, -(cfg.v_reset as f64))?)? / cfg.tau as f64)?)?;
        let s = h.ge(cfg.v_th as f64)?.to_dtype(x.dtype())?;
        let keep = s.affine(-1.0, 1.0)?;
        v = ((&h * &keep)? + s.affine(cfg.v_reset as f64, 0.0)?)?;
        hs.push(h);
        ss.push(s);
    }
    Ok((hs, ss))
}

/// Composed BPTT backward (any device).
fn lif_backward_composed(x: &Tensor, grad: &Tensor, cfg: &LifConfig) -> Result<Tensor> {
    let (hs, ss) = lif_h_composed(x, cfg)?;
    let t = hs.len();
    let k = std::f64::consts::FRAC_PI_2 * cfg.alpha as f64;
    let mut gv = hs[0].zeros_like()?;
    let mut gx = vec![gv.clone(); t];
    for step in (0..t).rev() {
        let z = hs[step].affine(k, -k * cfg.v_th as f64)?;
        let sg = (z.sqr()?.affine(1.0, 1.0)?.recip()? * (cfg.alpha as f64 / 2.0))?;
        let keep = ss[step].affine(-1.0, 1.0)?;
        let gh = ((grad.get(step)? * sg)? + (&gv * keep)?)?;
        gx[step] = (&gh / cfg.tau as f64)?;
        gv = (gh * (1.0 - 1.0 / cfg.tau as f64))?;
    }
    Tensor::stack(&gx, 0)
}

/// Errors unless `len` elements split into `t` (non-zero) timesteps of equal size.
fn check_steps(len: usize, t: usize) -> Result<()> {
    if len.checked_rem(t) != Some(0) {
        candle_core::bail!("lif: {len} elements do not split into {t} timesteps");
    }
    Ok(())
}

/// Multi-step LIF over `x` `[T, ...]` (f32): returns spikes of the same shape and the number of
/// spikes. CPU: fused custom op; other devices: composed ops with the same arithmetic.
pub fn lif_multistep(x: &Tensor, cfg: &LifConfig) -> Result<(Tensor, u64)> {
    lif_multistep_t(x, x.dims().first().copied().unwrap_or(1), cfg)
}

/// Multi-step LIF over `x` read as `[t, N]` in memory order (any shape whose element count is a
/// multiple of `t`, e.g. a folded `[T·B, C, H, W]`); the output has `x`'s shape.
pub fn lif_multistep_t(x: &Tensor, t: usize, cfg: &LifConfig) -> Result<(Tensor, u64)> {
    check_steps(x.elem_count(), t)?;
    if x.dtype() != DType::F32 {
        candle_core::bail!("lif: expected f32 input, got {:?}", x.dtype());
    }
    let x = x.contiguous()?;
    match x.device() {
        Device::Cpu => {
            let counter = Arc::new(AtomicU64::new(0));
            let s = x.apply_op1(LifOp {
                cfg: *cfg,
                t,
                spike_count: counter.clone(),
            })?;
            let n = counter.load(Ordering::Relaxed);
            Ok((s, n))
        }
        _ => {
            let _p = crate::profile::scope("lif");
            let (s, n) = lif_multistep_composed(&x.reshape((t, ()))?, cfg)?;
            Ok((s.reshape(x.shape())?, n))
        }
    }
}

/// The device-agnostic path (composed candle ops, same arithmetic and gradient as [`LifOp`]);
/// used on non-CPU devices until a CUDA kernel lands, public so it can be tested on the CPU.
pub fn lif_multistep_composed(x: &Tensor, cfg: &LifConfig) -> Result<(Tensor, u64)> {
    let x = x.contiguous()?;
    let (_, ss) = lif_h_composed(&x, cfg)?;
    let s = Tensor::stack(&ss, 0)?.contiguous()?;
    // f64 sum: an f32 running sum stalls at 2^24 spikes.
    let n = s.to_dtype(DType::F64)?.sum_all()?.to_scalar::<f64>()? as u64;
    let s = x.apply_op2(&s, LifAttachOp { cfg: *cfg })?;
    Ok((s, n))
}

/// A named multi-step LIF layer that records its firing rate after every forward.
#[derive(Debug, Clone)]
pub struct Lif {
    /// Neuron parameters.
    pub cfg: LifConfig,
    name: String,
    rates: FiringRates,
}

impl Lif {
    /// New layer called `name` (the reference module path, e.g. `block1.2`) recording into `rates`.
    pub fn new(cfg: LifConfig, name: &str, rates: FiringRates) -> Self {
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

    /// Spikes for `x` `[T, ...]`, starting from `V = v_reset` (the reference resets every batch).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_steps(x, x.dims().first().copied().unwrap_or(1))
    }

    /// Spikes for `x` read as `[t, N]` in memory order (e.g. a folded `[T·B, C, H, W]`); the
    /// output keeps `x`'s shape.
    pub fn forward_steps(&self, x: &Tensor, t: usize) -> Result<Tensor> {
        let (s, n) = lif_multistep_t(x, t, &self.cfg)?;
        let total = x.elem_count().max(1);
        self.rates.record(&self.name, n as f64 / total as f64);
        self.rates.keep_spikes(&self.name, &s);
        Ok(s)
    }
}
