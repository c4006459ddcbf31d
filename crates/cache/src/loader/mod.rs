//! The batch loader: seeded shuffling, per-sample augmentation, optional pooling, background prefetch.

mod transform;

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::chunk::Stored;
use crate::error::{Error, Result};
use crate::format::CountType;
use crate::reader::CacheReader;
use transform::{transform_frame, Count, FrameGeom, SampleAug};

/// Per-sample augmentation, identical for all T frames of a sample (the CIFAR10-DVS recipe).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Augment {
    /// Mirror left-right with probability 0.5.
    pub hflip: bool,
    /// Translate by a random integer in `[-max_shift, max_shift]` pixels, independently in x and y, filling the
    /// vacated pixels with zeros. Pixels of the loader's output (after [`Downsample`]).
    pub max_shift: usize,
}

impl Augment {
    /// No augmentation.
    pub const NONE: Augment = Augment {
        hflip: false,
        max_shift: 0,
    };

    fn is_none(&self) -> bool {
        !self.hflip && self.max_shift == 0
    }
}

/// Largest accepted [`Augment::max_shift`]: shifts are drawn and applied in `i32` pixel arithmetic.
const MAX_SHIFT: usize = 1 << 16;

/// Spatial pooling mode for [`Downsample`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pool {
    /// Sum of the `factor × factor` block (event counts stay counts).
    Sum,
    /// Mean of the block (`avg_pool2d`).
    Average,
}

/// Spatial downsampling by an integer factor, before augmentation. Output size is `H / factor` × `W / factor`
/// (remainder rows and columns are dropped, as `avg_pool2d` without padding does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Downsample {
    /// Block size (≥ 1; 1 = none).
    pub factor: usize,
    /// Sum or average.
    pub mode: Pool,
}

/// Loader settings. Start from [`LoaderConfig::train`] or [`LoaderConfig::eval`] and adjust fields.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoaderConfig {
    /// Samples per batch (≥ 1).
    pub batch_size: usize,
    /// Shuffle the sample order every epoch (seeded by `seed` and the epoch number).
    pub shuffle: bool,
    /// Drop the last, incomplete batch.
    pub drop_last: bool,
    /// Seed of the shuffle and the augmentation draws.
    pub seed: u64,
    /// Per-sample augmentation.
    pub augment: Augment,
    /// Optional spatial pooling.
    pub downsample: Option<Downsample>,
    /// Batches prepared ahead by the background thread (≥ 1).
    pub prefetch: usize,
    /// Load the whole split into memory (in its stored count type) when `/frames` decompressed takes at most this
    /// many bytes; otherwise read one chunk per sample from disk. `0` = always read from disk.
    pub in_memory_limit: u64,
}

impl LoaderConfig {
    /// Training: shuffled, `drop_last`, no augmentation (set [`LoaderConfig::augment`]), seed 0.
    pub fn train(batch_size: usize) -> Self {
        LoaderConfig {
            batch_size,
            shuffle: true,
            drop_last: true,
            seed: 0,
            augment: Augment::NONE,
            downsample: None,
            prefetch: 2,
            in_memory_limit: 2 << 30,
        }
    }

    /// Evaluation: file order, every sample, no augmentation.
    pub fn eval(batch_size: usize) -> Self {
        LoaderConfig {
            shuffle: false,
            drop_last: false,
            ..Self::train(batch_size)
        }
    }
}

/// One batch, time-major as the models take it.
#[derive(Debug, Clone)]
pub struct Batch {
    /// `f32 [T, B, 2, H, W]` (H, W after downsampling) on the loader's device.
    pub frames: Tensor,
    /// `u32 [B]` class indices on the loader's device.
    pub labels: Tensor,
    /// The same labels on the host.
    pub labels_vec: Vec<u32>,
    /// Index of each batch entry in the cache file.
    pub indices: Vec<usize>,
}

/// One batch in host memory, as [`Loader::host_epoch`] yields it: the same values as a [`Batch`], before they
/// become tensors (for callers that hand the buffer on without a copy, such as the Python bindings).
#[derive(Debug, Clone, PartialEq)]
pub struct HostBatch {
    /// `f32 [T, B, 2, H, W]` (H, W after downsampling), row-major.
    pub frames: Vec<f32>,
    /// The shape of `frames`: `[T, B, 2, H, W]`.
    pub shape: [usize; 5],
    /// Class index of each batch entry.
    pub labels: Vec<u32>,
    /// Index of each batch entry in the cache file.
    pub indices: Vec<usize>,
}

/// Where the samples come from: decoded in memory, or read chunk by chunk.
enum Store {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
    Disk,
}

struct Inner {
    reader: CacheReader,
    store: Store,
    config: LoaderConfig,
    device: Device,
    geom: FrameGeom,
    frames: usize,
}

/// Batches from one cache split. Deterministic: the batches of `(seed, epoch)` are the same whatever the thread
/// timing, prefetch depth or storage mode.
pub struct Loader {
    inner: Arc<Inner>,
}

impl Loader {
    /// Opens `path` (see [`CacheReader::open`]) and wraps it.
    pub fn open(path: &Path, config: LoaderConfig, device: &Device) -> Result<Self> {
        Self::new(CacheReader::open(path)?, config, device)
    }

    /// A loader over an open cache.
    pub fn new(reader: CacheReader, config: LoaderConfig, device: &Device) -> Result<Self> {
        if config.batch_size == 0 {
            return Err(Error::Usage("batch_size must be at least 1".into()));
        }
        if config.augment.max_shift > MAX_SHIFT {
            return Err(Error::Usage(format!(
                "max_shift {} is beyond any frame (at most {MAX_SHIFT})",
                config.augment.max_shift
            )));
        }
        let info = reader.info();
        let (factor, average) = match config.downsample {
            None => (1, false),
            Some(Downsample { factor, mode }) => (factor, mode == Pool::Average),
        };
        if factor == 0 || factor > info.height || factor > info.width {
            return Err(Error::Usage(format!(
                "downsample factor {factor} does not fit a {}x{} frame",
                info.height, info.width
            )));
        }
        let geom = FrameGeom {
            h: info.height,
            w: info.width,
            factor,
            average,
        };
        let bytes = (info.samples * info.sample_len() * info.dtype.size()) as u64;
        let store = if bytes <= config.in_memory_limit && info.samples > 0 {
            match info.dtype {
                CountType::U8 => Store::U8(reader.read_all_as()?),
                CountType::U16 => Store::U16(reader.read_all_as()?),
                CountType::U32 => Store::U32(reader.read_all_as()?),
            }
        } else {
            Store::Disk
        };
        let frames = info.frames;
        Ok(Loader {
            inner: Arc::new(Inner {
                reader,
                store,
                config,
                device: device.clone(),
                geom,
                frames,
            }),
        })
    }

    /// The underlying cache (attributes, labels, class names).
    pub fn reader(&self) -> &CacheReader {
        &self.inner.reader
    }

    /// The settings.
    pub fn config(&self) -> &LoaderConfig {
        &self.inner.config
    }

    /// Samples in the split.
    pub fn len(&self) -> usize {
        self.inner.reader.len()
    }

    /// Whether the split is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.inner.reader.info().class_names.len()
    }

    /// Whether the whole split was loaded into memory.
    pub fn in_memory(&self) -> bool {
        !matches!(self.inner.store, Store::Disk)
    }

    /// Shape of one sample as batches carry it: `[T, 2, H', W']` (after downsampling).
    pub fn sample_shape(&self) -> [usize; 4] {
        [
            self.inner.frames,
            2,
            self.inner.geom.out_h(),
            self.inner.geom.out_w(),
        ]
    }

    /// Batches per epoch (respecting `drop_last`).
    pub fn batches_per_epoch(&self) -> usize {
        let (n, b) = (self.len(), self.inner.config.batch_size);
        if self.inner.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The sample order of `epoch`: a seeded permutation when shuffling, file order otherwise.
    pub fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        if self.inner.config.shuffle {
            let mut rng = ChaCha8Rng::seed_from_u64(mix(self.inner.config.seed, epoch, u64::MAX));
            order.shuffle(&mut rng);
        }
        order
    }

    /// Iterates over the batches of `epoch`, prepared by a background thread up to `prefetch` batches ahead.
    /// Dropping the iterator stops the thread.
    pub fn epoch(&self, epoch: u64) -> EpochIter {
        self.prefetch(epoch, Inner::batch)
    }

    /// Like [`Loader::epoch`], with the batches in host memory ([`HostBatch`]) instead of tensors.
    pub fn host_epoch(&self, epoch: u64) -> Prefetch<HostBatch> {
        self.prefetch(epoch, Inner::host_batch)
    }

    /// Runs `make` on the batches of `epoch` in a background thread, up to `prefetch` ahead.
    fn prefetch<T: Send + 'static>(
        &self,
        epoch: u64,
        make: fn(&Inner, &[usize], u64) -> Result<T>,
    ) -> Prefetch<T> {
        let order = self.epoch_order(epoch);
        let b = self.inner.config.batch_size;
        let batches: Vec<Vec<usize>> = order
            .chunks(b)
            .take(self.batches_per_epoch())
            .map(<[usize]>::to_vec)
            .collect();
        let total = batches.len();
        let (tx, rx) = sync_channel(self.inner.config.prefetch.max(1));
        let inner = Arc::clone(&self.inner);
        let handle = std::thread::Builder::new()
            .name("snnkit-loader".into())
            .spawn(move || {
                for indices in batches {
                    let batch = make(&inner, &indices, epoch);
                    let failed = batch.is_err();
                    if tx.send(batch).is_err() || failed {
                        break;
                    }
                }
            })
            .ok();
        Prefetch {
            rx: Some(rx),
            handle,
            remaining: total,
        }
    }

    /// Builds the batch of the given cache indices with `epoch`'s augmentation draws, on the calling thread.
    pub fn batch(&self, indices: &[usize], epoch: u64) -> Result<Batch> {
        self.inner.batch(indices, epoch)
    }
}

impl Inner {
    fn batch(&self, indices: &[usize], epoch: u64) -> Result<Batch> {
        let host = self.host_batch(indices, epoch)?;
        // Tensor::from_vec takes the buffer over on the CPU (a copy to the device elsewhere).
        let frames = Tensor::from_vec(host.frames, host.shape.to_vec(), &self.device)?;
        let labels = Tensor::from_vec(host.labels.clone(), host.labels.len(), &self.device)?;
        Ok(Batch {
            frames,
            labels,
            labels_vec: host.labels,
            indices: host.indices,
        })
    }

    fn host_batch(&self, indices: &[usize], epoch: u64) -> Result<HostBatch> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.reader.len()) {
            return Err(Error::Usage(format!(
                "sample {bad} out of range (cache has {})",
                self.reader.len()
            )));
        }
        let augs: Vec<SampleAug> = indices.iter().map(|&i| self.draw(i, epoch)).collect();
        let data = match &self.store {
            Store::U8(all) => self.assemble(&self.slices(all, indices), &augs),
            Store::U16(all) => self.assemble(&self.slices(all, indices), &augs),
            Store::U32(all) => self.assemble(&self.slices(all, indices), &augs),
            Store::Disk => match self.reader.info().dtype {
                CountType::U8 => self.assemble_from_disk::<u8>(indices, &augs)?,
                CountType::U16 => self.assemble_from_disk::<u16>(indices, &augs)?,
                CountType::U32 => self.assemble_from_disk::<u32>(indices, &augs)?,
            },
        };
        let bsz = indices.len();
        let labels = self.reader.labels();
        Ok(HostBatch {
            frames: data,
            shape: [self.frames, bsz, 2, self.geom.out_h(), self.geom.out_w()],
            labels: indices.iter().map(|&i| u32::from(labels[i])).collect(),
            indices: indices.to_vec(),
        })
    }

    /// The augmentation of sample `index` in `epoch`: a function of (seed, epoch, index) only.
    fn draw(&self, index: usize, epoch: u64) -> SampleAug {
        let a = self.config.augment;
        if a.is_none() {
            return SampleAug::default();
        }
        let mut rng = ChaCha8Rng::seed_from_u64(mix(self.config.seed, epoch, index as u64));
        let flip = a.hflip && rng.random_bool(0.5);
        let k = a.max_shift as i32;
        let (dx, dy) = if k > 0 {
            (rng.random_range(-k..=k), rng.random_range(-k..=k))
        } else {
            (0, 0)
        };
        SampleAug { flip, dx, dy }
    }

    fn slices<'a, C>(&self, all: &'a [C], indices: &[usize]) -> Vec<&'a [C]> {
        let len = self.frames * self.geom.in_len();
        indices
            .iter()
            .map(|&i| &all[i * len..(i + 1) * len])
            .collect()
    }

    fn assemble_from_disk<C: Count + hdf5::H5Type + Stored>(
        &self,
        indices: &[usize],
        augs: &[SampleAug],
    ) -> Result<Vec<f32>> {
        let len = self.frames * self.geom.in_len();
        let mut buf = vec![C::default(); indices.len() * len];
        self.reader.read_samples_into(indices, &mut buf)?;
        let refs: Vec<&[C]> = buf.chunks(len.max(1)).collect();
        Ok(self.assemble(&refs, augs))
    }

    /// Writes `[T, B, 2, H', W']` f32, in parallel over T (each task owns one time step of every sample).
    fn assemble<C: Count>(&self, samples: &[&[C]], augs: &[SampleAug]) -> Vec<f32> {
        let g = self.geom;
        let (fin, fout) = (g.in_len(), g.out_len());
        let bsz = samples.len();
        let mut out = vec![0f32; self.frames * bsz * fout];
        if bsz == 0 {
            return out;
        }
        out.par_chunks_mut(bsz * fout)
            .enumerate()
            .for_each_init(Vec::new, |tmp, (t, step)| {
                for (b, (sample, aug)) in samples.iter().zip(augs).enumerate() {
                    let src = &sample[t * fin..(t + 1) * fin];
                    transform_frame(src, g, *aug, tmp, &mut step[b * fout..(b + 1) * fout]);
                }
            });
        out
    }
}

/// SplitMix64-style mixing of (seed, epoch, index) into one RNG seed.
fn mix(seed: u64, epoch: u64, index: u64) -> u64 {
    fn splitmix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    splitmix(splitmix(splitmix(seed) ^ epoch) ^ index)
}

/// The batches of one epoch as tensors ([`Loader::epoch`]).
pub type EpochIter = Prefetch<Batch>;

/// The batches of one epoch, produced ahead by a background thread. Yields `Err` once and stops if reading fails.
pub struct Prefetch<T> {
    rx: Option<Receiver<Result<T>>>,
    handle: Option<JoinHandle<()>>,
    remaining: usize,
}

impl<T> Iterator for Prefetch<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        if self.handle.is_none() && self.remaining > 0 {
            self.remaining = 0;
            return Some(Err(Error::Usage(
                "could not start the loader thread".into(),
            )));
        }
        let item = match self.rx.as_ref()?.recv() {
            Ok(item) => item,
            // The producer hung up before sending every batch: it panicked. Say so rather than end the epoch
            // early as if it were complete.
            Err(_) if self.remaining > 0 => Err(Error::Usage(format!(
                "the loader thread stopped with {} batches of the epoch left",
                self.remaining
            ))),
            Err(_) => return None,
        };
        match &item {
            Ok(_) => self.remaining = self.remaining.saturating_sub(1),
            Err(_) => self.remaining = 0,
        }
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining))
    }
}

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        // Closing the channel makes the producer's next send fail, so it exits after at most one batch.
        self.rx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
