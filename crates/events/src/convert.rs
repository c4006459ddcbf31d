//! Any-to-any event-file conversion, streaming where the formats allow it.
//!
//! [`convert`] reads any supported file and writes the format that the output's extension names
//! ([`Target::from_path`]): `.npy` (int64 `[N, 4]`: t, x, y, p), `.aedat4`, `.raw` (EVT 2.0 or
//! EVT 3.0), `.dat`, `.h5`/`.hdf5` (DSEC layout) or `.aedat` (AEDAT 3.1).
//!
//! Memory: EVT 2.0, EVT 3.0, DAT and ATIS inputs are decoded one range of words or records at a
//! time ([`for_each_batch`]), and every target except HDF5 is written as the batches arrive, so
//! those conversions run in constant memory whatever the file size. AEDAT 2.0/3.1/4 and HDF5
//! inputs are decoded whole first, and the HDF5 target collects the events before writing (its
//! `t_offset` and `ms_to_idx` need them all). Every output is written atomically.

use crate::error::{Ctx, Error};
use crate::format::{Format, ReadOptions};
use crate::types::Events;
use crate::{aedat3, aedat4, dat, evt2, evt3};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

/// Events per batch for the formats decoded whole (progress and sink granularity).
const BATCH: usize = 1 << 20;

/// An output format, named by the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `.npy`: int64 `[N, 4]`, columns t, x, y, p (the `snnkit events` contract).
    Npy,
    /// `.aedat4`: AEDAT 4.0, one LZ4-compressed event stream.
    Aedat4,
    /// `.aedat`: AEDAT 3.1 polarity packets.
    Aedat3,
    /// `.raw` written as EVT 2.0.
    Evt2,
    /// `.raw` written as EVT 3.0.
    Evt3,
    /// `.dat`: DAT version 2.
    Dat,
    /// `.h5` / `.hdf5`: the DSEC layout.
    Hdf5,
}

impl Target {
    /// Every target.
    pub const ALL: [Target; 7] = [
        Target::Npy,
        Target::Aedat4,
        Target::Aedat3,
        Target::Evt2,
        Target::Evt3,
        Target::Dat,
        Target::Hdf5,
    ];

    /// The target `path`'s extension names; `.raw` needs `raw` (`Format::Evt2` or `Format::Evt3`).
    pub fn from_path(path: &Path, raw: Option<Format>) -> Result<Target, Error> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let bad = |why: String| Error::UnsupportedOutput {
            path: path.to_path_buf(),
            message: why,
        };
        match ext.as_deref() {
            Some("npy") => Ok(Target::Npy),
            Some("aedat4") => Ok(Target::Aedat4),
            Some("aedat") => Ok(Target::Aedat3),
            Some("dat") => Ok(Target::Dat),
            Some("h5") | Some("hdf5") => Ok(Target::Hdf5),
            Some("raw") => match raw {
                Some(Format::Evt2) => Ok(Target::Evt2),
                Some(Format::Evt3) => Ok(Target::Evt3),
                _ => Err(bad(
                    "a .raw output needs its encoding: evt2 or evt3".to_string(),
                )),
            },
            other => Err(bad(format!(
                "no writable event format has the extension {:?}; use .npy, .aedat4, .aedat (AEDAT 3.1), .raw (EVT 2.0/3.0), .dat or .h5",
                other.unwrap_or("")
            ))),
        }
    }

    /// The file extension of this target.
    pub fn extension(self) -> &'static str {
        match self {
            Target::Npy => "npy",
            Target::Aedat4 => "aedat4",
            Target::Aedat3 => "aedat",
            Target::Evt2 | Target::Evt3 => "raw",
            Target::Dat => "dat",
            Target::Hdf5 => "h5",
        }
    }

    /// The format a reader detects in a file of this target (`None` for `.npy`).
    pub fn format(self) -> Option<Format> {
        match self {
            Target::Npy => None,
            Target::Aedat4 => Some(Format::Aedat4),
            Target::Aedat3 => Some(Format::Aedat3),
            Target::Evt2 => Some(Format::Evt2),
            Target::Evt3 => Some(Format::Evt3),
            Target::Dat => Some(Format::Dat),
            Target::Hdf5 => Some(Format::Hdf5),
        }
    }
}

/// What [`convert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Converted {
    /// The input's format.
    pub from: Format,
    /// The output's format.
    pub to: Target,
    /// Events written.
    pub events: usize,
    /// Sensor size written to the output header, when known.
    pub sensor_size: Option<(u16, u16)>,
}

/// The sensor size an input declares (header or profile), without decoding its events.
fn declared_size(
    path: &Path,
    format: Format,
    opts: &ReadOptions,
) -> Result<Option<(u16, u16)>, Error> {
    if let Some(p) = opts.profile {
        return Ok(Some(p.sensor_size()));
    }
    let ctx = Ctx { path };
    Ok(match format {
        Format::Evt2 | Format::Evt3 | Format::Dat => {
            let b = crate::source::open(path)?;
            crate::prophesee::parse_header(&b, ctx)?.size
        }
        _ => None,
    })
}

/// Calls `f(batch, bytes_done, bytes_total)` for the events of `path` in file order, in batches.
///
/// EVT 2.0 / EVT 3.0 / DAT / ATIS files are decoded one range at a time from the memory map
/// (constant memory); other formats are decoded whole, then handed over in batches. Returns the
/// format and the sensor size the file or profile declares.
pub fn for_each_batch(
    path: &Path,
    opts: &ReadOptions,
    mut f: impl FnMut(&Events, u64, u64) -> Result<(), Error>,
) -> Result<(Format, Option<(u16, u16)>), Error> {
    let format = match opts.format {
        Some(f) => f,
        None => crate::detect_file(path)?,
    };
    let ctx = Ctx { path };
    let streamable = match format {
        Format::Evt2 | Format::Evt3 | Format::Dat => true,
        Format::AtisBin => opts.atis_overflow == crate::AtisOverflow::SpikingJelly,
        _ => false,
    };
    if !streamable {
        let rec = crate::read_file(path, opts)?;
        let total = std::fs::metadata(path).map_or(0, |m| m.len());
        let ev = &rec.events;
        let n = ev.len();
        for s in (0..n).step_by(BATCH) {
            let e = (s + BATCH).min(n);
            let batch = ev.as_ref().slice(s..e).to_owned();
            f(
                &batch,
                (total as u128 * e as u128 / n.max(1) as u128) as u64,
                total,
            )?;
        }
        let size = rec.width.zip(rec.height);
        return Ok((format, size));
    }
    let b = crate::source::open(path)?;
    let total = b.len() as u64;
    let size = opts.profile.map(|p| p.sensor_size());
    let check = |ev: &Events, size: Option<(u16, u16)>, off: usize| {
        crate::prophesee::check_sensor(ev, size, ctx, |_| off)
    };
    match format {
        Format::Evt2 => {
            let body = evt2::body(&b, ctx)?;
            let size = size.or(body.size);
            let (ranges, _) = evt2::plan(&body, ctx)?;
            for (d, s, _) in ranges {
                let mut ev = Events::with_capacity(d.len() / 4);
                evt2::for_each_event(d, s, |t, x, y, p| ev.push(crate::Event { t, x, y, p }));
                let off = d.as_ptr() as usize - b.as_ptr() as usize;
                check(&ev, size, off)?;
                f(&ev, (off + d.len()) as u64, total)?;
            }
            Ok((format, size))
        }
        Format::Evt3 => {
            let body = evt3::body(&b, ctx)?;
            let size = size.or(body.size);
            let (ranges, _) = evt3::plan(&body, ctx)?;
            for (d, s, _) in ranges {
                let mut ev = Events::with_capacity(d.len() / 2);
                evt3::for_each_event(d, s, |t, x, y, p| ev.push(crate::Event { t, x, y, p }));
                let off = d.as_ptr() as usize - b.as_ptr() as usize;
                check(&ev, size, off)?;
                f(&ev, (off + d.len()) as u64, total)?;
            }
            Ok((format, size))
        }
        Format::Dat => {
            let body = dat::body(&b, ctx)?;
            let size = size.or(body.size);
            let rec = body.record;
            for (k, d) in body.data.chunks(BATCH * rec).enumerate() {
                let ev: Events = d
                    .chunks_exact(rec)
                    .map(|r| {
                        let (t, x, y, p) = body.layout.unpack(r);
                        crate::Event { t, x, y, p }
                    })
                    .collect();
                let off = body.start + k * BATCH * rec;
                crate::prophesee::check_sensor(&ev, size, ctx, |i| off + i * rec)?;
                f(&ev, (off + d.len()) as u64, total)?;
            }
            Ok((format, size))
        }
        _ => {
            // ATIS, SpikingJelly mode: independent 5-byte records.
            let n = b.len() / crate::atis::EVENT_BYTES * crate::atis::EVENT_BYTES;
            if n != b.len() {
                return Err(ctx.truncated(
                    n,
                    "a complete 5-byte event (file length must be a multiple of 5)",
                ));
            }
            let step = BATCH * crate::atis::EVENT_BYTES;
            for (k, d) in b.chunks(step).enumerate() {
                let rec = crate::atis::decode(d, ctx, &ReadOptions::default())?;
                let off = k * step;
                crate::prophesee::check_sensor(&rec.events, size, ctx, |i| off + i * 5)?;
                f(&rec.events, (off + d.len()) as u64, total)?;
            }
            Ok((format, size))
        }
    }
}

/// Options for [`convert`].
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    /// Encoding of a `.raw` output: `Format::Evt2` or `Format::Evt3`.
    pub raw: Option<Format>,
    /// Sensor size for the output header; by default the input's (header or profile), else the
    /// largest coordinates + 1 (found in a first pass).
    pub sensor_size: Option<(u16, u16)>,
}

/// A streaming writer of one target.
enum Sink<'a> {
    Npy(NpyWriter<'a>),
    Aedat4(BufWriter<&'a std::fs::File>, aedat4::Aedat4WriteOptions),
    Aedat3(BufWriter<&'a std::fs::File>, aedat3::Aedat3WriteOptions),
    Evt2(evt2::Encoder<BufWriter<&'a std::fs::File>>),
    Evt3(evt3::Encoder<BufWriter<&'a std::fs::File>>),
    Dat(dat::Encoder<BufWriter<&'a std::fs::File>>),
}

/// `.npy` int64 `[N, 4]` written row by row; the header (fixed 128 bytes) is rewritten with the
/// final N at the end.
struct NpyWriter<'a> {
    w: BufWriter<&'a std::fs::File>,
    rows: u64,
}

fn npy_header(rows: u64) -> [u8; 128] {
    let dict = format!("{{'descr': '<i8', 'fortran_order': False, 'shape': ({rows}, 4), }}");
    let mut h = [b' '; 128];
    h[..6].copy_from_slice(b"\x93NUMPY");
    h[6] = 1;
    h[7] = 0;
    h[8..10].copy_from_slice(&(118u16).to_le_bytes());
    h[10..10 + dict.len()].copy_from_slice(dict.as_bytes());
    h[127] = b'\n';
    h
}

/// The AEDAT 3.1 `#Source` name whose sensor size a reader infers, or a neutral name.
fn aedat3_source(size: Option<(u16, u16)>) -> String {
    match size {
        Some((128, 128)) => "DVS128",
        Some((240, 180)) => "DAVIS240",
        Some((346, 260)) => "DAVIS346",
        _ => "snnkit",
    }
    .to_string()
}

/// Converts `input` (read with `read`) into `output`, in the format its extension names.
///
/// `progress(bytes_done, bytes_total)` is called after each batch of the input.
pub fn convert(
    input: &Path,
    read: &ReadOptions,
    output: &Path,
    opts: &ConvertOptions,
    mut progress: impl FnMut(u64, u64),
) -> Result<Converted, Error> {
    let target = Target::from_path(output, opts.raw)?;
    let from = match read.format {
        Some(f) => f,
        None => crate::detect_file(input)?,
    };
    let read = ReadOptions {
        format: Some(from),
        ..read.clone()
    };
    let needs_size = matches!(
        target,
        Target::Aedat4 | Target::Aedat3 | Target::Evt2 | Target::Evt3 | Target::Dat | Target::Hdf5
    );
    let mut size = opts.sensor_size.or(declared_size(input, from, &read)?);
    if size.is_none() && needs_size {
        // A first pass for the largest coordinates (constant memory where the input streams).
        let (mut mx, mut my, mut any) = (0u16, 0u16, false);
        let (_, declared) = for_each_batch(input, &read, |ev, _, _| {
            any |= !ev.is_empty();
            mx = mx.max(ev.x.iter().copied().max().unwrap_or(0));
            my = my.max(ev.y.iter().copied().max().unwrap_or(0));
            Ok(())
        })?;
        size = declared.or(any.then(|| (mx.saturating_add(1), my.saturating_add(1))));
    }
    let mut written = 0usize;
    if target == Target::Hdf5 {
        let mut all = Events::default();
        for_each_batch(input, &read, |ev, done, total| {
            all.t.extend_from_slice(&ev.t);
            all.x.extend_from_slice(&ev.x);
            all.y.extend_from_slice(&ev.y);
            all.p.extend_from_slice(&ev.p);
            progress(done, total);
            Ok(())
        })?;
        written = all.len();
        let h = crate::hdf5::Hdf5WriteOptions {
            sensor_size: size,
            ..Default::default()
        };
        crate::hdf5::write(output, &all, &h)?;
        return Ok(Converted {
            from,
            to: target,
            events: written,
            sensor_size: size,
        });
    }
    let ctx = Ctx { path: output };
    let tmp = snnkit_fsutil::AtomicFile::create(output).map_err(|e| ctx.io(e))?;
    {
        let file = tmp.as_file();
        let w = BufWriter::with_capacity(1 << 20, file);
        let mut sink = match target {
            Target::Npy => {
                let mut w = w;
                w.write_all(&npy_header(0)).map_err(|e| ctx.io(e))?;
                Sink::Npy(NpyWriter { w, rows: 0 })
            }
            Target::Aedat4 => {
                let (width, height) = size.unwrap_or((1, 1));
                let o = aedat4::Aedat4WriteOptions {
                    width,
                    height,
                    ..Default::default()
                };
                let mut w = w;
                if width > 0x7FFF || height > 0x7FFF {
                    return Err(Error::Unwritable {
                        path: output.to_path_buf(),
                        index: 0,
                        message: format!("sensor {width}x{height} exceeds 32767"),
                    });
                }
                aedat4::write_header(&mut w, &o, ctx)?;
                Sink::Aedat4(w, o)
            }
            Target::Aedat3 => {
                let o = aedat3::Aedat3WriteOptions {
                    source: aedat3_source(size),
                    ..Default::default()
                };
                let mut w = w;
                aedat3::write_header(&mut w, &o, ctx)?;
                Sink::Aedat3(w, o)
            }
            Target::Evt2 => Sink::Evt2(evt2::Encoder::new(
                w,
                &evt2::RawWriteOptions { sensor_size: size },
                output,
            )?),
            Target::Evt3 => Sink::Evt3(evt3::Encoder::new(
                w,
                &evt2::RawWriteOptions { sensor_size: size },
                output,
            )?),
            Target::Dat => Sink::Dat(dat::Encoder::new(
                w,
                &dat::DatWriteOptions { sensor_size: size },
                output,
            )?),
            Target::Hdf5 => unreachable!("handled above"),
        };
        for_each_batch(input, &read, |ev, done, total| {
            match &mut sink {
                Sink::Npy(n) => {
                    let mut row = [0u8; 32];
                    for i in 0..ev.len() {
                        row[..8].copy_from_slice(&ev.t[i].to_le_bytes());
                        row[8..16].copy_from_slice(&(ev.x[i] as i64).to_le_bytes());
                        row[16..24].copy_from_slice(&(ev.y[i] as i64).to_le_bytes());
                        row[24..].copy_from_slice(&(ev.p[i] as i64).to_le_bytes());
                        n.w.write_all(&row).map_err(|e| ctx.io(e))?;
                    }
                    n.rows += ev.len() as u64;
                }
                Sink::Aedat4(w, o) => {
                    if let Some(i) = crate::source::first_outside(&ev.x, &ev.y, (o.width, o.height))
                    {
                        return Err(Error::Unwritable {
                            path: output.to_path_buf(),
                            index: written + i,
                            message: format!(
                                "x={}, y={} outside the {}x{} sensor",
                                ev.x[i], ev.y[i], o.width, o.height
                            ),
                        });
                    }
                    aedat4::write_packets(w, ev, o, ctx)?;
                }
                Sink::Aedat3(w, o) => aedat3::write_packets(w, ev, o, ctx, written)?,
                Sink::Evt2(e) => e.push(ev.as_ref())?,
                Sink::Evt3(e) => e.push(ev.as_ref())?,
                Sink::Dat(e) => e.push(ev.as_ref())?,
            }
            written += ev.len();
            progress(done, total);
            Ok(())
        })?;
        let mut w = match sink {
            Sink::Npy(mut n) => {
                n.w.seek(SeekFrom::Start(0)).map_err(|e| ctx.io(e))?;
                n.w.write_all(&npy_header(n.rows)).map_err(|e| ctx.io(e))?;
                n.w
            }
            Sink::Aedat4(w, _) | Sink::Aedat3(w, _) => w,
            Sink::Evt2(e) => e.finish()?,
            Sink::Evt3(e) => e.finish()?,
            Sink::Dat(e) => e.finish()?,
        };
        w.flush().map_err(|e| ctx.io(e))?;
    }
    tmp.commit().map_err(|e| ctx.io(e))?;
    Ok(Converted {
        from,
        to: target,
        events: written,
        sensor_size: size,
    })
}
