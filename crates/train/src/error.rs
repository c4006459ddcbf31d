//! The crate's error type: every fallible function of `snnkit-train` returns [`Error`].

use std::path::PathBuf;

/// Errors from configuration, training, checkpoints and evaluation.
///
/// A variant shows its cause in its message or returns it from `source()`, never both
/// (`docs/design.md`, "Errors").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed (shape mismatch, device error, ...).
    #[error("tensor operation failed")]
    Candle(#[from] candle_core::Error),
    /// Reading or writing a file failed.
    #[error("{}", .path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A configuration file or preset is invalid.
    #[error("config {origin}: {message}")]
    Config {
        /// Where the configuration came from (a file path or `preset NAME`).
        origin: String,
        /// What is wrong with it.
        message: String,
    },
    /// A preset name is not known.
    #[error("unknown preset {name:?} (known: {known})")]
    UnknownPreset {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A checkpoint file is missing a tensor or holds an unexpected one.
    #[error("checkpoint {}: {message}", .path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The loss became NaN or infinite: training stops rather than writing garbage weights.
    #[error("loss is {value} at epoch {epoch}, batch {batch}: training diverged (try a lower learning rate or --clip-grad)")]
    NonFiniteLoss {
        /// The loss value (NaN or ±inf).
        value: f32,
        /// Epoch (1-based).
        epoch: usize,
        /// Batch index within the epoch (0-based).
        batch: usize,
    },
    /// A PyTorch checkpoint could not be imported.
    #[error("{}{}: {message}", .path.display(), offset.map(|o| format!(": byte {o}")).unwrap_or_default())]
    TorchImport {
        /// The checkpoint file.
        path: PathBuf,
        /// Byte offset in the file where the problem is, when known.
        offset: Option<u64>,
        /// What is wrong.
        message: String,
    },
    /// Weights given as a starting point do not fit the network.
    #[error("{}: does not fit the network: {message}", .path.display())]
    WeightsMismatch {
        /// The weights file.
        path: PathBuf,
        /// Missing, unexpected and mis-shaped names.
        message: String,
    },
    /// The frame cache or its loader failed.
    #[error(transparent)]
    Cache(#[from] snnkit_cache::Error),
    /// The model failed to build or load.
    #[error(transparent)]
    Model(#[from] snnkit_model::Error),
    /// Listing or decoding a static-image dataset failed (names the file).
    #[error(transparent)]
    Images(#[from] snnkit_images::Error),
    /// Opening a static-image dataset failed (names the folder or file).
    #[error(transparent)]
    Dataset(#[from] snnkit_datasets::Error),
    /// The cache folder does not hold what the run needs.
    #[error("cache {}: {message}", .path.display())]
    CacheLayout {
        /// The folder or file looked at.
        path: PathBuf,
        /// What is missing.
        message: String,
    },
    /// Drawing a plot failed.
    #[error("plot {}: {message}", .path.display())]
    Plot {
        /// The image being drawn.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Serialising metadata or metrics to JSON failed.
    #[error("cannot write JSON")]
    Json(#[from] serde_json::Error),
    /// Anything else, with its explanation.
    #[error("{0}")]
    Other(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
