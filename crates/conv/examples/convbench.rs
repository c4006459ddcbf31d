//! Crate-level microbenchmark (the user-facing one is `snnkit bench conv`).
//! `cargo run --release -p snnkit-conv --example convbench [N,Cin,Cout,H,W,k ...]`

use candle_core::{Device, Tensor};
use std::time::Instant;

/// Process CPU time (user + system) in ms, from /proc (10 ms ticks).
fn cpu_ms() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = s
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (t(11) + t(12)) * 10.0
}

/// Median wall time of `reps` runs after one warm-up run; `BENCH_STAT=min` reports the fastest
/// run instead (steadier on a shared machine).
fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let c0 = cpu_ms();
    let w0 = Instant::now();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    if std::env::var("BENCH_STAT").is_ok_and(|v| v == "min") {
        return t[0];
    }
    let threads = rayon::current_num_threads() as f64;
    eprint!(
        "[cpu/thread {:.1} ms, wall mean {:.1}] ",
        (cpu_ms() - c0) / reps as f64 / threads,
        w0.elapsed().as_secs_f64() * 1e3 / reps as f64
    );
    t[t.len() / 2]
}

fn main() -> candle_core::Result<()> {
    if std::env::var("CALIBRATE").is_ok() {
        calibrate();
        return Ok(());
    }
    let mut shapes: Vec<[usize; 6]> = std::env::args()
        .skip(1)
        .map(|a| {
            let v: Vec<usize> = a.split(',').map(|s| s.parse().unwrap()).collect();
            [v[0], v[1], v[2], v[3], v[4], v[5]]
        })
        .collect();
    if shapes.is_empty() {
        shapes = vec![
            [32, 2, 64, 64, 64, 3],
            [32, 64, 128, 32, 32, 3],
            [32, 128, 128, 32, 32, 1],
            [32, 128, 128, 32, 32, 3],
            [32, 128, 128, 32, 32, 5],
            [32, 128, 128, 32, 32, 7],
            [32, 256, 256, 16, 16, 7],
            [64, 64, 64, 48, 48, 3],
        ];
    }
    for [n, ci, co, h, w, k] in shapes {
        let x = Tensor::randn(0f32, 1., (n, ci, h, w), &Device::Cpu)?;
        let wt = Tensor::randn(0f32, 1., (co, ci, k, k), &Device::Cpu)?;
        let g = Tensor::randn(0f32, 1., (n, co, h, w), &Device::Cpu)?;
        let flop = 2.0 * (n * co * ci * k * k * h * w) as f64;
        let reps = std::env::var("BENCH_REPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5);
        let fwd = median_ms(reps, || {
            snnkit_conv::conv2d_same(&x, &wt).unwrap();
        });
        let bx = median_ms(reps, || {
            snnkit_conv::conv2d_same_backward(&x, &wt, &g).unwrap();
        });
        println!(
            "{n},{ci}->{co},{h}x{w},k{k}: fwd {fwd:.1} ms ({:.0} GF/s)  bwd {bx:.1} ms ({:.0} GF/s)  fwd+bwd {:.1}",
            flop / fwd / 1e6,
            2.0 * flop / bx / 1e6,
            fwd + bx
        );
    }
    Ok(())
}

/// Calibration: plain contiguous GEMMs of the same size as one image's forward, two threads.
#[allow(dead_code)]
pub fn calibrate() {
    use rayon::prelude::*;
    for (m, n, k) in [
        (128usize, 1024usize, 1152usize),
        (128, 1088, 384),
        (128, 1216, 896),
        (1024, 128, 1152),
    ] {
        let a = vec![1.0f32; m * k];
        let b = vec![1.0f32; k * n];
        let ms = median_ms(5, || {
            (0..32).into_par_iter().for_each(|_| {
                let mut c = vec![0.0f32; m * n];
                unsafe {
                    gemm::gemm(
                        m,
                        n,
                        k,
                        c.as_mut_ptr(),
                        1,
                        n as isize,
                        false,
                        a.as_ptr(),
                        1,
                        k as isize,
                        b.as_ptr(),
                        1,
                        n as isize,
                        1.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            });
        });
        println!(
            "gemm {m}x{n}x{k} x32: {ms:.1} ms, {:.0} GF/s",
            32.0 * 2.0 * (m * n * k) as f64 / ms / 1e6
        );
    }
}
