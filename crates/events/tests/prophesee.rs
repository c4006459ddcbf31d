//! The Prophesee fixtures in `../shared/fixtures/prophesee` (EVT 2.0, EVT 3.0 with and without
//! vectors, DAT, and 1280×720 files whose time runs past 2^32 µs) against their expected events.

mod common;

use common::*;
use snnkit_events::{read_file, Format, ReadOptions};

/// (file, format, sensor width, height)
const FILES: [(&str, Format, u16, u16); 6] = [
    ("real_evt2.raw", Format::Evt2, 320, 240),
    ("real_dat2.dat", Format::Dat, 320, 240),
    ("real_evt3.raw", Format::Evt3, 320, 240),
    ("real_evt3_vect.raw", Format::Evt3, 320, 240),
    ("long_evt2.raw", Format::Evt2, 1280, 720),
    ("long_evt3.raw", Format::Evt3, 1280, 720),
];

#[test]
fn every_fixture_decodes_to_its_expected_events() {
    let Some(s) = shared() else { return };
    let dir = s.join("fixtures/prophesee");
    for (name, format, w, h) in FILES {
        let rec = read_file(&dir.join(name), &ReadOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(rec.format, format, "{name}: detected format");
        assert_eq!(
            (rec.width, rec.height),
            (Some(w), Some(h)),
            "{name}: sensor"
        );
        let stem = name.rsplit_once('.').unwrap().0;
        let want = npy2(&dir.join(format!("expected/{stem}.npy")));
        assert_same(&to_array(&rec.events, "txyp"), &want, name);
        // The explicit format gives the same events.
        let again = read_file(&dir.join(name), &ReadOptions::with_format(format)).unwrap();
        assert_eq!(again.events, rec.events, "{name}");
    }
}

#[test]
fn a_raw_file_read_as_the_other_version_is_an_error() {
    let Some(s) = shared() else { return };
    let dir = s.join("fixtures/prophesee");
    let e = read_file(
        &dir.join("real_evt2.raw"),
        &ReadOptions::with_format(Format::Evt3),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("EVT 2.0 header"), "{e}");
    let e = read_file(
        &dir.join("real_evt3.raw"),
        &ReadOptions::with_format(Format::Evt2),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("real_evt3.raw: byte 0"), "{e}");
}
