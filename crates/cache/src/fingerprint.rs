//! Source fingerprints: a hash of the raw file list with sizes and modification times, so a cache can tell that
//! the raw data it was built from has changed.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::UNIX_EPOCH;

/// 64-bit FNV-1a. Not cryptographic: it only has to notice that a file list, size or mtime changed.
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Fingerprint of `files` (paths relative to `root`, any order, duplicates ignored): `fnv1a64:` and 16 hex digits
/// over, for each file in sorted order, its relative path, its size and its mtime in nanoseconds. A file that
/// cannot be stat'ed contributes the marker `missing`, so the fingerprint still exists but differs.
pub fn fingerprint<S: AsRef<str>>(root: &Path, files: &[S]) -> String {
    let unique: BTreeSet<&str> = files.iter().map(|f| f.as_ref()).collect();
    let mut h = Fnv1a::new();
    for rel in unique {
        h.update(rel.as_bytes());
        h.update(&[0]);
        match std::fs::metadata(root.join(rel)) {
            Ok(md) => {
                h.update(&md.len().to_le_bytes());
                let mtime = md
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                h.update(&mtime.to_le_bytes());
            }
            Err(_) => h.update(b"missing"),
        }
        h.update(&[0xff]);
    }
    format!("fnv1a64:{:016x}", h.0)
}

/// The raw file part of a `/sources` entry (`"<file>#<segment>"` → `"<file>"`).
pub fn source_file(source: &str) -> &str {
    source.rsplit_once('#').map(|(f, _)| f).unwrap_or(source)
}

/// Whether a cache's stored fingerprint still matches its raw files.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FingerprintStatus {
    /// The raw files are unchanged.
    Match,
    /// The raw files changed (added, removed, resized or touched) since conversion.
    Mismatch {
        /// Stored in the cache.
        stored: String,
        /// Computed now.
        current: String,
    },
    /// The check could not run (no root recorded, or the root is not there, e.g. the cache was copied elsewhere).
    Unavailable {
        /// Why.
        reason: String,
    },
}

/// Current UTC time as RFC 3339 (`2026-11-29T04:40:00Z`), without a date crate.
pub(crate) fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_changes_with_size_and_list() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.bin"), b"abc").unwrap();
        std::fs::write(dir.path().join("b.bin"), b"de").unwrap();
        let f1 = fingerprint(dir.path(), &["a.bin", "b.bin"]);
        assert_eq!(f1, fingerprint(dir.path(), &["b.bin", "a.bin", "a.bin"]));
        assert_ne!(f1, fingerprint(dir.path(), &["a.bin"]));
        std::fs::write(dir.path().join("a.bin"), b"abcd").unwrap();
        assert_ne!(f1, fingerprint(dir.path(), &["a.bin", "b.bin"]));
        assert!(f1.starts_with("fnv1a64:") && f1.len() == 8 + 16);
    }

    #[test]
    fn source_file_splits_on_last_hash() {
        assert_eq!(source_file("user01/a#b.aedat#3"), "user01/a#b.aedat");
        assert_eq!(source_file("plain.bin"), "plain.bin");
    }

    #[test]
    fn rfc3339_shape() {
        let s = now_rfc3339();
        assert_eq!(s.len(), 20, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'));
    }
}
