//! The cache reader: opens a split file, checks its version and shape, reads samples.
//!
//! The reader knows nothing of datasets or raw files: whether the raw files changed since conversion is asked
//! by the layer that knows datasets ([`CacheReader::fingerprint_status`], in `dataset_source.rs`), so opening a
//! cache never walks the raw tree.

use std::path::{Path, PathBuf};

use hdf5::types::VarLenUnicode;
use hdf5::H5Type;
use serde::Serialize;

use rayon::prelude::*;

use crate::chunk::{decode, read_chunk, Codec, Stored};
use crate::error::{Error, H5Context, Result};
use crate::format::{
    attr, CountType, FrameSetting, SplitBy, BINNING_VERSION, DECODER_VERSION, FORMAT_VERSION,
    FRAMES, LABELS, LENGTHS, SOURCES,
};
use crate::h5util::{get_str, get_u64, has_attr};

/// The attributes and shape of one cache file.
#[derive(Clone, Debug, Serialize)]
pub struct CacheInfo {
    /// The file.
    pub path: PathBuf,
    /// Always [`FORMAT_VERSION`] (other versions are refused).
    pub format_version: u64,
    /// snnkit version that wrote the file.
    pub snnkit_version: String,
    /// Dataset name.
    pub dataset: String,
    /// Split name.
    pub split: String,
    /// Number of samples (N).
    pub samples: usize,
    /// Frames per sample (T; for fixed-duration caches the padded length).
    pub frames: usize,
    /// Integration setting.
    pub setting: FrameSetting,
    /// Setting folder name, e.g. `frames16_number`.
    pub setting_name: String,
    /// Height (H).
    pub height: usize,
    /// Width (W).
    pub width: usize,
    /// Count type of `/frames`.
    pub dtype: CountType,
    /// Class names, index = label.
    pub class_names: Vec<String>,
    /// Fingerprint of the raw files at conversion time.
    pub source_fingerprint: String,
    /// Dataset root at conversion time, if recorded.
    pub source_root: Option<String>,
    /// [`snnkit_events::DECODER_VERSION`] of the build that wrote the file (`None`: written before it was
    /// recorded).
    pub decoder_version: Option<u64>,
    /// [`snnkit_frames::BINNING_VERSION`] of the build that wrote the file (`None`: not recorded).
    pub binning_version: Option<u64>,
    /// Completion time (RFC 3339, UTC).
    pub created: String,
    /// `none` or `deflate:LEVEL`.
    pub compression: String,
    /// Raw files skipped as unreadable during conversion.
    pub skipped_files: Vec<String>,
}

impl CacheInfo {
    /// Counts per sample, `T * 2 * H * W`.
    pub fn sample_len(&self) -> usize {
        self.frames * 2 * self.height * self.width
    }
}

/// An open cache file. Cheap to query; samples are read on demand, one HDF5 chunk each.
pub struct CacheReader {
    file: crate::h5util::H5File,
    frames_ds: hdf5::Dataset,
    info: CacheInfo,
    labels: Vec<u16>,
    lengths: Option<Vec<u32>>,
}

impl CacheReader {
    /// Opens `path` to serve its samples, refusing unknown format versions, malformed files, and caches made
    /// by another decoder or binning version ([`Error::Stale`]: their frames may not be what this build
    /// computes; `snnkit convert` rebuilds them). Does not look at the raw files (see
    /// [`CacheReader::fingerprint_status`] for that).
    pub fn open(path: &Path) -> Result<Self> {
        let reader = Self::open_unchecked(path)?;
        reader.check_versions()?;
        Ok(reader)
    }

    /// Like [`CacheReader::open`] but also opens caches of other decoder or binning versions, to describe
    /// them (`snnkit cache info`) or decide whether to rebuild them.
    pub fn open_unchecked(path: &Path) -> Result<Self> {
        let file = crate::h5util::open_file(path)?;
        let invalid = |reason: String| Error::Invalid {
            path: path.to_path_buf(),
            reason,
        };
        if !has_attr(&file, attr::FORMAT_VERSION) {
            return Err(invalid(
                "no format_version attribute (not an snnkit cache?)".into(),
            ));
        }
        let version = get_u64(&file, path, attr::FORMAT_VERSION)?;
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let frames_ds = file
            .dataset(FRAMES)
            .map_err(|_| invalid("no /frames dataset".into()))?;
        let shape = frames_ds.shape();
        let height = get_u64(&file, path, attr::HEIGHT)? as usize;
        let width = get_u64(&file, path, attr::WIDTH)? as usize;
        let frames = get_u64(&file, path, attr::FRAMES)? as usize;
        if shape.len() != 5
            || shape[1] != frames
            || shape[2] != 2
            || shape[3] != height
            || shape[4] != width
        {
            return Err(invalid(format!(
                "/frames has shape {shape:?}, attributes say [N, {frames}, 2, {height}, {width}]"
            )));
        }
        let n = shape[0];
        let dtype_name = get_str(&file, path, attr::DTYPE)?;
        let dtype = CountType::from_name(&dtype_name)
            .ok_or_else(|| invalid(format!("unknown dtype attribute {dtype_name:?}")))?;
        let stored = frames_ds.dtype().h5(path)?;
        if stored.size() != dtype.size()
            || !stored.is::<u8>() && !stored.is::<u16>() && !stored.is::<u32>()
        {
            return Err(invalid(format!(
                "/frames element type does not match dtype attribute {dtype_name}"
            )));
        }
        let setting = if has_attr(&file, attr::SPLIT_BY) {
            let split_by: SplitBy = get_str(&file, path, attr::SPLIT_BY)?
                .parse()
                .map_err(invalid)?;
            FrameSetting::Frames { frames, split_by }
        } else if has_attr(&file, attr::DURATION) {
            FrameSetting::Duration {
                us: get_u64(&file, path, attr::DURATION)?,
            }
        } else {
            return Err(invalid("neither split_by nor duration attribute".into()));
        };
        let class_names: Vec<String> =
            serde_json::from_str(&get_str(&file, path, attr::CLASS_NAMES)?)
                .map_err(|e| invalid(format!("class_names is not a JSON list of strings: {e}")))?;
        let labels = file
            .dataset(LABELS)
            .map_err(|_| invalid("no /labels dataset".into()))?
            .read_raw::<u16>()
            .h5(path)?;
        if labels.len() != n {
            return Err(invalid(format!(
                "/labels has {} entries for {n} samples",
                labels.len()
            )));
        }
        if let Some(bad) = labels
            .iter()
            .find(|&&l| usize::from(l) >= class_names.len())
        {
            return Err(invalid(format!(
                "label {bad} out of range for {} classes",
                class_names.len()
            )));
        }
        let lengths = if file.link_exists(LENGTHS) {
            let l = file.dataset(LENGTHS).h5(path)?.read_raw::<u32>().h5(path)?;
            if l.len() != n {
                return Err(invalid(format!(
                    "/lengths has {} entries for {n} samples",
                    l.len()
                )));
            }
            Some(l)
        } else {
            None
        };
        let opt_str = |name: &str| {
            if has_attr(&file, name) {
                get_str(&file, path, name).ok()
            } else {
                None
            }
        };
        let opt_u64 = |name: &str| {
            if has_attr(&file, name) {
                get_u64(&file, path, name).ok()
            } else {
                None
            }
        };
        let skipped_files = opt_str(attr::SKIPPED_FILES)
            .and_then(|s| serde_json::from_str(&s).ok())
            .unwrap_or_default();
        let info = CacheInfo {
            path: path.to_path_buf(),
            format_version: version,
            snnkit_version: get_str(&file, path, attr::SNNKIT_VERSION)?,
            dataset: get_str(&file, path, attr::DATASET)?,
            split: get_str(&file, path, attr::SPLIT)?,
            samples: n,
            frames,
            setting_name: opt_str(attr::SETTING).unwrap_or_else(|| setting.dir_name()),
            setting,
            height,
            width,
            dtype,
            class_names,
            source_fingerprint: get_str(&file, path, attr::SOURCE_FINGERPRINT)?,
            source_root: opt_str(attr::SOURCE_ROOT),
            decoder_version: opt_u64(attr::DECODER_VERSION),
            binning_version: opt_u64(attr::BINNING_VERSION),
            created: opt_str(attr::CREATED).unwrap_or_default(),
            compression: opt_str(attr::COMPRESSION).unwrap_or_default(),
            skipped_files,
        };
        Ok(CacheReader {
            file,
            frames_ds,
            info,
            labels,
            lengths,
        })
    }

    /// [`Error::Stale`] when the file was made by another decoder or binning version than this build's.
    pub fn check_versions(&self) -> Result<()> {
        for (what, found, current) in [
            (
                attr::DECODER_VERSION,
                self.info.decoder_version,
                DECODER_VERSION,
            ),
            (
                attr::BINNING_VERSION,
                self.info.binning_version,
                BINNING_VERSION,
            ),
        ] {
            if found != Some(current) {
                return Err(Error::Stale {
                    path: self.info.path.clone(),
                    what,
                    found,
                    current,
                });
            }
        }
        Ok(())
    }

    /// A string attribute of the file (`None` when absent or not a string).
    pub(crate) fn str_attr(&self, name: &str) -> Option<String> {
        get_str(&self.file, &self.info.path, name).ok()
    }

    /// Attributes and shape.
    pub fn info(&self) -> &CacheInfo {
        &self.info
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.info.samples
    }

    /// Whether the split holds no sample.
    pub fn is_empty(&self) -> bool {
        self.info.samples == 0
    }

    /// All labels, index = sample.
    pub fn labels(&self) -> &[u16] {
        &self.labels
    }

    /// Real frame counts per sample (fixed-duration caches only; frame-count caches have T for every sample).
    pub fn lengths(&self) -> Option<&[u32]> {
        self.lengths.as_deref()
    }

    /// All `/sources` entries (`"<file>#<segment>"`).
    pub fn sources(&self) -> Result<Vec<String>> {
        let path = &self.info.path;
        let raw = self
            .file
            .dataset(SOURCES)
            .h5(path)?
            .read_raw::<VarLenUnicode>()
            .h5(path)?;
        Ok(raw.into_iter().map(|s| s.as_str().to_owned()).collect())
    }

    /// Sample `i` as counts `[T, 2, H, W]` (row-major) widened to `u32`.
    pub fn read_sample(&self, i: usize) -> Result<Vec<u32>> {
        self.read_sample_as::<u32>(i)
    }

    /// Sample `i` in a caller-chosen element type; HDF5 converts from the stored type (widening is lossless; use a
    /// type at least as wide as [`CacheInfo::dtype`]).
    pub fn read_sample_as<T: H5Type>(&self, i: usize) -> Result<Vec<T>> {
        if i >= self.info.samples {
            return Err(Error::Usage(format!(
                "sample {i} out of range (cache has {})",
                self.info.samples
            )));
        }
        let arr = self
            .frames_ds
            .as_reader()
            .read_slice::<T, _, ndarray17::Ix5>(ndarray17::s![i..i + 1, .., .., .., ..])
            .h5(&self.info.path)?;
        Ok(arr.into_raw_vec_and_offset().0)
    }

    /// The whole `/frames` in its stored type, `[N, T, 2, H, W]` flattened (for in-memory loading).
    pub(crate) fn read_all_as<T: H5Type + Stored>(&self) -> Result<Vec<T>> {
        let all: Vec<usize> = (0..self.len()).collect();
        let mut out = vec![T::default(); self.len() * self.info.sample_len()];
        self.read_samples_into(&all, &mut out)?;
        Ok(out)
    }

    /// Samples `indices` in their stored type `T` (whose size must match [`CacheInfo::dtype`]) into `out`
    /// (`indices.len()` samples back to back). HDF5 serializes every call and inflates chunks on the calling
    /// thread, so the stored chunk bytes are fetched under its lock and inflated in parallel (rayon); files whose
    /// filters this crate did not write go through HDF5's own reader.
    pub(crate) fn read_samples_into<T: H5Type + Stored>(
        &self,
        indices: &[usize],
        out: &mut [T],
    ) -> Result<()> {
        let len = self.info.sample_len();
        if out.len() != indices.len() * len || T::SIZE != self.info.dtype.size() {
            return Err(Error::Usage(
                "sample buffer does not match the cache".into(),
            ));
        }
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.len()) {
            return Err(Error::Usage(format!(
                "sample {bad} out of range (cache has {})",
                self.len()
            )));
        }
        let path = &self.info.path;
        if let Some(codec) = Codec::of(&self.frames_ds) {
            let stored: Result<Vec<Vec<u8>>> = indices
                .iter()
                .map(|&i| read_chunk(&self.frames_ds, path, i, len * T::SIZE))
                .collect();
            if let Ok(stored) = stored {
                return out
                    .par_chunks_mut(len.max(1))
                    .zip(&stored)
                    .enumerate()
                    .try_for_each(|(k, (o, bytes))| {
                        decode(bytes, codec, o).map_err(|reason| Error::Invalid {
                            path: path.clone(),
                            reason: format!("sample {}: {reason}", indices[k]),
                        })
                    });
            }
        }
        for (o, &i) in out.chunks_mut(len.max(1)).zip(indices) {
            o.copy_from_slice(&self.read_sample_as::<T>(i)?);
        }
        Ok(())
    }

    /// Size of the file on disk in bytes.
    pub fn file_size(&self) -> u64 {
        std::fs::metadata(&self.info.path)
            .map(|m| m.len())
            .unwrap_or(0)
    }

    /// Per-class sample counts, index = label.
    pub fn class_counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.info.class_names.len()];
        for &l in &self.labels {
            counts[usize::from(l)] += 1;
        }
        counts
    }

    /// Bytes `/frames` occupies in the file (compressed chunks).
    pub fn frames_storage_bytes(&self) -> u64 {
        self.frames_ds.storage_size()
    }

    /// Average bytes per sample of the first `samples` samples stored the way SpikingJelly's
    /// `np.savez_compressed` stores frames: `float32 [T, 2, H, W]`, deflate at `level` (numpy uses zlib's default,
    /// 6). Measured by writing them to a scratch HDF5 file in the system temp dir (one chunk per sample, so
    /// the deflate stream matches a per-sample `.npz` up to its few hundred bytes of zip/npy headers).
    pub fn f32_deflate_bytes_per_sample(&self, samples: usize, level: u8) -> Result<f64> {
        let n = samples.min(self.len());
        if n == 0 {
            return Ok(0.0);
        }
        // Unique per call, so concurrent calls (threads, tests) never share a scratch file.
        static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let scratch = std::env::temp_dir().join(format!(
            "snnkit-f32-estimate-{}-{call}.h5",
            std::process::id()
        ));
        let result = (|| -> Result<f64> {
            let file = crate::h5util::create_file(&scratch)?;
            let info = &self.info;
            let dims = (n, info.frames, 2, info.height, info.width);
            let ds = file
                .new_dataset::<f32>()
                .shape(dims)
                .chunk((1, info.frames, 2, info.height, info.width))
                .deflate(level)
                .create("frames")
                .h5(&scratch)?;
            for i in 0..n {
                let counts = self.read_sample(i)?;
                let f: Vec<f32> = counts.iter().map(|&c| c as f32).collect();
                let view = ndarray17::ArrayView::from_shape(
                    (1, info.frames, 2, info.height, info.width),
                    &f,
                )
                .map_err(|e| Error::Usage(format!("sample shape: {e}")))?;
                ds.as_writer()
                    .write_slice(&view, ndarray17::s![i..i + 1, .., .., .., ..])
                    .h5(&scratch)?;
            }
            file.flush().h5(&scratch)?;
            Ok(ds.storage_size() as f64 / n as f64)
        })();
        let _ = std::fs::remove_file(&scratch);
        result
    }
}
