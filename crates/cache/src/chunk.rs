//! Encoding `/frames` chunks off the writer thread.
//!
//! HDF5 compresses chunks on the thread that writes them, and only one thread may call HDF5 at a time, so with
//! the library's own filters the single writer does all compression and becomes the bottleneck (about a third of
//! all CPU time at deflate level 1). Instead, conversion workers encode each sample exactly as HDF5's filter
//! pipeline would (byte shuffle for 16/32-bit counts, then zlib `compress2` at the same level, which is what
//! HDF5's deflate filter calls) and the writer stores the bytes with `H5Dwrite_chunk`. The file is the same as if
//! HDF5 had compressed it; readers see ordinary shuffle+deflate chunks.

use std::os::raw::{c_int, c_ulong};

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
    fn uncompress(
        dest: *mut u8,
        dest_len: *mut c_ulong,
        source: *const u8,
        source_len: c_ulong,
    ) -> c_int;
}

// Chunk-level reads and writes of the HDF5 C API (1.10.5+), declared by `hdf5-sys` (the `hdf5-metno-sys` crate
// the bindings link with).
use hdf5_sys::h5d::{H5Dget_chunk_info_by_coord, H5Dread_chunk, H5Dwrite_chunk};
use hdf5_sys::h5p::H5P_DEFAULT;

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

/// How a `/frames` dataset stores its chunks, when this module can decode them without HDF5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Codec {
    /// No filters: little-endian counts.
    Raw,
    /// Deflate, with or without byte shuffle before it.
    Deflate {
        /// Shuffle filter present.
        shuffle: bool,
    },
}

impl Codec {
    /// The codec of `ds`, or `None` for filter pipelines other than the ones this crate writes.
    pub(crate) fn of(ds: &hdf5::Dataset) -> Option<Codec> {
        use hdf5::filters::Filter;
        match ds.filters().as_slice() {
            [] => Some(Codec::Raw),
            [Filter::Deflate(_)] => Some(Codec::Deflate { shuffle: false }),
            [Filter::Shuffle, Filter::Deflate(_)] => Some(Codec::Deflate { shuffle: true }),
            _ => None,
        }
    }
}

/// A stored count type decodable from little-endian bytes.
pub(crate) trait Stored: Copy + Default + Send + Sync {
    const SIZE: usize;
    fn from_le(bytes: &[u8]) -> Self;
}

impl Stored for u8 {
    const SIZE: usize = 1;
    fn from_le(b: &[u8]) -> Self {
        b[0]
    }
}
impl Stored for u16 {
    const SIZE: usize = 2;
    fn from_le(b: &[u8]) -> Self {
        u16::from_le_bytes([b[0], b[1]])
    }
}
impl Stored for u32 {
    const SIZE: usize = 4;
    fn from_le(b: &[u8]) -> Self {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }
}

/// The stored bytes of the chunk at row `row` of a 5-D `/frames` dataset (all filters applied). A
/// chunk stored larger than `raw_bytes` (its decoded size) plus deflate's worst-case overhead is
/// refused before anything is allocated: only a damaged chunk index says so.
pub(crate) fn read_chunk(
    ds: &hdf5::Dataset,
    path: &std::path::Path,
    row: usize,
    raw_bytes: usize,
) -> Result<Vec<u8>> {
    let id = ds.id();
    let offset = [row as u64, 0, 0, 0, 0];
    let bad = |what: &str| Error::Invalid {
        path: path.to_path_buf(),
        reason: format!("chunk {row}: {what}"),
    };
    hdf5::sync::sync(|| {
        let (mut size, mut filter_mask, mut addr) = (0u64, 0u32, 0u64);
        // SAFETY: live dataset id, 5-element offset for a 5-D dataset, valid out pointers. An unallocated
        // chunk reports size 0.
        if unsafe {
            H5Dget_chunk_info_by_coord(id, offset.as_ptr(), &mut filter_mask, &mut addr, &mut size)
        } < 0
            || size == 0
        {
            return Err(bad("no stored chunk"));
        }
        // zlib's compressBound is raw + raw/4096 + raw/16384 + raw/2^25 + 13; be generous.
        let limit = raw_bytes
            .saturating_add(raw_bytes / 1024)
            .saturating_add(1024);
        if size > limit as u64 {
            return Err(bad(&format!(
                "stored size {size} bytes, more than a {raw_bytes}-byte chunk can take"
            )));
        }
        let mut buf = vec![0u8; size as usize];
        let mut mask = 0u32;
        // SAFETY: `buf` holds exactly the chunk's stored size, as H5Dread_chunk requires.
        if unsafe {
            H5Dread_chunk(
                id,
                H5P_DEFAULT,
                offset.as_ptr(),
                &mut mask,
                buf.as_mut_ptr().cast(),
            )
        } < 0
        {
            return Err(bad("H5Dread_chunk failed"));
        }
        if mask != 0 {
            return Err(bad("stored with some filters skipped"));
        }
        Ok(buf)
    })
}

/// Decodes one stored chunk into `out` (`out.len()` counts of type `C`).
pub(crate) fn decode<C: Stored>(
    stored: &[u8],
    codec: Codec,
    out: &mut [C],
) -> std::result::Result<(), String> {
    let n = out.len();
    let want = n * C::SIZE;
    let inflated;
    let (raw, shuffled) = match codec {
        Codec::Raw => (stored, false),
        Codec::Deflate { shuffle } => {
            let mut dst = vec![0u8; want];
            let mut dst_len = want as c_ulong;
            // SAFETY: dst has `want` writable bytes and dst_len says so; stored is valid for its length.
            let status = unsafe {
                uncompress(
                    dst.as_mut_ptr(),
                    &mut dst_len,
                    stored.as_ptr(),
                    stored.len() as c_ulong,
                )
            };
            if status != 0 || dst_len as usize != want {
                return Err(format!(
                    "inflate failed (zlib status {status}, {dst_len} of {want} bytes)"
                ));
            }
            inflated = dst;
            (inflated.as_slice(), shuffle && C::SIZE > 1)
        }
    };
    if raw.len() != want {
        return Err(format!("chunk holds {} bytes, expected {want}", raw.len()));
    }
    if shuffled {
        let mut le = [0u8; 4];
        for (i, o) in out.iter_mut().enumerate() {
            for (k, b) in le.iter_mut().take(C::SIZE).enumerate() {
                *b = raw[k * n + i];
            }
            *o = C::from_le(&le[..C::SIZE]);
        }
    } else {
        for (o, b) in out.iter_mut().zip(raw.chunks_exact(C::SIZE)) {
            *o = C::from_le(b);
        }
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

    /// The reader's own chunk path (not HDF5's) decodes what the writer stored, for every type and codec.
    #[test]
    fn stored_chunks_decode_without_hdf5_filters() {
        use crate::format::{CacheMeta, FrameSetting, SplitBy};
        let dir = tempfile::tempdir().unwrap();
        for compression in [Compression::None, Compression::Deflate(2)] {
            for max in [200u32, 40_000, 100_000] {
                let path = dir.path().join(format!(
                    "c{max}{}.h5",
                    compression.to_string().replace(':', "")
                ));
                let meta = CacheMeta {
                    dataset: "unit".into(),
                    split: "train".into(),
                    setting: FrameSetting::Frames {
                        frames: 2,
                        split_by: SplitBy::Number,
                    },
                    height: 3,
                    width: 4,
                    class_names: vec!["a".into()],
                    source_fingerprint: String::new(),
                    source_root: None,
                    compression,
                };
                let counts: Vec<u32> = (0..48u32).map(|i| (i * 7919) % (max + 1)).collect();
                let mut w = crate::CacheWriter::create(&path, &meta).unwrap();
                w.append(&counts, 0, "x#all").unwrap();
                let encoded = encode(&counts, CountType::for_max(max), compression).unwrap();
                w.append_encoded(&counts, &encoded, 0, "x#all").unwrap();
                w.finish(&[]).unwrap();
                let file = hdf5::File::open(&path).unwrap();
                let ds = file.dataset("frames").unwrap();
                let codec = Codec::of(&ds).expect("known filters");
                for row in 0..2 {
                    let bytes = read_chunk(&ds, &path, row, counts.len() * 4).unwrap();
                    let got: Vec<u32> = match CountType::for_max(max) {
                        CountType::U8 => {
                            let mut o = vec![0u8; 48];
                            decode(&bytes, codec, &mut o).unwrap();
                            o.into_iter().map(u32::from).collect()
                        }
                        CountType::U16 => {
                            let mut o = vec![0u16; 48];
                            decode(&bytes, codec, &mut o).unwrap();
                            o.into_iter().map(u32::from).collect()
                        }
                        CountType::U32 => {
                            let mut o = vec![0u32; 48];
                            decode(&bytes, codec, &mut o).unwrap();
                            o
                        }
                    };
                    assert_eq!(got, counts, "{compression} max {max} row {row}");
                }
                // HDF5's writer and the worker-side encoder store identical bytes.
                assert_eq!(
                    read_chunk(&ds, &path, 0, counts.len() * 4).unwrap(),
                    read_chunk(&ds, &path, 1, counts.len() * 4).unwrap()
                );
            }
        }
    }
}
