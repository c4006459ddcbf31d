//! Writer/reader round trips: values, count-type promotion, version check, resume, fixed-duration padding.

mod common;

use std::path::Path;

use common::{meta, sample};
use snnkit_cache::writer::temp_path;
use snnkit_cache::{CacheReader, CacheWriter, CountType, Error, FrameSetting};

const T: usize = 3;
const H: usize = 6;
const W: usize = 5;
const LEN: usize = T * 2 * H * W;

fn write_all(path: &Path, samples: &[Vec<u32>]) {
    let m = meta(T, H, W, 4);
    let mut w = CacheWriter::create(path, &m).unwrap();
    for (i, s) in samples.iter().enumerate() {
        w.append(s, (i % 4) as u16, &format!("f{i}.bin#0")).unwrap();
    }
    w.checkpoint(samples.len() as u64, &[]).unwrap();
    w.finish(&[]).unwrap();
}

#[test]
fn round_trip_u8_with_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("unit/frames3_number/train.h5");
    let samples: Vec<Vec<u32>> = (0..5).map(|i| sample(i, LEN, 200)).collect();
    write_all(&path, &samples);
    assert!(!temp_path(&path).exists(), "temp file must be renamed away");
    let r = CacheReader::open(&path).unwrap();
    let info = r.info();
    assert_eq!(
        (info.samples, info.frames, info.height, info.width),
        (5, T, H, W)
    );
    assert_eq!(info.dtype, CountType::U8);
    assert_eq!(info.class_names.len(), 4);
    assert_eq!(info.setting_name, "frames3_number");
    assert_eq!(info.compression, "deflate:1");
    assert!(info.created.ends_with('Z'));
    for (i, s) in samples.iter().enumerate() {
        assert_eq!(&r.read_sample(i).unwrap(), s, "sample {i}");
    }
    assert_eq!(r.labels(), &[0, 1, 2, 3, 0]);
    assert_eq!(r.sources().unwrap()[3], "f3.bin#0");
    assert_eq!(r.class_counts(), vec![2, 1, 1, 1]);
    assert!(matches!(r.read_sample(5), Err(Error::Usage(_))));
    // The f32 size estimate writes, measures and removes a scratch file; no samples cost nothing.
    let per_sample = r.f32_deflate_bytes_per_sample(3, 6).unwrap();
    assert!(
        per_sample > 0.0 && per_sample < (LEN * 4 + 1024) as f64,
        "{per_sample}"
    );
    assert_eq!(r.f32_deflate_bytes_per_sample(0, 6).unwrap(), 0.0);
}

#[test]
fn promotes_to_smallest_type_that_holds_the_max() {
    let dir = tempfile::tempdir().unwrap();
    for (max, want) in [
        (255u32, CountType::U8),
        (256, CountType::U16),
        (65_536, CountType::U32),
    ] {
        let path = dir.path().join(format!("p{max}.h5"));
        let mut samples: Vec<Vec<u32>> = (0..4).map(|i| sample(i, LEN, 100)).collect();
        // The big count arrives late, so earlier samples are rewritten in the wider type.
        samples[2][7] = max;
        write_all(&path, &samples);
        let r = CacheReader::open(&path).unwrap();
        assert_eq!(r.info().dtype, want, "max {max}");
        for (i, s) in samples.iter().enumerate() {
            assert_eq!(&r.read_sample(i).unwrap(), s);
        }
        assert_eq!(r.labels(), &[0, 1, 2, 3]);
    }
}

#[test]
fn refuses_unknown_format_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.h5");
    write_all(&path, &[sample(1, LEN, 9)]);
    {
        let f = hdf5::File::open_rw(&path).unwrap();
        f.attr("format_version")
            .unwrap()
            .as_writer()
            .write_scalar(&2u64)
            .unwrap();
    }
    match CacheReader::open(&path) {
        Err(Error::UnsupportedVersion {
            found: 2,
            supported: 1,
            ..
        }) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("version 2 cache was accepted"),
    }
    let msg = CacheReader::open(&path).err().unwrap().to_string();
    assert!(
        msg.contains("v.h5") && msg.contains("format_version 2"),
        "{msg}"
    );
}

#[test]
fn not_a_cache_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("junk.h5");
    std::fs::write(&path, b"this is not hdf5").unwrap();
    let err = CacheReader::open(&path).err().expect("junk accepted");
    assert!(err.to_string().contains("junk.h5"), "{err}");
}

#[test]
fn rejects_wrong_sample_sizes_and_labels() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = CacheWriter::create(&dir.path().join("x.h5"), &meta(T, H, W, 2)).unwrap();
    assert!(matches!(
        w.append(&vec![0; LEN - 1], 0, "a#0"),
        Err(Error::Usage(_))
    ));
    assert!(matches!(
        w.append(&vec![0; LEN * 2], 0, "a#0"),
        Err(Error::Usage(_))
    ));
    assert!(matches!(
        w.append(&vec![0; LEN], 2, "a#0"),
        Err(Error::Usage(_))
    ));
    assert_eq!(w.len(), 0);
}

#[test]
fn resume_continues_and_matches_uninterrupted() {
    let dir = tempfile::tempdir().unwrap();
    let samples: Vec<Vec<u32>> = (0..8)
        .map(|i| sample(i + 10, LEN, if i == 5 { 400 } else { 50 }))
        .collect();
    let reference = dir.path().join("ref.h5");
    write_all(&reference, &samples);

    let path = dir.path().join("resumed.h5");
    let m = meta(T, H, W, 4);
    {
        let mut w = CacheWriter::create(&path, &m).unwrap();
        for (i, s) in samples.iter().enumerate().take(4) {
            w.append(s, (i % 4) as u16, &format!("f{i}.bin#0")).unwrap();
        }
        w.checkpoint(4, &["bad.bin".into()]).unwrap();
        // Written after the checkpoint, then "killed": must be dropped and redone on resume.
        w.append(&samples[4], 0, "f4.bin#0").unwrap();
    }
    assert!(temp_path(&path).exists() && !path.exists());
    let (mut w, state) = CacheWriter::resume(&path, &m).unwrap();
    assert_eq!(state.units_done, 4);
    assert_eq!(state.samples_done, 4);
    assert_eq!(state.skipped, vec!["bad.bin".to_string()]);
    assert_eq!(state.restarted, None);
    assert_eq!(w.len(), 4);
    for (i, s) in samples.iter().enumerate().skip(4) {
        w.append(s, (i % 4) as u16, &format!("f{i}.bin#0")).unwrap();
    }
    w.finish(&[]).unwrap();

    let (a, b) = (
        CacheReader::open(&reference).unwrap(),
        CacheReader::open(&path).unwrap(),
    );
    assert_eq!(a.info().dtype, CountType::U16);
    assert_eq!(b.info().dtype, a.info().dtype);
    assert_eq!(a.labels(), b.labels());
    for i in 0..samples.len() {
        assert_eq!(a.read_sample(i).unwrap(), b.read_sample(i).unwrap());
    }
}

#[test]
fn resume_restarts_on_changed_settings_or_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.h5");
    let m = meta(T, H, W, 4);
    {
        let mut w = CacheWriter::create(&path, &m).unwrap();
        w.append(&sample(1, LEN, 9), 1, "a#0").unwrap();
        w.checkpoint(1, &[]).unwrap();
    }
    let mut other = m.clone();
    other.source_fingerprint = "fnv1a64:1111111111111111".into();
    let (w, state) = CacheWriter::resume(&path, &other).unwrap();
    assert!(
        state
            .restarted
            .as_deref()
            .unwrap_or("")
            .contains("different settings"),
        "{state:?}"
    );
    assert_eq!((state.samples_done, w.len()), (0, 0));
    drop(w);
    // A torn temp file (e.g. killed mid-write) is discarded, not trusted.
    let tmp = temp_path(&path);
    let bytes = std::fs::read(&tmp).unwrap();
    std::fs::write(&tmp, &bytes[..bytes.len() / 3]).unwrap();
    let (w, state) = CacheWriter::resume(&path, &m).unwrap();
    assert!(state.restarted.is_some());
    assert_eq!(w.len(), 0);
}

#[test]
fn fixed_duration_pads_and_records_lengths() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.h5");
    let mut m = meta(T, H, W, 2);
    m.setting = FrameSetting::Duration { us: 1000 };
    let fl = 2 * H * W;
    let s1 = sample(3, 2 * fl, 20);
    let s2 = sample(4, 5 * fl, 20);
    let s3 = sample(5, fl, 20);
    let mut w = CacheWriter::create(&path, &m).unwrap();
    w.append(&s1, 0, "a#0").unwrap();
    w.append(&s2, 1, "a#1").unwrap();
    w.append(&s3, 1, "a#2").unwrap();
    w.finish(&[]).unwrap();
    let r = CacheReader::open(&path).unwrap();
    assert_eq!(r.info().frames, 5);
    assert_eq!(r.info().setting_name, "duration1000us");
    assert_eq!(r.lengths(), Some(&[2u32, 5, 1][..]));
    for (i, s) in [&s1, &s2, &s3].iter().enumerate() {
        let got = r.read_sample(i).unwrap();
        assert_eq!(&got[..s.len()], &s[..]);
        assert!(
            got[s.len()..].iter().all(|&v| v == 0),
            "padding of sample {i}"
        );
    }
}

/// A child process started while caches are open, even while other threads are opening them, must not keep
/// a cache locked after it is closed. (libhdf5 opens without `O_CLOEXEC`; the cache's lock is taken on a
/// descriptor that is close-on-exec from the start, so this no longer needs a test binary of its own.)
#[test]
fn child_processes_do_not_inherit_cache_locks() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<_> = (0..4)
        .map(|i| {
            let p = dir.path().join(format!("lock{i}.h5"));
            write_all(&p, &[sample(i, LEN, 9)]);
            p
        })
        .collect();
    let stop = AtomicBool::new(false);
    let mut children = Vec::new();
    std::thread::scope(|s| {
        let openers: Vec<_> = paths[1..]
            .iter()
            .map(|p| {
                let stop = &stop;
                s.spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        drop(CacheReader::open(p).unwrap());
                    }
                })
            })
            .collect();
        let reader = CacheReader::open(&paths[0]).unwrap();
        for _ in 0..8 {
            children.push(
                std::process::Command::new("sleep")
                    .arg("5")
                    .spawn()
                    .unwrap(),
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        drop(reader);
        stop.store(true, Ordering::Relaxed);
        for o in openers {
            o.join().unwrap();
        }
    });
    let reopened: Vec<_> = paths.iter().map(hdf5::File::open_rw).collect();
    for mut c in children {
        c.kill().unwrap();
        c.wait().unwrap();
    }
    for (p, r) in paths.iter().zip(reopened) {
        assert!(
            r.is_ok(),
            "{} locked by a child process: {:?}",
            p.display(),
            r.err()
        );
    }
}
