//! N-MNIST: ATIS `.bin` files, 34×34, 10 digit classes, official 60k/10k split.
//!
//! Layout: `ROOT/Train/<digit>/*.bin` and `ROOT/Test/<digit>/*.bin` (the extracted archives, as
//! SpikingJelly expects them), digits `0`–`9`; label = digit. Samples in digit order, then file
//! names sorted (byte order).
//!
//! Dataset: Orchard et al., "Converting Static Image Datasets to Spiking Neuromorphic Datasets
//! Using Saccades", Front. Neurosci. 2015, <https://www.garrickorchard.com/datasets/n-mnist>.

use crate::dataset::{Dataset, Sample, Split};
use crate::error::{Error, Result};
use crate::folder::sorted_files;
use snnkit_events::Profile;
use std::path::{Path, PathBuf};

/// The N-MNIST dataset.
#[derive(Debug, Clone)]
pub struct NMnist {
    root: PathBuf,
    classes: Vec<String>,
}

const LAYOUT: &str = "N-MNIST layout: ROOT/Train/<digit>/*.bin and ROOT/Test/<digit>/*.bin, \
                      digits 0-9";

impl NMnist {
    /// Opens `root`.
    pub fn new(root: impl AsRef<Path>) -> Self {
        NMnist {
            root: root.as_ref().to_path_buf(),
            classes: (0..10).map(|d| d.to_string()).collect(),
        }
    }

    fn split_dir(split: Split) -> &'static str {
        match split {
            Split::Train => "Train",
            Split::Test => "Test",
        }
    }

    fn class_files(&self, split: Split) -> Result<Vec<Vec<String>>> {
        if !self.root.is_dir() {
            return Err(Error::MissingFolder {
                path: self.root.clone(),
                expected: LAYOUT.to_string(),
            });
        }
        let base = self.root.join(Self::split_dir(split));
        if !base.is_dir() {
            return Err(Error::MissingFolder {
                path: base,
                expected: LAYOUT.to_string(),
            });
        }
        self.classes
            .iter()
            .map(|c| {
                let dir = base.join(c);
                if !dir.is_dir() {
                    return Err(Error::MissingFolder {
                        path: dir,
                        expected: LAYOUT.to_string(),
                    });
                }
                let files = sorted_files(&dir, "bin")?;
                if files.is_empty() {
                    return Err(Error::EmptyClass {
                        class: c.clone(),
                        path: dir,
                        pattern: "*.bin".into(),
                    });
                }
                Ok(files)
            })
            .collect()
    }
}

impl Dataset for NMnist {
    fn name(&self) -> &'static str {
        "n-mnist"
    }
    fn root(&self) -> &Path {
        &self.root
    }
    fn class_names(&self) -> &[String] {
        &self.classes
    }
    fn sensor_size(&self) -> (u16, u16) {
        Profile::NMnist.sensor_size()
    }
    fn profile(&self) -> Option<Profile> {
        Some(Profile::NMnist)
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
        let mut out = Vec::new();
        for (label, files) in self.class_files(split)?.into_iter().enumerate() {
            let class = &self.classes[label];
            for f in files {
                out.push(Sample {
                    source: Path::new(Self::split_dir(split)).join(class).join(&f),
                    span: None,
                    label,
                    class_name: class.clone(),
                    name: f.strip_suffix(".bin").unwrap_or(&f).to_string(),
                });
            }
        }
        Ok(out)
    }
}
