//! Writing `.npy` arrays atomically and durably ([`snnkit_fsutil::write_atomic_with`]).

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
    snnkit_fsutil::write_atomic_with(path, |w| array.write_npy(w).map_err(std::io::Error::other))
        .with_context(|| format!("{}", path.display()))
}
