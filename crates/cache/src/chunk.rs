//! Encoding `/frames` chunks off the writer thread.
//!
//! HDF5 compresses chunks on the thread that writes them, and only one thread may call HDF5 at a time, so with
//! the library's own filters the single writer does all compression and becomes the bottleneck (about a third of
//! all CPU time at deflate level 1). Instead, conversion workers encode each sample exactly as HDF5's filter
//! pipeline would (byte shuffle for 16/32-bit counts, then zlib `compress2` at the same level, which is what
//! HDF5's deflate filter calls) and the writer stores the bytes with `H5Dwrite_chunk`. The file is the same as if
//! HDF5 had compressed it; readers see ordinary shuffle+deflate chunks.

use std::os::raw::{c_int, c_ulong, c_void};

use crate::error::{Error, Result};
use crate::format::{Compression, CountType};

#[link(name = "z")]
extern "C" {
    fn compress2(
        dest: *mut u8,
        dest_len: *mut c_ulong,
        source: *const u8,
        source_len: c_ulong,
        level: c_int,
    ) -> c_int;
    fn compressBound(source_len: c_ulong) -> c_ulong;
}

// HDF5 1.10.2+ C API (libhdf5 is linked by the hdf5 bindings). hid_t is int64_t since 1.10.
extern "C" {
    fn H5Dwrite_chunk(
        dset_id: i64,
        dxpl_id: i64,
        filters: u32,
        offset: *const u64,
        data_size: usize,
        buf: *const c_void,
    ) -> c_int;
}

/// H5P_DEFAULT.
const H5P_DEFAULT: i64 = 0;

/// One sample's `/frames` chunk, encoded for a given count type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncodedChunk {
    /// The count type the bytes are for.
    pub dtype: CountType,
    /// The stored bytes (after shuffle and deflate, or raw little-endian counts without compression).
    pub bytes: Vec<u8>,
}

/// Encodes `counts` (every value fits `dtype`) as the chunk bytes HDF5 would store with `compression`.
pub fn encode(counts: &[u32], dtype: CountType, compression: Compression) -> Result<EncodedChunk> {
    let size = dtype.size();
    let n = counts.len();
    // Little-endian element bytes, shuffled (byte k of every element together) when deflating wider types,
    // as HDF5's shuffle filter does.
    let shuffle = matches!(compression, Compression::Deflate(_)) && size > 1;
    let mut raw = vec![0u8; n * size];
    for (i, &c) in counts.iter().enumerate() {
        let le = c.to_le_bytes();
        for (k, &b) in le.iter().take(size).enumerate() {
            if shuffle {
                raw[k * n + i] = b;
            } else {
                raw[i * size + k] = b;
            }
        }
    }
    let bytes = match compression {
        Compression::None => raw,
        Compression::Deflate(level) => deflate(&raw, level)?,
    };
    Ok(EncodedChunk { dtype, bytes })
}

fn deflate(src: &[u8], level: u8) -> Result<Vec<u8>> {
    let src_len =
        c_ulong::try_from(src.len()).map_err(|_| Error::Usage("chunk too large".into()))?;
    // SAFETY: compressBound is a pure function of its argument.
    let bound = unsafe { compressBound(src_len) };
    let mut dst = vec![0u8; bound as usize];
    let mut dst_len = bound;
    // SAFETY: dst has `bound` writable bytes as compress2 requires, src is valid for src_len bytes, and
    // compress2 writes the used length back into dst_len.
    let status = unsafe {
        compress2(
            dst.as_mut_ptr(),
            &mut dst_len,
            src.as_ptr(),
            src_len,
            c_int::from(level),
        )
    };
    if status != 0 {
        return Err(Error::Usage(format!(
            "zlib compress2 failed with status {status}"
        )));
    }
    dst.truncate(dst_len as usize);
    Ok(dst)
}

/// Stores `bytes` as the chunk starting at `offset` (all filters applied) of `ds`.
pub(crate) fn write_chunk(
    ds: &hdf5::Dataset,
    path: &std::path::Path,
    offset: &[u64],
    bytes: &[u8],
) -> Result<()> {
    let id = ds.id();
    // SAFETY: `id` is a live dataset handle owned by `ds`, `offset` has one entry per dataset dimension (the
    // caller passes the 5-D sample offset), and `bytes` is valid for its length. Calls into HDF5 are serialized
    // with the bindings' global lock, as every other HDF5 call in this process is.
    let status = hdf5::sync::sync(|| unsafe {
        H5Dwrite_chunk(
            id,
            H5P_DEFAULT,
            0,
            offset.as_ptr(),
            bytes.len(),
            bytes.as_ptr().cast(),
        )
    });
    if status < 0 {
        return Err(Error::Invalid {
            path: path.to_path_buf(),
            reason: "H5Dwrite_chunk failed".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffle_groups_bytes_by_significance() {
        let c = encode(&[0x0102, 0x0304, 0x0506], CountType::U16, Compression::None).unwrap();
        assert_eq!(
            c.bytes,
            vec![0x02, 0x01, 0x04, 0x03, 0x06, 0x05],
            "no shuffle without compression"
        );
        // With deflate the (decompressed) payload is shuffled: low bytes, then high bytes. Check via size only
        // here; the round trip through HDF5 is tested in tests/convert_pipeline.rs and by h5py.
        let d = encode(
            &[0x0102, 0x0304, 0x0506],
            CountType::U16,
            Compression::Deflate(1),
        )
        .unwrap();
        assert_eq!(&d.bytes[..1], &[0x78], "zlib stream header");
    }
}
