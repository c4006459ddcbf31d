//! Optimizers with PyTorch 2.0.1 semantics (single-tensor CPU path) and the cosine schedule.
//!
//! candle-nn ships only plain SGD and an AdamW, so the four optimizers of the SMA-AZO recipes are
//! written here, operation by operation in the order `torch.optim` performs them, so that a run in
//! snnkit follows the same trajectory as the reference (see `../shared/fixtures/parity/README.md`).
//! Scalar coefficients are computed in f64 as Python does; tensor arithmetic is f32. Everything is
//! tensor ops, so the same code runs on any candle device.
//!
//! State (moments, momentum buffers, per-parameter step counts, NAdam's `mu_product`) can be
//! exported with [`Optimizer::state_tensors`] and restored with [`Optimizer::load_state`], which is
//! how checkpoints carry it.

mod config;
mod fused;
mod schedule;

pub use config::{OptimizerConfig, OptimizerKind};
pub use schedule::CosineAnnealingLr;

use candle_core::{backprop::GradStore, DType, Tensor, Var};
use std::collections::HashMap;

/// Per-parameter optimizer state, as `torch.optim` keeps it in `optimizer.state[p]`.
#[derive(Debug, Clone, Default)]
struct ParamState {
    /// Steps taken by this parameter (PyTorch counts per parameter; a parameter without a
    /// gradient in a step is skipped and its count does not advance).
    step: u64,
    exp_avg: Option<Tensor>,
    exp_avg_sq: Option<Tensor>,
    momentum_buffer: Option<Tensor>,
    /// NAdam's running product of μ_t, kept in float32 exactly as torch 2.0.1 does.
    mu_product: f32,
}

/// An optimizer over named candle [`Var`]s (AdamW, Adam, NAdam or SGD; see [`OptimizerKind`]).
pub struct Optimizer {
    cfg: OptimizerConfig,
    /// Use the tensor-op path even on the CPU (tests compare the two paths).
    tensor_path: bool,
    lr: f64,
    params: Vec<(String, Var)>,
    state: Vec<ParamState>,
}

impl Optimizer {
    /// Builds an optimizer over `params` (name, variable). The names key the saved state; they are
    /// sorted so that the update order (and any reduction over parameters) is deterministic.
    pub fn new(cfg: OptimizerConfig, mut params: Vec<(String, Var)>) -> Self {
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let state = params
            .iter()
            .map(|_| ParamState {
                mu_product: 1.0,
                ..ParamState::default()
            })
            .collect();
        Self {
            lr: cfg.lr,
            tensor_path: false,
            cfg,
            params,
            state,
        }
    }

    /// The configuration this optimizer was built with.
    pub fn config(&self) -> &OptimizerConfig {
        &self.cfg
    }

    /// The current learning rate (set by a schedule through [`Optimizer::set_lr`]).
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Sets the learning rate used by the next steps (what a PyTorch scheduler does to the group).
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// The optimized parameters, sorted by name.
    pub fn params(&self) -> &[(String, Var)] {
        &self.params
    }

    /// Gradients of the parameters from a backward pass, in [`Optimizer::params`] order
    /// (`None` where a parameter took no part in the loss).
    pub fn grads(&self, store: &GradStore) -> Vec<Option<Tensor>> {
        self.params
            .iter()
            .map(|(_, v)| store.get(v.as_tensor()).cloned())
            .collect()
    }

    /// Convenience: [`Optimizer::grads`] then [`Optimizer::step`].
    pub fn backward_step(&mut self, loss: &Tensor) -> candle_core::Result<()> {
        let store = loss.backward()?;
        let grads = self.grads(&store);
        self.step(&grads)
    }

    /// One optimizer step with `grads` aligned to [`Optimizer::params`].
    pub fn step(&mut self, grads: &[Option<Tensor>]) -> candle_core::Result<()> {
        if grads.len() != self.params.len() {
            candle_core::bail!(
                "optimizer step: {} gradients for {} parameters",
                grads.len(),
                self.params.len()
            );
        }
        for ((var, st), g) in self
            .params
            .iter()
            .map(|(_, v)| v)
            .zip(self.state.iter_mut())
            .zip(grads)
        {
            let Some(g) = g else { continue };
            let g = g.to_dtype(DType::F32)?;
            if var.device().is_cpu() && var.dtype() == DType::F32 && !self.tensor_path {
                fused::step(&self.cfg, self.lr, st, var, &g)?;
                continue;
            }
            let p = var.as_tensor().detach();
            let new_p = match self.cfg.kind {
                OptimizerKind::Adam | OptimizerKind::AdamW => {
                    adam_step(&self.cfg, self.lr, st, &p, &g)?
                }
                OptimizerKind::NAdam => nadam_step(&self.cfg, self.lr, st, &p, &g)?,
                OptimizerKind::Sgd => sgd_step(&self.cfg, self.lr, st, &p, &g)?,
            };
            var.set(&new_p)?;
        }
        Ok(())
    }

    /// The state as named tensors: `optimizer.<param>.{step, exp_avg, exp_avg_sq, momentum_buffer,
    /// mu_product}` (only those this optimizer keeps). `step` is an i64 scalar, `mu_product` an
    /// f32 scalar.
    pub fn state_tensors(&self) -> candle_core::Result<Vec<(String, Tensor)>> {
        let cpu = candle_core::Device::Cpu;
        let mut out = Vec::new();
        for ((name, _), st) in self.params.iter().zip(&self.state) {
            if st.step == 0 {
                continue;
            }
            let key = |s: &str| format!("optimizer.{name}.{s}");
            out.push((key("step"), Tensor::new(st.step as i64, &cpu)?));
            if self.cfg.kind == OptimizerKind::NAdam {
                out.push((key("mu_product"), Tensor::new(st.mu_product, &cpu)?));
            }
            for (s, t) in [
                ("exp_avg", &st.exp_avg),
                ("exp_avg_sq", &st.exp_avg_sq),
                ("momentum_buffer", &st.momentum_buffer),
            ] {
                if let Some(t) = t {
                    // A copy: the CPU step updates the state in place, so a shared handle
                    // would change under whoever holds it.
                    out.push((key(s), t.copy()?));
                }
            }
        }
        Ok(out)
    }

    /// Restores the state written by [`Optimizer::state_tensors`] (tensors may be on any device;
    /// they are moved to each parameter's device). Parameters absent from `tensors` start fresh.
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>) -> candle_core::Result<()> {
        for ((name, var), st) in self.params.iter().zip(self.state.iter_mut()) {
            let key = |s: &str| format!("optimizer.{name}.{s}");
            *st = ParamState {
                mu_product: 1.0,
                ..ParamState::default()
            };
            let Some(step) = tensors.get(&key("step")) else {
                continue;
            };
            st.step = step.to_dtype(DType::I64)?.to_scalar::<i64>()?.max(0) as u64;
            if let Some(m) = tensors.get(&key("mu_product")) {
                st.mu_product = m.to_dtype(DType::F32)?.to_scalar::<f32>()?;
            }
            let dev = var.device();
            let load = |s: &str| -> candle_core::Result<Option<Tensor>> {
                match tensors.get(&key(s)) {
                    None => Ok(None),
                    Some(t) => {
                        if t.dims() != var.dims() {
                            candle_core::bail!(
                                "optimizer state {} has shape {:?}, parameter has {:?}",
                                key(s),
                                t.dims(),
                                var.dims()
                            );
                        }
                        // A copy of our own: the CPU step updates it in place.
                        Ok(Some(t.to_dtype(DType::F32)?.to_device(dev)?.copy()?))
                    }
                }
            };
            st.exp_avg = load("exp_avg")?;
            st.exp_avg_sq = load("exp_avg_sq")?;
            st.momentum_buffer = load("momentum_buffer")?;
        }
        Ok(())
    }
}

/// `x * s` with `s` rounded to f32 first (PyTorch's tensor-by-Python-scalar multiply).
fn mul_s(x: &Tensor, s: f64) -> candle_core::Result<Tensor> {
    x.affine(s as f32 as f64, 0.0)
}

/// `x / s` as a true f32 division (candle's `Tensor / f64` multiplies by the reciprocal instead).
fn div_s(x: &Tensor, s: f64) -> candle_core::Result<Tensor> {
    let s = Tensor::new(s as f32, x.device())?;
    x.broadcast_div(&s)
}

/// `x + s` with `s` rounded to f32.
fn add_s(x: &Tensor, s: f64) -> candle_core::Result<Tensor> {
    x.affine(1.0, s as f32 as f64)
}

/// `self.lerp_(end, w)` for |w| < 0.5: `self + w·(end − self)`.
fn lerp(x: &Tensor, end: &Tensor, w: f64) -> candle_core::Result<Tensor> {
    x.add(&mul_s(&end.sub(x)?, w)?)
}

/// `p.addcdiv_(a, b, value)`: `p + (value·a) / b`.
fn addcdiv(p: &Tensor, a: &Tensor, b: &Tensor, value: f64) -> candle_core::Result<Tensor> {
    p.add(&mul_s(a, value)?.div(b)?)
}

/// The shared moment update: `m.lerp_(g, 1−β1)`, `v.mul_(β2).addcmul_(g, g, value=1−β2)`.
fn update_moments(
    cfg: &OptimizerConfig,
    st: &mut ParamState,
    g: &Tensor,
) -> candle_core::Result<(Tensor, Tensor)> {
    let m = match &st.exp_avg {
        Some(m) => lerp(m, g, 1.0 - cfg.beta1)?,
        None => lerp(&g.zeros_like()?, g, 1.0 - cfg.beta1)?,
    };
    let v0 = match &st.exp_avg_sq {
        Some(v) => mul_s(v, cfg.beta2)?,
        None => g.zeros_like()?,
    };
    let v = v0.add(&mul_s(g, 1.0 - cfg.beta2)?.mul(g)?)?;
    st.exp_avg = Some(m.clone());
    st.exp_avg_sq = Some(v.clone());
    Ok((m, v))
}

/// torch 2.0.1 `_single_tensor_adam` (and AdamW's decoupled decay first).
fn adam_step(
    cfg: &OptimizerConfig,
    lr: f64,
    st: &mut ParamState,
    p: &Tensor,
    g: &Tensor,
) -> candle_core::Result<Tensor> {
    st.step += 1;
    let mut p = p.clone();
    let mut g = g.clone();
    if cfg.weight_decay != 0.0 {
        if cfg.kind == OptimizerKind::AdamW {
            p = mul_s(&p, 1.0 - lr * cfg.weight_decay)?;
        } else {
            g = g.add(&mul_s(&p, cfg.weight_decay)?)?;
        }
    }
    let (m, v) = update_moments(cfg, st, &g)?;
    let step = st.step as f64;
    let bc1 = 1.0 - cfg.beta1.powf(step);
    let bc2 = 1.0 - cfg.beta2.powf(step);
    let step_size = lr / bc1;
    let denom = add_s(&div_s(&v.sqrt()?, bc2.sqrt())?, cfg.eps)?;
    addcdiv(&p, &m, &denom, -step_size)
}

/// torch 2.0.1 `_single_tensor_nadam`.
fn nadam_step(
    cfg: &OptimizerConfig,
    lr: f64,
    st: &mut ParamState,
    p: &Tensor,
    g: &Tensor,
) -> candle_core::Result<Tensor> {
    st.step += 1;
    let step = st.step as f64;
    let mut g = g.clone();
    if cfg.weight_decay != 0.0 {
        g = g.add(&mul_s(p, cfg.weight_decay)?)?;
    }
    let bc2 = 1.0 - cfg.beta2.powf(step);
    let mu = cfg.beta1 * (1.0 - 0.5 * 0.96f64.powf(step * cfg.momentum_decay));
    let mu_next = cfg.beta1 * (1.0 - 0.5 * 0.96f64.powf((step + 1.0) * cfg.momentum_decay));
    // `mu_product *= mu` on a float32 0-dim tensor: the f64 μ is rounded to f32 first.
    st.mu_product *= mu as f32;
    let mu_product = st.mu_product as f64;
    let mu_product_next = mu_product * mu_next;
    let (m, v) = update_moments(cfg, st, &g)?;
    let denom = add_s(&div_s(&v, bc2)?.sqrt()?, cfg.eps)?;
    let p = addcdiv(p, &g, &denom, -lr * (1.0 - mu) / (1.0 - mu_product))?;
    addcdiv(&p, &m, &denom, (-lr * mu_next) / (1.0 - mu_product_next))
}

/// torch 2.0.1 `_single_tensor_sgd` (momentum, dampening, Nesterov, coupled weight decay).
fn sgd_step(
    cfg: &OptimizerConfig,
    lr: f64,
    st: &mut ParamState,
    p: &Tensor,
    g: &Tensor,
) -> candle_core::Result<Tensor> {
    st.step += 1;
    let mut d_p = g.clone();
    if cfg.weight_decay != 0.0 {
        d_p = d_p.add(&mul_s(p, cfg.weight_decay)?)?;
    }
    if cfg.momentum != 0.0 {
        let buf = match &st.momentum_buffer {
            None => d_p.copy()?,
            Some(b) => mul_s(b, cfg.momentum)?.add(&mul_s(&d_p, 1.0 - cfg.dampening)?)?,
        };
        st.momentum_buffer = Some(buf.clone());
        d_p = if cfg.nesterov {
            d_p.add(&mul_s(&buf, cfg.momentum)?)?
        } else {
            buf
        };
    }
    p.add(&mul_s(&d_p, -lr)?)
}

/// `torch.nn.utils.clip_grad_norm_`: scales all gradients so their global L2 norm is at most
/// `max_norm` (coefficient `max_norm / (norm + 1e-6)`, clamped at 1). Returns the norm before
/// clipping.
pub fn clip_grad_norm(grads: &mut [Option<Tensor>], max_norm: f64) -> candle_core::Result<f64> {
    let mut total = 0f64;
    for g in grads.iter().flatten() {
        total += g
            .sqr()?
            .sum_all()?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
    }
    let norm = total.sqrt();
    let coef = (max_norm / (norm + 1e-6)).min(1.0);
    if coef < 1.0 {
        for g in grads.iter_mut().flatten() {
            *g = mul_s(g, coef)?;
        }
    }
    Ok(norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn one_param(kind: OptimizerKind) -> Optimizer {
        let v = Var::new(&[1f32, -2.0, 3.0], &Device::Cpu).unwrap();
        let cfg = OptimizerConfig {
            kind,
            lr: 0.1,
            momentum: 0.9,
            ..OptimizerConfig::default()
        };
        Optimizer::new(cfg, vec![("w".into(), v)])
    }

    #[test]
    fn state_round_trips() {
        for kind in [
            OptimizerKind::AdamW,
            OptimizerKind::NAdam,
            OptimizerKind::Sgd,
        ] {
            let mut a = one_param(kind);
            let g = Tensor::new(&[0.5f32, 0.1, -0.3], &Device::Cpu).unwrap();
            a.step(&[Some(g.clone())]).unwrap();
            let saved: HashMap<_, _> = a.state_tensors().unwrap().into_iter().collect();
            let mut b = one_param(kind);
            b.params[0].1.set(a.params[0].1.as_tensor()).unwrap();
            b.load_state(&saved).unwrap();
            a.step(&[Some(g.clone())]).unwrap();
            b.step(&[Some(g)]).unwrap();
            let pa = a.params[0].1.as_tensor().to_vec1::<f32>().unwrap();
            let pb = b.params[0].1.as_tensor().to_vec1::<f32>().unwrap();
            assert_eq!(pa, pb, "{kind:?}");
        }
    }

    #[test]
    fn cpu_fused_path_equals_tensor_path_bit_for_bit() {
        let dev = Device::Cpu;
        let kinds = [
            (OptimizerKind::AdamW, 0.0, false),
            (OptimizerKind::Adam, 0.0, false),
            (OptimizerKind::NAdam, 0.0, false),
            (OptimizerKind::Sgd, 0.9, false),
            (OptimizerKind::Sgd, 0.9, true),
            (OptimizerKind::Sgd, 0.0, false),
        ];
        for (kind, momentum, nesterov) in kinds {
            for wd in [0.0, 1e-2] {
                let p0 = Tensor::randn(0f32, 1.0, (3, 50_000), &dev).unwrap();
                let cfg = OptimizerConfig {
                    kind,
                    lr: 1e-2,
                    weight_decay: wd,
                    momentum,
                    dampening: 0.1,
                    nesterov,
                    momentum_decay: 1e-3,
                    ..OptimizerConfig::default()
                };
                let va = Var::from_tensor(&p0).unwrap();
                let vb = Var::from_tensor(&p0).unwrap();
                let mut a = Optimizer::new(cfg.clone(), vec![("w".into(), va.clone())]);
                let mut b = Optimizer::new(cfg, vec![("w".into(), vb.clone())]);
                b.tensor_path = true;
                for _ in 0..4 {
                    let g = Tensor::randn(0f32, 1.0, (3, 50_000), &dev).unwrap();
                    a.step(&[Some(g.clone())]).unwrap();
                    b.step(&[Some(g)]).unwrap();
                }
                let bits = |t: &Tensor| -> Vec<u32> {
                    t.flatten_all()
                        .unwrap()
                        .to_vec1::<f32>()
                        .unwrap()
                        .iter()
                        .map(|x| x.to_bits())
                        .collect()
                };
                let same = |x: &Tensor, y: &Tensor| {
                    // +0 and -0 may differ (x·s + 0 in candle's affine); compare values, not signs of zero.
                    bits(x) == bits(y)
                        || x.flatten_all().unwrap().to_vec1::<f32>().unwrap()
                            == y.flatten_all().unwrap().to_vec1::<f32>().unwrap()
                };
                assert!(
                    same(va.as_tensor(), vb.as_tensor()),
                    "{kind:?} wd {wd} nesterov {nesterov}: params"
                );
                let sa: HashMap<_, _> = a.state_tensors().unwrap().into_iter().collect();
                let sb: HashMap<_, _> = b.state_tensors().unwrap().into_iter().collect();
                assert_eq!(sa.len(), sb.len());
                for (k, ta) in &sa {
                    if ta.dtype() == DType::F32 && ta.rank() > 0 {
                        assert!(same(ta, &sb[k]), "{kind:?} wd {wd}: {k}");
                    } else if ta.dtype() == DType::F32 {
                        assert_eq!(
                            ta.to_scalar::<f32>().unwrap(),
                            sb[k].to_scalar::<f32>().unwrap(),
                            "{k}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn sgd_momentum_matches_hand_computation() {
        let mut o = one_param(OptimizerKind::Sgd);
        let g = Tensor::new(&[1f32, 1.0, 1.0], &Device::Cpu).unwrap();
        o.step(&[Some(g.clone())]).unwrap();
        o.step(&[Some(g)]).unwrap();
        // buf1 = 1, p1 = 1 - 0.1; buf2 = 0.9 + 1 = 1.9, p2 = p1 - 0.19
        let p = o.params[0].1.as_tensor().to_vec1::<f32>().unwrap();
        assert!((p[0] - (1.0 - 0.1 - 0.19)).abs() < 1e-6, "{p:?}");
    }

    #[test]
    fn clipping_scales_to_max_norm() {
        let mut g = vec![Some(Tensor::new(&[3f32, 4.0], &Device::Cpu).unwrap()), None];
        let n = clip_grad_norm(&mut g, 1.0).unwrap();
        assert!((n - 5.0).abs() < 1e-9);
        let v = g[0].as_ref().unwrap().to_vec1::<f32>().unwrap();
        assert!(
            (v[0] - 0.6).abs() < 1e-5 && (v[1] - 0.8).abs() < 1e-5,
            "{v:?}"
        );
    }
}
