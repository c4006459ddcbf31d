//! The cache crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while writing, reading or loading a cache.
///
/// Every variant that concerns a file names it, so a CLI can print one line that tells the user where to look.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An HDF5 call failed on this file.
    #[error("{path}: HDF5 error: {source}")]
    Hdf5 {
        /// The cache file.
        path: PathBuf,
        /// The HDF5 error stack.
        #[source]
        source: hdf5::Error,
    },
    /// Plain file-system error (create, rename, stat, remove).
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is an HDF5 file but not a cache this version understands, or is missing a required part.
    #[error("{path}: not a valid snnkit cache: {reason}")]
    Invalid {
        /// The cache file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The cache was written with a format version this reader does not know.
    #[error(
        "{path}: unsupported cache format_version {found} (this snnkit reads version {supported})"
    )]
    UnsupportedVersion {
        /// The cache file.
        path: PathBuf,
        /// The version found in the file.
        found: u64,
        /// The version this build supports.
        supported: u64,
    },
    /// A caller passed something inconsistent (wrong sample size, bad loader settings, ...).
    #[error("{0}")]
    Usage(String),
    /// A raw file could not be decoded or cut into samples during conversion.
    #[error("{}", name_once(file, message))]
    Source {
        /// The raw file (relative to the dataset root where known).
        file: String,
        /// The error, including the byte offset where the decoder reported one.
        message: String,
    },
    /// The dataset definition failed (missing folder, bad label file, ...); the message names the path.
    #[error("{0}")]
    Dataset(String),
    /// Conversion was stopped by the caller (progress callback) or an injected failure.
    #[error("conversion interrupted: {0}")]
    Interrupted(String),
    /// A tensor could not be built on the requested device.
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),
}

/// `"<file>: <message>"`, or just the message when it already names the file (decoder errors carry the path).
fn name_once(file: &str, message: &str) -> String {
    if message.contains(file) {
        message.to_string()
    } else {
        format!("{file}: {message}")
    }
}

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Attaches a path to HDF5 errors (`.h5(path)?`).
pub(crate) trait H5Context<T> {
    fn h5(self, path: &std::path::Path) -> Result<T>;
}

impl<T> H5Context<T> for Result<T, hdf5::Error> {
    fn h5(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::Hdf5 {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Attaches a path to I/O errors.
pub(crate) trait IoContext<T> {
    fn io(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn io(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }
}
