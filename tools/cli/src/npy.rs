//! Writing `.npy` arrays atomically (temporary file in the same folder, then rename).

use anyhow::{Context, Result};
use ndarray_npy::{WritableElement, WriteNpyExt};
use std::path::Path;

/// Writes `array` as a `.npy` file at `path`; a reader never sees a half-written file.
pub fn write_atomic<A, S, D>(path: &Path, array: &ndarray::ArrayBase<S, D>) -> Result<()>
where
    A: WritableElement,
    S: ndarray::Data<Elem = A>,
    D: ndarray::Dimension,
{
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    let mut writer = std::io::BufWriter::new(tmp.as_file());
    array
        .write_npy(&mut writer)
        .with_context(|| format!("cannot write {}", path.display()))?;
    drop(writer);
    // Temporary files are created private (0600); the result is an ordinary output file.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("cannot set permissions on {}", tmp.path().display()))?;
    }
    tmp.persist(path)
        .with_context(|| format!("cannot move the finished file to {}", path.display()))?;
    Ok(())
}
