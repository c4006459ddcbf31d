//! `snnkit` for Python: snnkit's event readers, frame integration, HDF5 frame cache and batch
//! loader as a pyo3 extension module (`snnkit._snnkit`, wrapped by the `snnkit` package in
//! `python/snnkit/`), built by maturin into one abi3 wheel for Python ≥ 3.9.
//!
//! Arrays are handed to NumPy without a copy where snnkit already holds them in the returned
//! layout (frames, batches); the GIL is released while Rust decodes, bins or loads. Errors are
//! `ValueError`, `OSError` or `FileNotFoundError` carrying the CLI's one-line message.
#![deny(missing_docs)]

mod cache;
mod error;
mod events;
mod frames;
mod pool;

use pyo3::prelude::*;

/// The extension module; the `snnkit` package re-exports its contents.
#[pymodule]
fn _snnkit(m: &Bound<'_, PyModule>) -> PyResult<()> {
    pool::init();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(events::read, m)?)?;
    m.add_function(wrap_pyfunction!(events::info, m)?)?;
    m.add_function(wrap_pyfunction!(frames::to_frames, m)?)?;
    m.add_function(wrap_pyfunction!(cache::convert, m)?)?;
    m.add_class::<cache::FrameCache>()?;
    m.add_class::<cache::Loader>()?;
    m.add_class::<cache::Batches>()?;
    Ok(())
}
