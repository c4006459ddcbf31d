//! The format-independent entry point: [`read_file`] dispatches to the format modules.
//!
//! Its result type, [`Recording`], lives one level down in `recording.rs`, which every format module
//! uses; this module is the only one that knows all formats, and no format imports it.

use crate::error::{Ctx, Error};
use crate::format::{Format, ReadOptions};
use crate::recording::Recording;
use std::path::Path;

/// Reads an event file of any supported format.
///
/// The format is `opts.format`, or detected from the header (`#!AER-DATx.y`, the HDF5 signature)
/// and, for headerless ATIS files, a `.bin` name. With a profile, the sensor size is the
/// profile's, events outside it are an error, and the profile's coordinate convention applies.
pub fn read_file(path: &Path, opts: &ReadOptions) -> Result<Recording, Error> {
    let format = match opts.format {
        Some(f) => f,
        None => detect_file(path)?,
    };
    match format {
        Format::Aedat2 => crate::aedat2::read(path, opts),
        Format::Aedat3 => crate::aedat3::read(path, opts),
        Format::Aedat4 => crate::aedat4::read(path, opts),
        Format::AtisBin => crate::atis::read(path, opts),
        Format::Hdf5 => crate::hdf5::read(path, opts),
        Format::Evt2 => crate::evt2::read(path, opts),
        Format::Evt3 => crate::evt3::read(path, opts),
        Format::Dat => crate::dat::read(path, opts),
    }
}

/// Detects the format of the file at `path` from its first bytes (and its name).
pub fn detect_file(path: &Path) -> Result<Format, Error> {
    let ctx = Ctx { path };
    // Enough for a Prophesee header, whose format is named on a `%` line, not in a magic.
    let mut head = [0u8; 4096];
    let mut f = std::fs::File::open(path).map_err(|e| ctx.io(e))?;
    let mut n = 0;
    while n < head.len() {
        match std::io::Read::read(&mut f, &mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ctx.io(e)),
        }
    }
    Format::detect(&head[..n], path).ok_or_else(|| {
        // A Prophesee header naming an encoding snnkit does not decode: say which.
        match crate::prophesee::unsupported_name(&head[..n]) {
            Some(name) => ctx.invalid(
                0,
                "an event format snnkit decodes (aedat2, aedat3, aedat4, atis-bin, hdf5, evt2, evt3, dat)",
                format!("a Prophesee header naming {name}, which is not supported"),
            ),
            None => Error::UnknownFormat {
                path: path.to_path_buf(),
            },
        }
    })
}

/// Decodes bytes held in memory in the given format (HDF5 needs a file and is not accepted).
///
/// Errors name the file `<memory>`; this is the entry point of the fuzz targets.
pub fn decode_bytes(format: Format, bytes: &[u8], opts: &ReadOptions) -> Result<Recording, Error> {
    let ctx = Ctx::memory();
    match format {
        Format::Aedat2 => crate::aedat2::decode(bytes, ctx, opts),
        Format::Aedat3 => crate::aedat3::decode(bytes, ctx, opts),
        Format::Aedat4 => crate::aedat4::decode(bytes, ctx, opts),
        Format::AtisBin => crate::atis::decode(bytes, ctx, opts),
        Format::Evt2 => crate::evt2::decode(bytes, ctx, opts),
        Format::Evt3 => crate::evt3::decode(bytes, ctx, opts),
        Format::Dat => crate::dat::decode(bytes, ctx, opts),
        Format::Hdf5 => Err(ctx.invalid(
            0,
            "a file path (HDF5 is decoded by libhdf5 from a file)",
            "bytes in memory",
        )),
    }
}
