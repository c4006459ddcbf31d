//! The atomic write: content, replacement, no leftovers, and a mode from the umask (not 0600).

use std::path::Path;

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn writes_replace_and_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.bin");
    snnkit_fsutil::write_atomic(&path, b"first").unwrap();
    snnkit_fsutil::write_atomic_with(&path, |w| {
        use std::io::Write;
        w.write_all(b"sec")?;
        w.write_all(b"ond")
    })
    .unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    // A failing fill leaves the old file and no temporary file.
    let err = snnkit_fsutil::write_atomic_with(&path, |_| Err(std::io::Error::other("stop")));
    assert_eq!(err.unwrap_err().to_string(), "stop");
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    assert!(
        leftovers(dir.path()).is_empty(),
        "{:?}",
        leftovers(dir.path())
    );
}

#[test]
fn atomic_file_keeps_the_extension_and_commits_by_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plot.png");
    let f = snnkit_fsutil::AtomicFile::create(&path).unwrap();
    let tmp = f.temp_path().to_path_buf();
    assert_eq!(tmp.parent(), Some(dir.path()));
    assert_eq!(tmp.extension().unwrap(), "png");
    // A library writing by name (truncating the same file).
    std::fs::write(&tmp, b"png bytes").unwrap();
    assert!(!path.exists());
    f.commit().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"png bytes");
    assert!(!tmp.exists());
    // Dropped without commit: nothing is left.
    let g = snnkit_fsutil::AtomicFile::create(&path).unwrap();
    let tmp2 = g.temp_path().to_path_buf();
    drop(g);
    assert!(!tmp2.exists());
    assert_eq!(std::fs::read(&path).unwrap(), b"png bytes");
}

#[test]
fn persist_renames_a_named_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("train.h5.tmp");
    let path = dir.path().join("train.h5");
    std::fs::write(&tmp, b"cache").unwrap();
    snnkit_fsutil::persist(&tmp, &path).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"cache");
    assert!(!tmp.exists());
    assert!(
        snnkit_fsutil::persist(&tmp, &path).is_err(),
        "no temp file any more"
    );
}

/// Files get `0666 & !umask` like any other new file; tempfile alone would leave 0600.
#[cfg(unix)]
#[test]
fn mode_follows_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.bin");
    snnkit_fsutil::write_atomic(&path, b"x").unwrap();
    let got = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(got, 0o666 & !current_umask(), "mode {got:o}");
    assert_ne!(got, 0o600);
}

/// The process umask, read from /proc (reading it with umask(2) would change it for other threads).
#[cfg(unix)]
pub fn current_umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
        .unwrap_or(0o022)
}
