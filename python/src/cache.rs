//! The frame cache from Python: `convert` writes it, `FrameCache` reads samples (map-style, for a
//! PyTorch `DataLoader`), `Loader` iterates the Rust loader's batches.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::{PyIndexError, PyUserWarning};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple, PyType};
use snnkit_cache::convert::{ConvertOptions, Progress};
use snnkit_cache::{
    CacheInfo, CacheReader, CountType, DatasetConvert, FingerprintStatus, FrameSetting, HostBatch,
    LoaderConfig, Prefetch,
};

use crate::{error, pool};

/// A JSON-serialisable value as Python objects (dicts, lists, numbers, strings).
fn to_python<'py>(py: Python<'py>, v: &impl serde::Serialize) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(v).map_err(|e| error::value(e.to_string()))?;
    py.import("json")?.call_method1("loads", (text,))
}

/// Converts a dataset's raw files into the HDF5 frame cache, one file per split
/// (``out/<dataset>/<setting>/<split>.h5``), as ``snnkit convert`` does, and returns its summary
/// (the dict ``snnkit convert --json`` prints).
///
/// ``dataset``: ``dvs128-gesture``, ``cifar10-dvs``, ``n-caltech101``, ``n-mnist`` or
/// ``synthetic``. Either ``frames=T`` with ``split_by="number"|"time"``, or ``duration=US``.
/// ``jobs=0`` uses every core. A progress bar goes to stderr when it is a terminal
/// (``progress=False`` hides it). An interrupted conversion (Ctrl-C) resumes on the next call.
#[pyfunction]
#[pyo3(signature = (
    dataset, root, out, frames=None, split_by="number", jobs=0, *,
    duration=None, compression=None, skip_bad=false, force=false, resume=true, progress=true
))]
#[allow(clippy::too_many_arguments)]
pub fn convert<'py>(
    py: Python<'py>,
    dataset: &str,
    root: PathBuf,
    out: PathBuf,
    frames: Option<usize>,
    split_by: &str,
    jobs: usize,
    duration: Option<u64>,
    compression: Option<&str>,
    skip_bad: bool,
    force: bool,
    resume: bool,
    progress: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let setting = match (frames, duration) {
        (Some(frames), None) => FrameSetting::Frames {
            frames,
            split_by: split_by.parse().map_err(error::value)?,
        },
        (None, Some(us)) => FrameSetting::Duration { us },
        _ => {
            return Err(error::value(
                "give either frames=T (with split_by) or duration=US",
            ))
        }
    };
    let mut req = DatasetConvert::new(dataset, &root, setting, &out);
    if let Some(c) = compression {
        req.compression = c.parse().map_err(error::value)?;
    }
    req.options = ConvertOptions {
        jobs,
        skip_bad,
        resume,
        force,
        ..ConvertOptions::default()
    };
    let bar = progress_bar(progress);
    let mut interrupt: Option<PyErr> = None;
    let summary = py.detach(|| {
        pool::install(|| {
            let mut current = String::new();
            snnkit_cache::convert_dataset(&req, &mut |p: &Progress| {
                show(&bar, &mut current, p);
                // Ctrl-C: Python's handler runs here; stop at the next file boundary (resumable).
                match Python::attach(|py| py.check_signals()) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(e) => {
                        interrupt = Some(e);
                        ControlFlow::Break(())
                    }
                }
            })
        })
    });
    bar.finish_and_clear();
    match (summary, interrupt) {
        (Err(_), Some(e)) => Err(e),
        (Err(e), None) => Err(error::cache(e)),
        (Ok(s), _) => to_python(py, &s),
    }
}

fn progress_bar(enabled: bool) -> indicatif::ProgressBar {
    if !enabled {
        return indicatif::ProgressBar::hidden();
    }
    let bar =
        indicatif::ProgressBar::with_draw_target(Some(0), indicatif::ProgressDrawTarget::stderr());
    let style = indicatif::ProgressStyle::with_template(
        "{prefix:>5} [{bar:30}] {pos}/{len} files, {msg} ({elapsed}, eta {eta})",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    bar
}

fn show(bar: &indicatif::ProgressBar, current: &mut String, p: &Progress) {
    if p.split != *current {
        current.clone_from(&p.split);
        bar.reset();
        bar.set_length(p.units_total as u64);
        bar.set_prefix(p.split.clone());
    }
    bar.set_position(p.units_done as u64);
    let rate = p.events_done as f64 / p.elapsed.as_secs_f64().max(1e-9);
    bar.set_message(format!(
        "{} samples, {:.1} M events/s",
        p.samples_done,
        rate / 1e6
    ));
}

/// Opens a cache file; a missing file is a `FileNotFoundError`, a foreign one a `ValueError` or
/// `OSError`.
fn open(path: &Path) -> PyResult<CacheReader> {
    if !path.exists() {
        return Err(pyo3::exceptions::PyFileNotFoundError::new_err(format!(
            "{}: no such cache file",
            path.display()
        )));
    }
    // Opening does not walk the raw files (`warn_if_stale` does, once, as a Python warning); it refuses a
    // cache of another decoder or binning version, as the Rust loader does.
    CacheReader::open(path).map_err(error::cache)
}

/// Warns (Python ``UserWarning``) when the raw files changed since the cache was written.
fn warn_if_stale(py: Python<'_>, reader: &CacheReader) -> PyResult<()> {
    if let FingerprintStatus::Mismatch { stored, current } =
        py.detach(|| reader.fingerprint_status())
    {
        let msg = format!(
            "{}: the raw files changed since this cache was written (fingerprint {stored}, now \
             {current}); re-run snnkit.convert to refresh it",
            reader.info().path.display()
        );
        let cat = py.get_type::<PyUserWarning>();
        PyErr::warn(py, &cat, &std::ffi::CString::new(msg)?, 1)?;
    }
    Ok(())
}

/// One cache split as a map-style dataset: ``len(cache)`` samples, ``cache[i]`` is
/// ``(frames, label)`` with ``frames`` a ``float32`` array ``[T, 2, H, W]`` (SpikingJelly's frames;
/// a fixed-duration cache gives each sample its own T) and ``label`` an ``int``.
///
/// ``transform`` (optional) is called on ``frames`` before they are returned. Picklable (it pickles
/// as its path and transform), so a PyTorch ``DataLoader`` with worker processes can use it; each
/// process opens the file for itself.
#[pyclass(module = "snnkit", name = "FrameCache", frozen)]
pub struct FrameCache {
    path: PathBuf,
    transform: Option<Py<PyAny>>,
    info: CacheInfo,
    labels: Vec<u16>,
    lengths: Option<Vec<u32>>,
    /// The open file and the process that opened it: after a fork (DataLoader workers) the child
    /// opens its own rather than share libhdf5 state with its parent.
    reader: Mutex<Option<(u32, CacheReader)>>,
}

impl FrameCache {
    /// Sample `i` as f32 counts (trimmed to its real length in a fixed-duration cache).
    fn read(&self, i: usize) -> PyResult<(Vec<f32>, usize)> {
        let mut slot = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        let pid = std::process::id();
        if slot.as_ref().is_none_or(|(owner, _)| *owner != pid) {
            if let Some(inherited) = slot.take() {
                // The parent's handle: closing it here would touch libhdf5 state this process
                // only holds a copy of.
                std::mem::forget(inherited);
            }
            *slot = Some((pid, open(&self.path)?));
        }
        let Some((_, reader)) = slot.as_ref() else {
            unreachable!("opened above")
        };
        // Read in the stored type (libhdf5 converts nothing), widen here.
        let mut counts: Vec<f32> = match self.info.dtype {
            CountType::U8 => reader.read_sample_as::<u8>(i).map(widen_u8),
            CountType::U16 => reader.read_sample_as::<u16>(i).map(widen_u16),
            CountType::U32 => reader.read_sample_as::<u32>(i).map(widen_u32),
        }
        .map_err(error::cache)?;
        let frames = match &self.lengths {
            Some(l) => (l[i] as usize).min(self.info.frames),
            None => self.info.frames,
        };
        counts.truncate(frames * 2 * self.info.height * self.info.width);
        Ok((counts, frames))
    }
}

fn widen_u8(v: Vec<u8>) -> Vec<f32> {
    v.into_iter().map(f32::from).collect()
}

fn widen_u16(v: Vec<u16>) -> Vec<f32> {
    v.into_iter().map(f32::from).collect()
}

/// Exact up to 2^24 counts per cell (more events than any recording puts on one pixel in one frame).
fn widen_u32(v: Vec<u32>) -> Vec<f32> {
    v.into_iter().map(|c| c as f32).collect()
}

#[pymethods]
impl FrameCache {
    #[new]
    #[pyo3(signature = (path, transform=None))]
    fn new(py: Python<'_>, path: PathBuf, transform: Option<Py<PyAny>>) -> PyResult<Self> {
        let reader = py.detach(|| open(&path))?;
        warn_if_stale(py, &reader)?;
        Ok(FrameCache {
            path,
            transform,
            info: reader.info().clone(),
            labels: reader.labels().to_vec(),
            lengths: reader.lengths().map(<[u32]>::to_vec),
            reader: Mutex::new(Some((std::process::id(), reader))),
        })
    }

    fn __len__(&self) -> usize {
        self.info.samples
    }

    fn __getitem__<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyTuple>> {
        let n = self.info.samples as isize;
        let i = if index < 0 { index + n } else { index };
        if !(0..n).contains(&i) {
            return Err(PyIndexError::new_err(format!(
                "sample {index} out of range for a cache of {n} samples"
            )));
        }
        let i = i as usize;
        let (counts, t) = py.detach(|| self.read(i))?;
        let shape = [t, 2, self.info.height, self.info.width];
        let mut frames = PyArray1::from_vec(py, counts).reshape(shape)?.into_any();
        if let Some(f) = &self.transform {
            frames = f.bind(py).call1((frames,))?;
        }
        let label = i64::from(self.labels[i]);
        PyTuple::new(py, [frames, label.into_pyobject(py)?.into_any()])
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let this = slf.get();
        let cls: Bound<'py, PyType> = slf.get_type();
        let path = this.path.clone().into_pyobject(py)?.into_any();
        let transform = match &this.transform {
            Some(t) => t.bind(py).clone(),
            None => py.None().into_bound(py),
        };
        let args = PyTuple::new(py, [path, transform])?;
        PyTuple::new(py, [cls.into_any(), args.into_any()])
    }

    fn __repr__(&self) -> String {
        format!(
            "FrameCache('{}', {} samples, {} classes, frames [{}, 2, {}, {}])",
            self.path.display(),
            self.info.samples,
            self.info.class_names.len(),
            self.info.frames,
            self.info.height,
            self.info.width
        )
    }

    /// Class names, index = label.
    #[getter]
    fn class_names(&self) -> Vec<String> {
        self.info.class_names.clone()
    }

    /// Labels of every sample, ``int64 [N]``.
    #[getter]
    fn labels<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        PyArray1::from_vec(py, self.labels.iter().map(|&l| i64::from(l)).collect())
    }

    /// Shape of a sample, ``(T, 2, H, W)`` (T: the padded length in a fixed-duration cache).
    #[getter]
    fn sample_shape(&self) -> (usize, usize, usize, usize) {
        (self.info.frames, 2, self.info.height, self.info.width)
    }

    /// The cache file.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The transform given at construction, or ``None``.
    #[getter]
    fn transform<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        match &self.transform {
            Some(t) => t.bind(py).clone(),
            None => py.None().into_bound(py),
        }
    }

    /// The file's attributes as ``snnkit cache info --json`` prints them (dataset, split, frames,
    /// setting, height, width, dtype, class_names, source_fingerprint, created, compression, ...).
    #[getter]
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_python(py, &self.info)
    }

    /// ``"<file>#<segment>"`` of every sample: where in the raw data it came from.
    fn sources<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let v = py.detach(|| {
            let mut slot = self.reader.lock().unwrap_or_else(|p| p.into_inner());
            match slot.as_ref() {
                Some((owner, r)) if *owner == std::process::id() => r.sources(),
                _ => {
                    let r =
                        open(&self.path).map_err(|e| snnkit_cache::Error::Usage(e.to_string()))?;
                    let s = r.sources();
                    *slot = Some((std::process::id(), r));
                    s
                }
            }
        });
        PyList::new(py, v.map_err(error::cache)?)
    }
}

/// The Rust loader over one cache split: shuffled (seeded by ``seed`` and the epoch), augmented
/// (``hflip``: mirror with p = 0.5; ``max_shift``: random shift in ``[-k, k]`` pixels), prefetched
/// by a background thread. Iterating yields ``(frames, labels)``: ``float32 [T, B, 2, H, W]``
/// (time-major, as SpikingJelly's multi-step models take it) and ``int64 [B]``; the GIL is released
/// while a batch is waited for. Each ``iter(loader)`` is the next epoch (0, 1, 2, ...);
/// ``loader.epoch(n)`` iterates epoch ``n``. The batches of an epoch are the same on every run.
#[pyclass(module = "snnkit", name = "Loader", frozen)]
pub struct Loader {
    inner: snnkit_cache::Loader,
    next_epoch: AtomicU64,
}

#[pymethods]
impl Loader {
    #[new]
    #[pyo3(signature = (
        path, batch_size, shuffle=true, seed=0, hflip=false, max_shift=0, drop_last=false, *,
        prefetch=2
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        batch_size: usize,
        shuffle: bool,
        seed: u64,
        hflip: bool,
        max_shift: usize,
        drop_last: bool,
        prefetch: usize,
    ) -> PyResult<Self> {
        let mut config = LoaderConfig::eval(batch_size);
        config.shuffle = shuffle;
        config.drop_last = drop_last;
        config.seed = seed;
        config.augment.hflip = hflip;
        config.augment.max_shift = max_shift;
        config.prefetch = prefetch;
        let reader = py.detach(|| open(&path))?;
        warn_if_stale(py, &reader)?;
        let inner = py
            .detach(|| {
                pool::install(|| {
                    snnkit_cache::Loader::new(reader, config, &candle_core::Device::Cpu)
                })
            })
            .map_err(error::cache)?;
        Ok(Loader {
            inner,
            next_epoch: AtomicU64::new(0),
        })
    }

    /// Batches per epoch (respecting ``drop_last``).
    fn __len__(&self) -> usize {
        self.inner.batches_per_epoch()
    }

    /// The next epoch's batches.
    fn __iter__(&self) -> Batches {
        self.epoch(self.next_epoch.fetch_add(1, Ordering::Relaxed))
    }

    /// The batches of epoch ``n`` (does not change which epoch ``iter()`` gives next).
    fn epoch(&self, n: u64) -> Batches {
        Batches {
            iter: Mutex::new(self.inner.host_epoch(n)),
        }
    }

    /// Samples in the split.
    #[getter]
    fn num_samples(&self) -> usize {
        self.inner.len()
    }

    /// Class names, index = label.
    #[getter]
    fn class_names(&self) -> Vec<String> {
        self.inner.reader().info().class_names.clone()
    }

    /// Shape of one sample in a batch, ``(T, 2, H, W)``.
    #[getter]
    fn sample_shape(&self) -> (usize, usize, usize, usize) {
        let [t, c, h, w] = self.inner.sample_shape();
        (t, c, h, w)
    }

    fn __repr__(&self) -> String {
        let c = self.inner.config();
        format!(
            "Loader('{}', batch_size={}, shuffle={}, seed={}, hflip={}, max_shift={}, drop_last={})",
            self.inner.reader().info().path.display(),
            c.batch_size,
            c.shuffle,
            c.seed,
            c.augment.hflip,
            c.augment.max_shift,
            c.drop_last
        )
    }
}

/// The batches of one epoch of a :class:`Loader` (an iterator of ``(frames, labels)``).
#[pyclass(module = "snnkit", name = "Batches", frozen)]
pub struct Batches {
    iter: Mutex<Prefetch<HostBatch>>,
}

#[pymethods]
impl Batches {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        let item = py.detach(|| {
            let mut it = self.iter.lock().unwrap_or_else(|p| p.into_inner());
            it.next()
        });
        let batch = match item {
            None => return Ok(None),
            Some(b) => b.map_err(error::cache)?,
        };
        // The loader's buffer becomes the array's (no copy).
        let frames = PyArray1::from_vec(py, batch.frames)
            .reshape(batch.shape)?
            .into_any();
        let labels: Vec<i64> = batch.labels.iter().map(|&l| i64::from(l)).collect();
        let labels = PyArray1::from_vec(py, labels).into_any();
        Ok(Some(PyTuple::new(py, [frames, labels])?))
    }

    /// Batches not yet taken.
    fn __length_hint__(&self) -> usize {
        let it = self.iter.lock().unwrap_or_else(|p| p.into_inner());
        it.size_hint().1.unwrap_or(0)
    }
}
