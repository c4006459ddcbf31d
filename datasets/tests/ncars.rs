//! N-CARS on a tree this test builds with the DAT writer.

use snnkit_datasets::{by_name, load_samples, Dataset, Error, NCars, Split};
use snnkit_events::{dat, Event, Events, Profile};
use std::path::Path;

fn sample(seed: u16, n: usize) -> Events {
    (0..n)
        .map(|i| Event {
            t: 100 + 37 * i as i64,
            x: (i as u16 * 7 + seed) % 120,
            y: (i as u16 * 3 + seed) % 100,
            p: ((i + seed as usize) % 2) as u8,
        })
        .collect()
}

/// Writes `split/class/obj_*_td.dat` files; returns the events per written file in sample order.
pub fn write_tree(root: &Path, splits: [&str; 2]) -> Vec<Events> {
    let mut all = Vec::new();
    let opts = dat::DatWriteOptions {
        sensor_size: Some((120, 100)),
    };
    for (k, split) in splits.into_iter().enumerate() {
        for (c, class) in ["background", "cars"].into_iter().enumerate() {
            let dir = root.join(split).join(class);
            std::fs::create_dir_all(&dir).unwrap();
            // Written out of name order: samples come back sorted by name.
            for i in (0..3u16).rev() {
                let ev = sample(10 * k as u16 + 3 * c as u16 + i, 50 + 10 * i as usize);
                dat::write(&dir.join(format!("obj_{:06}_td.dat", 40 + i)), &ev, &opts).unwrap();
            }
            for i in 0..3u16 {
                all.push(sample(
                    10 * k as u16 + 3 * c as u16 + i,
                    50 + 10 * i as usize,
                ));
            }
        }
    }
    all
}

#[test]
fn ncars_samples_labels_and_events() {
    let dir = tempfile::tempdir().unwrap();
    let want = write_tree(dir.path(), ["train", "test"]);
    let ds = by_name("n-cars", dir.path()).unwrap();
    assert_eq!(ds.name(), "n-cars");
    assert_eq!(ds.class_names(), ["background", "cars"]);
    assert_eq!(ds.sensor_size(), (120, 100));
    assert_eq!(ds.profile(), Some(Profile::NCars));
    let train = ds.samples(Split::Train).unwrap();
    let test = ds.samples(Split::Test).unwrap();
    assert_eq!((train.len(), test.len()), (6, 6));
    let labels: Vec<usize> = train.iter().map(|s| s.label).collect();
    assert_eq!(labels, [0, 0, 0, 1, 1, 1]);
    assert_eq!(
        train[0].source,
        Path::new("train/background/obj_000040_td.dat")
    );
    assert_eq!(train[5].name, "obj_000042_td");
    assert_eq!(ds.files().unwrap().len(), 12);
    let ev = load_samples(ds.as_ref(), &[train.clone(), test].concat()).unwrap();
    assert_eq!(ev, want);
}

#[test]
fn ncars_archive_folder_names_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), ["n-cars_train", "n-cars_test"]);
    let ds = NCars::new(dir.path());
    assert_eq!(
        ds.samples(Split::Test).unwrap()[0].source,
        Path::new("n-cars_test/background/obj_000040_td.dat")
    );
    std::fs::remove_dir_all(dir.path().join("n-cars_test/cars")).unwrap();
    let e = ds.samples(Split::Test).unwrap_err();
    assert!(matches!(e, Error::MissingFolder { .. }), "{e}");
    assert!(e.to_string().contains("cars"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    assert!(NCars::new(empty.path()).samples(Split::Train).is_err());
    // An event outside 120x100 is an error naming the file.
    let bad = tempfile::tempdir().unwrap();
    write_tree(bad.path(), ["train", "test"]);
    let f = bad.path().join("train/cars/obj_000041_td.dat");
    let ev: Events = [Event {
        t: 1,
        x: 130,
        y: 2,
        p: 1,
    }]
    .into_iter()
    .collect();
    dat::write(&f, &ev, &Default::default()).unwrap();
    let ds = NCars::new(bad.path());
    let s = ds.samples(Split::Train).unwrap();
    let e = load_samples(&ds, &s).unwrap_err().to_string();
    assert!(
        e.contains("obj_000041_td.dat") && e.contains("120x100"),
        "{e}"
    );
}
