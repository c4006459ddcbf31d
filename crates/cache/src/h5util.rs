//! Small helpers over the hdf5 bindings: string and integer attributes, typed sample writes.

use std::path::Path;
use std::str::FromStr;

use hdf5::types::VarLenUnicode;
use hdf5::{H5Type, Location};

use crate::error::{Error, H5Context, Result};

/// Writes (or replaces) a scalar UTF-8 string attribute.
pub(crate) fn set_str(loc: &Location, path: &Path, name: &str, value: &str) -> Result<()> {
    let v = VarLenUnicode::from_str(value).map_err(|e| Error::Invalid {
        path: path.to_path_buf(),
        reason: format!("attribute {name}: {e}"),
    })?;
    if loc.attr_names().h5(path)?.iter().any(|n| n == name) {
        loc.delete_attr(name).h5(path)?;
    }
    let attr = loc
        .new_attr::<VarLenUnicode>()
        .shape(())
        .create(name)
        .h5(path)?;
    attr.as_writer().write_scalar(&v).h5(path)
}

/// Writes (or overwrites) a scalar `u64` attribute.
pub(crate) fn set_u64(loc: &Location, path: &Path, name: &str, value: u64) -> Result<()> {
    let attr = if loc.attr_names().h5(path)?.iter().any(|n| n == name) {
        loc.attr(name).h5(path)?
    } else {
        loc.new_attr::<u64>().shape(()).create(name).h5(path)?
    };
    attr.as_writer().write_scalar(&value).h5(path)
}

/// Reads a scalar string attribute; a missing attribute is an [`Error::Invalid`] naming it.
pub(crate) fn get_str(loc: &Location, path: &Path, name: &str) -> Result<String> {
    let attr = loc.attr(name).map_err(|_| missing(path, name))?;
    let v: VarLenUnicode = attr.as_reader().read_scalar().map_err(|e| Error::Invalid {
        path: path.to_path_buf(),
        reason: format!("attribute {name} is not a string: {e}"),
    })?;
    Ok(v.as_str().to_owned())
}

/// Reads a scalar unsigned integer attribute (any integer width); missing → [`Error::Invalid`].
pub(crate) fn get_u64(loc: &Location, path: &Path, name: &str) -> Result<u64> {
    let attr = loc.attr(name).map_err(|_| missing(path, name))?;
    attr.as_reader()
        .read_scalar::<u64>()
        .map_err(|e| Error::Invalid {
            path: path.to_path_buf(),
            reason: format!("attribute {name} is not an unsigned integer: {e}"),
        })
}

/// Whether `loc` has attribute `name`.
pub(crate) fn has_attr(loc: &Location, name: &str) -> bool {
    loc.attr_names()
        .map(|n| n.iter().any(|a| a == name))
        .unwrap_or(false)
}

fn missing(path: &Path, name: &str) -> Error {
    Error::Invalid {
        path: path.to_path_buf(),
        reason: format!("attribute {name} is missing"),
    }
}

/// Writes one sample (`counts`, `[t_in, 2, H, W]` flattened) at row `row` of a `[N, T, 2, H, W]` dataset whose
/// element type is `T`, zero-padding frames `t_in..T`. The caller has checked that every count fits in `T`.
pub(crate) fn write_sample<T: H5Type + Copy + Default>(
    ds: &hdf5::Dataset,
    path: &Path,
    row: usize,
    dims: [usize; 4],
    counts: &[u32],
    narrow: fn(u32) -> T,
) -> Result<()> {
    let mut buf = vec![T::default(); dims.iter().product()];
    for (dst, &src) in buf.iter_mut().zip(counts) {
        *dst = narrow(src);
    }
    let view = ndarray17::ArrayView::from_shape((1, dims[0], dims[1], dims[2], dims[3]), &buf)
        .map_err(|e| Error::Usage(format!("sample shape: {e}")))?;
    ds.as_writer()
        .write_slice(&view, ndarray17::s![row..row + 1, .., .., .., ..])
        .h5(path)
}
