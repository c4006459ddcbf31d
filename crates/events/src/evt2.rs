//! Prophesee EVT 2.0 (`.raw`): reader and writer.
//!
//! Spec: the vendor's "EVT 2.0 Format" page (see `docs/formats.md`). After the `%` header, the
//! file is a sequence of 32-bit little-endian words with the type in bits 31–28:
//!
//! | type | name | payload |
//! |---|---|---|
//! | `0x0` / `0x1` | CD_OFF / CD_ON | t bits 5–0 in 27–22, x in 21–11, y in 10–0 |
//! | `0x8` | EVT_TIME_HIGH | t bits 33–6 in 27–0 |
//! | `0xA`, `0xE`, `0xF` | EXT_TRIGGER, OTHERS, CONTINUED | skipped |
//!
//! Timestamps have 34 bits (about 4.8 hours); a TIME_HIGH smaller than the previous one counts
//! as one wrap and adds 2^34 µs, so longer recordings keep increasing times. Any other word type
//! is an error naming its byte offset. Events before the first TIME_HIGH use time high 0.
//!
//! Decoding runs in two parallel passes over ranges of words: the first counts events and
//! summarises each range's TIME_HIGH words, a sequential prefix turns the summaries into each
//! range's starting time and output offset, and the second pass decodes straight into the final
//! columns.

use crate::error::{Ctx, Error};
use crate::format::{Format, ReadOptions};
use crate::prophesee::{check_sensor, parse_header, raw_header, Evt, Plan};
use crate::recording::{finish, Recording};
use crate::source::Cols;
use crate::types::{Events, EventsRef};
use rayon::prelude::*;
use std::io::Write;
use std::path::Path;

/// Largest x or y a CD word holds (11 bits).
pub const MAX_COORD: u16 = 0x7FF;
/// Timestamps wrap after this many µs (34 bits).
pub const WRAP: i64 = 1 << 34;
/// Words per parallel range.
const RANGE_WORDS: usize = 1 << 18;
const TIME_HIGH: u32 = 0x8000_0000;

/// Options for [`write()`].
#[derive(Debug, Clone, Default)]
pub struct RawWriteOptions {
    /// Sensor size `(width, height)` for the `% format` and `% geometry` header lines.
    pub sensor_size: Option<(u16, u16)>,
}

/// Reads an EVT 2.0 file.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<Recording, Error> {
    let bytes = crate::source::open(path)?;
    decode(&bytes, Ctx { path }, opts)
}

/// Decodes EVT 2.0 bytes held in memory (errors name the file `<memory>`).
pub fn decode_bytes(bytes: &[u8], opts: &ReadOptions) -> Result<Recording, Error> {
    decode(bytes, Ctx::memory(), opts)
}

/// Time state between words: the last TIME_HIGH payload and the number of wraps so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TimeState {
    pub high: u32,
    pub wraps: i64,
}

impl TimeState {
    #[inline(always)]
    fn base(self) -> i64 {
        self.wraps * WRAP + ((self.high as i64) << 6)
    }
    #[inline(always)]
    fn time_high(&mut self, high: u32) {
        self.wraps += (high < self.high) as i64;
        self.high = high;
    }
}

/// What one range of words does to the time state, and how many events it holds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RangeSummary {
    pub events: usize,
    first_high: Option<u32>,
    last_high: u32,
    inner_wraps: i64,
}

impl RangeSummary {
    /// The state after the range, given the state before it.
    pub fn apply(&self, s: TimeState) -> TimeState {
        match self.first_high {
            None => s,
            Some(f) => TimeState {
                high: self.last_high,
                wraps: s.wraps + (f < s.high) as i64 + self.inner_wraps,
            },
        }
    }
}

/// The data words of an EVT 2.0 file: header parsed, length checked.
pub(crate) struct Body<'a> {
    pub data: &'a [u8],
    pub start: usize,
    pub size: Option<(u16, u16)>,
}

pub(crate) fn body<'a>(b: &'a [u8], ctx: Ctx) -> Result<Body<'a>, Error> {
    let h = parse_header(b, ctx)?;
    if let Some(e @ (Evt::V3 | Evt::V21)) = h.evt {
        let name = if e == Evt::V3 { "EVT 3.0" } else { "EVT 2.1" };
        return Err(ctx.invalid(0, "an EVT 2.0 header", format!("an {name} header")));
    }
    let data = &b[h.data_start..];
    if !data.len().is_multiple_of(4) {
        let at = h.data_start + data.len() / 4 * 4;
        return Err(ctx.truncated(at, "a complete 32-bit EVT 2.0 word"));
    }
    Ok(Body {
        data,
        start: h.data_start,
        size: h.size,
    })
}

fn bad_word(ctx: Ctx, off: usize, w: u32) -> Error {
    ctx.invalid(
        off,
        "an EVT 2.0 word of type 0, 1, 8, 10, 14 or 15",
        format!("type {} (word 0x{w:08x})", w >> 28),
    )
}

/// First pass over one range: event count and TIME_HIGH summary; errors name the word's offset.
pub(crate) fn summarise(data: &[u8], start: usize, ctx: Ctx) -> Result<RangeSummary, Error> {
    let mut s = RangeSummary::default();
    let mut prev: Option<u32> = None;
    for (i, c) in data.chunks_exact(4).enumerate() {
        let w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        match w >> 28 {
            0 | 1 => s.events += 1,
            8 => {
                let h = w & 0x0FFF_FFFF;
                match prev {
                    None => s.first_high = Some(h),
                    Some(p) => s.inner_wraps += (h < p) as i64,
                }
                prev = Some(h);
                s.last_high = h;
            }
            0xA | 0xE | 0xF => {}
            _ => return Err(bad_word(ctx, start + 4 * i, w)),
        }
    }
    Ok(s)
}

/// Calls `emit(t, x, y, p)` for every event of a range that starts in time state `s`.
#[inline(always)]
pub(crate) fn for_each_event(
    data: &[u8],
    mut s: TimeState,
    mut emit: impl FnMut(i64, u16, u16, u8),
) {
    let mut base = s.base();
    for c in data.chunks_exact(4) {
        let w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        let ty = w >> 28;
        if ty <= 1 {
            let t = base | ((w >> 22) & 0x3F) as i64;
            emit(t, ((w >> 11) & 0x7FF) as u16, (w & 0x7FF) as u16, ty as u8);
        } else if ty == 8 {
            s.time_high(w & 0x0FFF_FFFF);
            base = s.base();
        }
    }
}

fn fill(data: &[u8], s: TimeState, c: Cols) {
    let Cols { t, x, y, p } = c;
    let mut i = 0;
    for_each_event(data, s, |tt, xx, yy, pp| {
        // The first pass counted exactly these events, so the slices have room.
        t[i] = tt;
        x[i] = xx;
        y[i] = yy;
        p[i] = pp;
        i += 1;
    });
}

/// Splits the data into ranges, summarises them in parallel and returns each range with its
/// starting time state and first event index, plus the total event count.
pub(crate) fn plan<'a>(body: &Body<'a>, ctx: Ctx) -> Result<Plan<'a, TimeState>, Error> {
    let ranges: Vec<(usize, &[u8])> = body
        .data
        .chunks(RANGE_WORDS * 4)
        .enumerate()
        .map(|(k, d)| (body.start + k * RANGE_WORDS * 4, d))
        .collect();
    let sums: Vec<RangeSummary> = ranges
        .par_iter()
        .map(|&(off, d)| summarise(d, off, ctx))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ranges.len());
    let (mut s, mut n) = (TimeState::default(), 0usize);
    for ((_, d), sum) in ranges.into_iter().zip(&sums) {
        out.push((d, s, n));
        s = sum.apply(s);
        n += sum.events;
    }
    Ok((out, n))
}

pub(crate) fn decode(b: &[u8], ctx: Ctx, opts: &ReadOptions) -> Result<Recording, Error> {
    let body = body(b, ctx)?;
    let (ranges, n) = plan(&body, ctx)?;
    let mut ev = crate::source::zeroed_events(n);
    {
        let mut jobs = Vec::with_capacity(ranges.len());
        let (mut t, mut x, mut y, mut p) =
            (&mut ev.t[..], &mut ev.x[..], &mut ev.y[..], &mut ev.p[..]);
        for (k, &(d, s, first)) in ranges.iter().enumerate() {
            let next = ranges.get(k + 1).map_or(n, |r| r.2);
            let m = next - first;
            let (t0, t1) = t.split_at_mut(m);
            let (x0, x1) = x.split_at_mut(m);
            let (y0, y1) = y.split_at_mut(m);
            let (p0, p1) = p.split_at_mut(m);
            (t, x, y, p) = (t1, x1, y1, p1);
            jobs.push((
                d,
                s,
                Cols {
                    t: t0,
                    x: x0,
                    y: y0,
                    p: p0,
                },
            ));
        }
        jobs.into_par_iter().for_each(|(d, s, c)| fill(d, s, c));
    }
    let size = opts.profile.map(|p| p.sensor_size()).or(body.size);
    check_sensor(&ev, size, ctx, |i| event_offset(&body, i))?;
    Ok(finish(Format::Evt2, ev, size))
}

/// Byte offset of the `i`-th event's word (for error messages; a linear scan).
fn event_offset(body: &Body, i: usize) -> usize {
    body.data
        .chunks_exact(4)
        .enumerate()
        .filter(|(_, c)| c[3] >> 4 <= 1)
        .nth(i)
        .map_or(body.start, |(k, _)| body.start + 4 * k)
}

/// Streaming EVT 2.0 encoder: feed events in time order in any number of batches.
///
/// Emits a TIME_HIGH word whenever `t >> 6` changes; a time that runs past 2^34 µs is written as
/// the wrap the reader expects (a smaller TIME_HIGH), so any non-decreasing `t >= 0` round-trips.
pub struct Encoder<W: Write> {
    w: W,
    buf: Vec<u8>,
    /// `t >> 6` of the last TIME_HIGH written (`None` before the first).
    high: Option<i64>,
    last_t: i64,
    index: usize,
    path: std::path::PathBuf,
}

impl<W: Write> Encoder<W> {
    /// Starts a file: writes the header. `path` names the output in errors.
    pub fn new(mut w: W, opts: &RawWriteOptions, path: &Path) -> Result<Self, Error> {
        let ctx = Ctx { path };
        w.write_all(raw_header("2.0", "EVT2", opts.sensor_size).as_bytes())
            .map_err(|e| ctx.io(e))?;
        Ok(Encoder {
            w,
            buf: Vec::with_capacity(1 << 16),
            high: None,
            last_t: 0,
            index: 0,
            path: path.to_path_buf(),
        })
    }

    fn unwritable(&self, i: usize, message: String) -> Error {
        Error::Unwritable {
            path: self.path.clone(),
            index: i,
            message,
        }
    }

    fn word(&mut self, w: u32) {
        self.buf.extend_from_slice(&w.to_le_bytes());
    }

    /// Appends a batch of events.
    pub fn push(&mut self, ev: EventsRef) -> Result<(), Error> {
        for i in 0..ev.len() {
            let (t, x, y) = (ev.t[i], ev.x[i], ev.y[i]);
            let idx = self.index + i;
            if t < self.last_t || t < 0 {
                return Err(self.unwritable(
                    idx,
                    format!("timestamp {t} is negative or smaller than the previous one ({}); EVT 2.0 needs non-decreasing times", self.last_t),
                ));
            }
            if x > MAX_COORD || y > MAX_COORD {
                return Err(self.unwritable(idx, format!("x={x}, y={y} do not fit 11 bits")));
            }
            self.last_t = t;
            let high = t >> 6;
            if self.high != Some(high) {
                // The reader starts at time high 0 and counts a wrap at each smaller TIME_HIGH:
                // write one per 2^34 µs crossed, from a non-zero payload down to 0.
                let mut cur = self.high.unwrap_or(0);
                while cur >> 28 < high >> 28 {
                    if cur & 0x0FFF_FFFF == 0 {
                        self.word(TIME_HIGH | 1);
                    }
                    self.word(TIME_HIGH);
                    cur = ((cur >> 28) + 1) << 28;
                }
                self.word(TIME_HIGH | (high & 0x0FFF_FFFF) as u32);
                self.high = Some(high);
            }
            let p = (ev.p[i] != 0) as u32;
            self.word((p << 28) | (((t & 0x3F) as u32) << 22) | ((x as u32) << 11) | y as u32);
            if self.buf.len() >= (1 << 16) {
                let ctx = Ctx { path: &self.path };
                self.w.write_all(&self.buf).map_err(|e| ctx.io(e))?;
                self.buf.clear();
            }
        }
        self.index += ev.len();
        Ok(())
    }

    /// Flushes the remaining words and returns the writer.
    pub fn finish(mut self) -> Result<W, Error> {
        let ctx = Ctx { path: &self.path };
        self.w.write_all(&self.buf).map_err(|e| ctx.io(e))?;
        self.w.flush().map_err(|e| ctx.io(e))?;
        Ok(self.w)
    }
}

/// Writes `events` as an EVT 2.0 file (atomically).
///
/// Requires non-decreasing `t >= 0` and `x, y < 2048`; polarity is ON for any non-zero `p`.
pub fn write(path: &Path, events: &Events, opts: &RawWriteOptions) -> Result<(), Error> {
    crate::source::write_atomic(path, |w| {
        let mut enc = Encoder::new(w, opts, path)?;
        enc.push(events.as_ref())?;
        enc.finish().map(|_| ())
    })
}

/// Encodes `events` as EVT 2.0 into memory (see [`write()`]).
pub fn encode(events: &Events, opts: &RawWriteOptions) -> Result<Vec<u8>, Error> {
    let mut enc = Encoder::new(Vec::new(), opts, Path::new("<memory>"))?;
    enc.push(events.as_ref())?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    fn ev(ts: &[i64]) -> Events {
        ts.iter()
            .enumerate()
            .map(|(i, &t)| Event {
                t,
                x: (i * 7 % 2048) as u16,
                y: (i * 3 % 2048) as u16,
                p: (i % 2) as u8,
            })
            .collect()
    }

    #[test]
    fn round_trip_with_wraps_and_ranges() {
        let mut ts: Vec<i64> = (0..700_000).map(|i| i * 31).collect();
        ts.extend([WRAP - 1, WRAP, WRAP + 5, 3 * WRAP + 64, 3 * WRAP + 64]);
        let e = ev(&ts);
        let b = encode(&e, &RawWriteOptions::default()).unwrap();
        let rec = decode_bytes(&b, &ReadOptions::default()).unwrap();
        assert_eq!(rec.format, Format::Evt2);
        assert_eq!(rec.events, e);
    }

    #[test]
    fn skips_other_words_and_rejects_unknown_types() {
        let mut b = raw_header("2.0", "EVT2", Some((4, 4))).into_bytes();
        let start = b.len();
        for w in [
            0x8000_0002u32,
            0xA000_0001,
            0x1040_0803,
            0xE000_0000,
            0xF123_4567,
        ] {
            b.extend_from_slice(&w.to_le_bytes());
        }
        let rec = decode_bytes(&b, &ReadOptions::default()).unwrap();
        assert_eq!(rec.events.len(), 1);
        assert_eq!(
            rec.events.get(0),
            Some(Event {
                t: 129,
                x: 1,
                y: 3,
                p: 1
            })
        );
        assert_eq!((rec.width, rec.height), (Some(4), Some(4)));
        b.extend_from_slice(&0x3000_0000u32.to_le_bytes());
        let off = (start + 20) as u64;
        assert!(
            matches!(decode_bytes(&b, &ReadOptions::default()), Err(Error::Invalid { offset, .. }) if offset == off)
        );
        b.truncate(b.len() - 2);
        assert!(
            matches!(decode_bytes(&b, &ReadOptions::default()), Err(Error::Truncated { offset, .. }) if offset == off)
        );
    }

    #[test]
    fn out_of_sensor_and_unwritable() {
        let e = ev(&[0, 1, 2]);
        let b = encode(
            &e,
            &RawWriteOptions {
                sensor_size: Some((8, 8)),
            },
        )
        .unwrap();
        assert!(matches!(
            decode_bytes(&b, &ReadOptions::default()),
            Err(Error::OutOfSensor { x: 14, .. })
        ));
        assert!(matches!(
            encode(&ev(&[5, 4]), &RawWriteOptions::default()),
            Err(Error::Unwritable { index: 1, .. })
        ));
    }
}
