//! Parity of the trainer's losses and optimizers with the authors' PyTorch 2.0.1 code.
//!
//! Reads the `losses` and `optimizers` cases of the manifest in `SNNKIT_PARITY_DIR` (default
//! `../shared/fixtures/parity`; `SNNKIT_SHARED` moves the whole shared folder) and prints one line
//! per case and sub-case with the worst errors. Skips with a message when the folder is absent.
//! Other cases in the manifest belong to the model's parity test.

use candle_core::{DType, Device, Tensor, Var};
use serde_json::Value;
use snnkit_train::{CosineAnnealingLr, Loss, Optimizer, OptimizerConfig, OptimizerKind};
use std::collections::HashMap;
use std::path::PathBuf;

/// The device the cases run on: `SNNKIT_TEST_DEVICE=cuda` (or `cuda:N`) for a GPU, as
/// `tools/scripts/gpu-check.sh` sets it (needs a `--features cuda` build); the CPU otherwise.
/// One device for the whole run: every `Device::new_cuda` call makes a distinct device.
fn test_device() -> Device {
    static DEVICE: std::sync::OnceLock<Device> = std::sync::OnceLock::new();
    DEVICE
        .get_or_init(|| match std::env::var("SNNKIT_TEST_DEVICE").as_deref() {
            Ok(d) if d.starts_with("cuda") => {
                let n = d
                    .strip_prefix("cuda:")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                Device::new_cuda(n).unwrap_or_else(|err| {
                    panic!("SNNKIT_TEST_DEVICE={d}: {err} (needs --features cuda and a GPU)")
                })
            }
            _ => Device::Cpu,
        })
        .clone()
}

fn parity_dir() -> PathBuf {
    if let Ok(d) = std::env::var("SNNKIT_PARITY_DIR") {
        return PathBuf::from(d);
    }
    snnkit_testdata::Locator::from_env()
        .root
        .join("fixtures/parity")
}

/// Worst absolute error and the same relative to the reference's largest magnitude.
fn worst(got: &Tensor, want: &Tensor) -> (f32, f32) {
    let g = got.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let w = want.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(g.len(), w.len(), "element count");
    let max_ref = w.iter().fold(0f32, |a, v| a.max(v.abs()));
    let abs = g
        .iter()
        .zip(&w)
        .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
    (abs, if max_ref > 0.0 { abs / max_ref } else { abs })
}

fn tensor<'a>(t: &'a HashMap<String, Tensor>, name: &str, case: &str) -> &'a Tensor {
    t.get(name)
        .unwrap_or_else(|| panic!("{case}: tensor {name} missing from the file"))
}

/// Real-valued outputs: |Δ| ≤ 1e-5·max|ref| + 1e-6 (the README's suggested port tolerance).
fn check_real(case: &str, what: &str, got: &Tensor, want: &Tensor) -> (f32, f32) {
    let (abs, rel) = worst(got, want);
    let max_ref = {
        let w = want.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        w.iter().fold(0f32, |a, v| a.max(v.abs()))
    };
    assert!(
        abs <= 1e-5 * max_ref + 1e-6,
        "{case}/{what}: worst abs error {abs:e} (rel {rel:e}) over tolerance"
    );
    (abs, rel)
}

fn run_losses(case: &str, t: &HashMap<String, Tensor>) {
    let out = tensor(t, "out", case);
    let label = tensor(t, "label", case).to_dtype(DType::U32).unwrap();
    for (prefix, loss) in [("mse", Loss::Mse), ("tet", Loss::Tet)] {
        let v = Var::from_tensor(out).unwrap();
        let l = loss.compute(v.as_tensor(), &label).unwrap();
        let grads = l.backward().unwrap();
        let g = grads.get(v.as_tensor()).expect("loss has a gradient");
        let (la, _) = check_real(
            case,
            &format!("{prefix}.loss"),
            &l,
            tensor(t, &format!("{prefix}.loss"), case),
        );
        let (ga, gr) = check_real(
            case,
            &format!("{prefix}.grad.out"),
            g,
            tensor(t, &format!("{prefix}.grad.out"), case),
        );
        println!("parity {case}/{prefix}: loss abs {la:.3e}; grad.out abs {ga:.3e} rel {gr:.3e}");
    }
}

fn kind_of(name: &str) -> OptimizerKind {
    // Sub-case names start with the optimizer's name (`adamw_dvs128` is an AdamW).
    for (prefix, k) in [
        ("adamw", OptimizerKind::AdamW),
        ("nadam", OptimizerKind::NAdam),
        ("adam", OptimizerKind::Adam),
        ("sgd", OptimizerKind::Sgd),
    ] {
        if name.starts_with(prefix) {
            return k;
        }
    }
    panic!("optimizers: unknown optimizer sub-case {name:?}");
}

fn run_optimizers(case: &str, t: &HashMap<String, Tensor>, entry: &Value) {
    let param0 = tensor(t, "param0", case);
    let grads = tensor(t, "grads", case);
    let steps = grads.dim(0).unwrap();
    let ctor = entry["constructor"]
        .as_object()
        .expect("optimizers: constructor map");
    assert!(!ctor.is_empty(), "optimizers: no sub-cases");
    for (name, args) in ctor {
        let num = |k: &str, d: f64| args.get(k).and_then(Value::as_f64).unwrap_or(d);
        let defaults = OptimizerConfig::default();
        let cfg = OptimizerConfig {
            kind: kind_of(name),
            lr: num("lr", defaults.lr),
            weight_decay: num(
                "weight_decay",
                if kind_of(name) == OptimizerKind::AdamW {
                    1e-2
                } else {
                    0.0
                },
            ),
            momentum_decay: num("momentum_decay", defaults.momentum_decay),
            eps: num("eps", defaults.eps),
            momentum: num("momentum", 0.0),
            ..defaults
        };
        let var = Var::from_tensor(param0).unwrap();
        let mut opt = Optimizer::new(cfg, vec![("p".into(), var.clone())]);
        let want = tensor(t, &format!("{name}.params"), case);
        let (mut pa, mut pr) = (0f32, 0f32);
        for k in 0..steps {
            let g = grads.get(k).unwrap();
            opt.step(&[Some(g)]).unwrap();
            let (a, r) = check_real(
                case,
                &format!("{name}.params[{k}]"),
                var.as_tensor(),
                &want.get(k).unwrap(),
            );
            pa = pa.max(a);
            pr = pr.max(r);
        }
        let state: HashMap<String, Tensor> = opt.state_tensors().unwrap().into_iter().collect();
        let mut line =
            format!("parity {case}/{name}: {steps} steps, params abs {pa:.3e} rel {pr:.3e}");
        for s in ["exp_avg", "exp_avg_sq"] {
            let key = format!("{name}.{s}");
            if let Some(w) = t.get(&key) {
                let got = &state[&format!("optimizer.p.{s}")];
                let (a, r) = check_real(case, &key, got, w);
                let g = got.to_vec1::<f32>().unwrap();
                let e = w.to_vec1::<f32>().unwrap();
                let exact = g.iter().zip(&e).filter(|(x, y)| x == y).count();
                line += &format!("; {s} abs {a:.3e} rel {r:.3e} ({exact}/{} exact)", e.len());
            }
        }
        if let Some(w) = t.get(&format!("{name}.mu_product")) {
            let got = state["optimizer.p.mu_product"].to_scalar::<f32>().unwrap();
            let want = w.to_scalar::<f32>().unwrap();
            assert_eq!(got, want, "{case}/{name}.mu_product: f32 product differs");
            line += &format!("; mu_product {got} (exact)");
        }
        println!("{line}");
    }
    let cos = entry["observed"]["cosine"]
        .as_object()
        .expect("optimizers: observed.cosine");
    assert!(!cos.is_empty(), "optimizers: no cosine sequences");
    for (ds, c) in cos {
        let base = c["base_lr"].as_f64().unwrap();
        let t_max = c["T_max"].as_u64().unwrap() as usize;
        let want: Vec<f64> = c["lr_float64"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let mut s = CosineAnnealingLr::new(base, t_max, 0.0);
        let mut got = vec![s.lr];
        while got.len() < want.len() {
            got.push(s.step());
        }
        let worst64 = got
            .iter()
            .zip(&want)
            .fold(0f64, |a, (g, w)| a.max((g - w).abs()));
        assert!(
            worst64 <= 1e-15 * base,
            "{case}/cosine.{ds}: worst f64 error {worst64:e}"
        );
        let exact = got.iter().zip(&want).filter(|(g, w)| g == w).count();
        if let Some(w32) = t.get(&format!("cosine.{ds}.lr")) {
            let g32 = Tensor::new(
                got.iter().map(|&v| v as f32).collect::<Vec<_>>(),
                &test_device(),
            )
            .unwrap();
            let (a, _) = worst(&g32, w32);
            assert_eq!(a, 0.0, "{case}/cosine.{ds}: f32 rates differ");
        }
        println!(
            "parity {case}/cosine.{ds}: {} epochs, worst f64 error {worst64:.3e}, {exact}/{} bit-exact",
            want.len() - 1,
            want.len()
        );
    }
}

#[test]
fn parity_losses_and_optimizers() {
    let dir = parity_dir();
    // Skips when absent, fails under SNNKIT_REQUIRE_SHARED=1.
    let Some(manifest_path) = snnkit_testdata::existing(&dir.join("manifest.json")) else {
        return;
    };
    let text = std::fs::read_to_string(&manifest_path).expect("manifest.json reads");
    let manifest: Value = serde_json::from_str(&text).expect("manifest.json parses");
    let cases = manifest["cases"].as_array().expect("manifest cases list");
    let mut ran = 0;
    for entry in cases {
        let name = entry["name"].as_str().expect("case name");
        if name != "losses" && name != "optimizers" {
            continue; // the model crate's parity test owns the other cases
        }
        let file = dir.join(entry["file"].as_str().expect("case file"));
        let t = candle_core::safetensors::load(&file, &test_device())
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        match name {
            "losses" => run_losses(name, &t),
            _ => run_optimizers(name, &t, entry),
        }
        ran += 1;
    }
    assert_eq!(ran, 2, "manifest must list both `losses` and `optimizers`");
}
