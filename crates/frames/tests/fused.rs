//! Decode-to-frames (`integrate_file_by_number`) is bit-identical to decoding into columns and
//! binning (`read_file` + `integrate`), on generated files spanning several parallel ranges and
//! on the shared fixtures.

use snnkit_events::{
    aedat2, aedat3, atis, dat, evt2, evt3, read_file, Event, Events, Format, ReadOptions,
};
use snnkit_frames::{integrate, integrate_file_by_number, Error, FrameSpec, SensorSize};
use std::path::Path;

fn column_path(path: &Path, opts: &ReadOptions, sensor: SensorSize, frames: usize) -> Vec<u32> {
    let rec = read_file(path, opts).unwrap();
    integrate(
        rec.events.as_ref(),
        sensor,
        &FrameSpec::SplitByNumber { frames },
    )
    .unwrap()
    .counts
}

fn check(path: &Path, opts: &ReadOptions, sensor: SensorSize) {
    for frames in [1, 3, 16] {
        let fused = integrate_file_by_number(path, opts, sensor, frames)
            .unwrap()
            .unwrap_or_else(|| panic!("{}: no ranged decoder", path.display()));
        assert_eq!(fused.counts.len(), frames * sensor.frame_len());
        assert!(
            fused.counts == column_path(path, opts, sensor, frames),
            "{}: T={frames} differs",
            path.display()
        );
    }
}

#[test]
fn generated_files_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let n = 1_100_003i64; // several ranges, and N not a multiple of T
    let ev: Events = (0..n)
        .map(|i| {
            let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
            Event {
                t: i / 3,
                x: (h % 128) as u16,
                y: ((h >> 8) % 128) as u16,
                p: (h >> 20 & 1) as u8,
            }
        })
        .collect();
    let sensor = SensorSize {
        width: 128,
        height: 128,
    };
    let files: [(&str, Format); 6] = [
        ("g.aedat", Format::Aedat3),
        ("g2.aedat", Format::Aedat2),
        ("g.bin", Format::AtisBin),
        ("g2.raw", Format::Evt2),
        ("g3.raw", Format::Evt3),
        ("g.dat", Format::Dat),
    ];
    for (name, format) in files {
        let p = dir.path().join(name);
        match format {
            Format::Aedat3 => aedat3::write(&p, &ev, &Default::default()).unwrap(),
            Format::Aedat2 => aedat2::write(&p, &ev, &Default::default()).unwrap(),
            Format::AtisBin => atis::write(&p, &ev).unwrap(),
            Format::Evt2 => evt2::write(&p, &ev, &Default::default()).unwrap(),
            Format::Evt3 => evt3::write(&p, &ev, &Default::default()).unwrap(),
            _ => dat::write(&p, &ev, &Default::default()).unwrap(),
        }
        check(&p, &ReadOptions::default(), sensor);
    }
    // Fewer events than frames: everything lands in the last frame, as SpikingJelly does.
    let p = dir.path().join("few.aedat");
    aedat3::write(&p, &ev.as_ref().slice(0..5).to_owned(), &Default::default()).unwrap();
    check(&p, &ReadOptions::default(), sensor);
    // An event outside the sensor: the same error as the column path.
    let small = SensorSize {
        width: 100,
        height: 128,
    };
    let p = dir.path().join("g.aedat");
    let fused = integrate_file_by_number(&p, &ReadOptions::default(), small, 4).unwrap_err();
    let rec = read_file(&p, &ReadOptions::default()).unwrap();
    let want = integrate(
        rec.events.as_ref(),
        small,
        &FrameSpec::SplitByNumber { frames: 4 },
    )
    .unwrap_err();
    assert_eq!(format!("{fused:?}"), format!("{want:?}"));
    assert!(matches!(fused, Error::OutOfRange { .. }));
    // Events beyond the size the file's own header declares: refused like the column path
    // refuses them, even though they fit the caller's sensor (found by fuzz/fused).
    let sized = dir.path().join("sized.raw");
    let opts = evt3::RawWriteOptions {
        sensor_size: Some((128, 128)),
    };
    evt3::write(&sized, &ev, &opts).unwrap();
    let mut patched = std::fs::read(&sized).unwrap();
    for (from, to) in [
        (&b"width=128;height=128"[..], &b"width=064;height=064"[..]),
        (b"128x128", b"064x064"),
    ] {
        let at = patched
            .windows(from.len())
            .position(|w| w == from)
            .expect("header field");
        patched[at..at + from.len()].copy_from_slice(to);
    }
    let p = dir.path().join("small_header.raw");
    std::fs::write(&p, &patched).unwrap();
    let column = read_file(&p, &ReadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(column.contains("64x64 sensor"), "{column}");
    let fused = integrate_file_by_number(&p, &ReadOptions::default(), sensor, 4).unwrap_err();
    assert!(fused.to_string().contains("64x64 sensor"), "{fused}");
    // A damaged file: the decoder's error with file and offset.
    let bytes = std::fs::read(dir.path().join("g2.raw")).unwrap();
    let cut = dir.path().join("cut.raw");
    std::fs::write(&cut, &bytes[..bytes.len() - 1]).unwrap();
    let e = integrate_file_by_number(&cut, &ReadOptions::default(), sensor, 4)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cut.raw: byte"), "{e}");
    // Strict AEDAT 3.1 has no ranged decoder.
    let strict = ReadOptions {
        strict: true,
        ..Default::default()
    };
    assert!(
        integrate_file_by_number(&dir.path().join("g.aedat"), &strict, sensor, 4)
            .unwrap()
            .is_none()
    );
}

#[test]
fn shared_fixtures() {
    let Some(s) = snnkit_testdata::shared() else {
        return;
    };
    let f = s.join("fixtures");
    let cases: [(&str, (usize, usize)); 8] = [
        ("synthetic/synthetic_user00_test.aedat", (128, 128)),
        // DAVIS-layout AEDAT 2.0 (APS/IMU words skipped) on a DAVIS240 array.
        ("aedat2/pyaedattools_TranslatingBarX.aedat", (240, 180)),
        ("aedat2/pyaedattools_TranslatingSquare.aedat", (240, 180)),
        ("atis_bin/tonic_sample_nmnist.bin", (34, 34)),
        ("prophesee/real_evt2.raw", (320, 240)),
        ("prophesee/real_evt3_vect.raw", (320, 240)),
        ("prophesee/real_dat2.dat", (320, 240)),
        ("prophesee/long_evt3.raw", (1280, 720)),
    ];
    for (name, (width, height)) in cases {
        check(
            &f.join(name),
            &ReadOptions::default(),
            SensorSize { width, height },
        );
    }
}
