//! Library errors as Python exceptions, with the CLI's one-line message.
//!
//! The message is what `snnkit` prints after `error: ` (the error and its causes joined by `": "`,
//! as anyhow's `{:#}` does), so a script and a terminal user read the same text: the file, and the
//! byte offset for decode errors.

use std::io::ErrorKind;
use std::path::Path;

use pyo3::exceptions::{
    PyFileNotFoundError, PyKeyboardInterrupt, PyOSError, PyRuntimeError, PyValueError,
};
use pyo3::PyErr;

/// The error and its causes on one line, `outer: cause: root cause`.
///
/// A cause whose text the message already ends with is not repeated (some errors print their
/// source in their own message as well as returning it from `source()`).
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !msg.ends_with(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = c.source();
    }
    msg
}

/// The exception for an I/O failure: `FileNotFoundError` when the file is not there, else `OSError`.
fn io_exception(kind: ErrorKind, msg: String) -> PyErr {
    if kind == ErrorKind::NotFound {
        PyFileNotFoundError::new_err(msg)
    } else {
        PyOSError::new_err(msg)
    }
}

/// An event-file error: I/O → `OSError` / `FileNotFoundError`; bad bytes, unknown format, events
/// outside the sensor → `ValueError`.
pub fn events(e: snnkit_events::Error) -> PyErr {
    let msg = one_line(&e);
    match &e {
        snnkit_events::Error::Io { source, .. } => io_exception(source.kind(), msg),
        snnkit_events::Error::Hdf5 { path, .. }
        | snnkit_events::Error::Hdf5Library { path, .. }
            if !path.exists() =>
        {
            PyFileNotFoundError::new_err(msg)
        }
        _ => PyValueError::new_err(msg),
    }
}

/// A frames error (events outside the sensor, a bad frame specification): `ValueError`.
pub fn frames(e: snnkit_frames::Error) -> PyErr {
    PyValueError::new_err(one_line(&e))
}

/// A cache error: a missing file → `FileNotFoundError`, other I/O and HDF5 failures → `OSError`,
/// an invalid or foreign file, bad settings, a bad raw file → `ValueError`, an interrupted
/// conversion → `KeyboardInterrupt`.
pub fn cache(e: snnkit_cache::Error) -> PyErr {
    use snnkit_cache::Error as E;
    let msg = one_line(&e);
    match &e {
        E::Io { source, .. } => io_exception(source.kind(), msg),
        E::Hdf5 { path, .. } => missing_or(path, msg, PyOSError::new_err),
        E::Interrupted(_) => PyKeyboardInterrupt::new_err(msg),
        E::Candle(_) => PyRuntimeError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// `FileNotFoundError` when `path` does not exist, else `other(msg)`: libhdf5 reports a missing
/// file as a generic open failure.
fn missing_or(path: &Path, msg: String, other: fn(String) -> PyErr) -> PyErr {
    if path.exists() {
        other(msg)
    } else {
        PyFileNotFoundError::new_err(msg)
    }
}

/// A `ValueError` with `msg`.
pub fn value(msg: impl Into<String>) -> PyErr {
    PyValueError::new_err(msg.into())
}
