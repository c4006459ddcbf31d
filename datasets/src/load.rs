//! Producing a sample's events: decode its file (once per file for DVS128 Gesture, whose
//! recordings hold many samples) and cut its time window.

use crate::dataset::{Dataset, Sample};
use crate::error::Result;
use snnkit_events::{read_file, Events, EventsRef, Recording};
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// A sample's events: a borrowed run of the recording when its window is contiguous (sorted
/// timestamps), else an owned copy of the matching events.
#[derive(Debug, Clone)]
pub enum Cut<'a> {
    /// A contiguous run of the decoded recording.
    Borrowed(EventsRef<'a>),
    /// The events that matched, copied.
    Owned(Events),
}

impl Cut<'_> {
    /// A view of the events.
    pub fn as_ref(&self) -> EventsRef<'_> {
        match self {
            Cut::Borrowed(r) => *r,
            Cut::Owned(e) => e.as_ref(),
        }
    }

    /// The events as an owned [`Events`].
    pub fn into_owned(self) -> Events {
        match self {
            Cut::Borrowed(r) => r.to_owned(),
            Cut::Owned(e) => e,
        }
    }
}

/// A decoded source file, ready to cut many samples from.
#[derive(Debug, Clone)]
pub struct DecodedSource {
    /// The decoded recording.
    pub recording: Recording,
    sorted: bool,
}

impl DecodedSource {
    /// Wraps a decoded recording (checks once whether its timestamps are sorted).
    pub fn new(recording: Recording) -> Self {
        let sorted = recording.events.t.is_sorted();
        DecodedSource { recording, sorted }
    }

    /// The events of `span` (`[start, end)`, SpikingJelly's `(t >= start) & (t < end)` mask), or
    /// all events for `None`. Borrowed when the timestamps are sorted.
    pub fn cut(&self, span: Option<(i64, i64)>) -> Cut<'_> {
        let ev = self.recording.events.as_ref();
        match span {
            None => Cut::Borrowed(ev),
            Some((start, end)) if self.sorted => {
                Cut::Borrowed(ev.slice(sorted_range(ev.t, start, end)))
            }
            Some((start, end)) => Cut::Owned(mask(ev, start, end)),
        }
    }
}

/// Index range of `[start, end)` in sorted timestamps.
pub fn sorted_range(t: &[i64], start: i64, end: i64) -> Range<usize> {
    let a = t.partition_point(|&v| v < start);
    let b = t.partition_point(|&v| v < end).max(a);
    a..b
}

/// The events with `start <= t < end`, in order (any timestamp order).
pub fn mask(events: EventsRef<'_>, start: i64, end: i64) -> Events {
    let mut out = Events::default();
    for (i, &t) in events.t.iter().enumerate() {
        if t >= start && t < end {
            out.t.push(t);
            out.x.push(events.x[i]);
            out.y.push(events.y[i]);
            out.p.push(events.p[i]);
        }
    }
    out
}

/// The on-disk path of a source file of `ds`.
pub fn source_path(ds: &dyn Dataset, source: &Path) -> PathBuf {
    ds.root().join(source)
}

/// Decodes one source file of `ds` with the dataset's read options.
pub fn read_source(ds: &dyn Dataset, source: &Path) -> Result<DecodedSource> {
    let rec = read_file(&source_path(ds, source), &ds.read_options())?;
    Ok(DecodedSource::new(rec))
}

/// The events of one sample (decodes its whole file; use [`group_by_source`] or
/// [`load_samples`] for many samples of one file).
pub fn load_sample(ds: &dyn Dataset, sample: &Sample) -> Result<Events> {
    Ok(read_source(ds, &sample.source)?
        .cut(sample.span)
        .into_owned())
}

/// Samples sharing one source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceGroup {
    /// The source file, relative to the root.
    pub source: PathBuf,
    /// Indices into the sample list, in list order.
    pub samples: Vec<usize>,
}

/// Groups samples by source file, groups in order of first appearance: decode each group's file
/// once and cut all its samples from it.
pub fn group_by_source(samples: &[Sample]) -> Vec<SourceGroup> {
    let mut index: HashMap<&Path, usize> = HashMap::new();
    let mut groups: Vec<SourceGroup> = Vec::new();
    for (i, s) in samples.iter().enumerate() {
        let g = *index.entry(s.source.as_path()).or_insert_with(|| {
            groups.push(SourceGroup {
                source: s.source.clone(),
                samples: Vec::new(),
            });
            groups.len() - 1
        });
        groups[g].samples.push(i);
    }
    groups
}

/// The events of every sample, in input order, decoding each source file once. Holds all
/// samples in memory; stream with [`group_by_source`] + [`read_source`] for large sets.
pub fn load_samples(ds: &dyn Dataset, samples: &[Sample]) -> Result<Vec<Events>> {
    let mut out: Vec<Option<Events>> = vec![None; samples.len()];
    for g in group_by_source(samples) {
        let src = read_source(ds, &g.source)?;
        for i in g.samples {
            out[i] = Some(src.cut(samples[i].span).into_owned());
        }
    }
    Ok(out.into_iter().map(Option::unwrap_or_default).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use snnkit_events::{Event, Format};

    fn rec(ts: &[i64]) -> DecodedSource {
        DecodedSource::new(Recording {
            format: Format::Aedat3,
            events: ts
                .iter()
                .map(|&t| Event {
                    t,
                    x: t as u16,
                    y: 0,
                    p: 1,
                })
                .collect(),
            width: None,
            height: None,
        })
    }

    #[test]
    fn cut_is_half_open_and_borrowed_when_sorted() {
        let r = rec(&[1, 2, 3, 5, 8]);
        let c = r.cut(Some((2, 5)));
        assert!(matches!(c, Cut::Borrowed(_)));
        assert_eq!(c.as_ref().t, &[2, 3]);
        assert_eq!(r.cut(None).as_ref().len(), 5);
        assert_eq!(r.cut(Some((9, 20))).as_ref().len(), 0);
    }

    #[test]
    fn cut_unsorted_uses_mask() {
        let r = rec(&[5, 1, 3, 9, 2]);
        let c = r.cut(Some((2, 6)));
        assert!(matches!(c, Cut::Owned(_)));
        assert_eq!(c.as_ref().t, &[5, 3, 2]);
    }
}
