//! `snnkit explain` through the library on the synthetic dataset: a short SMA-VGG8 run and a VGG8
//! without SMA, then the analysis. Scale weights must sum to 1 over scales per module, time step
//! and sample; firing rates must equal what evaluation reports for the same samples; the images
//! and `report.json` must be written. Also checks `evaluate_weights` (eval `--init-from`).

mod common;

use candle_core::Device;
use snnkit_train::{
    evaluate_checkpoint, evaluate_weights, explain, train, ExplainOptions, NoProgress, TrainOptions,
};
use std::path::Path;

fn is_png(p: &Path) -> bool {
    std::fs::read(p)
        .map(|b| b.get(1..4) == Some(b"PNG"))
        .unwrap_or(false)
}

#[test]
fn explain_synthetic_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let cache = common::synthetic_cache(dir.path(), 3, 3, 2_000);

    let run = |name: &str, sma: bool| {
        let mut cfg = common::tiny_config(1);
        cfg.dataset = "synthetic".into();
        cfg.data.downsample = 4;
        cfg.data.batch_size = 4;
        cfg.model.vgg8.sma = sma;
        if !sma {
            cfg.model.vgg8.azo = None;
        }
        let out = dir.path().join(name);
        let opts = TrainOptions {
            cache: cache.clone(),
            out: out.clone(),
            device: Device::Cpu,
            resume: false,
            stop_after: None,
            init_from: None,
        };
        train(&cfg, &opts, &mut NoProgress).unwrap();
        (cfg, out.join("best.safetensors"))
    };
    let (cfg, sma_ck) = run("sma", true);
    let (_, plain_ck) = run("plain", false);

    let out = dir.path().join("explain");
    let opts = ExplainOptions {
        heatmaps_per_class: 1,
        compare: Some(plain_ck.clone()),
        batch_size: Some(5),
        ..ExplainOptions::default()
    };
    let rep = explain(&sma_ck, &cache, &out, &opts, &Device::Cpu, &mut NoProgress).unwrap();
    assert_eq!(rep.models.len(), 2);
    let eval =
        evaluate_checkpoint(&sma_ck, &cache, None, None, &Device::Cpu, &mut NoProgress).unwrap();
    let m = &rep.models[0];
    assert_eq!(m.samples, eval.samples);
    assert_eq!(m.accuracy, eval.accuracy);
    // Firing rates equal evaluation's for the same samples (batching differs: 5 against 16).
    assert_eq!(m.spikes.len(), eval.firing_rates.len());
    for l in &m.spikes {
        let want = eval.firing_rates[&l.layer];
        assert!(
            (l.firing_rate - want).abs() <= 1e-9 * want.max(1e-9),
            "{}: {} vs eval {want}",
            l.layer,
            l.firing_rate
        );
        let per_step: f64 = l.spikes_per_step.iter().sum();
        assert!((per_step - l.spikes_per_sample).abs() <= 1e-9 * per_step.max(1.0));
    }
    // Scale weights: a softmax over scales per module, time step and sample.
    assert_eq!(m.scale_importance.len(), 2, "SMA in blocks 2 and 3");
    for s in &m.scale_importance {
        assert!(s.max_sum_error < 1e-5, "{}: {}", s.module, s.max_sum_error);
        assert_eq!(s.kernels, vec![1, 3, 5, 7]);
        for c in &s.per_class {
            for v in [&c.temporal, &c.channel] {
                assert!((v.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{v:?}");
            }
            assert_eq!(c.temporal_per_step.len(), 4);
            for row in c.temporal_per_step.iter().chain(&c.channel_per_step) {
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-5, "{row:?}");
            }
        }
    }
    // The same invariant on the raw recording, per sample.
    let ck = snnkit_train::checkpoint::load(&sma_ck, &Device::Cpu).unwrap();
    let (_, net) = snnkit_train::model_from_checkpoint(&ck, &Device::Cpu).unwrap();
    let snnkit_model::Network::Vgg8(net) = net else {
        panic!("an SMA-VGG8 checkpoint")
    };
    let x = candle_core::Tensor::rand(0f32, 2f32, (4, 3, 2, 32, 32), &Device::Cpu).unwrap();
    let x = x.floor().unwrap();
    let recd = net.forward_recorded(&x).unwrap();
    for (module, (wa, wb)) in &recd.scale_weights {
        assert_eq!(wa.dims(), &[4, 4, 3], "{module}: [N, T, B]");
        for w in [wa.sum(0).unwrap(), wb.sum(0).unwrap()] {
            let err = (w - 1.0).unwrap().abs().unwrap().max_all().unwrap();
            assert!(err.to_scalar::<f32>().unwrap() < 1e-5, "{module}");
        }
        assert_eq!(&wb.dims()[..3], &[4, 4, 3], "{module}: W_beta [N, T, B, C]");
    }
    // Spike counts compared: the network without SMA has no SMA encoder layers.
    let plain = &rep.models[1];
    assert!(!plain.sma && plain.scale_importance.is_empty());
    assert!(plain.spikes.iter().all(|l| !l.layer.contains("S_Convs")));
    // Energy: SOPs from measured rates, ANN MACs from the shapes.
    let e = &m.energy;
    assert!(e.sops > 0.0 && e.ann_macs > 0.0 && e.snn_uj > 0.0);
    let first = &e.layers[0];
    assert_eq!(
        (first.layer.as_str(), first.kind.as_str()),
        ("block1.0.0", "mac")
    );
    let b2 = e.layers.iter().find(|l| l.layer == "block2.0.0").unwrap();
    assert_eq!(b2.kind, "sop");
    let want = b2.input_rate.unwrap() * 4.0 * b2.ann_macs;
    assert!((b2.ops - want).abs() <= 1e-9 * want.max(1.0));

    // Files: report, spike counts, scale importance per module, heatmaps per layer and class.
    assert!(out.join("report.json").is_file());
    let text = std::fs::read_to_string(out.join("report.json")).unwrap();
    for key in [
        "definitions",
        "firing_rate",
        "scale_importance",
        "energy",
        "sop",
    ] {
        assert!(text.contains(key), "{key}");
    }
    for f in &rep.files {
        assert!(is_png(&out.join(f)), "{f}");
    }
    for f in [
        "spike_counts.png",
        "scale_importance_block2.1.png",
        "scale_importance_block3.1.png",
    ] {
        assert!(rep.files.iter().any(|g| g == f), "{f} in {:?}", rep.files);
    }
    let heat = rep
        .files
        .iter()
        .filter(|f| f.starts_with("heatmap_block1.2_"))
        .count();
    assert_eq!(heat, 2, "one heatmap of block1.2 per class");

    // Bare weights evaluate like the checkpoint they come from (eval --init-from).
    let w = evaluate_weights(
        &sma_ck,
        &cfg,
        &cache,
        None,
        None,
        &Device::Cpu,
        &mut NoProgress,
    )
    .unwrap();
    assert_eq!(w.accuracy, eval.accuracy);
    assert_eq!(w.firing_rates, eval.firing_rates);
}
