//! Every event writer, and the converter to every target, leaves an ordinary file: mode `0666` filtered
//! by the umask (the temporary files they are written through are created `0600`), and no temporary
//! file behind (issue 15, item 3).
#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use snnkit_events::convert::{convert, ConvertOptions, Target};
use snnkit_events::{aedat2, aedat3, aedat4, atis, dat, evt2, evt3, hdf5, Event, Events};
use snnkit_events::{Format, ReadOptions};

/// The process umask, from /proc.
fn umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Umask:"))
                .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        })
        .unwrap_or(0o022)
}

fn assert_ordinary(path: &Path) {
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o666 & !umask(), "{}: mode {mode:o}", path.display());
}

#[test]
fn written_files_get_the_umask_mode_and_no_leftovers() {
    // An umask other than the usual 022, so that a fixed 0644 (what the writers used to set) is
    // caught too. This binary holds only this test, so no other thread depends on the umask.
    // SAFETY: umask(2) only changes the process's file-creation mask.
    unsafe { libc::umask(0o027) };
    assert_eq!(umask(), 0o027);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let events: Events = (0..50)
        .map(|i| Event {
            t: 100 + 7 * i,
            x: (i % 30) as u16,
            y: (i % 20) as u16,
            p: (i % 2) as u8,
        })
        .collect();
    aedat2::write(&d.join("a.aedat2"), &events, &Default::default()).unwrap();
    aedat3::write(&d.join("a.aedat"), &events, &Default::default()).unwrap();
    aedat4::write(&d.join("a.aedat4"), &events, &Default::default()).unwrap();
    atis::write(&d.join("a.bin"), &events).unwrap();
    dat::write(&d.join("a.dat"), &events, &Default::default()).unwrap();
    evt2::write(&d.join("a2.raw"), &events, &Default::default()).unwrap();
    evt3::write(&d.join("a3.raw"), &events, &Default::default()).unwrap();
    hdf5::write(&d.join("a.h5"), &events, &Default::default()).unwrap();
    let out = d.join("converted");
    std::fs::create_dir(&out).unwrap();
    for t in Target::ALL {
        let ext = match t {
            Target::Npy => "npy",
            Target::Aedat4 => "aedat4",
            Target::Aedat3 => "aedat",
            Target::Evt2 | Target::Evt3 => "raw",
            Target::Dat => "dat",
            Target::Hdf5 => "h5",
        };
        let raw = match t {
            Target::Evt2 => Some(Format::Evt2),
            Target::Evt3 => Some(Format::Evt3),
            _ => None,
        };
        let o = out.join(format!("{t:?}.{ext}"));
        let opts = ConvertOptions {
            raw,
            ..Default::default()
        };
        convert(
            &d.join("a.aedat"),
            &ReadOptions::default(),
            &o,
            &opts,
            |_, _| {},
        )
        .unwrap();
    }
    for folder in [d, out.as_path()] {
        for entry in std::fs::read_dir(folder).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            assert!(!name.starts_with('.'), "temporary file left: {name}");
            assert_ordinary(&p);
        }
    }
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), Target::ALL.len());
}
