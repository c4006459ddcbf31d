//! The image batch loader: seeded order and augmentation, parallel decoding (rayon) and a
//! background thread that prepares batches ahead.

use crate::error::{Error, Result};
use crate::geometry::{random_crop, random_resized_crop, resize_center_crop, Window};
use crate::resample::resample;
use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use snnkit_datasets::ImageSet;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// ImageNet channel means (torchvision's `Normalize` in every ImageNet recipe).
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// How a training image is cropped.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TrainCrop {
    /// torchvision `RandomResizedCrop(size, scale, ratio)` with bilinear (antialiased) resizing.
    RandomResized {
        /// Area share range of the crop (torchvision: `[0.08, 1.0]`).
        scale: [f64; 2],
        /// Aspect ratio range, width / height (torchvision: `[3/4, 4/3]`).
        ratio: [f64; 2],
    },
    /// torchvision `RandomCrop(size, padding)`: zero padding then a uniform window (the CIFAR recipe).
    Padded {
        /// Zero padding on every side.
        padding: usize,
    },
}

impl TrainCrop {
    /// `RandomResizedCrop`'s defaults.
    pub const IMAGENET: TrainCrop = TrainCrop::RandomResized {
        scale: [0.08, 1.0],
        ratio: [3.0 / 4.0, 4.0 / 3.0],
    };
}

/// Loader settings. Start from [`ImageLoaderConfig::train`] or [`ImageLoaderConfig::eval`].
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ImageLoaderConfig {
    /// Images per batch (≥ 1).
    pub batch_size: usize,
    /// Shuffle every epoch (seeded by `seed` and the epoch).
    pub shuffle: bool,
    /// Drop the last, incomplete batch.
    pub drop_last: bool,
    /// Seed of the order and the augmentation draws.
    pub seed: u64,
    /// Output side: batches are `[B, 3, size, size]`.
    pub size: usize,
    /// Training augmentation (random crop and flip) when true; evaluation transform otherwise.
    pub augment: bool,
    /// The training crop.
    pub crop: TrainCrop,
    /// Random horizontal flip with p = 0.5 (training only).
    pub hflip: bool,
    /// Evaluation: `Resize(eval_resize)` (shorter side) before `CenterCrop(size)`; `0` = crop only.
    pub eval_resize: usize,
    /// Per-channel mean subtracted after scaling to `[0, 1]`.
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by.
    pub std: [f32; 3],
    /// Batches prepared ahead by the background thread (≥ 1).
    pub prefetch: usize,
}

impl ImageLoaderConfig {
    /// ImageNet training: shuffled, `drop_last`, `RandomResizedCrop(224)` + flip + ImageNet
    /// normalisation, seed 0.
    pub fn train(batch_size: usize) -> Self {
        Self {
            batch_size,
            shuffle: true,
            drop_last: true,
            seed: 0,
            size: 224,
            augment: true,
            crop: TrainCrop::IMAGENET,
            hflip: true,
            eval_resize: 256,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
            prefetch: 2,
        }
    }

    /// ImageNet evaluation: file order, every image, `Resize(256)` + `CenterCrop(224)`.
    pub fn eval(batch_size: usize) -> Self {
        Self {
            shuffle: false,
            drop_last: false,
            augment: false,
            ..Self::train(batch_size)
        }
    }

    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Usage(m));
        if self.batch_size == 0 || self.size == 0 || self.size > 8192 {
            return bad(format!(
                "batch_size must be >= 1 and size in 1..=8192 (got {} and {})",
                self.batch_size, self.size
            ));
        }
        if self.std.iter().any(|s| !s.is_finite() || *s <= 0.0)
            || self.mean.iter().any(|m| !m.is_finite())
        {
            return bad("image mean must be finite and std finite and positive".into());
        }
        if let TrainCrop::RandomResized { scale, ratio } = self.crop {
            let ordered = |r: [f64; 2]| r[0] > 0.0 && r[0] <= r[1] && r[1].is_finite();
            if !(ordered(scale) && ordered(ratio)) {
                return bad(format!(
                    "random resized crop needs 0 < scale[0] <= scale[1] and 0 < ratio[0] <= ratio[1] (got {scale:?}, {ratio:?})"
                ));
            }
        }
        if let TrainCrop::Padded { padding } = self.crop {
            if padding > 4096 {
                return bad(format!("padding {padding} is beyond any image"));
            }
        }
        Ok(())
    }
}

/// One batch.
#[derive(Debug, Clone)]
pub struct ImageBatch {
    /// `f32 [B, 3, H, W]`, normalised, on the loader's device.
    pub images: Tensor,
    /// `u32 [B]` class indices on the loader's device.
    pub labels: Tensor,
    /// The same labels on the host.
    pub labels_vec: Vec<u32>,
    /// Index of each entry in the image set.
    pub indices: Vec<usize>,
}

struct Inner {
    set: Arc<dyn ImageSet>,
    config: ImageLoaderConfig,
    device: Device,
    /// `(value / 255 - mean) / std` per channel and byte, computed in f32 as torchvision does.
    lut: [[f32; 256]; 3],
}

/// Batches from one [`ImageSet`]. Deterministic: the batches of `(seed, epoch)` do not depend
/// on thread timing, thread count or prefetch depth.
pub struct ImageLoader {
    inner: Arc<Inner>,
}

impl ImageLoader {
    /// A loader over `set`.
    pub fn new(set: Arc<dyn ImageSet>, config: ImageLoaderConfig, device: &Device) -> Result<Self> {
        config.validate()?;
        let mut lut = [[0f32; 256]; 3];
        for (c, row) in lut.iter_mut().enumerate() {
            for (v, slot) in row.iter_mut().enumerate() {
                *slot = (v as f32 / 255.0 - config.mean[c]) / config.std[c];
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                set,
                config,
                device: device.clone(),
                lut,
            }),
        })
    }

    /// The image set.
    pub fn set(&self) -> &Arc<dyn ImageSet> {
        &self.inner.set
    }

    /// The settings.
    pub fn config(&self) -> &ImageLoaderConfig {
        &self.inner.config
    }

    /// Images in the set.
    pub fn len(&self) -> usize {
        self.inner.set.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of classes.
    pub fn num_classes(&self) -> usize {
        self.inner.set.class_names().len()
    }

    /// Shape of one image as batches carry it: `[3, size, size]`.
    pub fn sample_shape(&self) -> [usize; 3] {
        [3, self.inner.config.size, self.inner.config.size]
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

    /// The image order of `epoch`: a seeded permutation when shuffling, set order otherwise.
    pub fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len()).collect();
        if self.inner.config.shuffle {
            order.shuffle(&mut rng_for(self.inner.config.seed, epoch, u64::MAX));
        }
        order
    }

    /// Iterates over the batches of `epoch`, prepared by a background thread up to `prefetch`
    /// batches ahead (each batch decoded in parallel on rayon's pool). Dropping the iterator
    /// stops the thread.
    pub fn epoch(&self, epoch: u64) -> ImageEpochIter {
        let order = self.epoch_order(epoch);
        let batches: Vec<Vec<usize>> = order
            .chunks(self.inner.config.batch_size)
            .take(self.batches_per_epoch())
            .map(<[usize]>::to_vec)
            .collect();
        let total = batches.len();
        let (tx, rx) = sync_channel(self.inner.config.prefetch.max(1));
        let inner = Arc::clone(&self.inner);
        let handle = std::thread::Builder::new()
            .name("snnkit-images".into())
            .spawn(move || {
                for indices in batches {
                    let batch = inner.batch(&indices, epoch);
                    let failed = batch.is_err();
                    if tx.send(batch).is_err() || failed {
                        break;
                    }
                }
            })
            .ok();
        ImageEpochIter {
            rx: Some(rx),
            handle,
            remaining: total,
        }
    }

    /// The batch of the given indices with `epoch`'s augmentation draws, on the calling thread.
    pub fn batch(&self, indices: &[usize], epoch: u64) -> Result<ImageBatch> {
        self.inner.batch(indices, epoch)
    }

    /// One transformed image, `[3, size, size]` f32 (for tests and tools).
    pub fn image(&self, index: usize, epoch: u64) -> Result<Vec<f32>> {
        let s = self.inner.config.size;
        let mut out = vec![0f32; 3 * s * s];
        self.inner.fill(index, epoch, &mut out, &mut Vec::new())?;
        Ok(out)
    }
}

/// An RNG for `(seed, epoch, index)`: ChaCha8 keyed by the three numbers, so no two draws share
/// a stream and none depends on the order in which threads ask.
fn rng_for(seed: u64, epoch: u64, index: u64) -> ChaCha8Rng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&epoch.to_le_bytes());
    key[16..24].copy_from_slice(&index.to_le_bytes());
    key[24..].copy_from_slice(b"snnk-img");
    ChaCha8Rng::from_seed(key)
}

impl Inner {
    fn batch(&self, indices: &[usize], epoch: u64) -> Result<ImageBatch> {
        let n = self.set.len();
        if let Some(&bad) = indices.iter().find(|&&i| i >= n) {
            return Err(Error::Usage(format!(
                "image {bad} out of range (the set has {n})"
            )));
        }
        let s = self.config.size;
        let len = 3 * s * s;
        let mut data = vec![0f32; indices.len() * len];
        data.par_chunks_mut(len.max(1))
            .zip(indices.par_iter())
            .try_for_each_init(Vec::new, |tmp, (out, &i)| self.fill(i, epoch, out, tmp))?;
        let bsz = indices.len();
        let images = Tensor::from_vec(data, (bsz, 3, s, s), &self.device)?;
        let labels_vec: Vec<u32> = indices.iter().map(|&i| self.set.label(i) as u32).collect();
        let labels = Tensor::from_vec(labels_vec.clone(), bsz, &self.device)?;
        Ok(ImageBatch {
            images,
            labels,
            labels_vec,
            indices: indices.to_vec(),
        })
    }

    /// Decodes image `index`, applies `epoch`'s transform and writes `[3, size, size]` into `out`.
    fn fill(&self, index: usize, epoch: u64, out: &mut [f32], tmp: &mut Vec<u8>) -> Result<()> {
        let img = self.set.load(index)?;
        let c = &self.config;
        let (h, w) = (img.height, img.width);
        if h == 0 || w == 0 {
            return Err(Error::Usage(format!(
                "{}: empty image",
                self.set.source_id(index)
            )));
        }
        let mut flip = false;
        let (rows, cols): (Window, Window) = if c.augment {
            let mut rng = rng_for(c.seed, epoch, index as u64);
            let win = match c.crop {
                TrainCrop::RandomResized { scale, ratio } => {
                    random_resized_crop(h, w, c.size, scale, ratio, &mut rng)
                }
                TrainCrop::Padded { padding } => random_crop(h, w, c.size, padding, &mut rng),
            };
            flip = c.hflip && rng.random_bool(0.5);
            win
        } else {
            resize_center_crop(h, w, c.eval_resize, c.size)
        };
        let px = resample(&img, &rows, &cols, tmp);
        let s = c.size;
        let plane = s * s;
        for y in 0..s {
            for x in 0..s {
                let sx = if flip { s - 1 - x } else { x };
                let p = &px[(y * s + sx) * 3..(y * s + sx) * 3 + 3];
                for ch in 0..3 {
                    out[ch * plane + y * s + x] = self.lut[ch][p[ch] as usize];
                }
            }
        }
        Ok(())
    }
}

/// The batches of one epoch, produced ahead by a background thread. Yields `Err` once and stops
/// when an image cannot be read.
pub struct ImageEpochIter {
    rx: Option<Receiver<Result<ImageBatch>>>,
    handle: Option<JoinHandle<()>>,
    remaining: usize,
}

impl Iterator for ImageEpochIter {
    type Item = Result<ImageBatch>;

    fn next(&mut self) -> Option<Result<ImageBatch>> {
        if self.handle.is_none() && self.remaining > 0 {
            self.remaining = 0;
            return Some(Err(Error::Usage(
                "could not start the image loader thread".into(),
            )));
        }
        let item = match self.rx.as_ref()?.recv() {
            Ok(item) => item,
            // The producer hung up early: it panicked. Say so rather than end the epoch short.
            Err(_) if self.remaining > 0 => Err(Error::Usage(format!(
                "the image loader thread stopped with {} batches of the epoch left",
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

impl Drop for ImageEpochIter {
    fn drop(&mut self) {
        // Closing the channel makes the producer's next send fail, so it stops after one batch.
        self.rx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
