//! `read` and `info`: event files into NumPy structured arrays; and the reverse direction, any
//! structured array with integer fields `t`, `x`, `y`, `p` into [`Events`] columns.

use std::path::{Path, PathBuf};

use numpy::{PyUntypedArray, PyUntypedArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use rayon::prelude::*;
use snnkit_events::{Aedat2Layout, AtisOverflow, Events, Format, Profile, ReadOptions};

use crate::{error, pool};

/// Bytes of one record of [`event_dtype`]: `t` i64, `x` u16, `y` u16, `p` u8, packed.
const RECORD: usize = 13;

/// Events per parallel task when converting between columns and records.
const TASK: usize = 1 << 16;

/// `numpy.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])`: Tonic's field names,
/// snnkit's column types, packed (13 bytes per event) as Tonic's structured arrays are.
pub fn event_dtype(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let fields = vec![("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")];
    py.import("numpy")?.call_method1("dtype", (fields,))
}

/// The library options of the keyword arguments shared by `read` and `info`.
fn options(
    format: Option<&str>,
    profile: Option<&str>,
    strict: bool,
    atis_overflow: &str,
    aedat2_layout: Option<&str>,
) -> PyResult<ReadOptions> {
    let parse_err = |e: snnkit_events::ParseNameError| error::value(e.to_string());
    Ok(ReadOptions {
        format: format
            .map(str::parse::<Format>)
            .transpose()
            .map_err(parse_err)?,
        profile: profile
            .map(str::parse::<Profile>)
            .transpose()
            .map_err(parse_err)?,
        strict,
        atis_overflow: match atis_overflow {
            "spikingjelly" => AtisOverflow::SpikingJelly,
            "tonic" => AtisOverflow::Tonic,
            other => {
                return Err(error::value(format!(
                    "unknown atis_overflow '{other}'; expected one of spikingjelly, tonic"
                )))
            }
        },
        aedat2_layout: aedat2_layout
            .map(str::parse::<Aedat2Layout>)
            .transpose()
            .map_err(parse_err)?,
        aedat2_orientation: Default::default(),
    })
}

/// Decodes `path` with the GIL released.
fn decode(py: Python<'_>, path: &Path, opts: &ReadOptions) -> PyResult<snnkit_events::Recording> {
    py.detach(|| pool::install(|| snnkit_events::read_file(path, opts)))
        .map_err(error::events)
}

/// Reads an event file into a NumPy structured array with fields ``t`` (int64, µs), ``x``, ``y``
/// (uint16) and ``p`` (uint8), in file order.
///
/// ``format`` is one of ``aedat2``, ``aedat3``, ``aedat4``, ``atis-bin``, ``hdf5`` (detected from
/// the header when ``None``); ``profile`` one of ``dvs128-gesture``, ``cifar10-dvs``, ``n-mnist``,
/// ``n-caltech101`` (sensor size and SpikingJelly's coordinate convention). ``strict`` drops
/// AEDAT 3.1 events whose validity bit is 0 and AEDAT 2.0 external events (SpikingJelly keeps
/// them). ``atis_overflow="tonic"`` treats ATIS ``y == 240`` rows as Tonic does;
/// ``aedat2_layout`` forces ``dvs128`` or ``davis`` addresses.
///
/// Raises ``FileNotFoundError`` / ``OSError`` when the file cannot be read and ``ValueError``
/// for damaged or unknown data, with the message ``snnkit events`` prints (file and byte offset).
#[pyfunction]
#[pyo3(signature = (path, format=None, profile=None, strict=false, *, atis_overflow="spikingjelly", aedat2_layout=None))]
pub fn read<'py>(
    py: Python<'py>,
    path: PathBuf,
    format: Option<&str>,
    profile: Option<&str>,
    strict: bool,
    atis_overflow: &str,
    aedat2_layout: Option<&str>,
) -> PyResult<Bound<'py, PyAny>> {
    let opts = options(format, profile, strict, atis_overflow, aedat2_layout)?;
    let rec = decode(py, &path, &opts)?;
    to_structured(py, &rec.events)
}

/// What ``snnkit inspect --json`` prints, as a dict: ``file``, ``format``, ``width``,
/// ``height`` (``None`` when neither the file nor the profile says), ``events``, ``t_min``,
/// ``t_max`` (``None`` without events), ``on``, ``off``. Takes the arguments of :func:`read`.
#[pyfunction]
#[pyo3(signature = (path, format=None, profile=None, strict=false, *, atis_overflow="spikingjelly", aedat2_layout=None))]
pub fn info<'py>(
    py: Python<'py>,
    path: PathBuf,
    format: Option<&str>,
    profile: Option<&str>,
    strict: bool,
    atis_overflow: &str,
    aedat2_layout: Option<&str>,
) -> PyResult<Bound<'py, PyDict>> {
    let opts = options(format, profile, strict, atis_overflow, aedat2_layout)?;
    let rec = decode(py, &path, &opts)?;
    let s = rec.summary();
    let d = PyDict::new(py);
    d.set_item("file", path.display().to_string())?;
    d.set_item("format", rec.format.name())?;
    d.set_item("width", rec.width)?;
    d.set_item("height", rec.height)?;
    d.set_item("events", s.events)?;
    d.set_item("t_min", s.t_min)?;
    d.set_item("t_max", s.t_max)?;
    d.set_item("on", s.on)?;
    d.set_item("off", s.off)?;
    Ok(d)
}

/// The columns as one new structured array of [`event_dtype`], filled in parallel without the GIL
/// (the one pass that turns columns into records; no other copy is made).
pub fn to_structured<'py>(py: Python<'py>, ev: &Events) -> PyResult<Bound<'py, PyAny>> {
    let n = ev.len();
    let arr = py
        .import("numpy")?
        .call_method1("empty", (n, event_dtype(py)?))?;
    if n == 0 {
        return Ok(arr);
    }
    let untyped = arr.cast::<PyUntypedArray>()?;
    // SAFETY: a freshly allocated, C-contiguous array of n 13-byte records that no other code can
    // reach until it is returned.
    let data = unsafe { (*untyped.as_array_ptr()).fields.data } as usize;
    py.detach(|| {
        pool::install(|| {
            // SAFETY: see above; the array outlives this call (`arr` holds a reference).
            let buf = unsafe { std::slice::from_raw_parts_mut(data as *mut u8, n * RECORD) };
            buf.par_chunks_mut(TASK * RECORD)
                .enumerate()
                .for_each(|(c, out)| {
                    for (k, rec) in out.chunks_exact_mut(RECORD).enumerate() {
                        let i = c * TASK + k;
                        rec[0..8].copy_from_slice(&ev.t[i].to_le_bytes());
                        rec[8..10].copy_from_slice(&ev.x[i].to_le_bytes());
                        rec[10..12].copy_from_slice(&ev.y[i].to_le_bytes());
                        rec[12] = ev.p[i];
                    }
                });
        })
    });
    Ok(arr)
}

/// Where and how one integer field lies in a record.
#[derive(Clone, Copy, Debug)]
struct Field {
    name: &'static str,
    offset: usize,
    size: usize,
    signed: bool,
    big_endian: bool,
}

impl Field {
    /// Reads the field of one record as a wide integer.
    #[inline(always)]
    fn load(&self, rec: &[u8]) -> i128 {
        let b = &rec[self.offset..self.offset + self.size];
        let mut word = [0u8; 8];
        if self.big_endian {
            for (k, &v) in b.iter().rev().enumerate() {
                word[k] = v;
            }
        } else {
            word[..self.size].copy_from_slice(b);
        }
        let raw = u64::from_le_bytes(word);
        if self.signed {
            let shift = 64 - 8 * self.size as u32;
            i128::from(((raw << shift) as i64) >> shift)
        } else {
            i128::from(raw)
        }
    }
}

/// The layout of field `name` in a structured dtype; integer and bool kinds only.
fn field(dtype: &Bound<'_, PyAny>, name: &'static str) -> PyResult<Field> {
    let fields = dtype.getattr("fields")?;
    if fields.is_none() {
        return Err(error::value(format!(
            "events must be a structured array with fields t, x, y, p (as snnkit.read and Tonic \
             return); got dtype {}",
            dtype.str()?
        )));
    }
    let Some(entry) = fields.get_item(name).ok() else {
        return Err(error::value(format!(
            "events has no field '{name}'; expected fields t, x, y, p, got dtype {}",
            dtype.str()?
        )));
    };
    let entry = entry.cast::<PyTuple>()?;
    let fdt = entry.get_item(0)?;
    let offset: usize = entry.get_item(1)?.extract()?;
    let kind: String = fdt.getattr("kind")?.extract()?;
    let size: usize = fdt.getattr("itemsize")?.extract()?;
    let byteorder: String = fdt.getattr("byteorder")?.extract()?;
    let subarray = !fdt.getattr("shape")?.cast::<PyTuple>()?.is_empty();
    if !matches!(kind.as_str(), "i" | "u" | "b") || !matches!(size, 1 | 2 | 4 | 8) || subarray {
        return Err(error::value(format!(
            "events field '{name}' has dtype {}; snnkit needs an integer (or bool) field \
             (timestamps in µs)",
            fdt.str()?
        )));
    }
    let big_endian = byteorder == ">" || (byteorder == "=" && cfg!(target_endian = "big"));
    Ok(Field {
        name,
        offset,
        size,
        signed: kind == "i",
        big_endian,
    })
}

/// Converts one field of every record with `conv`, in parallel; the first value `conv` refuses is
/// reported with its event index.
fn gather<T: Copy + Default + Send>(
    buf: &[u8],
    itemsize: usize,
    f: Field,
    conv: impl Fn(i128) -> Option<T> + Sync,
) -> Result<Vec<T>, (usize, i128)> {
    let n = buf.len() / itemsize;
    let mut out = vec![T::default(); n];
    let bad: Vec<(usize, i128)> = out
        .par_chunks_mut(TASK)
        .enumerate()
        .filter_map(|(c, dst)| {
            let recs = &buf[c * TASK * itemsize..];
            for (k, (d, rec)) in dst.iter_mut().zip(recs.chunks(itemsize)).enumerate() {
                let v = f.load(rec);
                match conv(v) {
                    Some(x) => *d = x,
                    None => return Some((c * TASK + k, v)),
                }
            }
            None
        })
        .collect();
    match bad.into_iter().min_by_key(|b| b.0) {
        Some(b) => Err(b),
        None => Ok(out),
    }
}

/// The columns of a structured array with integer (or bool) fields `t`, `x`, `y`, `p` of any
/// width, order and byte order: `snnkit.read`'s arrays and Tonic's alike. Values that do not fit
/// snnkit's columns (`x`, `y` outside 0..=65535, `p` outside 0..=255) are a `ValueError` naming
/// the event.
pub fn columns(py: Python<'_>, events: &Bound<'_, PyAny>) -> PyResult<Events> {
    let arr = py
        .import("numpy")?
        .call_method1("ascontiguousarray", (events,))?;
    let untyped = arr.cast::<PyUntypedArray>()?;
    let dtype = arr.getattr("dtype")?;
    if untyped.ndim() != 1 {
        return Err(error::value(format!(
            "events must be a one-dimensional structured array; got shape {:?}",
            untyped.shape()
        )));
    }
    let fields = [
        field(&dtype, "t")?,
        field(&dtype, "x")?,
        field(&dtype, "y")?,
        field(&dtype, "p")?,
    ];
    let itemsize: usize = dtype.getattr("itemsize")?.extract()?;
    let n = untyped.len();
    if n == 0 {
        return Ok(Events::default());
    }
    // SAFETY: a C-contiguous array of n records of `itemsize` bytes, kept alive by `arr`.
    let data = unsafe { (*untyped.as_array_ptr()).fields.data } as usize;
    if itemsize == RECORD && is_own_layout(&fields) {
        return Ok(py.detach(|| {
            pool::install(|| {
                // SAFETY: see above.
                let buf = unsafe { std::slice::from_raw_parts(data as *const u8, n * RECORD) };
                split_records(buf)
            })
        }));
    }
    let result = py.detach(|| {
        pool::install(|| {
            // SAFETY: see above.
            let buf = unsafe { std::slice::from_raw_parts(data as *const u8, n * itemsize) };
            let [ft, fx, fy, fp] = fields;
            let name = |f: Field| move |e: (usize, i128)| (f.name, e.0, e.1);
            Ok::<_, (&str, usize, i128)>(Events {
                t: gather(buf, itemsize, ft, |v| i64::try_from(v).ok()).map_err(name(ft))?,
                x: gather(buf, itemsize, fx, |v| u16::try_from(v).ok()).map_err(name(fx))?,
                y: gather(buf, itemsize, fy, |v| u16::try_from(v).ok()).map_err(name(fy))?,
                p: gather(buf, itemsize, fp, |v| u8::try_from(v).ok()).map_err(name(fp))?,
            })
        })
    });
    result.map_err(|(name, i, v)| {
        let range = match name {
            "t" => "-2^63..2^63",
            "p" => "0..=255",
            _ => "0..=65535",
        };
        error::value(format!(
            "events[{i}]: {name} = {v} is outside {range}, the range snnkit stores it in"
        ))
    })
}

/// Whether the fields lie as [`event_dtype`] lays them out (the arrays `read` returns).
fn is_own_layout(fields: &[Field; 4]) -> bool {
    let at = |f: &Field, offset, size, signed| {
        f.offset == offset && f.size == size && f.signed == signed && !f.big_endian
    };
    at(&fields[0], 0, 8, true)
        && at(&fields[1], 8, 2, false)
        && at(&fields[2], 10, 2, false)
        && at(&fields[3], 12, 1, false)
}

/// [`event_dtype`] records into columns: every value fits, so nothing is checked (the fast path
/// of `to_frames` on what `read` returned).
fn split_records(buf: &[u8]) -> Events {
    let n = buf.len() / RECORD;
    let mut ev = Events {
        t: vec![0; n],
        x: vec![0; n],
        y: vec![0; n],
        p: vec![0; n],
    };
    let Events { t, x, y, p } = &mut ev;
    t.par_chunks_mut(TASK)
        .zip(x.par_chunks_mut(TASK))
        .zip(y.par_chunks_mut(TASK))
        .zip(p.par_chunks_mut(TASK))
        .enumerate()
        .for_each(|(c, (((t, x), y), p))| {
            let recs = buf[c * TASK * RECORD..].chunks_exact(RECORD);
            for (k, rec) in recs.take(t.len()).enumerate() {
                let mut tb = [0u8; 8];
                tb.copy_from_slice(&rec[0..8]);
                t[k] = i64::from_le_bytes(tb);
                x[k] = u16::from_le_bytes([rec[8], rec[9]]);
                y[k] = u16::from_le_bytes([rec[10], rec[11]]);
                p[k] = rec[12];
            }
        });
    ev
}
