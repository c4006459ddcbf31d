//! Unit tests beyond parity: LIF kernels, SMA shapes and invariants, AZO rules and gradient
//! routing, pooling, BatchNorm, dropout, SMA-VGG8 presets, names and save/load.

use std::collections::HashMap;

use candle_core::{DType, Device, IndexOp, Tensor, Var};
use snnkit_model::azo::{azo_replace, azo_select, azo_source_rows, smallest_k};
use snnkit_model::layers::{
    adaptive_avg_pool2d, adaptive_bin, dropout_rng, max_pool2x2, max_pool2x2_composed, BatchNorm,
    SeqDropout,
};
use snnkit_model::{
    lif_multistep, lif_multistep_composed, AzoConfig, FiringRates, LifConfig, LifOp, ParamStore,
    Sma, SmaConfig, SmaVgg8, Vgg8Config,
};

const DEV: Device = Device::Cpu;

fn v32(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// Straightforward scalar LIF forward + BPTT backward, written from the spec formulas.
fn lif_scalar(x: &[f32], gs: &[f32], t: usize, cfg: &LifConfig) -> (Vec<f32>, Vec<f32>) {
    let n = x.len() / t;
    let (mut s, mut h) = (vec![0f32; x.len()], vec![0f32; x.len()]);
    let mut v = vec![0f32; n];
    for k in 0..t {
        for i in 0..n {
            let hv = v[i] + (x[k * n + i] - v[i]) / cfg.tau;
            h[k * n + i] = hv;
            s[k * n + i] = if hv >= cfg.v_th { 1.0 } else { 0.0 };
            v[i] = hv * (1.0 - s[k * n + i]);
        }
    }
    let mut gx = vec![0f32; x.len()];
    let mut gv = vec![0f32; n];
    for k in (0..t).rev() {
        for i in 0..n {
            let z = std::f32::consts::PI / 2.0 * cfg.alpha * (h[k * n + i] - cfg.v_th);
            let sg = cfg.alpha / 2.0 / (1.0 + z * z);
            let gh = gs[k * n + i] * sg + gv[i] * (1.0 - s[k * n + i]);
            gx[k * n + i] = gh / cfg.tau;
            gv[i] = gh * (1.0 - 1.0 / cfg.tau);
        }
    }
    (s, gx)
}

fn max_rel(a: &[f32], b: &[f32]) -> f32 {
    let m = b.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-30);
    // Keeps a NaN (`f32::max` would drop it and let a NaN result pass).
    a.iter().zip(b).fold(0f32, |w, (p, q)| {
        let d = (p - q).abs();
        if d.is_nan() || d > w {
            d
        } else {
            w
        }
    }) / m
}

#[test]
fn lif_fused_matches_scalar_reference_across_chunks() {
    // N = 5000 spans several rayon chunks; non-default tau/alpha exercise the configuration.
    for cfg in [
        LifConfig::default(),
        LifConfig {
            tau: 3.0,
            v_th: 0.8,
            v_reset: 0.0,
            alpha: 4.0,
        },
    ] {
        let (t, n) = (7, 5000);
        let x = Var::from_tensor(&Tensor::randn(0.8f32, 1.5, (t, n), &DEV).unwrap()).unwrap();
        let gw = Tensor::randn(0f32, 1.0, (t, n), &DEV).unwrap();
        let (s, count) = lif_multistep(x.as_tensor(), &cfg).unwrap();
        let g = s.mul(&gw).unwrap().sum_all().unwrap().backward().unwrap();
        let (s_ref, gx_ref) = lif_scalar(&v32(x.as_tensor()), &v32(&gw), t, &cfg);
        assert_eq!(v32(&s), s_ref, "spikes");
        assert_eq!(count as f32, s_ref.iter().sum::<f32>());
        let gx = v32(g.get(x.as_tensor()).unwrap());
        assert!(
            max_rel(&gx, &gx_ref) < 1e-6,
            "grad rel err {}",
            max_rel(&gx, &gx_ref)
        );
    }
}

#[test]
fn lif_composed_path_matches_fused_op() {
    // The composed path is what non-CPU devices run; check it on the CPU against the fused op.
    let cfg = LifConfig::default();
    let x = Var::from_tensor(&Tensor::randn(0.8f32, 1.5, (6, 3, 40), &DEV).unwrap()).unwrap();
    let gw = Tensor::randn(0f32, 1.0, (6, 3, 40), &DEV).unwrap();
    let (s1, n1) = lif_multistep(x.as_tensor(), &cfg).unwrap();
    let (s2, n2) = lif_multistep_composed(x.as_tensor(), &cfg).unwrap();
    assert_eq!(v32(&s1), v32(&s2));
    assert_eq!(n1, n2);
    let g1 = s1.mul(&gw).unwrap().sum_all().unwrap().backward().unwrap();
    let g2 = s2.mul(&gw).unwrap().sum_all().unwrap().backward().unwrap();
    let (a, b) = (
        v32(g1.get(x.as_tensor()).unwrap()),
        v32(g2.get(x.as_tensor()).unwrap()),
    );
    assert!(max_rel(&b, &a) < 1e-6);
}

#[test]
fn lif_fires_at_threshold_equality_and_resets() {
    // H = 0.5·2 = 1.0 exactly at t=0 fires; the reset makes the next step start from 0.
    let x = Tensor::new(&[[2.0f32], [1.0], [1.0], [1.0]], &DEV).unwrap();
    let (s, _) = lif_multistep(&x, &LifConfig::default()).unwrap();
    // t0: H=1 fire; t1: H=0.5; t2: H=0.75; t3: H=0.875.
    assert_eq!(v32(&s), vec![1.0, 0.0, 0.0, 0.0]);
}

fn small_sma(t: usize, azo: Option<AzoConfig>) -> (ParamStore, Sma) {
    let store = ParamStore::new(&DEV, 7);
    let mut cfg = SmaConfig::new(8, t);
    cfg.azo = azo;
    let sma = Sma::new(&store, "", &cfg, &FiringRates::new()).unwrap();
    // Larger BN affine so the encoder LIFs fire (default γ=1, β=0 rarely reaches V_th = 1).
    for (name, var) in store.named_parameters() {
        if name.ends_with("bn.bias") {
            var.set(&Tensor::full(0.9f32, var.dims(), &DEV).unwrap())
                .unwrap();
        }
    }
    (store, sma)
}

#[test]
fn sma_shapes_for_t_10_14_16() {
    for (t, t_hid) in [(10, 2), (14, 3), (16, 4)] {
        let (store, sma) = small_sma(t, Some(AzoConfig { rcr: 4, rtr: 4 }));
        let params: HashMap<String, Var> = store.named_parameters().into_iter().collect();
        assert_eq!(
            params["T_before_attention_conv.weight"].dims(),
            &[t_hid, t, 1, 1, 1]
        );
        assert_eq!(
            params["T_after_attention_convs.3.weight"].dims(),
            &[t, t_hid, 1, 1, 1]
        );
        assert_eq!(
            params["C_before_attention_conv.weight"].dims(),
            &[2, 8, 1, 1]
        );
        let x = Tensor::randn(0f32, 1.0, (t, 2, 8, 5, 7), &DEV).unwrap();
        for train in [true, false] {
            let tr = sma.forward_trace(&x, train).unwrap();
            assert_eq!(tr.output.dims(), &[t, 2, 8, 5, 7]);
            assert_eq!(tr.w_alpha.dims(), &[4, t, 2]);
            assert_eq!(tr.w_beta.dims(), &[4, t, 2, 8]);
            assert_eq!(tr.azo.is_some(), train, "AZO runs in training only");
            if let Some(sel) = &tr.azo {
                assert!(sel.time.iter().all(|v| v.len() == t / 4));
                assert!(sel.channels.iter().all(|v| v.len() == 2));
            }
        }
    }
}

#[test]
fn relu_encoders_are_real_valued_and_record_no_rates() {
    let store = ParamStore::new(&DEV, 3);
    let mut cfg = SmaConfig::new(8, 4);
    cfg.t_reduction = 2;
    cfg.activation = snnkit_model::Activation::Relu;
    let rates = FiringRates::new();
    let sma = Sma::new(&store, "", &cfg, &rates).unwrap();
    let x = Tensor::randn(0f32, 1.0, (4, 2, 8, 5, 5), &DEV).unwrap();
    let tr = sma.forward_trace(&x, true).unwrap();
    let m = v32(&tr.m[1]);
    assert!(m.iter().all(|&v| v >= 0.0));
    assert!(
        m.iter().any(|&v| v > 0.0 && v != 1.0),
        "ReLU maps are not binary"
    );
    assert!(rates.snapshot().is_empty());
}

#[test]
fn softmax_over_scales_sums_to_one() {
    let (_, sma) = small_sma(10, None);
    let x = Tensor::randn(0f32, 1.0, (10, 3, 8, 4, 4), &DEV).unwrap();
    let tr = sma.forward_trace(&x, true).unwrap();
    for w in [&tr.w_alpha, &tr.w_beta] {
        let s = v32(&w.sum(0).unwrap());
        assert!(s.iter().all(|v| (v - 1.0).abs() < 1e-6), "{s:?}");
        assert!(v32(w).iter().all(|&v| v > 0.0 && v < 1.0));
    }
    // Without AZO, Z = Σ_n W_α W_β M^n (and Z ∈ [0, 1] for spiking encoders).
    let mut z = tr.output.zeros_like().unwrap();
    for (n, m) in tr.m.iter().enumerate() {
        let wab = tr
            .w_alpha
            .i(n)
            .unwrap()
            .reshape((10, 3, 1))
            .unwrap()
            .broadcast_mul(&tr.w_beta.i(n).unwrap())
            .unwrap();
        z = (z + wab
            .reshape((10, 3, 8, 1, 1))
            .unwrap()
            .broadcast_mul(m)
            .unwrap())
        .unwrap();
    }
    assert!(max_rel(&v32(&z), &v32(&tr.output)) < 1e-6);
    assert!(v32(&tr.output).iter().all(|&v| (0.0..=1.0).contains(&v)));
}

#[test]
fn azo_selection_rules() {
    // N=1 scale, T=4, B=2, C=3. Batch-summed time scores: t0 0.2, t1 0.9, t2 0.3, t3 0.6.
    let w_alpha = [0.1f32, 0.1, 0.5, 0.4, 0.2, 0.1, 0.3, 0.3];
    // Channel scores over selected t ∈ {0, 2} and both samples: c0 high, c1 lowest, c2 middle;
    // t1 and t3 hold very low channel-0 values that must NOT count (not selected timesteps).
    let mut w_beta = vec![0f32; 4 * 2 * 3];
    for t in 0..4 {
        for b in 0..2 {
            let row = if t % 2 == 0 {
                [0.5, 0.1, 0.4]
            } else {
                [0.0, 0.9, 0.9]
            };
            w_beta[(t * 2 + b) * 3..(t * 2 + b) * 3 + 3].copy_from_slice(&row);
        }
    }
    let sel = azo_select(&w_alpha, &w_beta, 1, 4, 2, 3, 2, 1);
    assert_eq!(sel.time, vec![vec![0, 2]]); // ascending score order, like topk(largest=False)
    assert_eq!(sel.channels, vec![vec![1]]);
    assert_eq!(smallest_k(&[3.0, 1.0, 2.0], 2), vec![1, 2]);
    // Replacement map: t=0 is skipped, (t=2, c) <- (t=1, c) for every sample; t=1,2,3 with
    // t and t-1 both selected read the ORIGINAL t-1 (no chaining).
    let rows = azo_source_rows(4, 2, 3, &[3, 0, 2], &[1]);
    let idx = |t: usize, b: usize, c: usize| ((t * 2 + b) * 3 + c) as u32;
    for t in 0..4 {
        for b in 0..2 {
            for c in 0..3 {
                let want = if (t == 2 || t == 3) && c == 1 {
                    idx(t - 1, b, c)
                } else {
                    idx(t, b, c)
                };
                assert_eq!(rows[idx(t, b, c) as usize], want, "t={t} b={b} c={c}");
            }
        }
    }
    // Only t=0 selected: nothing changes.
    let z = Tensor::randn(0f32, 1.0, (4, 2, 3, 2, 2), &DEV).unwrap();
    assert_eq!(v32(&azo_replace(&z, &[0], &[0, 1, 2]).unwrap()), v32(&z));
}

#[test]
fn azo_gradient_routing_matches_finite_differences() {
    let (t, b, c, h, w) = (4, 2, 3, 2, 2);
    let z0 = Tensor::randn(0f64, 1.0, (t, b, c, h, w), &DEV).unwrap();
    let g = Tensor::randn(0f64, 1.0, (t, b, c, h, w), &DEV).unwrap();
    let (ts, cs) = ([2usize, 3], [1usize]);
    let loss = |z: &Tensor| -> f64 {
        let y = azo_replace(z, &ts, &cs).unwrap();
        // Non-linear loss so the FD check is not trivially exact.
        (y.mul(&g).unwrap() + y.sqr().unwrap())
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap()
    };
    let zv = Var::from_tensor(&z0).unwrap();
    let y = azo_replace(zv.as_tensor(), &ts, &cs).unwrap();
    let l = (y.mul(&g).unwrap() + y.sqr().unwrap())
        .unwrap()
        .sum_all()
        .unwrap();
    let grad = l
        .backward()
        .unwrap()
        .get(zv.as_tensor())
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f64>()
        .unwrap();
    let base = z0.flatten_all().unwrap().to_vec1::<f64>().unwrap();
    let eps = 1e-6;
    for i in 0..base.len() {
        let mut p = base.clone();
        p[i] += eps;
        let lp = loss(&Tensor::from_vec(p.clone(), (t, b, c, h, w), &DEV).unwrap());
        p[i] -= 2.0 * eps;
        let lm = loss(&Tensor::from_vec(p, (t, b, c, h, w), &DEV).unwrap());
        let fd = (lp - lm) / (2.0 * eps);
        assert!(
            (fd - grad[i]).abs() < 1e-6,
            "element {i}: fd {fd} autograd {}",
            grad[i]
        );
    }
    // Overwritten entries (t ∈ {2,3}, c = 1) get no gradient.
    let at =
        |tt: usize, bb: usize, cc: usize, k: usize| grad[(((tt * b + bb) * c + cc) * h * w) + k];
    for bb in 0..b {
        for k in 0..h * w {
            assert_eq!(at(3, bb, 1, k), 0.0);
            // t=2 is overwritten by t=1 but is itself the source of t=3.
            assert!(at(2, bb, 1, k) != 0.0);
        }
    }
}

#[test]
fn adaptive_pool_bins_and_values() {
    let bins = |n: usize| (0..3).map(|i| adaptive_bin(i, n, 3)).collect::<Vec<_>>();
    assert_eq!(bins(4), vec![(0, 2), (1, 3), (2, 4)]);
    assert_eq!(bins(5), vec![(0, 2), (1, 4), (3, 5)]);
    assert_eq!(bins(7), vec![(0, 3), (2, 5), (4, 7)]);
    assert_eq!(bins(2), vec![(0, 1), (0, 2), (1, 2)]);
    let x = Tensor::arange(0f32, 25.0, &DEV)
        .unwrap()
        .reshape((1, 1, 5, 5))
        .unwrap();
    let y = v32(&adaptive_avg_pool2d(&x, 3).unwrap());
    // Centre bin rows 1..4, cols 1..4 of 0..25 laid out 5x5: mean = 12.
    assert_eq!(y[4], 12.0);
    assert_eq!(y[0], (0.0 + 1.0 + 5.0 + 6.0) / 4.0);
}

#[test]
fn max_pool_gives_gradient_to_first_maximum() {
    // All-equal window (spike ties): PyTorch routes the gradient to the first element only.
    let x = Var::from_tensor(&Tensor::ones((1, 1, 3, 5), DType::F32, &DEV).unwrap()).unwrap();
    let y = max_pool2x2(x.as_tensor()).unwrap();
    assert_eq!(y.dims(), &[1, 1, 1, 2]); // floor mode
    let g = y.sum_all().unwrap().backward().unwrap();
    let g = v32(g.get(x.as_tensor()).unwrap());
    assert_eq!(
        g,
        vec![1., 0., 1., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0., 0.]
    );
    let x = Tensor::new(&[[[[0f32, 3.], [3., 1.]]]], &DEV).unwrap();
    assert_eq!(v32(&max_pool2x2(&x).unwrap()), vec![3.0]);
    // Fused CPU op and composed path agree on values and gradients (random spikes: many ties).
    let x = Var::from_tensor(
        &Tensor::rand(0f32, 1.0, (2, 3, 7, 9), &DEV)
            .unwrap()
            .ge(0.7)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap(),
    )
    .unwrap();
    let g = Tensor::randn(0f32, 1.0, (2, 3, 3, 4), &DEV).unwrap();
    let (y1, y2) = (
        max_pool2x2(x.as_tensor()).unwrap(),
        max_pool2x2_composed(x.as_tensor()).unwrap(),
    );
    assert_eq!(v32(&y1), v32(&y2));
    let g1 = y1.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
    let g2 = y2.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(
        v32(g1.get(x.as_tensor()).unwrap()),
        v32(g2.get(x.as_tensor()).unwrap())
    );
}

#[test]
fn zero_fan_in_is_an_error() {
    let store = ParamStore::new(&DEV, 0);
    assert!(snnkit_model::layers::Conv2d::new(&store, "c", 0, 4, 3, 1).is_err());
}

#[test]
fn sma_rejects_zero_reductions() {
    for (cr, tr) in [(0, 4), (4, 0)] {
        let mut cfg = SmaConfig::new(8, 4);
        (cfg.c_reduction, cfg.t_reduction) = (cr, tr);
        let store = ParamStore::new(&DEV, 0);
        assert!(Sma::new(&store, "", &cfg, &FiringRates::new()).is_err());
    }
}

#[test]
fn mismatched_shapes_are_errors_not_panics() {
    // BatchNorm over 2 channels fed 3 (the fused CPU op indexes γ/β per channel).
    let store = ParamStore::new(&DEV, 0);
    let bn = BatchNorm::new(&store, "bn", 2).unwrap();
    let x = Tensor::randn(0f32, 1.0, (2, 3, 4, 4), &DEV).unwrap();
    assert!(bn.forward_t(&x, true).is_err());
    // The public LIF op with a step count that does not divide the input (or is zero).
    let x = Tensor::randn(0f32, 1.0, (3, 5), &DEV).unwrap();
    for t in [0, 2] {
        let op = LifOp {
            cfg: LifConfig::default(),
            t,
            spike_count: Default::default(),
        };
        assert!(x.apply_op1(op).is_err(), "t = {t}");
    }
}

#[test]
fn batchnorm_running_statistics_follow_pytorch() {
    let store = ParamStore::new(&DEV, 0);
    let bn = BatchNorm::new(&store, "bn", 2).unwrap();
    let x = Tensor::randn(1f32, 2.0, (3, 2, 4, 4), &DEV).unwrap();
    let y = bn.forward_t(&x, true).unwrap();
    // Normalised output: per channel mean 0, biased variance 1 (up to eps).
    let ym = v32(&y.mean_keepdim((0, 2, 3)).unwrap());
    assert!(ym.iter().all(|m| m.abs() < 1e-5));
    let xs = v32(&x.transpose(0, 1).unwrap().flatten_from(1).unwrap());
    let n = 48usize;
    for ch in 0..2 {
        let v = &xs[ch * n..(ch + 1) * n];
        let mean = v.iter().sum::<f32>() / n as f32;
        let unbiased = v.iter().map(|a| (a - mean).powi(2)).sum::<f32>() / (n - 1) as f32;
        assert!((v32(bn.running_mean.as_tensor())[ch] - 0.1 * mean).abs() < 1e-5);
        assert!((v32(bn.running_var.as_tensor())[ch] - (0.9 + 0.1 * unbiased)).abs() < 1e-5);
    }
    assert_eq!(
        bn.num_batches_tracked
            .as_tensor()
            .to_scalar::<i64>()
            .unwrap(),
        1
    );
    // Eval uses the running statistics and leaves them alone.
    let before = v32(bn.running_mean.as_tensor());
    let ye = bn.forward_t(&x, false).unwrap();
    assert_eq!(before, v32(bn.running_mean.as_tensor()));
    let rm = v32(bn.running_mean.as_tensor());
    let rv = v32(bn.running_var.as_tensor());
    let want = (v32(&x)[0] - rm[0]) / (rv[0] + 1e-5).sqrt();
    assert!((v32(&ye)[0] - want).abs() < 1e-5);
}

#[test]
fn dropout_mask_is_drawn_once_per_sequence() {
    let d = SeqDropout::new(0.5, "others.4", dropout_rng(3));
    let x = Tensor::ones((5, 3, 40), DType::F32, &DEV).unwrap();
    let y = d.forward_t(&x, true).unwrap();
    let mask = v32(&d.last_mask().unwrap());
    assert!(mask.iter().all(|&m| m == 0.0 || m == 2.0));
    assert!(mask.contains(&0.0) && mask.contains(&2.0));
    for t in 0..5 {
        assert_eq!(v32(&y.i(t).unwrap()), mask, "same mask at every timestep");
    }
    assert_eq!(
        v32(&d.forward_t(&x, false).unwrap()),
        v32(&x),
        "identity in eval"
    );
    let inj = Tensor::full(2f32, (3, 40), &DEV).unwrap();
    d.inject_mask(inj.clone());
    assert_eq!(
        v32(&d.forward_t(&x, true).unwrap().i(4).unwrap()),
        v32(&inj)
    );
    assert_ne!(
        v32(&d.forward_t(&x, true).unwrap().i(0).unwrap()),
        v32(&inj),
        "injection is one-shot"
    );
}

fn tiny_cfg(t: usize) -> Vgg8Config {
    Vgg8Config {
        time_steps: t,
        height: 32,
        width: 32,
        widths: [4, 8, 8, 8, 8],
        head: [16, 8],
        azo: Some(AzoConfig { rcr: 4, rtr: 4 }),
        ..Vgg8Config::default()
    }
}

#[test]
fn vgg_default_is_the_released_gesture_network() {
    // The per-dataset settings are the trainer's TOML presets (crates/train/presets); the
    // default is the released DVS128 Gesture network.
    let p = Vgg8Config::default();
    assert_eq!(
        (p.time_steps, p.num_classes, p.height, p.width),
        (16, 11, 128, 128)
    );
    assert_eq!(p.azo, Some(AzoConfig { rcr: 10, rtr: 4 }));
    assert_eq!(p.widths, [64, 128, 256, 512, 512]);
    assert_eq!(p.head_input(), 4608);
    let n = Vgg8Config::default().with_width_multiplier(0.125);
    assert_eq!((n.widths, n.head), ([8, 16, 32, 64, 64], [256, 128]));
    // The paper's parameter count for the full DVS128 network (spec §1.7).
    let full = SmaVgg8::new(&Vgg8Config::default(), &DEV).unwrap();
    assert_eq!(full.store().num_parameters(), 22_452_531);
}

#[test]
fn vgg_config_serde_names_bad_keys_and_writes_no_azo_as_false() {
    // TOML has no null: no AZO is `azo = false`, and it round-trips.
    let c = Vgg8Config {
        azo: None,
        ..Vgg8Config::default()
    };
    let text = toml::to_string(&c).unwrap();
    assert!(text.contains("azo = false"), "{text}");
    assert_eq!(toml::from_str::<Vgg8Config>(&text).unwrap(), c);
    // JSON: checkpoints before this held `null` for no AZO.
    let mut json: serde_json::Value = serde_json::to_value(&c).unwrap();
    json["azo"] = serde_json::Value::Null;
    assert_eq!(serde_json::from_value::<Vgg8Config>(json).unwrap(), c);
    // One ratio given, the other from the default.
    let c: Vgg8Config = toml::from_str("azo = { rcr = 4 }").unwrap();
    assert_eq!(c.azo, Some(AzoConfig { rcr: 4, rtr: 4 }));
    for (bad, key) in [
        ("widht = [1, 2, 3, 4, 5]", "widht"),
        ("azo = { rcx = 4 }", "rcx"),
        ("azo = true", "azo = true"),
    ] {
        let e = toml::from_str::<Vgg8Config>(bad).unwrap_err().to_string();
        assert!(e.contains(key), "{bad}: {e}");
    }
}

#[test]
fn vgg_shapes_for_t_10_14_16_and_names() {
    for t in [10, 14, 16] {
        let net = SmaVgg8::new(&tiny_cfg(t), &DEV).unwrap();
        let x = Tensor::rand(0f32, 3.0, (t, 2, 2, 32, 32), &DEV).unwrap();
        for train in [true, false] {
            let y = net.forward_t(&x, train).unwrap();
            assert_eq!(y.dims(), &[t, 2, 11]);
        }
        let rates = net.firing_rates();
        for k in [
            "block1.2",
            "block2.1.S_Convs.3.lif",
            "block2.3",
            "block3.3",
            "block5.2",
            "others.3",
            "others.6",
        ] {
            assert!(rates.contains_key(k), "missing rate {k}");
        }
        assert_eq!(net.last_dropout_masks().len(), 2);
    }
    let net = SmaVgg8::new(&tiny_cfg(4), &DEV).unwrap();
    let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
    for k in [
        "block1.0.0.weight",
        "block2.1.S_Convs.2.conv.weight",
        "block3.1.T_after_attention_convs.3.weight",
        "block3.2.0.bias",
        "others.8.bias",
    ] {
        assert!(names.iter().any(|n| n == k), "missing {k}");
    }
    let bufs: Vec<String> = net.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert!(bufs
        .iter()
        .any(|n| n == "block2.1.S_Convs.2.bn.running_var"));
    assert!(bufs.iter().any(|n| n == "block4.1.0.num_batches_tracked"));
    // Ablations: no SMA (names shift like a PyTorch Sequential without it), SMA without AZO.
    let plain = SmaVgg8::new(
        &Vgg8Config {
            sma: false,
            ..tiny_cfg(4)
        },
        &DEV,
    )
    .unwrap();
    let names: Vec<String> = plain
        .named_parameters()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(
        names.iter().any(|n| n == "block2.1.0.weight")
            && !names.iter().any(|n| n.contains("S_Convs"))
    );
    let x = Tensor::rand(0f32, 3.0, (4, 1, 2, 32, 32), &DEV).unwrap();
    assert_eq!(plain.forward_t(&x, true).unwrap().dims(), &[4, 1, 11]);
    let no_azo = SmaVgg8::new(
        &Vgg8Config {
            azo: None,
            ..tiny_cfg(4)
        },
        &DEV,
    )
    .unwrap();
    assert_eq!(no_azo.forward_t(&x, true).unwrap().dims(), &[4, 1, 11]);
}

#[test]
fn safetensors_round_trip_restores_outputs_and_buffers() {
    let cfg = tiny_cfg(4);
    let a = SmaVgg8::new(&cfg, &DEV).unwrap();
    let x = Tensor::rand(0f32, 3.0, (4, 2, 2, 32, 32), &DEV).unwrap();
    a.forward_t(&x, true).unwrap(); // moves the running statistics away from their init
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.safetensors");
    a.save_safetensors(&path).unwrap();
    let b = SmaVgg8::new(
        &Vgg8Config {
            init_seed: 99,
            ..cfg.clone()
        },
        &DEV,
    )
    .unwrap();
    assert_ne!(
        v32(&a.forward_t(&x, false).unwrap()),
        v32(&b.forward_t(&x, false).unwrap())
    );
    b.load_safetensors(&path).unwrap();
    assert_eq!(
        v32(&a.forward_t(&x, false).unwrap()),
        v32(&b.forward_t(&x, false).unwrap())
    );
    let nbt: HashMap<String, Tensor> = b.named_buffers().into_iter().collect();
    assert_eq!(
        nbt["block1.1.0.num_batches_tracked"]
            .to_scalar::<i64>()
            .unwrap(),
        1
    );
    // A file from a different architecture is refused with the file named in the error.
    let other = SmaVgg8::new(
        &Vgg8Config {
            widths: [4, 8, 8, 8, 16],
            ..cfg
        },
        &DEV,
    )
    .unwrap();
    let err = other.load_safetensors(&path).unwrap_err().to_string();
    assert!(
        err.contains("w.safetensors") && err.contains("shape"),
        "{err}"
    );
}

#[test]
fn fused_batchnorm_gradients_match_composed_autograd() {
    let store = ParamStore::new(&DEV, 1);
    let bn = BatchNorm::new(&store, "bn", 3).unwrap();
    bn.weight
        .set(&Tensor::new(&[0.5f32, 1.5, -0.7], &DEV).unwrap())
        .unwrap();
    bn.bias
        .set(&Tensor::new(&[0.1f32, -0.2, 0.3], &DEV).unwrap())
        .unwrap();
    let x = Var::from_tensor(&Tensor::randn(0.5f32, 2.0, (4, 3, 5, 6), &DEV).unwrap()).unwrap();
    let g = Tensor::randn(0f32, 1.0, (4, 3, 5, 6), &DEV).unwrap();
    let y = bn.forward_t(x.as_tensor(), true).unwrap();
    let grads = y.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
    // The same normalisation written with composed candle ops (what non-CPU devices run).
    let (w, b) = (bn.weight.as_tensor(), bn.bias.as_tensor());
    let mean = (x.as_tensor().sum_keepdim((0, 2, 3)).unwrap() / 120.0).unwrap();
    let xc = x.as_tensor().broadcast_sub(&mean).unwrap();
    let var = (xc.sqr().unwrap().sum_keepdim((0, 2, 3)).unwrap() / 120.0).unwrap();
    let y2 = xc
        .broadcast_div(&(var + 1e-5).unwrap().sqrt().unwrap())
        .unwrap()
        .broadcast_mul(&w.reshape((1, 3, 1, 1)).unwrap())
        .unwrap()
        .broadcast_add(&b.reshape((1, 3, 1, 1)).unwrap())
        .unwrap();
    assert!(max_rel(&v32(&y), &v32(&y2)) < 1e-6);
    let grads2 = y2.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
    for t in [x.as_tensor(), w, b] {
        let (a, r) = (v32(grads.get(t).unwrap()), v32(grads2.get(t).unwrap()));
        assert!(max_rel(&a, &r) < 1e-5, "rel {}", max_rel(&a, &r));
    }
}

#[test]
fn n_caltech_geometry_with_odd_pooling() {
    // 180×240 pools to 90×120, 45×60, 22×30, 11×15, 5×7 (floor mode), then the 3×3 head pool.
    let cfg = Vgg8Config {
        widths: [2, 4, 4, 4, 4],
        head: [8, 8],
        time_steps: 4,
        azo: Some(AzoConfig { rcr: 2, rtr: 2 }),
        num_classes: 101,
        height: 180,
        width: 240,
        ..Vgg8Config::default()
    };
    let net = SmaVgg8::new(&cfg, &DEV).unwrap();
    let x = Tensor::rand(0f32, 3.0, (4, 1, 2, 180, 240), &DEV).unwrap();
    let tr = net.forward_trace(&x, true).unwrap();
    assert_eq!(tr.output.dims(), &[4, 1, 101]);
    let sizes: Vec<(usize, usize)> = tr
        .blocks
        .iter()
        .map(|b| (b.dims()[3], b.dims()[4]))
        .collect();
    assert_eq!(sizes, vec![(90, 120), (45, 60), (22, 30), (11, 15), (5, 7)]);
    let loss = tr.output.sqr().unwrap().mean_all().unwrap();
    let grads = loss.backward().unwrap();
    for (name, var) in net.named_parameters() {
        assert!(
            grads.get(var.as_tensor()).is_some(),
            "no gradient for {name}"
        );
    }
}

#[test]
fn conv_bias_gradients_match_broadcast_add() {
    let x = Var::from_tensor(&Tensor::randn(0f32, 1.0, (3, 2, 5, 6), &DEV).unwrap()).unwrap();
    let w = Var::from_tensor(&Tensor::randn(0f32, 0.5, (4, 2, 3, 3), &DEV).unwrap()).unwrap();
    let b = Var::from_tensor(&Tensor::randn(0f32, 1.0, 4, &DEV).unwrap()).unwrap();
    let g = Tensor::randn(0f32, 1.0, (3, 4, 5, 6), &DEV).unwrap();
    let y1 = snnkit_model::conv::conv2d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), 1, 1)
        .unwrap();
    let y2 = x
        .as_tensor()
        .conv2d(w.as_tensor(), 1, 1, 1, 1)
        .unwrap()
        .broadcast_add(&b.as_tensor().reshape((1, 4, 1, 1)).unwrap())
        .unwrap();
    assert!(max_rel(&v32(&y1), &v32(&y2)) < 1e-6);
    let g1 = y1.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
    let g2 = y2.mul(&g).unwrap().sum_all().unwrap().backward().unwrap();
    for t in [x.as_tensor(), w.as_tensor(), b.as_tensor()] {
        assert!(max_rel(&v32(g1.get(t).unwrap()), &v32(g2.get(t).unwrap())) < 1e-5);
    }
}
