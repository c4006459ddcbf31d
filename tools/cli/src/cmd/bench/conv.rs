//! `snnkit bench conv`: forward and forward+backward times of `snnkit_conv::conv2d_same` per
//! shape and (unless `--no-candle`) candle's own convolution for comparison. Figures are only
//! ever from this run on this machine: `tools/bench/conv_step_vs_torch.py` times PyTorch beside
//! it.

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
    #[arg(long, default_value_t = 7, alias = "reps", alias = "repeats")]
    iters: usize,
    /// Untimed warm-up runs before each measurement.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Timed runs for candle's convolution (after one warm-up run).
    #[arg(long, default_value_t = 3, alias = "candle-reps")]
    candle_iters: usize,
    /// Shape to run instead of the standard list, as N,Cin,Cout,H,W,k (repeatable).
    #[arg(long = "shape", value_parser = parse_shape)]
    shapes: Vec<[usize; 6]>,
}

/// The standard shapes `[N, Cin, Cout, H, W, k]`: SMA-VGG8's convolutions and the SMA encoder's
/// 1/3/5/7 kernels at batch 32 (the list `tools/bench/conv_step_vs_torch.py` also times).
const STANDARD: [[usize; 6]; 8] = [
    [32, 2, 64, 64, 64, 3],
    [32, 64, 128, 32, 32, 3],
    [32, 128, 128, 32, 32, 1],
    [32, 128, 128, 32, 32, 3],
    [32, 128, 128, 32, 32, 5],
    [32, 128, 128, 32, 32, 7],
    [32, 256, 256, 16, 16, 7],
    [64, 64, 64, 48, 48, 3],
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
    candle: Option<(f64, f64)>,
}

fn measure(args: &Args, shape: [usize; 6]) -> anyhow::Result<Row> {
    let [n, cin, cout, h, w, k] = shape;
    let dev = Device::Cpu;
    let x = Tensor::randn(0f32, 1., (n, cin, h, w), &dev)?;
    let wt = (Tensor::randn(0f32, 1., (cout, cin, k, k), &dev)? * 0.05)?;
    let g = Tensor::randn(0f32, 1., (n, cout, h, w), &dev)?;

    let fwd = time_runs(args.warmup, args.iters, || {
        snnkit_conv::conv2d_same(&x, &wt)?;
        Ok(())
    })?;
    // Forward plus both gradients: what a training step's backward through this layer costs.
    let fwd_bwd = time_runs(args.warmup, args.iters, || {
        snnkit_conv::conv2d_same(&x, &wt)?;
        snnkit_conv::conv2d_same_backward(&x, &wt, &g)?;
        Ok(())
    })?;
    let candle = if args.no_candle {
        None
    } else {
        let reps = args.candle_iters;
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
    Ok(Row {
        shape,
        fwd_ms: fwd.median_ms,
        fwd_bwd_ms: fwd_bwd.median_ms,
        fwd_cpu_ms: fwd.cpu_ms_per_thread,
        fwd_bwd_cpu_ms: fwd_bwd.cpu_ms_per_thread,
        gflop_fwd: 2.0 * (n * cout * cin * k * k * h * w) as f64 / 1e9,
        candle,
    })
}

fn gflops(gflop: f64, ms: f64) -> f64 {
    gflop / (ms / 1e3)
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let shapes: Vec<[usize; 6]> = if args.shapes.is_empty() {
        STANDARD.to_vec()
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
                    "kernels": snnkit_conv::active_isa().name(),
                    "threads": rayon::current_num_threads(),
                });
                if let (Some(f), Some(fb)) = (r.fwd_cpu_ms, r.fwd_bwd_cpu_ms) {
                    o["fwd_cpu_ms_per_thread"] = f.into();
                    o["fwd_bwd_cpu_ms_per_thread"] = fb.into();
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
        "{:<26} {:>9} {:>8} {:>12} {:>8} {:>13} | {:>11} {:>14}",
        "N, Cin->Cout, HxW, k",
        "fwd ms",
        "GFLOP/s",
        "fwd+bwd ms",
        "GFLOP/s",
        "CPU ms/thread",
        "candle fwd",
        "candle fwd+bwd"
    );
    for r in rows {
        let [n, ci, co, h, w, k] = r.shape;
        let (cf, cfb) = match r.candle {
            Some((f, fb)) => (format!("{f:.1} ms"), format!("{fb:.1} ms")),
            None => ("-".into(), "-".into()),
        };
        println!(
            "{:<26} {:>9.2} {:>8.0} {:>12.2} {:>8.0} {:>13} | {:>11} {:>14}",
            format!("{n}, {ci}->{co}, {h}x{w}, {k}x{k}"),
            r.fwd_ms,
            gflops(r.gflop_fwd, r.fwd_ms),
            r.fwd_bwd_ms,
            gflops(3.0 * r.gflop_fwd, r.fwd_bwd_ms),
            r.fwd_bwd_cpu_ms.map_or("-".into(), |c| format!("{c:.0}")),
            cf,
            cfb
        );
    }
}

/// What was measured and how (on stderr, so `--json` output stays one JSON document).
fn closing_note(args: &Args, _rows: &[Row]) {
    eprintln!(
        "note: medians of {} runs after {} warm-up; fwd+bwd = forward, input gradient and weight \
         gradient; kernels: {} ({}); {} threads; `CPU ms/thread` = process CPU time per run and \
         thread, about the wall time on idle cores (wall times move with machine load).",
        args.iters,
        args.warmup,
        snnkit_conv::active_isa(),
        isa_note(),
        rayon::current_num_threads()
    );
    if cfg!(debug_assertions) {
        eprintln!("note: this is a debug build; build with --release for representative figures");
    }
    eprintln!(
        "note: tools/bench/conv_step_vs_torch.py times PyTorch on the same shapes beside this."
    );
}

/// How the kernel family was chosen, for the note.
fn isa_note() -> String {
    match std::env::var("SNNKIT_CONV_ISA") {
        Ok(v) => format!("SNNKIT_CONV_ISA={v}"),
        Err(_) => format!(
            "best of {} on this CPU; SNNKIT_CONV_ISA forces one",
            snnkit_conv::supported_isas()
                .iter()
                .map(|i| i.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}
