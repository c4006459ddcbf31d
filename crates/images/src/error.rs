//! The one error type of the image loader.

/// What can go wrong loading image batches.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Listing or decoding an image failed (the error names the file).
    #[error(transparent)]
    Dataset(#[from] snnkit_datasets::Error),
    /// Building a tensor failed.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// A setting is out of range, or the loader was used wrongly.
    #[error("{0}")]
    Usage(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;
