//! Parallel, ordered conversion into a cache split.
//!
//! Work is split into *units* (one raw file each: decoding is per file, and a file may hold several samples).
//! Units are decoded and binned on a rayon pool of `jobs` threads; the calling thread is the single writer and
//! appends units strictly in unit order, holding at most `window` finished-or-running units at a time, so memory
//! stays bounded and the output does not depend on `jobs` or on thread timing. The writer checkpoints every
//! `checkpoint_interval` (and before returning an error), so a rerun resumes at the first unwritten unit.

use std::collections::BTreeMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::chunk::{encode, EncodedChunk};
use crate::error::{one_line, Error, Result, UnitError};
use crate::format::{CacheMeta, CountType, FrameSetting};
use crate::reader::CacheReader;
use crate::writer::CacheWriter;

/// One binned sample produced by a unit.
#[derive(Clone, Debug, PartialEq)]
pub struct BinnedSample {
    /// Counts `[t, 2, H, W]` row-major.
    pub counts: Vec<u32>,
    /// Class index.
    pub label: u16,
    /// `"<raw file relative to root>#<segment>"` for `/sources`.
    pub source: String,
    /// Events integrated into this sample (for throughput figures).
    pub events: u64,
}

/// Where conversion units come from. Implementations must be deterministic: unit `i` always yields the same
/// samples, whichever thread asks.
pub trait ConvertSource: Sync {
    /// Number of units (raw files).
    fn num_units(&self) -> usize;
    /// The raw file of unit `i`, relative to the dataset root (for messages and `--skip-bad` lists).
    fn unit_name(&self, unit: usize) -> String;
    /// Decodes and bins unit `i`. An `Err` says why (with the file and byte offset where the decoder gives
    /// them); the conversion fails with it as the source of [`Error::Source`], or skips the unit with
    /// `skip_bad`.
    fn process(&self, unit: usize) -> std::result::Result<Vec<BinnedSample>, UnitError>;
}

/// Conversion settings.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    /// Decode/bin threads (0 = rayon's default, the number of cores).
    pub jobs: usize,
    /// Skip unreadable raw files (listed in the summary and the `skipped_files` attribute) instead of failing.
    pub skip_bad: bool,
    /// Continue an interrupted temp file with the same settings (otherwise always start over).
    pub resume: bool,
    /// Units in flight at once (0 = 2 × jobs). Bounds memory: each holds one file's binned samples.
    pub window: usize,
    /// How often the writer checkpoints (flush + progress attributes).
    pub checkpoint_interval: Duration,
    /// Rebuild a split whose finished cache already has the same settings and raw-file fingerprint.
    pub force: bool,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        ConvertOptions {
            jobs: 0,
            skip_bad: false,
            resume: true,
            window: 0,
            checkpoint_interval: Duration::from_secs(2),
            force: false,
        }
    }
}

/// Progress of one split, passed to the callback after every written unit.
#[derive(Clone, Debug, Serialize)]
pub struct Progress {
    /// Split being written.
    pub split: String,
    /// Units (raw files) written or skipped, including those resumed from a temp file.
    pub units_done: usize,
    /// Units in the split.
    pub units_total: usize,
    /// Samples in the file.
    pub samples_done: usize,
    /// Events integrated in this run (not counting resumed units).
    pub events_done: u64,
    /// Time since this run of the split started.
    pub elapsed: Duration,
}

/// A raw file skipped with `skip_bad`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SkippedFile {
    /// Relative path.
    pub file: String,
    /// Why, on one line (the error and its causes joined by `": "`); empty when it was skipped in an earlier,
    /// interrupted run.
    pub error: String,
}

/// What writing one split did.
#[derive(Clone, Debug, Serialize)]
pub struct SplitSummary {
    /// Split name.
    pub split: String,
    /// The finished cache file.
    pub path: PathBuf,
    /// Samples in the file.
    pub samples: usize,
    /// Raw files in the split.
    pub files: usize,
    /// Raw files skipped as unreadable.
    pub skipped: Vec<SkippedFile>,
    /// Events integrated in this run.
    pub events: u64,
    /// Wall time of this run in seconds.
    pub seconds: f64,
    /// Events per second of this run.
    pub events_per_s: f64,
    /// Size of the file on disk.
    pub file_bytes: u64,
    /// Bytes on disk per sample.
    pub bytes_per_sample: f64,
    /// Count type of `/frames`.
    pub dtype: CountType,
    /// Units taken over from an interrupted run's temp file.
    pub resumed_units: u64,
    /// Why an existing temp file was discarded, if one was.
    pub restarted: Option<String>,
    /// The finished cache was already up to date and left alone.
    pub up_to_date: bool,
}

/// Converts `source` into the cache split at `path` (final name; written via `<path>.tmp`). `progress` runs on
/// the calling thread after each unit; returning `ControlFlow::Break(())` stops the conversion after a
/// checkpoint with [`Error::Interrupted`] (a rerun resumes).
pub fn write_split(
    path: &Path,
    meta: &CacheMeta,
    source: &dyn ConvertSource,
    opts: &ConvertOptions,
    progress: &mut dyn FnMut(&Progress) -> ControlFlow<()>,
) -> Result<SplitSummary> {
    let start = Instant::now();
    let total = source.num_units();
    if !opts.force {
        if let Some(summary) = up_to_date(path, meta, total) {
            return Ok(summary);
        }
    }
    let (mut writer, state) = if opts.resume {
        CacheWriter::resume(path, meta)?
    } else {
        (CacheWriter::create(path, meta)?, Default::default())
    };
    let first = (state.units_done as usize).min(total);
    let mut skipped: Vec<SkippedFile> = state
        .skipped
        .iter()
        .map(|f| SkippedFile {
            file: f.clone(),
            error: String::new(),
        })
        .collect();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs)
        .thread_name(|i| format!("snnkit-convert-{i}"))
        .build()
        .map_err(|source| Error::ThreadPool {
            threads: opts.jobs,
            source,
        })?;
    let window = if opts.window > 0 {
        opts.window
    } else {
        2 * pool.current_num_threads()
    }
    .max(1);
    let cancel = AtomicBool::new(false);
    let mut events = 0u64;
    let mut last_checkpoint = Instant::now();
    let mut outcome: Result<()> = Ok(());
    let mut next_write = first;

    pool.in_place_scope(|scope| {
        let (tx, rx) = channel::<(usize, std::result::Result<Vec<Prepared>, UnitError>)>();
        let spawn = |unit: usize| {
            let tx = tx.clone();
            let cancel = &cancel;
            scope.spawn(move |_| {
                let result = if cancel.load(Ordering::Relaxed) {
                    Err(UnitError::Other("cancelled".to_string()))
                } else {
                    source
                        .process(unit)
                        .and_then(|samples| prepare(samples, meta))
                };
                // The receiver outlives every task (the scope waits for them), so this only fails after an
                // error when nobody reads any more; the result is not needed then.
                let _ = tx.send((unit, result));
            });
        };
        let mut next_spawn = first;
        while next_spawn < total && next_spawn - next_write < window {
            spawn(next_spawn);
            next_spawn += 1;
        }
        let mut pending = BTreeMap::new();
        'units: while next_write < total {
            let Ok((unit, result)) = rx.recv() else {
                outcome = Err(Error::Usage(
                    "conversion workers stopped unexpectedly".into(),
                ));
                break;
            };
            pending.insert(unit, result);
            while let Some(result) = pending.remove(&next_write) {
                match result {
                    Ok(samples) => {
                        for Prepared { sample: s, chunk } in &samples {
                            let appended = match chunk {
                                Some(c) => writer.append_encoded(&s.counts, c, s.label, &s.source),
                                None => writer.append(&s.counts, s.label, &s.source),
                            };
                            if let Err(e) = appended {
                                outcome = Err(e);
                                break 'units;
                            }
                            events += s.events;
                        }
                    }
                    Err(e) if opts.skip_bad => {
                        skipped.push(SkippedFile {
                            file: source.unit_name(next_write),
                            error: one_line(&e),
                        });
                    }
                    Err(e) => {
                        outcome = Err(Error::Source {
                            file: source.unit_name(next_write),
                            source: Box::new(e),
                        });
                        break 'units;
                    }
                }
                next_write += 1;
                if last_checkpoint.elapsed() >= opts.checkpoint_interval {
                    if let Err(e) = writer.checkpoint(next_write as u64, &names(&skipped)) {
                        outcome = Err(e);
                        break 'units;
                    }
                    last_checkpoint = Instant::now();
                }
                let p = Progress {
                    split: meta.split.clone(),
                    units_done: next_write,
                    units_total: total,
                    samples_done: writer.len(),
                    events_done: events,
                    elapsed: start.elapsed(),
                };
                if progress(&p).is_break() {
                    outcome = Err(Error::Interrupted(format!(
                        "stopped after {next_write} of {total} files"
                    )));
                    break 'units;
                }
                while next_spawn < total && next_spawn - next_write < window {
                    spawn(next_spawn);
                    next_spawn += 1;
                }
            }
        }
        cancel.store(true, Ordering::Relaxed);
    });

    // Keep what was fully written (units before the failure) so that a rerun resumes there. Samples of a unit
    // that failed half-way were appended after this point and are truncated on resume.
    if let Err(e) = outcome {
        // Only these leave the file at a unit boundary; after a write error a unit may be half-appended and the
        // last periodic checkpoint is the safe place to resume from.
        if matches!(e, Error::Source { .. } | Error::Interrupted(_)) {
            writer.checkpoint(next_write as u64, &names(&skipped))?;
        }
        return Err(e);
    }
    writer.checkpoint(total as u64, &names(&skipped))?;
    let dtype = writer.count_type();
    let samples = writer.len();
    let final_path = writer.finish(&names(&skipped))?;
    let file_bytes = std::fs::metadata(&final_path).map(|m| m.len()).unwrap_or(0);
    let seconds = start.elapsed().as_secs_f64();
    Ok(SplitSummary {
        split: meta.split.clone(),
        path: final_path,
        samples,
        files: total,
        skipped,
        events,
        seconds,
        events_per_s: if seconds > 0.0 {
            events as f64 / seconds
        } else {
            0.0
        },
        file_bytes,
        bytes_per_sample: if samples > 0 {
            file_bytes as f64 / samples as f64
        } else {
            0.0
        },
        dtype,
        resumed_units: state.units_done,
        restarted: state.restarted,
        up_to_date: false,
    })
}

/// A binned sample with its `/frames` chunk already encoded (off the writer thread).
struct Prepared {
    sample: BinnedSample,
    chunk: Option<EncodedChunk>,
}

/// Encodes each sample's chunk for the smallest type that holds it. Only for frame-count settings: fixed-duration
/// samples are padded to a length the worker does not know, so the writer encodes those itself.
fn prepare(
    samples: Vec<BinnedSample>,
    meta: &CacheMeta,
) -> std::result::Result<Vec<Prepared>, UnitError> {
    let full = match meta.setting {
        FrameSetting::Frames { frames, .. } => frames * 2 * meta.height * meta.width,
        FrameSetting::Duration { .. } => 0,
    };
    samples
        .into_iter()
        .map(|sample| {
            let chunk = if full > 0 && sample.counts.len() == full {
                let dtype = CountType::for_max(sample.counts.iter().copied().max().unwrap_or(0));
                Some(
                    encode(&sample.counts, dtype, meta.compression)
                        .map_err(|e| UnitError::Encode(Box::new(e)))?,
                )
            } else {
                None
            };
            Ok(Prepared { sample, chunk })
        })
        .collect()
}

fn names(skipped: &[SkippedFile]) -> Vec<String> {
    skipped.iter().map(|s| s.file.clone()).collect()
}

/// The summary of an existing finished cache at `path` when it was written with exactly `meta`'s settings
/// (including the raw-file fingerprint); `None` when it must be (re)built.
fn up_to_date(path: &Path, meta: &CacheMeta, total: usize) -> Option<SplitSummary> {
    let reader = CacheReader::open_unchecked(path).ok()?;
    let key = reader.str_attr(crate::format::attr::SETTINGS_KEY)?;
    if key != meta.settings_key() {
        return None;
    }
    // The key names the versions too; the attributes are what the reader checks, so they must agree.
    reader.check_versions().ok()?;
    let info = reader.info();
    let file_bytes = reader.file_size();
    Some(SplitSummary {
        split: meta.split.clone(),
        path: path.to_path_buf(),
        samples: info.samples,
        files: total,
        skipped: info
            .skipped_files
            .iter()
            .map(|f| SkippedFile {
                file: f.clone(),
                error: String::new(),
            })
            .collect(),
        events: 0,
        seconds: 0.0,
        events_per_s: 0.0,
        file_bytes,
        bytes_per_sample: if info.samples > 0 {
            file_bytes as f64 / info.samples as f64
        } else {
            0.0
        },
        dtype: info.dtype,
        resumed_units: 0,
        restarted: None,
        up_to_date: true,
    })
}
