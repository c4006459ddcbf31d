//! Converting a whole dataset: `snnkit_datasets` enumerates and decodes, `snnkit_frames` bins, the cache writes.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use snnkit_datasets::{group_by_source, read_source, Dataset, Sample, SourceGroup, Split};
use snnkit_frames::{FrameSpec, SensorSize};

use crate::convert::{
    write_split, BinnedSample, ConvertOptions, ConvertSource, Progress, SplitSummary,
};
use crate::error::{Result, UnitError};
use crate::fingerprint::{fingerprint, FingerprintStatus};
use crate::format::{CacheMeta, Compression, FrameSetting, SplitBy};
use crate::reader::CacheReader;

/// The SpikingJelly integration a cache setting stands for.
pub fn frame_spec(setting: FrameSetting) -> FrameSpec {
    match setting {
        FrameSetting::Frames {
            frames,
            split_by: SplitBy::Number,
        } => FrameSpec::SplitByNumber { frames },
        FrameSetting::Frames {
            frames,
            split_by: SplitBy::Time,
        } => FrameSpec::SplitByTime { frames },
        FrameSetting::Duration { us } => FrameSpec::FixedDuration {
            duration: us.min(i64::MAX as u64) as i64,
        },
    }
}

/// `CACHE_DIR/<dataset>/<setting>/<split>.h5`.
pub fn split_path(cache_dir: &Path, dataset: &str, setting: FrameSetting, split: &str) -> PathBuf {
    cache_dir
        .join(dataset)
        .join(setting.dir_name())
        .join(format!("{split}.h5"))
}

/// The `/sources` entry of a sample: `"<file>#[start,end)"` for a time window, `"<file>#all"` for a whole file.
pub fn source_entry(sample: &Sample) -> String {
    let file = sample.source.to_string_lossy().replace('\\', "/");
    match sample.span {
        Some((a, b)) => format!("{file}#[{a},{b})"),
        None => format!("{file}#all"),
    }
}

/// One split of a dataset as conversion units (one per raw file, samples in list order).
pub struct DatasetSource<'a> {
    ds: &'a dyn Dataset,
    samples: Vec<Sample>,
    groups: Vec<SourceGroup>,
    spec: FrameSpec,
    sensor: SensorSize,
}

impl<'a> DatasetSource<'a> {
    /// Lists `split` of `ds` and groups its samples by raw file.
    pub fn new(ds: &'a dyn Dataset, split: Split, setting: FrameSetting) -> Result<Self> {
        let samples = ds.samples(split)?;
        let groups = group_by_source(&samples);
        let (w, h) = ds.sensor_size();
        let sensor = SensorSize {
            width: usize::from(w),
            height: usize::from(h),
        };
        Ok(DatasetSource {
            ds,
            samples,
            groups,
            spec: frame_spec(setting),
            sensor,
        })
    }

    /// Number of samples in the split.
    pub fn num_samples(&self) -> usize {
        self.samples.len()
    }
}

impl DatasetSource<'_> {
    /// A whole-file sample split by number, decoded straight into frames (no event columns);
    /// `None` when the sample, setting or file format needs the column path.
    fn process_fused(
        &self,
        group: &SourceGroup,
    ) -> std::result::Result<Option<BinnedSample>, UnitError> {
        let FrameSpec::SplitByNumber { frames } = self.spec else {
            return Ok(None);
        };
        let [i] = group.samples[..] else {
            return Ok(None);
        };
        let sample = &self.samples[i];
        if sample.span.is_some() {
            return Ok(None);
        }
        let path = snnkit_datasets::source_path(self.ds, &sample.source);
        let fused = snnkit_frames::integrate_file_by_number(
            &path,
            &self.ds.read_options(),
            self.sensor,
            frames,
        )
        .map_err(|e| frames_error(sample, e))?;
        let Some(f) = fused else {
            return Ok(None);
        };
        let label = label_of(sample)?;
        // Every event lands in exactly one count.
        let events = f.counts.iter().map(|&c| u64::from(c)).sum();
        Ok(Some(BinnedSample {
            counts: f.counts,
            label,
            source: source_entry(sample),
            events,
        }))
    }
}

impl ConvertSource for DatasetSource<'_> {
    fn num_units(&self) -> usize {
        self.groups.len()
    }

    fn unit_name(&self, unit: usize) -> String {
        self.groups[unit]
            .source
            .to_string_lossy()
            .replace('\\', "/")
    }

    fn process(&self, unit: usize) -> std::result::Result<Vec<BinnedSample>, UnitError> {
        let group = &self.groups[unit];
        if let Some(binned) = self.process_fused(group)? {
            return Ok(vec![binned]);
        }
        let decoded = read_source(self.ds, &group.source)?;
        let frame_len = self.sensor.frame_len();
        group
            .samples
            .iter()
            .map(|&i| {
                let sample = &self.samples[i];
                let cut = decoded.cut(sample.span);
                let events = cut.as_ref();
                let frames = snnkit_frames::integrate(events, self.sensor, &self.spec)
                    .map_err(|e| frames_error(sample, e))?;
                let mut counts = frames.counts;
                // Fixed duration gives zero frames for a sample without events; store one empty frame so every
                // sample has a shape (its /lengths entry says 1).
                if counts.is_empty() {
                    counts = vec![0; frame_len];
                }
                let label = label_of(sample)?;
                Ok(BinnedSample {
                    counts,
                    label,
                    source: source_entry(sample),
                    events: events.len() as u64,
                })
            })
            .collect()
    }
}

/// A binning error of `sample`; a decode error reached through the fused path stays an events error (it
/// names the file and byte offset already).
fn frames_error(sample: &Sample, e: snnkit_frames::Error) -> UnitError {
    match e {
        snnkit_frames::Error::Decode(e) => UnitError::Events(e),
        source => UnitError::Frames {
            sample: source_entry(sample),
            source,
        },
    }
}

/// The sample's label as the cache stores it.
fn label_of(sample: &Sample) -> std::result::Result<u16, UnitError> {
    u16::try_from(sample.label).map_err(|_| UnitError::Label {
        label: sample.label,
    })
}

/// A whole-dataset conversion request (what `snnkit convert` parses its arguments into).
#[derive(Clone, Debug)]
pub struct DatasetConvert {
    /// Dataset name for `snnkit_datasets::by_name`.
    pub dataset: String,
    /// Dataset root folder.
    pub root: PathBuf,
    /// Integration setting.
    pub setting: FrameSetting,
    /// `CACHE_DIR`.
    pub out_dir: PathBuf,
    /// Chunk compression.
    pub compression: Compression,
    /// Splits to write, in order.
    pub splits: Vec<Split>,
    /// Pipeline options.
    pub options: ConvertOptions,
    /// How the dataset is opened (`snnkit_datasets::by_name_with`; e.g. N-Caltech101 with
    /// missing class folders).
    pub open: snnkit_datasets::OpenOptions,
}

impl DatasetConvert {
    /// Both splits, default compression and options.
    pub fn new(dataset: &str, root: &Path, setting: FrameSetting, out_dir: &Path) -> Self {
        DatasetConvert {
            dataset: dataset.to_string(),
            root: root.to_path_buf(),
            setting,
            out_dir: out_dir.to_path_buf(),
            compression: Compression::DEFAULT,
            splits: Split::ALL.to_vec(),
            options: ConvertOptions::default(),
            open: snnkit_datasets::OpenOptions::default(),
        }
    }
}

/// What a whole-dataset conversion did (the CLI's `--json` summary).
#[derive(Clone, Debug, Serialize)]
pub struct ConvertSummary {
    /// Dataset name.
    pub dataset: String,
    /// Setting folder name.
    pub setting: String,
    /// Dataset root actually used (after resolving inner folders).
    pub root: PathBuf,
    /// The setting's folder, `CACHE_DIR/<dataset>/<setting>`.
    pub out_dir: PathBuf,
    /// One entry per split.
    pub splits: Vec<SplitSummary>,
    /// Samples over all splits.
    pub samples: usize,
    /// Events integrated in this run.
    pub events: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Events per second of this run.
    pub events_per_s: f64,
    /// Fingerprint of every raw file of the dataset.
    pub source_fingerprint: String,
}

/// Converts every requested split of a dataset into `CACHE_DIR/<dataset>/<setting>/<split>.h5`. See
/// [`write_split`] for the pipeline, resume and `progress` semantics.
pub fn convert_dataset(
    req: &DatasetConvert,
    progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
) -> Result<ConvertSummary> {
    let start = Instant::now();
    let ds = snnkit_datasets::by_name_with(&req.dataset, &req.root, &req.open)?;
    let root = ds.root().to_path_buf();
    let abs_root = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
    let source_fingerprint = fingerprint_of(ds.as_ref())?;
    let (w, h) = ds.sensor_size();
    let mut splits = Vec::new();
    for &split in &req.splits {
        let source = DatasetSource::new(ds.as_ref(), split, req.setting)?;
        let meta = CacheMeta {
            dataset: req.dataset.clone(),
            split: split.name().to_string(),
            setting: req.setting,
            height: usize::from(h),
            width: usize::from(w),
            class_names: ds.class_names().to_vec(),
            source_fingerprint: source_fingerprint.clone(),
            source_root: Some(abs_root.to_string_lossy().into_owned()),
            compression: req.compression,
        };
        let path = split_path(&req.out_dir, &req.dataset, req.setting, split.name());
        splits.push(write_split(&path, &meta, &source, &req.options, progress)?);
    }
    let seconds = start.elapsed().as_secs_f64();
    let events = splits.iter().map(|s| s.events).sum();
    Ok(ConvertSummary {
        dataset: req.dataset.clone(),
        setting: req.setting.dir_name(),
        root: abs_root,
        out_dir: req.out_dir.join(&req.dataset).join(req.setting.dir_name()),
        samples: splits.iter().map(|s| s.samples).sum(),
        events,
        seconds,
        events_per_s: if seconds > 0.0 {
            events as f64 / seconds
        } else {
            0.0
        },
        splits,
        source_fingerprint,
    })
}

/// The current fingerprint of dataset `name` at `root` (every raw file, sizes and mtimes).
pub fn dataset_fingerprint(name: &str, root: &Path) -> Result<String> {
    // Opened leniently: the fingerprint lists the files (class folders included), so a cache
    // converted from a partial tree (`allow_missing_classes`) matches it, and a full tree gives
    // the same list either way.
    let mut open = snnkit_datasets::OpenOptions::default();
    open.allow_missing_classes = true;
    let ds = snnkit_datasets::by_name_with(name, root, &open)?;
    fingerprint_of(ds.as_ref())
}

/// The fingerprint of every raw file of `ds` under its root.
fn fingerprint_of(ds: &dyn Dataset) -> Result<String> {
    RAW_WALKS.with(|w| w.set(w.get() + 1));
    let files: Vec<String> = ds
        .files()?
        .iter()
        .map(|f| f.to_string_lossy().replace('\\', "/"))
        .collect();
    Ok(fingerprint(ds.root(), &files))
}

thread_local! {
    /// Raw-tree walks (dataset file listings for a fingerprint) made on this thread.
    static RAW_WALKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many times this thread has listed a dataset's raw files to fingerprint them. Lets tests check that
/// opening a cache (or a loader) never walks the raw tree.
#[doc(hidden)]
pub fn raw_walks_on_this_thread() -> u64 {
    RAW_WALKS.with(|w| w.get())
}

/// Freshness against the raw files: lives here, beside the dataset knowledge it needs, so the reader itself
/// never lists a dataset (and `convert -> reader -> dataset_source` is not a cycle).
impl CacheReader {
    /// Compares the stored source fingerprint with the dataset's raw files now under the recorded root (the
    /// dataset is reopened with `snnkit_datasets::by_name`, so caches of unknown dataset names are
    /// `Unavailable`). Walks the raw tree: call it when the answer is wanted (`snnkit cache info`), not on
    /// every open.
    pub fn fingerprint_status(&self) -> FingerprintStatus {
        let info = self.info();
        let Some(root) = info.source_root.as_deref() else {
            return FingerprintStatus::Unavailable {
                reason: "no source_root recorded".into(),
            };
        };
        let root = Path::new(root);
        if !root.is_dir() {
            return FingerprintStatus::Unavailable {
                reason: format!("{} is not there", root.display()),
            };
        }
        match dataset_fingerprint(&info.dataset, root) {
            Ok(current) if current == info.source_fingerprint => FingerprintStatus::Match,
            Ok(current) => FingerprintStatus::Mismatch {
                stored: info.source_fingerprint.clone(),
                current,
            },
            Err(e) => FingerprintStatus::Unavailable {
                reason: crate::error::one_line(&e),
            },
        }
    }
}
