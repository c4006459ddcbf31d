//! The parallel conversion pipeline on an in-memory source: --jobs independence, interruption and resume
//! (including a real SIGKILL of a child process), corrupt files, up-to-date detection.

mod common;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{meta, sample};
use snnkit_cache::convert::{write_split, BinnedSample, ConvertOptions, ConvertSource};
use snnkit_cache::writer::temp_path;
use snnkit_cache::UnitError;
use snnkit_cache::{CacheReader, Compression, Error};

const T: usize = 2;
const H: usize = 8;
const W: usize = 8;
const LEN: usize = T * 2 * H * W;

/// Unit u holds 1 + u % 3 samples; unit `bad` fails; `delay` slows each unit (for the kill test).
struct Fake {
    units: usize,
    bad: Option<usize>,
    delay: Duration,
}

impl ConvertSource for Fake {
    fn num_units(&self) -> usize {
        self.units
    }
    fn unit_name(&self, unit: usize) -> String {
        format!("rec{unit:03}.aedat")
    }
    fn process(&self, unit: usize) -> Result<Vec<BinnedSample>, UnitError> {
        std::thread::sleep(self.delay);
        if Some(unit) == self.bad {
            return Err("truncated packet at byte 1234".into());
        }
        // Later units have bigger counts, so the count type is promoted mid-way (u8 -> u16).
        let max = if unit >= 7 { 600 } else { 100 };
        Ok((0..1 + unit % 3)
            .map(|s| BinnedSample {
                counts: sample((unit * 10 + s) as u64, LEN, max),
                label: ((unit + s) % 4) as u16,
                source: format!("rec{unit:03}.aedat#{s}"),
                events: 1000,
            })
            .collect())
    }
}

fn fake(units: usize) -> Fake {
    Fake {
        units,
        bad: None,
        delay: Duration::ZERO,
    }
}

fn opts(jobs: usize) -> ConvertOptions {
    ConvertOptions {
        jobs,
        checkpoint_interval: Duration::ZERO,
        ..ConvertOptions::default()
    }
}

fn go(
    path: &Path,
    src: &Fake,
    o: &ConvertOptions,
) -> snnkit_cache::Result<snnkit_cache::convert::SplitSummary> {
    write_split(path, &meta(T, H, W, 4), src, o, &mut |_| {
        ControlFlow::Continue(())
    })
}

/// `/frames` (as u32), `/labels`, `/sources` and the count type of a finished cache.
fn contents(
    path: &Path,
) -> (
    Vec<Vec<u32>>,
    Vec<u16>,
    Vec<String>,
    snnkit_cache::CountType,
) {
    let r = CacheReader::open(path).unwrap();
    let frames = (0..r.len()).map(|i| r.read_sample(i).unwrap()).collect();
    (
        frames,
        r.labels().to_vec(),
        r.sources().unwrap(),
        r.info().dtype,
    )
}

/// Raw stored bytes of /frames and /labels (the "byte-identical" check, independent of widening).
fn raw_bytes(path: &Path) -> (Vec<u8>, Vec<u8>) {
    let f = hdf5::File::open(path).unwrap();
    let frames = f.dataset("frames").unwrap();
    let bytes = match frames.dtype().unwrap().size() {
        1 => frames.read_raw::<u8>().unwrap(),
        2 => frames
            .read_raw::<u16>()
            .unwrap()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        _ => frames
            .read_raw::<u32>()
            .unwrap()
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
    };
    let labels = f.dataset("labels").unwrap().read_raw::<u16>().unwrap();
    (bytes, labels.iter().flat_map(|v| v.to_le_bytes()).collect())
}

fn reference(dir: &Path, units: usize) -> PathBuf {
    let path = dir.join("ref/train.h5");
    let summary = go(&path, &fake(units), &opts(1)).unwrap();
    assert_eq!(summary.files, units);
    path
}

#[test]
fn output_does_not_depend_on_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let a = reference(dir.path(), 12);
    let b = dir.path().join("j3/train.h5");
    let s = go(
        &b,
        &fake(12),
        &ConvertOptions {
            window: 2,
            ..opts(3)
        },
    )
    .unwrap();
    assert_eq!(s.samples, (0..12).map(|u| 1 + u % 3).sum::<usize>());
    assert_eq!(s.dtype, snnkit_cache::CountType::U16);
    assert_eq!(s.events, s.samples as u64 * 1000);
    assert_eq!(contents(&a), contents(&b));
    assert_eq!(raw_bytes(&a), raw_bytes(&b));
    // The chunks encoded by the workers (and stored with H5Dwrite_chunk) read back as the binned counts, both
    // before and after the promotion to u16 (after it, u8-sized samples take the writer's own encoding path).
    let expected: Vec<BinnedSample> = (0..12).flat_map(|u| fake(12).process(u).unwrap()).collect();
    let (frames, labels, _, _) = contents(&b);
    for (i, e) in expected.iter().enumerate() {
        assert_eq!(frames[i], e.counts, "sample {i}");
        assert_eq!(labels[i], e.label);
    }
    for compression in [Compression::None, Compression::Deflate(6)] {
        let path = dir
            .path()
            .join(format!("{compression}/train.h5").replace(':', "_"));
        let mut m = meta(T, H, W, 4);
        m.compression = compression;
        write_split(&path, &m, &fake(12), &opts(2), &mut |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
        let (f, _, _, dtype) = contents(&path);
        assert_eq!(dtype, snnkit_cache::CountType::U16);
        assert!(
            f.iter().zip(&expected).all(|(got, e)| *got == e.counts),
            "{compression}"
        );
    }
    // Samples appear in unit order, then segment order.
    let (_, _, sources, _) = contents(&b);
    assert_eq!(
        &sources[..4],
        &[
            "rec000.aedat#0",
            "rec001.aedat#0",
            "rec001.aedat#1",
            "rec002.aedat#0"
        ]
    );
}

#[test]
fn interrupted_conversion_resumes_to_identical_output() {
    let dir = tempfile::tempdir().unwrap();
    let a = reference(dir.path(), 12);
    for (stop_after, checkpoint) in [
        (3usize, Duration::ZERO),
        (9, Duration::ZERO),
        (5, Duration::from_secs(3600)),
    ] {
        let b = dir
            .path()
            .join(format!("int{stop_after}_{}/train.h5", checkpoint.as_secs()));
        let o = ConvertOptions {
            checkpoint_interval: checkpoint,
            ..opts(2)
        };
        let err = write_split(&b, &meta(T, H, W, 4), &fake(12), &o, &mut |p| {
            if p.units_done == stop_after {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .expect_err("interrupted");
        assert!(matches!(err, Error::Interrupted(_)), "{err}");
        assert!(!b.exists() && temp_path(&b).exists());
        let s = go(&b, &fake(12), &o).unwrap();
        assert_eq!(
            s.resumed_units, stop_after as u64,
            "resumes where it stopped"
        );
        assert_eq!(raw_bytes(&a), raw_bytes(&b));
        assert_eq!(contents(&a), contents(&b));
    }
}

#[test]
fn corrupt_file_fails_with_its_name_unless_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad/train.h5");
    let src = Fake {
        bad: Some(4),
        ..fake(8)
    };
    let err = go(&path, &src, &opts(2)).expect_err("corrupt file must fail");
    // The chain, as a CLI prints it: the unit's name, then the source's own reason.
    let msg = snnkit_cache::one_line(&err);
    assert!(
        msg.contains("rec004.aedat") && msg.contains("byte 1234"),
        "{msg}"
    );
    assert!(!path.exists());
    let s = go(
        &path,
        &src,
        &ConvertOptions {
            skip_bad: true,
            ..opts(2)
        },
    )
    .unwrap();
    assert_eq!(s.resumed_units, 4, "units before the bad one were kept");
    assert_eq!(s.skipped.len(), 1);
    assert_eq!(s.skipped[0].file, "rec004.aedat");
    let (_, _, sources, _) = contents(&path);
    assert!(!sources.iter().any(|s| s.starts_with("rec004")));
    assert_eq!(
        sources.len(),
        (0..8).filter(|&u| u != 4).map(|u| 1 + u % 3).sum::<usize>()
    );
    assert_eq!(
        CacheReader::open(&path).unwrap().info().skipped_files,
        vec!["rec004.aedat".to_string()]
    );
}

#[test]
fn finished_cache_with_same_settings_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let a = reference(dir.path(), 4);
    let before = std::fs::metadata(&a).unwrap().modified().unwrap();
    let s = go(&a, &fake(4), &opts(1)).unwrap();
    assert!(s.up_to_date);
    assert_eq!(std::fs::metadata(&a).unwrap().modified().unwrap(), before);
    let s = go(
        &a,
        &fake(4),
        &ConvertOptions {
            force: true,
            ..opts(1)
        },
    )
    .unwrap();
    assert!(!s.up_to_date);
}

/// Units of the SIGKILL test: enough that the slow child (~20 ms a unit on two threads) is still far from done
/// however late the parent, on a loaded machine, gets to kill it after unit 6.
const KILL_UNITS: usize = 200;

/// Child half of `sigkill_midway_then_resume`: converts slowly until killed.
#[test]
fn kill_child_helper() {
    let Ok(out) = std::env::var("SNNKIT_CACHE_KILL_CHILD") else {
        return; // only meaningful when spawned by the parent test
    };
    let out = PathBuf::from(out);
    let src = Fake {
        delay: Duration::from_millis(40),
        ..fake(KILL_UNITS)
    };
    let _ = write_split(&out, &meta(T, H, W, 4), &src, &opts(2), &mut |p| {
        if p.units_done == 6 {
            let _ = std::fs::write(out.with_extension("ready"), b"");
        }
        ControlFlow::Continue(())
    });
}

#[test]
fn sigkill_midway_then_resume() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("ref/train.h5");
    go(&a, &fake(KILL_UNITS), &opts(2)).unwrap();
    let b = dir.path().join("killed/train.h5");
    std::fs::create_dir_all(b.parent().unwrap()).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "kill_child_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SNNKIT_CACHE_KILL_CHILD", &b)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = b.with_extension("ready");
    let t0 = std::time::Instant::now();
    while !ready.exists() && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(ready.exists(), "child never got going");
    child.kill().unwrap(); // SIGKILL: no destructors, HDF5 not closed
    child.wait().unwrap();
    assert!(!b.exists() && temp_path(&b).exists());
    let s = go(&b, &fake(KILL_UNITS), &opts(2)).unwrap();
    eprintln!(
        "after SIGKILL: resumed {} units, restarted: {:?}",
        s.resumed_units, s.restarted
    );
    assert!(s.resumed_units >= 6 || s.restarted.is_some(), "{s:?}");
    assert_eq!(raw_bytes(&a), raw_bytes(&b));
    assert_eq!(contents(&a), contents(&b));
}
