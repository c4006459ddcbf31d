//! Helpers shared by the integration tests: locating `../shared` (`snnkit_testdata`) and reading expected arrays.

#![allow(dead_code)]

use ndarray::{Array1, Array2};
use ndarray_npy::ReadNpyExt;
use snnkit_events::Events;

pub use snnkit_testdata::shared;

/// Reads an int64 `.npy` array of shape `[N, 4]`.
pub fn npy2(path: &std::path::Path) -> Array2<i64> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Array2::<i64>::read_npy(f).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads an int64 `.npy` vector.
pub fn npy1(path: &std::path::Path) -> Array1<i64> {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Array1::<i64>::read_npy(f).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Events as an `[N, 4]` array with columns in the order `cols` names (`"txyp"` or `"xytp"`).
pub fn to_array(ev: &Events, cols: &str) -> Array2<i64> {
    let mut a = Array2::<i64>::zeros((ev.len(), 4));
    for (j, c) in cols.chars().enumerate() {
        for i in 0..ev.len() {
            a[[i, j]] = match c {
                't' => ev.t[i],
                'x' => ev.x[i] as i64,
                'y' => ev.y[i] as i64,
                'p' => ev.p[i] as i64,
                _ => unreachable!(),
            };
        }
    }
    a
}

/// Asserts exact equality, reporting the first differing row.
pub fn assert_same(got: &Array2<i64>, want: &Array2<i64>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    if got != want {
        let row = (0..got.nrows())
            .find(|&i| got.row(i) != want.row(i))
            .unwrap();
        panic!(
            "{what}: first difference at row {row}: got {} want {}",
            got.row(row),
            want.row(row)
        );
    }
}
