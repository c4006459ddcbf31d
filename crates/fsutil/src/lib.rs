//! snnkit-fsutil: the workspace's one atomic, durable file write.
//!
//! Every file snnkit writes (event files, `.npy` arrays, datasets, caches, checkpoints, plots) goes
//! through here, so they all follow one policy:
//!
//! 1. a temporary file in the destination's folder (a rename never crosses file systems), named
//!    `.<stem>.<random>.<extension>` so writers that choose an encoding from the extension (PNG)
//!    still work and a leftover is recognisable;
//! 2. created with mode `0666` filtered by the process umask, like any other new file (not
//!    tempfile's private `0600`);
//! 3. written, then `fsync`ed;
//! 4. renamed over the destination, and the folder `fsync`ed so the rename itself survives a crash.
//!
//! A reader therefore sees the old file or the complete new one, never a half-written one, and a
//! crash right after the call returns cannot lose the new file.
//!
//! - [`write_atomic`]`(path, bytes)` for data already in memory;
//! - [`write_atomic_with`]`(path, |w| ...)` to stream through a buffered [`Write`];
//! - [`AtomicFile`] when a library writes the temporary file by path (HDF5, plotters):
//!   [`AtomicFile::temp_path`], then [`AtomicFile::commit`];
//! - [`persist`]`(tmp, path)` for a temporary file with a fixed name of the caller's (a resumable
//!   cache conversion), which gets the same fsync-rename-fsync ending.
//!
//! ```
//! use std::io::Write;
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("numbers.txt");
//! snnkit_fsutil::write_atomic(&path, b"1 2 3\n")?;
//! snnkit_fsutil::write_atomic_with(&path, |w| w.write_all(b"4 5 6\n"))?;
//! assert_eq!(std::fs::read(&path)?, b"4 5 6\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A new file being written under a temporary name next to its destination; [`AtomicFile::commit`]
/// makes it the destination. Dropped without a commit, the temporary file is removed.
#[derive(Debug)]
pub struct AtomicFile {
    tmp: tempfile::NamedTempFile,
    path: PathBuf,
}

impl AtomicFile {
    /// Creates the temporary file for `path` in `path`'s folder (which must exist).
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        let dir = parent(path);
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let suffix = match path.extension() {
            Some(ext) => format!(".{}", ext.to_string_lossy()),
            None => ".tmp".to_string(),
        };
        let prefix = format!(".{stem}.");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(&suffix);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // open(2) applies the umask to this mode, as for any file a program creates.
            builder.permissions(std::fs::Permissions::from_mode(0o666));
        }
        let tmp = builder.tempfile_in(dir)?;
        Ok(AtomicFile {
            tmp,
            path: path.to_path_buf(),
        })
    }

    /// The temporary file's path, for libraries that open files by name. They must write this very
    /// file (truncating it is fine; deleting and recreating it would lose the mode and the handle).
    pub fn temp_path(&self) -> &Path {
        self.tmp.path()
    }

    /// The open temporary file.
    pub fn as_file(&self) -> &File {
        self.tmp.as_file()
    }

    /// The destination.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `fsync`s the temporary file, renames it to the destination and `fsync`s the folder.
    pub fn commit(self) -> io::Result<()> {
        self.tmp.as_file().sync_all()?;
        self.tmp.persist(&self.path).map_err(|e| e.error)?;
        sync_dir(parent(&self.path))
    }
}

/// Writes `bytes` to `path` atomically and durably (see the crate docs).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// Streams a new `path` through `fill`, which writes into a buffered temporary file; `path` is
/// replaced only when `fill` succeeds (see the crate docs). Callers with an error type of their own
/// use [`AtomicFile`] directly.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<&File>) -> io::Result<()>,
) -> io::Result<()> {
    let file = AtomicFile::create(path)?;
    {
        let mut w = BufWriter::with_capacity(1 << 20, file.as_file());
        fill(&mut w)?;
        w.flush()?;
    }
    file.commit()
}

/// Makes the finished file `tmp` (written by the caller under a name of its own, in `path`'s folder)
/// the destination `path`: `fsync` it, rename it, `fsync` the folder.
pub fn persist(tmp: &Path, path: &Path) -> io::Result<()> {
    File::open(tmp)?.sync_all()?;
    std::fs::rename(tmp, path)?;
    sync_dir(parent(path))
}

/// `fsync`s a folder, so that renames and new entries in it are on disk. A no-op where folders cannot
/// be opened (Windows).
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The folder of `path` (`.` for a bare file name).
fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}
