//! Damaged inputs: every fixture cut at many offsets and with bytes flipped must give an error or
//! (for cuts on a record boundary) a correct prefix of the full decode; never a panic.

mod common;

use common::shared;
use rand::{Rng, SeedableRng};
use snnkit_events::{decode_bytes, read_file, Error, Events, Format, ReadOptions, Recording};
use std::path::Path;

fn is_prefix(part: &Events, full: &Events) -> bool {
    let n = part.len();
    n <= full.len()
        && part.t[..] == full.t[..n]
        && part.x[..] == full.x[..n]
        && part.y[..] == full.y[..n]
        && part.p[..] == full.p[..n]
}

/// Offsets to cut at: every one for small files; for large ones (decoding is slow in the debug
/// profile) the first 300 and last 100 bytes, every 8th byte up to 3000 (headers), 150 random.
fn cut_points(len: usize, rng: &mut impl Rng) -> Vec<usize> {
    if len <= 40_000 {
        return (0..len).collect();
    }
    let mut v: Vec<usize> = (0..300)
        .chain((300..3000).step_by(8))
        .chain(len - 100..len)
        .collect();
    v.extend((0..150).map(|_| rng.random_range(0..len)));
    v
}

fn check_cuts(path: &Path, format: Format, opts: &ReadOptions) -> (usize, usize) {
    let bytes = std::fs::read(path).unwrap();
    let full = decode_bytes(format, &bytes, opts).unwrap().events;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let (mut errors, mut prefixes) = (0, 0);
    for cut in cut_points(bytes.len(), &mut rng) {
        match decode_bytes(format, &bytes[..cut], opts) {
            Ok(Recording { events, .. }) => {
                assert!(
                    is_prefix(&events, &full),
                    "{}: cut at {cut} decodes to {} events that are not a prefix",
                    path.display(),
                    events.len()
                );
                prefixes += 1;
            }
            Err(e) => {
                assert!(
                    e.offset().is_some_and(|o| o as usize <= cut),
                    "{}: cut at {cut}: {e}",
                    path.display()
                );
                errors += 1;
            }
        }
    }
    (errors, prefixes)
}

fn check_flips(path: &Path, format: Format, opts: &ReadOptions, rounds: usize) -> usize {
    let bytes = std::fs::read(path).unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let mut errors = 0;
    for _ in 0..rounds {
        let mut b = bytes.clone();
        // Mostly near the start (headers), sometimes anywhere.
        let span = if rng.random_bool(0.5) {
            b.len().min(4096)
        } else {
            b.len()
        };
        for _ in 0..rng.random_range(1..4) {
            let i = rng.random_range(0..span);
            b[i] ^= 1 << rng.random_range(0..8);
        }
        match decode_bytes(format, &b, opts) {
            Ok(r) => assert!(r.events.len() <= bytes.len()),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                errors += 1;
            }
        }
    }
    errors
}

const CASES: [(&str, Format); 8] = [
    ("synthetic/synthetic_user00_test.aedat", Format::Aedat3),
    (
        "synthetic/synthetic_aedat31_tsoverflow.aedat",
        Format::Aedat3,
    ),
    (
        "synthetic/synthetic_cifar10dvs_dvs128.aedat",
        Format::Aedat2,
    ),
    ("aedat2/pyaedattools_TranslatingBarX.aedat", Format::Aedat2),
    ("aedat2/tonic_sample_aedat_header.aedat", Format::Aedat2),
    ("atis_bin/tonic_sample_nmnist.bin", Format::AtisBin),
    ("synthetic/synthetic_atis_overflow.bin", Format::AtisBin),
    ("aedat4/tonic_sample.aedat4", Format::Aedat4),
];

#[test]
fn cut_fixtures_give_errors_or_prefixes() {
    let Some(s) = shared() else { return };
    for (name, format) in CASES {
        let path = s.join("fixtures").join(name);
        let (errors, prefixes) = check_cuts(&path, format, &ReadOptions::default());
        println!("{name}: {errors} errors, {prefixes} prefixes");
        assert!(errors > 0, "{name}: no cut was refused");
    }
}

#[test]
fn cut_fixtures_with_profiles_and_modes() {
    let Some(s) = shared() else { return };
    let strict = ReadOptions {
        strict: true,
        ..Default::default()
    };
    check_cuts(
        &s.join("fixtures/synthetic/synthetic_user00_test.aedat"),
        Format::Aedat3,
        &strict,
    );
    let cifar = ReadOptions {
        profile: Some(snnkit_events::Profile::Cifar10Dvs),
        ..Default::default()
    };
    check_cuts(
        &s.join("fixtures/synthetic/synthetic_cifar10dvs_dvs128.aedat"),
        Format::Aedat2,
        &cifar,
    );
    let tonic = ReadOptions {
        atis_overflow: snnkit_events::AtisOverflow::Tonic,
        ..Default::default()
    };
    check_cuts(
        &s.join("fixtures/synthetic/synthetic_atis_overflow.bin"),
        Format::AtisBin,
        &tonic,
    );
}

#[test]
fn flipped_bytes_never_panic() {
    let Some(s) = shared() else { return };
    for (name, format) in CASES {
        let rounds = if format == Format::Aedat4 { 150 } else { 2000 };
        let errors = check_flips(
            &s.join("fixtures").join(name),
            format,
            &ReadOptions::default(),
            rounds,
        );
        println!("{name}: {errors} of {rounds} flipped copies refused");
    }
}

/// Truncated HDF5 files go through libhdf5: the error must name the file.
#[test]
fn truncated_hdf5_is_an_error() {
    let Some(s) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "dsec_layout_from_tonic_sample.h5",
        "event_utils_layout_from_tonic_sample.h5",
    ] {
        let bytes = std::fs::read(s.join("fixtures/synthetic").join(name)).unwrap();
        for cut in [0, 7, 8, 100, 512, 2048, bytes.len() / 2, bytes.len() - 1] {
            let p = dir.path().join(format!("cut{cut}.h5"));
            std::fs::write(&p, &bytes[..cut]).unwrap();
            match read_file(&p, &ReadOptions::with_format(Format::Hdf5)) {
                Err(e) => assert!(e.to_string().contains(&format!("cut{cut}.h5")), "{e}"),
                Ok(r) => panic!("{name} cut at {cut} decoded {} events", r.events.len()),
            }
        }
    }
}

#[test]
fn wrong_magic_and_unknown_format() {
    let Some(s) = shared() else { return };
    let gesture = s.join("fixtures/synthetic/synthetic_user00_test.aedat");
    for f in [Format::Aedat2, Format::Aedat4] {
        let err = read_file(&gesture, &ReadOptions::with_format(f)).unwrap_err();
        assert!(matches!(err, Error::Invalid { offset: 0, .. }), "{err}");
        assert!(err.to_string().contains("synthetic_user00_test.aedat"));
    }
    let csv = s.join("fixtures/csv/user01_natural_labels.csv");
    assert!(matches!(
        read_file(&csv, &ReadOptions::default()),
        Err(Error::UnknownFormat { .. })
    ));
}

/// Prophesee files: cuts give errors or prefixes (a cut on a word boundary is a shorter
/// recording), flipped bytes never panic. The first 6 KB of each fixture (header and real data,
/// ending on a record boundary) keep the every-byte cuts fast in the debug profile.
#[test]
fn prophesee_cuts_and_flips() {
    let Some(s) = shared() else { return };
    let dir = tempfile::tempdir().unwrap();
    for (name, format) in [
        ("prophesee/real_evt2.raw", Format::Evt2),
        ("prophesee/real_evt3_vect.raw", Format::Evt3),
        ("prophesee/real_dat2.dat", Format::Dat),
        ("prophesee/long_evt3.raw", Format::Evt3),
    ] {
        let bytes = std::fs::read(s.join("fixtures").join(name)).unwrap();
        let opts = ReadOptions::default();
        let end = (0..=6_000)
            .rev()
            .find(|&n| decode_bytes(format, &bytes[..n], &opts).is_ok())
            .unwrap();
        let path = dir.path().join(name.replace('/', "_"));
        std::fs::write(&path, &bytes[..end]).unwrap();
        let (errors, prefixes) = check_cuts(&path, format, &opts);
        println!("{name}: {errors} errors, {prefixes} prefixes");
        assert!(errors > 0 && prefixes > 0, "{name}");
        let refused = check_flips(&path, format, &opts, 500);
        println!("{name}: {refused} of 500 flipped copies refused");
        assert!(refused > 0, "{name}: no flipped copy was refused");
    }
}
