//! The CLI's errors are one line on stderr that names the file (and the byte offset for decode
//! errors), print every cause exactly once, and exit with status 1 (issue 15, item 1).

use std::path::Path;
use std::process::Command;

use snnkit_events::{aedat3, Event, Events};

/// Runs `snnkit args...`, expects a runtime failure, and returns its one stderr line.
fn fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_snnkit"))
        .args(args)
        .env("SNNKIT_LOG", "error")
        .output()
        .expect("snnkit runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "snnkit {args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "snnkit {args:?}: not one line: {stderr:?}");
    let line = lines[0];
    assert!(!line.contains("panicked"), "{line}");
    let msg = line
        .strip_prefix("error: ")
        .unwrap_or_else(|| panic!("no `error: ` prefix: {line}"));
    // No cause is printed twice: the `": "`-separated segments are all different.
    let segments: Vec<&str> = msg.split(": ").collect();
    for (i, s) in segments.iter().enumerate() {
        assert!(
            !segments[..i].contains(s),
            "segment {s:?} repeated in {msg:?}"
        );
    }
    msg.to_string()
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// An AEDAT 3.1 file of `n` events written by the crate's own writer.
fn aedat3_file(path: &Path, n: usize) {
    let events: Events = (0..n)
        .map(|i| Event {
            t: 10 * i as i64,
            x: (i % 128) as u16,
            y: (i / 128 % 128) as u16,
            p: (i % 2) as u8,
        })
        .collect();
    aedat3::write(path, &events, &aedat3::Aedat3WriteOptions::default()).unwrap();
}

#[test]
fn missing_event_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.aedat");
    let msg = fails(&["inspect", arg(&missing)]);
    assert!(msg.starts_with(arg(&missing)), "{msg}");
    assert!(msg.contains("No such file"), "{msg}");
}

#[test]
fn truncated_event_file_names_the_byte_offset() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.aedat");
    aedat3_file(&full, 5000);
    let bytes = std::fs::read(&full).unwrap();
    let cut = dir.path().join("cut.aedat");
    // Cut inside the packets, after the header.
    std::fs::write(&cut, &bytes[..bytes.len() - 37]).unwrap();
    let out = dir.path().join("o.npy");
    let msg = fails(&["events", arg(&cut), "--out", arg(&out)]);
    assert!(msg.starts_with(arg(&cut)), "{msg}");
    assert!(msg.contains(": byte "), "no offset: {msg}");
    assert!(!out.exists(), "no output for a failed decode");
}

#[test]
fn bad_and_missing_cache_files() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.h5");
    std::fs::write(&junk, vec![0x5a; 4096]).unwrap();
    let msg = fails(&["cache", "info", arg(&junk)]);
    assert!(msg.starts_with(arg(&junk)), "{msg}");
    let missing = dir.path().join("none.h5");
    let msg = fails(&["cache", "info", arg(&missing)]);
    assert!(msg.starts_with(arg(&missing)), "{msg}");
    // `cache info` resolves its path first (`snnkit_cache::locate`), which words the error itself.
    assert!(msg.to_lowercase().contains("no such file"), "{msg}");
    // An HDF5 file that is not a cache: an event file in the HDF5 layout.
    let events = dir.path().join("events.h5");
    let ev: Events = [Event {
        t: 1,
        x: 2,
        y: 3,
        p: 1,
    }]
    .into_iter()
    .collect();
    snnkit_events::hdf5::write(&events, &ev, &Default::default()).unwrap();
    let msg = fails(&["cache", "info", arg(&events)]);
    assert!(
        msg.starts_with(&format!("{}: not a valid snnkit cache", arg(&events))),
        "{msg}"
    );
}

/// A conversion that meets a damaged raw file reports the raw file and the decoder's byte offset,
/// through the cache crate's typed error (not a string made at its boundary).
#[test]
fn conversion_of_a_truncated_raw_file() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let synth = Command::new(env!("CARGO_BIN_EXE_snnkit"))
        .args([
            "synth",
            "--out",
            arg(&raw),
            "--users",
            "2",
            "--test-users",
            "1",
        ])
        .args(["--repeats", "1", "--events-per-gesture", "200"])
        .output()
        .unwrap();
    assert!(
        synth.status.success(),
        "{}",
        String::from_utf8_lossy(&synth.stderr)
    );
    let victim = std::fs::read_dir(&raw)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "aedat"))
        .min()
        .expect("an .aedat file");
    let bytes = std::fs::read(&victim).unwrap();
    std::fs::write(&victim, &bytes[..bytes.len() - 11]).unwrap();
    let cache = dir.path().join("cache");
    let msg = fails(&[
        "convert",
        "--dataset",
        "synthetic",
        "--root",
        arg(&raw),
        "--frames",
        "4",
        "--split-by",
        "number",
        "--out",
        arg(&cache),
    ]);
    let name = victim.file_name().unwrap().to_str().unwrap();
    assert!(msg.contains(name), "{msg}");
    assert!(msg.contains(": byte "), "no offset: {msg}");
}
