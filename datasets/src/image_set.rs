//! Static-image datasets: the [`ImageSet`] trait, the decoded [`RgbImage`], and [`open_images`],
//! which recognises the layout of a root folder (ImageFolder or CIFAR-10 binary batches).
//!
//! Images are not converted into a cache: a loader decodes them on the fly (`snnkit-images`).

use crate::cifar10::Cifar10;
use crate::dataset::Split;
use crate::error::{Error, Result};
use crate::image_folder::ImageFolder;
use std::path::{Path, PathBuf};

/// A decoded 8-bit RGB image, interleaved (`HWC`, row = y), as PIL's `convert("RGB")` gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width * 3` bytes, `R, G, B` per pixel.
    pub pixels: Vec<u8>,
}

impl RgbImage {
    /// Wraps interleaved pixels; `None` when the length is not `height * width * 3`.
    pub fn new(width: usize, height: usize, pixels: Vec<u8>) -> Option<Self> {
        (width.checked_mul(height)?.checked_mul(3)? == pixels.len()).then_some(Self {
            width,
            height,
            pixels,
        })
    }
}

/// One split of a static-image dataset: labelled images, decoded on demand.
pub trait ImageSet: Send + Sync {
    /// Layout name (`image-folder`, `cifar10`).
    fn kind(&self) -> &'static str;

    /// The folder the set was opened on.
    fn root(&self) -> &Path;

    /// Class names; index = label (the same for every split of a dataset).
    fn class_names(&self) -> &[String];

    /// Number of images.
    fn len(&self) -> usize;

    /// Whether the split holds no image.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Label of image `i` (`i < len()`).
    fn label(&self, i: usize) -> usize;

    /// Where image `i` comes from (a path relative to the root, or `file#record`), for traces.
    fn source_id(&self, i: usize) -> String;

    /// Decodes image `i` into RGB. Errors name the file (and byte offset where known).
    fn load(&self, i: usize) -> Result<RgbImage>;

    /// Every raw file the split reads, for fingerprints and benchmarks.
    fn files(&self) -> Vec<PathBuf>;
}

/// Opens `split` of the static-image dataset at `root`: CIFAR-10 binary batches when `root` (or
/// `root/cifar-10-batches-bin`) holds `data_batch_1.bin` or `test_batch.bin`, otherwise an
/// ImageFolder tree (`root/train/<class>/*`, `root/val/<class>/*`).
pub fn open_images(root: &Path, split: Split) -> Result<Box<dyn ImageSet>> {
    if !root.is_dir() {
        return Err(Error::MissingFolder {
            path: root.to_path_buf(),
            expected:
                "an ImageFolder root (train/<class>/*, val/<class>/*) or CIFAR-10 binary batches"
                    .into(),
        });
    }
    if Cifar10::find_dir(root).is_some() {
        return Ok(Box::new(Cifar10::open(root, split)?));
    }
    Ok(Box::new(ImageFolder::open(root, split)?))
}
