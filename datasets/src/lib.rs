//! Dataset definitions: how to find a dataset's files, cut its samples, label them, split them,
//! and which event convention its files use; plus a synthetic dataset generator.
//!
//! Every dataset implements [`Dataset`]: [`Dataset::samples`] lists [`Sample`]s (source file
//! relative to the root, optional `[start, end)` window, label, class name) for a [`Split`];
//! [`load_sample`] / [`load_samples`] / [`group_by_source`] + [`read_source`] produce their
//! events with `snnkit_events`. [`by_name`] opens a dataset by its CLI name ([`by_name_with`]
//! with [`OpenOptions`], e.g. an N-Caltech101 tree with fewer than 101 class folders).
//!
//! | name | type | files | classes | sensor (W×H) | split |
//! |---|---|---|---|---|---|
//! | `dvs128-gesture` | [`Dvs128Gesture`] | AEDAT 3.1 + label CSVs | 11 | 128×128 | trial lists |
//! | `cifar10-dvs` | [`Cifar10Dvs`] | `<class>/*.aedat` (AEDAT 2.0) | 10 | 128×128 | per class 9:1 |
//! | `n-caltech101` | [`NCaltech101`] | `<class>/*.bin` (ATIS) | 101 | 240×180 | per class 9:1 |
//! | `n-mnist` | [`NMnist`] | `{Train,Test}/<digit>/*.bin` | 10 | 34×34 | official |
//! | `n-cars` | [`NCars`] | `{train,test}/{background,cars}/*.dat` (DAT) | 2 | 120×100 | official |
//! | `synthetic` | [`synthetic::Synthetic`] | as `dvs128-gesture` | 8 (default) | 128×128 | trial lists |
//!
//! Static images (decoded on the fly, not cached as frames) implement [`ImageSet`];
//! [`open_images`] recognises the layout of a root:
//!
//! | layout | type | files | classes | split |
//! |---|---|---|---|---|
//! | ImageFolder (ImageNet) | [`ImageFolder`] | `{train,val}/<class>/**/*.{jpg,jpeg,png}` | sorted folder names | folders |
//! | CIFAR-10 binary | [`Cifar10`] | `data_batch_{1..5}.bin`, `test_batch.bin` | `batches.meta.txt` | files |
//! | synthetic images | written by [`synthetic_images::generate`] | ImageFolder, PNG or JPEG | 4 (default) | folders |
//!
//! ```no_run
//! use snnkit_datasets::{by_name, load_samples, Split};
//! let ds = by_name("dvs128-gesture", "data/DvsGesture".as_ref())?;
//! let train = ds.samples(Split::Train)?;
//! let events = load_samples(ds.as_ref(), &train[..2])?; // each file decoded once
//! println!("{} samples, first has {} events", train.len(), events[0].len());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub use crate::cifar10::{
    read_batch as read_cifar10_batch, write_batch as write_cifar10_batch, Cifar10, Cifar10Batch,
    CIFAR10_DIR, CIFAR10_IMAGE_BYTES, CIFAR10_IMAGE_CLASSES, CIFAR10_RECORD_BYTES, CIFAR10_SIDE,
};
pub use crate::dataset::{Dataset, OpenOptions, Sample, Split};
pub use crate::error::{Error, Result};
pub use crate::folder::{
    Cifar10Dvs, NCaltech101, CIFAR10_CLASSES, NCALTECH101_CLASSES, TRAIN_RATIO,
};
pub use crate::gesture::{Dvs128Gesture, LabelOrder, GESTURE_CLASSES};
pub use crate::image_folder::{
    decode_image, decode_image_file, split_folder, ImageFolder, IMAGE_EXTENSIONS,
};
pub use crate::image_set::{open_images, ImageSet, RgbImage};
pub use crate::load::{
    group_by_source, load_sample, load_samples, mask, read_source, sorted_range, source_path, Cut,
    DecodedSource, SourceGroup,
};
pub use crate::ncars::{NCars, NCARS_CLASSES};
pub use crate::nmnist::NMnist;
pub use crate::split::{SplitOrder, DEFAULT_SPLIT_SEED};

pub mod synthetic;
pub mod synthetic_images;

mod cifar10;
mod dataset;
mod error;
mod folder;
mod gesture;
mod image_folder;
mod image_set;
mod load;
mod ncars;
mod nmnist;
mod split;

use std::path::Path;

/// Every dataset name [`by_name`] knows.
pub const NAMES: [&str; 6] = [
    "dvs128-gesture",
    "cifar10-dvs",
    "n-caltech101",
    "n-mnist",
    "n-cars",
    "synthetic",
];

/// Opens dataset `name` at `root` with default options (label order `class - 1`, seeded 9:1
/// splits). Folder problems surface when samples are listed (`synthetic` reads its class list
/// now).
pub fn by_name(name: &str, root: &Path) -> Result<Box<dyn Dataset>> {
    by_name_with(name, root, &OpenOptions::default())
}

/// [`by_name`] with [`OpenOptions`] (for example N-Caltech101 with some class folders missing).
pub fn by_name_with(name: &str, root: &Path, options: &OpenOptions) -> Result<Box<dyn Dataset>> {
    Ok(match name {
        "dvs128-gesture" => Box::new(Dvs128Gesture::new(root)),
        "cifar10-dvs" => Box::new(Cifar10Dvs::new(root)),
        "n-caltech101" => Box::new(NCaltech101::open(root, SplitOrder::default(), options)),
        "n-mnist" => Box::new(NMnist::new(root)),
        "n-cars" => Box::new(NCars::new(root)),
        "synthetic" => Box::new(synthetic::Synthetic::open(root)?),
        _ => {
            return Err(Error::UnknownDataset {
                name: name.to_string(),
            })
        }
    })
}
