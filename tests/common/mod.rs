//! Helpers shared by the end-to-end tests (each test binary uses a subset).
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use snnkit_cache::{CacheMeta, CacheWriter, Compression, FrameSetting, SplitBy};
use snnkit_datasets::synthetic::{generate, SynthClass, SynthConfig};
use snnkit_train::TrainConfig;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Writes a small learnable frame cache `dir/{train,test}.h5`: class `c` puts its events in a
/// bright square whose position depends on `c`, plus background noise.
pub fn toy_cache(dir: &Path, classes: usize, n_train: usize, n_test: usize, t: usize, hw: usize) {
    for (split, n, seed) in [("train", n_train, 1u64), ("test", n_test, 2u64)] {
        let meta = CacheMeta {
            dataset: "toy".into(),
            split: split.into(),
            setting: FrameSetting::Frames {
                frames: t,
                split_by: SplitBy::Number,
            },
            height: hw,
            width: hw,
            class_names: (0..classes).map(|c| format!("class{c}")).collect(),
            source_fingerprint: "toy".into(),
            source_root: None,
            compression: Compression::None,
        };
        let mut w =
            CacheWriter::create(&dir.join(format!("{split}.h5")), &meta).expect("create cache");
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        for i in 0..n {
            let c = i % classes;
            let mut counts = vec![0u32; t * 2 * hw * hw];
            let side = hw / 3;
            let (oy, ox) = ((c * 5) % (hw - side), (c * 7 + 3) % (hw - side));
            for ti in 0..t {
                for y in 0..hw {
                    for x in 0..hw {
                        let p = (ti + x) % 2;
                        let inside = y >= oy && y < oy + side && x >= ox && x < ox + side;
                        let v = if inside {
                            rng.random_range(1..4u32)
                        } else {
                            u32::from(rng.random_bool(0.05))
                        };
                        counts[((ti * 2 + p) * hw + y) * hw + x] += v;
                    }
                }
            }
            w.append(&counts, c as u16, &format!("toy/{i}"))
                .expect("append");
        }
        w.finish(&[]).expect("finish cache");
    }
}

/// A tiny network and schedule for tests (seconds on 2 cores).
pub fn tiny_config(epochs: usize) -> TrainConfig {
    let mut cfg = TrainConfig::preset("synthetic").expect("synthetic preset");
    cfg.dataset = "toy".into();
    cfg.epochs = epochs;
    cfg.data.batch_size = 8;
    cfg.data.eval_batch_size = 16;
    cfg.data.downsample = 1;
    cfg.model.vgg8.widths = [4, 8, 8, 8, 8];
    cfg.model.vgg8.head = [16, 16];
    cfg.optimizer.lr = 1e-2;
    cfg.loss = snnkit_train::Loss::Ce;
    cfg.model.vgg8.dropout = 0.0;
    cfg.model.init.bn_bias_init = 0.5;
    cfg.model.init.head_gain = 4.0;
    cfg
}

/// Synthesises a two-class synthetic dataset (rotate clockwise, move left; one test user) into
/// `dir/raw` and converts it into `dir/cache` at T = 4, split by number. Returns the cache root.
pub fn synthetic_cache(
    dir: &Path,
    users: usize,
    repeats: usize,
    events_per_gesture: usize,
) -> PathBuf {
    let raw = dir.join("raw");
    let synth = SynthConfig {
        users,
        test_users: 1,
        classes: vec![SynthClass::RotateCw, SynthClass::MoveLeft],
        repeats,
        gesture_us: 200_000,
        gap_us: 20_000,
        events_per_gesture,
        ..SynthConfig::default()
    };
    generate(&raw, &synth).unwrap();
    let cache = dir.join("cache");
    let setting = FrameSetting::Frames {
        frames: 4,
        split_by: SplitBy::Number,
    };
    snnkit_cache::convert_dataset(
        &snnkit_cache::DatasetConvert::new("synthetic", &raw, setting, &cache),
        &mut |_| ControlFlow::Continue(()),
    )
    .unwrap();
    cache
}
