//! Event-to-frame integration with SpikingJelly's and Tonic's exact semantics.
//!
//! Pure functions on [`snnkit_events::EventsRef`] (no I/O). A [`FrameSpec`] says how events are
//! grouped into frames; [`integrate`] counts them into [`Frames`], `[T, 2, H, W]` `u32` counts,
//! channel 0 = polarity 0 (OFF), channel 1 = the rest (ON), row = `y`, column = `x`.
//!
//! | spec | reproduces |
//! |---|---|
//! | [`FrameSpec::SplitByNumber`] | SpikingJelly `integrate_events_by_fixed_frames_number(split_by='number')` |
//! | [`FrameSpec::SplitByTime`] | SpikingJelly `..._by_fixed_frames_number(split_by='time')` |
//! | [`FrameSpec::FixedDuration`] | SpikingJelly `integrate_events_by_fixed_duration` |
//! | [`FrameSpec::TimeWindow`], [`FrameSpec::EventCount`], [`FrameSpec::TimeBins`], [`FrameSpec::EventBins`] | Tonic `ToFrame(time_window / event_count / n_time_bins / n_event_bins, overlap, include_incomplete)` |
//!
//! SpikingJelly's `float32` frames are [`Frames::to_f32`]; Tonic's `int16` frames are
//! [`Frames::to_i16_wrapping`]. Where SpikingJelly raises (empty time bin, zero events, all events
//! at one time with a fixed duration) the natural result is returned instead and documented on
//! the variant; events outside the sensor are an [`Error::OutOfRange`], never a panic.
//!
//! Many samples: [`par_integrate`] (one result per sample) and [`par_integrate_into`] (one
//! `[N, T, 2, H, W]` buffer) run on rayon. [`integrate_into`] fills a caller-provided buffer.
//! [`integrate_file_by_number`] decodes a file straight into split-by-number frames (no event
//! columns), in parallel over ranges of the file.
//! Binning allocates nothing per event.
//!
//! # Example
//! ```
//! use snnkit_events::{Event, Events};
//! use snnkit_frames::{integrate, FrameSpec, SensorSize};
//!
//! let events: Events = (0..10)
//!     .map(|i| Event { t: i * 100, x: (i % 4) as u16, y: 1, p: (i % 2) as u8 })
//!     .collect();
//! let sensor = SensorSize { width: 4, height: 2 };
//! let frames = integrate(events.as_ref(), sensor, &FrameSpec::SplitByNumber { frames: 3 })?;
//! assert_eq!(frames.shape(), [3, 2, 2, 4]);
//! assert_eq!(frames.per_frame_sum(), vec![3, 3, 4]); // remainder goes to the last frame
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

pub use crate::bin::{accumulate, integrate, integrate_into};
pub use crate::error::{Error, Result};

/// Version of the binning's output. Bump it whenever any integration mode gives different counts for the same
/// events and settings; caches record it and are rebuilt when it changes.
pub const BINNING_VERSION: u64 = 1;
pub use crate::frames::{Frames, SensorSize};
pub use crate::fused::integrate_file_by_number;
pub use crate::par::{par_integrate, par_integrate_into};
pub use crate::spec::{is_sorted, FrameSpec, MAX_FRAMES};

mod bin;
mod error;
mod frames;
mod fused;
mod par;
mod spec;
