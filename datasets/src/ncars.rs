//! N-CARS: Prophesee DAT (`_td.dat`) files, 120×100, two classes, official train/test split.
//!
//! Layout: `ROOT/train/<class>/*.dat` and `ROOT/test/<class>/*.dat`, with the archive's folder
//! names `n-cars_train` / `n-cars_test` accepted too; classes `background` and `cars`. Labels
//! follow SpikingJelly's convention for class folders (sorted names): `background` = 0,
//! `cars` = 1. Samples in label order, then file names sorted (byte order).
//!
//! Dataset: Sironi et al., "HATS: Histograms of Averaged Time Surfaces for Robust Event-based
//! Object Classification", CVPR 2018 (100 ms samples cropped to 120×100 from an ATIS sensor).

use crate::dataset::{Dataset, Sample, Split};
use crate::error::{Error, Result};
use crate::folder::sorted_files;
use snnkit_events::Profile;
use std::path::{Path, PathBuf};

/// N-CARS class names, in label order.
pub const NCARS_CLASSES: [&str; 2] = ["background", "cars"];

const LAYOUT: &str = "N-CARS layout: ROOT/train/{background,cars}/*.dat and \
                      ROOT/test/{background,cars}/*.dat (or n-cars_train / n-cars_test)";

/// The N-CARS dataset.
#[derive(Debug, Clone)]
pub struct NCars {
    root: PathBuf,
    classes: Vec<String>,
}

impl NCars {
    /// Opens `root`.
    pub fn new(root: impl AsRef<Path>) -> Self {
        NCars {
            root: root.as_ref().to_path_buf(),
            classes: NCARS_CLASSES.iter().map(|c| c.to_string()).collect(),
        }
    }

    /// The split's folder name under the root (`train` or the archive's `n-cars_train`).
    fn split_dir(&self, split: Split) -> Result<&'static str> {
        let names: [&'static str; 2] = match split {
            Split::Train => ["train", "n-cars_train"],
            Split::Test => ["test", "n-cars_test"],
        };
        if !self.root.is_dir() {
            return Err(Error::MissingFolder {
                path: self.root.clone(),
                expected: LAYOUT.to_string(),
            });
        }
        names
            .into_iter()
            .find(|n| self.root.join(n).is_dir())
            .ok_or_else(|| Error::MissingFolder {
                path: self.root.join(names[0]),
                expected: LAYOUT.to_string(),
            })
    }
}

impl Dataset for NCars {
    fn name(&self) -> &'static str {
        "n-cars"
    }
    fn root(&self) -> &Path {
        &self.root
    }
    fn class_names(&self) -> &[String] {
        &self.classes
    }
    fn sensor_size(&self) -> (u16, u16) {
        Profile::NCars.sensor_size()
    }
    fn profile(&self) -> Option<Profile> {
        Some(Profile::NCars)
    }
    fn files(&self) -> Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = self
            .samples(Split::Train)?
            .into_iter()
            .chain(self.samples(Split::Test)?)
            .map(|s| s.source)
            .collect();
        out.sort();
        Ok(out)
    }
    fn samples(&self, split: Split) -> Result<Vec<Sample>> {
        let dir = self.split_dir(split)?;
        let mut out = Vec::new();
        for (label, class) in self.classes.iter().enumerate() {
            let path = self.root.join(dir).join(class);
            if !path.is_dir() {
                return Err(Error::MissingFolder {
                    path,
                    expected: LAYOUT.to_string(),
                });
            }
            let files = sorted_files(&path, "dat")?;
            if files.is_empty() {
                return Err(Error::EmptyClass {
                    class: class.clone(),
                    path,
                    pattern: "*.dat".into(),
                });
            }
            for f in files {
                out.push(Sample {
                    source: Path::new(dir).join(class).join(&f),
                    span: None,
                    label,
                    class_name: class.clone(),
                    name: f.strip_suffix(".dat").unwrap_or(&f).to_string(),
                });
            }
        }
        Ok(out)
    }
}
