//! The one error type of this crate: every decode error names the file and the byte offset.

use std::path::PathBuf;

/// Errors from reading or writing event files.
///
/// Variants carry facts (file, byte offset, what was expected, what was found); the `Display`
/// text is one line, suitable for a CLI error message. A variant shows its cause in its message or
/// returns it from `source()`, never both (`docs/design.md`, "Errors").
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system refused to open, read or write the file (the cause is the source,
    /// so `{:#}` with anyhow prints it once).
    #[error("{}: I/O error", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file ends before a structure that it announces is complete.
    #[error("{}: byte {offset}: file ends early: expected {expected}", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Offset of the incomplete structure.
        offset: u64,
        /// What should have followed.
        expected: String,
    },
    /// The bytes at `offset` are not what the format allows (wrong magic, impossible sizes, ...).
    #[error("{}: byte {offset}: expected {expected}, found {found}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Offset of the offending bytes.
        offset: u64,
        /// What the format requires there.
        expected: String,
        /// What the file holds instead.
        found: String,
    },
    /// An event's coordinates lie outside the sensor size known from the file or the profile.
    #[error(
        "{}: byte {offset}: event at x={x}, y={y} lies outside the {width}x{height} sensor",
        .path.display()
    )]
    OutOfSensor {
        /// The file.
        path: PathBuf,
        /// Offset of the event record.
        offset: u64,
        /// Column as decoded.
        x: i64,
        /// Row as decoded.
        y: i64,
        /// Sensor width.
        width: u16,
        /// Sensor height.
        height: u16,
    },
    /// The format could not be told from the header or the file name.
    #[error(
        "{}: unknown event-file format (no AEDAT, HDF5 or Prophesee `% evt` header, no .bin or .dat name); pass --format: aedat2, aedat3, aedat4, atis-bin, hdf5, evt2, evt3, dat",
        .path.display()
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// An HDF5 file lacks a dataset or holds one this reader cannot use.
    #[error("{}: HDF5 {object}: {message}", .path.display())]
    Hdf5 {
        /// The file.
        path: PathBuf,
        /// The HDF5 object (dataset or group path) involved.
        object: String,
        /// What went wrong.
        message: String,
    },
    /// The HDF5 library failed on an object of the file (the library's error is the source).
    #[error("{}: HDF5 {object}", .path.display())]
    Hdf5Library {
        /// The file.
        path: PathBuf,
        /// The HDF5 object (dataset or group path) involved.
        object: String,
        /// The library's error.
        #[source]
        source: hdf5::Error,
    },
    /// Events cannot be written in the requested format (value out of the format's range).
    #[error("{}: cannot write event {index}: {message}", .path.display())]
    Unwritable {
        /// The output file.
        path: PathBuf,
        /// Index of the offending event.
        index: usize,
        /// Why it does not fit.
        message: String,
    },
    /// The output cannot be written in any format: unknown extension or missing encoding.
    #[error("{}: {message}", .path.display())]
    UnsupportedOutput {
        /// The output file.
        path: PathBuf,
        /// What is wrong and what is accepted.
        message: String,
    },
}

impl Error {
    /// The file the error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Error::Io { path, .. }
            | Error::Truncated { path, .. }
            | Error::Invalid { path, .. }
            | Error::OutOfSensor { path, .. }
            | Error::UnknownFormat { path }
            | Error::Hdf5 { path, .. }
            | Error::Hdf5Library { path, .. }
            | Error::Unwritable { path, .. }
            | Error::UnsupportedOutput { path, .. } => path,
        }
    }

    /// The byte offset the error is about, for decode errors that have one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Error::Truncated { offset, .. }
            | Error::Invalid { offset, .. }
            | Error::OutOfSensor { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// Builds the errors of one file; decoders hold one so that every error names the same path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctx<'a> {
    pub path: &'a std::path::Path,
}

impl Ctx<'static> {
    /// The context of bytes decoded or encoded in memory: errors name the file `<memory>`.
    pub fn memory() -> Self {
        Ctx {
            path: std::path::Path::new("<memory>"),
        }
    }
}

impl Ctx<'_> {
    pub fn truncated(&self, offset: usize, expected: impl Into<String>) -> Error {
        Error::Truncated {
            path: self.path.to_path_buf(),
            offset: offset as u64,
            expected: expected.into(),
        }
    }

    pub fn invalid(
        &self,
        offset: usize,
        expected: impl Into<String>,
        found: impl Into<String>,
    ) -> Error {
        Error::Invalid {
            path: self.path.to_path_buf(),
            offset: offset as u64,
            expected: expected.into(),
            found: found.into(),
        }
    }

    pub fn out_of_sensor(&self, offset: usize, x: i64, y: i64, size: (u16, u16)) -> Error {
        Error::OutOfSensor {
            path: self.path.to_path_buf(),
            offset: offset as u64,
            x,
            y,
            width: size.0,
            height: size.1,
        }
    }

    pub fn io(&self, source: std::io::Error) -> Error {
        Error::Io {
            path: self.path.to_path_buf(),
            source,
        }
    }
}
