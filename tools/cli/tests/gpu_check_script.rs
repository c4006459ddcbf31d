//! `tools/scripts/gpu-check.sh` without a GPU: it must stop at once (before building anything)
//! with exit status 1 and one line on stderr saying why.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tools/scripts/gpu-check.sh")
}

/// Runs the script with `PATH` = `bin` (which holds whatever stand-ins the case needs) and
/// returns (status code, stderr).
fn run_with_path(bin: &Path) -> (Option<i32>, String) {
    let start = Instant::now();
    // An absolute path: with `PATH` replaced, `Command` would look for `bash` in `bin`.
    let bash = ["/bin/bash", "/usr/bin/bash"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("bash exists");
    let out = Command::new(bash)
        .arg(script())
        .env("PATH", bin)
        .output()
        .expect("bash runs");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the no-GPU path must not start a build"
    );
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A folder for `PATH` with the one external tool the script needs before its GPU check.
fn bin_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let dirname = ["/usr/bin/dirname", "/bin/dirname"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("dirname exists");
    std::os::unix::fs::symlink(dirname, dir.path().join("dirname")).expect("symlink");
    dir
}

#[test]
fn fails_at_once_without_nvidia_smi() {
    let bin = bin_dir();
    let (code, err) = run_with_path(bin.path());
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("no GPU") && err.contains("nvidia-smi not found"),
        "{err}"
    );
}

#[test]
fn fails_at_once_when_nvidia_smi_fails() {
    use std::os::unix::fs::PermissionsExt;
    let bin = bin_dir();
    let stub = bin.path().join("nvidia-smi");
    std::fs::write(
        &stub,
        "#!/bin/sh\necho 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.'\nexit 9\n",
    )
    .expect("write stub");
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (code, err) = run_with_path(bin.path());
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("nvidia-smi failed") && err.contains("NVIDIA driver"),
        "{err}"
    );
}
