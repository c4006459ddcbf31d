//! The CPU path of the optimizer step: one parallel pass over each parameter doing exactly the
//! f32 operations of the tensor path (same order, same roundings, no fused multiply-add), instead
//! of a dozen full-tensor candle ops with their allocations. The parameter and its moment
//! buffers are updated in place (candle in-place ops, so the storage locks are held), and the
//! gradient is read where it lies: per step the pass reads and writes each buffer once, which
//! for a 22M-parameter network is what sets the time. The tensor path remains for other
//! devices; a unit test checks that the two agree bit for bit.

use super::{OptimizerConfig, OptimizerKind, ParamState};
use candle_core::{CpuStorage, InplaceOp1, Layout, Storage, Tensor, Var};
use rayon::prelude::*;
use std::cell::RefCell;

/// Runs `f` once on the f32 values of contiguous CPU tensor `t`, in place.
fn with_values_mut(
    t: &Tensor,
    f: impl FnOnce(&mut [f32]) -> candle_core::Result<()>,
) -> candle_core::Result<()> {
    /// An in-place op that hands the storage to a closure.
    struct Update<F>(RefCell<Option<F>>);
    impl<F: FnOnce(&mut [f32]) -> candle_core::Result<()>> InplaceOp1 for Update<F> {
        fn name(&self) -> &'static str {
            "snnkit-optimizer-update"
        }
        fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
            let (CpuStorage::F32(v), Some((a, b))) = (storage, layout.contiguous_offsets()) else {
                candle_core::bail!("optimizer update: expected a contiguous f32 tensor");
            };
            let f = self.0.borrow_mut().take();
            f.map_or(Ok(()), |f| f(&mut v[a..b]))
        }
    }
    t.inplace_op1(&Update(RefCell::new(Some(f))))
}

/// Runs `f` on the f32 values of contiguous CPU tensor `t`.
fn with_values<R>(
    t: &Tensor,
    f: impl FnOnce(&[f32]) -> candle_core::Result<R>,
) -> candle_core::Result<R> {
    let (storage, layout) = t.storage_and_layout();
    let (Storage::Cpu(CpuStorage::F32(v)), Some((a, b))) = (&*storage, layout.contiguous_offsets())
    else {
        candle_core::bail!("optimizer update: expected a contiguous f32 gradient on the CPU");
    };
    f(&v[a..b])
}

/// `slot`'s tensor, created as zeros of `like`'s shape when absent (a fresh moment starts at
/// zero, so the update below is the same as for an absent one).
fn state_or_zeros(slot: &mut Option<Tensor>, like: &Var) -> candle_core::Result<Tensor> {
    if slot.is_none() {
        *slot = Some(like.as_tensor().zeros_like()?);
    }
    Ok(slot.clone().expect("just set"))
}

/// Minimum elements per rayon task (below this, splitting costs more than it saves).
const CHUNK: usize = 1 << 14;

/// One step of `cfg.kind` on `var` (f32, CPU) with gradient `g`, updating `st`.
pub(super) fn step(
    cfg: &OptimizerConfig,
    lr: f64,
    st: &mut ParamState,
    var: &Var,
    g: &Tensor,
) -> candle_core::Result<()> {
    if g.dims() != var.dims() {
        candle_core::bail!(
            "optimizer step: gradient {:?} for a parameter of shape {:?}",
            g.dims(),
            var.dims()
        );
    }
    let g = g.contiguous()?;
    st.step += 1;
    let step = st.step as f64;
    let f = |x: f64| x as f32;
    match cfg.kind {
        OptimizerKind::Adam | OptimizerKind::AdamW | OptimizerKind::NAdam => {
            let fresh = st.exp_avg_sq.is_none();
            let (m, v) = (
                state_or_zeros(&mut st.exp_avg, var)?,
                state_or_zeros(&mut st.exp_avg_sq, var)?,
            );
            let (w1, b2, c2, eps) = (
                f(1.0 - cfg.beta1),
                f(cfg.beta2),
                f(1.0 - cfg.beta2),
                f(cfg.eps),
            );
            let decoupled = cfg.kind == OptimizerKind::AdamW && cfg.weight_decay != 0.0;
            let coupled = cfg.kind != OptimizerKind::AdamW && cfg.weight_decay != 0.0;
            let (dscale, wd) = (f(1.0 - lr * cfg.weight_decay), f(cfg.weight_decay));
            let bc2 = 1.0 - cfg.beta2.powf(step);
            if cfg.kind == OptimizerKind::NAdam {
                let mu = cfg.beta1 * (1.0 - 0.5 * 0.96f64.powf(step * cfg.momentum_decay));
                let mu_next =
                    cfg.beta1 * (1.0 - 0.5 * 0.96f64.powf((step + 1.0) * cfg.momentum_decay));
                st.mu_product *= mu as f32;
                let mu_product = st.mu_product as f64;
                let mu_product_next = mu_product * mu_next;
                let (cg, cm) = (
                    f(-lr * (1.0 - mu) / (1.0 - mu_product)),
                    f((-lr * mu_next) / (1.0 - mu_product_next)),
                );
                let bc2 = f(bc2);
                update3(var, &m, &v, &g, |p, m, v, g| {
                    let g = if coupled { g + *p * wd } else { g };
                    *m = *m + (g - *m) * w1;
                    let v0 = if fresh { 0.0 } else { *v * b2 };
                    *v = v0 + (g * c2) * g;
                    let denom = (*v / bc2).sqrt() + eps;
                    let p1 = *p + (g * cg) / denom;
                    *p = p1 + (*m * cm) / denom;
                })?;
            } else {
                let step_size = f(-(lr / (1.0 - cfg.beta1.powf(step))));
                let bc2_sqrt = f(bc2.sqrt());
                update3(var, &m, &v, &g, |p, m, v, g| {
                    let mut pv = *p;
                    let g = if coupled { g + pv * wd } else { g };
                    if decoupled {
                        pv *= dscale;
                    }
                    *m = *m + (g - *m) * w1;
                    let v0 = if fresh { 0.0 } else { *v * b2 };
                    *v = v0 + (g * c2) * g;
                    let denom = v.sqrt() / bc2_sqrt + eps;
                    *p = pv + (*m * step_size) / denom;
                })?;
            }
        }
        OptimizerKind::Sgd => {
            let (wd, mom, damp, neg_lr) = (
                f(cfg.weight_decay),
                f(cfg.momentum),
                f(1.0 - cfg.dampening),
                f(-lr),
            );
            let use_wd = cfg.weight_decay != 0.0;
            if cfg.momentum != 0.0 {
                let fresh = st.momentum_buffer.is_none();
                let buf = state_or_zeros(&mut st.momentum_buffer, var)?;
                let nesterov = cfg.nesterov;
                with_values(&g, |g| {
                    with_values_mut(&buf, |buf| {
                        with_values_mut(var.as_tensor(), |p| {
                            p.par_iter_mut()
                                .zip(buf.par_iter_mut())
                                .zip(g.par_iter())
                                .with_min_len(CHUNK)
                                .for_each(|((p, b), &g)| {
                                    let d = if use_wd { g + *p * wd } else { g };
                                    *b = if fresh { d } else { *b * mom + d * damp };
                                    let d = if nesterov { d + *b * mom } else { *b };
                                    *p += d * neg_lr;
                                });
                            Ok(())
                        })
                    })
                })?;
            } else {
                with_values(&g, |g| {
                    with_values_mut(var.as_tensor(), |p| {
                        p.par_iter_mut()
                            .zip(g.par_iter())
                            .with_min_len(CHUNK)
                            .for_each(|(p, &g)| {
                                let d = if use_wd { g + *p * wd } else { g };
                                *p += d * neg_lr;
                            });
                        Ok(())
                    })
                })?;
            }
        }
    }
    Ok(())
}

/// Runs `f(param, exp_avg, exp_avg_sq, grad)` on every element of the four tensors in
/// parallel, the first three in place.
fn update3(
    var: &Var,
    m: &Tensor,
    v: &Tensor,
    g: &Tensor,
    f: impl Fn(&mut f32, &mut f32, &mut f32, f32) + Sync + Send,
) -> candle_core::Result<()> {
    with_values(g, |g| {
        with_values_mut(m, |m| {
            with_values_mut(v, |v| {
                with_values_mut(var.as_tensor(), |p| {
                    if p.len() != g.len() || m.len() != g.len() || v.len() != g.len() {
                        candle_core::bail!("optimizer update: state and gradient sizes differ");
                    }
                    p.par_iter_mut()
                        .zip(m.par_iter_mut())
                        .zip(v.par_iter_mut())
                        .zip(g.par_iter())
                        .with_min_len(CHUNK)
                        .for_each(|(((p, m), v), &g)| f(p, m, v, g));
                    Ok(())
                })
            })
        })
    })
}
