//! `to_frames`: events into `[T, 2, H, W]` frames, SpikingJelly's modes and Tonic's `ToFrame`.

use numpy::{PyArray1, PyArrayMethods};
use pyo3::prelude::*;
use snnkit_frames::{integrate, FrameSpec, SensorSize};

use crate::{error, events, pool};

/// `(width, height)` or `(width, height, 2)`, as Tonic gives sensor sizes.
fn sensor(size: &Bound<'_, PyAny>) -> PyResult<SensorSize> {
    let bad = || {
        error::value(format!(
            "sensor_size must be (width, height) or (width, height, 2), as Tonic gives it; got {}",
            size.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    };
    let dims: Vec<usize> = size.extract().map_err(|_| bad())?;
    match dims[..] {
        [width, height] | [width, height, 2] => Ok(SensorSize { width, height }),
        [_, _, p] => Err(error::value(format!(
            "sensor_size has {p} polarities; snnkit's frames have 2 channels (OFF, ON)"
        ))),
        _ => Err(bad()),
    }
}

/// The frame specification the keyword arguments select (exactly one mode).
#[allow(clippy::too_many_arguments)]
fn spec(
    frames: Option<usize>,
    split_by: &str,
    duration: Option<i64>,
    time_window: Option<f64>,
    event_count: Option<usize>,
    n_time_bins: Option<usize>,
    n_event_bins: Option<usize>,
    overlap: f64,
    include_incomplete: bool,
    start_time: Option<f64>,
    end_time: Option<f64>,
) -> PyResult<FrameSpec> {
    let given = [
        frames.is_some(),
        duration.is_some(),
        time_window.is_some(),
        event_count.is_some(),
        n_time_bins.is_some(),
        n_event_bins.is_some(),
    ];
    if given.iter().filter(|&&g| g).count() != 1 {
        return Err(error::value(
            "give exactly one of frames (with split_by), duration, time_window, event_count, \
             n_time_bins, n_event_bins",
        ));
    }
    let spikingjelly = frames.is_some() || duration.is_some();
    if spikingjelly && (overlap != 0.0 || include_incomplete) {
        return Err(error::value(
            "overlap and include_incomplete belong to Tonic's modes (time_window, event_count, \
             n_time_bins, n_event_bins)",
        ));
    }
    if frames.is_none() && split_by != "number" {
        return Err(error::value("split_by goes with frames=T"));
    }
    if (start_time.is_some() || end_time.is_some()) && time_window.is_none() {
        return Err(error::value("start_time and end_time go with time_window"));
    }
    let spec = if let Some(frames) = frames {
        match split_by {
            "number" => FrameSpec::SplitByNumber { frames },
            "time" => FrameSpec::SplitByTime { frames },
            other => {
                return Err(error::value(format!(
                    "unknown split_by '{other}'; expected 'number' or 'time'"
                )))
            }
        }
    } else if let Some(duration) = duration {
        FrameSpec::FixedDuration { duration }
    } else if let Some(window) = time_window {
        FrameSpec::TimeWindow {
            window,
            overlap,
            include_incomplete,
            start_time,
            end_time,
        }
    } else if let Some(count) = event_count {
        if overlap < 0.0 || overlap.fract() != 0.0 {
            return Err(error::value(
                "with event_count, overlap is a whole number of events",
            ));
        }
        FrameSpec::EventCount {
            count,
            overlap: overlap as usize,
            include_incomplete,
        }
    } else if let Some(bins) = n_time_bins {
        FrameSpec::TimeBins { bins, overlap }
    } else if let Some(bins) = n_event_bins {
        FrameSpec::EventBins { bins, overlap }
    } else {
        unreachable!("exactly one mode was checked above")
    };
    spec.validate().map_err(error::frames)?;
    Ok(spec)
}

/// Integrates events into frames ``[T, 2, H, W]``: channel 0 = polarity 0 (OFF), channel 1 = ON,
/// row = ``y``, column = ``x``.
///
/// ``events``: a structured array with integer fields ``t`` (µs), ``x``, ``y``, ``p`` — what
/// :func:`read` returns, or Tonic's events. ``sensor_size``: ``(width, height)`` or
/// ``(width, height, 2)`` as Tonic gives it.
///
/// Exactly one mode:
///
/// * ``frames=T, split_by="number"|"time"`` — SpikingJelly's
///   ``integrate_events_by_fixed_frames_number``; ``float32``, bit for bit SpikingJelly's.
/// * ``duration=US`` — SpikingJelly's ``integrate_events_by_fixed_duration``; ``float32``.
/// * ``time_window=US``, ``event_count=N``, ``n_time_bins=T``, ``n_event_bins=T`` with
///   ``overlap``, ``include_incomplete``, ``start_time``, ``end_time`` — Tonic's ``ToFrame``
///   under Tonic's names; ``int16`` (wrapping), as Tonic returns.
///
/// Raises ``ValueError`` for an event outside the sensor, a bad mode or field dtype.
#[pyfunction]
#[pyo3(signature = (
    events, sensor_size, frames=None, split_by="number", duration=None, *,
    time_window=None, event_count=None, n_time_bins=None, n_event_bins=None,
    overlap=0.0, include_incomplete=false, start_time=None, end_time=None
))]
#[allow(clippy::too_many_arguments)]
pub fn to_frames<'py>(
    py: Python<'py>,
    events: &Bound<'py, PyAny>,
    sensor_size: &Bound<'py, PyAny>,
    frames: Option<usize>,
    split_by: &str,
    duration: Option<i64>,
    time_window: Option<f64>,
    event_count: Option<usize>,
    n_time_bins: Option<usize>,
    n_event_bins: Option<usize>,
    overlap: f64,
    include_incomplete: bool,
    start_time: Option<f64>,
    end_time: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let spec = spec(
        frames,
        split_by,
        duration,
        time_window,
        event_count,
        n_time_bins,
        n_event_bins,
        overlap,
        include_incomplete,
        start_time,
        end_time,
    )?;
    let sensor = sensor(sensor_size)?;
    let ev = events::columns(py, events)?;
    let counts = py
        .detach(|| pool::install(|| integrate(ev.as_ref(), sensor, &spec)))
        .map_err(error::frames)?;
    let shape = counts.shape();
    // The converted vector becomes the array's buffer (no copy).
    if spec.is_spikingjelly() {
        let v = py.detach(|| counts.to_f32());
        Ok(PyArray1::from_vec(py, v).reshape(shape)?.into_any())
    } else {
        let v = py.detach(|| counts.to_i16_wrapping());
        Ok(PyArray1::from_vec(py, v).reshape(shape)?.into_any())
    }
}
