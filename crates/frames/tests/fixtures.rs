//! Every SpikingJelly and Tonic frame array in `../shared/fixtures/expected`, reproduced bit for bit.
//!
//! The reference arrays were produced by SpikingJelly (afb1322) and Tonic (d0cb6df) on the shared
//! fixtures (see `../shared/fixtures/README.md` and `expected/SUMMARY.json`). Two event sources are
//! checked: the reference decoders' own event arrays (`expected/*_events_*.npy`), which isolates the
//! binning, and `snnkit_events::read_file` on the raw files, which checks decode + bin end to end.

use ndarray::{Array2, ArrayD};
use ndarray_npy::ReadNpyExt;
use serde_json::Value;
use snnkit_events::{read_file, Events, Profile, ReadOptions};
use snnkit_frames::{integrate, FrameSpec, Frames, SensorSize};
use std::path::{Path, PathBuf};

fn shared() -> Option<PathBuf> {
    snnkit_testdata::shared_with("fixtures/expected/SUMMARY.json")
}

fn summary(shared: &Path) -> Value {
    let text = std::fs::read_to_string(shared.join("fixtures/expected/SUMMARY.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Loads an int64 `[N, 4]` reference event array with columns `t, x, y, p`.
fn events_txyp(path: &Path) -> Events {
    let f = std::fs::File::open(path).unwrap();
    let a = Array2::<i64>::read_npy(f).unwrap();
    assert_eq!(a.ncols(), 4);
    Events {
        t: a.column(0).to_vec(),
        x: a.column(1)
            .iter()
            .map(|&v| u16::try_from(v).unwrap())
            .collect(),
        y: a.column(2)
            .iter()
            .map(|&v| u16::try_from(v).unwrap())
            .collect(),
        p: a.column(3)
            .iter()
            .map(|&v| u8::try_from(v).unwrap())
            .collect(),
    }
}

/// The expected dense array as i64 counts (from a dense `.npy` of f32 or i16, or a `.coo.npy`).
fn expected_dense(shared: &Path, entry: &Value) -> Vec<i64> {
    let stored = entry["stored_as"].as_str().unwrap();
    let file = stored.split(':').next().unwrap().trim();
    let path = shared.join("fixtures/expected").join(file);
    let shape: Vec<usize> = entry["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let len: usize = shape.iter().product();
    let bytes = std::fs::File::open(&path).unwrap();
    if file.ends_with(".coo.npy") {
        let coo = Array2::<i64>::read_npy(bytes).unwrap();
        let mut dense = vec![0i64; len];
        for row in coo.rows() {
            let idx = ((row[0] as usize * shape[1] + row[1] as usize) * shape[2] + row[2] as usize)
                * shape[3]
                + row[3] as usize;
            dense[idx] = row[4];
        }
        dense
    } else if entry["dtype"] == "float32" {
        let a = ArrayD::<f32>::read_npy(bytes).unwrap();
        assert_eq!(a.shape(), &shape[..], "{file}");
        a.iter().map(|&v| v as i64).collect()
    } else {
        let a = ArrayD::<i16>::read_npy(bytes).unwrap();
        assert_eq!(a.shape(), &shape[..], "{file}");
        a.iter().map(|&v| v as i64).collect()
    }
}

/// Compares frames against a SUMMARY.json entry: shape, per-frame sums, and every cell, in the
/// output type the reference library uses (f32 for SpikingJelly, wrapping i16 for Tonic).
fn check(shared: &Path, key: &str, frames: &Frames) {
    let sum = summary(shared);
    let entry = &sum[key];
    assert!(entry.is_object(), "{key} missing from SUMMARY.json");
    let shape: Vec<usize> = entry["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(frames.shape().to_vec(), shape, "{key}: shape");
    if let Some(pfs) = entry["per_frame_sum"].as_array() {
        let want: Vec<u64> = pfs.iter().map(|v| v.as_f64().unwrap() as u64).collect();
        assert_eq!(frames.per_frame_sum(), want, "{key}: per-frame sums");
    }
    let want = expected_dense(shared, entry);
    let got: Vec<i64> = if entry["dtype"] == "float32" {
        // Through f32 exactly as SpikingJelly stores it; the f32 -> i64 round trip is exact.
        frames.to_f32().iter().map(|&v| v as i64).collect()
    } else {
        frames.to_i16_wrapping().iter().map(|&v| v as i64).collect()
    };
    let diff = got.iter().zip(&want).filter(|(a, b)| a != b).count();
    assert_eq!(diff, 0, "{key}: {diff} cells differ");
    assert_eq!(got.len(), want.len());
}

fn spec_for(key: &str) -> FrameSpec {
    if key.ends_with("_number") {
        let t: usize = key
            .rsplit('_')
            .nth(1)
            .unwrap()
            .trim_start_matches('T')
            .parse()
            .unwrap();
        FrameSpec::SplitByNumber { frames: t }
    } else if key.ends_with("_time") {
        let t: usize = key
            .rsplit('_')
            .nth(1)
            .unwrap()
            .trim_start_matches('T')
            .parse()
            .unwrap();
        FrameSpec::SplitByTime { frames: t }
    } else {
        panic!("no spec for {key}")
    }
}

const NMNIST: SensorSize = SensorSize {
    width: 34,
    height: 34,
};
const DVS128: SensorSize = SensorSize {
    width: 128,
    height: 128,
};

/// The N-MNIST reference arrays: SpikingJelly's three modes and Tonic's four, one event list.
fn nmnist_cases() -> Vec<(&'static str, FrameSpec)> {
    vec![
        (
            "nmnist_sj_T10_number",
            FrameSpec::SplitByNumber { frames: 10 },
        ),
        ("nmnist_sj_T10_time", FrameSpec::SplitByTime { frames: 10 }),
        (
            "nmnist_sj_duration50000",
            FrameSpec::FixedDuration { duration: 50_000 },
        ),
        (
            "nmnist_tonic_n_time_bins10",
            FrameSpec::TimeBins {
                bins: 10,
                overlap: 0.0,
            },
        ),
        (
            "nmnist_tonic_n_event_bins10",
            FrameSpec::EventBins {
                bins: 10,
                overlap: 0.0,
            },
        ),
        (
            "nmnist_tonic_time_window50000",
            FrameSpec::time_window(50_000.0),
        ),
        (
            "nmnist_tonic_event_count1000",
            FrameSpec::EventCount {
                count: 1000,
                overlap: 0,
                include_incomplete: false,
            },
        ),
    ]
}

#[test]
fn nmnist_from_reference_events() {
    let Some(sh) = shared() else { return };
    let ev = events_txyp(&sh.join("fixtures/expected/nmnist_sj_events_txyp.npy"));
    for (key, spec) in nmnist_cases() {
        let f = integrate(ev.as_ref(), NMNIST, &spec).unwrap();
        check(&sh, key, &f);
    }
    // The index ranges SpikingJelly computed.
    let sum = summary(&sh);
    for key in ["nmnist_sj_T10_number", "nmnist_sj_T10_time"] {
        let slices = spec_for(key).slices(&ev.t).unwrap();
        let jl: Vec<u64> = sum[key]["j_l"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let jr: Vec<u64> = sum[key]["j_r"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(
            slices.iter().map(|r| r.start as u64).collect::<Vec<_>>(),
            jl
        );
        assert_eq!(slices.iter().map(|r| r.end as u64).collect::<Vec<_>>(), jr);
    }
}

#[test]
fn cifar10dvs_and_aedat4_from_reference_events() {
    let Some(sh) = shared() else { return };
    let e = sh.join("fixtures/expected");
    let ev = events_txyp(&e.join("cifar10dvs_sj_events_txyp.npy"));
    for key in ["cifar10dvs_sj_T10_number", "cifar10dvs_sj_T10_time"] {
        check(
            &sh,
            key,
            &integrate(ev.as_ref(), DVS128, &spec_for(key)).unwrap(),
        );
    }
    let ev = events_txyp(&e.join("tonic_sample_aedat4_events_txyp.npy"));
    let s = SensorSize {
        width: 320,
        height: 240,
    };
    let key = "tonic_sample_sj_T8_number";
    check(
        &sh,
        key,
        &integrate(ev.as_ref(), s, &spec_for(key)).unwrap(),
    );
}

/// The gesture rows of `synthetic_user00_test_labels.csv` and the SUMMARY.json keys they produce.
const GESTURE_ROWS: [(&str, i64, i64); 4] = [
    ("gesture_sample_label0_0", 1_200_000, 2_400_000),
    ("gesture_sample_label7_0", 2_500_000, 3_600_000),
    ("gesture_sample_label7_1", 3_700_000, 4_800_000),
    ("gesture_sample_label10_0", 4_900_000, 6_500_000),
];

fn cut(ev: &Events, start: i64, end: i64) -> Events {
    ev.iter().filter(|e| e.t >= start && e.t < end).collect()
}

fn check_gesture(sh: &Path, ev: &Events) {
    let sum = summary(sh);
    for (key, start, end) in GESTURE_ROWS {
        let sample = cut(ev, start, end);
        assert_eq!(
            sample.len() as u64,
            sum[key]["n_events"].as_u64().unwrap(),
            "{key}"
        );
        for mode in ["number", "time"] {
            let k = format!("{key}_sj_T4_{mode}");
            let f = integrate(sample.as_ref(), DVS128, &spec_for(&k)).unwrap();
            check(sh, &k, &f);
        }
    }
}

#[test]
fn gesture_samples_from_reference_events() {
    let Some(sh) = shared() else { return };
    let ev = events_txyp(&sh.join("fixtures/expected/gesture_sj_load_aedat_v3_txyp.npy"));
    check_gesture(&sh, &ev);
}

fn read(path: &Path, profile: Option<Profile>) -> Events {
    let opts = ReadOptions {
        profile,
        ..Default::default()
    };
    read_file(path, &opts)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .events
}

#[test]
fn raw_atis_nmnist() {
    let Some(sh) = shared() else { return };
    let ev = read(&sh.join("fixtures/atis_bin/tonic_sample_nmnist.bin"), None);
    for (key, spec) in nmnist_cases() {
        check(&sh, key, &integrate(ev.as_ref(), NMNIST, &spec).unwrap());
    }
}

#[test]
fn raw_aedat2_cifar10dvs() {
    let Some(sh) = shared() else { return };
    let ev = read(
        &sh.join("fixtures/synthetic/synthetic_cifar10dvs_dvs128.aedat"),
        Some(Profile::Cifar10Dvs),
    );
    for key in ["cifar10dvs_sj_T10_number", "cifar10dvs_sj_T10_time"] {
        check(
            &sh,
            key,
            &integrate(ev.as_ref(), DVS128, &spec_for(key)).unwrap(),
        );
    }
}

#[test]
fn raw_atis_ncaltech_like() {
    let Some(sh) = shared() else { return };
    let ev = read(
        &sh.join("fixtures/synthetic/synthetic_ncaltech101_like.bin"),
        None,
    );
    let s = SensorSize {
        width: 240,
        height: 180,
    };
    for key in ["ncaltech_like_sj_T5_number", "ncaltech_like_sj_T5_time"] {
        check(
            &sh,
            key,
            &integrate(ev.as_ref(), s, &spec_for(key)).unwrap(),
        );
    }
}

#[test]
fn raw_aedat4() {
    let Some(sh) = shared() else { return };
    let ev = read(&sh.join("fixtures/aedat4/tonic_sample.aedat4"), None);
    let s = SensorSize {
        width: 320,
        height: 240,
    };
    let key = "tonic_sample_sj_T8_number";
    check(
        &sh,
        key,
        &integrate(ev.as_ref(), s, &spec_for(key)).unwrap(),
    );
}

#[test]
fn raw_aedat3_gesture_samples() {
    let Some(sh) = shared() else { return };
    let ev = read(
        &sh.join("fixtures/synthetic/synthetic_user00_test.aedat"),
        None,
    );
    check_gesture(&sh, &ev);
}
