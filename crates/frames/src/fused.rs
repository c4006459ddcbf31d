//! Decode straight into frames: SpikingJelly split-by-number frames integrated while the file is
//! decoded, with no intermediate event columns.
//!
//! [`integrate_file_by_number`] opens the file with [`snnkit_events::ranged::Ranged`], whose
//! first pass counts the events (split by number needs `N` to place frame boundaries at
//! `i * (N / T)`, remainder to the last frame), then decodes the ranges in parallel on rayon,
//! each worker counting into its own `[T, 2, H, W]` buffer; the buffers are summed at the end.
//! Each event is read once from the (memory-mapped) file and written nowhere but its counter,
//! so the work is bounded by reading the file, not by writing ~13 bytes of columns per event.
//! The result is bit-identical to `integrate(read_file(..).events, .., SplitByNumber)`.

use crate::bin::buffer_len;
use crate::error::{Error, Result};
use crate::frames::{Frames, SensorSize};
use crate::spec::FrameSpec;
use rayon::prelude::*;
use snnkit_events::ranged::Ranged;
use snnkit_events::ReadOptions;
use std::path::Path;

/// Counts the events of range `r` into `buf` (`[T, 2, H, W]`); false when an event lies outside
/// `limit` (the sensor, narrowed by the file's own size) — the caller then reports the error the
/// column path gives.
fn bin_range(
    rf: &Ranged,
    r: usize,
    sensor: SensorSize,
    frames: usize,
    di: usize,
    limit: (usize, usize),
    buf: &mut [u32],
) -> bool {
    let (w, h) = (sensor.width, sensor.height);
    let (lw, lh) = limit;
    let hw = w * h;
    let frame_len = 2 * hw;
    let first = rf.first_event(r);
    // Frame of event k: min(k / di, T - 1); tracked incrementally instead of a division per event.
    let mut f = first
        .checked_div(di)
        .map_or(frames - 1, |q| q.min(frames - 1));
    let mut next = if di == 0 || f == frames - 1 {
        usize::MAX
    } else {
        (f + 1) * di
    };
    let mut k = first;
    let mut base = f * frame_len;
    let mut ok = true;
    rf.visit(r, |_, x, y, p| {
        if k == next {
            f += 1;
            base = f * frame_len;
            next = if f == frames - 1 {
                usize::MAX
            } else {
                next + di
            };
        }
        k += 1;
        let (x, y) = (x as usize, y as usize);
        if x < lw && y < lh {
            buf[base + (p != 0) as usize * hw + y * w + x] += 1;
        } else {
            ok = false;
        }
    });
    ok
}

/// SpikingJelly split-by-number frames of the whole file at `path`, decoded and binned in one
/// parallel pass; `Ok(None)` when the format or options have no ranged decoder (use
/// `read_file` + [`integrate`](crate::integrate) then).
///
/// # Errors
/// [`Error::Decode`] for a damaged file (file and byte offset), [`Error::OutOfRange`] for an
/// event outside `sensor` (as [`integrate`](crate::integrate) reports it), and the spec and size
/// errors of [`integrate`](crate::integrate).
pub fn integrate_file_by_number(
    path: &Path,
    opts: &ReadOptions,
    sensor: SensorSize,
    frames: usize,
) -> Result<Option<Frames>> {
    let spec = FrameSpec::SplitByNumber { frames };
    spec.validate()?;
    let len = buffer_len(sensor, frames)?;
    let decode = Error::Decode;
    let Some(rf) = Ranged::open(path, opts).map_err(decode)? else {
        return Ok(None);
    };
    let di = rf.len() / frames;
    // The column path refuses events outside the size the file declares; so must this one.
    let limit = rf
        .sensor_size()
        .map_or((sensor.width, sensor.height), |(fw, fh)| {
            (
                sensor.width.min(fw as usize),
                sensor.height.min(fh as usize),
            )
        });
    let (counts, ok) = (0..rf.ranges())
        .into_par_iter()
        .fold(
            || (vec![0u32; len], true),
            |(mut buf, ok), r| {
                let good = bin_range(&rf, r, sensor, frames, di, limit, &mut buf);
                (buf, ok && good)
            },
        )
        .reduce(
            || (Vec::new(), true),
            |(a, oa), (b, ob)| {
                let (mut big, small) = if a.len() >= b.len() { (a, b) } else { (b, a) };
                for (d, s) in big.iter_mut().zip(&small) {
                    *d += s;
                }
                (big, oa && ob)
            },
        );
    if !ok {
        // Rare: report exactly what the column path reports (decoder error with offset, or the
        // first event outside the sensor).
        let rec = snnkit_events::read_file(path, opts).map_err(decode)?;
        crate::integrate(rec.events.as_ref(), sensor, &spec)?;
        return Err(Error::InvalidSpec {
            reason: "an event outside the sensor was seen while decoding but not on re-reading (file changed?)"
                .into(),
        });
    }
    let counts = if counts.is_empty() {
        vec![0; len]
    } else {
        counts
    };
    Ok(Some(Frames {
        frames,
        height: sensor.height,
        width: sensor.width,
        counts,
    }))
}
