//! Frame specifications and the event index ranges each frame integrates.
//!
//! Every mode reduces to a list of half-open index ranges into the event slice, one per frame
//! ([`FrameSpec::slices`]); binning then counts the events of each range. The index rules follow
//! SpikingJelly (afb1322, `spikingjelly/datasets/utils.py`) and Tonic (d0cb6df, `tonic/slicers.py`)
//! exactly, including their rounding and the events Tonic drops.

use crate::error::{Error, Result};
use std::ops::Range;

/// How events become frames. Each variant names the library whose numbers it reproduces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrameSpec {
    /// SpikingJelly `split_by='number'`: `frames` frames of `N // frames` events each, the
    /// remainder `N % frames` going to the last frame. `N < frames` leaves every frame but the
    /// last empty; `N == 0` gives empty frames.
    SplitByNumber {
        /// Number of frames `T` (at least 1).
        frames: usize,
    },
    /// SpikingJelly `split_by='time'`: bin width `dt = (t[N-1] - t[0]) // frames` taken from the
    /// first and last event (not min/max); frame `i` spans from the first to the last index of the
    /// events with `t[0] + i*dt <= t < t[0] + (i+1)*dt` (so with unsorted `t` it may hold events
    /// from other bins, as in SpikingJelly); the last frame ends at `N`.
    ///
    /// Where SpikingJelly raises `IndexError` (an empty time bin, `N == 0`, `dt == 0`) this gives
    /// an empty frame; an empty *last* bin starts at the first event with `t >= t[0] + (T-1)*dt`
    /// (so the events SpikingJelly's rule would give the last frame are still counted).
    SplitByTime {
        /// Number of frames `T` (at least 1).
        frames: usize,
    },
    /// SpikingJelly `integrate_events_by_fixed_duration`: `T = ceil((t[N-1] - t_min) / duration)`
    /// frames; frame `i` ends at numpy `searchsorted((t - t_min) // duration, i + 1)`, the last
    /// frame takes the rest. SpikingJelly crashes when `T == 0` (all events at `t_min`); this
    /// gives one frame holding every event then, and zero frames for zero events.
    FixedDuration {
        /// Frame length in microseconds (at least 1).
        duration: i64,
    },
    /// Tonic `ToFrame(time_window=..)`: windows of `window` µs every `window - overlap` µs from
    /// `start_time` (default `t[0]`); `n = floor((end - start - window) / stride) + 1` windows
    /// (`ceil` with `include_incomplete`), at least 1. Events after the last window are dropped.
    TimeWindow {
        /// Window length in µs.
        window: f64,
        /// Overlap of consecutive windows in µs (less than `window`).
        overlap: f64,
        /// Keep the last, shorter window.
        include_incomplete: bool,
        /// Start of the first window (default `t[0]`).
        start_time: Option<f64>,
        /// End used for the window count (default `t[N-1]`).
        end_time: Option<f64>,
    },
    /// Tonic `ToFrame(event_count=..)`: slices of `min(count, N)` events every `count - overlap`
    /// events; `n = floor((N - min(count, N)) / stride) + 1` slices (`ceil` with
    /// `include_incomplete`). The tail that does not fill a slice is dropped.
    EventCount {
        /// Events per frame (at least 1).
        count: usize,
        /// Events shared by consecutive frames (less than `count`).
        overlap: usize,
        /// Keep the last, smaller slice.
        include_incomplete: bool,
    },
    /// Tonic `ToFrame(n_time_bins=..)`: `tw = (t[N-1] - t[0]) // bins * (1 + overlap)`,
    /// `stride = tw * (1 - overlap)`, window `i` = `[t[0] + i*stride, t[0] + i*stride + tw)`.
    /// Events at or after the end of the last window (always including the last event when
    /// `overlap == 0`) are dropped, as Tonic does.
    TimeBins {
        /// Number of frames (at least 1).
        bins: usize,
        /// Fraction of a bin shared with the next one, in `[0, 1)`.
        overlap: f64,
    },
    /// Tonic `ToFrame(n_event_bins=..)`: `count = int(N // bins * (1 + overlap))`,
    /// `stride = int(count * (1 - overlap))`, slice `i` = `[i*stride, i*stride + count)`;
    /// the `N % bins` tail is dropped, as Tonic does.
    EventBins {
        /// Number of frames (at least 1).
        bins: usize,
        /// Fraction of a bin shared with the next one, in `[0, 1)`.
        overlap: f64,
    },
}

/// Which polarity rule a mode uses to pick the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChannelRule {
    /// SpikingJelly: channel 0 = `p == 0`, channel 1 = every other value.
    NonZero,
    /// Tonic: channel = `p` (0 or 1; anything else is an error).
    Index,
}

impl FrameSpec {
    /// A Tonic time-window spec with no overlap, no incomplete window, default start and end.
    pub fn time_window(window: f64) -> Self {
        FrameSpec::TimeWindow {
            window,
            overlap: 0.0,
            include_incomplete: false,
            start_time: None,
            end_time: None,
        }
    }

    /// True for the SpikingJelly modes (float32 output in the CLI), false for the Tonic ones
    /// (int16 output).
    pub fn is_spikingjelly(&self) -> bool {
        matches!(
            self,
            FrameSpec::SplitByNumber { .. }
                | FrameSpec::SplitByTime { .. }
                | FrameSpec::FixedDuration { .. }
        )
    }

    /// The frame count when it does not depend on the events (`SplitByNumber`, `SplitByTime`,
    /// `TimeBins`, `EventBins`), else `None`.
    pub fn fixed_frames(&self) -> Option<usize> {
        match *self {
            FrameSpec::SplitByNumber { frames } | FrameSpec::SplitByTime { frames } => Some(frames),
            FrameSpec::TimeBins { bins, .. } | FrameSpec::EventBins { bins, .. } => Some(bins),
            _ => None,
        }
    }

    pub(crate) fn channel_rule(&self) -> ChannelRule {
        if self.is_spikingjelly() {
            ChannelRule::NonZero
        } else {
            ChannelRule::Index
        }
    }

    /// Checks the parameters without looking at events.
    pub fn validate(&self) -> Result<()> {
        let bad = |reason: &str| {
            Err(Error::InvalidSpec {
                reason: reason.to_string(),
            })
        };
        match *self {
            FrameSpec::SplitByNumber { frames } | FrameSpec::SplitByTime { frames } => {
                if frames == 0 {
                    return bad("the number of frames must be at least 1");
                }
                check_frames(frames as u64)?;
            }
            FrameSpec::FixedDuration { duration } => {
                if duration <= 0 {
                    return bad("the frame duration must be at least 1 µs");
                }
            }
            FrameSpec::TimeWindow {
                window,
                overlap,
                start_time,
                end_time,
                ..
            } => {
                if !(window.is_finite() && overlap.is_finite()) {
                    return bad("time window and overlap must be finite");
                }
                if window - overlap <= 0.0 {
                    return bad("the time window must be longer than the overlap (stride > 0)");
                }
                if start_time.is_some_and(|s| !s.is_finite())
                    || end_time.is_some_and(|e| !e.is_finite())
                {
                    return bad("start and end times must be finite");
                }
            }
            FrameSpec::EventCount { count, overlap, .. } => {
                if count == 0 {
                    return bad("the event count must be at least 1");
                }
                if overlap >= count {
                    return bad("the event overlap must be smaller than the event count");
                }
            }
            FrameSpec::TimeBins { bins, overlap } | FrameSpec::EventBins { bins, overlap } => {
                if bins == 0 {
                    return bad("the number of bins must be at least 1");
                }
                check_frames(bins as u64)?;
                if !(0.0..1.0).contains(&overlap) {
                    return bad("the bin overlap must be in [0, 1)");
                }
            }
        }
        Ok(())
    }

    /// The half-open index ranges of `t` that each frame integrates, in frame order.
    ///
    /// Ranges may overlap (Tonic overlap, SpikingJelly time bins on unsorted `t`) and need not
    /// cover every event (Tonic drops some). Every range lies within `0..t.len()`.
    pub fn slices(&self, t: &[i64]) -> Result<Vec<Range<usize>>> {
        self.validate()?;
        let n = t.len();
        Ok(match *self {
            FrameSpec::SplitByNumber { frames } => split_by_number(n, frames),
            FrameSpec::SplitByTime { frames } => split_by_time(t, frames),
            FrameSpec::FixedDuration { duration } => fixed_duration(t, duration)?,
            FrameSpec::TimeWindow {
                window,
                overlap,
                include_incomplete,
                start_time,
                end_time,
            } => tonic_time_window(t, window, overlap, include_incomplete, start_time, end_time)?,
            FrameSpec::EventCount {
                count,
                overlap,
                include_incomplete,
            } => tonic_event_count(n, count, overlap, include_incomplete),
            FrameSpec::TimeBins { bins, overlap } => tonic_time_bins(t, bins, overlap),
            FrameSpec::EventBins { bins, overlap } => tonic_event_bins(n, bins, overlap),
        })
    }

    /// The number of frames this spec gives for timestamps `t`.
    pub fn num_frames(&self, t: &[i64]) -> Result<usize> {
        match self.fixed_frames() {
            Some(f) => self.validate().map(|_| f),
            None => self.slices(t).map(|s| s.len()),
        }
    }
}

fn split_by_number(n: usize, frames: usize) -> Vec<Range<usize>> {
    let di = n / frames;
    let mut out: Vec<Range<usize>> = (0..frames).map(|i| i * di..(i + 1) * di).collect();
    if let Some(last) = out.last_mut() {
        last.end = n;
    }
    out
}

fn split_by_time(t: &[i64], frames: usize) -> Vec<Range<usize>> {
    split_by_time_with(t, frames, is_sorted(t))
}

/// SpikingJelly's time split; `sorted` says whether `t` is non-decreasing (binary search per bin
/// instead of a pass over every timestamp). With `sorted == true` on sorted input the non-empty
/// ranges tile `0..N` in order, which [`crate::bin`] relies on to verify the assumption while
/// binning.
pub(crate) fn split_by_time_with(t: &[i64], frames: usize, sorted: bool) -> Vec<Range<usize>> {
    let n = t.len();
    if n == 0 {
        return vec![0..0; frames];
    }
    let t0 = t[0];
    // Python floor division on numpy's wrapping int64 difference; a negative span (unsorted t,
    // or a span beyond 2^63 µs) gives dt < 0 and only empty masks.
    let dt = t[n - 1].wrapping_sub(t0).div_euclid(frames as i64);
    // Bin bounds in i128: with `sorted` assumed but not yet verified, `t0 + i*dt` may exceed i64.
    let bound = |i: usize| t0 as i128 + dt as i128 * i as i128;
    // first[i], last[i]: first and last index of events in bin i (SpikingJelly's mask).
    let mut first = vec![usize::MAX; frames];
    let mut last = vec![0usize; frames];
    if dt > 0 {
        if sorted {
            // Sorted: the mask of each bin is one contiguous run found by binary search.
            for i in 0..frames {
                let (lo, hi) = (bound(i), bound(i + 1));
                let a = t.partition_point(|&v| (v as i128) < lo);
                let b = t.partition_point(|&v| (v as i128) < hi);
                if a < b {
                    first[i] = a;
                    last[i] = b - 1;
                }
            }
        } else {
            for (k, &v) in t.iter().enumerate() {
                // v - t0 beyond i64 lies past every bin (frames * dt <= the span fits i64).
                let Some(d) = v.checked_sub(t0).filter(|&d| d >= 0) else {
                    continue;
                };
                let bin = (d / dt) as u64;
                if bin < frames as u64 {
                    let b = bin as usize;
                    if first[b] == usize::MAX {
                        first[b] = k;
                    }
                    last[b] = k;
                }
            }
        }
    }
    let mut out: Vec<Range<usize>> = (0..frames)
        .map(|i| {
            if first[i] == usize::MAX {
                0..0
            } else {
                first[i]..last[i] + 1
            }
        })
        .collect();
    let lo_last = bound(frames - 1);
    let start_last = if first[frames - 1] != usize::MAX {
        first[frames - 1]
    } else {
        // SpikingJelly crashes here; start where its rule would: the first event at or after the
        // last bin's start.
        if sorted {
            t.partition_point(|&v| (v as i128) < lo_last)
        } else {
            t.iter().position(|&v| v as i128 >= lo_last).unwrap_or(n)
        }
    };
    out[frames - 1] = start_last..n;
    out
}

/// True when `t` is non-decreasing. (A pass over 8 bytes per event: on a memory-bound machine it
/// costs about as much as binning itself, which reads 5 bytes per event.)
pub fn is_sorted(t: &[i64]) -> bool {
    t.is_sorted()
}

/// numpy's `searchsorted(a, key, side='left')` for one key, as numpy's binary search does it
/// (so the result on unsorted input is numpy's too).
fn np_searchsorted_one(len: usize, key: u64, value_at: impl Fn(usize) -> u64) -> usize {
    let (mut lo, mut hi) = (0usize, len);
    while lo < hi {
        let mid = lo + ((hi - lo) >> 1);
        if value_at(mid) < key {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// numpy's `searchsorted(a, keys, side='left')` for an array of float keys on an int64 array,
/// including numpy's reuse of the previous bounds when keys increase.
fn np_searchsorted_many(t: &[i64], keys: &[f64]) -> Vec<usize> {
    let len = t.len();
    let mut out = Vec::with_capacity(keys.len());
    let (mut lo, mut hi) = (0usize, len);
    let mut last_key = match keys.first() {
        Some(&k) => k,
        None => return out,
    };
    for &key in keys {
        if last_key < key {
            hi = len;
        } else {
            lo = 0;
            hi = if hi < len { hi + 1 } else { len };
        }
        last_key = key;
        while lo < hi {
            let mid = lo + ((hi - lo) >> 1);
            // numpy compares int64 against float64 keys in float64.
            if (t[mid] as f64) < key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        out.push(lo);
    }
    out
}

fn fixed_duration(t: &[i64], duration: i64) -> Result<Vec<Range<usize>>> {
    let n = t.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    let t_min = t.iter().copied().min().unwrap_or(0);
    // `v - t_min` for any v >= t_min lies in 0..2^64: exact as u64, where i64 could overflow.
    let above_min = |v: i64| v.wrapping_sub(t_min) as u64;
    let duration = duration as u64; // validated >= 1
    let span = above_min(t[n - 1]);
    // ceil(span / duration) without going through float (exact for every span).
    let frames = check_frames(span.div_ceil(duration))?;
    if frames == 0 {
        // One frame with every event (SpikingJelly raises here).
        #[allow(clippy::single_range_in_vec_init)]
        return Ok(vec![0..n]);
    }
    let frame_index = |k: usize| above_min(t[k]) / duration;
    let mut out = Vec::with_capacity(frames);
    let mut left = 0usize;
    for i in 0..frames - 1 {
        let right = np_searchsorted_one(n, i as u64 + 1, frame_index);
        // numpy slicing x[left:right] with right < left is empty.
        out.push(left..right.max(left));
        left = right;
    }
    out.push(left..n);
    Ok(out)
}

/// Most frames one sample may have: more is a parameter mistake (a 1 µs window over an hour),
/// and refusing it early avoids allocating the index lists.
pub const MAX_FRAMES: usize = 1 << 24;

fn check_frames(frames: u64) -> Result<usize> {
    if frames > MAX_FRAMES as u64 {
        return Err(Error::InvalidSpec {
            reason: format!("{frames} frames requested, more than the limit of {MAX_FRAMES}"),
        });
    }
    Ok(frames as usize)
}

fn clamp_range(a: usize, b: usize, n: usize) -> Range<usize> {
    let a = a.min(n);
    a..b.clamp(a, n)
}

fn tonic_time_window(
    t: &[i64],
    window: f64,
    overlap: f64,
    include_incomplete: bool,
    start_time: Option<f64>,
    end_time: Option<f64>,
) -> Result<Vec<Range<usize>>> {
    let n = t.len();
    let stride = window - overlap;
    let (start, end) = match (t.first(), t.last()) {
        (Some(&f), Some(&l)) => (start_time.unwrap_or(f as f64), end_time.unwrap_or(l as f64)),
        // Tonic raises on empty input; without events one empty window from the given start.
        _ => (start_time.unwrap_or(0.0), end_time.unwrap_or(0.0)),
    };
    let q = ((end - start) - window) / stride;
    let k = if include_incomplete {
        q.ceil()
    } else {
        q.floor()
    };
    // Float -> int saturates in Rust; the max(…, 1) matches Tonic's "for strides larger than
    // recording time".
    let slices = ((k as i64).saturating_add(1)).max(1) as u64;
    let slices = check_frames(slices)?;
    let starts: Vec<f64> = (0..slices).map(|i| i as f64 * stride + start).collect();
    let ends: Vec<f64> = starts.iter().map(|s| s + window).collect();
    let a = np_searchsorted_many(t, &starts);
    let b = np_searchsorted_many(t, &ends);
    Ok(a.into_iter()
        .zip(b)
        .map(|(a, b)| clamp_range(a, b, n))
        .collect())
}

fn tonic_event_count(
    n: usize,
    count: usize,
    overlap: usize,
    include_incomplete: bool,
) -> Vec<Range<usize>> {
    let ec = count.min(n);
    let stride = count - overlap;
    let rest = n - ec;
    let slices = if include_incomplete {
        rest.div_ceil(stride) + 1
    } else {
        rest / stride + 1
    };
    (0..slices)
        .map(|i| clamp_range(i * stride, i * stride + ec, n))
        .collect()
}

fn tonic_time_bins(t: &[i64], bins: usize, overlap: f64) -> Vec<Range<usize>> {
    let n = t.len();
    if n == 0 {
        return vec![0..0; bins];
    }
    let t0 = t[0];
    // numpy's int64 difference wraps; so does this one.
    let tw = t[n - 1].wrapping_sub(t0).div_euclid(bins as i64) as f64 * (1.0 + overlap);
    let stride = tw * (1.0 - overlap);
    let starts: Vec<f64> = (0..bins).map(|i| i as f64 * stride + t0 as f64).collect();
    let ends: Vec<f64> = starts.iter().map(|s| s + tw).collect();
    let a = np_searchsorted_many(t, &starts);
    let b = np_searchsorted_many(t, &ends);
    a.into_iter()
        .zip(b)
        .map(|(a, b)| clamp_range(a, b, n))
        .collect()
}

fn tonic_event_bins(n: usize, bins: usize, overlap: f64) -> Vec<Range<usize>> {
    let count = ((n / bins) as f64 * (1.0 + overlap)) as usize;
    let stride = (count as f64 * (1.0 - overlap)) as usize;
    (0..bins)
        .map(|i| clamp_range(i * stride, i * stride + count, n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slices(spec: FrameSpec, t: &[i64]) -> Vec<Range<usize>> {
        spec.slices(t).expect("valid spec")
    }

    #[test]
    fn number_gives_remainder_to_last_frame() {
        let t: Vec<i64> = (0..10).collect();
        let s = slices(FrameSpec::SplitByNumber { frames: 3 }, &t);
        assert_eq!(s, vec![0..3, 3..6, 6..10]);
    }

    #[test]
    fn number_with_fewer_events_than_frames() {
        let t = [5i64, 6];
        let s = slices(FrameSpec::SplitByNumber { frames: 4 }, &t);
        assert_eq!(s, vec![0..0, 0..0, 0..0, 0..2]);
        let s = slices(FrameSpec::SplitByNumber { frames: 4 }, &[]);
        assert_eq!(s, vec![0..0; 4]);
    }

    #[test]
    fn time_bins_use_first_and_last_element() {
        // span 0..=10, T=2 -> dt=5: [0,5) and the rest.
        let t = [0i64, 1, 4, 5, 9, 10];
        let s = slices(FrameSpec::SplitByTime { frames: 2 }, &t);
        assert_eq!(s, vec![0..3, 3..6]);
    }

    #[test]
    fn time_empty_bin_gives_empty_frame() {
        // dt = 30 // 3 = 10; bin [10,20) is empty (SpikingJelly raises IndexError).
        let t = [0i64, 1, 25, 30];
        let s = slices(FrameSpec::SplitByTime { frames: 3 }, &t);
        assert_eq!(s, vec![0..2, 0..0, 2..4]);
        // Empty last bin: starts at the first event at or after its start.
        let t = [0i64, 1, 2, 3, 100];
        let s = slices(FrameSpec::SplitByTime { frames: 2 }, &t);
        // dt = 50: bin 0 = [0,50) -> 0..4, last bin [50,100) empty -> from index 4 to N.
        assert_eq!(s, vec![0..4, 4..5]);
    }

    #[test]
    fn time_zero_span_and_zero_events() {
        let t = [7i64, 7, 7];
        let s = slices(FrameSpec::SplitByTime { frames: 3 }, &t);
        assert_eq!(s, vec![0..0, 0..0, 0..3]);
        let s = slices(FrameSpec::SplitByTime { frames: 2 }, &[]);
        assert_eq!(s, vec![0..0, 0..0]);
    }

    #[test]
    fn time_unsorted_uses_first_and_last_index_of_mask() {
        // dt = 10 // 2 = 5. bin0 [0,5): indices 0, 3 -> 0..4; last bin: first index of bin1 = 1.
        let t = [0i64, 6, 7, 2, 10];
        let s = slices(FrameSpec::SplitByTime { frames: 2 }, &t);
        assert_eq!(s, vec![0..4, 1..5]);
    }

    #[test]
    fn duration_counts_frames_like_spikingjelly() {
        // t - min = [0,10,20,25], duration 10 -> ceil(25/10)=3 frames, index = [0,1,2,2].
        let t = [100i64, 110, 120, 125];
        let s = slices(FrameSpec::FixedDuration { duration: 10 }, &t);
        assert_eq!(s, vec![0..1, 1..2, 2..4]);
        // Exactly on a boundary: t[-1]-min = 20 -> 2 frames; the event at 20 goes to the last.
        let t = [0i64, 10, 20];
        let s = slices(FrameSpec::FixedDuration { duration: 10 }, &t);
        assert_eq!(s, vec![0..1, 1..3]);
        // All at one time: SpikingJelly crashes; one frame with everything.
        let s = slices(FrameSpec::FixedDuration { duration: 10 }, &[3, 3]);
        assert_eq!(s, vec![0..2]);
        assert!(slices(FrameSpec::FixedDuration { duration: 10 }, &[]).is_empty());
    }

    #[test]
    fn tonic_event_bins_drop_tail() {
        let s = slices(
            FrameSpec::EventBins {
                bins: 3,
                overlap: 0.0,
            },
            &[0; 11],
        );
        assert_eq!(s, vec![0..3, 3..6, 6..9]);
    }

    #[test]
    fn tonic_time_bins_drop_last_event() {
        let t = [0i64, 1, 2, 3, 4];
        let s = slices(
            FrameSpec::TimeBins {
                bins: 2,
                overlap: 0.0,
            },
            &t,
        );
        assert_eq!(s, vec![0..2, 2..4]);
    }

    #[test]
    fn tonic_event_count_incomplete() {
        let spec = |inc| FrameSpec::EventCount {
            count: 4,
            overlap: 0,
            include_incomplete: inc,
        };
        assert_eq!(slices(spec(false), &[0; 10]), vec![0..4, 4..8]);
        assert_eq!(slices(spec(true), &[0; 10]), vec![0..4, 4..8, 8..10]);
        let ov = FrameSpec::EventCount {
            count: 4,
            overlap: 2,
            include_incomplete: false,
        };
        assert_eq!(slices(ov, &[0; 8]), vec![0..4, 2..6, 4..8]);
    }

    #[test]
    fn tonic_time_window_with_overlap() {
        let t: Vec<i64> = (0..=100).collect();
        let spec = FrameSpec::TimeWindow {
            window: 40.0,
            overlap: 20.0,
            include_incomplete: false,
            start_time: None,
            end_time: None,
        };
        // n = floor((100-40)/20)+1 = 4 windows starting 0,20,40,60.
        assert_eq!(slices(spec, &t), vec![0..40, 20..60, 40..80, 60..100]);
    }

    #[test]
    fn invalid_specs_are_errors() {
        assert!(FrameSpec::SplitByNumber { frames: 0 }.slices(&[1]).is_err());
        assert!(FrameSpec::FixedDuration { duration: 0 }
            .slices(&[1])
            .is_err());
        assert!(FrameSpec::time_window(0.0).slices(&[1]).is_err());
        assert!(FrameSpec::TimeBins {
            bins: 2,
            overlap: 1.0
        }
        .slices(&[1])
        .is_err());
    }

    #[test]
    fn sortedness() {
        assert!(is_sorted(&[]));
        assert!(is_sorted(&[3]));
        let mut t: Vec<i64> = (0..10_000).map(|i| i / 3).collect();
        assert!(is_sorted(&t));
        t[9_000] = -1;
        assert!(!is_sorted(&t));
    }

    #[test]
    fn numpy_searchsorted_on_sorted_matches_partition_point() {
        let t = [1i64, 3, 3, 5, 9];
        for key in [0.0, 1.0, 2.5, 3.0, 4.0, 9.0, 10.0] {
            let got = np_searchsorted_many(&t, &[key])[0];
            assert_eq!(got, t.partition_point(|&v| (v as f64) < key));
        }
        assert_eq!(np_searchsorted_many(&t, &[0.0, 3.0, 9.5]), vec![0, 1, 5]);
    }

    #[test]
    fn extreme_timestamps_do_not_panic() {
        let cases: [&[i64]; 4] = [
            &[i64::MIN, 0, i64::MAX],
            &[i64::MAX, 0, i64::MIN],
            &[0, i64::MAX, -5, i64::MIN + 1],
            &[i64::MIN, i64::MAX],
        ];
        for t in cases {
            for spec in [
                FrameSpec::SplitByTime { frames: 3 },
                FrameSpec::FixedDuration { duration: 1 << 62 },
                FrameSpec::FixedDuration { duration: 1 },
                FrameSpec::TimeBins {
                    bins: 3,
                    overlap: 0.5,
                },
                FrameSpec::time_window(1e18),
            ] {
                // An error (too many frames) is fine; a panic or a range past the end is not.
                for r in spec.slices(t).unwrap_or_default() {
                    assert!(
                        r.start <= r.end && r.end <= t.len(),
                        "{spec:?} {t:?}: {r:?}"
                    );
                }
                for r in split_by_time_with(t, 3, true) {
                    assert!(r.start <= r.end && r.end <= t.len(), "{t:?}: {r:?}");
                }
            }
        }
        // A span of 2^64 - 1 µs is exact: ceil((2^64 - 1) / 2^62) = 4 frames.
        let s = slices(
            FrameSpec::FixedDuration { duration: 1 << 62 },
            &[i64::MIN, i64::MAX],
        );
        assert_eq!(s, vec![0..1, 1..1, 1..1, 1..2]);
    }
}
