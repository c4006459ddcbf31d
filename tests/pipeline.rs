//! The whole pipeline through the library APIs: synthetic AEDAT 3.1 recordings → HDF5 frame cache
//! → a short training of a tiny SMA-VGG8 (SMA and AZO on) → evaluation of the best checkpoint.
//! The loss must fall and the held-out accuracy must beat chance.

mod common;

use candle_core::Device;
use snnkit_cache::{convert_dataset, DatasetConvert, FrameSetting, SplitBy};
use snnkit_datasets::synthetic::{generate, SynthClass, SynthConfig};
use snnkit_train::{evaluate_checkpoint, train, NoProgress, TrainOptions};
use std::ops::ControlFlow;

#[test]
fn synth_convert_train_eval() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let synth = SynthConfig {
        users: 4,
        test_users: 1,
        classes: vec![
            SynthClass::RotateCw,
            SynthClass::MoveLeft,
            SynthClass::Expand,
        ],
        repeats: 4,
        gesture_us: 200_000,
        gap_us: 20_000,
        events_per_gesture: 3_000,
        ..SynthConfig::default()
    };
    let s = generate(&raw, &synth).unwrap();
    assert_eq!((s.train_samples, s.test_samples), (36, 12));

    let cache = dir.path().join("cache");
    let setting = FrameSetting::Frames {
        frames: 4,
        split_by: SplitBy::Number,
    };
    let conv = convert_dataset(
        &DatasetConvert::new("synthetic", &raw, setting, &cache),
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap();
    assert_eq!(conv.samples, 48);

    let mut cfg = common::tiny_config(10);
    cfg.dataset = "synthetic".into();
    // 128 -> 32 px.
    cfg.data.downsample = 4;
    // Small batches: more BatchNorm running-statistic updates, so eval mode catches up with train
    // mode within the few epochs of this test.
    cfg.data.batch_size = 4;
    let out = dir.path().join("run");
    let opts = TrainOptions {
        cache: cache.clone(),
        out: out.clone(),
        device: Device::Cpu,
        resume: false,
        stop_after: None,
        init_from: None,
    };
    let res = train(&cfg, &opts, &mut NoProgress).unwrap();
    let m = &res.metrics;
    for e in m {
        println!("{}", epoch_line(e));
    }
    assert_eq!(m.len(), 10);
    for f in [
        "config.toml",
        "metrics.jsonl",
        "last.safetensors",
        "best.safetensors",
        "curves.png",
        "summary.json",
    ] {
        assert!(out.join(f).is_file(), "{f} written");
    }
    let first = m.first().unwrap().train_loss;
    let last = m.last().unwrap().train_loss;
    assert!(
        last < first,
        "training loss falls: epoch 1 {first}, epoch 10 {last}"
    );
    let chance = 1.0 / 3.0;
    assert!(
        res.summary.best_test_acc > chance + 0.1,
        "best held-out accuracy {} is not above chance {chance}",
        res.summary.best_test_acc
    );
    assert!(
        m.iter().all(|e| !e.firing_rates.is_empty()),
        "firing rates recorded"
    );

    let report = evaluate_checkpoint(
        &out.join("best.safetensors"),
        &cache,
        None,
        None,
        &Device::Cpu,
        &mut NoProgress,
    )
    .unwrap();
    assert_eq!(report.samples, 12);
    assert_eq!(report.epoch, res.summary.best_epoch);
    // Evaluating the saved best checkpoint reproduces the accuracy the run recorded for it.
    assert_eq!(report.accuracy, res.summary.best_test_acc);
    assert_eq!(report.confusion.iter().flatten().sum::<u64>(), 12);
    assert_eq!(report.per_class.len(), 3);
}

fn epoch_line(m: &snnkit_train::EpochMetrics) -> String {
    format!(
        "epoch {} lr {:.2e} train loss {:.4} acc {:.3} test loss {:.4} acc {:.3} rates {:?}",
        m.epoch, m.lr, m.train_loss, m.train_acc, m.test_loss, m.test_acc, m.firing_rates
    )
}
