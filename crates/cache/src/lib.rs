//! snnkit-cache: the HDF5 frame cache (format version 1) and the batch loader that feeds training.
//!
//! # Public API
//!
//! Reading and loading (what the trainer uses):
//! - [`CacheReader`]`::open(path)` → [`CacheInfo`] via `.info()` (dataset, split, `frames` T, `height`, `width`,
//!   `dtype`, `class_names`, ...), `.len()`, `.labels() -> &[u16]`, `.read_sample(i) -> Vec<u32>` (`[T,2,H,W]`),
//!   `.sources()`, `.class_counts()`, `.fingerprint_status()` (walks the raw files; opening does not). Refuses
//!   unknown format versions ([`Error::UnsupportedVersion`]) and caches of another decoder or binning version
//!   ([`Error::Stale`]; `open_unchecked` opens those too, to describe them).
//! - [`Loader`]`::open(path, `[`LoaderConfig`]`, &device)` or `Loader::new(reader, config, &device)`;
//!   `.epoch(epoch) -> `[`EpochIter`] yielding `Result<`[`Batch`]`>` (`.host_epoch(epoch)`: [`HostBatch`]es in host
//!   memory, no tensors); `.batches_per_epoch()`, `.len()`,
//!   `.num_classes()`, `.sample_shape() -> [T, 2, H', W']`, `.batch(&indices, epoch)` (synchronous).
//! - [`LoaderConfig`]`::train(batch_size)` (shuffled, `drop_last`) / `LoaderConfig::eval(batch_size)` (file order,
//!   all samples); fields `batch_size`, `shuffle`, `drop_last`, `seed`, `augment: `[`Augment`]` { hflip,
//!   max_shift }`, `downsample: Option<`[`Downsample`]` { factor, mode: `[`Pool`]`::{Sum, Average} }>`,
//!   `prefetch`, `in_memory_limit`.
//! - [`Batch`] `{ frames: Tensor f32 [T, B, 2, H, W], labels: Tensor u32 [B], labels_vec: Vec<u32>,
//!   indices: Vec<usize> }`.
//!
//! Batches are a pure function of `(seed, epoch)`: the permutation comes from `(seed, epoch)`, each sample's
//! augmentation (flip with p = 0.5, integer shift in `[-k, k]` with zero fill, the same for all T frames) from
//! `(seed, epoch, sample index)`, never from thread timing.
//!
//! Writing and converting:
//! - [`CacheWriter`]`::create(path, &`[`CacheMeta`]`)` / `CacheWriter::resume(path, &meta)`, `.append(&counts,
//!   label, source)`, `.checkpoint(units_done, &skipped)`, `.finish(&skipped)`: atomic (`<path>.tmp` renamed at the
//!   end), resumable, promotes the count type `u8 → u16 → u32` as needed (see [`writer`]).
//! - [`convert::write_split`] runs a parallel, ordered conversion from any [`convert::ConvertSource`];
//!   [`convert_dataset`]`(&`[`DatasetConvert`]`, progress)` does a whole dataset (all splits) from `snnkit_datasets`
//!   + `snnkit_frames` into `CACHE_DIR/<dataset>/<setting>/<split>.h5` ([`split_path`]).
//!
//! Finding files: [`locate()`]`(path, dataset, setting)` resolves a split file, a setting folder, a dataset folder
//! or a cache root to a [`CacheLocation`] (`.split(name)` → `<split>.h5`), listing the candidates when a choice
//! is ambiguous.
//!
//! The on-disk layout is documented in `docs/cache-format.md` and in [`mod@format`].

#![deny(missing_docs)]

pub mod chunk;
pub mod convert;
mod dataset_source;
mod error;
pub mod fingerprint;
pub mod format;
mod h5util;
mod loader;
pub mod locate;
mod reader;
pub mod writer;

#[doc(hidden)]
pub use dataset_source::raw_walks_on_this_thread;
pub use dataset_source::{
    convert_dataset, dataset_fingerprint, frame_spec, source_entry, split_path, ConvertSummary,
    DatasetConvert, DatasetSource,
};
pub use error::{one_line, Error, Result, UnitError};
pub use fingerprint::FingerprintStatus;
pub use format::{
    CacheMeta, Compression, CountType, FrameSetting, SplitBy, BINNING_VERSION, DECODER_VERSION,
    FORMAT_VERSION,
};
pub use loader::{
    Augment, Batch, Downsample, EpochIter, HostBatch, Loader, LoaderConfig, Pool, Prefetch,
};
pub use locate::{locate, CacheLocation, LocateError};
pub use reader::{CacheInfo, CacheReader};
pub use writer::{CacheWriter, ResumeState};
