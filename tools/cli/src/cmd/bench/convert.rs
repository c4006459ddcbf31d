//! `snnkit bench convert`: conversion of a generated DVS128-Gesture-sized set into the cache (wall time,
//! events/s, cache bytes per sample versus SpikingJelly's float32 `.npz` frames), optionally per compression.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use snnkit_cache::convert::ConvertOptions;
use snnkit_cache::{
    convert_dataset, split_path, CacheReader, Compression, DatasetConvert, FrameSetting, SplitBy,
};
use snnkit_datasets::synthetic::{generate, SynthClass, SynthConfig};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Size of the generated set: 1.0 = `--recordings` recordings of ~8.4 M events each (DVS128 Gesture has 122
    /// recordings of ~8 M events); 0.05 makes a quick run.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Recordings (files) to generate.
    #[arg(long, default_value_t = 20)]
    recordings: usize,
    /// Frames per sample (split by number).
    #[arg(long, default_value_t = 16)]
    frames: usize,
    /// Conversion threads (0 = all cores).
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Compression of the main run.
    #[arg(long, default_value_t = Compression::DEFAULT)]
    compression: Compression,
    /// Also convert with each of these (comma-separated, e.g. none,deflate:1,deflate:4,deflate:9) and report
    /// their time and size.
    #[arg(long, value_delimiter = ',')]
    compare: Vec<Compression>,
    /// Work folder (default: a temporary one). Generated raw data there is reused when present.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Runs the benchmark.
pub fn run(args: Args) -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let work = args.dir.clone().unwrap_or_else(|| tmp.path().to_path_buf());
    let scale = args.scale.max(1e-4);
    let recordings = args.recordings.max(2);
    let cfg = SynthConfig {
        seed: 1,
        users: recordings,
        test_users: (recordings / 5).max(1),
        classes: SynthClass::ALL.to_vec(),
        repeats: 1,
        gesture_us: 6_000_000,
        gap_us: 500_000,
        // About 80% of the requested motion events land on the sensor; 1.3 M per gesture gives ~8.4 M events per
        // recording with noise, the size of a DVS128 Gesture recording.
        events_per_gesture: ((1_300_000.0 * scale) as usize).max(1000),
        background_rate_hz: 4_000.0,
        hot_pixels: 4,
        hot_pixel_rate_hz: 200.0,
    };
    let raw = work.join(format!("raw-{recordings}x{scale}"));
    let t0 = Instant::now();
    if !raw.join("classes.txt").exists() {
        eprintln!(
            "generating {recordings} recordings at scale {scale} in {} ...",
            raw.display()
        );
        generate(&raw, &cfg).context("generating the synthetic set")?;
    }
    let gen_s = t0.elapsed().as_secs_f64();
    let raw_bytes: u64 = std::fs::read_dir(&raw)?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum();

    let setting = FrameSetting::Frames {
        frames: args.frames,
        split_by: SplitBy::Number,
    };
    let mut runs = Vec::new();
    let mut compressions = vec![args.compression];
    compressions.extend(
        args.compare
            .iter()
            .copied()
            .filter(|c| *c != args.compression),
    );
    for (k, &compression) in compressions.iter().enumerate() {
        let out = work.join(format!("cache-{k}"));
        let mut req = DatasetConvert::new("synthetic", &raw, setting, &out);
        req.compression = compression;
        req.options = ConvertOptions {
            jobs: args.jobs,
            force: true,
            resume: false,
            ..ConvertOptions::default()
        };
        let cpu0 = process_cpu_seconds();
        let s = convert_dataset(&req, &mut |_| ControlFlow::Continue(()))?;
        let cpu = process_cpu_seconds()
            .zip(cpu0)
            .map(|(b, a)| b - a)
            .unwrap_or(f64::NAN);
        let bytes: u64 = s.splits.iter().map(|sp| sp.file_bytes).sum();
        runs.push((compression, s, bytes, out, cpu));
    }

    let (_, main, main_bytes, main_out, main_cpu) = &runs[0];
    let train = CacheReader::open(&split_path(main_out, "synthetic", setting, "train"))?;
    let info = train.info().clone();
    let cells = info.sample_len() as f64;
    let npz_f32 = 4.0 * cells + 246.0; // np.savez: zip local + central headers and the npy header
    let npz_compressed = train.f32_deflate_bytes_per_sample(16, 6)?;
    let per_sample = *main_bytes as f64 / main.samples.max(1) as f64;
    // jobs = 0 builds a pool of rayon's default size, the global pool's.
    let threads = if args.jobs == 0 {
        rayon::current_num_threads()
    } else {
        args.jobs
    };

    if args.json {
        let compare: Vec<_> = runs
            .iter()
            .map(|(c, s, b, _, cpu)| {
                serde_json::json!({
                    "compression": c.to_string(), "seconds": s.seconds, "events_per_s": s.events_per_s,
                    "cpu_s": cpu,
                    "bytes": b, "bytes_per_sample": *b as f64 / s.samples.max(1) as f64,
                })
            })
            .collect();
        let v = serde_json::json!({
            "recordings": recordings, "scale": scale, "events": main.events, "samples": main.samples,
            "raw_bytes": raw_bytes, "generate_s": gen_s, "threads": threads,
            "frames": args.frames, "dtype": info.dtype.name(),
            "convert_s": main.seconds, "events_per_s": main.events_per_s, "cpu_s": main_cpu,
            "events_per_cpu_s": main.events as f64 / main_cpu,
            "raw_mb_per_s": raw_bytes as f64 / 1e6 / main.seconds.max(1e-9),
            "cache_bytes": main_bytes, "cache_bytes_per_sample": per_sample,
            "spikingjelly_npz_f32_bytes_per_sample": npz_f32,
            "spikingjelly_npz_compressed_bytes_per_sample_est": npz_compressed,
            "compressions": compare,
        });
        crate::cmd::convert::print_stdout(&serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    println!(
        "generated {recordings} recordings, {:.1} M events, {:.0} MB raw AEDAT 3.1 ({gen_s:.1} s, reused if cached)",
        main.events as f64 / 1e6,
        raw_bytes as f64 / 1e6
    );
    println!(
        "convert ({} threads, T={}, {}): {} samples in {:.2} s = {:.1} M events/s, {:.0} MB/s of raw files; \
         {:.2} CPU s = {:.1} M events per CPU-second",
        threads,
        args.frames,
        runs[0].0,
        main.samples,
        main.seconds,
        main.events_per_s / 1e6,
        raw_bytes as f64 / 1e6 / main.seconds.max(1e-9),
        main_cpu,
        main.events as f64 / main_cpu / 1e6
    );
    println!(
        "cache: {:.0} bytes/sample ({}), SpikingJelly float32 npz: {:.0} bytes/sample ({:.0}x larger), \
         npz_compressed (deflate-6 estimate): {:.0} bytes/sample ({:.1}x larger)",
        per_sample,
        info.dtype.name(),
        npz_f32,
        npz_f32 / per_sample,
        npz_compressed,
        npz_compressed / per_sample
    );
    if runs.len() > 1 {
        println!(
            "{:>12} {:>9} {:>8} {:>12} {:>14}",
            "compression", "seconds", "CPU s", "M events/s", "bytes/sample"
        );
        for (c, s, b, _, cpu) in &runs {
            println!(
                "{:>12} {:>9.2} {:>8.2} {:>12.1} {:>14.0}",
                c.to_string(),
                s.seconds,
                cpu,
                s.events_per_s / 1e6,
                *b as f64 / s.samples.max(1) as f64
            );
        }
    }
    println!("(2 shared cores: figures are noisy; run in --release)");
    Ok(())
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`, 100 ticks per second); a figure
/// that shared cores disturb less than wall time.
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
