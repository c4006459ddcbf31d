//! `conv2d_strided` against candle's `conv2d` and candle's autograd: forward, input gradient and
//! weight gradient within 1e-5 relative, for the MS-ResNet shapes (3×3 stride 2, 7×7 stride 2
//! padding 3, 1×1 stride 2 padding 0) and odd sizes, even kernels, stride 3.

use candle_core::{Device, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use snnkit_conv::conv2d_strided;

fn random(rng: &mut ChaCha8Rng, shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

fn rel_err(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let (a, b) = (v(a), v(b));
    let nan_max = |m: f32, d: f32| if d.is_nan() || d > m { d } else { m };
    let diff = a
        .iter()
        .zip(&b)
        .fold(0f32, |m, (p, q)| nan_max(m, (p - q).abs()));
    let scale = b.iter().fold(0f32, |m, q| nan_max(m, q.abs()));
    diff / scale.max(f32::MIN_POSITIVE)
}

#[allow(clippy::too_many_arguments)]
fn check(
    seed: u64,
    n: usize,
    cin: usize,
    cout: usize,
    h: usize,
    w: usize,
    k: (usize, usize),
    stride: usize,
    pad: usize,
) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Var::from_tensor(&random(&mut rng, &[n, cin, h, w])).unwrap();
    let wt = Var::from_tensor(&random(&mut rng, &[cout, cin, k.0, k.1])).unwrap();
    let what = format!("n={n} cin={cin} cout={cout} {h}x{w} k={k:?} s={stride} p={pad}");
    let reference = x
        .as_tensor()
        .conv2d(wt.as_tensor(), pad, stride, 1, 1)
        .unwrap();
    let got = conv2d_strided(x.as_tensor(), wt.as_tensor(), stride, pad).unwrap();
    let e = rel_err(&got, &reference);
    assert!(e < 1e-5, "{what}: forward rel err {e}");
    let g = random(&mut rng, reference.dims());
    let rg = (reference * &g)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let gg = (got * &g).unwrap().sum_all().unwrap().backward().unwrap();
    for (name, v) in [("input", &x), ("weight", &wt)] {
        let e = rel_err(
            gg.get(v.as_tensor()).unwrap(),
            rg.get(v.as_tensor()).unwrap(),
        );
        assert!(e < 1e-5, "{what}: {name} gradient rel err {e}");
    }
}

#[test]
fn strided_matches_candle() {
    // MS-ResNet: block conv 3x3 s2, stem 7x7 s2 p3, shortcut 1x1 s2.
    check(1, 4, 8, 16, 16, 16, (3, 3), 2, 1);
    check(2, 3, 3, 8, 32, 32, (7, 7), 2, 3);
    check(3, 4, 8, 16, 16, 16, (1, 1), 2, 0);
    // Odd sizes, stride 3, even kernel, more images than threads, stride 1 (candle's own
    // backward, the reference here, mis-sizes the input gradient of non-square strided cases).
    check(4, 5, 3, 5, 15, 13, (3, 3), 2, 1);
    check(5, 2, 4, 3, 11, 11, (5, 5), 3, 2);
    check(6, 9, 2, 3, 7, 7, (2, 2), 2, 0);
    check(7, 2, 3, 4, 8, 6, (3, 3), 1, 0);
}

#[test]
fn strided_rejects_a_kernel_larger_than_the_padded_input() {
    let x = Tensor::zeros((1, 1, 2, 2), candle_core::DType::F32, &Device::Cpu).unwrap();
    let w = Tensor::zeros((1, 1, 5, 5), candle_core::DType::F32, &Device::Cpu).unwrap();
    let err = conv2d_strided(&x, &w, 2, 0).unwrap_err().to_string();
    assert!(err.contains("does not fit"), "{err}");
}
