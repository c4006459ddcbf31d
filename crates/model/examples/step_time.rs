//! Times a train-mode forward + backward of SMA-VGG8 (and SMA alone) at the benchmark
//! settings: `cargo run --release -p snnkit-model --example step_time [narrow|full32|full64|sma] [reps]`.

use std::time::Instant;

use candle_core::{Device, Tensor};
use snnkit_model::{AzoConfig, FiringRates, ParamStore, Sma, SmaConfig, SmaVgg8, Vgg8Config};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> anyhow_free::Result {
    let args: Vec<String> = std::env::args().collect();
    let which = args.get(1).map(String::as_str).unwrap_or("narrow");
    let reps: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let dev = Device::Cpu;
    let mut times = Vec::new();
    snnkit_model::profile::enable(true);
    if which == "sma" {
        let store = ParamStore::new(&dev, 0);
        let mut cfg = SmaConfig::new(128, 16);
        cfg.azo = Some(AzoConfig { rcr: 10, rtr: 4 });
        let sma = Sma::new(&store, "", &cfg, &FiringRates::new())?;
        let x = Tensor::randn(0f32, 1.0, (16, 2, 128, 32, 32), &dev)?;
        for i in 0..reps + 1 {
            let t0 = Instant::now();
            let y = sma.forward_t(&x, true)?;
            let t1 = t0.elapsed().as_secs_f64();
            let _g = y.sum_all()?.backward()?;
            let t = t0.elapsed().as_secs_f64();
            println!("rep {i}: fwd {t1:.3}s fwd+bwd {t:.3}s");
            if i > 0 {
                times.push(t);
            }
            if i == 0 {
                snnkit_model::profile::reset();
            }
        }
    } else {
        let mut cfg = Vgg8Config::default(); // the released DVS128 Gesture network
        let (b, size) = match which {
            "narrow" => {
                cfg.widths = [8, 16, 32, 32, 32];
                cfg.head = [64, 32];
                (4, 64)
            }
            "full32" => (2, 32),
            _ => (2, 64),
        };
        cfg.height = size;
        cfg.width = size;
        let net = SmaVgg8::new(&cfg, &dev)?;
        let x = Tensor::rand(0f32, 3.0, (16, b, 2, size, size), &dev)?;
        for i in 0..reps + 1 {
            let t0 = Instant::now();
            let y = {
                let _p = snnkit_model::profile::scope("forward_candle_ops");
                net.forward_t(&x, true)?
            };
            let loss = y.mean(0)?.sqr()?.mean_all()?;
            let t1 = t0.elapsed().as_secs_f64();
            let _g = {
                let _p = snnkit_model::profile::scope("backward_candle_ops");
                loss.backward()?
            };
            let t = t0.elapsed().as_secs_f64();
            println!("rep {i}: fwd {t1:.3}s fwd+bwd {t:.3}s");
            if i > 0 {
                times.push(t);
            }
            if i == 0 {
                snnkit_model::profile::reset();
            }
        }
    }
    for (part, s) in snnkit_model::profile::snapshot() {
        println!("  {part:<18} {:.3}s per rep", s / reps as f64);
    }
    println!("{which}: median fwd+bwd {:.3}s", median(times));
    Ok(())
}

mod anyhow_free {
    pub type Result = std::result::Result<(), Box<dyn std::error::Error>>;
}
