//! Error type of the model crate.

use std::path::PathBuf;

/// Errors from building, loading or saving models.
///
/// A variant shows its cause in its message or returns it from `source()`, never both
/// (`docs/design.md`, "Errors").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An invalid configuration (bad preset name, zero width, T that does not fit, ...).
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// Reading or writing a weights file failed.
    #[error("{}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A weights file could not be parsed or is missing a tensor.
    #[error("{}: {msg}", .path.display())]
    Weights {
        /// The file (or a label for an in-memory map).
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
}

/// Result alias of the model crate.
pub type Result<T> = std::result::Result<T, Error>;
