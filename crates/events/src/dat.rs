//! Prophesee / ATIS DAT (`.dat`, N-CARS `_td.dat`): reader and writer.
//!
//! Spec: Prophesee's `dat_events_tools` and the older ATIS `load_atis_data` (see
//! `docs/formats.md`). A `%` header (`% Version 2`, `% Width W`, `% Height H`, ...) is followed by
//! one byte event type and one byte event size, then fixed-size little-endian records starting
//! with `u32 timestamp µs, u32 address`. Files without any header line are version 0 and start
//! directly with 8-byte records.
//!
//! | version | x | y | polarity |
//! |---|---|---|---|
//! | 2 (and a header without a `% Version` line) | bits 13–0 | bits 27–14 | bit 28 |
//! | 0 and 1 | bits 8–0 | bits 16–9 | bit 17 |
//!
//! Only change-detection events are decoded: event type 0 (TD) or 12 (CD); other types (for
//! example exposure measurements) are an error rather than silently mislabelled events.
//! Timestamps are 32-bit and not unwrapped.

use crate::error::{Ctx, Error};
use crate::format::{Format, ReadOptions};
use crate::prophesee::{check_sensor, parse_header};
use crate::recording::{finish, Recording};
use crate::source::{decode_fixed, le_u32, Cols};
use crate::types::{Events, EventsRef};
use std::io::Write;
use std::path::Path;

/// Event types holding change-detection events.
const TD_TYPES: [u8; 2] = [0, 12];

/// Options for [`write()`].
#[derive(Debug, Clone, Default)]
pub struct DatWriteOptions {
    /// Sensor size `(width, height)` for the `% Width` / `% Height` header lines.
    pub sensor_size: Option<(u16, u16)>,
}

/// Reads a DAT file.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<Recording, Error> {
    let bytes = crate::source::open(path)?;
    decode(&bytes, Ctx { path }, opts)
}

/// Decodes DAT bytes held in memory (errors name the file `<memory>`).
pub fn decode_bytes(bytes: &[u8], opts: &ReadOptions) -> Result<Recording, Error> {
    decode(bytes, Ctx::memory(), opts)
}

/// Address layout of one DAT version.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    x_mask: u32,
    y_shift: u32,
    y_mask: u32,
    p_shift: u32,
}

const V2: Layout = Layout {
    x_mask: 0x3FFF,
    y_shift: 14,
    y_mask: 0x3FFF,
    p_shift: 28,
};
const V1: Layout = Layout {
    x_mask: 0x1FF,
    y_shift: 9,
    y_mask: 0xFF,
    p_shift: 17,
};

impl Layout {
    #[inline(always)]
    pub(crate) fn unpack(self, r: &[u8]) -> (i64, u16, u16, u8) {
        let t = le_u32(r, 0) as i64;
        let a = le_u32(r, 4);
        (
            t,
            (a & self.x_mask) as u16,
            ((a >> self.y_shift) & self.y_mask) as u16,
            ((a >> self.p_shift) & 1) as u8,
        )
    }
}

/// The records of a DAT file: header parsed, sizes checked.
pub(crate) struct Body<'a> {
    pub data: &'a [u8],
    pub start: usize,
    pub record: usize,
    pub layout: Layout,
    pub size: Option<(u16, u16)>,
}

pub(crate) fn body<'a>(b: &'a [u8], ctx: Ctx) -> Result<Body<'a>, Error> {
    let h = parse_header(b, ctx)?;
    let (start, record) = if h.lines == 0 {
        (0, 8)
    } else {
        let at = h.data_start;
        let Some(&[ty, size]) = b.get(at..at + 2).and_then(|s| <&[u8; 2]>::try_from(s).ok()) else {
            return Err(ctx.truncated(at, "the event type and event size bytes after the header"));
        };
        if !TD_TYPES.contains(&ty) {
            return Err(ctx.invalid(
                at,
                "event type 0 (TD) or 12 (CD)",
                format!("event type {ty}"),
            ));
        }
        if size < 8 {
            return Err(ctx.invalid(
                at + 1,
                "an event size of at least 8 bytes",
                format!("{size}"),
            ));
        }
        (at + 2, size as usize)
    };
    let version = h.version.unwrap_or(if h.lines == 0 { 0 } else { 2 });
    let data = &b[start..];
    if !data.len().is_multiple_of(record) {
        let at = start + data.len() / record * record;
        return Err(ctx.truncated(at, format!("a complete {record}-byte DAT event")));
    }
    Ok(Body {
        data,
        start,
        record,
        layout: if version >= 2 { V2 } else { V1 },
        size: h.size,
    })
}

pub(crate) fn decode(b: &[u8], ctx: Ctx, opts: &ReadOptions) -> Result<Recording, Error> {
    let body = body(b, ctx)?;
    let layout = body.layout;
    let rec = body.record;
    let events = decode_fixed(body.data, rec, |d: &[u8], c: Cols| {
        let Cols { t, x, y, p } = c;
        for ((((r, t), x), y), p) in d
            .chunks_exact(rec)
            .zip(t.iter_mut())
            .zip(x.iter_mut())
            .zip(y.iter_mut())
            .zip(p.iter_mut())
        {
            (*t, *x, *y, *p) = layout.unpack(r);
        }
    });
    let size = opts.profile.map(|p| p.sensor_size()).or(body.size);
    check_sensor(&events, size, ctx, |i| body.start + i * rec)?;
    Ok(finish(Format::Dat, events, size))
}

/// Streaming DAT (version 2) encoder: feed events in any number of batches.
pub struct Encoder<W: Write> {
    w: W,
    buf: Vec<u8>,
    index: usize,
    path: std::path::PathBuf,
}

impl<W: Write> Encoder<W> {
    /// Starts a file: writes the header. `path` names the output in errors.
    pub fn new(mut w: W, opts: &DatWriteOptions, path: &Path) -> Result<Self, Error> {
        let ctx = Ctx { path };
        let mut h = String::from("% Data file containing CD events.\n% Version 2\n");
        if let Some((wd, ht)) = opts.sensor_size {
            h.push_str(&format!("% Width {wd}\n% Height {ht}\n"));
        }
        w.write_all(h.as_bytes()).map_err(|e| ctx.io(e))?;
        w.write_all(&[0, 8]).map_err(|e| ctx.io(e))?;
        Ok(Encoder {
            w,
            buf: Vec::with_capacity(1 << 16),
            index: 0,
            path: path.to_path_buf(),
        })
    }

    /// Appends a batch of events.
    pub fn push(&mut self, ev: EventsRef) -> Result<(), Error> {
        for i in 0..ev.len() {
            let (t, x, y) = (ev.t[i], ev.x[i], ev.y[i]);
            if !(0..1i64 << 32).contains(&t) || x > 0x3FFF || y > 0x3FFF {
                return Err(Error::Unwritable {
                    path: self.path.clone(),
                    index: self.index + i,
                    message: format!(
                        "t={t}, x={x}, y={y} do not fit (0 <= t < 2^32, x and y < 16384)"
                    ),
                });
            }
            let a = ((ev.p[i] != 0) as u32) << 28 | (y as u32) << 14 | x as u32;
            self.buf.extend_from_slice(&(t as u32).to_le_bytes());
            self.buf.extend_from_slice(&a.to_le_bytes());
            if self.buf.len() >= 1 << 16 {
                let ctx = Ctx { path: &self.path };
                self.w.write_all(&self.buf).map_err(|e| ctx.io(e))?;
                self.buf.clear();
            }
        }
        self.index += ev.len();
        Ok(())
    }

    /// Flushes the remaining records and returns the writer.
    pub fn finish(mut self) -> Result<W, Error> {
        let ctx = Ctx { path: &self.path };
        self.w.write_all(&self.buf).map_err(|e| ctx.io(e))?;
        self.w.flush().map_err(|e| ctx.io(e))?;
        Ok(self.w)
    }
}

/// Writes `events` as a version-2 DAT file (atomically).
///
/// Requires `0 <= t < 2^32` and `x, y < 16384`; polarity is ON for any non-zero `p`.
pub fn write(path: &Path, events: &Events, opts: &DatWriteOptions) -> Result<(), Error> {
    crate::source::write_atomic(path, |w| {
        let mut enc = Encoder::new(w, opts, path)?;
        enc.push(events.as_ref())?;
        enc.finish().map(|_| ())
    })
}

/// Encodes `events` as a version-2 DAT file into memory (see [`write()`]).
pub fn encode(events: &Events, opts: &DatWriteOptions) -> Result<Vec<u8>, Error> {
    let mut enc = Encoder::new(Vec::new(), opts, Path::new("<memory>"))?;
    enc.push(events.as_ref())?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    #[test]
    fn round_trip_and_header_size() {
        let e: Events = (0..300_000u32)
            .map(|i| Event {
                t: (i as i64 * 977) % (1 << 32),
                x: (i % 304) as u16,
                y: (i % 240) as u16,
                p: (i % 3 == 0) as u8,
            })
            .collect();
        let b = encode(
            &e,
            &DatWriteOptions {
                sensor_size: Some((304, 240)),
            },
        )
        .unwrap();
        let rec = decode_bytes(&b, &ReadOptions::default()).unwrap();
        assert_eq!(rec.events, e);
        assert_eq!(
            (rec.format, rec.width, rec.height),
            (Format::Dat, Some(304), Some(240))
        );
    }

    #[test]
    fn old_versions_and_headerless_files() {
        // Version 1: x in 8-0, y in 16-9, polarity in bit 17; event size 10 (2 padding bytes).
        let mut b = b"% Version 1\n".to_vec();
        b.extend_from_slice(&[0, 10]);
        let a: u32 = 1 << 17 | 77 << 9 | 300;
        b.extend_from_slice(&42u32.to_le_bytes());
        b.extend_from_slice(&a.to_le_bytes());
        b.extend_from_slice(&[0xFF, 0xFF]);
        let rec = decode_bytes(&b, &ReadOptions::default()).unwrap();
        assert_eq!(
            rec.events.get(0),
            Some(Event {
                t: 42,
                x: 300,
                y: 77,
                p: 1
            })
        );
        // No header at all: version 0, 8-byte records.
        let h = [&7u32.to_le_bytes()[..], &(5u32 << 9 | 3).to_le_bytes()].concat();
        let rec = decode_bytes(&h, &ReadOptions::default()).unwrap();
        assert_eq!(
            rec.events.get(0),
            Some(Event {
                t: 7,
                x: 3,
                y: 5,
                p: 0
            })
        );
    }

    #[test]
    fn corrupt_files_are_errors() {
        let e: Events = [Event {
            t: 1,
            x: 400,
            y: 2,
            p: 1,
        }]
        .into_iter()
        .collect();
        let b = encode(
            &e,
            &DatWriteOptions {
                sensor_size: Some((304, 240)),
            },
        )
        .unwrap();
        let start = b.len() - 8;
        assert!(
            matches!(decode_bytes(&b, &ReadOptions::default()), Err(Error::OutOfSensor { offset, .. }) if offset == start as u64)
        );
        assert!(
            matches!(decode_bytes(&b[..b.len() - 3], &ReadOptions::default()), Err(Error::Truncated { offset, .. }) if offset == start as u64)
        );
        let mut c = b.clone();
        c[start - 2] = 1;
        assert!(
            matches!(decode_bytes(&c, &ReadOptions::default()), Err(Error::Invalid { offset, .. }) if offset == start as u64 - 2)
        );
        assert!(matches!(
            decode_bytes(b"% Version 2\n", &ReadOptions::default()),
            Err(Error::Truncated { offset: 12, .. })
        ));
        let big: Events = [Event {
            t: 1 << 32,
            x: 0,
            y: 0,
            p: 0,
        }]
        .into_iter()
        .collect();
        assert!(matches!(
            encode(&big, &DatWriteOptions::default()),
            Err(Error::Unwritable { index: 0, .. })
        ));
    }
}
