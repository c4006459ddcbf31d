//! Prophesee EVT 3.0 (`.raw`): reader and writer.
//!
//! Spec: the vendor's "EVT 3.0 Format" page and OpenEB's decoder (see `docs/formats.md`). After
//! the `%` header, the file is a sequence of 16-bit little-endian words, type in bits 15–12,
//! decoded with state:
//!
//! | type | name | effect |
//! |---|---|---|
//! | `0x0` | ADDR_Y | y = bits 10–0 (bit 11, the system type, is ignored) |
//! | `0x2` | ADDR_X | one event at x = bits 10–0, polarity bit 11, current y and time |
//! | `0x3` | VECT_BASE_X | base x = bits 10–0, vector polarity = bit 11 |
//! | `0x4` | VECT_12 | events at base x + i for each set bit i of bits 11–0; base x += 12 |
//! | `0x5` | VECT_8 | events at base x + i for each set bit i of bits 7–0; base x += 8 |
//! | `0x6` | TIME_LOW | t bits 11–0 |
//! | `0x8` | TIME_HIGH | t bits 23–12; smaller than the previous one = one wrap (+2^24 µs) |
//! | `0xA`, `0xE`, `0x7`, `0xF` | EXT_TRIGGER, OTHERS, CONTINUED_4, CONTINUED_12 | skipped |
//!
//! Other types are an error naming the word's offset. Cameras repeat TIME_HIGH often; repeats
//! change nothing. Events before the first ADDR_Y / TIME words use 0 for what is missing.
//!
//! Decoding runs in parallel over ranges of words: each range is first summarised as a function
//! of the state it starts in (last ADDR_Y, TIME_LOW, vector base, TIME_HIGH run), the summaries
//! are chained to give every range its starting state and first event index, and the ranges are
//! then decoded straight into the final columns.

use crate::error::{Ctx, Error};
use crate::format::{Format, ReadOptions};
use crate::prophesee::{check_sensor, parse_header, raw_header, Evt, Plan};
use crate::recording::{finish, Recording};
use crate::source::Cols;
use crate::types::{Events, EventsRef};
use rayon::prelude::*;
use std::io::Write;
use std::path::Path;

pub use crate::evt2::RawWriteOptions;

/// Largest x or y a word holds (11 bits).
pub const MAX_COORD: u16 = 0x7FF;
/// Timestamps wrap after this many µs (24 bits).
pub const WRAP: i64 = 1 << 24;
/// Words per parallel range.
const RANGE_WORDS: usize = 1 << 19;

/// Reads an EVT 3.0 file.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<Recording, Error> {
    let bytes = crate::source::open(path)?;
    decode(&bytes, Ctx { path }, opts)
}

/// Decodes EVT 3.0 bytes held in memory (errors name the file `<memory>`).
pub fn decode_bytes(bytes: &[u8], opts: &ReadOptions) -> Result<Recording, Error> {
    decode(bytes, Ctx::memory(), opts)
}

/// Decoder state between words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct State {
    pub y: u16,
    pub base_x: u16,
    pub vect_p: u8,
    pub time_low: u16,
    pub time_high: u16,
    pub wraps: i64,
}

impl State {
    #[inline(always)]
    fn t(&self) -> i64 {
        self.wraps * WRAP + ((self.time_high as i64) << 12 | self.time_low as i64)
    }
}

/// What one range of words does to the state, and how many events it holds.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RangeSummary {
    pub events: usize,
    y: Option<u16>,
    time_low: Option<u16>,
    /// Last VECT_BASE_X (x, polarity), if any.
    base: Option<(u16, u8)>,
    /// Sum of VECT_12/VECT_8 steps after the last VECT_BASE_X (or the range start).
    advance: u16,
    first_high: Option<u16>,
    last_high: u16,
    inner_wraps: i64,
}

impl RangeSummary {
    /// The state after the range, given the state before it.
    pub fn apply(&self, s: State) -> State {
        let (base_x, vect_p) = match self.base {
            Some((x, p)) => (x.wrapping_add(self.advance), p),
            None => (s.base_x.wrapping_add(self.advance), s.vect_p),
        };
        let (time_high, wraps) = match self.first_high {
            None => (s.time_high, s.wraps),
            Some(f) => (
                self.last_high,
                s.wraps + (f < s.time_high) as i64 + self.inner_wraps,
            ),
        };
        State {
            y: self.y.unwrap_or(s.y),
            base_x,
            vect_p,
            time_low: self.time_low.unwrap_or(s.time_low),
            time_high,
            wraps,
        }
    }
}

/// The data words of an EVT 3.0 file: header parsed, length checked.
pub(crate) struct Body<'a> {
    pub data: &'a [u8],
    pub start: usize,
    pub size: Option<(u16, u16)>,
}

pub(crate) fn body<'a>(b: &'a [u8], ctx: Ctx) -> Result<Body<'a>, Error> {
    let h = parse_header(b, ctx)?;
    match h.evt {
        Some(Evt::V3) | None => {}
        Some(e) => {
            let name = if e == Evt::V2 { "EVT 2.0" } else { "EVT 2.1" };
            return Err(ctx.invalid(0, "an EVT 3.0 header", format!("an {name} header")));
        }
    }
    let data = &b[h.data_start..];
    if !data.len().is_multiple_of(2) {
        let at = h.data_start + data.len() / 2 * 2;
        return Err(ctx.truncated(at, "a complete 16-bit EVT 3.0 word"));
    }
    Ok(Body {
        data,
        start: h.data_start,
        size: h.size,
    })
}

/// First pass over one range; errors name the offending word's offset.
pub(crate) fn summarise(data: &[u8], start: usize, ctx: Ctx) -> Result<RangeSummary, Error> {
    let mut s = RangeSummary::default();
    let mut prev_high: Option<u16> = None;
    for (i, c) in data.chunks_exact(2).enumerate() {
        let w = u16::from_le_bytes([c[0], c[1]]);
        match w >> 12 {
            0x0 => s.y = Some(w & 0x7FF),
            0x2 => s.events += 1,
            0x3 => {
                s.base = Some((w & 0x7FF, ((w >> 11) & 1) as u8));
                s.advance = 0;
            }
            0x4 => {
                s.events += (w & 0xFFF).count_ones() as usize;
                s.advance = s.advance.wrapping_add(12);
            }
            0x5 => {
                s.events += (w & 0xFF).count_ones() as usize;
                s.advance = s.advance.wrapping_add(8);
            }
            0x6 => s.time_low = Some(w & 0xFFF),
            0x8 => {
                let h = w & 0xFFF;
                match prev_high {
                    None => s.first_high = Some(h),
                    Some(p) => s.inner_wraps += (h < p) as i64,
                }
                prev_high = Some(h);
                s.last_high = h;
            }
            0x7 | 0xA | 0xE | 0xF => {}
            ty => {
                return Err(ctx.invalid(
                    start + 2 * i,
                    "an EVT 3.0 word of type 0, 2–8, 10, 14 or 15",
                    format!("type {ty} (word 0x{w:04x})"),
                ))
            }
        }
    }
    Ok(s)
}

/// Calls `emit(t, x, y, p)` for every event of a range that starts in state `s`.
///
/// The range must have passed [`summarise`] (unknown word types are skipped here).
#[inline(always)]
pub(crate) fn for_each_event(data: &[u8], mut s: State, mut emit: impl FnMut(i64, u16, u16, u8)) {
    let mut t = s.t();
    for c in data.chunks_exact(2) {
        let w = u16::from_le_bytes([c[0], c[1]]);
        match w >> 12 {
            0x2 => emit(t, w & 0x7FF, s.y, ((w >> 11) & 1) as u8),
            0x0 => s.y = w & 0x7FF,
            0x6 => {
                s.time_low = w & 0xFFF;
                t = s.t();
            }
            0x8 => {
                let h = w & 0xFFF;
                s.wraps += (h < s.time_high) as i64;
                s.time_high = h;
                t = s.t();
            }
            0x3 => {
                s.base_x = w & 0x7FF;
                s.vect_p = ((w >> 11) & 1) as u8;
            }
            0x4 | 0x5 => {
                let (mut m, step) = if w >> 12 == 4 {
                    (w & 0xFFF, 12)
                } else {
                    (w & 0xFF, 8)
                };
                while m != 0 {
                    let i = m.trailing_zeros() as u16;
                    emit(t, s.base_x.wrapping_add(i), s.y, s.vect_p);
                    m &= m - 1;
                }
                s.base_x = s.base_x.wrapping_add(step);
            }
            _ => {}
        }
    }
}

fn fill(data: &[u8], s: State, c: Cols) {
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
/// starting state and first event index, plus the total event count.
pub(crate) fn plan<'a>(body: &Body<'a>, ctx: Ctx) -> Result<Plan<'a, State>, Error> {
    let ranges: Vec<(usize, &[u8])> = body
        .data
        .chunks(RANGE_WORDS * 2)
        .enumerate()
        .map(|(k, d)| (body.start + k * RANGE_WORDS * 2, d))
        .collect();
    let sums: Vec<RangeSummary> = ranges
        .par_iter()
        .map(|&(off, d)| summarise(d, off, ctx))
        .collect::<Result<_, _>>()?;
    let mut out = Vec::with_capacity(ranges.len());
    let (mut s, mut n) = (State::default(), 0usize);
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
            let m = ranges.get(k + 1).map_or(n, |r| r.2) - first;
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
    Ok(finish(Format::Evt3, ev, size))
}

/// Byte offset of the word that produced the `i`-th event (for error messages; a linear scan).
fn event_offset(body: &Body, i: usize) -> usize {
    let mut seen = 0usize;
    for (k, c) in body.data.chunks_exact(2).enumerate() {
        let w = u16::from_le_bytes([c[0], c[1]]);
        seen += match w >> 12 {
            0x2 => 1,
            0x4 => (w & 0xFFF).count_ones() as usize,
            0x5 => (w & 0xFF).count_ones() as usize,
            _ => 0,
        };
        if seen > i {
            return body.start + 2 * k;
        }
    }
    body.start
}

/// Streaming EVT 3.0 encoder: feed events in time order in any number of batches.
///
/// Writes TIME_HIGH / TIME_LOW / ADDR_Y only when they change; runs of events with the same time,
/// row and polarity at increasing columns within 12 of each other become VECT_BASE_X + VECT_12
/// words, as cameras write them. Time past 2^24 µs is written as the wraps the reader expects,
/// so any non-decreasing `t >= 0` round-trips.
pub struct Encoder<W: Write> {
    w: W,
    buf: Vec<u8>,
    /// Absolute `t >> 12` of the last TIME_HIGH (`None` before the first).
    high: Option<i64>,
    low: Option<u16>,
    y: Option<u16>,
    last_t: i64,
    index: usize,
    path: std::path::PathBuf,
}

const TIME_HIGH: u16 = 0x8000;

impl<W: Write> Encoder<W> {
    /// Starts a file: writes the header. `path` names the output in errors.
    pub fn new(mut w: W, opts: &RawWriteOptions, path: &Path) -> Result<Self, Error> {
        let ctx = Ctx { path };
        w.write_all(raw_header("3.0", "EVT3", opts.sensor_size).as_bytes())
            .map_err(|e| ctx.io(e))?;
        Ok(Encoder {
            w,
            buf: Vec::with_capacity(1 << 16),
            high: None,
            low: None,
            y: None,
            last_t: 0,
            index: 0,
            path: path.to_path_buf(),
        })
    }

    fn word(&mut self, w: u16) {
        self.buf.extend_from_slice(&w.to_le_bytes());
    }

    fn set_time(&mut self, t: i64) {
        let high = t >> 12;
        if self.high != Some(high) {
            // The reader starts at time high 0 and counts a wrap at each smaller TIME_HIGH.
            let mut cur = self.high.unwrap_or(0);
            while cur >> 12 < high >> 12 {
                if cur & 0xFFF == 0 {
                    self.word(TIME_HIGH | 1);
                }
                self.word(TIME_HIGH);
                cur = ((cur >> 12) + 1) << 12;
            }
            self.word(TIME_HIGH | (high & 0xFFF) as u16);
            self.high = Some(high);
        }
        let low = (t & 0xFFF) as u16;
        if self.low != Some(low) {
            self.word(0x6000 | low);
            self.low = Some(low);
        }
    }

    /// Appends a batch of events.
    pub fn push(&mut self, ev: EventsRef) -> Result<(), Error> {
        let n = ev.len();
        let mut i = 0;
        while i < n {
            let (t, x, y) = (ev.t[i], ev.x[i], ev.y[i]);
            let idx = self.index + i;
            if t < self.last_t || t < 0 {
                return Err(Error::Unwritable {
                    path: self.path.clone(),
                    index: idx,
                    message: format!("timestamp {t} is negative or smaller than the previous one ({}); EVT 3.0 needs non-decreasing times", self.last_t),
                });
            }
            self.last_t = t;
            self.set_time(t);
            if self.y != Some(y) {
                if y > MAX_COORD {
                    return Err(self.too_big(idx, x, y));
                }
                self.word(y);
                self.y = Some(y);
            }
            if x > MAX_COORD {
                return Err(self.too_big(idx, x, y));
            }
            let p = (ev.p[i] != 0) as u16;
            // A vector: following events at the same time, row and polarity, x increasing
            // within base..base+12.
            let mut j = i + 1;
            let mut mask: u16 = 1;
            while j < n
                && ev.t[j] == t
                && ev.y[j] == y
                && (ev.p[j] != 0) as u16 == p
                && ev.x[j] > ev.x[j - 1]
                && ev.x[j] - x < 12
                && ev.x[j] <= MAX_COORD
            {
                mask |= 1 << (ev.x[j] - x);
                j += 1;
            }
            if j > i + 1 {
                self.word(0x3000 | (p << 11) | x);
                self.word(0x4000 | mask);
            } else {
                self.word(0x2000 | (p << 11) | x);
            }
            i = j;
            if self.buf.len() >= (1 << 16) {
                let ctx = Ctx { path: &self.path };
                self.w.write_all(&self.buf).map_err(|e| ctx.io(e))?;
                self.buf.clear();
            }
        }
        self.index += n;
        Ok(())
    }

    fn too_big(&self, index: usize, x: u16, y: u16) -> Error {
        Error::Unwritable {
            path: self.path.clone(),
            index,
            message: format!("x={x}, y={y} do not fit 11 bits"),
        }
    }

    /// Flushes the remaining words and returns the writer.
    pub fn finish(mut self) -> Result<W, Error> {
        let ctx = Ctx { path: &self.path };
        self.w.write_all(&self.buf).map_err(|e| ctx.io(e))?;
        self.w.flush().map_err(|e| ctx.io(e))?;
        Ok(self.w)
    }
}

/// Writes `events` as an EVT 3.0 file (atomically).
///
/// Requires non-decreasing `t >= 0` and `x, y < 2048`; polarity is ON for any non-zero `p`.
pub fn write(path: &Path, events: &Events, opts: &RawWriteOptions) -> Result<(), Error> {
    crate::source::write_atomic(path, |w| {
        let mut enc = Encoder::new(w, opts, path)?;
        enc.push(events.as_ref())?;
        enc.finish().map(|_| ())
    })
}

/// Encodes `events` as EVT 3.0 into memory (see [`write()`]).
pub fn encode(events: &Events, opts: &RawWriteOptions) -> Result<Vec<u8>, Error> {
    let mut enc = Encoder::new(Vec::new(), opts, Path::new("<memory>"))?;
    enc.push(events.as_ref())?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    #[test]
    fn round_trip_vectors_wraps_and_ranges() {
        let mut e = Events::default();
        let mut t = 0i64;
        for i in 0..900_000u32 {
            t += (i % 5 == 0) as i64 * (1 + (i % 97) as i64 * 53);
            let x = if i % 3 == 0 {
                (i % 2040) as u16
            } else {
                (i * 7 % 2048) as u16
            };
            e.push(Event {
                t,
                x,
                y: (i / 3 % 720) as u16,
                p: (i / 6 % 2) as u8,
            });
        }
        for t in [t + WRAP, t + 5 * WRAP + 7, t + 5 * WRAP + 4096] {
            e.push(Event {
                t,
                x: 2047,
                y: 2047,
                p: 1,
            });
        }
        let b = encode(&e, &RawWriteOptions::default()).unwrap();
        assert!(b.len() > 1 << 20, "spans several parallel ranges");
        let rec = decode_bytes(&b, &ReadOptions::default()).unwrap();
        assert_eq!(rec.format, Format::Evt3);
        assert_eq!(rec.events, e);
    }

    #[test]
    fn vectors_repeated_time_high_and_skipped_words() {
        let mut b = raw_header("3.0", "EVT3", Some((40, 10))).into_bytes();
        let start = b.len();
        let words: [u16; 12] = [
            0x8001, 0x8001, 0x6005, 0x0003, 0x3814, 0x4801, 0x5003, 0xA123, 0xE000, 0x7fff, 0x2805,
            0xF000,
        ];
        for w in words {
            b.extend_from_slice(&w.to_le_bytes());
        }
        let rec = decode_bytes(&b, &ReadOptions::default()).unwrap();
        let t = 4096 + 5;
        let want: Events = [(20, 1), (31, 1), (32, 1), (33, 1), (5, 1)]
            .into_iter()
            .map(|(x, p)| Event { t, x, y: 3, p })
            .collect();
        assert_eq!(rec.events, want);
        // A time high smaller than the previous one is a wrap.
        b.extend_from_slice(&0x8000u16.to_le_bytes());
        b.extend_from_slice(&0x2001u16.to_le_bytes());
        let rec = decode_bytes(&b, &ReadOptions::default()).unwrap();
        assert_eq!(rec.events.t[5], WRAP + 5);
        b.extend_from_slice(&0x9000u16.to_le_bytes());
        let off = (start + 2 * 14) as u64;
        assert!(
            matches!(decode_bytes(&b, &ReadOptions::default()), Err(Error::Invalid { offset, .. }) if offset == off)
        );
        b.truncate(b.len() - 1);
        assert!(
            matches!(decode_bytes(&b, &ReadOptions::default()), Err(Error::Truncated { offset, .. }) if offset == off)
        );
        // Coordinates beyond the header's geometry.
        let mut c = raw_header("3.0", "EVT3", Some((4, 4))).into_bytes();
        c.extend_from_slice(&0x2009u16.to_le_bytes());
        let off = (c.len() - 2) as u64;
        assert!(
            matches!(decode_bytes(&c, &ReadOptions::default()), Err(Error::OutOfSensor { offset, x: 9, .. }) if offset == off)
        );
    }
}
