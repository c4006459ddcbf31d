//! The cache crate's error type.
//!
//! Policy (see `docs/design.md`, "Errors"): a variant either shows its cause in its message or
//! returns it from `source()`, never both. Wrapped errors stay typed (a caller can still ask an
//! [`snnkit_events::Error`] for its path and byte offset); a command-line tool prints the chain
//! joined by `": "`.

use std::path::PathBuf;

/// Everything that can go wrong while writing, reading or loading a cache.
///
/// Every variant that concerns a file names it, so a CLI can print one line that tells the user where to look.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An HDF5 call failed on this file.
    #[error("{}: HDF5 error", .path.display())]
    Hdf5 {
        /// The cache file.
        path: PathBuf,
        /// The HDF5 error stack.
        #[source]
        source: hdf5::Error,
    },
    /// Plain file-system error (create, rename, stat, remove).
    #[error("{}", .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is an HDF5 file but not a cache this version understands, or is missing a required part.
    #[error("{}: not a valid snnkit cache: {reason}", .path.display())]
    Invalid {
        /// The cache file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The cache was written with a format version this reader does not know.
    #[error(
        "{}: unsupported cache format_version {found} (this snnkit reads version {supported})",
        .path.display()
    )]
    UnsupportedVersion {
        /// The cache file.
        path: PathBuf,
        /// The version found in the file.
        found: u64,
        /// The version this build supports.
        supported: u64,
    },
    /// The cache was made by a decoder or binning version other than this build's, so its frames may differ
    /// from what this build would compute: it is not served; `snnkit convert` rebuilds it.
    #[error(
        "{}: written with {what} {}, this snnkit has {what} {current}; re-run `snnkit convert` to rebuild it",
        .path.display(),
        .found.map_or_else(|| "unrecorded".to_string(), |v| v.to_string())
    )]
    Stale {
        /// The cache file.
        path: PathBuf,
        /// The attribute that differs (`decoder_version` or `binning_version`).
        what: &'static str,
        /// The version stored in the file (`None`: written before versions were recorded).
        found: Option<u64>,
        /// This build's version.
        current: u64,
    },
    /// A caller passed something inconsistent (wrong sample size, bad loader settings, ...). The message is
    /// the crate's own; it never stands in for another error.
    #[error("{0}")]
    Usage(String),
    /// A raw file could not be decoded or cut into samples during conversion.
    #[error("cannot convert {file}")]
    Source {
        /// The raw file (relative to the dataset root where known).
        file: String,
        /// Why; for decode errors it names the file and byte offset (boxed: keeps `Result`s small).
        #[source]
        source: Box<UnitError>,
    },
    /// The dataset definition failed (missing folder, bad label file, ...); the error names the path.
    #[error(transparent)]
    Dataset(Box<snnkit_datasets::Error>),
    /// Conversion was stopped by the caller (progress callback) or an injected failure.
    #[error("conversion interrupted: {0}")]
    Interrupted(String),
    /// The conversion's worker threads could not be started.
    #[error("cannot start {threads} conversion threads")]
    ThreadPool {
        /// Threads asked for.
        threads: usize,
        /// Why the pool failed.
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
    /// A tensor could not be built on the requested device.
    #[error("tensor error")]
    Candle(#[from] candle_core::Error),
}

impl From<snnkit_datasets::Error> for Error {
    fn from(e: snnkit_datasets::Error) -> Self {
        Error::Dataset(Box::new(e))
    }
}

/// Why one conversion unit (a raw file) gave no samples. Kept typed, so that a caller can still ask a
/// decode error for its file and byte offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UnitError {
    /// The dataset layer could not read the raw file (names the file, and the byte offset for decode errors).
    #[error(transparent)]
    Dataset(#[from] snnkit_datasets::Error),
    /// The event decoder failed (names the file and the byte offset).
    #[error(transparent)]
    Events(#[from] snnkit_events::Error),
    /// Binning a sample into frames failed.
    #[error("sample {sample}")]
    Frames {
        /// The sample's `/sources` entry (`<file>#<segment>`).
        sample: String,
        /// What the binning reported.
        #[source]
        source: snnkit_frames::Error,
    },
    /// A label does not fit the cache's `u16` labels.
    #[error("label {label} does not fit in 16 bits")]
    Label {
        /// The label.
        label: usize,
    },
    /// A sample's chunk could not be encoded.
    #[error(transparent)]
    Encode(Box<Error>),
    /// A custom [`crate::convert::ConvertSource`]'s own reason.
    #[error("{0}")]
    Other(String),
}

impl From<String> for UnitError {
    fn from(message: String) -> Self {
        UnitError::Other(message)
    }
}

impl From<&str> for UnitError {
    fn from(message: &str) -> Self {
        UnitError::Other(message.to_string())
    }
}

/// `error: cause: root cause` on one line, for messages kept as text (the `skipped_files` list of a
/// conversion summary). A CLI prints errors the same way.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        msg.push_str(": ");
        msg.push_str(&c.to_string());
        cause = c.source();
    }
    msg
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
