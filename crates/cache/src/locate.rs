//! Finding a cache's split files from any of the paths a user may give (`snnkit train --cache`,
//! `snnkit eval --cache`, `snnkit cache info`):
//!
//! | given | resolves to |
//! |---|---|
//! | a split file `…/<setting>/<split>.h5` | its folder (the other splits are its siblings) |
//! | a setting folder holding `<split>.h5` files | itself |
//! | a dataset folder holding `<setting>/` folders | the only setting, or the one named |
//! | a cache root holding `<dataset>/<setting>/` | the dataset named (or the only one), then as above |
//!
//! When a choice is ambiguous the error lists the candidates; nothing is guessed.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a cache path could not be resolved; the message lists what was found instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocateError {
    /// The file or folder looked at.
    pub path: PathBuf,
    /// What is missing or ambiguous.
    pub message: String,
}

impl fmt::Display for LocateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for LocateError {}

/// A resolved setting folder (`CACHE_DIR/<dataset>/<setting>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheLocation {
    /// The folder holding the `<split>.h5` files.
    pub dir: PathBuf,
    /// The split file given, when the path was one.
    pub file: Option<PathBuf>,
}

impl CacheLocation {
    /// The file of `split` (`dir/<split>.h5`); the error lists the splits there are.
    pub fn split(&self, split: &str) -> Result<PathBuf, LocateError> {
        let p = self.dir.join(format!("{split}.h5"));
        if p.is_file() {
            return Ok(p);
        }
        let have: Vec<String> = self
            .splits()
            .iter()
            .filter_map(|p| Some(p.file_stem()?.to_string_lossy().into_owned()))
            .collect();
        Err(LocateError {
            path: self.dir.clone(),
            message: format!(
                "no split {split:?} here ({split}.h5); splits: {}",
                list(&have)
            ),
        })
    }

    /// Every `<split>.h5` of the folder, sorted by name.
    pub fn splits(&self) -> Vec<PathBuf> {
        h5_files(&self.dir)
    }
}

/// Resolves `path` (any form in the module docs) to a setting folder. `dataset` picks among the
/// datasets of a cache root, `setting` among the settings of a dataset folder; both are checked
/// against the folder's name when the path already names one.
pub fn locate(
    path: &Path,
    dataset: Option<&str>,
    setting: Option<&str>,
) -> Result<CacheLocation, LocateError> {
    let err = |p: &Path, message: String| LocateError {
        path: p.to_path_buf(),
        message,
    };
    let dataset = dataset.filter(|d| !d.is_empty());
    let setting = setting.filter(|s| !s.is_empty());
    if path.is_file() {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        check_name(&dir, setting, "setting")?;
        return Ok(CacheLocation {
            dir,
            file: Some(path.to_path_buf()),
        });
    }
    if !path.is_dir() {
        return Err(err(path, "no such file or folder".into()));
    }
    if !h5_files(path).is_empty() {
        check_name(path, setting, "setting")?;
        return Ok(CacheLocation {
            dir: path.to_path_buf(),
            file: None,
        });
    }
    let settings = setting_dirs(path);
    if !settings.is_empty() {
        return pick_setting(path, &settings, setting);
    }
    let datasets: Vec<PathBuf> = subdirs(path)
        .into_iter()
        .filter(|d| !setting_dirs(d).is_empty())
        .collect();
    let chosen = match (datasets.len(), dataset) {
        (0, _) => {
            return Err(err(
                path,
                "not a frame cache: no <split>.h5 here, in <setting>/ or in <dataset>/<setting>/ (run `snnkit convert` first)".into(),
            ))
        }
        (_, Some(name)) => datasets
            .iter()
            .find(|d| d.file_name().is_some_and(|n| n == name))
            .ok_or_else(|| {
                err(
                    path,
                    format!("no dataset {name:?} here; datasets: {}", names(&datasets)),
                )
            })?,
        (1, None) => &datasets[0],
        (_, None) => {
            return Err(err(
                path,
                format!(
                    "several datasets ({}); choose one (snnkit cache info --dataset NAME, or the configuration's dataset)",
                    names(&datasets)
                ),
            ))
        }
    };
    pick_setting(chosen, &setting_dirs(chosen), setting)
}

fn pick_setting(
    dataset_dir: &Path,
    settings: &[PathBuf],
    setting: Option<&str>,
) -> Result<CacheLocation, LocateError> {
    let err = |message: String| LocateError {
        path: dataset_dir.to_path_buf(),
        message,
    };
    let dir = match (settings.len(), setting) {
        (_, Some(name)) => settings
            .iter()
            .find(|d| d.file_name().is_some_and(|n| n == name))
            .ok_or_else(|| {
                err(format!(
                    "no setting {name:?} here; settings: {}",
                    names(settings)
                ))
            })?,
        (1, None) => &settings[0],
        _ => {
            return Err(err(format!(
                "several settings ({}); choose one with --setting NAME (or data.setting)",
                names(settings)
            )))
        }
    };
    Ok(CacheLocation {
        dir: dir.clone(),
        file: None,
    })
}

/// A name given for a folder that the path already fixes must agree with it.
fn check_name(dir: &Path, name: Option<&str>, what: &str) -> Result<(), LocateError> {
    match name {
        Some(n) if dir.file_name().is_none_or(|f| f != n) => Err(LocateError {
            path: dir.to_path_buf(),
            message: format!("this {what} folder is not {n:?} (--{what} {n})"),
        }),
        _ => Ok(()),
    }
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn setting_dirs(dir: &Path) -> Vec<PathBuf> {
    subdirs(dir)
        .into_iter()
        .filter(|d| !h5_files(d).is_empty())
        .collect()
}

/// Finished split files (`*.h5`; an interrupted conversion's `*.h5.tmp` does not count).
fn h5_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "h5"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn names(dirs: &[PathBuf]) -> String {
    let n: Vec<String> = dirs
        .iter()
        .filter_map(|d| Some(d.file_name()?.to_string_lossy().into_owned()))
        .collect();
    list(&n)
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
    }

    #[test]
    fn every_form_resolves_to_the_setting_folder() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        let s16 = root.join("gesture/frames16_number");
        touch(&s16.join("train.h5"));
        touch(&s16.join("test.h5"));
        touch(&s16.join("val.h5.tmp"));
        for p in [
            s16.join("train.h5"),
            s16.clone(),
            root.join("gesture"),
            root.to_path_buf(),
        ] {
            let l = locate(&p, None, None).unwrap();
            assert_eq!(l.dir, s16, "{}", p.display());
            assert_eq!(l.split("test").unwrap(), s16.join("test.h5"));
        }
        let e = locate(&s16, None, None).unwrap().split("val").unwrap_err();
        assert!(e.message.contains("splits: test, train"), "{e}");
        assert!(locate(&root.join("nope"), None, None).is_err());
        // Names that contradict the path are refused, not ignored.
        assert!(locate(&s16, None, Some("frames8_time")).is_err());
    }

    #[test]
    fn ambiguous_choices_list_the_candidates() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        touch(&root.join("gesture/frames16_number/train.h5"));
        touch(&root.join("gesture/frames8_time/train.h5"));
        touch(&root.join("cifar/frames10_number/train.h5"));
        let e = locate(&root.join("gesture"), None, None).unwrap_err();
        assert!(
            e.message.contains("frames16_number, frames8_time") && e.message.contains("--setting"),
            "{e}"
        );
        let l = locate(&root.join("gesture"), None, Some("frames8_time")).unwrap();
        assert_eq!(l.dir, root.join("gesture/frames8_time"));
        let e = locate(root, None, None).unwrap_err();
        assert!(e.message.contains("cifar, gesture"), "{e}");
        let l = locate(root, Some("cifar"), None).unwrap();
        assert_eq!(l.dir, root.join("cifar/frames10_number"));
        let e = locate(root, Some("gesture"), Some("frames4")).unwrap_err();
        assert!(e.message.contains("frames16_number, frames8_time"), "{e}");
        let e = locate(root, Some("nmnist"), None).unwrap_err();
        assert!(e.message.contains("no dataset \"nmnist\""), "{e}");
        let empty = root.join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        assert!(locate(&empty, None, None)
            .unwrap_err()
            .message
            .contains("not a frame cache"));
    }
}
