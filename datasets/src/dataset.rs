//! The trait every dataset implements, and the sample record.

use crate::error::Result;
use snnkit_events::{Profile, ReadOptions};
use std::fmt;
use std::path::{Path, PathBuf};

/// Train or test half of a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// Training samples.
    Train,
    /// Held-out samples.
    Test,
}

impl Split {
    /// Both splits, train first.
    pub const ALL: [Split; 2] = [Split::Train, Split::Test];

    /// `"train"` or `"test"`.
    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Options of [`crate::by_name_with`] that loosen a dataset's layout checks (all off by default:
/// a dataset must be complete).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenOptions {
    /// N-Caltech101: accept fewer than the 101 class folders (at least one) and use the ones
    /// present, labelled by their sorted names as SpikingJelly's `DatasetFolder` labels whatever
    /// folders it finds (so labels differ from a full tree's). `snnkit convert
    /// --allow-missing-classes`. The other datasets have fixed class lists and ignore it.
    pub allow_missing_classes: bool,
}

/// One sample: enough to produce its events (file + optional time window) and its label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Sample {
    /// The raw event file, relative to the dataset root.
    pub source: PathBuf,
    /// Half-open window `[start, end)` in µs on the recording's own timestamps (DVS128 Gesture
    /// rows of `*_labels.csv`), or `None` for the whole file.
    pub span: Option<(i64, i64)>,
    /// Class index (0-based), in the dataset's label order.
    pub label: usize,
    /// Class name of `label`.
    pub class_name: String,
    /// SpikingJelly's name for the sample (its `.npz` stem, e.g. `user01_fluorescent_0`,
    /// `cifar10_airplane_0`); unique within a split and class.
    pub name: String,
}

impl Sample {
    /// A one-line description for traces (`/sources` in the cache): the source path, plus the
    /// window when there is one, e.g. `user01_led.aedat[1200000,2400000)`.
    pub fn source_id(&self) -> String {
        let src = self.source.to_string_lossy().replace('\\', "/");
        match self.span {
            Some((a, b)) => format!("{src}[{a},{b})"),
            None => src,
        }
    }
}

/// A dataset definition: where its files are, how samples and labels come out of them, how it
/// splits, and which event convention its files use.
pub trait Dataset: Send + Sync {
    /// The dataset name as `by_name` knows it (`dvs128-gesture`, ...).
    fn name(&self) -> &'static str;

    /// The folder the dataset was opened on (after resolving a known inner folder such as
    /// `DvsGesture/`); sample sources are relative to it.
    fn root(&self) -> &Path;

    /// Class names; index = label.
    fn class_names(&self) -> &[String];

    /// Sensor size as `(width, height)`.
    fn sensor_size(&self) -> (u16, u16);

    /// The event convention (coordinate mapping) of the raw files, if any.
    fn profile(&self) -> Option<Profile>;

    /// Options to decode this dataset's files with `snnkit_events::read_file`.
    fn read_options(&self) -> ReadOptions {
        ReadOptions {
            profile: self.profile(),
            ..Default::default()
        }
    }

    /// Every raw file the dataset reads (both splits, including label and list files), relative
    /// to the root, sorted. Used to fingerprint the raw data.
    fn files(&self) -> Result<Vec<PathBuf>>;

    /// The samples of `split`, in a fixed documented order.
    fn samples(&self, split: Split) -> Result<Vec<Sample>>;
}
