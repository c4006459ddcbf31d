//! The ImageNet recipe end to end on the synthetic image set (`snnkit synth --images`): a narrow
//! SMA-MS-ResNet-18 (`ms-resnet18-synthetic`) trains from PNG files decoded on the fly, its loss
//! falls and its held-out accuracy beats chance; a run stopped after epoch k and resumed ends
//! with the same weights and metrics as one that never stopped; evaluation reports top-1/top-5.

use candle_core::Device;
use snnkit_datasets::synthetic_images::{generate, ImageSynthConfig};
use snnkit_train::{
    evaluate_checkpoint, final_weights, read_jsonl, train, NoProgress, TrainConfig, TrainOptions,
};

#[test]
fn ms_resnet18_synthetic_learns_resumes_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("images");
    let synth = ImageSynthConfig {
        classes: 4,
        train_per_class: 24,
        val_per_class: 8,
        ..Default::default()
    };
    generate(&synth, &root, |_, _| {}).unwrap();
    let mut cfg = TrainConfig::preset("ms-resnet18-synthetic").unwrap();
    cfg.epochs = 4;
    let opts = |out: &str, stop_after| TrainOptions {
        cache: root.clone(),
        out: dir.path().join(out),
        device: Device::Cpu,
        resume: true,
        stop_after,
        init_from: None,
    };
    let full = train(&cfg, &opts("full", None), &mut NoProgress).unwrap();
    let m = &full.metrics;
    assert_eq!(m.len(), 4);
    assert!(
        m[3].train_loss < m[0].train_loss,
        "loss falls: {:?}",
        m.iter().map(|e| e.train_loss).collect::<Vec<_>>()
    );
    assert!(
        full.summary.best_test_acc > 0.5,
        "held-out accuracy {} (chance 0.25)",
        full.summary.best_test_acc
    );
    assert_eq!(
        m[3].test_top5, 1.0,
        "4 classes: the label is always in the top 5"
    );

    let part = train(&cfg, &opts("split", Some(2)), &mut NoProgress).unwrap();
    assert_eq!(part.metrics.len(), 2);
    let resumed = train(&cfg, &opts("split", None), &mut NoProgress).unwrap();
    let (wa, wb) = (
        final_weights(&full.out).unwrap(),
        final_weights(&resumed.out).unwrap(),
    );
    assert_eq!(wa.keys().collect::<Vec<_>>(), wb.keys().collect::<Vec<_>>());
    assert!(wa
        .keys()
        .any(|k| k.starts_with("conv2_x.0.residual_function")));
    for (k, a) in &wa {
        assert_eq!(a, &wb[k], "tensor {k} differs after resume");
    }
    let strip =
        |v: &[snnkit_train::EpochMetrics]| v.iter().map(|m| m.without_timing()).collect::<Vec<_>>();
    // Both read back from metrics.jsonl, as the resumed run's first epochs are.
    let ma = read_jsonl(&full.out.join("metrics.jsonl")).unwrap();
    let mb = read_jsonl(&resumed.out.join("metrics.jsonl")).unwrap();
    assert_eq!(strip(&ma), strip(&mb));

    let report = evaluate_checkpoint(
        &full.out.join("best.safetensors"),
        &root,
        None,
        Some(7),
        &Device::Cpu,
        &mut NoProgress,
    )
    .unwrap();
    assert_eq!(report.samples, 32);
    assert_eq!(report.class_names.len(), 4);
    assert!((report.accuracy - full.summary.best_test_acc).abs() < 1e-9);
    assert_eq!(report.top5, 1.0);
    assert_eq!(report.confusion.iter().flatten().sum::<u64>(), 32);
}
