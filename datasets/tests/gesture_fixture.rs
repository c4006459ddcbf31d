//! The gesture cuts of `../shared/fixtures/synthetic/synthetic_user00_test.aedat` and its label
//! CSV give the sample spans, names, event counts and frames SpikingJelly's `DVS128Gesture`
//! produced (`expected/SUMMARY.json`, `gesture_sample_*`).

use ndarray::Array2;
use ndarray_npy::ReadNpyExt;
use serde_json::Value;
use snnkit_datasets::{load_samples, Dataset, Dvs128Gesture, Split};
use snnkit_frames::{integrate, FrameSpec, SensorSize};
use std::path::PathBuf;

fn shared() -> Option<PathBuf> {
    snnkit_testdata::shared_with("fixtures/expected/SUMMARY.json")
}

#[test]
fn gesture_cuts_match_spikingjelly() {
    let Some(sh) = shared() else { return };
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(sh.join("fixtures/expected/SUMMARY.json")).unwrap(),
    )
    .unwrap();
    // The dataset layout around the shared recording, built in a temporary folder.
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "synthetic_user00_test.aedat",
        "synthetic_user00_test_labels.csv",
    ] {
        std::fs::copy(sh.join("fixtures/synthetic").join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("trials_to_train.txt"), "").unwrap();
    std::fs::write(
        dir.path().join("trials_to_test.txt"),
        "synthetic_user00_test.aedat\n",
    )
    .unwrap();
    let ds = Dvs128Gesture::new(dir.path());
    assert!(ds.samples(Split::Train).unwrap().is_empty());
    let samples = ds.samples(Split::Test).unwrap();
    let spans: Vec<_> = samples.iter().map(|s| s.span.unwrap()).collect();
    assert_eq!(
        spans,
        vec![
            (1_200_000, 2_400_000),
            (2_500_000, 3_600_000),
            (3_700_000, 4_800_000),
            (4_900_000, 6_500_000)
        ]
    );
    let events = load_samples(&ds, &samples).unwrap();
    let sensor = SensorSize {
        width: 128,
        height: 128,
    };
    for (s, ev) in samples.iter().zip(&events) {
        let k = s.name.rsplit('_').next().unwrap();
        let key = format!("gesture_sample_label{}_{k}", s.label);
        let entry = &summary[&key];
        assert!(entry.is_object(), "{key} not in SUMMARY.json");
        assert_eq!(entry["label_dir"], s.label.to_string());
        assert_eq!(entry["file"], format!("{}.npz", s.name));
        assert_eq!(
            ev.len() as u64,
            entry["n_events"].as_u64().unwrap(),
            "{key}"
        );
        for (mode, spec) in [
            ("number", FrameSpec::SplitByNumber { frames: 4 }),
            ("time", FrameSpec::SplitByTime { frames: 4 }),
        ] {
            let fk = format!("{key}_sj_T4_{mode}");
            let f = integrate(ev.as_ref(), sensor, &spec).unwrap();
            let want: Vec<u64> = summary[&fk]["per_frame_sum"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as u64)
                .collect();
            assert_eq!(f.per_frame_sum(), want, "{fk}");
            let coo = Array2::<i64>::read_npy(
                std::fs::File::open(sh.join(format!("fixtures/expected/{fk}.coo.npy"))).unwrap(),
            )
            .unwrap();
            let mut dense = vec![0u32; f.counts.len()];
            for r in coo.rows() {
                let i = ((r[0] as usize * 2 + r[1] as usize) * 128 + r[2] as usize) * 128
                    + r[3] as usize;
                dense[i] = r[4] as u32;
            }
            assert_eq!(f.counts, dense, "{fk}");
        }
    }
}

#[test]
fn real_label_csv_and_trial_lists() {
    let Some(sh) = shared() else { return };
    let csv = sh.join("fixtures/csv");
    let dir = tempfile::tempdir().unwrap();
    // The real user01_natural label CSV (12 rows, class 8 twice) next to a recording written here.
    std::fs::copy(
        csv.join("user01_natural_labels.csv"),
        dir.path().join("user01_natural_labels.csv"),
    )
    .unwrap();
    let events: snnkit_events::Events = (0..1000)
        .map(|i| snnkit_events::Event {
            t: 53_000_000 + i * 100_000,
            x: (i % 128) as u16,
            y: (i / 8 % 128) as u16,
            p: (i % 2) as u8,
        })
        .collect();
    snnkit_events::aedat3::write(
        &dir.path().join("user01_natural.aedat"),
        &events,
        &Default::default(),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("trials_to_train.txt"),
        "user01_natural.aedat\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("trials_to_test.txt"), "").unwrap();
    let ds = Dvs128Gesture::new(dir.path());
    let s = ds.samples(Split::Train).unwrap();
    assert_eq!(s.len(), 12);
    assert_eq!(s[0].span, Some((53_036_986, 59_508_469)));
    let arm_roll: Vec<&str> = s
        .iter()
        .filter(|x| x.label == 7)
        .map(|x| x.name.as_str())
        .collect();
    assert_eq!(arm_roll, vec!["user01_natural_0", "user01_natural_1"]);
    let ev = load_samples(&ds, &s).unwrap();
    assert_eq!(ev[0].len(), 65); // t in [53_036_986, 59_508_469) on a 100 ms grid from 53.0 s

    // The reconstructed official trial lists: 98 + 24 recordings, all reported missing here.
    std::fs::copy(
        csv.join("dvsgesture_trials_to_train.reconstructed.txt"),
        dir.path().join("trials_to_train.txt"),
    )
    .unwrap();
    let e = ds.samples(Split::Train).unwrap_err().to_string();
    assert!(e.contains("user01_fluorescent.aedat"), "{e}");
    let train =
        std::fs::read_to_string(csv.join("dvsgesture_trials_to_train.reconstructed.txt")).unwrap();
    let test =
        std::fs::read_to_string(csv.join("dvsgesture_trials_to_test.reconstructed.txt")).unwrap();
    let count = |s: &str| s.lines().filter(|l| !l.trim().is_empty()).count();
    assert_eq!((count(&train), count(&test)), (98, 24));
}
