//! The in-memory event representation shared by every reader, writer and the frame integrators.

/// One event: timestamp in microseconds, pixel coordinates and polarity (0 = OFF, 1 = ON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Event {
    /// Timestamp in microseconds.
    pub t: i64,
    /// Column.
    pub x: u16,
    /// Row.
    pub y: u16,
    /// Polarity, 0 (OFF) or 1 (ON); SpikingJelly treats every non-zero value as ON.
    pub p: u8,
}

/// Events stored as a struct of arrays, in file order.
///
/// Struct-of-arrays keeps each column contiguous, so binning reads only the columns it needs and
/// the columns convert to NumPy-style arrays without reshuffling.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Events {
    /// Timestamps in microseconds.
    pub t: Vec<i64>,
    /// Columns.
    pub x: Vec<u16>,
    /// Rows.
    pub y: Vec<u16>,
    /// Polarities.
    pub p: Vec<u8>,
}

/// A borrowed view of a contiguous run of events (all four columns have the same length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventsRef<'a> {
    /// Timestamps in microseconds.
    pub t: &'a [i64],
    /// Columns.
    pub x: &'a [u16],
    /// Rows.
    pub y: &'a [u16],
    /// Polarities.
    pub p: &'a [u8],
}

impl Events {
    /// An empty event list with room for `n` events.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            t: Vec::with_capacity(n),
            x: Vec::with_capacity(n),
            y: Vec::with_capacity(n),
            p: Vec::with_capacity(n),
        }
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// True when there are no events.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Appends one event.
    #[inline]
    pub fn push(&mut self, e: Event) {
        self.t.push(e.t);
        self.x.push(e.x);
        self.y.push(e.y);
        self.p.push(e.p);
    }

    /// The event at index `i`, if any.
    pub fn get(&self, i: usize) -> Option<Event> {
        self.as_ref().get(i)
    }

    /// A view of all events.
    pub fn as_ref(&self) -> EventsRef<'_> {
        EventsRef {
            t: &self.t,
            x: &self.x,
            y: &self.y,
            p: &self.p,
        }
    }

    /// Iterates over the events in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Event> + '_ {
        (0..self.len()).map(move |i| Event {
            t: self.t[i],
            x: self.x[i],
            y: self.y[i],
            p: self.p[i],
        })
    }
}

impl FromIterator<Event> for Events {
    fn from_iter<I: IntoIterator<Item = Event>>(iter: I) -> Self {
        let iter = iter.into_iter();
        let mut ev = Events::with_capacity(iter.size_hint().0);
        for e in iter {
            ev.push(e);
        }
        ev
    }
}

impl<'a> EventsRef<'a> {
    /// Number of events.
    pub fn len(&self) -> usize {
        self.t.len()
    }

    /// True when there are no events.
    pub fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// The event at index `i`, if any (`None`, not a panic, past the end of any column).
    pub fn get(&self, i: usize) -> Option<Event> {
        Some(Event {
            t: *self.t.get(i)?,
            x: *self.x.get(i)?,
            y: *self.y.get(i)?,
            p: *self.p.get(i)?,
        })
    }

    /// The events with indices in `range`.
    ///
    /// # Panics
    /// When the range is out of bounds, like slice indexing.
    pub fn slice(&self, range: std::ops::Range<usize>) -> EventsRef<'a> {
        EventsRef {
            t: &self.t[range.clone()],
            x: &self.x[range.clone()],
            y: &self.y[range.clone()],
            p: &self.p[range],
        }
    }

    /// Copies the view into an owned [`Events`].
    pub fn to_owned(&self) -> Events {
        Events {
            t: self.t.to_vec(),
            x: self.x.to_vec(),
            y: self.y.to_vec(),
            p: self.p.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_get_slice_round_trip() {
        let ev: Events = (0..5)
            .map(|i| Event {
                t: i * 10,
                x: i as u16,
                y: 2 * i as u16,
                p: (i % 2) as u8,
            })
            .collect();
        assert_eq!(ev.len(), 5);
        let s = ev.as_ref().slice(1..3);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.get(0),
            Some(Event {
                t: 10,
                x: 1,
                y: 2,
                p: 1
            })
        );
        assert_eq!(s.get(2), None);
        assert_eq!(s.to_owned().iter().collect::<Vec<_>>().len(), 2);
    }
}
