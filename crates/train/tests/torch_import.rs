//! PyTorch checkpoint import against the oracles in `../shared/fixtures/checkpoints` (`*.ddp.pt`,
//! `torch.save(state_dict)` of DistributedDataParallel models, torch 2.0.1): the tensors must equal
//! those of the parity case they were saved from, and the converted VGG8 weights must reproduce
//! that case's outputs. Bad inputs must give one-line errors. Skips when `../shared` is absent
//! (`SNNKIT_SHARED` moves it).

use candle_core::{DType, Device, Tensor, Var};
use serde_json::Value;
use snnkit_model::{AzoConfig, MsResNet, MsResNetArch, MsResNetConfig, SmaVgg8, Vgg8Config};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

fn shared() -> PathBuf {
    snnkit_testdata::Locator::from_env().root
}

fn checkpoint(name: &str) -> Option<PathBuf> {
    snnkit_testdata::existing(&shared().join("fixtures/checkpoints").join(name))
}

fn load(p: &Path) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(p, &Device::Cpu).unwrap()
}

fn case_meta(folder: &str, name: &str) -> Value {
    let m: Value = serde_json::from_str(
        &std::fs::read_to_string(shared().join("fixtures").join(folder).join("manifest.json"))
            .unwrap(),
    )
    .unwrap();
    m["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("case {name} not in {folder}/manifest.json"))
        .clone()
}

/// Names of the case's tensors with role `param` or `buffer` (the model's `state_dict`).
fn state_names(meta: &Value) -> Vec<String> {
    let mut v: Vec<String> = meta["tensors"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, t)| t["role"] == "param" || t["role"] == "buffer")
        .map(|(k, _)| k.clone())
        .collect();
    v.sort();
    v
}

fn assert_same(a: &Tensor, b: &Tensor, name: &str) {
    assert_eq!(a.dims(), b.dims(), "{name}: shape");
    assert_eq!(a.dtype(), b.dtype(), "{name}: dtype");
    let (a, b) = (
        a.to_dtype(DType::F64).unwrap().flatten_all().unwrap(),
        b.to_dtype(DType::F64).unwrap().flatten_all().unwrap(),
    );
    assert_eq!(
        a.to_vec1::<f64>().unwrap(),
        b.to_vec1::<f64>().unwrap(),
        "{name}: values"
    );
}

/// Converts `file` and checks its tensors are exactly the case's parameters and buffers.
fn convert_and_compare(file: &str, folder: &str, case: &str, out: &Path) {
    let Some(pt) = checkpoint(file) else { return };
    let sd = snnkit_train::convert_torch_checkpoint(&pt, out).unwrap();
    assert!(sd.stripped_ddp_prefix, "the fixtures carry DDP's prefix");
    assert_eq!(sd.source_key, None, "a bare state_dict");
    let meta = case_meta(folder, case);
    let got = load(out);
    let mut names: Vec<String> = got.keys().cloned().collect();
    names.sort();
    assert_eq!(names, state_names(&meta), "names after stripping `module.`");
    let want = load(
        &shared()
            .join("fixtures")
            .join(folder)
            .join(meta["file"].as_str().unwrap()),
    );
    for n in &names {
        assert_same(&got[n], &want[n], n);
    }
    assert!(
        got.iter().all(|(k, t)| t.dtype()
            == if k.ends_with("num_batches_tracked") {
                DType::I64
            } else {
                DType::F32
            }),
        "floats as f32, counters as i64"
    );
}

/// The MS-ResNet case's network, from its manifest entry and the weights' shapes (as the model
/// crate's parity harness reads it).
fn resnet_config(w: &HashMap<String, Tensor>, meta: &Value, input: &[usize]) -> MsResNetConfig {
    let sma_blocks = (0..)
        .take_while(|b| {
            w.contains_key(&format!(
                "conv2_x.{b}.residual_function.2.C_before_attention_conv.weight"
            ))
        })
        .count();
    let azo = meta["azo"].as_bool().unwrap_or(false).then(|| AzoConfig {
        rcr: meta["RCR"].as_u64().unwrap() as usize,
        rtr: meta["RTR"].as_u64().unwrap() as usize,
    });
    let mut cfg = MsResNetConfig {
        arch: MsResNetArch::parse(meta["ctor"].as_str().unwrap()).unwrap(),
        time_steps: meta["T"].as_u64().unwrap() as usize,
        num_classes: w["fc.weight"].dims()[0],
        in_channels: input[1],
        height: input[2],
        width: input[3],
        width_mult: meta["width_k"].as_f64().unwrap_or(1.0),
        sma: sma_blocks > 0,
        sma_blocks,
        t_reduction: meta["T_reduction"].as_f64().unwrap_or(1.5),
        azo,
        ..MsResNetConfig::default()
    };
    if cfg.sma {
        cfg.sma_kernels = (0..)
            .map_while(|n| {
                w.get(&format!(
                    "conv2_x.0.residual_function.2.S_Convs.{n}.conv.weight"
                ))
                .map(|t| t.dims()[2])
            })
            .collect();
        let c0 = w["conv2_x.0.residual_function.2.C_before_attention_conv.weight"].dims()[0];
        cfg.c_reduction = cfg.stage_widths()[0] / c0.max(1);
    }
    cfg
}

#[test]
fn msresnet_checkpoint_reproduces_the_parity_case() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r18.safetensors");
    let case = "ms_resnet18_sma_narrow_T6";
    convert_and_compare(
        "ms_resnet18_sma_narrow_T6.ddp.pt",
        "parity_msresnet",
        case,
        &out,
    );
    if !out.exists() {
        return;
    }
    let meta = case_meta("parity_msresnet", case);
    let fx = load(
        &shared()
            .join("fixtures/parity_msresnet")
            .join(meta["file"].as_str().unwrap()),
    );
    let w = load(&out);
    let cfg = resnet_config(&w, &meta, fx["input"].dims());
    // Eval-mode output from the converted weights plus the case's post-forward statistics.
    let net = MsResNet::new(&cfg, &Device::Cpu).unwrap();
    snnkit_train::load_weights(net.store(), &out).unwrap();
    let after: HashMap<String, Tensor> = net
        .store()
        .state_dict()
        .into_iter()
        .map(|(k, v)| {
            let t = fx.get(&format!("after.{k}")).cloned();
            (k, t.unwrap_or_else(|| v.copy().unwrap()))
        })
        .collect();
    net.store()
        .load_state_dict(&after, true, Path::new(case))
        .unwrap();
    let want = &fx["output_eval"];
    let scale = want
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let y = net.forward_t(&fx["input"], false).unwrap();
    let d = max_abs(&y, want);
    assert!(d <= 1e-5 * scale.max(1.0), "eval output differs by {d}");
}

/// The narrow VGG8's configuration, read off the weights' shapes and the case's constructor.
fn vgg_config(w: &HashMap<String, Tensor>, meta: &Value) -> Vgg8Config {
    let shape = |n: &str| w[n].dims().to_vec();
    let input: Vec<usize> = meta["input_shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let mut cfg = Vgg8Config {
        time_steps: input[0],
        in_channels: input[2],
        height: input[3],
        width: input[4],
        ..Vgg8Config::default()
    };
    for i in 0..5 {
        cfg.widths[i] = shape(&format!("block{}.0.0.weight", i + 1))[0];
    }
    let h1 = shape("others.2.weight");
    cfg.head = [h1[0], shape("others.5.weight")[0]];
    cfg.num_classes = shape("others.8.weight")[0];
    cfg.pool_size = ((h1[1] / cfg.widths[4]) as f64).sqrt().round() as usize;
    cfg.c_reduction = cfg.widths[1] / shape("block2.1.C_before_attention_conv.weight")[0];
    cfg.t_reduction = cfg.time_steps / shape("block2.1.T_before_attention_conv.weight")[0];
    let ctor = meta["constructor"].to_string();
    assert!(ctor.contains("AZO=True, RCR=10, RTR=4"), "{ctor}");
    cfg.azo = Some(AzoConfig { rcr: 10, rtr: 4 });
    cfg
}

fn max_abs(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn vgg8_checkpoint_reproduces_the_parity_case() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("vgg8.safetensors");
    let case = "vgg8_dvs128_narrow_full";
    convert_and_compare("vgg8_dvs128_narrow_full.ddp.pt", "parity", case, &out);
    if !out.exists() {
        return;
    }
    let meta = case_meta("parity", case);
    let fx = load(
        &shared()
            .join("fixtures/parity")
            .join(meta["file"].as_str().unwrap()),
    );
    let w = load(&out);
    let cfg = vgg_config(&w, &meta);
    // Train-mode forward with the case's dropout masks: the stored output.
    let net = SmaVgg8::new(&cfg, &Device::Cpu).unwrap();
    snnkit_train::load_weights(net.store(), &out).unwrap();
    let masks: HashMap<String, Tensor> = fx
        .iter()
        .filter(|(k, _)| k.starts_with("dropout."))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(masks.len(), 2);
    net.set_dropout_masks(&masks).unwrap();
    let x = Var::from_tensor(&fx["input"]).unwrap();
    let y = net.forward_t(x.as_tensor(), true).unwrap();
    let want = &fx["output"];
    let scale = want
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    let d = max_abs(&y, want);
    assert!(d <= 1e-5 * scale.max(1.0), "train output differs by {d}");
    // The BatchNorm running statistics after that forward are the case's `after.*`.
    for (name, t) in net.named_buffers() {
        let r = &fx[&format!("after.{name}")];
        if t.dtype() == DType::I64 {
            assert_same(&t, r, &name);
        } else {
            assert!(max_abs(&t, r) <= 1e-5, "{name}");
        }
    }
    // Eval-mode forward from freshly loaded weights plus `after.*` buffers: `output_eval`.
    let net = SmaVgg8::new(&cfg, &Device::Cpu).unwrap();
    snnkit_train::load_weights(net.store(), &out).unwrap();
    let after: HashMap<String, Tensor> = net
        .store()
        .state_dict()
        .into_iter()
        .map(|(k, v)| {
            let t = fx.get(&format!("after.{k}")).cloned();
            (k, t.unwrap_or_else(|| v.copy().unwrap()))
        })
        .collect();
    net.store()
        .load_state_dict(&after, true, Path::new(case))
        .unwrap();
    let y = net.forward_t(&fx["input"], false).unwrap();
    let d = max_abs(&y, &fx["output_eval"]);
    assert!(d <= 1e-5 * scale.max(1.0), "eval output differs by {d}");

    // Weights that do not fit: one line naming the missing, unexpected and mis-shaped tensors.
    let mut other = cfg.clone();
    other.sma = false;
    other.head[1] += 1;
    let net = SmaVgg8::new(&other, &Device::Cpu).unwrap();
    let e = snnkit_train::load_weights(net.store(), &out)
        .unwrap_err()
        .to_string();
    assert!(!e.contains('\n'), "{e}");
    for part in [
        "vgg8.safetensors",
        "missing (block2.1.0.bias",
        "unexpected (block2.1.C_after_attention_convs.0.bias",
        "wrong shape (others.5.bias: file [32] F32, network [33] F32",
    ] {
        assert!(e.contains(part), "{part:?} not in: {e}");
    }
}

fn one_line_error(bytes: &[u8], name: &str, dir: &Path) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    let e = snnkit_train::read_torch_checkpoint(&p)
        .unwrap_err()
        .to_string();
    assert!(!e.contains('\n'), "{e}");
    assert!(e.contains(name), "names the file: {e}");
    e
}

#[test]
fn bad_inputs_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A legacy (pre-1.6) file starts with pickle protocol 2 and torch's magic number.
    let legacy = [
        0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e,
    ];
    let e = one_line_error(&legacy, "legacy.pt", dir.path());
    assert!(e.contains("legacy") && e.contains("byte 0"), "{e}");
    let e = one_line_error(b"hello world, not a checkpoint", "text.pt", dir.path());
    assert!(e.contains("no zip signature"), "{e}");
    let e = one_line_error(b"PK", "short.pt", dir.path());
    assert!(e.contains("too short"), "{e}");

    // A zip archive holding something else.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("notes/readme.txt", o).unwrap();
        z.write_all(b"just text").unwrap();
        z.finish().unwrap();
    }
    let e = one_line_error(buf.get_ref(), "other.zip", dir.path());
    assert!(
        e.contains("without <name>/data.pkl") && e.contains("notes/readme.txt"),
        "{e}"
    );

    // A data.pkl that is not a pickle.
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut z = zip::ZipWriter::new(&mut buf);
        let o = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        z.start_file("ck/data.pkl", o).unwrap();
        z.write_all(&[0x80, 0x02, 0xff, 0xff]).unwrap();
        z.finish().unwrap();
    }
    let e = one_line_error(buf.get_ref(), "badpickle.pt", dir.path());
    assert!(e.contains("data.pkl byte 2"), "{e}");

    // Truncated real checkpoints: cut in the storages, and cut inside the central directory.
    let Some(pt) = checkpoint("vgg8_dvs128_narrow_full.ddp.pt") else {
        return;
    };
    let bytes = std::fs::read(&pt).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 30] {
        let e = one_line_error(&bytes[..cut], "truncated.pt", dir.path());
        assert!(e.contains("truncated or damaged zip"), "{e}");
        assert!(e.contains(&format!("byte {cut}")), "{e}");
    }
}
