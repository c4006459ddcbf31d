//! Converting the synthetic dataset (real AEDAT 3.1 files): every cached sample equals SpikingJelly-style
//! binning of its source span by `snnkit_frames`; `--jobs` and interruption do not change the output; a corrupt
//! recording fails with its name unless skipped; the fingerprint notices changed raw files.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use snnkit_cache::convert::ConvertOptions;
use snnkit_cache::{
    convert_dataset, frame_spec, split_path, CacheReader, DatasetConvert, Error, FingerprintStatus,
    FrameSetting, Loader, LoaderConfig, SplitBy, UnitError,
};
use snnkit_datasets::synthetic::{generate, SynthClass, SynthConfig};
use snnkit_datasets::{by_name, load_samples, Split};
use snnkit_frames::SensorSize;

fn small_dataset(dir: &Path) -> PathBuf {
    let root = dir.join("raw");
    let cfg = SynthConfig {
        users: 3,
        test_users: 1,
        classes: vec![
            SynthClass::RotateCw,
            SynthClass::MoveLeft,
            SynthClass::Expand,
        ],
        repeats: 2,
        gesture_us: 100_000,
        gap_us: 20_000,
        events_per_gesture: 1_500,
        ..SynthConfig::default()
    };
    generate(&root, &cfg).unwrap();
    root
}

fn request(root: &Path, out: &Path, setting: FrameSetting, jobs: usize) -> DatasetConvert {
    let mut req = DatasetConvert::new("synthetic", root, setting, out);
    req.options = ConvertOptions {
        jobs,
        checkpoint_interval: std::time::Duration::ZERO,
        ..ConvertOptions::default()
    };
    req
}

fn quiet(_: &snnkit_cache::convert::Progress) -> ControlFlow<()> {
    ControlFlow::Continue(())
}

fn stored(path: &Path) -> (Vec<Vec<u32>>, Vec<u16>, Vec<String>) {
    let r = CacheReader::open(path).unwrap();
    (
        (0..r.len()).map(|i| r.read_sample(i).unwrap()).collect(),
        r.labels().to_vec(),
        r.sources().unwrap(),
    )
}

#[test]
fn every_sample_equals_frames_binning_of_its_span() {
    let dir = tempfile::tempdir().unwrap();
    let root = small_dataset(dir.path());
    let ds = by_name("synthetic", &root).unwrap();
    let (w, h) = ds.sensor_size();
    let sensor = SensorSize {
        width: w as usize,
        height: h as usize,
    };
    for setting in [
        FrameSetting::Frames {
            frames: 8,
            split_by: SplitBy::Number,
        },
        FrameSetting::Frames {
            frames: 5,
            split_by: SplitBy::Time,
        },
        FrameSetting::Duration { us: 30_000 },
    ] {
        let out = dir.path().join("cache");
        let summary = convert_dataset(&request(&root, &out, setting, 2), &mut quiet).unwrap();
        assert_eq!(summary.splits.len(), 2);
        for split in Split::ALL {
            let samples = ds.samples(split).unwrap();
            let events = load_samples(ds.as_ref(), &samples).unwrap();
            let path = split_path(&out, "synthetic", setting, split.name());
            let r = CacheReader::open(&path).unwrap();
            assert_eq!(r.len(), samples.len(), "{split} {setting:?}");
            assert_eq!(r.info().class_names, ds.class_names());
            assert_eq!(
                (r.info().height, r.info().width),
                (sensor.height, sensor.width)
            );
            assert_eq!(r.fingerprint_status(), FingerprintStatus::Match);
            let sources = r.sources().unwrap();
            for (i, (sample, ev)) in samples.iter().zip(&events).enumerate() {
                let want =
                    snnkit_frames::integrate(ev.as_ref(), sensor, &frame_spec(setting)).unwrap();
                let got = r.read_sample(i).unwrap();
                let real = want.counts.len();
                assert!(real > 0, "sample {i} has events");
                assert_eq!(
                    &got[..real],
                    &want.counts[..],
                    "{split} sample {i} {setting:?}"
                );
                assert!(got[real..].iter().all(|&v| v == 0), "padding is zero");
                assert_eq!(usize::from(r.labels()[i]), sample.label);
                assert!(
                    sources[i].starts_with(&*sample.source.to_string_lossy()),
                    "{}",
                    sources[i]
                );
                if let Some(lengths) = r.lengths() {
                    assert_eq!(lengths[i] as usize, want.frames);
                }
            }
        }
    }
}

#[test]
fn jobs_and_interruption_do_not_change_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let root = small_dataset(dir.path());
    let setting = FrameSetting::Frames {
        frames: 6,
        split_by: SplitBy::Number,
    };
    let a = dir.path().join("j1");
    convert_dataset(&request(&root, &a, setting, 1), &mut quiet).unwrap();
    let b = dir.path().join("j2");
    convert_dataset(&request(&root, &b, setting, 2), &mut quiet).unwrap();
    let c = dir.path().join("interrupted");
    let err = convert_dataset(&request(&root, &c, setting, 2), &mut |p| {
        if p.split == "train" && p.units_done == 1 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .err()
    .unwrap();
    assert!(matches!(err, Error::Interrupted(_)), "{err}");
    let s = convert_dataset(&request(&root, &c, setting, 2), &mut quiet).unwrap();
    assert_eq!(s.splits[0].resumed_units, 1);
    for split in ["train", "test"] {
        let pa = split_path(&a, "synthetic", setting, split);
        for other in [&b, &c] {
            assert_eq!(
                stored(&pa),
                stored(&split_path(other, "synthetic", setting, split)),
                "{split}"
            );
        }
    }
}

#[test]
fn corrupt_recording_is_named_or_skipped_and_fingerprint_changes() {
    let dir = tempfile::tempdir().unwrap();
    let root = small_dataset(dir.path());
    let setting = FrameSetting::Frames {
        frames: 4,
        split_by: SplitBy::Number,
    };
    let out = dir.path().join("cache");
    convert_dataset(&request(&root, &out, setting, 2), &mut quiet).unwrap();
    let train = split_path(&out, "synthetic", setting, "train");
    let n_before = CacheReader::open(&train).unwrap().len();

    // Damage one training recording: keep its header, garble the packets.
    let ds = by_name("synthetic", &root).unwrap();
    let victim = ds.samples(Split::Train).unwrap()[0].source.clone();
    let victim_path = ds.root().join(&victim);
    let mut bytes = std::fs::read(&victim_path).unwrap();
    let header_end = bytes
        .windows(13)
        .position(|w| w == b"#!END-HEADER\r")
        .map(|p| p + 14)
        .unwrap_or(64);
    bytes.truncate(header_end + 30);
    bytes.extend_from_slice(&[0xff; 7]);
    std::fs::write(&victim_path, &bytes).unwrap();

    assert!(matches!(
        CacheReader::open(&train).unwrap().fingerprint_status(),
        FingerprintStatus::Mismatch { .. }
    ));
    let err = convert_dataset(&request(&root, &out, setting, 2), &mut quiet)
        .expect_err("corrupt file accepted");
    let victim_name = victim.to_string_lossy().to_string();
    assert!(err.to_string().contains(&victim_name), "{err}");
    // The decoder's error stays typed through the cache crate: its file and byte offset can be asked for.
    match &err {
        Error::Source { file, source } => {
            let UnitError::Dataset(snnkit_datasets::Error::Events(e)) = source.as_ref() else {
                panic!("expected a typed decode error, got {source:?}");
            };
            assert_eq!(file, &victim_name);
            assert_eq!(e.path(), victim_path.as_path());
            let offset = e.offset().expect("a decode error has a byte offset");
            assert!(
                offset as usize >= header_end,
                "offset {offset} in the header"
            );
        }
        other => panic!("expected a typed decode error, got {other:?}"),
    }
    // Printed as a chain, the file and offset appear once each.
    let line = snnkit_cache::one_line(&err);
    assert_eq!(line.matches(": byte ").count(), 1, "{line}");

    let mut req = request(&root, &out, setting, 2);
    req.options.skip_bad = true;
    let s = convert_dataset(&req, &mut quiet).unwrap();
    assert_eq!(s.splits[0].skipped.len(), 1);
    assert_eq!(s.splits[0].skipped[0].file, victim_name);
    let r = CacheReader::open(&train).unwrap();
    assert!(r.len() < n_before);
    assert!(r
        .sources()
        .unwrap()
        .iter()
        .all(|src| !src.starts_with(&victim_name)));
    assert_eq!(r.info().skipped_files, vec![victim_name]);
}

/// Opening a cache or a loader never lists the raw files; asking for the fingerprint status does.
#[test]
fn opening_a_cache_does_not_walk_the_raw_tree() {
    let dir = tempfile::tempdir().unwrap();
    let root = small_dataset(dir.path());
    let setting = FrameSetting::Frames {
        frames: 4,
        split_by: SplitBy::Number,
    };
    let out = dir.path().join("cache");
    convert_dataset(&request(&root, &out, setting, 1), &mut quiet).unwrap();
    let train = split_path(&out, "synthetic", setting, "train");
    let before = snnkit_cache::raw_walks_on_this_thread();
    let loader = Loader::open(&train, LoaderConfig::eval(2), &candle_core::Device::Cpu).unwrap();
    let reader = CacheReader::open(&train).unwrap();
    assert!(!loader.is_empty());
    assert_eq!(
        snnkit_cache::raw_walks_on_this_thread(),
        before,
        "open walked the raw files"
    );
    assert_eq!(reader.fingerprint_status(), FingerprintStatus::Match);
    assert_eq!(snnkit_cache::raw_walks_on_this_thread(), before + 1);
}

/// A cache records the decoder and binning versions; one written by another version is refused by the
/// reader (not served) and rebuilt by the next conversion.
#[test]
fn caches_of_another_decoder_or_binning_version_are_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let root = small_dataset(dir.path());
    let setting = FrameSetting::Frames {
        frames: 4,
        split_by: SplitBy::Number,
    };
    let out = dir.path().join("cache");
    convert_dataset(&request(&root, &out, setting, 1), &mut quiet).unwrap();
    let test = split_path(&out, "synthetic", setting, "test");
    let info = CacheReader::open(&test).unwrap().info().clone();
    assert_eq!(info.decoder_version, Some(snnkit_events::DECODER_VERSION));
    assert_eq!(info.binning_version, Some(snnkit_frames::BINNING_VERSION));
    let (samples, labels, _) = stored(&test);

    // Up to date: a second conversion leaves it alone.
    let again = convert_dataset(&request(&root, &out, setting, 1), &mut quiet).unwrap();
    assert!(again.splits.iter().all(|s| s.up_to_date));

    for (attr, old) in [
        ("decoder_version", snnkit_events::DECODER_VERSION + 7),
        ("binning_version", 0),
    ] {
        // As if an older build (another decoder or binning) had written the file.
        {
            let f = hdf5::File::open_rw(&test).unwrap();
            f.attr(attr)
                .unwrap()
                .as_writer()
                .write_scalar(&old)
                .unwrap();
        }
        let err = CacheReader::open(&test).err().expect("stale cache served");
        match &err {
            Error::Stale {
                what,
                found,
                current,
                path,
            } => {
                assert_eq!((*what, *found), (attr, Some(old)));
                assert_ne!(*current, old);
                assert_eq!(path, &test);
            }
            other => panic!("expected Error::Stale, got {other:?}"),
        }
        assert!(err.to_string().contains("snnkit convert"), "{err}");
        // Described, though: `cache info` opens it unchecked.
        let described = CacheReader::open_unchecked(&test).unwrap();
        let found = if attr == "decoder_version" {
            described.info().decoder_version
        } else {
            described.info().binning_version
        };
        assert_eq!(found, Some(old));
        drop(described);

        let rebuilt = convert_dataset(&request(&root, &out, setting, 1), &mut quiet).unwrap();
        let s = rebuilt.splits.iter().find(|s| s.split == "test").unwrap();
        assert!(!s.up_to_date, "{attr}: a stale cache counted as up to date");
        assert_eq!(stored(&test).0, samples);
        assert_eq!(stored(&test).1, labels);
    }
}
