//! Small helpers over the hdf5 bindings: string and integer attributes, typed sample writes.

use std::path::Path;
use std::str::FromStr;

use hdf5::types::VarLenUnicode;
use hdf5::{H5Type, Location};

use crate::error::{Error, H5Context, IoContext, Result};

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

/// An open HDF5 file plus the `flock` that guards it.
///
/// libhdf5 opens files without `O_CLOEXEC` and takes its `flock` on that descriptor, so a child process
/// started by another thread between the open and any later `fcntl(FD_CLOEXEC)` inherited the descriptor and
/// kept the lock after the cache was closed (a reopen then failed until the child exited). So HDF5's own locking
/// is switched off for the files this crate opens, and the same lock (`LOCK_SH` to read, `LOCK_EX` to write,
/// never waiting, as libhdf5 does) is taken on a descriptor opened by `std::fs`, which is close-on-exec from
/// the start: no window, whatever other threads do. Other HDF5 programs (h5py) still see the lock.
pub(crate) struct H5File {
    // Declared first so it is dropped (closed) before the lock is released.
    file: hdf5::File,
    _lock: std::fs::File,
}

impl std::ops::Deref for H5File {
    type Target = hdf5::File;
    fn deref(&self) -> &hdf5::File {
        &self.file
    }
}

impl H5File {
    /// Closes the HDF5 file (reporting errors), then releases the lock.
    pub(crate) fn close(self, path: &Path) -> Result<()> {
        self.file.close().h5(path)
    }
}

/// Opens (or creates) `path` for the lock and takes it without waiting.
fn lock(path: &Path, exclusive: bool, create: bool) -> Result<std::fs::File> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(create)
        .create(create)
        .truncate(false)
        .open(path)
        .io(path)?;
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let op = if exclusive {
            libc::LOCK_EX
        } else {
            libc::LOCK_SH
        };
        // SAFETY: flock on a descriptor this function owns; it only changes the lock state.
        if unsafe { libc::flock(f.as_raw_fd(), op | libc::LOCK_NB) } != 0 {
            let e = std::io::Error::last_os_error();
            // Only a held lock is an error; a file system without flock is used unlocked, as libhdf5
            // does when locking is unsupported.
            if e.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Ok(f);
            }
            return Err(Error::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(
                    e.kind(),
                    format!("the file is locked by another process ({e})"),
                ),
            });
        }
    }
    #[cfg(not(unix))]
    let _ = exclusive;
    Ok(f)
}

/// A file builder with HDF5's own locking off (the crate's lock is taken by [`lock`] instead).
fn builder() -> hdf5::FileBuilder {
    let mut b = hdf5::File::with_options();
    b.with_fapl(|p| p.file_locking(false));
    b
}

/// Marks the descriptor of an open HDF5 file close-on-exec, so children do not keep the file open. With the
/// lock held elsewhere (see [`H5File`]) an inherited descriptor no longer blocks anyone; this only keeps
/// children's descriptor tables clean.
fn close_on_exec(file: &hdf5::File) {
    #[cfg(unix)]
    {
        let mut handle: *mut std::os::raw::c_void = std::ptr::null_mut();
        // SAFETY: `file.id()` is a live file id; H5P_DEFAULT selects the file's own access properties; on
        // success `handle` points to the sec2 driver's `int` descriptor, which stays valid while the file is open.
        // fcntl on that descriptor only changes its flags. Failures leave the descriptor as it was.
        hdf5::sync::sync(|| unsafe {
            if hdf5_sys::h5f::H5Fget_vfd_handle(file.id(), hdf5_sys::h5p::H5P_DEFAULT, &mut handle)
                >= 0
                && !handle.is_null()
            {
                let fd = *(handle as *const std::os::raw::c_int);
                let flags = libc::fcntl(fd, libc::F_GETFD);
                if flags >= 0 {
                    libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                }
            }
        });
    }
}

/// Opens `path` read-only under a shared lock.
pub(crate) fn open_file(path: &Path) -> Result<H5File> {
    let lock = lock(path, false, false)?;
    let file = builder().open(path).h5(path)?;
    close_on_exec(&file);
    Ok(H5File { file, _lock: lock })
}

/// Opens `path` read-write under an exclusive lock.
pub(crate) fn open_file_rw(path: &Path) -> Result<H5File> {
    let lock = lock(path, true, false)?;
    let file = builder().open_rw(path).h5(path)?;
    close_on_exec(&file);
    Ok(H5File { file, _lock: lock })
}

/// Creates (truncates) `path` under an exclusive lock.
pub(crate) fn create_file(path: &Path) -> Result<H5File> {
    let lock = lock(path, true, true)?;
    let file = builder().create(path).h5(path)?;
    close_on_exec(&file);
    Ok(H5File { file, _lock: lock })
}
