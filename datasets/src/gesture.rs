//! DVS128 Gesture (IBM): AEDAT 3.1 recordings cut into gesture samples by their label CSVs.
//!
//! Layout (the extracted `DvsGesture/` folder, or a folder containing it):
//! `trials_to_train.txt`, `trials_to_test.txt` (one `userNN_<lighting>.aedat` per line) and, per
//! recording, `userNN_<lighting>.aedat` plus `userNN_<lighting>_labels.csv`
//! (`class,startTime_usec,endTime_usec`, classes 1–11, absolute µs).
//!
//! One sample per CSV row over `[start, end)` on the recording's own timestamps, exactly as
//! SpikingJelly's `DVS128Gesture` cuts them (rows that overlap duplicate events; timestamps are
//! not re-based): 1176 train + 288 test samples on the real dataset. Samples come in trial-list
//! order, then CSV row order; `name` is SpikingJelly's `<stem>_<k>` with `k` counting rows of
//! the same class in that file.
//!
//! Labels are `class - 1` by default. SpikingJelly's own targets differ: torchvision's
//! `DatasetFolder` sorts the class folders `0..10` as strings (`0, 1, 10, 2, ..., 9`), so its
//! target for class folder 10 is 2, for 2 is 3, ..., for 9 is 10. [`LabelOrder::SpikingJelly`]
//! reproduces that.
//!
//! Dataset: Amir et al., "A Low Power, Fully Event-Based Gesture Recognition System", CVPR 2017,
//! <https://research.ibm.com/interactive/dvsgesture/>.

use crate::dataset::{Dataset, Sample, Split};
use crate::error::{io, Error, Result};
use snnkit_events::Profile;
use std::path::{Path, PathBuf};

/// The 11 DVS128 Gesture classes, in label order `class - 1`.
pub const GESTURE_CLASSES: [&str; 11] = [
    "hand_clapping",
    "right_hand_wave",
    "left_hand_wave",
    "right_arm_clockwise",
    "right_arm_counter_clockwise",
    "left_arm_clockwise",
    "left_arm_counter_clockwise",
    "arm_roll",
    "air_drums",
    "air_guitar",
    "other_gestures",
];

/// How CSV classes map to label indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LabelOrder {
    /// `label = class - 1` (the natural order; class names in [`GESTURE_CLASSES`] order).
    #[default]
    ClassMinusOne,
    /// SpikingJelly's targets: class folders `class - 1` sorted as strings
    /// (`0, 1, 10, 2, ..., 9`), the label being the position in that list.
    SpikingJelly,
}

/// The position of folder name `dir` (= `class - 1` as a decimal string) among `0..n` sorted as
/// strings.
fn lexicographic_label(dir: usize, n: usize) -> usize {
    let mut names: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    names.sort();
    names
        .iter()
        .position(|s| *s == dir.to_string())
        .unwrap_or(dir)
}

/// Trial lists and label CSVs as in DVS128 Gesture; shared by [`Dvs128Gesture`] and the synthetic
/// dataset.
#[derive(Debug, Clone)]
pub(crate) struct GestureLayout {
    pub root: PathBuf,
    /// Class names in `class - 1` order.
    pub classes: Vec<String>,
    pub order: LabelOrder,
    pub name: &'static str,
}

/// One row of a label CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LabelRow {
    pub class: usize,
    pub start: i64,
    pub end: i64,
}

pub(crate) const LAYOUT_HELP: &str = "the DVS128 Gesture layout: trials_to_train.txt, \
     trials_to_test.txt, userNN_<lighting>.aedat and userNN_<lighting>_labels.csv";

/// Reads a trial list: one recording file name per line, blank lines skipped.
pub(crate) fn read_trials(path: &Path) -> Result<Vec<String>> {
    if !path.is_file() {
        return Err(Error::MissingFile {
            path: path.to_path_buf(),
            expected: LAYOUT_HELP.to_string(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect())
}

/// Parses a `class,startTime_usec,endTime_usec` CSV (header line first).
pub(crate) fn read_labels(path: &Path, n_classes: usize) -> Result<Vec<LabelRow>> {
    if !path.is_file() {
        return Err(Error::MissingFile {
            path: path.to_path_buf(),
            expected: format!("the label CSV of its recording ({LAYOUT_HELP})"),
        });
    }
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    let bad = |line: usize, reason: String| Error::BadTextFile {
        path: path.to_path_buf(),
        line,
        reason,
    };
    let mut rows = Vec::new();
    // Like np.loadtxt(skiprows=1): the first line is the header whatever it says.
    for (i, line) in text.lines().enumerate().skip(1) {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        if f.len() != 3 {
            return Err(bad(
                i + 1,
                format!("expected class,startTime_usec,endTime_usec, found '{line}'"),
            ));
        }
        let num = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| bad(i + 1, format!("'{s}' is not an unsigned 32-bit integer")))
        };
        let (class, start, end) = (num(f[0])? as usize, num(f[1])?, num(f[2])?);
        if class == 0 || class > n_classes {
            return Err(bad(i + 1, format!("class {class} outside 1..={n_classes}")));
        }
        rows.push(LabelRow {
            class,
            start: start as i64,
            end: end as i64,
        });
    }
    Ok(rows)
}

/// `user01_fluorescent.aedat` -> `user01_fluorescent_labels.csv`.
pub(crate) fn labels_name(recording: &str) -> String {
    let stem = recording.strip_suffix(".aedat").unwrap_or(recording);
    format!("{stem}_labels.csv")
}

impl GestureLayout {
    /// Accepts the folder itself or a parent holding `DvsGesture/`.
    pub fn resolve_root(root: &Path) -> PathBuf {
        let inner = root.join("DvsGesture");
        if !root.join("trials_to_train.txt").is_file()
            && inner.join("trials_to_train.txt").is_file()
        {
            inner
        } else {
            root.to_path_buf()
        }
    }

    fn trials_file(&self, split: Split) -> PathBuf {
        self.root.join(match split {
            Split::Train => "trials_to_train.txt",
            Split::Test => "trials_to_test.txt",
        })
    }

    fn check_root(&self) -> Result<()> {
        if !self.root.is_dir() {
            return Err(Error::MissingFolder {
                path: self.root.clone(),
                expected: LAYOUT_HELP.to_string(),
            });
        }
        Ok(())
    }

    pub fn label_of(&self, class: usize) -> usize {
        match self.order {
            LabelOrder::ClassMinusOne => class - 1,
            LabelOrder::SpikingJelly => lexicographic_label(class - 1, self.classes.len()),
        }
    }

    /// Class names indexed by label.
    pub fn label_names(&self) -> Vec<String> {
        let mut names = vec![String::new(); self.classes.len()];
        for (i, n) in self.classes.iter().enumerate() {
            names[self.label_of(i + 1)] = n.clone();
        }
        names
    }

    pub fn files(&self) -> Result<Vec<PathBuf>> {
        self.check_root()?;
        let mut out = vec![
            PathBuf::from("trials_to_train.txt"),
            PathBuf::from("trials_to_test.txt"),
        ];
        for split in Split::ALL {
            for rec in read_trials(&self.trials_file(split))? {
                out.push(PathBuf::from(&rec));
                out.push(PathBuf::from(labels_name(&rec)));
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    pub fn samples(&self, split: Split) -> Result<Vec<Sample>> {
        self.check_root()?;
        let names = self.label_names();
        let mut out = Vec::new();
        for rec in read_trials(&self.trials_file(split))? {
            let path = self.root.join(&rec);
            if !path.is_file() {
                return Err(Error::MissingFile {
                    path,
                    expected: format!(
                        "recording listed in {} ({LAYOUT_HELP})",
                        self.trials_file(split).display()
                    ),
                });
            }
            let rows = read_labels(&self.root.join(labels_name(&rec)), self.classes.len())?;
            let stem = rec.strip_suffix(".aedat").unwrap_or(&rec);
            let mut per_class = vec![0usize; self.classes.len()];
            for row in rows {
                let k = &mut per_class[row.class - 1];
                let label = self.label_of(row.class);
                out.push(Sample {
                    source: PathBuf::from(&rec),
                    span: Some((row.start, row.end)),
                    label,
                    class_name: names[label].clone(),
                    name: format!("{stem}_{k}"),
                });
                *k += 1;
            }
        }
        Ok(out)
    }
}

/// The DVS128 Gesture dataset (AEDAT 3.1, 128×128, 11 classes).
#[derive(Debug, Clone)]
pub struct Dvs128Gesture {
    layout: GestureLayout,
    names: Vec<String>,
}

impl Dvs128Gesture {
    /// Opens `root` (the `DvsGesture/` folder or its parent). Nothing is read until asked.
    pub fn new(root: impl AsRef<Path>) -> Self {
        Self::with_label_order(root, LabelOrder::default())
    }

    /// Like [`Dvs128Gesture::new`] with a chosen label order.
    pub fn with_label_order(root: impl AsRef<Path>, order: LabelOrder) -> Self {
        let layout = GestureLayout {
            root: GestureLayout::resolve_root(root.as_ref()),
            classes: GESTURE_CLASSES.iter().map(|s| s.to_string()).collect(),
            order,
            name: "dvs128-gesture",
        };
        let names = layout.label_names();
        Dvs128Gesture { layout, names }
    }
}

impl Dataset for Dvs128Gesture {
    fn name(&self) -> &'static str {
        self.layout.name
    }
    fn root(&self) -> &Path {
        &self.layout.root
    }
    fn class_names(&self) -> &[String] {
        &self.names
    }
    fn sensor_size(&self) -> (u16, u16) {
        Profile::Dvs128Gesture.sensor_size()
    }
    fn profile(&self) -> Option<Profile> {
        Some(Profile::Dvs128Gesture)
    }
    fn files(&self) -> Result<Vec<PathBuf>> {
        self.layout.files()
    }
    fn samples(&self, split: Split) -> Result<Vec<Sample>> {
        self.layout.samples(split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spikingjelly_label_order_is_lexicographic() {
        let got: Vec<usize> = (0..11).map(|d| lexicographic_label(d, 11)).collect();
        // folders 0,1,10,2,...,9 -> dir 0->0, 1->1, 2->3, ..., 9->10, 10->2
        assert_eq!(got, vec![0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 2]);
    }

    #[test]
    fn label_csv_parsing_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a_labels.csv");
        std::fs::write(
            &p,
            "class,startTime_usec,endTime_usec\n1,10,20\n\n11,30,40\n",
        )
        .unwrap();
        let rows = read_labels(&p, 11).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[1],
            LabelRow {
                class: 11,
                start: 30,
                end: 40
            }
        );
        std::fs::write(&p, "h\n12,1,2\n").unwrap();
        let e = read_labels(&p, 11).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("class 12"), "{e}");
        std::fs::write(&p, "h\n1,x,2\n").unwrap();
        assert!(read_labels(&p, 11).is_err());
    }
}
