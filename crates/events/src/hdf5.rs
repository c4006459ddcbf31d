//! HDF5 event files: DSEC and event_utils layouts (reader), DSEC layout (writer).
//!
//! * **DSEC** (`events.h5`): datasets `events/x`, `events/y` (u16), `events/t` (u32 µs relative
//!   to `t_offset`), `events/p` (u8 0/1), scalar `t_offset` (i64 µs) and `ms_to_idx` (u64; index of
//!   the first event at or after each millisecond). Events get `t = events/t + t_offset`, the
//!   absolute time in µs (missing `t_offset` counts as 0).
//! * **event_utils** (TimoStoff/event_utils): `events/xs`, `events/ys` (i16), `events/ts` (f64
//!   **seconds**), `events/ps` (bool); the root attribute `sensor_resolution` is `[height, width]`.
//!   Events get `t = round(ts · 10^6)` µs.
//!
//! Any integer or float storage type is accepted (HDF5 converts on read); `p` may be integer or
//! boolean, non-zero meaning ON. The sensor size comes from the profile, the root attributes
//! `width`/`height` (written by [`write()`]) or `sensor_resolution`. Compressed datasets need the
//! matching HDF5 filter (deflate, and Blosc with lz4 or zstd and LZF are built into the hdf5 crate here, so DSEC files
//! open without a plugin; other filters still need one on `HDF5_PLUGIN_PATH`).
//! HDF5 errors carry the dataset name instead of a byte offset.

use crate::error::Error;
use crate::format::{Format, ReadOptions};
use crate::recording::{finish, Recording};
use crate::types::Events;
use hdf5::types::{IntSize, TypeDescriptor};
use std::path::Path;

/// Options for [`write()`].
#[derive(Debug, Clone, Default)]
pub struct Hdf5WriteOptions {
    /// Sensor size `(width, height)`, stored as root attributes `width` and `height`.
    pub sensor_size: Option<(u16, u16)>,
    /// `t_offset` in µs; by default the smallest timestamp, so `events/t` starts at 0.
    pub t_offset: Option<i64>,
    /// Deflate level 0–9 for the event datasets (`None`: uncompressed, readable everywhere).
    pub deflate: Option<u8>,
}

/// The library's error on `object`, kept as the source.
fn h5lib(path: &Path, object: &str, source: hdf5::Error) -> Error {
    Error::Hdf5Library {
        path: path.to_path_buf(),
        object: object.to_string(),
        source,
    }
}

fn h5err(path: &Path, object: &str, e: impl std::fmt::Display) -> Error {
    Error::Hdf5 {
        path: path.to_path_buf(),
        object: object.to_string(),
        message: e.to_string(),
    }
}

/// A column in its stored type where that is one the events use (HDF5 conversions are slow),
/// else as i64 (other integers) or f64 (floats).
enum Column {
    U8(Vec<u8>),
    U16(Vec<u16>),
    Int(Vec<i64>),
    Float(Vec<f64>),
}

fn read_column(path: &Path, file: &hdf5::File, name: &str) -> Result<Column, Error> {
    let fail = |e: hdf5::Error| h5lib(path, name, e);
    let ds = file.dataset(name).map_err(fail)?;
    let shape = ds.shape();
    if shape.len() != 1 {
        return Err(h5err(
            path,
            name,
            format!("expected a 1-D dataset, found shape {shape:?}"),
        ));
    }
    let desc = ds.dtype().and_then(|t| t.to_descriptor()).map_err(fail)?;
    check_declared_size(path, name, shape[0], desc.size(), ds.storage_size())?;
    match desc {
        TypeDescriptor::Unsigned(IntSize::U1) => ds.read_raw::<u8>().map(Column::U8).map_err(fail),
        TypeDescriptor::Unsigned(IntSize::U2) => {
            ds.read_raw::<u16>().map(Column::U16).map_err(fail)
        }
        // Widening in Rust is much faster than libhdf5's conversion path.
        TypeDescriptor::Unsigned(IntSize::U4) => ds
            .read_raw::<u32>()
            .map(|v| Column::Int(v.into_iter().map(i64::from).collect()))
            .map_err(fail),
        TypeDescriptor::Integer(IntSize::U2) => ds
            .read_raw::<i16>()
            .map(|v| Column::Int(v.into_iter().map(i64::from).collect()))
            .map_err(fail),
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => {
            ds.read_raw::<i64>().map(Column::Int).map_err(fail)
        }
        TypeDescriptor::Float(_) => ds.read_raw::<f64>().map(Column::Float).map_err(fail),
        TypeDescriptor::Boolean | TypeDescriptor::Enum(_) => ds
            .read_raw::<bool>()
            .map(|v| Column::Int(v.into_iter().map(i64::from).collect()))
            .map_err(fail),
        other => Err(h5err(
            path,
            name,
            format!("expected numbers, found {other:?}"),
        )),
    }
}

/// The most a stored byte can expand to: deflate tops out near 1032:1; anything beyond that is a damaged or
/// hostile header, and reading it would allocate memory the file cannot fill.
const MAX_EXPANSION: u64 = 1100;

/// Refuses a dataset whose header declares far more elements than its stored bytes can hold, before its
/// contents are allocated (a few hundred bytes of file could otherwise ask for terabytes).
fn check_declared_size(
    path: &Path,
    name: &str,
    elements: usize,
    element_size: usize,
    stored_bytes: u64,
) -> Result<(), Error> {
    let declared = (elements as u64).saturating_mul(element_size as u64);
    let limit = stored_bytes
        .saturating_mul(MAX_EXPANSION)
        .saturating_add(1 << 20);
    if declared > limit {
        return Err(h5err(
            path,
            name,
            format!(
                "declares {elements} elements ({declared} bytes) but stores only {stored_bytes} bytes"
            ),
        ));
    }
    Ok(())
}

fn ints(path: &Path, name: &str, c: Column) -> Result<Vec<i64>, Error> {
    match c {
        Column::U8(v) => Ok(v.into_iter().map(i64::from).collect()),
        Column::U16(v) => Ok(v.into_iter().map(i64::from).collect()),
        Column::Int(v) => Ok(v),
        Column::Float(v) => v
            .into_iter()
            .map(|f| {
                (f.fract() == 0.0 && f.abs() < 9e15)
                    .then_some(f as i64)
                    .ok_or_else(|| h5err(path, name, format!("expected whole numbers, found {f}")))
            })
            .collect(),
    }
}

fn coords(path: &Path, name: &str, c: Column) -> Result<Vec<u16>, Error> {
    match c {
        Column::U16(v) => return Ok(v),
        Column::U8(v) => return Ok(v.into_iter().map(u16::from).collect()),
        _ => {}
    }
    ints(path, name, c)?
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            u16::try_from(v).map_err(|_| {
                h5err(
                    path,
                    name,
                    format!("element {i} = {v} is not a coordinate in 0..65536"),
                )
            })
        })
        .collect()
}

fn attr_i64s(file: &hdf5::File, name: &str) -> Option<Vec<i64>> {
    file.attr(name).ok()?.read_raw::<i64>().ok()
}

/// Reads an HDF5 event file (DSEC or event_utils layout).
pub fn read(path: &Path, opts: &ReadOptions) -> Result<Recording, Error> {
    let file = hdf5::File::open(path).map_err(|e| h5lib(path, "/", e))?;
    let dsec = file.link_exists("events") && file.link_exists("events/t");
    let utils = file.link_exists("events") && file.link_exists("events/ts");
    let (names, seconds) = if dsec {
        (["events/t", "events/x", "events/y", "events/p"], false)
    } else if utils {
        (["events/ts", "events/xs", "events/ys", "events/ps"], true)
    } else {
        return Err(h5err(
            path,
            "/events",
            "expected events/{t,x,y,p} (DSEC) or events/{ts,xs,ys,ps} (event_utils)",
        ));
    };
    let t = match read_column(path, &file, names[0])? {
        Column::Float(v) if seconds => v
            .into_iter()
            .enumerate()
            .map(|(i, s)| {
                // NaN, infinities and times beyond i64 µs would cast silently to 0 or saturate.
                let us = (s * 1e6).round();
                (-9.2e18..9.2e18)
                    .contains(&us)
                    .then_some(us as i64)
                    .ok_or_else(|| {
                        h5err(
                            path,
                            names[0],
                            format!("element {i} = {s} s is not a timestamp"),
                        )
                    })
            })
            .collect::<Result<_, _>>()?,
        c => ints(path, names[0], c)?,
    };
    let x = coords(path, names[1], read_column(path, &file, names[1])?)?;
    let y = coords(path, names[2], read_column(path, &file, names[2])?)?;
    let p: Vec<u8> = match read_column(path, &file, names[3])? {
        Column::U8(v) => v.into_iter().map(|v| (v != 0) as u8).collect(),
        c => ints(path, names[3], c)?
            .into_iter()
            .map(|v| (v != 0) as u8)
            .collect(),
    };
    if [x.len(), y.len(), p.len()].iter().any(|&n| n != t.len()) {
        return Err(h5err(
            path,
            "/events",
            format!(
                "columns of equal length, found t {}, x {}, y {}, p {}",
                t.len(),
                x.len(),
                y.len(),
                p.len()
            ),
        ));
    }
    let mut t = t;
    if dsec && file.link_exists("t_offset") {
        let off = file
            .dataset("t_offset")
            .and_then(|d| d.read_scalar::<i64>())
            .map_err(|e| h5lib(path, "t_offset", e))?;
        for v in &mut t {
            *v = v
                .checked_add(off)
                .ok_or_else(|| h5err(path, "t_offset", "timestamp overflow"))?;
        }
    }
    let file_size = match (attr_i64s(&file, "width"), attr_i64s(&file, "height")) {
        (Some(w), Some(h)) if w.len() == 1 && h.len() == 1 => Some((w[0], h[0])),
        _ => attr_i64s(&file, "sensor_resolution")
            .filter(|r| r.len() == 2)
            .map(|r| (r[1], r[0])),
    }
    .and_then(|(w, h)| Some((u16::try_from(w).ok()?, u16::try_from(h).ok()?)));
    let size = opts.profile.map(|p| p.sensor_size()).or(file_size);
    let events = Events { t, x, y, p };
    if let Some(size) = size {
        if let Some(i) = crate::source::first_outside(&events.x, &events.y, size) {
            return Err(h5err(
                path,
                names[1],
                format!(
                    "event {i} at x={}, y={} lies outside the {}x{} sensor",
                    events.x[i], events.y[i], size.0, size.1
                ),
            ));
        }
    }
    Ok(finish(Format::Hdf5, events, size))
}

/// Writes `events` in the DSEC layout (atomically: a temporary file in the same folder, renamed
/// when complete).
///
/// Requires `t >= t_offset`; `events/t` is u32 as in DSEC unless the span exceeds 2^32 µs, then
/// u64. `ms_to_idx` is written when the timestamps are sorted.
pub fn write(path: &Path, events: &Events, opts: &Hdf5WriteOptions) -> Result<(), Error> {
    let t_offset = opts
        .t_offset
        .unwrap_or_else(|| events.t.iter().copied().min().unwrap_or(0));
    let mut rel = Vec::with_capacity(events.len());
    for (i, &t) in events.t.iter().enumerate() {
        let Some(r) = t.checked_sub(t_offset).and_then(|r| u64::try_from(r).ok()) else {
            return Err(Error::Unwritable {
                path: path.to_path_buf(),
                index: i,
                message: format!("t - t_offset = {t} - {t_offset} is negative"),
            });
        };
        rel.push(r);
    }
    // DSEC stores u32 µs; a recording longer than 2^32 µs (71 minutes) keeps u64 so that it
    // still round-trips (readers accept any integer type).
    let wide = rel.iter().any(|&r| r > u32::MAX as u64);
    let p: Vec<u8> = events.p.iter().map(|&p| (p != 0) as u8).collect();
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    // libhdf5 writes the temporary file by name (truncating it, so it keeps its mode).
    let tmp = snnkit_fsutil::AtomicFile::create(path).map_err(io)?;
    let e = |obj: &str| {
        let obj = obj.to_string();
        move |err: hdf5::Error| h5lib(path, &obj, err)
    };
    {
        let file = hdf5::File::create(tmp.temp_path()).map_err(e("/"))?;
        let g = file.create_group("events").map_err(e("/events"))?;
        macro_rules! column {
            ($name:literal, $data:expr) => {{
                let b = g.new_dataset_builder();
                let b = match opts.deflate {
                    Some(level) if !$data.is_empty() => {
                        b.chunk($data.len().min(1 << 16)).deflate(level.min(9))
                    }
                    _ => b,
                };
                b.with_data(&$data[..])
                    .create($name)
                    .map_err(e(concat!("events/", $name)))?;
            }};
        }
        column!("x", events.x);
        column!("y", events.y);
        if wide {
            column!("t", rel);
        } else {
            let narrow: Vec<u32> = rel.iter().map(|&r| r as u32).collect();
            column!("t", narrow);
        }
        column!("p", p);
        file.new_dataset::<i64>()
            .create("t_offset")
            .and_then(|d| d.write_scalar(&t_offset))
            .map_err(e("t_offset"))?;
        if rel.windows(2).all(|w| w[0] <= w[1]) {
            let last_ms = rel.last().map_or(0, |&t| t as usize / 1000);
            let ms_to_idx: Vec<u64> = (0..=last_ms)
                .map(|ms| rel.partition_point(|&t| (t as usize) < ms * 1000) as u64)
                .collect();
            file.new_dataset_builder()
                .with_data(&ms_to_idx[..])
                .create("ms_to_idx")
                .map_err(e("ms_to_idx"))?;
        }
        if let Some((w, h)) = opts.sensor_size {
            for (name, v) in [("width", w), ("height", h)] {
                file.new_attr::<u16>()
                    .create(name)
                    .and_then(|a| a.write_scalar(&v))
                    .map_err(e(name))?;
            }
        }
        file.close().map_err(e("/"))?;
    }
    tmp.commit().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Profile};

    fn sample(n: i64) -> Events {
        (0..n)
            .map(|i| Event {
                t: 1_605_537_493_718_345 + i * 37,
                x: (i % 320) as u16,
                y: (i * 7 % 240) as u16,
                p: (i % 3 == 0) as u8,
            })
            .collect()
    }

    #[test]
    fn dsec_round_trip_with_deflate_and_ms_index() {
        let ev = sample(30_000);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.h5");
        let opts = Hdf5WriteOptions {
            sensor_size: Some((320, 240)),
            deflate: Some(4),
            ..Default::default()
        };
        write(&path, &ev, &opts).unwrap();
        let rec = read(&path, &ReadOptions::default()).unwrap();
        assert_eq!(rec.events, ev);
        assert_eq!((rec.width, rec.height), (Some(320), Some(240)));
        let f = hdf5::File::open(&path).unwrap();
        let idx = f.dataset("ms_to_idx").unwrap().read_raw::<u64>().unwrap();
        assert_eq!(idx[0], 0);
        assert_eq!(idx[1], 28); // first event with t_rel >= 1000 µs: ceil(1000 / 37)

        // A smaller profile sensor makes the same file an error naming the dataset.
        let small = ReadOptions {
            profile: Some(Profile::NMnist),
            ..Default::default()
        };
        let err = read(&path, &small).unwrap_err().to_string();
        assert!(
            err.contains("events.h5") && err.contains("outside"),
            "{err}"
        );
    }

    #[test]
    fn event_utils_seconds_and_non_finite_times() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("u.h5");
        let write_utils = |ts: &[f64]| {
            let f = hdf5::File::create(&path).unwrap();
            let g = f.create_group("events").unwrap();
            let n = ts.len();
            g.new_dataset_builder().with_data(ts).create("ts").unwrap();
            for name in ["xs", "ys"] {
                g.new_dataset_builder()
                    .with_data(&vec![1i16; n][..])
                    .create(name)
                    .unwrap();
            }
            g.new_dataset_builder()
                .with_data(&vec![true; n][..])
                .create("ps")
                .unwrap();
        };
        write_utils(&[0.5, 1.0000015]);
        let rec = read(&path, &ReadOptions::default()).unwrap();
        assert_eq!(rec.events.t, vec![500_000, 1_000_002]);
        assert_eq!(rec.events.p, vec![1, 1]);
        for bad in [f64::NAN, f64::INFINITY, 1e300] {
            write_utils(&[0.5, bad]);
            let err = read(&path, &ReadOptions::default())
                .unwrap_err()
                .to_string();
            assert!(
                err.contains("events/ts") && err.contains("element 1"),
                "{err}"
            );
        }
    }

    #[test]
    fn empty_and_unwritable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.h5");
        write(&path, &Events::default(), &Hdf5WriteOptions::default()).unwrap();
        assert!(read(&path, &ReadOptions::default())
            .unwrap()
            .events
            .is_empty());
        let mut ev = sample(2);
        ev.t[1] += 1 << 33;
        // A span past 2^32 µs is stored as u64 and still round-trips.
        write(&path, &ev, &Hdf5WriteOptions::default()).unwrap();
        assert_eq!(read(&path, &ReadOptions::default()).unwrap().events, ev);
        let opts = Hdf5WriteOptions {
            t_offset: Some(ev.t[1]),
            ..Default::default()
        };
        assert!(matches!(
            write(&path, &ev, &opts),
            Err(Error::Unwritable { index: 0, .. })
        ));
    }

    #[test]
    fn header_declaring_more_than_the_file_holds_is_refused_before_allocating() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.h5");
        {
            let f = hdf5::File::create(&path).unwrap();
            let g = f.create_group("events").unwrap();
            // Chunked and never written: the header says 2^40 elements, the file stores none of them.
            for name in ["x", "y", "t", "p"] {
                g.new_dataset::<u16>()
                    .chunk(4096)
                    .shape(1usize << 40)
                    .create(name)
                    .unwrap();
            }
        }
        assert!(std::fs::metadata(&path).unwrap().len() < 64 * 1024);
        let err = read(&path, &ReadOptions::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("declares 1099511627776 elements") && err.contains("stores only"),
            "{err}"
        );
    }
}
