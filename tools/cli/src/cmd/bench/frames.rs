//! `snnkit bench frames`: binning throughput (events/s), single-threaded and with the parallel
//! driver over many samples, AEDAT 3.1 decode + bin end to end, and one recording decoded into
//! columns then binned versus decoded straight into frames (AEDAT 3.1, EVT 2.0, EVT 3.0).

use anyhow::{Context, Result};
use snnkit_events::{aedat3, evt2, evt3, read_file, Event, Events, EventsRef, ReadOptions};
use snnkit_frames::{
    integrate, integrate_file_by_number, par_integrate_into, FrameSpec, SensorSize,
};
use std::time::Instant;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Events in the generated recording.
    #[arg(long, default_value_t = 16_000_000)]
    events: usize,
    /// Samples the recording is cut into for the parallel driver (default: 250k events each,
    /// about one DVS128 Gesture sample).
    #[arg(long, default_value_t = 64)]
    samples: usize,
    /// Frames per sample.
    #[arg(long, default_value_t = 16)]
    frames: usize,
    /// Events in the one-recording decode + bin rows (a DVS128 Gesture recording is about 8 M).
    #[arg(long, default_value_t = 8_000_000)]
    fused_events: usize,
    /// Timed repetitions (the best is reported).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// A DVS128-like stream: sorted timestamps, a moving blob of activity plus uniform noise.
fn stream(n: usize) -> Events {
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut t = 0i64;
    (0..n)
        .map(|i| {
            let r = next();
            t += (r & 3) as i64;
            let (x, y) = if r >> 60 < 12 {
                // Blob centred on a point circling the sensor.
                let phase = i as f64 * 2e-6;
                let cx = 64.0 + 40.0 * phase.cos();
                let cy = 64.0 + 40.0 * phase.sin();
                let dx = ((r >> 8) & 31) as f64 - 16.0;
                let dy = ((r >> 16) & 31) as f64 - 16.0;
                ((cx + dx) as u16 & 127, (cy + dy) as u16 & 127)
            } else {
                (((r >> 24) & 127) as u16, ((r >> 32) & 127) as u16)
            };
            Event {
                t,
                x,
                y,
                p: ((r >> 40) & 1) as u8,
            }
        })
        .collect()
}

fn best<F: FnMut() -> Result<()>>(repeats: usize, mut f: F) -> Result<f64> {
    let mut best = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let t0 = Instant::now();
        f()?;
        best = best.min(t0.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// Runs the benchmark.
pub fn run(a: Args) -> Result<()> {
    let sensor = SensorSize {
        width: 128,
        height: 128,
    };
    let ev = stream(a.events);
    let n = ev.len() as f64;
    // The pool the parallel rows run on (RAYON_NUM_THREADS, else the available cores).
    let threads = rayon::current_num_threads();
    let mut rows: Vec<(&str, f64)> = Vec::new();

    let single = |spec: FrameSpec| -> Result<f64> {
        let s = best(a.repeats, || {
            let f = integrate(ev.as_ref(), sensor, &spec)?;
            std::hint::black_box(&f);
            Ok(())
        })?;
        Ok(n / s)
    };
    rows.push((
        "bin_single_number_eps",
        single(FrameSpec::SplitByNumber { frames: a.frames })?,
    ));
    rows.push((
        "bin_single_time_eps",
        single(FrameSpec::SplitByTime { frames: a.frames })?,
    ));
    rows.push((
        "bin_single_tonic_time_bins_eps",
        single(FrameSpec::TimeBins {
            bins: a.frames,
            overlap: 0.0,
        })?,
    ));

    // Many samples at once: equal cuts of the stream, one [N, T, 2, H, W] buffer.
    let per = (ev.len() / a.samples.max(1)).max(1);
    let cuts: Vec<EventsRef<'_>> = (0..ev.len() / per)
        .map(|i| ev.as_ref().slice(i * per..(i + 1) * per))
        .collect();
    let spec = FrameSpec::SplitByNumber { frames: a.frames };
    let mut buf = vec![0u32; cuts.len() * a.frames * sensor.frame_len()];
    let s = best(a.repeats, || {
        par_integrate_into(&cuts, sensor, &spec, a.frames, &mut buf)?;
        Ok(())
    })?;
    rows.push(("bin_parallel_eps", (cuts.len() * per) as f64 / s));

    // AEDAT 3.1 end to end: decode the file (page cache warm), then bin all its samples.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("bench.aedat");
    aedat3::write(&path, &ev, &aedat3::Aedat3WriteOptions::default())
        .context("writing the benchmark recording")?;
    let opts = ReadOptions::default();
    let s = best(a.repeats, || {
        std::hint::black_box(read_file(&path, &opts)?);
        Ok(())
    })?;
    rows.push(("aedat3_decode_eps", n / s));
    let s = best(a.repeats, || {
        let rec = read_file(&path, &opts)?;
        let cuts: Vec<EventsRef<'_>> = (0..rec.events.len() / per)
            .map(|i| rec.events.as_ref().slice(i * per..(i + 1) * per))
            .collect();
        par_integrate_into(&cuts, sensor, &spec, a.frames, &mut buf)?;
        Ok(())
    })?;
    rows.push(("aedat3_decode_bin_eps", n / s));

    // One whole recording, split by number into T frames: decode into columns then bin, versus
    // decode straight into frames (the fused path the cache conversion uses).
    let one = stream(a.fused_events);
    let m = one.len() as f64;
    let one_spec = FrameSpec::SplitByNumber { frames: a.frames };
    for (label, file) in [
        ("aedat3", "one.aedat"),
        ("evt2", "one2.raw"),
        ("evt3", "one3.raw"),
    ] {
        let p = dir.path().join(file);
        match label {
            "aedat3" => aedat3::write(&p, &one, &Default::default())?,
            "evt2" => evt2::write(&p, &one, &Default::default())?,
            _ => evt3::write(&p, &one, &Default::default())?,
        }
        let columns = best(a.repeats, || {
            let rec = read_file(&p, &opts)?;
            std::hint::black_box(integrate(rec.events.as_ref(), sensor, &one_spec)?);
            Ok(())
        })?;
        let mut fused_frames = None;
        let fused = best(a.repeats, || {
            fused_frames = integrate_file_by_number(&p, &opts, sensor, a.frames)?;
            Ok(())
        })?;
        let rec = read_file(&p, &opts)?;
        anyhow::ensure!(
            fused_frames.map(|f| f.counts)
                == Some(integrate(rec.events.as_ref(), sensor, &one_spec)?.counts),
            "{label}: fused frames differ from the column path"
        );
        std::fs::remove_file(&p)?;
        rows.push(match label {
            "aedat3" => ("aedat3_one_columns_then_bin_eps", m / columns),
            "evt2" => ("evt2_one_columns_then_bin_eps", m / columns),
            _ => ("evt3_one_columns_then_bin_eps", m / columns),
        });
        rows.push(match label {
            "aedat3" => ("aedat3_one_fused_decode_bin_eps", m / fused),
            "evt2" => ("evt2_one_fused_decode_bin_eps", m / fused),
            _ => ("evt3_one_fused_decode_bin_eps", m / fused),
        });
    }

    if a.json {
        let mut m = serde_json::Map::new();
        m.insert("events".into(), a.events.into());
        m.insert("fused_events".into(), a.fused_events.into());
        m.insert("samples".into(), cuts.len().into());
        m.insert("frames".into(), a.frames.into());
        m.insert("threads".into(), threads.into());
        for (k, v) in &rows {
            m.insert((*k).into(), serde_json::json!(v.round()));
        }
        println!("{}", serde_json::Value::Object(m));
    } else {
        println!(
            "{} events, 128x128, T={}, {} samples for the parallel rows, {} events in the one-recording rows, {} threads (best of {})",
            a.events,
            a.frames,
            cuts.len(),
            a.fused_events,
            threads,
            a.repeats
        );
        for (k, v) in &rows {
            println!("{k:32} {:>10.1} M events/s", v / 1e6);
        }
    }
    Ok(())
}
