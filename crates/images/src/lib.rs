//! snnkit-images: the batch loader for static-image datasets (ImageFolder/ImageNet, CIFAR-10),
//! decoded on the fly with torchvision's augmentation.
//!
//! - [`ImageLoader`]`::new(Arc<dyn ImageSet>, `[`ImageLoaderConfig`]`, &device)`;
//!   `.epoch(epoch) -> `[`ImageEpochIter`] of `Result<`[`ImageBatch`]`>` (`images: f32 [B, 3, S, S]`,
//!   `labels: u32 [B]`), `.batch(&indices, epoch)`, `.image(index, epoch)`.
//! - [`ImageLoaderConfig::train`]: `RandomResizedCrop(224)` (scale `[0.08, 1]`, ratio `[3/4, 4/3]`,
//!   ten tries then the central fallback, as torchvision 0.15) + `RandomHorizontalFlip` +
//!   ImageNet `Normalize`; [`ImageLoaderConfig::eval`]: `Resize(256)` + `CenterCrop(224)` (set
//!   `size` / `eval_resize`, e.g. 288 / 320 for the paper's starred rows); [`TrainCrop::Padded`]
//!   is CIFAR's `RandomCrop(32, padding = 4)`.
//! - Resizing is Pillow's antialiased bilinear filter bit for bit ([`mod@resample`]), and the
//!   normalisation is computed in f32 as torchvision's `ToTensor` + `Normalize`, so an image
//!   whose decoded pixels equal Pillow's gives torchvision's tensor exactly.
//! - Batches are a pure function of `(seed, epoch)`: the order comes from `(seed, epoch)`, each
//!   image's crop and flip from `(seed, epoch, index)`. Decoding runs on rayon's pool, one image
//!   per task, while a background thread keeps `prefetch` batches ready.
//! - [`bench::throughput`]: images per second through the whole pipeline.
//!
//! Direct encoding (repeating an image over T time steps) is the model's business, not the
//! loader's: batches carry each image once.
//!
//! ```no_run
//! use snnkit_datasets::{open_images, Split};
//! use snnkit_images::{ImageLoader, ImageLoaderConfig};
//! let set = open_images("data/imagenet".as_ref(), Split::Train)?;
//! let loader = ImageLoader::new(set.into(), ImageLoaderConfig::train(64), &candle_core::Device::Cpu)?;
//! for batch in loader.epoch(1).take(2) {
//!     println!("{:?}", batch?.images.dims()); // [64, 3, 224, 224]
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub use error::{Error, Result};
pub use geometry::Window;
pub use loader::{
    ImageBatch, ImageEpochIter, ImageLoader, ImageLoaderConfig, TrainCrop, IMAGENET_MEAN,
    IMAGENET_STD,
};

pub mod bench;
mod error;
pub mod geometry;
mod loader;
pub mod resample;
