//! Error type of the model crate.

use std::path::PathBuf;

/// Errors from building, loading or saving models.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A tensor operation failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An invalid configuration (bad preset name, zero width, T that does not fit, ...).
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// Reading or writing a weights file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A weights file could not be parsed or is missing a tensor.
    #[error("{path}: {msg}")]
    Weights {
        /// The file (or a label for an in-memory map).
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
}

/// Result alias of the model crate.
pub type Result<T> = std::result::Result<T, Error>;
