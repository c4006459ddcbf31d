//! Where the tests find `../shared`, the fixtures and specs that live beside the repository (never in it).
//!
//! Every crate's tests locate the shared folder through this one crate (a dev-dependency, never
//! published). The folder is `$SNNKIT_SHARED` when set, else `shared/` next to the repository root.
//!
//! A user's clone may lack it: then a test calls [`shared`] (or [`shared_with`]), gets `None` and
//! returns early after a `skipping: ...` line. CI has the folder and sets `SNNKIT_REQUIRE_SHARED=1`,
//! which turns that skip into a panic naming the variable and the path looked at, so a moved or
//! missing fixture fails the build instead of silently passing.
//!
//! ```
//! // In a test: skip (or, under SNNKIT_REQUIRE_SHARED=1, fail) when the fixtures are absent.
//! let Some(shared) = snnkit_testdata::shared_with("fixtures/expected/SUMMARY.json") else {
//!     return;
//! };
//! assert!(shared.join("fixtures").is_dir());
//! ```

#![deny(missing_docs)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The variable that moves the shared folder.
pub const SHARED_VAR: &str = "SNNKIT_SHARED";
/// The variable that makes a missing fixture a failure instead of a skip (`1`; CI sets it).
pub const REQUIRE_VAR: &str = "SNNKIT_REQUIRE_SHARED";

/// Where the shared folder is looked for and what to do when something is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locator {
    /// The shared folder (it may not exist).
    pub root: PathBuf,
    /// Panic instead of skipping when a path is missing.
    pub require: bool,
}

impl Locator {
    /// From the environment: `$SNNKIT_SHARED` or `shared/` beside the repository root, and
    /// `$SNNKIT_REQUIRE_SHARED`.
    pub fn from_env() -> Self {
        Self::from_vars(
            std::env::var_os(SHARED_VAR).as_deref(),
            std::env::var_os(REQUIRE_VAR).as_deref(),
        )
    }

    /// From the two variables' values (`None` = unset). An empty `SNNKIT_SHARED` counts as unset;
    /// `SNNKIT_REQUIRE_SHARED` requires unless it is unset, empty or `0`.
    pub fn from_vars(shared: Option<&OsStr>, require: Option<&OsStr>) -> Self {
        let root = match shared {
            Some(s) if !s.is_empty() => PathBuf::from(s),
            // This crate sits at crates/testdata, two levels below the repository root, so the
            // path is right whichever crate's test calls it.
            _ => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")),
        };
        let require = require.is_some_and(|v| !v.is_empty() && v != "0");
        Self { root, require }
    }

    /// The shared folder when `rel` (a file or folder inside it) exists; see [`Locator::existing`]
    /// for what happens otherwise.
    pub fn shared_with(&self, rel: impl AsRef<Path>) -> Option<PathBuf> {
        self.existing(&self.root.join(rel))
            .map(|_| self.root.clone())
    }

    /// `path` when it exists. Otherwise prints `skipping: ...` and returns `None`, or, when
    /// [`Locator::require`] is set, panics with a message naming `SNNKIT_REQUIRE_SHARED` and the
    /// path.
    pub fn existing(&self, path: &Path) -> Option<PathBuf> {
        if path.exists() {
            return Some(path.to_path_buf());
        }
        if self.require {
            panic!(
                "{REQUIRE_VAR}=1 but {} does not exist (the shared fixtures are looked for in \
                 ${SHARED_VAR}, else ../shared beside the repository; unset {REQUIRE_VAR} to skip instead)",
                path.display()
            );
        }
        eprintln!(
            "skipping: {} not found (set {SHARED_VAR} to the shared folder)",
            path.display()
        );
        None
    }
}

/// The shared folder when it holds `fixtures/` (skip or, under `SNNKIT_REQUIRE_SHARED=1`, panic).
pub fn shared() -> Option<PathBuf> {
    shared_with("fixtures")
}

/// The shared folder when `rel` exists inside it (skip or, under `SNNKIT_REQUIRE_SHARED=1`, panic).
pub fn shared_with(rel: impl AsRef<Path>) -> Option<PathBuf> {
    Locator::from_env().shared_with(rel)
}

/// `path` when it exists (skip or, under `SNNKIT_REQUIRE_SHARED=1`, panic): for folders that a
/// variable of their own can move, such as `SNNKIT_PARITY_DIR`.
pub fn existing(path: &Path) -> Option<PathBuf> {
    Locator::from_env().existing(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    fn locator(root: &Path, require: bool) -> Locator {
        Locator {
            root: root.to_path_buf(),
            require,
        }
    }

    #[test]
    fn variables_are_read_as_documented() {
        let l = Locator::from_vars(Some(OsStr::new("/x/shared")), Some(OsStr::new("1")));
        assert_eq!(l, locator(Path::new("/x/shared"), true));
        for off in [None, Some(""), Some("0")] {
            let l = Locator::from_vars(None, off.map(OsStr::new));
            assert!(!l.require, "{off:?}");
            assert!(l.root.ends_with("shared"), "{}", l.root.display());
            // The default is the repository's sibling: crates/testdata/../../../shared.
            let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            assert_eq!(l.root, repo.join("../shared"));
        }
        let empty = Locator::from_vars(Some(OsStr::new("")), None);
        assert_eq!(empty.root, Locator::from_vars(None, None).root);
    }

    #[test]
    fn present_paths_are_returned_in_both_modes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("fixtures/expected")).unwrap();
        std::fs::write(dir.path().join("fixtures/expected/SUMMARY.json"), "{}").unwrap();
        for require in [false, true] {
            let l = locator(dir.path(), require);
            assert_eq!(
                l.shared_with("fixtures/expected/SUMMARY.json"),
                Some(dir.path().to_path_buf())
            );
            let p = dir.path().join("fixtures");
            assert_eq!(l.existing(&p), Some(p.clone()));
        }
    }

    #[test]
    fn missing_paths_skip_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let l = locator(&dir.path().join("absent"), false);
        assert_eq!(l.shared_with("fixtures"), None);
        assert_eq!(l.existing(&dir.path().join("nope")), None);
    }

    #[test]
    fn missing_paths_panic_when_required() {
        let dir = tempfile::tempdir().unwrap();
        let l = locator(&dir.path().join("absent"), true);
        let want = dir.path().join("absent/fixtures/parity");
        let err = catch_unwind(AssertUnwindSafe(|| l.shared_with("fixtures/parity")))
            .expect_err("a missing fixture must panic under SNNKIT_REQUIRE_SHARED=1");
        let msg = err
            .downcast_ref::<String>()
            .cloned()
            .expect("panic message is a String");
        assert!(msg.contains("SNNKIT_REQUIRE_SHARED=1"), "{msg}");
        assert!(msg.contains(&want.display().to_string()), "{msg}");
        assert!(msg.contains("SNNKIT_SHARED"), "{msg}");
    }
}
