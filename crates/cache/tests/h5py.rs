//! Interop: a converted cache opens in Python's h5py with the documented names, shapes and attributes, and h5py
//! reads the same labels, sources and counts as snnkit. Python comes from `SNNKIT_PYTHON` (set by `.ci/run`), else
//! `target/pyenv/bin/python`, else `python3`; without h5py the test prints why and passes.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;

use snnkit_cache::{
    convert_dataset, split_path, CacheReader, DatasetConvert, FrameSetting, SplitBy,
};
use snnkit_datasets::synthetic::{generate, SynthClass, SynthConfig};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python_with_h5py() -> Option<PathBuf> {
    let python = std::env::var_os("SNNKIT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let venv = repo_root().join("target/pyenv/bin/python");
            if venv.exists() {
                venv
            } else {
                PathBuf::from("python3")
            }
        });
    match Command::new(&python)
        .args(["-c", "import h5py, numpy"])
        .output()
    {
        Ok(out) if out.status.success() => Some(python),
        Ok(out) => {
            eprintln!(
                "skipping: {} cannot import h5py/numpy ({}); set SNNKIT_PYTHON to a Python with h5py",
                python.display(),
                String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
            );
            None
        }
        Err(e) => {
            eprintln!("skipping: cannot run {}: {e}", python.display());
            None
        }
    }
}

#[test]
fn cache_opens_in_h5py_with_documented_layout() {
    let Some(python) = python_with_h5py() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("raw");
    let cfg = SynthConfig {
        users: 2,
        test_users: 1,
        classes: vec![SynthClass::RotateCw, SynthClass::RotateCcw],
        repeats: 2,
        gesture_us: 60_000,
        gap_us: 10_000,
        events_per_gesture: 800,
        ..SynthConfig::default()
    };
    generate(&root, &cfg).unwrap();
    let script = repo_root().join("tools/scripts/check_cache_h5py.py");
    for setting in [
        FrameSetting::Frames {
            frames: 4,
            split_by: SplitBy::Time,
        },
        FrameSetting::Duration { us: 25_000 },
    ] {
        let out = dir.path().join("cache");
        convert_dataset(
            &DatasetConvert::new("synthetic", &root, setting, &out),
            &mut |_| ControlFlow::Continue(()),
        )
        .unwrap();
        for split in ["train", "test"] {
            let path = split_path(&out, "synthetic", setting, split);
            let reader = CacheReader::open(&path).unwrap();
            let info = reader.info();
            let output = Command::new(&python)
                .arg(&script)
                .arg(&path)
                .args([
                    "--samples",
                    &info.samples.to_string(),
                    "--frames",
                    &info.frames.to_string(),
                ])
                .args(["--height", "128", "--width", "128"])
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "h5py check failed for {}: {}",
                path.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            assert_eq!(
                v["shape"],
                serde_json::json!([info.samples, info.frames, 2, 128, 128])
            );
            assert_eq!(v["dtype"], info.dtype.name());
            assert_eq!(v["split"], split);
            assert_eq!(v["class_names"], serde_json::json!(info.class_names));
            let labels: Vec<u64> = reader.labels().iter().map(|&l| u64::from(l)).collect();
            assert_eq!(v["labels"], serde_json::json!(labels));
            assert_eq!(v["sources"], serde_json::json!(reader.sources().unwrap()));
            let sums: Vec<u64> = (0..reader.len())
                .map(|i| {
                    reader
                        .read_sample(i)
                        .unwrap()
                        .iter()
                        .map(|&c| u64::from(c))
                        .sum()
                })
                .collect();
            assert!(sums.iter().all(|&s| s > 0));
            assert_eq!(v["sums"], serde_json::json!(sums));
        }
    }
}

/// Wide counts (u16 with byte shuffle, u32) written by the worker-side chunk encoder read back in h5py.
#[test]
fn wide_counts_read_back_in_h5py() {
    use snnkit_cache::convert::{write_split, BinnedSample, ConvertOptions, ConvertSource};
    use snnkit_cache::{CacheMeta, Compression, UnitError};

    struct Wide;
    impl ConvertSource for Wide {
        fn num_units(&self) -> usize {
            3
        }
        fn unit_name(&self, unit: usize) -> String {
            format!("w{unit}.bin")
        }
        fn process(&self, unit: usize) -> Result<Vec<BinnedSample>, UnitError> {
            let len = 2 * 2 * 3 * 5;
            let big = [70_000u32, 300, 9][unit];
            let counts = (0..len as u32)
                .map(|i| if i % 7 == 0 { big + i } else { i % 3 })
                .collect();
            Ok(vec![BinnedSample {
                counts,
                label: unit as u16,
                source: format!("w{unit}.bin#all"),
                events: 1,
            }])
        }
    }
    let Some(python) = python_with_h5py() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let script = repo_root().join("tools/scripts/check_cache_h5py.py");
    for compression in [Compression::Deflate(4), Compression::None] {
        let path = dir.path().join(format!(
            "wide-{}.h5",
            compression.to_string().replace(':', "")
        ));
        let meta = CacheMeta {
            dataset: "wide".into(),
            split: "train".into(),
            setting: FrameSetting::Frames {
                frames: 2,
                split_by: SplitBy::Number,
            },
            height: 3,
            width: 5,
            class_names: vec!["a".into(), "b".into(), "c".into()],
            source_fingerprint: "fnv1a64:0000000000000000".into(),
            source_root: None,
            compression,
        };
        write_split(&path, &meta, &Wide, &ConvertOptions::default(), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
        let reader = CacheReader::open(&path).unwrap();
        assert_eq!(reader.info().dtype, snnkit_cache::CountType::U32);
        let output = Command::new(&python)
            .arg(&script)
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(v["dtype"], "uint32");
        let sums: Vec<u64> = (0..3)
            .map(|u| {
                Wide.process(u).unwrap()[0]
                    .counts
                    .iter()
                    .map(|&c| u64::from(c))
                    .sum()
            })
            .collect();
        assert_eq!(v["sums"], serde_json::json!(sums));
    }
}
