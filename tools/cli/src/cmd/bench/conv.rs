//! `snnkit bench conv`: forward and forward+backward times of `snnkit_conv::conv2d_same` per
//! shape, with PyTorch's figures for the same shapes and (unless `--no-candle`) candle's own
//! convolution for comparison.

use anyhow::Context;
use candle_core::{Device, Tensor, Var};
use std::time::Instant;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Print a JSON list (keys shape, fwd_ms, fwd_bwd_ms, ...) instead of a table.
    #[arg(long)]
    json: bool,
    /// Skip candle's own convolution (its backward takes seconds per shape).
    #[arg(long)]
    no_candle: bool,
    /// Timed runs per measurement; the median is reported.
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// Untimed warm-up runs before each measurement.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed runs for candle's convolution (after one warm-up run).
    #[arg(long, default_value_t = 3)]
    candle_reps: usize,
    /// Shape to run instead of the standard list, as N,Cin,Cout,H,W,k (repeatable).
    #[arg(long = "shape", value_parser = parse_shape)]
    shapes: Vec<[usize; 6]>,
}

/// The standard shapes `[N, Cin, Cout, H, W, k]` with PyTorch 2.0.1 (oneDNN, 2 threads) forward
/// and backward milliseconds on the reference machine.
const STANDARD: [([usize; 6], f64, f64); 8] = [
    ([32, 2, 64, 64, 64, 3], 22.8, 50.0),
    ([32, 64, 128, 32, 32, 3], 17.9, 41.9),
    ([32, 128, 128, 32, 32, 1], 7.8, 23.1),
    ([32, 128, 128, 32, 32, 3], 36.8, 97.2),
    ([32, 128, 128, 32, 32, 5], 90.0, 187.6),
    ([32, 128, 128, 32, 32, 7], 190.7, 377.2),
    ([32, 256, 256, 16, 16, 7], 140.0, 319.2),
    ([64, 64, 64, 48, 48, 3], 62.6, 134.9),
];

fn parse_shape(s: &str) -> Result<[usize; 6], String> {
    let v: Vec<usize> = s
        .split(',')
        .map(|p| p.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("shape {s:?}: {e}"))?;
    let arr: [usize; 6] = v
        .try_into()
        .map_err(|_| format!("shape {s:?}: expected N,Cin,Cout,H,W,k"))?;
    if arr.contains(&0) || arr[5] % 2 != 1 {
        return Err(format!("shape {s:?}: sizes must be positive and k odd"));
    }
    Ok(arr)
}

/// CPU time (user + system) of this process in milliseconds, from `/proc/self/stat` (10 ms
/// ticks); `None` where that file does not exist.
fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
    Some((ticks(11)? + ticks(12)?) * 10.0)
}

/// A measurement: median wall time of the timed runs, and CPU time per run and thread (what
/// the wall time would be on otherwise idle cores, roughly; the machine is shared).
#[derive(Clone, Copy)]
struct Timing {
    median_ms: f64,
    cpu_ms_per_thread: Option<f64>,
}

/// Times `reps` runs after `warmup` untimed ones.
fn time_runs(
    warmup: usize,
    reps: usize,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<Timing> {
    for _ in 0..warmup {
        f()?;
    }
    let reps = reps.max(1);
    let cpu0 = process_cpu_ms();
    let mut times = Vec::with_capacity(reps);
    for _ in 0..reps {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let cpu = cpu0
        .zip(process_cpu_ms())
        .map(|(a, b)| (b - a) / reps as f64 / rayon::current_num_threads() as f64);
    times.sort_by(f64::total_cmp);
    Ok(Timing {
        median_ms: times[times.len() / 2],
        cpu_ms_per_thread: cpu,
    })
}

/// One shape's measurements.
struct Row {
    shape: [usize; 6],
    fwd_ms: f64,
    fwd_bwd_ms: f64,
    fwd_cpu_ms: Option<f64>,
    fwd_bwd_cpu_ms: Option<f64>,
    gflop_fwd: f64,
    pytorch: Option<(f64, f64)>,
    candle: Option<(f64, f64)>,
}

fn measure(args: &Args, shape: [usize; 6]) -> anyhow::Result<Row> {
    let [n, cin, cout, h, w, k] = shape;
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1., (n, cin, h, w), &dev)?;
    let wt = (Tensor::randn(0f32, 1., (cout, cin, k, k), &dev)? * 0.05)?;
    let g = Tensor::randn(0f32, 1., (n, cout, h, w), &dev)?;

    let fwd = time_runs(args.warmup, args.reps, || {
        snnkit_conv::conv2d_same(&x, &wt)?;
        Ok(())
    })?;
    // Forward plus both gradients: what a training step's backward through this layer costs.
    let fwd_bwd = time_runs(args.warmup, args.reps, || {
        snnkit_conv::conv2d_same(&x, &wt)?;
        snnkit_conv::conv2d_same_backward(&x, &wt, &g)?;
        Ok(())
    })?;
    let candle = if args.no_candle {
        None
    } else {
        let reps = args.candle_reps;
        let fwd = time_runs(1, reps, || {
            x.conv2d(&wt, k / 2, 1, 1, 1)?;
            Ok(())
        })?
        .median_ms;
        let (xv, wv) = (Var::from_tensor(&x)?, Var::from_tensor(&wt)?);
        let fwd_bwd = time_runs(1, reps, || {
            let y = xv.as_tensor().conv2d(wv.as_tensor(), k / 2, 1, 1, 1)?;
            (y * &g)?.sum_all()?.backward()?;
            Ok(())
        })?
        .median_ms;
        Some((fwd, fwd_bwd))
    };
    let pytorch = STANDARD
        .iter()
        .find(|(s, _, _)| *s == shape)
        .map(|&(_, f, b)| (f, f + b));
    Ok(Row {
        shape,
        fwd_ms: fwd.median_ms,
        fwd_bwd_ms: fwd_bwd.median_ms,
        fwd_cpu_ms: fwd.cpu_ms_per_thread,
        fwd_bwd_cpu_ms: fwd_bwd.cpu_ms_per_thread,
        gflop_fwd: 2.0 * (n * cout * cin * k * k * h * w) as f64 / 1e9,
        pytorch,
        candle,
    })
}

fn gflops(gflop: f64, ms: f64) -> f64 {
    gflop / (ms / 1e3)
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let shapes: Vec<[usize; 6]> = if args.shapes.is_empty() {
        STANDARD.iter().map(|(s, _, _)| *s).collect()
    } else {
        args.shapes.clone()
    };
    let mut rows = Vec::new();
    for shape in shapes {
        eprintln!("bench conv: shape {shape:?} ...");
        rows.push(measure(&args, shape).with_context(|| format!("shape {shape:?}"))?);
    }
    if args.json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let mut o = serde_json::json!({
                    "shape": r.shape,
                    "fwd_ms": r.fwd_ms,
                    "fwd_bwd_ms": r.fwd_bwd_ms,
                    "fwd_gflops": gflops(r.gflop_fwd, r.fwd_ms),
                    "fwd_bwd_gflops": gflops(3.0 * r.gflop_fwd, r.fwd_bwd_ms),
                });
                if let (Some(f), Some(fb)) = (r.fwd_cpu_ms, r.fwd_bwd_cpu_ms) {
                    o["fwd_cpu_ms_per_thread"] = f.into();
                    o["fwd_bwd_cpu_ms_per_thread"] = fb.into();
                }
                if let Some((f, fb)) = r.pytorch {
                    o["pytorch_fwd_ms"] = f.into();
                    o["pytorch_fwd_bwd_ms"] = fb.into();
                    o["ratio_vs_pytorch_fwd_bwd"] = (r.fwd_bwd_ms / fb).into();
                }
                if let Some((f, fb)) = r.candle {
                    o["candle_fwd_ms"] = f.into();
                    o["candle_fwd_bwd_ms"] = fb.into();
                }
                o
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&list)?);
    } else {
        print_table(&rows);
    }
    closing_note(&args, &rows);
    Ok(())
}

fn print_table(rows: &[Row]) {
    println!(
        "{:<24} {:>9} {:>7} {:>11} {:>7} {:>9} | {:>8} {:>11} {:>6} | {:>10} {:>13}",
        "N,Cin->Cout,HxW,k",
        "fwd ms",
        "GF/s",
        "fwd+bwd ms",
        "GF/s",
        "cpu f+b",
        "torch fw",
        "torch fw+bw",
        "ratio",
        "candle fwd",
        "candle fw+bw"
    );
    for r in rows {
        let [n, ci, co, h, w, k] = r.shape;
        let (tf, tfb, ratio) = match r.pytorch {
            Some((f, fb)) => (
                format!("{f:.1}"),
                format!("{fb:.1}"),
                format!("{:.2}", r.fwd_bwd_ms / fb),
            ),
            None => ("-".into(), "-".into(), "-".into()),
        };
        let (cf, cfb) = match r.candle {
            Some((f, fb)) => (format!("{f:.1}"), format!("{fb:.1}")),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<24} {:>9.2} {:>7.0} {:>11.2} {:>7.0} {:>9} | {:>8} {:>11} {:>6} | {:>10} {:>13}",
            format!("{n},{ci}->{co},{h}x{w},{k}"),
            r.fwd_ms,
            gflops(r.gflop_fwd, r.fwd_ms),
            r.fwd_bwd_ms,
            gflops(3.0 * r.gflop_fwd, r.fwd_bwd_ms),
            r.fwd_bwd_cpu_ms.map_or("-".into(), |c| format!("{c:.0}")),
            tf,
            tfb,
            ratio,
            cf,
            cfb
        );
    }
}

/// Compares with PyTorch's table (on stderr, so `--json` output stays one JSON document).
fn closing_note(args: &Args, rows: &[Row]) {
    let compared: Vec<(&Row, f64)> = rows
        .iter()
        .filter_map(|r| r.pytorch.map(|(_, fb)| (r, r.fwd_bwd_ms / fb)))
        .collect();
    eprintln!(
        "note: medians of {} runs after {} warm-up; forward+backward = forward, input gradient \
         and weight gradient; {} rayon threads; timings move with machine load (`cpu f+b` = \
         process CPU ms per run and thread, about the time on idle cores).",
        args.reps,
        args.warmup,
        rayon::current_num_threads()
    );
    if let Some((worst, ratio)) = compared.iter().max_by(|a, b| a.1.total_cmp(&b.1)) {
        let within = compared.iter().filter(|(_, r)| *r <= 2.0).count();
        eprintln!(
            "note: vs PyTorch 2.0.1/oneDNN (2 threads) forward+backward: {within}/{} shapes within \
             2x (target), worst {ratio:.2}x at {:?}.",
            compared.len(),
            worst.shape
        );
    }
}
