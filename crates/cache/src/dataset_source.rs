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
use crate::error::{Error, Result};
use crate::fingerprint::fingerprint;
use crate::format::{CacheMeta, Compression, FrameSetting, SplitBy};

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
        let samples = ds
            .samples(split)
            .map_err(|e| Error::Dataset(e.to_string()))?;
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
    ) -> std::result::Result<Option<BinnedSample>, String> {
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
        .map_err(|e| format!("{}: {e}", source_entry(sample)))?;
        let Some(f) = fused else {
            return Ok(None);
        };
        let label =
            u16::try_from(sample.label).map_err(|_| format!("label {} too large", sample.label))?;
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

    fn process(&self, unit: usize) -> std::result::Result<Vec<BinnedSample>, String> {
        let group = &self.groups[unit];
        if let Some(binned) = self.process_fused(group)? {
            return Ok(vec![binned]);
        }
        let decoded = read_source(self.ds, &group.source).map_err(|e| e.to_string())?;
        let frame_len = self.sensor.frame_len();
        group
            .samples
            .iter()
            .map(|&i| {
                let sample = &self.samples[i];
                let cut = decoded.cut(sample.span);
                let events = cut.as_ref();
                let frames = snnkit_frames::integrate(events, self.sensor, &self.spec)
                    .map_err(|e| format!("{}: {e}", source_entry(sample)))?;
                let mut counts = frames.counts;
                // Fixed duration gives zero frames for a sample without events; store one empty frame so every
                // sample has a shape (its /lengths entry says 1).
                if counts.is_empty() {
                    counts = vec![0; frame_len];
                }
                let label = u16::try_from(sample.label)
                    .map_err(|_| format!("label {} too large", sample.label))?;
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
    let ds = snnkit_datasets::by_name_with(&req.dataset, &req.root, &req.open)
        .map_err(|e| Error::Dataset(e.to_string()))?;
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
    let ds = snnkit_datasets::by_name_with(name, root, &open)
        .map_err(|e| Error::Dataset(e.to_string()))?;
    fingerprint_of(ds.as_ref())
}

/// The fingerprint of every raw file of `ds` under its root.
fn fingerprint_of(ds: &dyn Dataset) -> Result<String> {
    let files: Vec<String> = ds
        .files()
        .map_err(|e| Error::Dataset(e.to_string()))?
        .iter()
        .map(|f| f.to_string_lossy().replace('\\', "/"))
        .collect();
    Ok(fingerprint(ds.root(), &files))
}
