//! The parallel driver: many samples binned at once on the rayon thread pool.

use crate::bin::{bin_slices, bin_split_by_time, buffer_len, integrate, Sink};
use crate::error::{Error, Result};
use crate::frames::{Frames, SensorSize};
use crate::spec::FrameSpec;
use rayon::prelude::*;
use snnkit_events::EventsRef;

/// Integrates every sample in parallel (rayon's global pool, or the pool installed around the
/// call). Results come back in input order, one per sample, so one bad sample does not hide the
/// others.
pub fn par_integrate(
    samples: &[EventsRef<'_>],
    sensor: SensorSize,
    spec: &FrameSpec,
) -> Vec<Result<Frames>> {
    samples
        .par_iter()
        .map(|ev| integrate(*ev, sensor, spec))
        .collect()
}

/// Integrates every sample in parallel into one caller-provided buffer laid out
/// `[samples.len(), T, 2, H, W]`, where every sample must give `frames` frames (true for
/// `SplitByNumber`, `SplitByTime`, `TimeBins`, `EventBins` with that count). Every count of
/// `out` is overwritten. The first failing sample (lowest index) is reported as [`Error::Sample`].
pub fn par_integrate_into(
    samples: &[EventsRef<'_>],
    sensor: SensorSize,
    spec: &FrameSpec,
    frames: usize,
    out: &mut [u32],
) -> Result<()> {
    spec.validate()?;
    let per_sample = buffer_len(sensor, frames)?;
    let needed = per_sample
        .checked_mul(samples.len())
        .ok_or(Error::TooLarge {
            frames: frames.saturating_mul(samples.len()),
            height: sensor.height,
            width: sensor.width,
        })?;
    if out.len() != needed {
        return Err(Error::BufferSize {
            needed,
            got: out.len(),
            frames,
        });
    }
    // SplitByTime's frame count is the spec's: a mismatch holds for every sample alike.
    if let FrameSpec::SplitByTime { frames: f } = *spec {
        if f != frames && !samples.is_empty() {
            return Err(Error::FrameCountMismatch {
                sample: 0,
                frames: f,
                expected: frames,
            });
        }
    }
    if per_sample == 0 {
        return samples
            .iter()
            .enumerate()
            .try_for_each(|(i, ev)| check_count(spec, ev, frames, i).map(|_| ()));
    }
    let errors: Vec<(usize, Error)> = out
        .par_chunks_mut(per_sample)
        .zip(samples.par_iter())
        .enumerate()
        .filter_map(|(i, (buf, ev))| {
            if let FrameSpec::SplitByTime { .. } = *spec {
                // One-pass path (plans assuming sorted timestamps, verifies while binning).
                let r = bin_split_by_time(*ev, sensor, frames, &mut Sink::Slice(buf));
                return r.err().map(|e| {
                    let source = Box::new(e);
                    (i, Error::Sample { sample: i, source })
                });
            }
            let r = check_count(spec, ev, frames, i).and_then(|slices| {
                bin_slices(*ev, sensor, spec.channel_rule(), &slices, buf).map_err(|e| {
                    Error::Sample {
                        sample: i,
                        source: Box::new(e),
                    }
                })
            });
            r.err().map(|e| (i, e))
        })
        .collect();
    match errors.into_iter().min_by_key(|(i, _)| *i) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

fn check_count(
    spec: &FrameSpec,
    ev: &EventsRef<'_>,
    frames: usize,
    i: usize,
) -> Result<Vec<std::ops::Range<usize>>> {
    let slices = spec.slices(ev.t).map_err(|e| Error::Sample {
        sample: i,
        source: Box::new(e),
    })?;
    if slices.len() != frames {
        return Err(Error::FrameCountMismatch {
            sample: i,
            frames: slices.len(),
            expected: frames,
        });
    }
    Ok(slices)
}

#[cfg(test)]
mod tests {
    use super::*;
    use snnkit_events::{Event, Events};

    fn sample(seed: u64, n: usize) -> Events {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                Event {
                    t: i as i64 * 3,
                    x: ((s >> 33) % 16) as u16,
                    y: ((s >> 45) % 8) as u16,
                    p: ((s >> 60) & 1) as u8,
                }
            })
            .collect()
    }

    #[test]
    fn parallel_equals_sequential() {
        let owned: Vec<Events> = (0..9).map(|i| sample(i, 100 + 37 * i as usize)).collect();
        let refs: Vec<EventsRef<'_>> = owned.iter().map(|e| e.as_ref()).collect();
        let sensor = SensorSize {
            width: 16,
            height: 8,
        };
        let spec = FrameSpec::SplitByTime { frames: 4 };
        let par = par_integrate(&refs, sensor, &spec);
        let mut buf = vec![1u32; refs.len() * 4 * sensor.frame_len()];
        par_integrate_into(&refs, sensor, &spec, 4, &mut buf).unwrap();
        for (i, r) in refs.iter().enumerate() {
            let seq = integrate(*r, sensor, &spec).unwrap();
            assert_eq!(par[i].as_ref().unwrap(), &seq);
            let chunk = &buf[i * seq.counts.len()..(i + 1) * seq.counts.len()];
            assert_eq!(chunk, &seq.counts[..]);
        }
    }

    #[test]
    fn batch_reports_first_bad_sample() {
        let good = sample(1, 50);
        let mut bad = sample(2, 50);
        bad.x[7] = 99;
        let refs = [good.as_ref(), bad.as_ref(), bad.as_ref()];
        let sensor = SensorSize {
            width: 16,
            height: 8,
        };
        let spec = FrameSpec::SplitByNumber { frames: 2 };
        let mut buf = vec![0u32; 3 * 2 * sensor.frame_len()];
        let err = par_integrate_into(&refs, sensor, &spec, 2, &mut buf).unwrap_err();
        assert!(matches!(err, Error::Sample { sample: 1, .. }), "{err}");
        let mut buf = vec![0u32; 3 * 3 * sensor.frame_len()];
        assert!(matches!(
            par_integrate_into(&refs, sensor, &spec, 3, &mut buf),
            Err(Error::FrameCountMismatch { sample: 0, .. })
        ));
        let time = FrameSpec::SplitByTime { frames: 2 };
        assert!(matches!(
            par_integrate_into(&refs, sensor, &time, 3, &mut buf),
            Err(Error::FrameCountMismatch {
                sample: 0,
                frames: 2,
                expected: 3
            })
        ));
    }
}
