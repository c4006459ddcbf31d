//! Any-to-any conversion: every Prophesee fixture (and one fixture of each other readable format)
//! converted to every writable format and read back gives the same events.

mod common;

use common::*;
use ndarray::Array2;
use ndarray_npy::ReadNpyExt;
use snnkit_events::convert::{convert, ConvertOptions, Target};
use snnkit_events::{read_file, Format, ReadOptions};

fn targets() -> Vec<(Target, Option<Format>)> {
    Target::ALL
        .into_iter()
        .map(|t| match t {
            Target::Evt2 => (t, Some(Format::Evt2)),
            Target::Evt3 => (t, Some(Format::Evt3)),
            _ => (t, None),
        })
        .collect()
}

#[test]
fn every_fixture_to_every_format_and_back() {
    let Some(s) = shared() else { return };
    let f = s.join("fixtures");
    let inputs = [
        "prophesee/real_evt2.raw",
        "prophesee/real_dat2.dat",
        "prophesee/real_evt3.raw",
        "prophesee/real_evt3_vect.raw",
        "prophesee/long_evt2.raw",
        "prophesee/long_evt3.raw",
        "aedat4/tonic_sample.aedat4",
        "synthetic/synthetic_user00_test.aedat",
        "atis_bin/tonic_sample_nmnist.bin",
        "synthetic/dsec_layout_from_tonic_sample.h5",
    ];
    let dir = tempfile::tempdir().unwrap();
    for name in inputs {
        let input = f.join(name);
        let orig = read_file(&input, &ReadOptions::default()).unwrap();
        for (target, raw) in targets() {
            let out = dir.path().join(format!("out.{}", target.extension()));
            let opts = ConvertOptions {
                raw,
                ..Default::default()
            };
            let res = convert(&input, &ReadOptions::default(), &out, &opts, |_, _| {});
            // DAT holds 32-bit times only: the long files (t > 2^32 µs) must be refused.
            if target == Target::Dat && orig.events.t.iter().any(|&t| t >= 1 << 32) {
                let e = res.unwrap_err().to_string();
                assert!(
                    e.contains("cannot write event") && e.contains("2^32"),
                    "{e}"
                );
                continue;
            }
            let done = res.unwrap_or_else(|e| panic!("{name} -> {target:?}: {e}"));
            assert_eq!(done.events, orig.events.len(), "{name} -> {target:?}");
            let back = match target.format() {
                Some(fmt) => {
                    let rec = read_file(&out, &ReadOptions::default())
                        .unwrap_or_else(|e| panic!("{name} -> {target:?}: {e}"));
                    assert_eq!(rec.format, fmt);
                    if let (Some(w), Some(h)) = (orig.width, orig.height) {
                        if target != Target::Aedat3 || matches!((w, h), (128, 128) | (346, 260)) {
                            assert_eq!(
                                rec.width.zip(rec.height),
                                Some((w, h)),
                                "{name} -> {target:?}"
                            );
                        }
                    }
                    to_array(&rec.events, "txyp")
                }
                None => Array2::<i64>::read_npy(std::fs::File::open(&out).unwrap()).unwrap(),
            };
            assert_same(
                &back,
                &to_array(&orig.events, "txyp"),
                &format!("{name} -> {target:?}"),
            );
        }
    }
}

#[test]
fn wrong_extension_or_missing_raw_encoding_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.dat");
    snnkit_events::dat::write(&input, &Default::default(), &Default::default()).unwrap();
    for (out, raw) in [
        ("o.txt", None),
        ("o.raw", None),
        ("o.raw", Some(Format::Dat)),
    ] {
        let e = convert(
            &input,
            &ReadOptions::default(),
            &dir.path().join(out),
            &ConvertOptions {
                raw,
                ..Default::default()
            },
            |_, _| {},
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(out), "{e}");
    }
    // An empty recording converts to an empty file of each format.
    let out = dir.path().join("e.raw");
    let opts = ConvertOptions {
        raw: Some(Format::Evt3),
        ..Default::default()
    };
    let done = convert(&input, &ReadOptions::default(), &out, &opts, |_, _| {}).unwrap();
    assert_eq!(done.events, 0);
    assert!(read_file(&out, &ReadOptions::default())
        .unwrap()
        .events
        .is_empty());
}
