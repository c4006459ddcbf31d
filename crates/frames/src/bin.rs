//! Counting events into frames: the inner loop, single samples, and caller-provided buffers.

use crate::error::{Error, Result};
use crate::frames::{Frames, SensorSize};
use crate::spec::{is_sorted, split_by_time_with, ChannelRule, FrameSpec};
use snnkit_events::EventsRef;
use std::ops::Range;

/// Integrates `events` into frames following `spec`.
///
/// # Shapes
/// Output `[T, 2, H, W]` with `T` from the spec (`spec.num_frames(events.t)`), `H = sensor.height`,
/// `W = sensor.width`.
///
/// # Errors
/// [`Error::OutOfRange`] for an event outside the sensor, [`Error::BadPolarity`] for a Tonic mode
/// and polarity > 1, [`Error::InvalidSpec`] / [`Error::InvalidSensor`] / [`Error::TooLarge`] for
/// bad parameters.
pub fn integrate(events: EventsRef<'_>, sensor: SensorSize, spec: &FrameSpec) -> Result<Frames> {
    let (frames, counts) = if let FrameSpec::SplitByTime { frames } = *spec {
        spec.validate()?;
        let mut counts = alloc(sensor, frames)?;
        bin_split_by_time(events, sensor, frames, &mut Sink::Append(&mut counts))?;
        (frames, counts)
    } else {
        let slices = spec.slices(events.t)?;
        let mut counts = alloc(sensor, slices.len())?;
        let rule = spec.channel_rule();
        bin_slices_to(
            events,
            sensor,
            rule,
            &slices,
            &mut Sink::Append(&mut counts),
        )?;
        (slices.len(), counts)
    };
    Ok(Frames {
        frames,
        height: sensor.height,
        width: sensor.width,
        counts,
    })
}

/// Like [`integrate`], but writes into `out`, which must hold exactly
/// `spec.num_frames(events.t)? * 2 * H * W` counts; every count of `out` is overwritten.
/// Returns `T`.
pub fn integrate_into(
    events: EventsRef<'_>,
    sensor: SensorSize,
    spec: &FrameSpec,
    out: &mut [u32],
) -> Result<usize> {
    let check = |frames: usize, out: &[u32]| -> Result<()> {
        let needed = buffer_len(sensor, frames)?;
        if out.len() != needed {
            return Err(Error::BufferSize {
                needed,
                got: out.len(),
                frames,
            });
        }
        Ok(())
    };
    if let FrameSpec::SplitByTime { frames } = *spec {
        spec.validate()?;
        check(frames, out)?;
        bin_split_by_time(events, sensor, frames, &mut Sink::Slice(out))?;
        return Ok(frames);
    }
    let slices = spec.slices(events.t)?;
    check(slices.len(), out)?;
    bin_slices(events, sensor, spec.channel_rule(), &slices, out)?;
    Ok(slices.len())
}

/// Where frames go. Each frame is zeroed right before it is binned, so it is still in cache when
/// the increments land (zeroing the whole multi-megabyte buffer up front made the parallel driver
/// 3× slower: a large memset bypasses or evicts the cache).
pub(crate) enum Sink<'a> {
    /// Append frames to a vector (with capacity reserved).
    Append(&'a mut Vec<u32>),
    /// Overwrite the frames of a `[T, 2, H, W]` slice.
    Slice(&'a mut [u32]),
}

impl Sink<'_> {
    /// Frame `i` (frames are requested in order), zeroed.
    fn frame(&mut self, i: usize, frame_len: usize) -> &mut [u32] {
        match self {
            Sink::Append(v) => {
                let start = v.len();
                v.resize(start + frame_len, 0);
                &mut v[start..]
            }
            Sink::Slice(s) => {
                let f = &mut s[i * frame_len..(i + 1) * frame_len];
                f.fill(0);
                f
            }
        }
    }

    /// Starts over from frame 0.
    fn reset(&mut self) {
        if let Sink::Append(v) = self {
            v.clear();
        }
    }
}

/// Counts the events of `range` into one frame `out` (`[2, H, W]`, not cleared first) with
/// SpikingJelly's channel rule (`p != 0` -> channel 1). A building block for callers that compute
/// their own ranges.
pub fn accumulate(
    events: EventsRef<'_>,
    range: Range<usize>,
    sensor: SensorSize,
    out: &mut [u32],
) -> Result<()> {
    check_sensor(sensor)?;
    if range.start > range.end || range.end > events.len() {
        return Err(Error::InvalidSpec {
            reason: format!(
                "event range {range:?} outside the {} events given",
                events.len()
            ),
        });
    }
    if out.len() != sensor.frame_len() {
        return Err(Error::BufferSize {
            needed: sensor.frame_len(),
            got: out.len(),
            frames: 1,
        });
    }
    bin_one::<false>(events, range, sensor, out)
}

pub(crate) fn check_sensor(sensor: SensorSize) -> Result<()> {
    if sensor.width == 0 || sensor.height == 0 {
        return Err(Error::InvalidSensor {
            width: sensor.width,
            height: sensor.height,
        });
    }
    Ok(())
}

pub(crate) fn buffer_len(sensor: SensorSize, frames: usize) -> Result<usize> {
    check_sensor(sensor)?;
    sensor.checked_len(frames).ok_or(Error::TooLarge {
        frames,
        height: sensor.height,
        width: sensor.width,
    })
}

/// An empty vector with room for `frames` frames; an allocation the system refuses is
/// [`Error::TooLarge`], not an abort.
fn alloc(sensor: SensorSize, frames: usize) -> Result<Vec<u32>> {
    let len = buffer_len(sensor, frames)?;
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Error::TooLarge {
        frames,
        height: sensor.height,
        width: sensor.width,
    })?;
    Ok(v)
}

/// Bins `slices` into the frames of `out` (`[slices.len(), 2, H, W]`), overwriting them.
pub(crate) fn bin_slices(
    events: EventsRef<'_>,
    sensor: SensorSize,
    rule: ChannelRule,
    slices: &[Range<usize>],
    out: &mut [u32],
) -> Result<()> {
    bin_slices_to(events, sensor, rule, slices, &mut Sink::Slice(out))
}

fn bin_slices_to(
    events: EventsRef<'_>,
    sensor: SensorSize,
    rule: ChannelRule,
    slices: &[Range<usize>],
    sink: &mut Sink<'_>,
) -> Result<()> {
    let frame_len = sensor.frame_len();
    for (i, range) in slices.iter().enumerate() {
        let frame = sink.frame(i, frame_len);
        match rule {
            ChannelRule::NonZero => bin_one::<false>(events, range.clone(), sensor, frame)?,
            ChannelRule::Index => bin_one::<true>(events, range.clone(), sensor, frame)?,
        }
    }
    Ok(())
}

/// SpikingJelly's time split of `frames` frames into `sink`, in one pass over the events when
/// they are sorted: the ranges are planned assuming sorted timestamps (binary search per bin) and
/// the binning loop verifies the order as it goes; if the timestamps turn out unsorted, the frames
/// are binned again from the general ranges.
pub(crate) fn bin_split_by_time(
    events: EventsRef<'_>,
    sensor: SensorSize,
    frames: usize,
    sink: &mut Sink<'_>,
) -> Result<()> {
    let t = events.t;
    let slices = split_by_time_with(t, frames, true);
    let frame_len = sensor.frame_len();
    let mut sorted = true;
    let mut next = 0usize; // where the next non-empty range must start for the ranges to tile 0..N
    for (i, range) in slices.iter().enumerate() {
        let frame = sink.frame(i, frame_len);
        if range.is_empty() {
            continue;
        }
        if range.start != next
            || (next > 0 && t[next - 1] > t[next])
            || !bin_one_checked(events, range.clone(), sensor, frame)?
        {
            sorted = false;
            break;
        }
        next = range.end;
    }
    if sorted && next == t.len() {
        return Ok(());
    }
    sink.reset();
    let slices = split_by_time_with(t, frames, false);
    bin_slices_to(events, sensor, ChannelRule::NonZero, &slices, sink)
}

/// [`bin_one`] with SpikingJelly's channel rule, after checking that `t` is non-decreasing over
/// `range` (a vectorised pass over one column). Returns `false` without binning when it is not.
fn bin_one_checked(
    events: EventsRef<'_>,
    range: Range<usize>,
    sensor: SensorSize,
    frame: &mut [u32],
) -> Result<bool> {
    if !is_sorted(&events.t[range.clone()]) {
        return Ok(false);
    }
    bin_one::<false>(events, range, sensor, frame)?;
    Ok(true)
}

/// The hot loop: one pass over the columns of `range`, one increment per event, no allocation.
/// `TONIC` selects the channel rule at compile time so the loop has no extra branch.
#[inline]
fn bin_one<const TONIC: bool>(
    events: EventsRef<'_>,
    range: Range<usize>,
    sensor: SensorSize,
    frame: &mut [u32],
) -> Result<()> {
    let (w, h) = (sensor.width, sensor.height);
    let plane = w * h;
    let xs = &events.x[range.clone()];
    let ys = &events.y[range.clone()];
    let ps = &events.p[range.clone()];
    let frame = &mut frame[..2 * plane];
    for (i, ((&x, &y), &p)) in xs.iter().zip(ys).zip(ps).enumerate() {
        let (xu, yu) = (x as usize, y as usize);
        if xu >= w || yu >= h {
            return Err(Error::OutOfRange {
                index: range.start + i,
                x,
                y,
                width: w,
                height: h,
            });
        }
        let c = if TONIC {
            if p > 1 {
                return Err(Error::BadPolarity {
                    index: range.start + i,
                    p,
                });
            }
            p as usize
        } else {
            (p != 0) as usize
        };
        let cell = &mut frame[c * plane + yu * w + xu];
        // Wrapping: a count can only reach 2^32 with more events than fit in memory, and the
        // crate must never panic on data.
        *cell = cell.wrapping_add(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use snnkit_events::Events;

    fn ev(items: &[(i64, u16, u16, u8)]) -> Events {
        items
            .iter()
            .map(|&(t, x, y, p)| snnkit_events::Event { t, x, y, p })
            .collect()
    }

    const S: SensorSize = SensorSize {
        width: 3,
        height: 2,
    };

    #[test]
    fn counts_land_in_channel_row_column() {
        let e = ev(&[(0, 2, 1, 1), (1, 2, 1, 1), (2, 0, 0, 0), (3, 1, 0, 7)]);
        let f = integrate(e.as_ref(), S, &FrameSpec::SplitByNumber { frames: 1 }).unwrap();
        assert_eq!(f.shape(), [1, 2, 2, 3]);
        // channel 1, row 1, col 2 -> 6 + 3 + 2 = 11
        assert_eq!(f.counts[11], 2);
        assert_eq!(f.counts[0], 1);
        // p = 7 counts as ON in SpikingJelly's rule: channel 1, row 0, col 1.
        assert_eq!(f.counts[6 + 1], 1);
        assert_eq!(f.per_frame_sum(), vec![4]);
    }

    #[test]
    fn out_of_range_is_an_error_not_a_panic() {
        let e = ev(&[(0, 0, 0, 0), (1, 3, 0, 0)]);
        let err = integrate(e.as_ref(), S, &FrameSpec::SplitByNumber { frames: 2 }).unwrap_err();
        assert!(
            matches!(
                err,
                Error::OutOfRange {
                    index: 1,
                    x: 3,
                    y: 0,
                    width: 3,
                    height: 2
                }
            ),
            "{err:?}"
        );
        let e = ev(&[(0, 0, 2, 0)]);
        assert!(integrate(e.as_ref(), S, &FrameSpec::SplitByNumber { frames: 1 }).is_err());
    }

    #[test]
    fn tonic_modes_reject_polarity_above_one() {
        let e = ev(&[(0, 0, 0, 2), (1, 0, 0, 0)]);
        let spec = FrameSpec::EventBins {
            bins: 1,
            overlap: 0.0,
        };
        assert!(matches!(
            integrate(e.as_ref(), S, &spec),
            Err(Error::BadPolarity { index: 0, p: 2 })
        ));
    }

    #[test]
    fn zero_events_give_empty_frames() {
        let e = Events::default();
        for spec in [
            FrameSpec::SplitByNumber { frames: 3 },
            FrameSpec::SplitByTime { frames: 3 },
        ] {
            let f = integrate(e.as_ref(), S, &spec).unwrap();
            assert_eq!(f.frames, 3);
            assert!(f.counts.iter().all(|&c| c == 0));
        }
        let f = integrate(e.as_ref(), S, &FrameSpec::FixedDuration { duration: 5 }).unwrap();
        assert_eq!(f.frames, 0);
        assert!(f.counts.is_empty());
    }

    #[test]
    fn into_buffer_checks_length_and_zeroes() {
        let e = ev(&[(0, 0, 0, 0), (5, 1, 1, 1)]);
        let spec = FrameSpec::SplitByNumber { frames: 2 };
        let mut buf = vec![9u32; 2 * S.frame_len()];
        assert_eq!(integrate_into(e.as_ref(), S, &spec, &mut buf).unwrap(), 2);
        let want = integrate(e.as_ref(), S, &spec).unwrap();
        assert_eq!(buf, want.counts);
        let mut short = vec![0u32; 3];
        assert!(matches!(
            integrate_into(e.as_ref(), S, &spec, &mut short),
            Err(Error::BufferSize { .. })
        ));
    }

    #[test]
    fn unsorted_time_bins_double_count_like_spikingjelly() {
        // dt = 10 // 2 = 5; bin 0 mask = {0, 3} -> range 0..4 (includes events 1 and 2 of bin 1).
        let e = ev(&[
            (0, 0, 0, 0),
            (6, 1, 0, 0),
            (7, 2, 0, 0),
            (2, 0, 1, 0),
            (10, 1, 1, 1),
        ]);
        let f = integrate(e.as_ref(), S, &FrameSpec::SplitByTime { frames: 2 }).unwrap();
        assert_eq!(f.per_frame_sum(), vec![4, 4]);
    }

    #[test]
    fn time_split_fast_path_equals_general_rule() {
        // Sorted, unsorted late, unsorted early, equal times: the one-pass path must give what
        // binning the general ranges gives.
        let cases: Vec<Vec<i64>> = vec![
            (0..50).collect(),
            (0..50).map(|i| if i == 40 { 3 } else { i }).collect(),
            (0..50).map(|i| 49 - i).collect(),
            vec![5; 20],
            (0..50).map(|i| if i == 0 { 10 } else { i }).collect(),
        ];
        for ts in cases {
            let e: Events = ts
                .iter()
                .enumerate()
                .map(|(i, &t)| snnkit_events::Event {
                    t,
                    x: (i % 3) as u16,
                    y: (i % 2) as u16,
                    p: (i % 2) as u8,
                })
                .collect();
            let spec = FrameSpec::SplitByTime { frames: 4 };
            let fast = integrate(e.as_ref(), S, &spec).unwrap();
            let slices = spec.slices(&e.t).unwrap();
            let mut want = vec![0u32; 4 * S.frame_len()];
            bin_slices(e.as_ref(), S, ChannelRule::NonZero, &slices, &mut want).unwrap();
            assert_eq!(fast.counts, want, "{ts:?}");
        }
    }

    #[test]
    fn i16_conversion_wraps_like_numpy_int16() {
        let f = Frames {
            frames: 1,
            height: 1,
            width: 2,
            counts: vec![32_768, 65_537, 0, 5],
        };
        assert_eq!(f.to_i16_wrapping(), vec![-32_768, 1, 0, 5]);
        assert_eq!(f.to_f32(), vec![32_768.0, 65_537.0, 0.0, 5.0]);
        assert_eq!(f.frame(0), Some(&[32_768, 65_537, 0, 5][..]));
        assert_eq!(f.frame(1), None);
        assert_eq!(f.frame(usize::MAX), None); // no overflow panic
    }

    #[test]
    fn zero_sensor_is_rejected() {
        let e = ev(&[(0, 0, 0, 0)]);
        let s = SensorSize {
            width: 0,
            height: 4,
        };
        assert!(matches!(
            integrate(e.as_ref(), s, &FrameSpec::SplitByNumber { frames: 1 }),
            Err(Error::InvalidSensor { .. })
        ));
    }
}
