use candle_core::{Device, Tensor};
use snnkit_model::{lif_multistep, LifConfig};
#[test]
fn lif_multichunk_matches_scalar() {
    let t = 6;
    let n = 5000;
    let x = Tensor::randn(0.8f32, 1.5, (t, n), &Device::Cpu).unwrap();
    let (s, _) = lif_multistep(&x, &LifConfig::default()).unwrap();
    let xs = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let ss = s.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut v = vec![0f32; n];
    let mut bad = 0;
    for st in 0..t {
        for i in 0..n {
            let h = v[i] + (xs[st * n + i] - v[i]) / 2.0;
            let sp = h >= 1.0;
            v[i] = if sp { 0.0 } else { h };
            if (sp as i32 as f32) != ss[st * n + i] {
                bad += 1;
            }
        }
    }
    assert_eq!(bad, 0);
}
