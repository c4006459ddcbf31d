//! What a decoder returns: [`Recording`] (events, format, sensor size) and its [`Summary`].
//!
//! Below both the format modules and the dispatcher in `read.rs`, so that no format imports the
//! dispatcher.

use crate::format::Format;
use crate::types::Events;

/// A decoded event file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The file's format.
    pub format: Format,
    /// The events, in file order.
    pub events: Events,
    /// Sensor width, when the file or the profile knows it.
    pub width: Option<u16>,
    /// Sensor height, when the file or the profile knows it.
    pub height: Option<u16>,
}

pub(crate) fn finish(format: Format, events: Events, size: Option<(u16, u16)>) -> Recording {
    Recording {
        format,
        events,
        width: size.map(|s| s.0),
        height: size.map(|s| s.1),
    }
}

/// Counts and time span of a recording, as `snnkit inspect` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Number of events.
    pub events: usize,
    /// Smallest timestamp (µs), `None` without events.
    pub t_min: Option<i64>,
    /// Largest timestamp (µs), `None` without events.
    pub t_max: Option<i64>,
    /// Events with non-zero polarity.
    pub on: usize,
    /// Events with polarity 0.
    pub off: usize,
}

impl Recording {
    /// Counts and time span of the events.
    pub fn summary(&self) -> Summary {
        let ev = &self.events;
        let on = ev.p.iter().filter(|&&p| p != 0).count();
        Summary {
            events: ev.len(),
            t_min: ev.t.iter().copied().min(),
            t_max: ev.t.iter().copied().max(),
            on,
            off: ev.len() - on,
        }
    }
}
