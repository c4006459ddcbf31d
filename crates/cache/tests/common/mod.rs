//! Helpers shared by the cache tests.
#![allow(dead_code)]

use snnkit_cache::{CacheMeta, Compression, FrameSetting, SplitBy};

/// Metadata of a small frame-count cache.
pub fn meta(frames: usize, h: usize, w: usize, classes: usize) -> CacheMeta {
    CacheMeta {
        dataset: "unit".into(),
        split: "train".into(),
        setting: FrameSetting::Frames {
            frames,
            split_by: SplitBy::Number,
        },
        height: h,
        width: w,
        class_names: (0..classes).map(|c| format!("class{c}")).collect(),
        source_fingerprint: "fnv1a64:0000000000000000".into(),
        source_root: None,
        compression: Compression::Deflate(1),
    }
}

/// A deterministic pseudo-random sample `[frames, 2, h, w]` with counts below `max` (xorshift; no rand needed).
pub fn sample(seed: u64, len: usize, max: u32) -> Vec<u32> {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            // Mostly zeros, like real frames.
            if s.is_multiple_of(4) {
                (s >> 32) as u32 % max
            } else {
                0
            }
        })
        .collect()
}
