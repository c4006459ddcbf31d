//! `conv2d_same` against candle's `conv2d` and candle's autograd: forward, input gradient and
//! weight gradient, within 1e-5 relative (max abs difference over max abs reference value).
//! [`check`] runs every kernel family the CPU supports (`snnkit_conv::supported_isas`), so an
//! AVX-512 machine tests the AVX2 and portable kernels too.

use candle_core::{DType, Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use snnkit_conv::{conv2d_same, conv2d_same_backward, supported_isas, with_isa};

const TOL: f32 = 1e-5;

fn random(rng: &mut ChaCha8Rng, shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// Max |a - b| / max |b|; NaN when either holds a NaN (so `< TOL` fails).
fn rel_err(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let (a, b) = (v(a), v(b));
    // `f32::max` drops NaN, so fold by hand.
    let nan_max = |m: f32, d: f32| if d.is_nan() || d > m { d } else { m };
    let diff = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (p, q)| nan_max(m, (p - q).abs()));
    let scale = b.iter().fold(0f32, |m, q| nan_max(m, q.abs()));
    diff / scale.max(f32::MIN_POSITIVE)
}

/// Checks forward and both gradients for `[n, cin, h, w]` with `cout` filters of size `k`, on
/// every kernel family this CPU supports.
fn check(seed: u64, n: usize, cin: usize, cout: usize, h: usize, w: usize, k: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = random(&mut rng, &[n, cin, h, w]);
    let wt = random(&mut rng, &[cout, cin, k, k]);
    let g = random(&mut rng, &[n, cout, h, w]);
    let what = format!("n={n} cin={cin} cout={cout} h={h} w={w} k={k}");

    // Reference: candle's conv2d and its autograd.
    let (xr, wr) = (
        Var::from_tensor(&x).unwrap(),
        Var::from_tensor(&wt).unwrap(),
    );
    let yr = xr
        .as_tensor()
        .conv2d(wr.as_tensor(), k / 2, 1, 1, 1)
        .unwrap();
    let gr = (&yr * &g).unwrap().sum_all().unwrap().backward().unwrap();

    for isa in supported_isas() {
        let what = format!("{what} isa={isa}");
        with_isa(isa, || {
            // Ours, through the autograd of the custom op.
            let (xo, wo) = (
                Var::from_tensor(&x).unwrap(),
                Var::from_tensor(&wt).unwrap(),
            );
            let yo = conv2d_same(xo.as_tensor(), wo.as_tensor()).unwrap();
            let go = (&yo * &g).unwrap().sum_all().unwrap().backward().unwrap();

            let e = rel_err(&yo, &yr);
            assert!(e < TOL, "forward {what}: rel err {e}");
            let e = rel_err(go.get(&xo).unwrap(), gr.get(&xr).unwrap());
            assert!(e < TOL, "grad x {what}: rel err {e}");
            let e = rel_err(go.get(&wo).unwrap(), gr.get(&wr).unwrap());
            assert!(e < TOL, "grad w {what}: rel err {e}");

            // The explicit backward gives the same as the autograd one.
            let (gx, gw) = conv2d_same_backward(&x, &wt, &g).unwrap();
            assert!(
                rel_err(&gx, gr.get(&xr).unwrap()) < TOL,
                "explicit grad x {what}"
            );
            assert!(
                rel_err(&gw, gr.get(&wr).unwrap()) < TOL,
                "explicit grad w {what}"
            );
        });
    }
}

#[test]
fn kernel_sizes_1_3_5_7() {
    check(1, 2, 3, 4, 6, 7, 1);
    check(2, 2, 5, 6, 9, 8, 3);
    check(3, 3, 4, 5, 7, 11, 5);
    check(4, 2, 3, 4, 10, 9, 7);
}

#[test]
fn two_input_channels_like_event_frames() {
    check(5, 4, 2, 8, 16, 16, 3);
    check(6, 3, 2, 5, 13, 17, 5);
}

#[test]
fn batch_one_and_odd_rectangles() {
    check(7, 1, 3, 2, 5, 13, 3);
    check(8, 1, 1, 1, 1, 1, 3);
    check(9, 1, 2, 3, 3, 2, 7);
    check(10, 5, 7, 9, 11, 3, 3);
    check(17, 1, 4, 3, 5, 6, 1);
    check(18, 5, 6, 7, 4, 9, 1);
}

#[test]
fn more_tiles_than_threads_and_wide_channels() {
    check(11, 9, 16, 24, 12, 10, 3);
    check(12, 6, 33, 17, 8, 8, 5);
}

#[test]
fn images_split_into_row_tiles() {
    // 48 channels x 1200-wide rows exceed the tile target, so an image spans several tiles.
    check(13, 2, 48, 8, 9, 1200, 3);
    check(14, 1, 8, 48, 7, 1000, 5);
}

#[test]
fn gradient_only_for_tracked_arguments() {
    let mut rng = ChaCha8Rng::seed_from_u64(15);
    let x = random(&mut rng, &[2, 3, 6, 6]);
    let w = Var::from_tensor(&random(&mut rng, &[4, 3, 3, 3])).unwrap();
    let y = conv2d_same(&x, w.as_tensor()).unwrap();
    let grads = y.sum_all().unwrap().backward().unwrap();
    assert!(grads.get(&x).is_none(), "plain input gets no gradient");
    assert_eq!(grads.get(w.as_tensor()).unwrap().dims(), &[4, 3, 3, 3]);
}

#[test]
fn non_contiguous_input_and_fallback_dtype() {
    let mut rng = ChaCha8Rng::seed_from_u64(16);
    let x = random(&mut rng, &[2, 3, 8, 6]);
    let w = random(&mut rng, &[4, 3, 3, 3]);
    let reference = x.conv2d(&w, 1, 1, 1, 1).unwrap();
    // Same data, stored transposed: [2, 3, 6, 8] -> transpose(2, 3) is non-contiguous.
    let xt = x.transpose(2, 3).unwrap().contiguous().unwrap();
    let xnc = xt.transpose(2, 3).unwrap();
    assert!(!xnc.is_contiguous());
    let ours = conv2d_same(&xnc, &w).unwrap();
    assert!(rel_err(&ours, &reference) < TOL);
    // f64 goes through candle's own convolution.
    let ours64 = conv2d_same(
        &x.to_dtype(DType::F64).unwrap(),
        &w.to_dtype(DType::F64).unwrap(),
    )
    .unwrap();
    assert_eq!(ours64.dtype(), DType::F64);
    let ours64 = ours64.to_dtype(DType::F32).unwrap();
    assert!(rel_err(&ours64, &reference) < TOL);
}

#[test]
fn rejects_even_kernels_and_channel_mismatch() {
    let x = Tensor::zeros((1, 3, 5, 5), DType::F32, &Device::Cpu).unwrap();
    let w_even = Tensor::zeros((2, 3, 2, 2), DType::F32, &Device::Cpu).unwrap();
    assert!(conv2d_same(&x, &w_even).is_err());
    let w_bad = Tensor::zeros((2, 4, 3, 3), DType::F32, &Device::Cpu).unwrap();
    let err = conv2d_same(&x, &w_bad).unwrap_err().to_string();
    assert!(err.contains("channels"), "{err}");
}

#[test]
fn callable_from_inside_rayon_jobs() {
    use rayon::prelude::*;
    // Batch 1 takes the inner-parallel path; calling it from many rayon jobs at once must not
    // trip over the per-thread scratch buffers.
    let mut rng = ChaCha8Rng::seed_from_u64(19);
    let x = random(&mut rng, &[1, 6, 9, 10]);
    let w = random(&mut rng, &[16, 6, 3, 3]);
    let reference = x.conv2d(&w, 1, 1, 1, 1).unwrap();
    let errs: Vec<f32> = (0..16)
        .into_par_iter()
        .map(|_| rel_err(&conv2d_same(&x, &w).unwrap(), &reference))
        .collect();
    assert!(errs.iter().all(|&e| e < TOL), "{errs:?}");
}

#[test]
fn empty_batch_and_empty_channels() {
    let mut rng = ChaCha8Rng::seed_from_u64(20);
    for (x_shape, w_shape) in [
        ([0, 3, 5, 5], [4, 3, 3, 3]),
        ([2, 3, 0, 5], [4, 3, 3, 3]),
        ([2, 0, 5, 5], [4, 0, 3, 3]),
        ([2, 3, 5, 5], [0, 3, 5, 5]),
    ] {
        let x = Var::from_tensor(&random(&mut rng, &x_shape)).unwrap();
        let w = Var::from_tensor(&random(&mut rng, &w_shape)).unwrap();
        let y = conv2d_same(x.as_tensor(), w.as_tensor()).unwrap();
        let expect = [x_shape[0], w_shape[0], x_shape[2], x_shape[3]];
        assert_eq!(y.dims(), &expect);
        assert_eq!(y.sum_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
        let g = Tensor::ones(&expect, DType::F32, &Device::Cpu).unwrap();
        let (gx, gw) = conv2d_same_backward(x.as_tensor(), w.as_tensor(), &g).unwrap();
        assert_eq!(gx.dims(), &x_shape);
        assert_eq!(gw.dims(), &w_shape);
    }
}
