//! The CPU path of the optimizer step: one parallel pass over each parameter doing exactly the
//! f32 operations of the tensor path (same order, same roundings, no fused multiply-add), instead
//! of a dozen full-tensor candle ops with their allocations. The tensor path remains for other
//! devices; a unit test checks that the two agree bit for bit.

use super::{OptimizerConfig, OptimizerKind, ParamState};
use candle_core::{Tensor, Var};
use rayon::prelude::*;

/// Values of a tensor as a flat f32 vector (zeros when `t` is `None`).
fn flat(t: Option<&Tensor>, n: usize) -> candle_core::Result<Vec<f32>> {
    match t {
        Some(t) => t.flatten_all()?.to_vec1::<f32>(),
        None => Ok(vec![0f32; n]),
    }
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
    let shape = var.shape().clone();
    let dev = var.device().clone();
    let n = shape.elem_count();
    let mut p = flat(Some(var.as_tensor()), n)?;
    let g = flat(Some(g), n)?;
    st.step += 1;
    let step = st.step as f64;
    let f = |x: f64| x as f32;
    match cfg.kind {
        OptimizerKind::Adam | OptimizerKind::AdamW | OptimizerKind::NAdam => {
            let mut m = flat(st.exp_avg.as_ref(), n)?;
            let mut v = flat(st.exp_avg_sq.as_ref(), n)?;
            let fresh = st.exp_avg_sq.is_none();
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
                p.par_iter_mut()
                    .zip(m.par_iter_mut())
                    .zip(v.par_iter_mut())
                    .zip(g.par_iter())
                    .with_min_len(CHUNK)
                    .for_each(|(((p, m), v), &g)| {
                        let g = if coupled { g + *p * wd } else { g };
                        *m = *m + (g - *m) * w1;
                        let v0 = if fresh { 0.0 } else { *v * b2 };
                        *v = v0 + (g * c2) * g;
                        let denom = (*v / bc2).sqrt() + eps;
                        let p1 = *p + (g * cg) / denom;
                        *p = p1 + (*m * cm) / denom;
                    });
            } else {
                let step_size = f(-(lr / (1.0 - cfg.beta1.powf(step))));
                let bc2_sqrt = f(bc2.sqrt());
                p.par_iter_mut()
                    .zip(m.par_iter_mut())
                    .zip(v.par_iter_mut())
                    .zip(g.par_iter())
                    .with_min_len(CHUNK)
                    .for_each(|(((p, m), v), &g)| {
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
                    });
            }
            st.exp_avg = Some(Tensor::from_vec(m, shape.clone(), &dev)?);
            st.exp_avg_sq = Some(Tensor::from_vec(v, shape.clone(), &dev)?);
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
                let mut buf = flat(st.momentum_buffer.as_ref(), n)?;
                let nesterov = cfg.nesterov;
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
                st.momentum_buffer = Some(Tensor::from_vec(buf, shape.clone(), &dev)?);
            } else {
                p.par_iter_mut()
                    .zip(g.par_iter())
                    .with_min_len(CHUNK)
                    .for_each(|(p, &g)| {
                        let d = if use_wd { g + *p * wd } else { g };
                        *p += d * neg_lr;
                    });
            }
        }
    }
    var.set(&Tensor::from_vec(p, shape, &dev)?)
}
