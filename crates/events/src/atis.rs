//! ATIS `.bin` (N-MNIST, N-Caltech101): reader and writer.
//!
//! Spec: Orchard's N-MNIST readme (quoted in SpikingJelly's `load_ATIS_bin`). No header; each event
//! is 5 bytes: `x` (byte 0), `y` (byte 1), polarity (bit 7 of byte 2, 1 = ON) and a 23-bit
//! timestamp in µs, `((b2 & 0x7F) << 16) | (b3 << 8) | b4`.
//!
//! Default decoding matches SpikingJelly: no overflow handling, an overflow marker (`y == 240`)
//! stays an event. [`AtisOverflow::Tonic`] matches Tonic and the original `read_dataset`: markers
//! are dropped and 8192 µs (2^13, as in the reference code) is added to every later timestamp.
//! Coordinates are as stored, (0, 0) upper-left.

use crate::error::{Ctx, Error};
use crate::format::{AtisOverflow, Format, ReadOptions};
use crate::recording::{finish, Recording};
use crate::source::{decode_fixed, first_outside, Cols};
use crate::types::Events;
use std::io::Write;
use std::path::Path;

/// Bytes per event.
pub const EVENT_BYTES: usize = 5;
/// The `y` value that marks a timestamp overflow in the original recordings.
pub const OVERFLOW_Y: u16 = 240;
/// What Tonic adds to later timestamps at each overflow marker.
pub const OVERFLOW_STEP: i64 = 1 << 13;
/// Largest timestamp that fits the 23-bit field.
pub const MAX_T: i64 = (1 << 23) - 1;

/// Reads an ATIS `.bin` file.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<Recording, Error> {
    let bytes = crate::source::open(path)?;
    decode(&bytes, Ctx { path }, opts)
}

/// Decodes ATIS bytes held in memory (errors name the file `<memory>`).
pub fn decode_bytes(bytes: &[u8], opts: &ReadOptions) -> Result<Recording, Error> {
    decode(bytes, Ctx::memory(), opts)
}

#[inline(always)]
fn unpack(r: &[u8]) -> (i64, u16, u16, u8) {
    let t = ((r[2] as i64 & 0x7F) << 16) | ((r[3] as i64) << 8) | r[4] as i64;
    (t, r[0] as u16, r[1] as u16, r[2] >> 7)
}

fn fill(data: &[u8], c: Cols) {
    let Cols { t, x, y, p } = c;
    for ((((r, t), x), y), p) in data
        .chunks_exact(EVENT_BYTES)
        .zip(t.iter_mut())
        .zip(x.iter_mut())
        .zip(y.iter_mut())
        .zip(p.iter_mut())
    {
        (*t, *x, *y, *p) = unpack(r);
    }
}

pub(crate) fn decode(b: &[u8], ctx: Ctx, opts: &ReadOptions) -> Result<Recording, Error> {
    if !b.len().is_multiple_of(EVENT_BYTES) {
        let at = b.len() - b.len() % EVENT_BYTES;
        return Err(ctx.truncated(
            at,
            "a complete 5-byte event (file length must be a multiple of 5)",
        ));
    }
    let n = b.len() / EVENT_BYTES;
    let events = match opts.atis_overflow {
        AtisOverflow::SpikingJelly => decode_fixed(b, EVENT_BYTES, fill),
        AtisOverflow::Tonic => {
            let mut ev = Events::with_capacity(n);
            let mut add = 0i64;
            for r in b.chunks_exact(EVENT_BYTES) {
                let (t, x, y, p) = unpack(r);
                if y == OVERFLOW_Y {
                    add += OVERFLOW_STEP;
                    continue;
                }
                ev.push(crate::Event {
                    t: t + add,
                    x,
                    y,
                    p,
                });
            }
            ev
        }
    };
    let size = opts.profile.map(|p| p.sensor_size());
    if let Some(size) = size {
        if let Some(i) = first_outside(&events.x, &events.y, size) {
            // Find the record of the i-th kept event (markers are skipped in Tonic mode).
            let off = match opts.atis_overflow {
                AtisOverflow::SpikingJelly => i * EVENT_BYTES,
                AtisOverflow::Tonic => b
                    .chunks_exact(EVENT_BYTES)
                    .enumerate()
                    .filter(|(_, r)| r[1] as u16 != OVERFLOW_Y)
                    .nth(i)
                    .map_or(0, |(k, _)| k * EVENT_BYTES),
            };
            return Err(ctx.out_of_sensor(off, events.x[i].into(), events.y[i].into(), size));
        }
    }
    Ok(finish(Format::AtisBin, events, size))
}

/// Writes `events` as an ATIS `.bin` file (atomically).
///
/// Requires `x, y < 256` and `0 <= t < 2^23` (no overflow markers are written); polarity is ON for
/// any non-zero `p`.
pub fn write(path: &Path, events: &Events) -> Result<(), Error> {
    crate::source::write_atomic(path, |w| write_to(w, events, Ctx { path }))
}

/// Encodes `events` as ATIS `.bin` into memory (see [`write()`]).
pub fn encode(events: &Events) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(events.len() * EVENT_BYTES);
    write_to(&mut out, events, Ctx::memory())?;
    Ok(out)
}

fn write_to<W: Write>(w: &mut W, ev: &Events, ctx: Ctx) -> Result<(), Error> {
    let mut buf = Vec::with_capacity(1 << 16);
    for i in 0..ev.len() {
        let (t, x, y) = (ev.t[i], ev.x[i], ev.y[i]);
        if !(0..=MAX_T).contains(&t) || x > 255 || y > 255 {
            return Err(Error::Unwritable {
                path: ctx.path.to_path_buf(),
                index: i,
                message: format!("t={t}, x={x}, y={y} do not fit (t < 2^23, x and y < 256)"),
            });
        }
        let pb = ((ev.p[i] != 0) as u8) << 7;
        buf.extend_from_slice(&[
            x as u8,
            y as u8,
            pb | (t >> 16) as u8,
            (t >> 8) as u8,
            t as u8,
        ]);
        if buf.len() >= (1 << 16) - EVENT_BYTES {
            w.write_all(&buf).map_err(|e| ctx.io(e))?;
            buf.clear();
        }
    }
    w.write_all(&buf).map_err(|e| ctx.io(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Profile};

    #[test]
    fn round_trip() {
        let ev: Events = (0..600_000i64)
            .map(|i| Event {
                t: i * 13 % MAX_T,
                x: (i % 34) as u16,
                y: (i % 33) as u16,
                p: (i % 5 == 0) as u8,
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.bin");
        write(&path, &ev).unwrap();
        let opts = ReadOptions {
            profile: Some(Profile::NMnist),
            ..Default::default()
        };
        let rec = read(&path, &opts).unwrap();
        assert_eq!(rec.events, ev);
        assert_eq!((rec.width, rec.height), (Some(34), Some(34)));
    }

    #[test]
    fn tonic_mode_drops_markers_and_shifts_later_times() {
        let mut ev: Events = (0..4i64)
            .map(|i| Event {
                t: 100 * i,
                x: 1,
                y: 2,
                p: 1,
            })
            .collect();
        ev.y[1] = OVERFLOW_Y;
        let b = encode(&ev).unwrap();
        let sj = decode_bytes(&b, &ReadOptions::default()).unwrap().events;
        assert_eq!(sj, ev);
        let tonic = ReadOptions {
            atis_overflow: AtisOverflow::Tonic,
            ..Default::default()
        };
        let t = decode_bytes(&b, &tonic).unwrap().events;
        assert_eq!(t.t, vec![0, 200 + 8192, 300 + 8192]);
        // With the N-MNIST profile the SpikingJelly-mode marker lies outside the sensor.
        let prof = ReadOptions {
            profile: Some(Profile::NMnist),
            ..Default::default()
        };
        assert!(matches!(
            decode_bytes(&b, &prof),
            Err(Error::OutOfSensor {
                offset: 5,
                y: 240,
                ..
            })
        ));
    }

    #[test]
    fn partial_event_is_an_error() {
        assert!(matches!(
            decode_bytes(&[1, 2, 3, 4, 5, 6], &ReadOptions::default()),
            Err(Error::Truncated { offset: 5, .. })
        ));
    }
}
