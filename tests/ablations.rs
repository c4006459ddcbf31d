//! The paper's SMA ablations (Fig. 2 placement T1–T4, S1–S4, position L1–L3; Table 1 scales
//! N2–N6): each builds, trains one epoch on the synthetic set, and names its parameters as a
//! PyTorch `Sequential` with the SMA inserted at its index would. Run with `--nocapture` to see
//! every setting's SMA parameter names.

mod common;

use candle_core::Device;
use snnkit_model::{SmaVgg8, Vgg8Config};
use snnkit_train::{train, NoProgress, TrainOptions, ABLATIONS};

/// Expected (blocks with SMA, Sequential index of the SMA, number of scales) per ablation.
fn expected(name: &str) -> (Vec<usize>, usize, usize) {
    match name {
        "T1" => (vec![], 1, 4),
        "T2" => (vec![1], 1, 4),
        "T3" => (vec![2, 3, 4, 5], 1, 4),
        "T4" => (vec![1, 2, 3, 4, 5], 1, 4),
        "S1" => (vec![3, 5], 1, 4),
        "S2" => (vec![2, 4], 1, 4),
        "S3" | "L1" => (vec![2, 3], 1, 4),
        "S4" => (vec![4, 5], 1, 4),
        "L2" => (vec![2, 3], 2, 4),
        "L3" => (vec![2, 3], 3, 4),
        n => (vec![2, 3], 1, n[1..].parse().unwrap()),
    }
}

#[test]
fn every_ablation_builds_trains_and_names_its_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let cache = common::synthetic_cache(dir.path(), 2, 2, 1_000);

    for (name, what) in ABLATIONS {
        let mut cfg = common::tiny_config(1);
        cfg.dataset = "synthetic".into();
        cfg.data.downsample = 4;
        cfg.data.batch_size = 4;
        cfg.model.apply_ablation(name).unwrap();
        let (blocks, idx, scales) = expected(name);

        // Parameter names.
        let vcfg: Vgg8Config = cfg.model.to_vgg8(4, 2, 32, 32, 0).unwrap();
        let net = SmaVgg8::new(&vcfg, &Device::Cpu).unwrap();
        let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
        let sma_names: Vec<&String> = names.iter().filter(|n| n.contains(".S_Convs.")).collect();
        println!(
            "{name} ({what}): {} parameters; SMA encoder parameters:",
            names.len()
        );
        for n in &sma_names {
            println!("  {n}");
        }
        for b in 1..=5 {
            let has = blocks.contains(&b);
            // BN index: 1, or 2 when an SMA sits before it (L1).
            let bn = if has && idx == 1 { 2 } else { 1 };
            assert!(
                names.contains(&format!("block{b}.{bn}.0.weight")),
                "{name}: BN of block {b} at index {bn}"
            );
            for n in 0..6 {
                let p = format!("block{b}.{idx}.S_Convs.{n}.conv.weight");
                assert_eq!(names.contains(&p), has && n < scales, "{name}: {p}");
            }
            let att = format!(
                "block{b}.{idx}.T_after_attention_convs.{}.weight",
                scales - 1
            );
            assert_eq!(names.contains(&att), has, "{name}: {att}");
        }
        if blocks.is_empty() {
            assert!(sma_names.is_empty(), "{name}");
        }

        // One epoch of training.
        let out = dir.path().join(name);
        let opts = TrainOptions {
            cache: cache.clone(),
            out: out.clone(),
            device: Device::Cpu,
            resume: false,
            stop_after: None,
            init_from: None,
        };
        let res = train(&cfg, &opts, &mut NoProgress).unwrap();
        let m = &res.metrics[0];
        assert!(m.train_loss.is_finite(), "{name}: loss {}", m.train_loss);
        assert_eq!(
            res.summary.parameters,
            net.store().num_parameters(),
            "{name}"
        );
        // The checkpoint holds exactly these names (plus buffers and optimizer state).
        let w = snnkit_train::final_weights(&out).unwrap();
        for n in &names {
            assert!(w.contains_key(n), "{name}: {n} in the checkpoint");
        }
    }
    // An unknown name lists the known ones.
    let mut m = common::tiny_config(1).model;
    let e = m.apply_ablation("T9").unwrap_err().to_string();
    assert!(e.contains("T1") && e.contains("N6"), "{e}");
}
