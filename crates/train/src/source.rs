//! Where batches come from: a frame cache split (`snnkit_cache::Loader`) or a static-image
//! dataset split (`snnkit_images::ImageLoader`), behind one type for the loop and evaluation.

use crate::config::TrainConfig;
use crate::data::open_loader;
use crate::error::Result;
use crate::net::DataShape;
use candle_core::{Device, Tensor};
use snnkit_cache::Loader;
use snnkit_datasets::{open_images, Split};
use snnkit_images::ImageLoader;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One batch from either source.
pub struct SourceBatch {
    /// Frames `[T, B, 2, H, W]` or images `[B, 3, H, W]`.
    pub input: Tensor,
    /// `u32 [B]` labels on the device.
    pub labels: Tensor,
    /// The labels on the host.
    pub labels_vec: Vec<u32>,
}

/// A split's batches.
pub enum DataSource {
    /// A frame cache split.
    Frames(Loader),
    /// A static-image split.
    Images(ImageLoader),
}

impl DataSource {
    /// Opens split `split` (`train`/`test` stems for caches; for images `train` → the training
    /// split, anything else → the held-out split) of `data`: a frame cache folder, or, when the
    /// configuration has an `[images]` table, an image dataset root.
    pub fn open(
        data: &Path,
        cfg: &TrainConfig,
        split: &str,
        train: bool,
        device: &Device,
    ) -> Result<Self> {
        match &cfg.images {
            None => Ok(DataSource::Frames(open_loader(
                data, cfg, split, train, device,
            )?)),
            Some(im) => {
                let which = if split == cfg.data.train_split {
                    Split::Train
                } else {
                    Split::Test
                };
                let set = open_images(data, which)?;
                let lc = im.loader_config(cfg, train);
                Ok(DataSource::Images(ImageLoader::new(
                    Arc::from(set),
                    lc,
                    device,
                )?))
            }
        }
    }

    /// Shape of one sample and the class count.
    pub fn shape(&self) -> DataShape {
        match self {
            DataSource::Frames(l) => DataShape {
                sample: l.sample_shape().to_vec(),
                num_classes: l.num_classes(),
            },
            DataSource::Images(l) => DataShape {
                sample: l.sample_shape().to_vec(),
                num_classes: l.num_classes(),
            },
        }
    }

    /// Class names, index = label.
    pub fn class_names(&self) -> Vec<String> {
        match self {
            DataSource::Frames(l) => l.reader().info().class_names.clone(),
            DataSource::Images(l) => l.set().class_names().to_vec(),
        }
    }

    /// The file (cache) or folder (images) the batches come from, for messages.
    pub fn path(&self) -> PathBuf {
        match self {
            DataSource::Frames(l) => l.reader().info().path.clone(),
            DataSource::Images(l) => l.set().root().to_path_buf(),
        }
    }

    /// Samples in the split.
    pub fn len(&self) -> usize {
        match self {
            DataSource::Frames(l) => l.len(),
            DataSource::Images(l) => l.len(),
        }
    }

    /// Whether the split is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        match self {
            DataSource::Frames(l) => l.batches_per_epoch(),
            DataSource::Images(l) => l.batches_per_epoch(),
        }
    }

    /// The batches of `epoch` (prefetched in the background by either loader).
    pub fn epoch(&self, epoch: u64) -> Box<dyn Iterator<Item = Result<SourceBatch>>> {
        match self {
            DataSource::Frames(l) => Box::new(l.epoch(epoch).map(|b| {
                let b = b?;
                Ok(SourceBatch {
                    input: b.frames,
                    labels: b.labels,
                    labels_vec: b.labels_vec,
                })
            })),
            DataSource::Images(l) => Box::new(l.epoch(epoch).map(|b| {
                let b = b?;
                Ok(SourceBatch {
                    input: b.images,
                    labels: b.labels,
                    labels_vec: b.labels_vec,
                })
            })),
        }
    }
}
