//! A run stopped after epoch k and resumed with `--resume` ends with the same weights, optimizer
//! state and metrics (wall times aside) as a run that never stopped, and writes byte-identical
//! checkpoint files (CPU).

mod common;

use candle_core::Device;
use snnkit_train::{final_weights, read_jsonl, train, NoProgress, TrainOptions};

#[test]
fn stopped_and_resumed_run_equals_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    common::toy_cache(&cache, 3, 24, 12, 4, 32);
    let mut cfg = common::tiny_config(3);
    // Dropout and augmentation on, so the checkpointed dropout RNG state and the per-epoch
    // augmentation draws are part of what must match.
    cfg.model.vgg8.dropout = 0.25;
    cfg.data.hflip = true;
    cfg.data.max_shift = 2;
    let opts = |out: &str, stop_after| TrainOptions {
        cache: cache.clone(),
        out: dir.path().join(out),
        device: Device::Cpu,
        resume: true,
        stop_after,
        init_from: None,
    };
    let full = train(&cfg, &opts("full", None), &mut NoProgress).unwrap();
    assert_eq!(full.metrics.len(), 3);

    // "Kill" after epoch 1: the folder holds epoch 1's checkpoint and metrics only.
    let part = train(&cfg, &opts("split", Some(1)), &mut NoProgress).unwrap();
    assert_eq!(part.metrics.len(), 1);
    // A kill between writing metrics.jsonl and last.safetensors leaves a metrics line for an
    // epoch the checkpoint does not hold: resume must drop it and redo the epoch.
    let mpath = part.out.join("metrics.jsonl");
    let text = std::fs::read_to_string(&mpath).unwrap();
    let stale = text.replacen("\"epoch\":1,", "\"epoch\":2,", 1);
    assert_ne!(stale, text, "metrics.jsonl starts with the epoch field");
    std::fs::write(&mpath, text.clone() + &stale).unwrap();
    assert_eq!(read_jsonl(&mpath).unwrap().len(), 2);
    // A kill between writing `last` and `best` (written in that order) leaves `best` behind `last`;
    // here it is missing altogether, and the resume restores it.
    std::fs::remove_file(part.out.join("best.safetensors")).unwrap();
    let resumed = train(&cfg, &opts("split", None), &mut NoProgress).unwrap();
    assert_eq!(resumed.metrics.len(), 3);
    // The checkpoints are the same bytes, header (metadata key order) included.
    for name in ["last.safetensors", "best.safetensors"] {
        let a = std::fs::read(full.out.join(name)).unwrap();
        let b = std::fs::read(resumed.out.join(name)).unwrap();
        assert!(
            a == b,
            "{name} differs between the resumed and the uninterrupted run"
        );
    }

    let wa = final_weights(&full.out).unwrap();
    let wb = final_weights(&resumed.out).unwrap();
    assert_eq!(wa.keys().collect::<Vec<_>>(), wb.keys().collect::<Vec<_>>());
    assert!(
        wa.keys().any(|k| k.starts_with("optimizer.")),
        "optimizer state is checkpointed"
    );
    for (k, a) in &wa {
        assert_eq!(a, &wb[k], "tensor {k} differs after resume");
    }
    let ma = read_jsonl(&full.out.join("metrics.jsonl")).unwrap();
    let mb = read_jsonl(&resumed.out.join("metrics.jsonl")).unwrap();
    let strip =
        |v: &[snnkit_train::EpochMetrics]| v.iter().map(|m| m.without_timing()).collect::<Vec<_>>();
    assert_eq!(strip(&ma), strip(&mb));
    // The run actually trained: the parameters moved and the loss is finite.
    assert!(ma.iter().all(|m| m.train_loss.is_finite()));
    assert_ne!(ma[0].train_loss, ma[2].train_loss);
}

#[test]
fn non_finite_loss_stops_the_run_with_its_epoch_and_batch() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    common::toy_cache(&cache, 3, 16, 8, 4, 32);
    let mut cfg = common::tiny_config(3);
    // Adam's step is ~lr per element: 1e30 sends the weights, and the MSE of the output, to inf.
    cfg.optimizer.lr = 1e30;
    cfg.loss = snnkit_train::Loss::Mse;
    let opts = TrainOptions {
        cache,
        out: dir.path().join("run"),
        device: Device::Cpu,
        resume: false,
        stop_after: None,
        init_from: None,
    };
    let err = train(&cfg, &opts, &mut NoProgress).unwrap_err();
    match &err {
        snnkit_train::Error::NonFiniteLoss { value, epoch, .. } => {
            assert!(!value.is_finite());
            assert!(*epoch >= 1);
        }
        other => panic!("expected NonFiniteLoss, got {other}"),
    }
    assert!(err.to_string().contains("diverged"), "{err}");
}
