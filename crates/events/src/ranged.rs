//! Files split into independently decodable ranges, for consumers that integrate events as they
//! are decoded (no intermediate event columns).
//!
//! [`Ranged::open`] maps the file, validates it and counts its events in a first parallel pass
//! (EVT 2.0 / EVT 3.0 also summarise each range's decoder state); [`Ranged::visit`] then
//! decodes one range, calling a closure per event with the event's index in the file. The
//! ranges are in file order and their events are numbered consecutively, so a consumer that
//! needs the event count first (SpikingJelly's split by number) has it before decoding starts.
//!
//! Supported: AEDAT 3.1 (SpikingJelly mode), AEDAT 2.0, ATIS `.bin` (SpikingJelly mode), EVT 2.0,
//! EVT 3.0 and DAT, without a profile that remaps coordinates. Other formats and options return `None`:
//! use [`read_file`](crate::read_file). Sensor bounds are the consumer's to check; on a
//! violation, decode with [`read_file`](crate::read_file) for the error with file and offset.

use crate::error::{Ctx, Error};
use crate::format::{AtisOverflow, Format, ReadOptions};
use crate::source::FileBytes;
use crate::{aedat2, aedat3, dat, evt2, evt3};
use rayon::prelude::*;
use std::ops::Range;
use std::path::Path;

/// Events per range for the fixed-record formats.
const RANGE_EVENTS: usize = 1 << 18;

#[derive(Debug, Clone)]
enum Job {
    /// Byte range of EVT 2.0 words and the time state they start in.
    Evt2(Range<usize>, evt2::TimeState),
    /// Byte range of EVT 3.0 words and the state they start in.
    Evt3(Range<usize>, evt3::State),
    /// Indices into the AEDAT 3.1 polarity packets.
    Aedat3(Range<usize>),
    /// Byte range of AEDAT 2.0 address/timestamp pairs.
    Aedat2(Range<usize>),
    /// Byte range of ATIS 5-byte records.
    Atis(Range<usize>),
    /// Byte range of DAT records.
    Dat(Range<usize>),
}

/// A mapped event file split into ranges; see the module docs.
pub struct Ranged {
    bytes: FileBytes,
    format: Format,
    jobs: Vec<(Job, usize)>,
    total: usize,
    size: Option<(u16, u16)>,
    packets: Vec<aedat3::Packet>,
    dat: Option<(usize, dat::Layout)>,
    aedat2: Option<aedat2::Mapping>,
}

impl Ranged {
    /// Opens `path` for ranged decoding; `Ok(None)` when the format or options have no ranged
    /// decoder. Structural errors (bad header, truncation, unknown words) are reported here.
    pub fn open(path: &Path, opts: &ReadOptions) -> Result<Option<Ranged>, Error> {
        let format = match opts.format {
            Some(f) => f,
            None => crate::detect_file(path)?,
        };
        let remaps = opts
            .profile
            .is_some_and(|p| p == crate::Profile::Cifar10Dvs);
        let supported = match format {
            Format::Aedat3 => !opts.strict,
            Format::Aedat2 => true,
            Format::AtisBin => opts.atis_overflow == AtisOverflow::SpikingJelly,
            Format::Evt2 | Format::Evt3 | Format::Dat => true,
            _ => false,
        };
        if remaps || !supported {
            return Ok(None);
        }
        let bytes = crate::source::open(path)?;
        let ctx = Ctx { path };
        let b: &[u8] = &bytes;
        let base = b.as_ptr() as usize;
        let mut packets = Vec::new();
        let mut dat_layout = None;
        let mut aedat2_mapping = None;
        let (jobs, total, size) = match format {
            Format::Evt2 => {
                let body = evt2::body(b, ctx)?;
                let (ranges, n) = evt2::plan(&body, ctx)?;
                let jobs = ranges
                    .into_iter()
                    .map(|(d, s, first)| {
                        let o = d.as_ptr() as usize - base;
                        (Job::Evt2(o..o + d.len(), s), first)
                    })
                    .collect();
                (jobs, n, body.size)
            }
            Format::Evt3 => {
                let body = evt3::body(b, ctx)?;
                let (ranges, n) = evt3::plan(&body, ctx)?;
                let jobs = ranges
                    .into_iter()
                    .map(|(d, s, first)| {
                        let o = d.as_ptr() as usize - base;
                        (Job::Evt3(o..o + d.len(), s), first)
                    })
                    .collect();
                (jobs, n, body.size)
            }
            Format::Aedat3 => {
                let h = aedat3::parse_header(b, ctx)?;
                let (pk, n) = aedat3::scan_packets(b, h.data_start, ctx)?;
                let mut jobs = Vec::new();
                let (mut first, mut at) = (0, 0);
                while first < pk.len() {
                    let (mut last, mut m) = (first, 0);
                    while last < pk.len() && (m == 0 || m + pk[last].n <= RANGE_EVENTS) {
                        m += pk[last].n;
                        last += 1;
                    }
                    jobs.push((Job::Aedat3(first..last), at));
                    at += m;
                    first = last;
                }
                packets = pk;
                (jobs, n, h.sensor)
            }
            Format::Aedat2 => {
                let body = aedat2::body(b, ctx, opts)?;
                let m = body.mapping;
                let words = body.words.len() / 8;
                // Skipped words (DAVIS APS/IMU/external, strict mode) make a range's event count
                // differ from its word count: count them in parallel first.
                let counts: Vec<usize> = (0..words)
                    .into_par_iter()
                    .step_by(RANGE_EVENTS)
                    .map(|s| {
                        let e = (s + RANGE_EVENTS).min(words);
                        if m.total() {
                            e - s
                        } else {
                            body.words[s * 8..e * 8]
                                .chunks_exact(8)
                                .filter(|w| m.map(aedat2::be_pair(w).0).is_some())
                                .count()
                        }
                    })
                    .collect();
                let mut at = 0;
                let jobs = counts
                    .iter()
                    .enumerate()
                    .map(|(k, &c)| {
                        let s = k * RANGE_EVENTS;
                        let e = (s + RANGE_EVENTS).min(words);
                        let job = (
                            Job::Aedat2(body.data_start + s * 8..body.data_start + e * 8),
                            at,
                        );
                        at += c;
                        job
                    })
                    .collect();
                aedat2_mapping = Some(m);
                (jobs, at, body.size)
            }
            Format::AtisBin => {
                const R: usize = crate::atis::EVENT_BYTES;
                if !b.len().is_multiple_of(R) {
                    return Err(ctx.truncated(
                        b.len() / R * R,
                        "a complete 5-byte event (file length must be a multiple of 5)",
                    ));
                }
                let n = b.len() / R;
                let jobs = (0..n)
                    .step_by(RANGE_EVENTS)
                    .map(|s| (Job::Atis(s * R..(s + RANGE_EVENTS).min(n) * R), s))
                    .collect();
                (jobs, n, None)
            }
            _ => {
                let body = dat::body(b, ctx)?;
                let r = body.record;
                let n = body.data.len() / r;
                let jobs = (0..n)
                    .step_by(RANGE_EVENTS)
                    .map(|s| {
                        let e = (s + RANGE_EVENTS).min(n);
                        (Job::Dat(body.start + s * r..body.start + e * r), s)
                    })
                    .collect();
                dat_layout = Some((r, body.layout));
                (jobs, n, body.size)
            }
        };
        let size = opts.profile.map(|p| p.sensor_size()).or(size);
        Ok(Some(Ranged {
            bytes,
            format,
            jobs,
            total,
            size,
            packets,
            dat: dat_layout,
            aedat2: aedat2_mapping,
        }))
    }

    /// The file's format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Number of events in the file.
    pub fn len(&self) -> usize {
        self.total
    }

    /// True when the file holds no events.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Sensor size `(width, height)` from the profile or the file header, when known.
    pub fn sensor_size(&self) -> Option<(u16, u16)> {
        self.size
    }

    /// Number of ranges.
    pub fn ranges(&self) -> usize {
        self.jobs.len()
    }

    /// Index (in the file) of range `r`'s first event.
    ///
    /// # Panics
    /// When `r >= self.ranges()`.
    pub fn first_event(&self, r: usize) -> usize {
        self.jobs[r].1
    }

    /// Decodes range `r`, calling `f(t, x, y, p)` for each of its events in file order.
    ///
    /// # Panics
    /// When `r >= self.ranges()`.
    #[inline]
    pub fn visit(&self, r: usize, mut f: impl FnMut(i64, u16, u16, u8)) {
        let b: &[u8] = &self.bytes;
        match &self.jobs[r].0 {
            Job::Evt2(range, s) => evt2::for_each_event(&b[range.clone()], *s, f),
            Job::Evt3(range, s) => evt3::for_each_event(&b[range.clone()], *s, f),
            Job::Aedat3(pks) => {
                for pk in &self.packets[pks.clone()] {
                    let hi = (pk.overflow as i64) << 31;
                    let data = &b[pk.data..pk.data + pk.n * pk.size];
                    if pk.size == 8 {
                        for rec in data.chunks_exact(8) {
                            let (t, x, y, p, _) = aedat3::unpack(rec, hi);
                            f(t, x, y, p);
                        }
                    } else {
                        for rec in data.chunks_exact(pk.size) {
                            let (t, x, y, p, _) = aedat3::unpack(rec, hi);
                            f(t, x, y, p);
                        }
                    }
                }
            }
            Job::Aedat2(range) => {
                let m = self
                    .aedat2
                    .expect("the AEDAT 2.0 mapping is set for AEDAT 2.0 jobs");
                for w in b[range.clone()].chunks_exact(8) {
                    let (a, t) = aedat2::be_pair(w);
                    if let Some((x, y, p)) = m.map(a) {
                        f(t as i64, x, y, p);
                    }
                }
            }
            Job::Atis(range) => {
                for r in b[range.clone()].chunks_exact(crate::atis::EVENT_BYTES) {
                    let t = ((r[2] as i64 & 0x7F) << 16) | ((r[3] as i64) << 8) | r[4] as i64;
                    f(t, r[0] as u16, r[1] as u16, r[2] >> 7);
                }
            }
            Job::Dat(range) => {
                let (rec, layout) = self.dat.expect("DAT layout is set for DAT jobs");
                for r in b[range.clone()].chunks_exact(rec) {
                    let (t, x, y, p) = layout.unpack(r);
                    f(t, x, y, p);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Event, Events};

    #[test]
    fn ranges_visit_the_same_events_as_read_file() {
        let dir = tempfile::tempdir().unwrap();
        let ev: Events = (0..700_000i64)
            .map(|i| Event {
                t: i * 3 + (1 << 32) * (i > 600_000) as i64,
                x: (i % 240) as u16,
                y: (i * 7 % 180) as u16,
                p: (i % 3 == 0) as u8,
            })
            .collect();
        let small: Events = ev
            .iter()
            .map(|e| Event {
                t: e.t % (1 << 23),
                ..e
            })
            .collect();
        let dvs128: Events = ev
            .iter()
            .map(|e| Event {
                t: e.t % (1 << 32),
                x: e.x % 128,
                y: e.y % 128,
                ..e
            })
            .collect();
        let files = [
            ("a.aedat", Format::Aedat3),
            ("a.raw", Format::Evt2),
            ("b.raw", Format::Evt3),
            ("a.dat", Format::Dat),
            ("a.bin", Format::AtisBin),
            ("b.aedat", Format::Aedat2),
        ];
        for (name, format) in files {
            let p = dir.path().join(name);
            let e = match format {
                Format::AtisBin => &small,
                Format::Dat => &small,
                Format::Aedat2 => &dvs128,
                _ => &ev,
            };
            match format {
                Format::Aedat3 => aedat3::write(&p, e, &Default::default()).unwrap(),
                Format::Evt2 => evt2::write(&p, e, &Default::default()).unwrap(),
                Format::Evt3 => evt3::write(&p, e, &Default::default()).unwrap(),
                Format::Dat => dat::write(&p, e, &Default::default()).unwrap(),
                Format::Aedat2 => aedat2::write(&p, e, &Default::default()).unwrap(),
                _ => crate::atis::write(&p, e).unwrap(),
            }
            let r = Ranged::open(&p, &ReadOptions::default()).unwrap().unwrap();
            assert_eq!(r.format(), format);
            assert_eq!(r.len(), e.len());
            assert!(r.ranges() > 1, "{name}");
            let mut got = Events::default();
            for k in 0..r.ranges() {
                assert_eq!(r.first_event(k), got.len(), "{name}");
                r.visit(k, |t, x, y, p| got.push(Event { t, x, y, p }));
            }
            assert_eq!(&got, e, "{name}");
        }
        let strict = ReadOptions {
            strict: true,
            ..Default::default()
        };
        assert!(Ranged::open(&dir.path().join("a.aedat"), &strict)
            .unwrap()
            .is_none());
    }
}
