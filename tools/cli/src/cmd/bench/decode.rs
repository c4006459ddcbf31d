//! `snnkit bench decode`: decode throughput (events/s) per format on generated files, from the
//! page cache, single-threaded and with all threads.

use anyhow::{Context, Result};
use snnkit_events::{
    aedat2, aedat3, aedat4, atis, dat, evt2, evt3, hdf5, read_file, Event, Events, Format,
    ReadOptions,
};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Arguments of `snnkit bench decode`.
#[derive(clap::Args)]
pub struct Args {
    /// Events per generated file.
    #[arg(long, default_value_t = 8_000_000)]
    events: usize,
    /// Timed repetitions per format and thread count (the best is reported).
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Formats to measure (comma-separated; default all).
    #[arg(long, value_delimiter = ',')]
    formats: Option<Vec<Format>>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// A DVS128-like stream: sorted timestamps (~1 µs apart), coordinates from a cheap hash.
fn stream(n: usize, t_span: i64) -> Events {
    (0..n)
        .map(|i| {
            let h = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
            Event {
                t: (i as i64) * t_span / n.max(1) as i64,
                x: (h % 128) as u16,
                y: ((h >> 8) % 128) as u16,
                p: (h >> 20 & 1) as u8,
            }
        })
        .collect()
}

fn write(format: Format, path: &Path, n: usize) -> Result<()> {
    match format {
        Format::Aedat3 => aedat3::write(path, &stream(n, n as i64), &Default::default())?,
        Format::Aedat2 => aedat2::write(path, &stream(n, n as i64), &Default::default())?,
        Format::AtisBin => atis::write(path, &stream(n, atis::MAX_T))?,
        Format::Aedat4 => {
            let opts = aedat4::Aedat4WriteOptions {
                width: 128,
                height: 128,
                ..Default::default()
            };
            aedat4::write(path, &stream(n, n as i64), &opts)?
        }
        Format::Hdf5 => hdf5::write(path, &stream(n, n as i64), &Default::default())?,
        Format::Evt2 => evt2::write(path, &stream(n, n as i64), &Default::default())?,
        Format::Evt3 => evt3::write(path, &stream(n, n as i64), &Default::default())?,
        Format::Dat => dat::write(path, &stream(n, n as i64), &Default::default())?,
    }
    Ok(())
}

/// User + system CPU seconds of this process so far (0 where unavailable).
fn cpu_seconds() -> f64 {
    #[cfg(unix)]
    {
        // SAFETY: getrusage only writes into the zeroed struct we pass.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } == 0 {
            let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            return tv(u.ru_utime) + tv(u.ru_stime);
        }
    }
    0.0
}

/// Best wall time and best CPU time of `repeats` decodes with `threads` rayon threads.
///
/// CPU time (user + system, all threads) is reported too because this benchmark often runs on
/// shared machines where wall time includes waiting for a core.
fn time(
    path: &Path,
    format: Format,
    threads: usize,
    repeats: usize,
    n: usize,
) -> Result<(f64, f64)> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let opts = ReadOptions::with_format(format);
    let (mut best, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..repeats.max(1) {
        let (start, cpu) = (Instant::now(), cpu_seconds());
        let rec = pool.install(|| read_file(path, &opts))?;
        let (s, c) = (start.elapsed().as_secs_f64(), cpu_seconds() - cpu);
        anyhow::ensure!(
            rec.events.len() == n,
            "decoded {} of {n} events",
            rec.events.len()
        );
        drop(rec);
        best = best.min(s);
        best_cpu = best_cpu.min(c);
    }
    Ok((best, best_cpu))
}

/// Runs `snnkit bench decode`.
pub fn run(args: Args) -> Result<()> {
    let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
    let formats = args.formats.clone().unwrap_or_else(|| {
        vec![
            Format::Aedat3,
            Format::AtisBin,
            Format::Aedat2,
            Format::Aedat4,
            Format::Hdf5,
            Format::Evt2,
            Format::Evt3,
            Format::Dat,
        ]
    });
    let all = rayon::current_num_threads();
    // Write errors (a closed pipe) become an error exit instead of a panic.
    let mut out = std::io::stdout().lock();
    let mut rows = Vec::new();
    for format in formats {
        let path = dir.path().join(format!("bench.{}", format.name()));
        write(format, &path, args.events).with_context(|| format!("writing the {format} file"))?;
        let bytes = std::fs::metadata(&path)?.len();
        let mut threads = vec![1];
        if all > 1 {
            threads.push(all);
        }
        for th in threads {
            let (s, cpu) = time(&path, format, th, args.repeats, args.events)?;
            let eps = args.events as f64 / s;
            let eps_cpu = args.events as f64 / cpu.max(1e-9);
            if !args.json {
                writeln!(
                    out,
                    "{:<9} {:>2} thread(s): {:>7.1} M events/s wall, {:>7.1} M events/CPU-s  ({:.1} ms for {} events, {:.0} MB/s of file)",
                    format.name(),
                    th,
                    eps / 1e6,
                    eps_cpu / 1e6,
                    s * 1e3,
                    args.events,
                    bytes as f64 / s / 1e6
                )?;
            }
            rows.push(serde_json::json!({
                "format": format.name(),
                "threads": th,
                "events": args.events,
                "file_bytes": bytes,
                "seconds": s,
                "events_per_s": eps,
                "cpu_seconds": cpu,
                "events_per_cpu_s": eps_cpu,
            }));
        }
        std::fs::remove_file(&path)?;
    }
    if args.json {
        writeln!(out, "{}", serde_json::Value::Array(rows))?;
    }
    Ok(())
}
