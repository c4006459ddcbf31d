//! Usage errors: a bad flag value or combination that clap's own checks cannot see. `main` exits
//! with status 2 for them (as clap does for its own), 1 for every other error (see docs/cli.md).

use std::fmt;

/// A usage error; the message names the flag.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// `anyhow::Error` of a [`Usage`] error, `format!`-style.
macro_rules! usage {
    ($($arg:tt)*) => {
        anyhow::Error::new($crate::usage::Usage(format!($($arg)*)))
    };
}
pub(crate) use usage;

/// True when `e` (or an error it wraps) is a [`Usage`] error.
pub fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<Usage>())
}

/// Checks that `path` ends in `.ext` (case-insensitive), else a usage error naming `flag`.
pub fn require_extension(flag: &str, path: &std::path::Path, ext: &str) -> anyhow::Result<()> {
    let ok = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(ext));
    if ok {
        Ok(())
    } else {
        Err(usage!(
            "{flag} {}: this command writes .{ext}; give a file name ending in .{ext}",
            path.display()
        ))
    }
}

/// Creates the parent folder of the output file `path` (nothing for a bare file name).
pub fn create_parent(path: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    Ok(())
}
