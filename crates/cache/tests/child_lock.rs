//! A child process started while a cache is open must not keep HDF5's file lock alive after the cache is closed.
//!
//! This test lives alone in its own test binary. Sharing a process with the writer/reader tests, which open
//! HDF5 files on other threads while the child is forked, it failed about one run in three (the reopen found
//! the lock held); alone it has not failed.

mod common;

use common::{meta, sample};
use snnkit_cache::{CacheReader, CacheWriter};

const T: usize = 3;
const H: usize = 6;
const W: usize = 5;
const LEN: usize = T * 2 * H * W;

fn write_all(path: &std::path::Path, samples: &[Vec<u32>]) {
    let m = meta(T, H, W, 4);
    let mut w = CacheWriter::create(path, &m).unwrap();
    for (i, s) in samples.iter().enumerate() {
        w.append(s, (i % 4) as u16, &format!("f{i}.bin#0")).unwrap();
    }
    w.finish(&[]).unwrap();
}

#[test]
fn child_processes_do_not_inherit_cache_locks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lock.h5");
    write_all(&path, &[sample(1, LEN, 9)]);
    let reader = CacheReader::open(&path).unwrap();
    // A child started while the cache is open must not keep HDF5's flock alive after we close it.
    let mut child = std::process::Command::new("sleep")
        .arg("5")
        .spawn()
        .unwrap();
    drop(reader);
    let reopened = hdf5::File::open_rw(&path);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        reopened.is_ok(),
        "cache locked by a child process: {:?}",
        reopened.err()
    );
}
