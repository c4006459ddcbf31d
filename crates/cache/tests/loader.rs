//! Loader behaviour: batch layout, labels follow samples, determinism, drop_last, augmentation, downsampling.

mod common;

use std::path::{Path, PathBuf};

use candle_core::Device;
use common::{meta, sample};
use snnkit_cache::{Augment, CacheWriter, Downsample, Loader, LoaderConfig, Pool};

const T: usize = 4;
const H: usize = 16;
const W: usize = 20;
const FL: usize = 2 * H * W;

/// Writes `n` samples; sample i has label i % 3 and a count pattern derived from i.
fn cache_with(dir: &Path, n: usize, make: impl Fn(usize) -> Vec<u32>) -> PathBuf {
    let path = dir.join("l.h5");
    let mut w = CacheWriter::create(&path, &meta(T, H, W, 3)).unwrap();
    for i in 0..n {
        w.append(&make(i), (i % 3) as u16, &format!("f{i}#0"))
            .unwrap();
    }
    w.finish(&[]).unwrap();
    path
}

/// `[T, B, 2, H, W]` → per-sample `[T, 2, H, W]` vectors.
fn unbatch(frames: &candle_core::Tensor) -> Vec<Vec<f32>> {
    let dims = frames.dims().to_vec();
    let (t, b, rest) = (dims[0], dims[1], dims[2] * dims[3] * dims[4]);
    let flat: Vec<f32> = frames.flatten_all().unwrap().to_vec1().unwrap();
    (0..b)
        .map(|bi| {
            (0..t)
                .flat_map(|ti| flat[(ti * b + bi) * rest..][..rest].to_vec())
                .collect()
        })
        .collect()
}

#[test]
fn eval_batches_are_time_major_and_labels_follow_samples() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<Vec<u32>> = (0..7).map(|i| sample(i as u64, T * FL, 30)).collect();
    let path = cache_with(dir.path(), 7, |i| samples[i].clone());
    for limit in [0, u64::MAX] {
        let cfg = LoaderConfig {
            in_memory_limit: limit,
            ..LoaderConfig::eval(3)
        };
        let loader = Loader::open(&path, cfg, &Device::Cpu).unwrap();
        assert_eq!(loader.in_memory(), limit > 0);
        assert_eq!(loader.batches_per_epoch(), 3);
        let batches: Vec<_> = loader.epoch(0).map(Result::unwrap).collect();
        assert_eq!(batches.len(), 3);
        assert_eq!(batches[2].indices, vec![6]);
        for batch in &batches {
            assert_eq!(batch.frames.dims(), &[T, batch.indices.len(), 2, H, W]);
            assert_eq!(batch.labels.to_vec1::<u32>().unwrap(), batch.labels_vec);
            for (b, got) in unbatch(&batch.frames).iter().enumerate() {
                let i = batch.indices[b];
                assert_eq!(batch.labels_vec[b], (i % 3) as u32);
                let want: Vec<f32> = samples[i].iter().map(|&v| v as f32).collect();
                assert_eq!(got, &want, "sample {i}");
            }
        }
    }
}

#[test]
fn shuffle_is_seeded_per_epoch_and_drop_last_drops() {
    let dir = tempfile::tempdir().unwrap();
    // Each sample's counts encode its index, so the frames prove which sample a label travelled with.
    let path = cache_with(dir.path(), 10, |i| vec![i as u32 + 1; T * FL]);
    let loader = Loader::open(
        &path,
        LoaderConfig {
            seed: 7,
            ..LoaderConfig::train(4)
        },
        &Device::Cpu,
    )
    .unwrap();
    assert_eq!(loader.batches_per_epoch(), 2);
    let order =
        |l: &Loader, e| -> Vec<usize> { l.epoch(e).flat_map(|b| b.unwrap().indices).collect() };
    let e0 = order(&loader, 0);
    assert_eq!(e0.len(), 8, "drop_last keeps 2 full batches of 4");
    assert_eq!(e0, order(&loader, 0), "same seed and epoch, same order");
    assert_ne!(e0, order(&loader, 1), "epochs differ");
    let other = Loader::open(
        &path,
        LoaderConfig {
            seed: 8,
            ..LoaderConfig::train(4)
        },
        &Device::Cpu,
    )
    .unwrap();
    assert_ne!(e0, order(&other, 0), "seeds differ");
    for batch in loader.epoch(3) {
        let batch = batch.unwrap();
        for (b, s) in unbatch(&batch.frames).iter().enumerate() {
            let i = batch.indices[b];
            assert!(s.iter().all(|&v| v == (i + 1) as f32));
            assert_eq!(batch.labels_vec[b], (i % 3) as u32);
        }
    }
    // Dropping an iterator midway stops its thread without hanging.
    let mut it = loader.epoch(4);
    assert!(it.next().is_some());
    drop(it);
}

/// One event per frame at a frame-dependent position inside the border and far enough left of the centre that a
/// flip cannot be mistaken for a shift (x in 3..=5 of 20), count = label + 1.
fn one_event_per_frame(i: usize) -> Vec<u32> {
    let mut s = vec![0u32; T * FL];
    for t in 0..T {
        let (c, y, x) = (t % 2, 5 + t, 3 + (t + i) % 3);
        s[t * FL + (c * H + y) * W + x] = (i % 3) as u32 + 1;
    }
    s
}

#[test]
fn flip_and_shift_move_events_consistently_across_frames() {
    let dir = tempfile::tempdir().unwrap();
    let n = 12;
    let path = cache_with(dir.path(), n, one_event_per_frame);
    let k = 3i64;
    let cfg = LoaderConfig {
        augment: Augment {
            hflip: true,
            max_shift: k as usize,
        },
        ..LoaderConfig {
            seed: 5,
            ..LoaderConfig::train(4)
        }
    };
    let loader = Loader::open(&path, cfg, &Device::Cpu).unwrap();
    let (mut flips, mut shifts) = (0, std::collections::BTreeSet::new());
    for epoch in 0..4 {
        for batch in loader.epoch(epoch) {
            let batch = batch.unwrap();
            for (b, s) in unbatch(&batch.frames).iter().enumerate() {
                let i = batch.indices[b];
                assert_eq!(batch.labels_vec[b], (i % 3) as u32);
                let mut params = None;
                for t in 0..T {
                    let nz: Vec<(usize, f32)> = s[t * FL..(t + 1) * FL]
                        .iter()
                        .copied()
                        .enumerate()
                        .filter(|(_, v)| *v != 0.0)
                        .collect();
                    assert_eq!(
                        nz.len(),
                        1,
                        "epoch {epoch} sample {i} frame {t}: one event stays in frame"
                    );
                    let (pos, v) = nz[0];
                    assert_eq!(v, ((i % 3) + 1) as f32, "count travels with its sample");
                    let (c, y, x) = (pos / (H * W), pos % (H * W) / W, pos % W);
                    let (c0, y0, x0) = (t % 2, 5 + t, 3 + (t + i) % 3);
                    assert_eq!(c, c0, "polarity channel unchanged");
                    let dy = y as i64 - y0 as i64;
                    // Either unflipped (x = x0 + dx) or flipped (x = W-1-x0 + dx); the shift must be within ±k.
                    let dx_plain = x as i64 - x0 as i64;
                    let dx_flip = x as i64 - (W - 1 - x0) as i64;
                    let flip = dx_plain.abs() > k;
                    let dx = if flip { dx_flip } else { dx_plain };
                    assert!(
                        dx.abs() <= k && dy.abs() <= k,
                        "shift ({dx},{dy}) beyond ±{k}"
                    );
                    match params {
                        None => params = Some((flip, dx, dy)),
                        Some(p) => assert_eq!(
                            p,
                            (flip, dx, dy),
                            "same augmentation for all frames of sample {i}"
                        ),
                    }
                }
                let (flip, dx, dy) = params.unwrap();
                flips += usize::from(flip);
                shifts.insert((dx, dy));
            }
        }
        // Same epoch twice → identical augmented batches (independent of the prefetch thread).
        let a: Vec<Vec<f32>> = loader
            .epoch(epoch)
            .flat_map(|b| unbatch(&b.unwrap().frames))
            .collect();
        let b: Vec<Vec<f32>> = loader
            .epoch(epoch)
            .flat_map(|b| unbatch(&b.unwrap().frames))
            .collect();
        assert_eq!(a, b);
    }
    // Reading chunk by chunk gives the same augmented batches as the in-memory copy.
    let disk = Loader::open(
        &path,
        LoaderConfig {
            in_memory_limit: 0,
            ..loader.config().clone()
        },
        &Device::Cpu,
    )
    .unwrap();
    assert!(loader.in_memory() && !disk.in_memory());
    let a: Vec<Vec<f32>> = loader
        .epoch(2)
        .flat_map(|b| unbatch(&b.unwrap().frames))
        .collect();
    let b: Vec<Vec<f32>> = disk
        .epoch(2)
        .flat_map(|b| unbatch(&b.unwrap().frames))
        .collect();
    assert_eq!(a, b);
    let draws = 4 * loader.batches_per_epoch() * 4;
    assert!(
        flips > draws / 5 && flips < draws * 4 / 5,
        "flip rate {flips}/{draws} far from 0.5"
    );
    assert!(shifts.len() > 10, "shifts barely vary: {shifts:?}");
}

#[test]
fn downsampling_sums_and_averages_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<Vec<u32>> = (0..3).map(|i| sample(i as u64 + 40, T * FL, 9)).collect();
    let path = cache_with(dir.path(), 3, |i| samples[i].clone());
    for (mode, scale) in [(Pool::Sum, 1.0f32), (Pool::Average, 0.25)] {
        let cfg = LoaderConfig {
            downsample: Some(Downsample { factor: 2, mode }),
            ..LoaderConfig::eval(3)
        };
        let loader = Loader::open(&path, cfg, &Device::Cpu).unwrap();
        assert_eq!(loader.sample_shape(), [T, 2, H / 2, W / 2]);
        let batch = loader.epoch(0).next().unwrap().unwrap();
        assert_eq!(batch.frames.dims(), &[T, 3, 2, H / 2, W / 2]);
        let (oh, ow) = (H / 2, W / 2);
        for (b, got) in unbatch(&batch.frames).iter().enumerate() {
            let s = &samples[batch.indices[b]];
            for t in 0..T {
                for c in 0..2 {
                    for oy in 0..oh {
                        for ox in 0..ow {
                            let mut sum = 0;
                            for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                                sum += s[t * FL + (c * H + 2 * oy + dy) * W + 2 * ox + dx];
                            }
                            let g = got[((t * 2 + c) * oh + oy) * ow + ox];
                            assert_eq!(g, sum as f32 * scale, "t{t} c{c} ({oy},{ox})");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn bad_settings_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = cache_with(dir.path(), 2, |i| sample(i as u64, T * FL, 3));
    assert!(Loader::open(&path, LoaderConfig::train(0), &Device::Cpu).is_err());
    let cfg = LoaderConfig {
        downsample: Some(Downsample {
            factor: 0,
            mode: Pool::Sum,
        }),
        ..LoaderConfig::eval(1)
    };
    assert!(Loader::open(&path, cfg, &Device::Cpu).is_err());
    // A shift that would wrap in the loader's i32 pixel arithmetic is refused, not a panic.
    let cfg = LoaderConfig {
        augment: Augment {
            hflip: false,
            max_shift: u32::MAX as usize,
        },
        ..LoaderConfig::train(1)
    };
    assert!(Loader::open(&path, cfg, &Device::Cpu).is_err());
    let loader = Loader::open(&path, LoaderConfig::eval(1), &Device::Cpu).unwrap();
    assert!(loader.batch(&[5], 0).is_err());
}

#[test]
fn wide_counts_load_exactly_for_every_codec() {
    use snnkit_cache::{CacheReader, Compression, CountType};
    let dir = tempfile::tempdir().unwrap();
    for (max, want) in [(300u32, CountType::U16), (70_000, CountType::U32)] {
        for compression in [Compression::None, Compression::Deflate(3)] {
            let path = dir.path().join(format!(
                "w{max}-{}.h5",
                compression.to_string().replace(':', "")
            ));
            let mut m = meta(T, H, W, 3);
            m.compression = compression;
            let samples: Vec<Vec<u32>> =
                (0..5).map(|i| sample(i as u64 + 90, T * FL, max)).collect();
            let mut w = CacheWriter::create(&path, &m).unwrap();
            for (i, s) in samples.iter().enumerate() {
                let mut s = s.clone();
                s[0] = max; // every sample needs the wide type
                w.append(&s, (i % 3) as u16, &format!("f{i}#0")).unwrap();
            }
            w.finish(&[]).unwrap();
            let reader = CacheReader::open(&path).unwrap();
            assert_eq!(reader.info().dtype, want);
            let hdf5_read: Vec<Vec<u32>> = (0..5).map(|i| reader.read_sample(i).unwrap()).collect();
            for limit in [0, u64::MAX] {
                let cfg = LoaderConfig {
                    in_memory_limit: limit,
                    ..LoaderConfig::eval(2)
                };
                let loader = Loader::open(&path, cfg, &Device::Cpu).unwrap();
                for batch in loader.epoch(0) {
                    let batch = batch.unwrap();
                    for (b, got) in unbatch(&batch.frames).iter().enumerate() {
                        let i = batch.indices[b];
                        let want: Vec<f32> = hdf5_read[i].iter().map(|&v| v as f32).collect();
                        assert_eq!(got, &want, "{compression} {max} limit {limit} sample {i}");
                    }
                }
            }
        }
    }
}

/// `host_epoch` yields the values `epoch` turns into tensors: same order, augmentation and labels.
#[test]
fn host_batches_equal_tensor_batches() {
    let dir = tempfile::tempdir().unwrap();
    let path = cache_with(dir.path(), 10, one_event_per_frame);
    let cfg = LoaderConfig {
        augment: Augment {
            hflip: true,
            max_shift: 2,
        },
        seed: 11,
        ..LoaderConfig::train(3)
    };
    let loader = Loader::open(&path, cfg, &Device::Cpu).unwrap();
    for epoch in 0..2 {
        let host: Vec<_> = loader.host_epoch(epoch).map(Result::unwrap).collect();
        let tensors: Vec<_> = loader.epoch(epoch).map(Result::unwrap).collect();
        assert_eq!(host.len(), 3); // 10 samples, batch 3, drop_last
        for (h, t) in host.iter().zip(&tensors) {
            assert_eq!(h.shape.to_vec(), t.frames.dims().to_vec());
            assert_eq!(h.shape, [T, 3, 2, H, W]);
            let flat: Vec<f32> = t.frames.flatten_all().unwrap().to_vec1().unwrap();
            assert_eq!(h.frames, flat);
            assert_eq!(h.labels, t.labels_vec);
            assert_eq!(h.indices, t.indices);
        }
    }
}
