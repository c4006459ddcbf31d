//! The cache writer: appends samples to `<name>.tmp`, checkpoints progress, and renames to `<name>` when done.
//!
//! **Count type.** The smallest lossless type is only known once every sample is binned, but the data must be
//! written as it streams in. The writer starts with `uint8` and, when a sample holds a larger count, *promotes*:
//! it rewrites the temp file with the wider type (copying the samples so far) and carries on. Promotion happens
//! at most twice per split and usually within the first few samples, so the copy is cheap; the final type is the
//! smallest that holds the split's largest count whatever the order or interruptions, because it depends only on
//! the samples' values. Fixed-duration caches grow their frame axis the same way (samples are zero-padded to the
//! longest; `/lengths` keeps the real counts).
//!
//! **Resume.** The temp file carries [`CacheMeta::settings_key`] and, at each [`CacheWriter::checkpoint`], the
//! number of raw files and samples fully written. [`CacheWriter::resume`] reopens it when the settings match,
//! checks that every checkpointed sample reads back (deflate's checksum catches torn chunks), truncates anything
//! after the checkpoint and continues; anything unreadable or different is deleted and restarted cleanly.

use std::path::{Path, PathBuf};

use hdf5::types::VarLenUnicode;
use hdf5::H5Type;

use crate::chunk::{write_chunk, EncodedChunk};
use crate::error::{Error, H5Context, IoContext, Result};
use crate::format::{
    attr, CacheMeta, Compression, CountType, FrameSetting, BINNING_VERSION, DECODER_VERSION,
    FORMAT_VERSION, FRAMES, LABELS, LENGTHS, SOURCES,
};
use crate::h5util::{get_str, get_u64, has_attr, set_str, set_u64, write_sample, H5File};

/// The temp file a cache at `path` is written to before the final rename (`train.h5` → `train.h5.tmp`).
pub fn temp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Where an opened writer starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResumeState {
    /// Raw files (conversion units) already written; the caller skips these.
    pub units_done: u64,
    /// Samples already in the file.
    pub samples_done: u64,
    /// Raw files skipped as unreadable before the interruption.
    pub skipped: Vec<String>,
    /// Why an existing temp file was discarded and the split restarted (`None` when resumed or there was none).
    pub restarted: Option<String>,
}

/// Writes one split of a cache. See the module docs for the count-type and resume strategies.
pub struct CacheWriter {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<H5File>,
    meta: CacheMeta,
    dtype: CountType,
    /// Frames per sample in `/frames` (T, or the longest so far for fixed-duration caches).
    frames: usize,
    n: usize,
    units_done: u64,
    skipped: Vec<String>,
}

impl CacheWriter {
    /// Starts a new split at `path` (final name), deleting any temp file left from an earlier attempt.
    pub fn create(path: &Path, meta: &CacheMeta) -> Result<Self> {
        validate_meta(meta)?;
        let tmp = temp_path(path);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).io(parent)?;
        }
        remove_if_exists(&tmp)?;
        let frames = match meta.setting {
            FrameSetting::Frames { frames, .. } => frames,
            FrameSetting::Duration { .. } => 1,
        };
        let file = create_file(&tmp, meta, CountType::U8, frames)?;
        Ok(CacheWriter {
            path: path.to_path_buf(),
            tmp,
            file: Some(file),
            meta: meta.clone(),
            dtype: CountType::U8,
            frames,
            n: 0,
            units_done: 0,
            skipped: Vec::new(),
        })
    }

    /// Continues an interrupted split at `path` if its temp file exists, was written with the same settings and
    /// reads back; otherwise starts over like [`CacheWriter::create`] (the returned state says why).
    pub fn resume(path: &Path, meta: &CacheMeta) -> Result<(Self, ResumeState)> {
        validate_meta(meta)?;
        let tmp = temp_path(path);
        if !tmp.exists() {
            return Ok((Self::create(path, meta)?, ResumeState::default()));
        }
        match Self::reopen(path, &tmp, meta) {
            Ok((writer, state)) => Ok((writer, state)),
            Err(restart) => {
                let reason = restart.to_string();
                tracing::warn!("{}: restarting conversion: {reason}", tmp.display());
                let writer = Self::create(path, meta)?;
                Ok((
                    writer,
                    ResumeState {
                        restarted: Some(reason),
                        ..ResumeState::default()
                    },
                ))
            }
        }
    }

    fn reopen(
        path: &Path,
        tmp: &Path,
        meta: &CacheMeta,
    ) -> std::result::Result<(Self, ResumeState), Restart> {
        let file = crate::h5util::open_file_rw(tmp)?;
        let key = get_str(&file, tmp, attr::SETTINGS_KEY)?;
        if key != meta.settings_key() {
            return Err(Restart::Why(
                "the temp file was written with different settings, raw files or decoder/binning versions"
                    .into(),
            ));
        }
        let units_done = get_u64(&file, tmp, attr::UNITS_DONE)?;
        let samples_done = get_u64(&file, tmp, attr::SAMPLES_DONE)? as usize;
        let skipped: Vec<String> = serde_json::from_str(&get_str(&file, tmp, attr::SKIPPED_FILES)?)
            .map_err(|e| Restart::Why(format!("bad {} attribute: {e}", attr::SKIPPED_FILES)))?;
        let frames_ds = file.dataset(FRAMES).h5(tmp)?;
        let shape = frames_ds.shape();
        if shape.len() != 5
            || shape[0] < samples_done
            || shape[2] != 2
            || shape[3] != meta.height
            || shape[4] != meta.width
        {
            return Err(Restart::Why(format!(
                "/frames has shape {shape:?}, inconsistent with the checkpoint"
            )));
        }
        let dtype = frames_ds
            .dtype()
            .ok()
            .and_then(|d| CountType::from_size(d.size()))
            .ok_or_else(|| Restart::Why("/frames has an unexpected element type".into()))?;
        let frames = shape[1];
        let mut names = vec![FRAMES, LABELS, SOURCES];
        if matches!(meta.setting, FrameSetting::Duration { .. }) {
            names.push(LENGTHS);
        }
        for name in &names {
            let ds = file.dataset(name).h5(tmp)?;
            let mut s = ds.shape();
            let rows = s.first().copied().unwrap_or(0);
            if s.is_empty() || rows < samples_done {
                return Err(Restart::Why(format!(
                    "/{name} has shape {s:?}, checkpoint says {samples_done} rows"
                )));
            }
            // Rows written after the checkpoint are redone, so drop them.
            s[0] = samples_done;
            ds.resize(s).h5(tmp)?;
        }
        // Every checkpointed chunk must decompress (deflate checks an Adler-32 of each chunk).
        for i in 0..samples_done {
            frames_ds
                .as_reader()
                .read_slice::<u32, _, ndarray17::Ix5>(ndarray17::s![i..i + 1, .., .., .., ..])
                .h5(tmp)?;
        }
        file.dataset(LABELS)
            .and_then(|d| d.read_raw::<u16>())
            .h5(tmp)?;
        file.dataset(SOURCES)
            .and_then(|d| d.read_raw::<VarLenUnicode>())
            .h5(tmp)?;
        let writer = CacheWriter {
            path: path.to_path_buf(),
            tmp: tmp.to_path_buf(),
            file: Some(file),
            meta: meta.clone(),
            dtype,
            frames,
            n: samples_done,
            units_done,
            skipped: skipped.clone(),
        };
        let state = ResumeState {
            units_done,
            samples_done: samples_done as u64,
            skipped,
            restarted: None,
        };
        Ok((writer, state))
    }

    /// Samples written so far (including any after the last checkpoint).
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether no sample has been written.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The count type `/frames` has now.
    pub fn count_type(&self) -> CountType {
        self.dtype
    }

    /// Frame length `2 * H * W` of one frame of this split.
    pub fn frame_len(&self) -> usize {
        2 * self.meta.height * self.meta.width
    }

    fn file(&self) -> Result<&H5File> {
        // `None` only inside `rewrite`, or after a rewrite whose temp file could not be reopened.
        self.file
            .as_ref()
            .ok_or_else(|| Error::Usage("cache writer is closed after a failed rewrite".into()))
    }

    /// Appends one sample: `counts` is `[t, 2, H, W]` row-major (channel 0 = polarity 0, row = y), `label` its
    /// class index, `source` `"<raw file relative to root>#<segment>"`. For frame-count settings `t` must equal T;
    /// for fixed-duration settings any `t >= 1` is accepted.
    pub fn append(&mut self, counts: &[u32], label: u16, source: &str) -> Result<()> {
        self.append_with(counts, None, label, source)
    }

    /// Like [`CacheWriter::append`] with the sample's chunk already encoded (by [`crate::chunk::encode`] for the
    /// smallest type that holds its counts, with this cache's compression): the writer then only stores bytes,
    /// unless the file's count type is wider than the chunk's, when it falls back to encoding `counts` itself.
    pub fn append_encoded(
        &mut self,
        counts: &[u32],
        chunk: &EncodedChunk,
        label: u16,
        source: &str,
    ) -> Result<()> {
        self.append_with(counts, Some(chunk), label, source)
    }

    fn append_with(
        &mut self,
        counts: &[u32],
        chunk: Option<&EncodedChunk>,
        label: u16,
        source: &str,
    ) -> Result<()> {
        let frame_len = self.frame_len();
        if counts.is_empty() || !counts.len().is_multiple_of(frame_len) {
            return Err(Error::Usage(format!(
                "sample of {} counts is not a whole number of [2, {}, {}] frames",
                counts.len(),
                self.meta.height,
                self.meta.width
            )));
        }
        let t = counts.len() / frame_len;
        if let FrameSetting::Frames { frames, .. } = self.meta.setting {
            if t != frames {
                return Err(Error::Usage(format!(
                    "sample has {t} frames, the cache holds {frames}"
                )));
            }
        }
        if usize::from(label) >= self.meta.class_names.len() {
            return Err(Error::Usage(format!(
                "label {label} out of range for {} classes ({source})",
                self.meta.class_names.len()
            )));
        }
        let sample_type = match chunk {
            Some(c) => c.dtype,
            None => CountType::for_max(counts.iter().copied().max().unwrap_or(0)),
        };
        let need = sample_type.max(self.dtype);
        if need != self.dtype || t > self.frames {
            self.rewrite(need, t.max(self.frames))?;
        }
        let row = self.n;
        let rows = row + 1;
        let path = self.tmp.clone();
        let file = self.file()?;
        let frames_ds = file.dataset(FRAMES).h5(&path)?;
        frames_ds
            .resize((rows, self.frames, 2, self.meta.height, self.meta.width))
            .h5(&path)?;
        let dims = [self.frames, 2, self.meta.height, self.meta.width];
        match chunk {
            // Pre-encoded for exactly this type and a full chunk: store the bytes as they are.
            Some(c) if c.dtype == self.dtype && t == self.frames => {
                write_chunk(&frames_ds, &path, &[row as u64, 0, 0, 0, 0], &c.bytes)?
            }
            _ => match self.dtype {
                CountType::U8 => {
                    write_sample::<u8, _>(&frames_ds, &path, row, dims, counts, |c| c as u8)?
                }
                CountType::U16 => {
                    write_sample::<u16, _>(&frames_ds, &path, row, dims, counts, |c| c as u16)?
                }
                CountType::U32 => {
                    write_sample::<u32, _>(&frames_ds, &path, row, dims, counts, |c| c)?
                }
            },
        }
        write_row(file, &path, LABELS, row, label)?;
        let src = VarLenUnicode::from_str_checked(source, &path)?;
        write_row(file, &path, SOURCES, row, src)?;
        if matches!(self.meta.setting, FrameSetting::Duration { .. }) {
            write_row(file, &path, LENGTHS, row, t as u32)?;
        }
        self.n = rows;
        Ok(())
    }

    /// Records that the first `units_done` raw files (all their samples appended) are complete, with the files
    /// skipped so far, and flushes the file so a killed process resumes from here.
    pub fn checkpoint(&mut self, units_done: u64, skipped: &[String]) -> Result<()> {
        self.units_done = units_done;
        self.skipped = skipped.to_vec();
        let path = self.tmp.clone();
        let file = self.file()?;
        set_str(file, &path, attr::SKIPPED_FILES, &json_list(skipped))?;
        set_u64(file, &path, attr::SAMPLES_DONE, self.n as u64)?;
        // The unit count goes last: a checkpoint is only trusted once it is there.
        set_u64(file, &path, attr::UNITS_DONE, units_done)?;
        file.flush().h5(&path)
    }

    /// Writes the closing attributes, closes the file and renames it to its final name. Returns the final path.
    pub fn finish(mut self, skipped: &[String]) -> Result<PathBuf> {
        let path = self.tmp.clone();
        {
            let file = self.file()?;
            set_u64(file, &path, attr::FRAMES, self.frames as u64)?;
            set_str(file, &path, attr::DTYPE, self.dtype.name())?;
            set_str(file, &path, attr::SKIPPED_FILES, &json_list(skipped))?;
            set_str(
                file,
                &path,
                attr::CREATED,
                &crate::fingerprint::now_rfc3339(),
            )?;
            for progress in [attr::UNITS_DONE, attr::SAMPLES_DONE] {
                if has_attr(file, progress) {
                    file.delete_attr(progress).h5(&path)?;
                }
            }
            file.flush().h5(&path)?;
        }
        if let Some(file) = self.file.take() {
            file.close(&path)?;
        }
        // The workspace's one durable ending: fsync the file, rename, fsync the folder.
        snnkit_fsutil::persist(&self.tmp, &self.path).io(&self.path)?;
        Ok(self.path.clone())
    }

    /// Rewrites the temp file with a wider count type and/or more frames per sample, copying what is there.
    fn rewrite(&mut self, dtype: CountType, frames: usize) -> Result<()> {
        let mut staging = self.tmp.as_os_str().to_owned();
        staging.push(".rewrite");
        let staging = PathBuf::from(staging);
        remove_if_exists(&staging)?;
        let old = self
            .file
            .take()
            .ok_or_else(|| Error::Usage("cache writer already closed".into()))?;
        let result = (|| -> Result<()> {
            let new = create_file(&staging, &self.meta, dtype, frames)?;
            let (h, w) = (self.meta.height, self.meta.width);
            let old_frames = old.dataset(FRAMES).h5(&self.tmp)?;
            let new_frames = new.dataset(FRAMES).h5(&staging)?;
            new_frames.resize((self.n, frames, 2, h, w)).h5(&staging)?;
            let dims = [frames, 2, h, w];
            for i in 0..self.n {
                let s = old_frames
                    .as_reader()
                    .read_slice::<u32, _, ndarray17::Ix5>(ndarray17::s![i..i + 1, .., .., .., ..])
                    .h5(&self.tmp)?;
                let counts = s
                    .as_slice()
                    .ok_or_else(|| Error::Usage("non-contiguous read".into()))?;
                match dtype {
                    CountType::U8 => {
                        write_sample::<u8, _>(&new_frames, &staging, i, dims, counts, |c| c as u8)?
                    }
                    CountType::U16 => {
                        write_sample::<u16, _>(&new_frames, &staging, i, dims, counts, |c| {
                            c as u16
                        })?
                    }
                    CountType::U32 => {
                        write_sample::<u32, _>(&new_frames, &staging, i, dims, counts, |c| c)?
                    }
                }
            }
            copy_rows::<u16>(&old, &self.tmp, &new, &staging, LABELS, self.n)?;
            copy_rows::<VarLenUnicode>(&old, &self.tmp, &new, &staging, SOURCES, self.n)?;
            if matches!(self.meta.setting, FrameSetting::Duration { .. }) {
                copy_rows::<u32>(&old, &self.tmp, &new, &staging, LENGTHS, self.n)?;
            }
            for name in [attr::UNITS_DONE, attr::SAMPLES_DONE] {
                if has_attr(&old, name) {
                    set_u64(&new, &staging, name, get_u64(&old, &self.tmp, name)?)?;
                }
            }
            set_str(
                &new,
                &staging,
                attr::SKIPPED_FILES,
                &get_str(&old, &self.tmp, attr::SKIPPED_FILES)?,
            )?;
            new.close(&staging)?;
            Ok(())
        })();
        old.close(&self.tmp)?;
        if let Err(e) = result.and_then(|()| std::fs::rename(&staging, &self.tmp).io(&self.tmp)) {
            // Carry on with the temp file as it was, so the writer stays usable (a checkpoint, a resume).
            let _ = std::fs::remove_file(&staging);
            self.file = crate::h5util::open_file_rw(&self.tmp).ok();
            return Err(e);
        }
        self.file = Some(crate::h5util::open_file_rw(&self.tmp)?);
        self.dtype = dtype;
        self.frames = frames;
        Ok(())
    }
}

/// Why an interrupted temp file is not resumed: a mismatch found by the writer, or an error reading it
/// (kept typed until it becomes the one-line [`ResumeState::restarted`] text).
enum Restart {
    Why(String),
    Cache(Error),
}

impl From<Error> for Restart {
    fn from(e: Error) -> Self {
        Restart::Cache(e)
    }
}

impl std::fmt::Display for Restart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Restart::Why(reason) => f.write_str(reason),
            Restart::Cache(e) => f.write_str(&crate::error::one_line(e)),
        }
    }
}

/// `VarLenUnicode` from a `&str`, as a crate error (interior NULs are the only failure).
trait FromStrChecked: Sized {
    fn from_str_checked(s: &str, path: &Path) -> Result<Self>;
}

impl FromStrChecked for VarLenUnicode {
    fn from_str_checked(s: &str, path: &Path) -> Result<Self> {
        s.parse::<VarLenUnicode>().map_err(|e| Error::Invalid {
            path: path.to_path_buf(),
            reason: format!("source name {s:?}: {e}"),
        })
    }
}

fn validate_meta(meta: &CacheMeta) -> Result<()> {
    if meta.height == 0 || meta.width == 0 {
        return Err(Error::Usage(
            "cache height and width must be positive".into(),
        ));
    }
    if meta.class_names.is_empty() || meta.class_names.len() > usize::from(u16::MAX) + 1 {
        return Err(Error::Usage("a cache needs 1..=65536 class names".into()));
    }
    match meta.setting {
        FrameSetting::Frames { frames: 0, .. } => {
            Err(Error::Usage("frames must be positive".into()))
        }
        FrameSetting::Duration { us: 0 } => Err(Error::Usage("duration must be positive".into())),
        _ => Ok(()),
    }
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).io(path),
        _ => Ok(()),
    }
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// Creates an empty split file with the datasets (zero rows, resizable) and the static attributes.
fn create_file(path: &Path, meta: &CacheMeta, dtype: CountType, frames: usize) -> Result<H5File> {
    let file = crate::h5util::create_file(path)?;
    let (h, w) = (meta.height, meta.width);
    let builder = file.new_dataset_builder();
    let builder = match dtype {
        CountType::U8 => builder.empty::<u8>(),
        CountType::U16 => builder.empty::<u16>(),
        CountType::U32 => builder.empty::<u32>(),
    };
    let mut builder = builder
        .shape((0.., frames, 2, h, w))
        .chunk((1, frames, 2, h, w));
    if let Compression::Deflate(level) = meta.compression {
        // Byte shuffle groups the (mostly zero) high bytes of wider counts, which deflate then squeezes well.
        if dtype != CountType::U8 {
            builder = builder.shuffle();
        }
        builder = builder.deflate(level);
    }
    builder.create(FRAMES).h5(path)?;
    file.new_dataset::<u16>()
        .shape(0..)
        .chunk(4096)
        .create(LABELS)
        .h5(path)?;
    file.new_dataset::<VarLenUnicode>()
        .shape(0..)
        .chunk(1024)
        .create(SOURCES)
        .h5(path)?;
    if matches!(meta.setting, FrameSetting::Duration { .. }) {
        file.new_dataset::<u32>()
            .shape(0..)
            .chunk(4096)
            .create(LENGTHS)
            .h5(path)?;
    }
    set_u64(&file, path, attr::FORMAT_VERSION, FORMAT_VERSION)?;
    set_str(&file, path, attr::SNNKIT_VERSION, env!("CARGO_PKG_VERSION"))?;
    set_u64(&file, path, attr::DECODER_VERSION, DECODER_VERSION)?;
    set_u64(&file, path, attr::BINNING_VERSION, BINNING_VERSION)?;
    set_str(&file, path, attr::DATASET, &meta.dataset)?;
    set_str(&file, path, attr::SPLIT, &meta.split)?;
    set_u64(&file, path, attr::FRAMES, frames as u64)?;
    match meta.setting {
        FrameSetting::Frames { split_by, .. } => {
            set_str(&file, path, attr::SPLIT_BY, &split_by.to_string())?
        }
        FrameSetting::Duration { us } => set_u64(&file, path, attr::DURATION, us)?,
    }
    set_u64(&file, path, attr::HEIGHT, h as u64)?;
    set_u64(&file, path, attr::WIDTH, w as u64)?;
    set_str(
        &file,
        path,
        attr::CLASS_NAMES,
        &json_list(&meta.class_names),
    )?;
    set_str(
        &file,
        path,
        attr::SOURCE_FINGERPRINT,
        &meta.source_fingerprint,
    )?;
    if let Some(root) = &meta.source_root {
        set_str(&file, path, attr::SOURCE_ROOT, root)?;
    }
    set_str(&file, path, attr::DTYPE, dtype.name())?;
    set_str(
        &file,
        path,
        attr::COMPRESSION,
        &meta.compression.to_string(),
    )?;
    set_str(&file, path, attr::SETTING, &meta.setting.dir_name())?;
    set_str(&file, path, attr::SETTINGS_KEY, &meta.settings_key())?;
    set_str(&file, path, attr::SKIPPED_FILES, "[]")?;
    set_u64(&file, path, attr::SAMPLES_DONE, 0)?;
    set_u64(&file, path, attr::UNITS_DONE, 0)?;
    Ok(file)
}

/// Appends one value at `row` of a 1-D resizable dataset.
fn write_row<T: H5Type>(
    file: &hdf5::File,
    path: &Path,
    name: &str,
    row: usize,
    value: T,
) -> Result<()> {
    let ds = file.dataset(name).h5(path)?;
    ds.resize(row + 1).h5(path)?;
    let arr = ndarray17::Array1::from_vec(vec![value]);
    ds.as_writer().write_slice(&arr, row..row + 1).h5(path)
}

/// Copies the first `n` rows of a 1-D dataset between files.
fn copy_rows<T: H5Type>(
    old: &hdf5::File,
    old_path: &Path,
    new: &hdf5::File,
    new_path: &Path,
    name: &str,
    n: usize,
) -> Result<()> {
    let values = old
        .dataset(name)
        .h5(old_path)?
        .read_slice_1d::<T, _>(0..n)
        .h5(old_path)?;
    let ds = new.dataset(name).h5(new_path)?;
    ds.resize(n).h5(new_path)?;
    ds.as_writer().write_slice(&values, 0..n).h5(new_path)
}
