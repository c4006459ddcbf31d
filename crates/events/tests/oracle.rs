//! Every decodable fixture in `../shared/fixtures` against the reference decoders' outputs in
//! `../shared/fixtures/expected` (SpikingJelly HEAD afb1322, Tonic HEAD d0cb6df, PyPI `aedat`
//! 2.2.0; produced by the fixture collectors, see `expected/SUMMARY.json` there).

mod common;

use common::*;
use snnkit_events::{read_file, AtisOverflow, Format, Profile, ReadOptions};

fn opts(profile: Option<Profile>) -> ReadOptions {
    ReadOptions {
        profile,
        ..Default::default()
    }
}

#[test]
fn aedat31_gesture_matches_spikingjelly() {
    let Some(s) = shared() else { return };
    let f = s.join("fixtures/synthetic/synthetic_user00_test.aedat");
    let rec = read_file(&f, &ReadOptions::default()).unwrap();
    assert_eq!(rec.format, Format::Aedat3);
    assert_eq!((rec.width, rec.height), (Some(128), Some(128)));
    let want = npy2(&s.join("fixtures/expected/gesture_sj_load_aedat_v3_txyp.npy"));
    assert_same(&to_array(&rec.events, "txyp"), &want, "gesture");
    // Same with the profile; strict mode drops exactly the one invalid event.
    let prof = read_file(&f, &opts(Some(Profile::Dvs128Gesture))).unwrap();
    assert_eq!(prof.events, rec.events);
    let strict = ReadOptions {
        strict: true,
        ..Default::default()
    };
    assert_eq!(read_file(&f, &strict).unwrap().events.len(), 1899);
}

#[test]
fn aedat31_timestamp_overflow() {
    let Some(s) = shared() else { return };
    let rec = read_file(
        &s.join("fixtures/synthetic/synthetic_aedat31_tsoverflow.aedat"),
        &ReadOptions::default(),
    )
    .unwrap();
    let want = npy1(&s.join("fixtures/expected/aedat31_tsoverflow_sj_t.npy"));
    assert_eq!(rec.events.t, want.to_vec());
    assert!(rec.events.t.iter().all(|&t| t >= 1 << 31));
}

#[test]
fn atis_nmnist_matches_spikingjelly() {
    let Some(s) = shared() else { return };
    let f = s.join("fixtures/atis_bin/tonic_sample_nmnist.bin");
    let rec = read_file(&f, &opts(Some(Profile::NMnist))).unwrap();
    assert_eq!(rec.format, Format::AtisBin);
    let want = npy2(&s.join("fixtures/expected/nmnist_sj_events_txyp.npy"));
    assert_same(&to_array(&rec.events, "txyp"), &want, "nmnist");
    assert_eq!(rec.events.len(), 4325);
    // No overflow markers: Tonic mode gives the same events.
    let tonic = ReadOptions {
        atis_overflow: AtisOverflow::Tonic,
        ..Default::default()
    };
    assert_eq!(read_file(&f, &tonic).unwrap().events, rec.events);
}

#[test]
fn atis_overflow_both_modes() {
    let Some(s) = shared() else { return };
    let f = s.join("fixtures/synthetic/synthetic_atis_overflow.bin");
    let sj = read_file(&f, &ReadOptions::default()).unwrap();
    let want = npy2(&s.join("fixtures/expected/atis_overflow_sj_events_txyp.npy"));
    assert_same(&to_array(&sj.events, "txyp"), &want, "atis overflow sj");
    let tonic = ReadOptions {
        atis_overflow: AtisOverflow::Tonic,
        ..Default::default()
    };
    let t = read_file(&f, &tonic).unwrap();
    let want = npy2(&s.join("fixtures/expected/atis_overflow_tonic_events_xytp.npy"));
    assert_same(&to_array(&t.events, "xytp"), &want, "atis overflow tonic");
    // In SpikingJelly mode the marker row (y = 240) is outside the N-MNIST sensor.
    let err = read_file(&f, &opts(Some(Profile::NMnist))).unwrap_err();
    assert!(
        err.to_string().contains("synthetic_atis_overflow.bin"),
        "{err}"
    );
    assert!(err.offset().is_some());
}

#[test]
fn atis_ncaltech_like_in_range() {
    let Some(s) = shared() else { return };
    let rec = read_file(
        &s.join("fixtures/synthetic/synthetic_ncaltech101_like.bin"),
        &opts(Some(Profile::NCaltech101)),
    )
    .unwrap();
    assert_eq!(rec.events.len(), 2000);
    assert_eq!((rec.width, rec.height), (Some(240), Some(180)));
}

#[test]
fn aedat2_cifar10dvs_matches_spikingjelly() {
    let Some(s) = shared() else { return };
    let f = s.join("fixtures/synthetic/synthetic_cifar10dvs_dvs128.aedat");
    let rec = read_file(&f, &opts(Some(Profile::Cifar10Dvs))).unwrap();
    assert_eq!(rec.format, Format::Aedat2);
    let want = npy2(&s.join("fixtures/expected/cifar10dvs_sj_events_txyp.npy"));
    assert_same(&to_array(&rec.events, "txyp"), &want, "cifar10-dvs");
    // Without a profile: the raw address fields; Tonic's read_dvs_128 bit logic is (y_raw, x_raw, p_raw).
    let raw = read_file(&f, &ReadOptions::default()).unwrap();
    let mut swapped = raw.events.clone();
    std::mem::swap(&mut swapped.x, &mut swapped.y);
    let want = npy2(&s.join("fixtures/expected/cifar10dvs_tonic_read_dvs_128_xytp.npy"));
    assert_same(
        &to_array(&swapped, "xytp"),
        &want,
        "cifar10-dvs raw vs tonic",
    );
}

#[test]
fn aedat2_header_only_file_has_no_events() {
    let Some(s) = shared() else { return };
    let rec = read_file(
        &s.join("fixtures/aedat2/tonic_sample_aedat_header.aedat"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(rec.format, Format::Aedat2);
    assert!(rec.events.is_empty());
    // "# AEChip: eu.seebetter.ini.chips.davis.Davis346red"
    assert_eq!((rec.width, rec.height), (Some(346), Some(260)));
}

#[test]
fn aedat2_davis_pyaedattools_files() {
    let Some(s) = shared() else { return };
    // TranslatingBarX: 10,000 ON events of a vertical bar moving along x (saveaerdat.m, DAVIS layout).
    let bar = read_file(
        &s.join("fixtures/aedat2/pyaedattools_TranslatingBarX.aedat"),
        &ReadOptions::default(),
    )
    .unwrap();
    let ev = &bar.events;
    assert_eq!(ev.len(), 10_000);
    assert_eq!((bar.width, bar.height), (None, None));
    assert!(ev.p.iter().all(|&p| p == 1));
    assert_eq!((ev.t[0], ev.t[ev.len() - 1]), (100_000, 10_000_000));
    assert_eq!(*ev.x.iter().min().unwrap(), 89);
    assert_eq!(*ev.x.iter().max().unwrap(), 188);
    assert_eq!(
        (*ev.y.iter().min().unwrap(), *ev.y.iter().max().unwrap()),
        (1, 100)
    );
    // The bar moves 10 raw columns per 1000 events, towards smaller raw x (jAER shows DAVIS
    // columns mirrored, x = W - 1 - x_raw, so on screen it moves right).
    let mean = |r: std::ops::Range<usize>| ev.x[r].iter().map(|&x| x as f64).sum::<f64>() / 1000.0;
    assert_eq!(mean(0..1000), 183.5);
    assert_eq!(mean(9000..10_000), 93.5);
    assert!(ev.t.windows(2).all(|w| w[0] <= w[1]));
    // TranslatingSquare: 16,000 words, both polarities, coordinates 30..=169.
    let sq = read_file(
        &s.join("fixtures/aedat2/pyaedattools_TranslatingSquare.aedat"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(sq.events.len(), 16_000);
    assert!(sq.events.p.contains(&0) && sq.events.p.contains(&1));
    assert_eq!(*sq.events.x.iter().min().unwrap(), 30);
    assert_eq!(*sq.events.y.iter().max().unwrap(), 169);
}

#[test]
fn aedat4_matches_the_aedat_package() {
    let Some(s) = shared() else { return };
    let rec = read_file(
        &s.join("fixtures/aedat4/tonic_sample.aedat4"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(rec.format, Format::Aedat4);
    assert_eq!((rec.width, rec.height), (Some(320), Some(240)));
    let want = npy2(&s.join("fixtures/expected/tonic_sample_aedat4_events_txyp.npy"));
    assert_same(&to_array(&rec.events, "txyp"), &want, "aedat4");
    assert_eq!(rec.events.len(), 111_954);
}

/// Both HDF5 fixtures hold the first 20,000 events of tonic_sample.aedat4. DSEC: u32 µs relative
/// to `t_offset` = 1605537493718345 (the first event's time), so `t + t_offset` is the absolute
/// time. event_utils: f64 seconds relative to the first event (root attribute `t0` = 0.0), so the
/// reader's µs are relative too.
#[test]
fn hdf5_layouts_match_the_aedat4_events() {
    let Some(s) = shared() else { return };
    let want = npy2(&s.join("fixtures/expected/tonic_sample_aedat4_events_txyp.npy"));
    let mut want = want.slice(ndarray::s![..20_000, ..]).to_owned();
    assert_eq!(want[[0, 0]], 1_605_537_493_718_345);
    let dsec = read_file(
        &s.join("fixtures/synthetic/dsec_layout_from_tonic_sample.h5"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(dsec.format, Format::Hdf5);
    assert_same(&to_array(&dsec.events, "txyp"), &want, "dsec");
    let utils = read_file(
        &s.join("fixtures/synthetic/event_utils_layout_from_tonic_sample.h5"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!((utils.width, utils.height), (Some(320), Some(240)));
    want.column_mut(0)
        .mapv_inplace(|t| t - 1_605_537_493_718_345);
    assert_same(&to_array(&utils.events, "txyp"), &want, "event_utils");
}
