//! The one error type of the datasets crate.

use std::path::PathBuf;

/// What can go wrong finding, enumerating, loading or generating a dataset.
///
/// A variant shows its cause in its message or returns it from `source()`, never both
/// (`docs/design.md`, "Errors").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A folder the dataset layout needs is not there.
    #[error("{}: folder not found; expected {expected}", .path.display())]
    MissingFolder {
        /// The folder looked for.
        path: PathBuf,
        /// What the layout expects there.
        expected: String,
    },
    /// A file the dataset layout needs is not there.
    #[error("{}: file not found; expected {expected}", .path.display())]
    MissingFile {
        /// The file looked for.
        path: PathBuf,
        /// What the layout expects there.
        expected: String,
    },
    /// A class folder holds no sample file.
    #[error("{}: class '{class}' has no {pattern} files", .path.display())]
    EmptyClass {
        /// The class name.
        class: String,
        /// Its folder.
        path: PathBuf,
        /// The file pattern looked for (e.g. `*.aedat`).
        pattern: String,
    },
    /// The class folders are not the ones the dataset defines.
    #[error("{}: {reason}", .path.display())]
    BadClasses {
        /// The folder holding the class folders.
        path: PathBuf,
        /// What is missing or extra.
        reason: String,
    },
    /// A text file of the layout (label CSV, trial list, class list) cannot be parsed.
    #[error("{}: line {line}: {reason}", .path.display())]
    BadTextFile {
        /// The file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// `by_name` got a name it does not know.
    #[error("unknown dataset '{name}'; known: dvs128-gesture, cifar10-dvs, n-caltech101, n-mnist, n-cars, synthetic")]
    UnknownDataset {
        /// The name given.
        name: String,
    },
    /// A file system operation failed.
    #[error("{}", .path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Decoding or writing an event file failed (the error names the file and byte offset).
    #[error(transparent)]
    Events(#[from] snnkit_events::Error),
    /// An image file cannot be decoded (unknown format, damaged data).
    #[error("{}: cannot decode image: {reason}", .path.display())]
    BadImage {
        /// The image file.
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
    /// A binary record file (CIFAR-10 batch) holds something its format does not allow.
    #[error("{} at byte {offset}: {reason}", .path.display())]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// Byte offset of the offending record or field.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// A generator or split parameter is unusable.
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// Why.
        reason: String,
    },
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { path, source }
}
