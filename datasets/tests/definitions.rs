//! Dataset definitions on small trees these tests build with the `snnkit_events` writers.

use snnkit_datasets::synthetic::{generate, SynthClass, SynthConfig};
use snnkit_datasets::{
    by_name, by_name_with, group_by_source, load_sample, load_samples, Cifar10Dvs, Dataset,
    Dvs128Gesture, Error, LabelOrder, NCaltech101, OpenOptions, Split, SplitOrder, CIFAR10_CLASSES,
};
use snnkit_events::{aedat2, aedat3, atis, Event, Events, Profile};
use std::fs;
use std::path::Path;

/// `n` events at 1 µs steps from `t0`, coordinates cycling inside `w`×`h`.
fn events(t0: i64, n: usize, w: u16, h: u16) -> Events {
    (0..n)
        .map(|i| Event {
            t: t0 + i as i64,
            x: (i as u16 * 7) % w,
            y: (i as u16 * 3) % h,
            p: (i % 2) as u8,
        })
        .collect()
}

fn write_gesture_tree(root: &Path) -> (Events, Events) {
    let a = events(1000, 500, 128, 128); // t 1000..1500
    let b = events(5000, 300, 128, 128); // t 5000..5300
    let opts = aedat3::Aedat3WriteOptions::default();
    aedat3::write(&root.join("user01_led.aedat"), &a, &opts).unwrap();
    aedat3::write(&root.join("user02_natural.aedat"), &b, &opts).unwrap();
    // Rows overlap (1100..1300 and 1200..1400) and class 11 appears: SpikingJelly's quirks.
    fs::write(
        root.join("user01_led_labels.csv"),
        "class,startTime_usec,endTime_usec\n3,1100,1300\n3,1200,1400\n11,1400,1500\n",
    )
    .unwrap();
    fs::write(
        root.join("user02_natural_labels.csv"),
        "class,startTime_usec,endTime_usec\n1,5000,5100\n",
    )
    .unwrap();
    fs::write(root.join("trials_to_train.txt"), "user01_led.aedat\n\n").unwrap();
    fs::write(root.join("trials_to_test.txt"), "user02_natural.aedat\n").unwrap();
    (a, b)
}

#[test]
fn gesture_samples_spans_labels_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = write_gesture_tree(dir.path());
    let ds = by_name("dvs128-gesture", dir.path()).unwrap();
    assert_eq!(ds.sensor_size(), (128, 128));
    assert_eq!(ds.profile(), Some(Profile::Dvs128Gesture));
    assert_eq!(ds.class_names().len(), 11);
    let train = ds.samples(Split::Train).unwrap();
    assert_eq!(train.len(), 3);
    assert_eq!(train[0].span, Some((1100, 1300)));
    assert_eq!(
        (train[0].label, train[0].class_name.as_str()),
        (2, "left_hand_wave")
    );
    assert_eq!(train[0].name, "user01_led_0");
    assert_eq!(train[1].name, "user01_led_1");
    assert_eq!(train[2].label, 10);
    assert_eq!(train[0].source_id(), "user01_led.aedat[1100,1300)");
    let ev = load_samples(ds.as_ref(), &train).unwrap();
    assert_eq!(ev[0].len(), 200);
    assert_eq!(ev[0].t[0], 1100);
    // Overlap 1200..1300 is in both samples.
    assert_eq!(ev[1].t[0], 1200);
    assert_eq!(ev[1].x[..], a.x[200..400]);
    assert_eq!(ev[2].len(), 100);
    assert_eq!(load_sample(ds.as_ref(), &train[1]).unwrap(), ev[1]);
    let groups = group_by_source(&train);
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0].samples, vec![0, 1, 2]);
    let test = ds.samples(Split::Test).unwrap();
    assert_eq!(test.len(), 1);
    assert_eq!(test[0].label, 0);
    let files = ds.files().unwrap();
    assert_eq!(files.len(), 6);

    // SpikingJelly's targets: folder "10" sorts third.
    let sj = Dvs128Gesture::with_label_order(dir.path(), LabelOrder::SpikingJelly);
    let s = sj.samples(Split::Train).unwrap();
    assert_eq!(s[0].label, 3); // class 3 -> folder "2" -> position 3
    assert_eq!(s[2].label, 2); // class 11 -> folder "10" -> position 2
    assert_eq!(sj.class_names()[2], "other_gestures");
    assert_eq!(s[2].class_name, "other_gestures");
}

#[test]
fn gesture_errors_name_what_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let ds = Dvs128Gesture::new(dir.path());
    let e = ds.samples(Split::Train).unwrap_err();
    assert!(matches!(e, Error::MissingFile { .. }), "{e}");
    assert!(e.to_string().contains("trials_to_train.txt"), "{e}");
    write_gesture_tree(dir.path());
    fs::remove_file(dir.path().join("user02_natural_labels.csv")).unwrap();
    let e = ds.samples(Split::Test).unwrap_err().to_string();
    assert!(e.contains("user02_natural_labels.csv"), "{e}");
    fs::write(dir.path().join("trials_to_test.txt"), "user09_led.aedat\n").unwrap();
    let e = ds.samples(Split::Test).unwrap_err().to_string();
    assert!(e.contains("user09_led.aedat"), "{e}");
    let e = Dvs128Gesture::new(dir.path().join("nope"))
        .samples(Split::Train)
        .unwrap_err();
    assert!(matches!(e, Error::MissingFolder { .. }));
    // A damaged recording is a decode error naming the file.
    fs::write(
        dir.path().join("user01_led.aedat"),
        b"#!AER-DAT3.1\r\ngarbage",
    )
    .unwrap();
    let train = ds.samples(Split::Train).unwrap();
    let e = load_samples(&ds, &train).unwrap_err().to_string();
    assert!(e.contains("user01_led.aedat"), "{e}");
    assert!(matches!(
        by_name("mnist", dir.path()),
        Err(Error::UnknownDataset { .. })
    ));
}

#[test]
fn cifar10dvs_split_and_orientation() {
    let dir = tempfile::tempdir().unwrap();
    let opts = aedat2::Aedat2WriteOptions {
        profile: Some(Profile::Cifar10Dvs),
    };
    for (ci, c) in CIFAR10_CLASSES.iter().enumerate() {
        fs::create_dir(dir.path().join(c)).unwrap();
        for i in 0..11 {
            let ev = events(ci as i64 * 100 + i, 20 + i as usize, 128, 128);
            aedat2::write(
                &dir.path().join(c).join(format!("cifar10_{c}_{i}.aedat")),
                &ev,
                &opts,
            )
            .unwrap();
        }
    }
    let ds = Cifar10Dvs::new(dir.path());
    let train = ds.samples(Split::Train).unwrap();
    let test = ds.samples(Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (100, 10)); // ceil(11 * 0.9) = 10 per class
    assert_eq!(ds.samples(Split::Train).unwrap(), train); // reproducible
    for s in &test {
        assert!(!train.contains(s));
        assert_eq!(ds.class_names()[s.label], s.class_name);
    }
    // SpikingJelly order: lexicographic names, first 10 train: _0,_1,_10,_2,..,_8; test = _9.
    let sj = Cifar10Dvs::with_split(dir.path(), SplitOrder::SpikingJelly);
    let t = sj.samples(Split::Test).unwrap();
    assert_eq!(t[0].name, "cifar10_airplane_9");
    assert_eq!(
        sj.samples(Split::Train).unwrap()[2].name,
        "cifar10_airplane_10"
    );
    // Events come back in SpikingJelly's orientation (what the writer was given).
    let ev = load_sample(&ds, &t[0]).unwrap();
    assert_eq!(ev, events(9, 29, 128, 128));
    assert_eq!(ds.files().unwrap().len(), 110);

    // An empty class, then a missing one.
    for f in fs::read_dir(dir.path().join("frog")).unwrap() {
        fs::remove_file(f.unwrap().path()).unwrap();
    }
    let e = ds.samples(Split::Train).unwrap_err();
    assert!(
        matches!(&e, Error::EmptyClass { class, .. } if class == "frog"),
        "{e}"
    );
    fs::remove_dir(dir.path().join("frog")).unwrap();
    let e = ds.samples(Split::Train).unwrap_err().to_string();
    assert!(e.contains("frog") && e.contains("airplane"), "{e}");
}

#[test]
fn ncaltech101_classes_sorted_case_sensitively() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Caltech101");
    let mut names: Vec<String> = vec![
        "BACKGROUND_Google".into(),
        "Faces_easy".into(),
        "accordion".into(),
    ];
    names.extend((0..98).map(|i| format!("class{i:02}")));
    for (i, n) in names.iter().enumerate() {
        fs::create_dir_all(root.join(n)).unwrap();
        let files = if n == "accordion" { 10 } else { 1 };
        for k in 0..files {
            let ev = events(i as i64, 5 + k, 240, 180);
            atis::write(&root.join(n).join(format!("image_{k:04}.bin")), &ev).unwrap();
        }
    }
    // Opened on the parent: finds Caltech101/.
    let ds = NCaltech101::new(dir.path());
    assert_eq!(ds.class_names().len(), 101);
    assert_eq!(ds.class_names()[0], "BACKGROUND_Google");
    assert_eq!(ds.class_names()[1], "Faces_easy");
    assert_eq!(ds.class_names()[2], "accordion");
    assert_eq!(ds.sensor_size(), (240, 180));
    let test = ds.samples(Split::Test).unwrap();
    assert_eq!(test.len(), 1); // accordion: ceil(10 * 0.9) = 9 train, 1 test
    assert_eq!(test[0].label, 2);
    let ev = load_sample(&ds, &test[0]).unwrap();
    let k: usize = test[0].name.trim_start_matches("image_").parse().unwrap();
    assert_eq!(ev, events(2, 5 + k, 240, 180));
    assert_eq!(ds.samples(Split::Train).unwrap().len(), 100 + 9);
    fs::remove_dir_all(root.join("class00")).unwrap();
    let e = NCaltech101::new(dir.path())
        .samples(Split::Train)
        .unwrap_err()
        .to_string();
    assert!(e.contains("found 100 class folder"), "{e}");
}

#[test]
fn ncaltech101_partial_tree_needs_the_option() {
    // A partial download: 3 of the 101 class folders, no BACKGROUND_Google.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Caltech101");
    let names = ["airplanes", "Motorbikes", "accordion"];
    for (i, n) in names.iter().enumerate() {
        fs::create_dir_all(root.join(n)).unwrap();
        for k in 0..10 {
            let ev = events(100 * i as i64, 5 + k, 240, 180);
            atis::write(&root.join(n).join(format!("image_{k:04}.bin")), &ev).unwrap();
        }
    }
    // Strict by default, and the error says how to accept the tree.
    for ds in [NCaltech101::new(dir.path()), NCaltech101::new(&root)] {
        let e = ds.samples(Split::Train).unwrap_err().to_string();
        assert!(e.contains("found 3 class folder(s)"), "{e}");
        assert!(e.contains("--allow-missing-classes"), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }
    let e = by_name("n-caltech101", dir.path())
        .unwrap()
        .files()
        .unwrap_err()
        .to_string();
    assert!(e.contains("allow_missing_classes"), "{e}");

    let mut opts = OpenOptions::default();
    opts.allow_missing_classes = true;
    let ds = by_name_with("n-caltech101", dir.path(), &opts).unwrap();
    // Sorted case-sensitively, labels 0..3 over the classes present.
    assert_eq!(ds.class_names(), ["Motorbikes", "accordion", "airplanes"]);
    let train = ds.samples(Split::Train).unwrap();
    let test = ds.samples(Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (27, 3));
    for (label, class) in ds.class_names().iter().enumerate() {
        let of_class: Vec<_> = test.iter().filter(|s| s.label == label).collect();
        assert_eq!(of_class.len(), 1, "{class}");
        assert_eq!(&of_class[0].class_name, class);
        assert!(of_class[0].source.starts_with(class));
        // The events are those written for that folder.
        let i = names.iter().position(|n| n == class).unwrap() as i64;
        let k: usize = of_class[0]
            .name
            .trim_start_matches("image_")
            .parse()
            .unwrap();
        assert_eq!(
            load_sample(ds.as_ref(), of_class[0]).unwrap(),
            events(100 * i, 5 + k, 240, 180)
        );
    }
    assert_eq!(ds.files().unwrap().len(), 30);
    // The option does not admit an empty root or a class folder without recordings.
    let empty = tempfile::tempdir().unwrap();
    assert!(by_name_with("n-caltech101", empty.path(), &opts)
        .unwrap()
        .samples(Split::Train)
        .is_err());
    fs::create_dir_all(root.join("butterfly")).unwrap();
    let e = by_name_with("n-caltech101", &root, &opts)
        .unwrap()
        .samples(Split::Train)
        .unwrap_err()
        .to_string();
    assert!(e.contains("butterfly"), "{e}");
}

#[test]
fn nmnist_official_split() {
    let dir = tempfile::tempdir().unwrap();
    for split in ["Train", "Test"] {
        for d in 0..10 {
            let p = dir.path().join(split).join(d.to_string());
            fs::create_dir_all(&p).unwrap();
            let n = if split == "Train" { 2 } else { 1 };
            for k in 0..n {
                atis::write(&p.join(format!("{:05}.bin", k)), &events(d, 10 + k, 34, 34)).unwrap();
            }
        }
    }
    let ds = by_name("n-mnist", dir.path()).unwrap();
    let train = ds.samples(Split::Train).unwrap();
    assert_eq!(train.len(), 20);
    assert_eq!(train[3].label, 1);
    assert_eq!(train[3].source, Path::new("Train/1/00001.bin"));
    assert_eq!(
        load_sample(ds.as_ref(), &train[3]).unwrap(),
        events(1, 11, 34, 34)
    );
    assert_eq!(ds.samples(Split::Test).unwrap().len(), 10);
    assert_eq!(ds.files().unwrap().len(), 30);
    fs::remove_dir_all(dir.path().join("Test/7")).unwrap();
    let e = ds.samples(Split::Test).unwrap_err().to_string();
    assert!(e.contains("Test/7"), "{e}");
}

fn small_synth() -> SynthConfig {
    SynthConfig {
        users: 3,
        test_users: 1,
        repeats: 2,
        events_per_gesture: 1500,
        ..SynthConfig::default()
    }
}

/// Mean x and y of the events in the first and last quarter of a sample.
fn centroid_drift(ev: &Events) -> (f64, f64) {
    let n = ev.len();
    let q = n / 4;
    let mean = |r: std::ops::Range<usize>, c: &[u16]| {
        c[r.clone()].iter().map(|&v| v as f64).sum::<f64>() / r.len() as f64
    };
    (
        mean(n - q..n, &ev.x) - mean(0..q, &ev.x),
        mean(n - q..n, &ev.y) - mean(0..q, &ev.y),
    )
}

#[test]
fn synthetic_dataset_round_trip_and_motion() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_synth();
    let summary = generate(dir.path(), &cfg).unwrap();
    assert_eq!(summary.recordings.len(), 3);
    assert_eq!((summary.train_samples, summary.test_samples), (32, 16));
    let ds = by_name("synthetic", dir.path()).unwrap();
    assert_eq!(ds.class_names().len(), 8);
    assert_eq!(ds.class_names()[3], "move_right");
    let train = ds.samples(Split::Train).unwrap();
    let test = ds.samples(Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (32, 16));
    let ev = load_samples(ds.as_ref(), &train).unwrap();
    for (s, e) in train.iter().zip(&ev) {
        // Motion events plus noise, all on the 128x128 sensor, inside the window.
        // 1500 motion events (some fall off the sensor) + ~2000 background + ~400 hot-pixel events.
        assert!(e.len() > 2800 && e.len() < 4500, "{} events", e.len());
        let (a, b) = s.span.unwrap();
        assert!(e.t.iter().all(|&t| t >= a && t < b));
    }
}

#[test]
fn synthetic_classes_move_as_named() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        background_rate_hz: 0.0,
        hot_pixels: 0,
        ..small_synth()
    };
    generate(dir.path(), &cfg).unwrap();
    let ds = by_name("synthetic", dir.path()).unwrap();
    let train = ds.samples(Split::Train).unwrap();
    let ev = load_samples(ds.as_ref(), &train).unwrap();
    let mut checked = 0;
    for (s, e) in train.iter().zip(&ev) {
        let (dx, dy) = centroid_drift(e);
        let ok = match s.class_name.as_str() {
            "move_right" => dx > 30.0,
            "move_left" => dx < -30.0,
            "move_down" => dy > 30.0,
            "move_up" => dy < -30.0,
            _ => continue,
        };
        assert!(ok, "{}: drift ({dx}, {dy})", s.class_name);
        checked += 1;
    }
    assert_eq!(checked, 16);

    // Summed over the whole sample (both polarities kept), twin classes look alike; their first
    // quarters do not. Class-average 2x16x16 histograms, normalised to sum 1.
    let hist = |class: &str, part: f64| -> Vec<f64> {
        let mut h = vec![0f64; 2 * 16 * 16];
        for (s, e) in train.iter().zip(&ev) {
            if s.class_name != class {
                continue;
            }
            let n = (e.len() as f64 * part) as usize;
            for i in 0..n {
                h[e.p[i] as usize * 256 + (e.y[i] / 8) as usize * 16 + (e.x[i] / 8) as usize] +=
                    1.0;
            }
        }
        let total: f64 = h.iter().sum();
        h.iter().map(|v| v / total).collect()
    };
    let l1 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>();
    for (a, b) in [
        ("rotate_cw", "rotate_ccw"),
        ("move_left", "move_right"),
        ("move_up", "move_down"),
        ("expand", "contract"),
    ] {
        let whole = l1(&hist(a, 1.0), &hist(b, 1.0));
        let quarter = l1(&hist(a, 0.25), &hist(b, 0.25));
        assert!(
            whole < 0.5 * quarter,
            "{a}/{b}: whole {whole:.3}, first quarter {quarter:.3}"
        );
    }
}

#[test]
fn synthetic_is_seeded_and_validated() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        users: 2,
        repeats: 1,
        test_users: 1,
        events_per_gesture: 200,
        ..SynthConfig::default()
    };
    generate(a.path(), &cfg).unwrap();
    generate(b.path(), &cfg).unwrap();
    generate(
        c.path(),
        &SynthConfig {
            seed: 1,
            ..cfg.clone()
        },
    )
    .unwrap();
    let f = "user01_fluorescent.aedat";
    let bytes = |d: &Path| fs::read(d.join(f)).unwrap();
    assert_eq!(bytes(a.path()), bytes(b.path()));
    assert_ne!(bytes(a.path()), bytes(c.path()));
    let bad = SynthConfig {
        classes: vec![SynthClass::Expand, SynthClass::Expand],
        ..cfg.clone()
    };
    assert!(matches!(
        generate(a.path(), &bad),
        Err(Error::InvalidConfig { .. })
    ));
    let bad = SynthConfig {
        test_users: 2,
        ..cfg.clone()
    };
    assert!(generate(a.path(), &bad).is_err());
    // Absurd sizes are configuration errors, not overflow panics or unreadable label CSVs.
    for bad in [
        SynthConfig {
            repeats: usize::MAX,
            ..cfg.clone()
        },
        SynthConfig {
            gesture_us: i64::MAX,
            gap_us: i64::MAX,
            ..cfg.clone()
        },
        SynthConfig {
            gesture_us: 1 << 32,
            ..cfg.clone()
        },
        SynthConfig {
            background_rate_hz: 1e12,
            ..cfg.clone()
        },
    ] {
        assert!(
            matches!(bad.validate(), Err(Error::InvalidConfig { .. })),
            "{bad:?}"
        );
    }
    assert!("spin".parse::<SynthClass>().is_err());
    assert_eq!(
        "rotate_ccw".parse::<SynthClass>().unwrap(),
        SynthClass::RotateCcw
    );
}
