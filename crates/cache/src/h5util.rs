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
pub(crate) fn write_sample<T: H5Type + Copy + Default, F: Fn(u32) -> T>(
    ds: &hdf5::Dataset,
    path: &Path,
    row: usize,
    dims: [usize; 4],
    counts: &[u32],
    narrow: F,
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

extern "C" {
    // HDF5 C API; for the default (sec2) driver the handle is a pointer to the POSIX file descriptor.
    fn H5Fget_vfd_handle(
        file_id: i64,
        fapl_id: i64,
        file_handle: *mut *mut std::os::raw::c_void,
    ) -> i32;
}

#[cfg(unix)]
extern "C" {
    fn fcntl(fd: std::os::raw::c_int, cmd: std::os::raw::c_int, ...) -> std::os::raw::c_int;
}

/// Marks the file descriptor of an open HDF5 file close-on-exec. HDF5 opens files without `O_CLOEXEC`, so a
/// child process started while a cache is open (a test runner, `snnkit demo` running subcommands) would inherit
/// the descriptor and with it HDF5's `flock` lock, and the file could not be reopened until that child exits.
pub(crate) fn close_on_exec(file: &hdf5::File) {
    #[cfg(unix)]
    {
        const F_GETFD: std::os::raw::c_int = 1;
        const F_SETFD: std::os::raw::c_int = 2;
        const FD_CLOEXEC: std::os::raw::c_int = 1;
        let mut handle: *mut std::os::raw::c_void = std::ptr::null_mut();
        // SAFETY: `file.id()` is a live file id; H5P_DEFAULT (0) selects the file's own access properties; on
        // success `handle` points to the sec2 driver's `int` descriptor, which stays valid while the file is open.
        // fcntl on that descriptor only changes its flags. Failures leave the descriptor as it was.
        hdf5::sync::sync(|| unsafe {
            if H5Fget_vfd_handle(file.id(), 0, &mut handle) >= 0 && !handle.is_null() {
                let fd = *(handle as *const std::os::raw::c_int);
                let flags = fcntl(fd, F_GETFD);
                if flags >= 0 {
                    fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
                }
            }
        });
    }
}

/// `hdf5::File::open` + [`close_on_exec`].
pub(crate) fn open_file(path: &Path) -> Result<hdf5::File> {
    let f = hdf5::File::open(path).h5(path)?;
    close_on_exec(&f);
    Ok(f)
}

/// `hdf5::File::open_rw` + [`close_on_exec`].
pub(crate) fn open_file_rw(path: &Path) -> Result<hdf5::File> {
    let f = hdf5::File::open_rw(path).h5(path)?;
    close_on_exec(&f);
    Ok(f)
}

/// `hdf5::File::create` + [`close_on_exec`].
pub(crate) fn create_file(path: &Path) -> Result<hdf5::File> {
    let f = hdf5::File::create(path).h5(path)?;
    close_on_exec(&f);
    Ok(f)
}
