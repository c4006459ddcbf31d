//! SMA-MS-ResNet cases (`../shared/fixtures/parity_msresnet`): the whole network from the case's
//! manifest entry (depth, width, T, T_reduction, AZO, classes, input size), end to end and stage
//! by stage (teacher forcing on the stored `intermediate.<stage>_out`).

use super::*;
use candle_core::D;
use snnkit_model::mem_update::mem_update_t;
use snnkit_model::{MemUpdateConfig, MsResNet, MsResNetArch, MsResNetConfig};

/// The network the case was made with, read from its manifest entry and tensor shapes.
fn resnet_config(case: &Case) -> Res<MsResNetConfig> {
    let m = case.meta;
    let ctor = m["ctor"].as_str().ok_or("case without ctor")?;
    let arch = MsResNetArch::parse(ctor).map_err(e)?;
    let input = case.get("input")?.dims().to_vec();
    if input.len() != 4 {
        return Err(format!("input {input:?} is not [B, C, H, W]"));
    }
    let t = m["T"].as_u64().ok_or("case without T")? as usize;
    let width_mult = m["width_k"].as_f64().unwrap_or(1.0);
    let num_classes = case.get("fc.weight")?.dims()[0];
    // SMA blocks per stage: how many blocks of conv2_x hold one.
    let sma_blocks = (0..)
        .take_while(|b| {
            case.t.contains_key(&format!(
                "conv2_x.{b}.residual_function.2.C_before_attention_conv.weight"
            ))
        })
        .count();
    let azo = if m["azo"].as_bool().unwrap_or(false) {
        Some(AzoConfig {
            rcr: m["RCR"].as_u64().ok_or("AZO case without RCR")? as usize,
            rtr: m["RTR"].as_u64().ok_or("AZO case without RTR")? as usize,
        })
    } else {
        None
    };
    let kernels: Vec<usize> = (0..)
        .map_while(|n| {
            case.t
                .get(&format!(
                    "conv2_x.0.residual_function.2.S_Convs.{n}.conv.weight"
                ))
                .map(|w| w.dims()[2])
        })
        .collect();
    let mut cfg = MsResNetConfig {
        arch,
        time_steps: t,
        num_classes,
        in_channels: input[1],
        height: input[2],
        width: input[3],
        width_mult,
        sma: sma_blocks > 0,
        sma_blocks,
        t_reduction: m["T_reduction"].as_f64().unwrap_or(1.5),
        azo,
        neuron: MemUpdateConfig::default(),
        ..MsResNetConfig::default()
    };
    if cfg.sma {
        cfg.sma_kernels = kernels;
        let c0 = case
            .get("conv2_x.0.residual_function.2.C_before_attention_conv.weight")?
            .dims()[0];
        cfg.c_reduction = cfg.stage_widths()[0] / c0.max(1);
    }
    Ok(cfg)
}

/// Loads the case state; with `after`, the buffers take the case's `after.*` values.
fn fresh(case: &Case, net: &MsResNet, after: bool, rep: &mut Report) -> Res<()> {
    load_state(case, net.store(), rep)?;
    if after {
        let data = net.store().buffer_map().data().lock().map_err(e)?;
        for n in case.names_with_role("buffer_after") {
            if let Some(var) = data.get(n.trim_start_matches("after.")) {
                var.set(case.get(&n)?).map_err(e)?;
            }
        }
    }
    Ok(())
}

/// Solves `a x = b` for a small dense system (Gaussian elimination with partial pivoting).
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<Vec<f64>>) -> Res<Vec<Vec<f64>>> {
    let n = a.len();
    for col in 0..n {
        let piv = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .ok_or("empty system")?;
        if a[piv][col].abs() < 1e-12 {
            return Err("grad_weights are rank-deficient: cannot recover the dropout mask".into());
        }
        a.swap(col, piv);
        b.swap(col, piv);
        let (prow, pb) = (a[col].clone(), b[col].clone());
        for r in 0..n {
            if r != col {
                let f = a[r][col] / prow[col];
                a[r].iter_mut().zip(&prow).for_each(|(x, p)| *x -= f * p);
                b[r].iter_mut().zip(&pb).for_each(|(x, p)| *x -= f * p);
            }
        }
    }
    Ok((0..n)
        .map(|r| b[r].iter().map(|v| v / a[r][r]).collect())
        .collect())
}

/// The reference's dropout mask `[B, F]`, which the files do not store (torch's RNG draws it).
///
/// `grad.fc.weight = grad_weightsᵀ · (mask ⊙ feat)`, so the dropped features follow by least
/// squares wherever the head feature is non-zero. Where it is zero the mask only matters to the
/// backward; there it is the choice that reproduces the gradient of the last residual BN's bias
/// (= the sum of the gradient reaching the last stage's output, which is linear in the mask).
fn recover_dropout_mask(case: &Case, net: &MsResNet, p: f64) -> Res<Tensor> {
    let keep = 1.0 / (1.0 - p);
    let gw = case.get("grad_weights")?;
    let (b, k) = gw.dims2().map_err(e)?;
    let gfc = case.get("grad.fc.weight")?;
    let f = gfc.dims()[1];
    let gwv = vec_f64(gw)?;
    let gfv = vec_f64(gfc)?;
    // Normal equations: (G Gᵀ) D = G·grad_fc with G = grad_weights [B, K].
    let a: Vec<Vec<f64>> = (0..b)
        .map(|i| {
            (0..b)
                .map(|j| (0..k).map(|q| gwv[i * k + q] * gwv[j * k + q]).sum())
                .collect()
        })
        .collect();
    let rhs: Vec<Vec<f64>> = (0..b)
        .map(|i| {
            (0..f)
                .map(|j| (0..k).map(|q| gwv[i * k + q] * gfv[q * f + j]).sum())
                .collect()
        })
        .collect();
    let dropped = solve(a, rhs)?;
    // Head features from the reference conv5_x output.
    let x5 = case.get("intermediate.conv5_x_out")?;
    let t = x5.dims()[0];
    let (s, _) = mem_update_t(x5, t, &net.config().neuron).map_err(e)?;
    let feat = s
        .flatten_from(3)
        .and_then(|s| s.mean(D::Minus1))
        .and_then(|s| s.mean(0))
        .map_err(e)?;
    let fv = vec_f64(&feat)?;
    let mut mask = vec![keep; b * f];
    let mut unknown = Vec::new();
    for i in 0..b {
        for j in 0..f {
            if fv[i * f + j] > 0.0 {
                mask[i * f + j] = if dropped[i][j] / fv[i * f + j] > 0.5 * keep {
                    keep
                } else {
                    0.0
                };
            } else {
                unknown.push((i, j));
            }
        }
    }
    if unknown.is_empty() {
        return Tensor::from_vec(
            mask.iter().map(|&v| v as f32).collect(),
            (b, f),
            &super::test_device(),
        )
        .map_err(e);
    }
    // Per-(sample, channel) contribution to the last residual BN's bias gradient, mask = 1.
    let bias_name = case
        .names_with_role("grad")
        .into_iter()
        .filter(|n| n.starts_with("grad.conv5_x.") && n.ends_with(".bn.bias"))
        .filter(|n| n.contains(".residual_function."))
        .max_by_key(|n| {
            let parts: Vec<usize> = n.split('.').filter_map(|p| p.parse().ok()).collect();
            (parts.first().copied(), parts.get(1).copied())
        })
        .ok_or("no residual BN bias gradient in conv5_x")?;
    let ones = Tensor::ones((b, f), DType::F32, &super::test_device()).map_err(e)?;
    net.set_dropout_mask(ones);
    let xv = Var::from_tensor(x5).map_err(e)?;
    let out = net.forward_from(xv.as_tensor(), 5, true).map_err(e)?.output;
    let grads = out
        .mul(gw)
        .and_then(|l| l.sum_all())
        .and_then(|l| l.backward())
        .map_err(e)?;
    let gx = grads.get(xv.as_tensor()).ok_or("no head gradient")?;
    let contrib = vec_f64(&gx.sum((0, 3, 4)).map_err(e)?)?; // [B, F]
    let target = vec_f64(case.get(&bias_name)?)?;
    for j in 0..f {
        let unk: Vec<usize> = unknown.iter().filter(|u| u.1 == j).map(|u| u.0).collect();
        if unk.is_empty() {
            continue;
        }
        let known: f64 = (0..b)
            .filter(|i| !unk.contains(i))
            .map(|i| mask[i * f + j] * contrib[i * f + j])
            .sum();
        let mut best = (f64::INFINITY, 0usize);
        for combo in 0..(1usize << unk.len()) {
            let sum: f64 = unk
                .iter()
                .enumerate()
                .map(|(q, &i)| {
                    if combo >> q & 1 == 1 {
                        keep * contrib[i * f + j]
                    } else {
                        0.0
                    }
                })
                .sum();
            let r = (known + sum - target[j]).abs();
            if r < best.0 {
                best = (r, combo);
            }
        }
        for (q, &i) in unk.iter().enumerate() {
            mask[i * f + j] = if best.1 >> q & 1 == 1 { keep } else { 0.0 };
        }
    }
    Tensor::from_vec(
        mask.iter().map(|&v| v as f32).collect(),
        (b, f),
        &super::test_device(),
    )
    .map_err(e)
}

/// Buffers after the train forward and every gradient of `L = sum(output * grad_weights)`.
fn check_after_and_grads(
    case: &Case,
    net: &MsResNet,
    output: &Tensor,
    input: &Var,
    rep: &mut Report,
) -> Res<()> {
    let buffers: HashMap<String, Tensor> = net.named_buffers().into_iter().collect();
    for name in case.names_with_role("buffer_after") {
        let key = name.trim_start_matches("after.");
        let got = buffers
            .get(key)
            .ok_or_else(|| format!("model has no buffer {key}"))?;
        if got.dtype() == DType::I64 {
            rep.exact("counters", &name, got, case.get(&name)?, 0)?;
        } else {
            rep.real("buffers", &name, got, case.get(&name)?, 1e-5, 1e-6)?;
        }
    }
    let gw = case.get("grad_weights")?;
    let grads = output
        .mul(gw)
        .and_then(|l| l.sum_all())
        .and_then(|l| l.backward())
        .map_err(e)?;
    let params: HashMap<String, Var> = net.named_parameters().into_iter().collect();
    let mut zero = case.zero_grads();
    zero.extend(
        net.bias_grads_cancelled_by_bn()
            .into_iter()
            .map(|n| format!("grad.{n}")),
    );
    for name in case.names_with_role("grad") {
        let key = name.trim_start_matches("grad.");
        let var = if key == "input" {
            input
        } else {
            params
                .get(key)
                .ok_or_else(|| format!("model has no parameter {key}"))?
        };
        let got = match grads.get(var.as_tensor()) {
            Some(g) => g.clone(),
            None => var.as_tensor().zeros_like().map_err(e)?,
        };
        if zero.contains(&name) {
            // Rounding noise on both sides; its size grows with the gradient reaching the BN
            // (the reference's own is up to 1.7e-4 in the ResNet-104 stem), so allow 1e-4 or
            // twice the reference's noise, whichever is larger.
            let noise = vec_f64(case.get(&name)?)?
                .iter()
                .fold(0f64, |m, v| m.max(v.abs()));
            rep.abs("zero-grads", &name, &got, 1e-4f64.max(2.0 * noise))?;
        } else {
            rep.real("grads", &name, &got, case.get(&name)?, 1e-4, 0.0)?;
        }
    }
    Ok(())
}

/// The whole network: checkpoint load by the authors' names, train output with every stage,
/// `after.*` buffers, every gradient, each stage alone on the reference input of the stage, and
/// the eval output.
pub(crate) fn run_msresnet(case: &Case, rep: &mut Report) -> Res<()> {
    let cfg = resnet_config(case)?;
    let net = MsResNet::new(&cfg, &super::test_device()).map_err(e)?;
    let file = case.meta["file"].as_str().unwrap_or("");
    net.load_safetensors(&parity_dir_of(case).join(file))
        .map_err(e)?;
    for (name, var) in net.named_parameters() {
        rep.exact(
            "checkpoint-load",
            &name,
            var.as_tensor(),
            case.get(&name)?,
            0,
        )?;
    }
    let p = cfg.dropout_p();
    let mask = if p > 0.0 && case.is_train() {
        fresh(case, &net, false, rep)?;
        Some(recover_dropout_mask(case, &net, p)?)
    } else {
        None
    };
    let input = case.get("input")?;

    // End to end.
    fresh(case, &net, false, rep)?;
    if let Some(m) = &mask {
        net.set_dropout_mask(m.clone());
    }
    let x = Var::from_tensor(input).map_err(e)?;
    let train = case.is_train();
    let tr = net.forward_trace(x.as_tensor(), train).map_err(e)?;
    for (i, st) in tr.stages.iter().enumerate() {
        let name = format!("intermediate.{}_out", snnkit_model::resnet::STAGE_NAMES[i]);
        if let Ok(r) = case.get(&name) {
            rep.real("stages", &name, st, r, 1e-5, 1e-6)?;
        }
    }
    rep.real(
        "output",
        "output",
        &tr.output,
        case.get("output")?,
        1e-5,
        1e-6,
    )?;
    if train {
        check_after_and_grads(case, &net, &tr.output, &x, rep)?;
    }

    // Teacher forcing: each stage (and the head) on the reference output of the stage before.
    for k in 1..=5 {
        let prev = format!(
            "intermediate.{}_out",
            snnkit_model::resnet::STAGE_NAMES[k - 1]
        );
        let Ok(prev) = case.get(&prev) else { continue };
        fresh(case, &net, false, rep)?;
        if let Some(m) = &mask {
            net.set_dropout_mask(m.clone());
        }
        let tf = net.forward_from(prev, k, train).map_err(e)?;
        if k < 5 {
            let name = format!("intermediate.{}_out", snnkit_model::resnet::STAGE_NAMES[k]);
            if let (Some(got), Ok(r)) = (tf.stages.first(), case.get(&name)) {
                rep.real(
                    "forced-stages",
                    &format!("{name} (forced)"),
                    got,
                    r,
                    1e-5,
                    1e-6,
                )?;
            }
        } else {
            rep.real(
                "forced-output",
                "output (forced head)",
                &tf.output,
                case.get("output")?,
                1e-5,
                1e-6,
            )?;
        }
    }

    // Eval with the reference's post-forward running statistics.
    if let Ok(r) = case.get("output_eval") {
        fresh(case, &net, true, rep)?;
        let y = net.forward_t(input, false).map_err(e)?;
        rep.real("output", "output_eval", &y, r, 1e-5, 1e-6)?;
    }
    Ok(())
}
