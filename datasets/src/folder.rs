//! Datasets stored as one folder per class: CIFAR10-DVS (`<class>/*.aedat`) and N-Caltech101
//! (`<class>/*.bin`), split per class 9:1 (neither ships a split).

use crate::dataset::{Dataset, OpenOptions, Sample, Split};
use crate::error::{io, Error, Result};
use crate::split::{split_class, SplitOrder};
use snnkit_events::Profile;
use std::path::{Path, PathBuf};

/// Training share of each class.
pub const TRAIN_RATIO: f64 = 0.9;

/// The 10 CIFAR10-DVS classes (folder names, sorted as SpikingJelly's `DatasetFolder` sorts them).
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Sub-folders (directories, or links to them, as `sorted_files` and the class checks follow
/// links too), sorted by name bytes (case-sensitive, like Python's `sorted`).
pub(crate) fn sorted_dirs(path: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io(path))? {
        let entry = entry.map_err(io(path))?;
        if entry.path().is_dir() {
            out.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    Ok(out)
}

/// Files of `path` ending in `.{ext}`, sorted by name bytes.
pub(crate) fn sorted_files(path: &Path, ext: &str) -> Result<Vec<String>> {
    let suffix = format!(".{ext}");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io(path))? {
        let entry = entry.map_err(io(path))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(&suffix) && entry.path().is_file() {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// A class-folder dataset (shared by CIFAR10-DVS and N-Caltech101).
#[derive(Debug, Clone)]
struct ClassFolders {
    name: &'static str,
    root: PathBuf,
    classes: Vec<String>,
    ext: &'static str,
    profile: Profile,
    order: SplitOrder,
    layout: &'static str,
}

impl ClassFolders {
    fn check_root(&self) -> Result<()> {
        if !self.root.is_dir() {
            return Err(Error::MissingFolder {
                path: self.root.clone(),
                expected: self.layout.to_string(),
            });
        }
        Ok(())
    }

    /// Sorted files of every class, checking each class folder exists and is not empty.
    fn class_files(&self) -> Result<Vec<Vec<String>>> {
        self.check_root()?;
        let missing: Vec<&str> = self
            .classes
            .iter()
            .filter(|c| !self.root.join(c).is_dir())
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            return Err(Error::BadClasses {
                path: self.root.clone(),
                reason: format!(
                    "missing class folder(s) {}; expected {}",
                    missing.join(", "),
                    self.layout
                ),
            });
        }
        self.classes
            .iter()
            .map(|c| {
                let dir = self.root.join(c);
                let files = sorted_files(&dir, self.ext)?;
                if files.is_empty() {
                    return Err(Error::EmptyClass {
                        class: c.clone(),
                        path: dir,
                        pattern: format!("*.{}", self.ext),
                    });
                }
                Ok(files)
            })
            .collect()
    }

    fn files(&self) -> Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = self
            .class_files()?
            .iter()
            .zip(&self.classes)
            .flat_map(|(files, c)| files.iter().map(move |f| Path::new(c).join(f)))
            .collect();
        out.sort();
        Ok(out)
    }

    fn samples(&self, split: Split) -> Result<Vec<Sample>> {
        let suffix = format!(".{}", self.ext);
        let mut out = Vec::new();
        for (label, files) in self.class_files()?.into_iter().enumerate() {
            let class = &self.classes[label];
            for f in split_class(&files, label, self.order, TRAIN_RATIO, split) {
                let name = f.strip_suffix(&suffix).unwrap_or(&f).to_string();
                out.push(Sample {
                    source: Path::new(class).join(&f),
                    span: None,
                    label,
                    class_name: class.clone(),
                    name,
                });
            }
        }
        Ok(out)
    }
}

/// CIFAR10-DVS (AEDAT 2.0 jAER DVS128 files, 128×128, 10 classes), read with SpikingJelly's
/// orientation (profile `cifar10-dvs`: `x = 127 − y_raw`, `y = 127 − x_raw`, `p = 1 − p_raw`).
///
/// Layout: `ROOT/<class>/*.aedat` with the ten [`CIFAR10_CLASSES`] folders (SpikingJelly's
/// `extract/` folder). No official split: per class, 9:1 by [`SplitOrder`] (default: seeded
/// shuffle of the sorted names, seed [`crate::DEFAULT_SPLIT_SEED`]).
///
/// Dataset: Li et al., "CIFAR10-DVS: An Event-Stream Dataset for Object Classification",
/// Front. Neurosci. 2017, <https://figshare.com/articles/dataset/CIFAR10-DVS_New/4724671>.
#[derive(Debug, Clone)]
pub struct Cifar10Dvs {
    inner: ClassFolders,
}

impl Cifar10Dvs {
    /// Opens `root` with the default split.
    pub fn new(root: impl AsRef<Path>) -> Self {
        Self::with_split(root, SplitOrder::default())
    }

    /// Opens `root` with a chosen split order.
    pub fn with_split(root: impl AsRef<Path>, order: SplitOrder) -> Self {
        Cifar10Dvs {
            inner: ClassFolders {
                name: "cifar10-dvs",
                root: root.as_ref().to_path_buf(),
                classes: CIFAR10_CLASSES.iter().map(|s| s.to_string()).collect(),
                ext: "aedat",
                profile: Profile::Cifar10Dvs,
                order,
                layout: "CIFAR10-DVS layout: ROOT/<class>/*.aedat for airplane, automobile, bird, \
                     cat, deer, dog, frog, horse, ship, truck",
            },
        }
    }
}

/// N-Caltech101 (ATIS `.bin`, 240 wide × 180 high as SpikingJelly sizes it, 101 classes
/// including `BACKGROUND_Google`).
///
/// Layout: `ROOT/<class>/*.bin` (or `ROOT/Caltech101/<class>/*.bin`, as the archive extracts);
/// classes are the 101 folder names sorted case-sensitively (`BACKGROUND_Google`, `Faces_easy`,
/// `Leopards`, `Motorbikes`, `accordion`, ...), which is SpikingJelly's label order. No official
/// split: per class, 9:1 by [`SplitOrder`]. A tree with fewer class folders (a partial download)
/// is refused unless opened with [`OpenOptions::allow_missing_classes`]; then the classes
/// present are used, labelled in their sorted order.
///
/// Dataset: Orchard et al., "Converting Static Image Datasets to Spiking Neuromorphic Datasets
/// Using Saccades", Front. Neurosci. 2015, <https://www.garrickorchard.com/datasets/n-caltech101>.
#[derive(Debug, Clone)]
pub struct NCaltech101 {
    inner: ClassFolders,
    discover_error: Option<String>,
}

/// Number of N-Caltech101 classes.
pub const NCALTECH101_CLASSES: usize = 101;

impl NCaltech101 {
    /// Opens `root` with the default split; the class folders are listed now.
    pub fn new(root: impl AsRef<Path>) -> Self {
        Self::with_split(root, SplitOrder::default())
    }

    /// Opens `root` with a chosen split order.
    pub fn with_split(root: impl AsRef<Path>, order: SplitOrder) -> Self {
        Self::open(root, order, &OpenOptions::default())
    }

    /// Opens `root` with a chosen split order and [`OpenOptions`] (`allow_missing_classes`: the
    /// class folders present, at least one, when there are fewer than 101).
    pub fn open(root: impl AsRef<Path>, order: SplitOrder, options: &OpenOptions) -> Self {
        let root = root.as_ref();
        let inner_root = root.join("Caltech101");
        let root = if !root.join("BACKGROUND_Google").is_dir() && inner_root.is_dir() {
            inner_root
        } else {
            root.to_path_buf()
        };
        let layout = "N-Caltech101 layout: ROOT/<class>/*.bin for 101 class folders \
                      including BACKGROUND_Google";
        let (classes, discover_error) = match sorted_dirs(&root) {
            Ok(c)
                if c.len() == NCALTECH101_CLASSES && c.iter().any(|n| n == "BACKGROUND_Google") =>
            {
                (c, None)
            }
            // A partial tree, accepted on request: SpikingJelly's DatasetFolder also labels
            // whatever class folders it finds by their sorted names.
            Ok(c)
                if options.allow_missing_classes && (1..NCALTECH101_CLASSES).contains(&c.len()) =>
            {
                (c, None)
            }
            Ok(c) => {
                let hint = if (1..NCALTECH101_CLASSES).contains(&c.len()) {
                    " (to convert the classes present, set allow_missing_classes: \
                     `snnkit convert --allow-missing-classes`)"
                } else {
                    ""
                };
                let msg = format!(
                    "found {} class folder(s){}; expected {layout}{hint}",
                    c.len(),
                    if c.iter().any(|n| n == "BACKGROUND_Google") {
                        ""
                    } else {
                        ", none named BACKGROUND_Google"
                    }
                );
                (c, Some(msg))
            }
            // A missing root is reported as such by `check_root`; any other listing error
            // (permissions, ...) must not leave an empty class list that yields no samples.
            Err(e) => (
                Vec::new(),
                Some(format!("cannot list the class folders: {e}")),
            ),
        };
        NCaltech101 {
            inner: ClassFolders {
                name: "n-caltech101",
                root,
                classes,
                ext: "bin",
                profile: Profile::NCaltech101,
                order,
                layout,
            },
            discover_error,
        }
    }

    fn check(&self) -> Result<()> {
        self.inner.check_root()?;
        match &self.discover_error {
            Some(reason) => Err(Error::BadClasses {
                path: self.inner.root.clone(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }
}

macro_rules! forward_dataset {
    ($ty:ty, $field:ident, $check:expr) => {
        impl Dataset for $ty {
            fn name(&self) -> &'static str {
                self.$field.name
            }
            fn root(&self) -> &Path {
                &self.$field.root
            }
            fn class_names(&self) -> &[String] {
                &self.$field.classes
            }
            fn sensor_size(&self) -> (u16, u16) {
                self.$field.profile.sensor_size()
            }
            fn profile(&self) -> Option<Profile> {
                Some(self.$field.profile)
            }
            fn files(&self) -> Result<Vec<PathBuf>> {
                $check(self)?;
                self.$field.files()
            }
            fn samples(&self, split: Split) -> Result<Vec<Sample>> {
                $check(self)?;
                self.$field.samples(split)
            }
        }
    };
}

forward_dataset!(Cifar10Dvs, inner, |_: &Cifar10Dvs| -> Result<()> { Ok(()) });
forward_dataset!(NCaltech101, inner, |d: &NCaltech101| d.check());
