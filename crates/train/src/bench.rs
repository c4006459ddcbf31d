//! `snnkit bench step`: the median time of one training step on random input, after warm-up.
//! SMA-VGG8: train-mode forward with AZO, MSE on the mean over T, backward, an AdamW update (the
//! DVS128 recipe). SMA-MS-ResNet: train-mode forward on an image batch repeated T times,
//! cross-entropy, backward, an SGD update with momentum 0.9 and weight decay 1e-4 (`train_amp.py`).

use crate::error::Result;
use crate::loss::Loss;
use crate::optim::{Optimizer, OptimizerConfig, OptimizerKind};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use snnkit_model::{Network, NetworkConfig};
use std::time::Instant;

/// What to time.
#[derive(Debug, Clone)]
pub struct StepBench {
    /// Network (architecture, T, input size, widths, classes, SMA/AZO).
    pub model: NetworkConfig,
    /// Batch size.
    pub batch: usize,
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed steps.
    pub iters: usize,
    /// Also run the profiled pass for [`StepTimes::breakdown_s`] (`iters` more steps).
    pub breakdown: bool,
}

/// Timing result (seconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StepTimes {
    /// Median of forward + loss + backward + update.
    pub median_step_s: f64,
    /// Median forward + loss.
    pub median_forward_s: f64,
    /// Median backward.
    pub median_backward_s: f64,
    /// Median optimizer update.
    pub median_update_s: f64,
    /// Every timed step.
    pub steps_s: Vec<f64>,
    /// Training samples per second at the median step.
    pub samples_per_s: f64,
    /// Trainable parameters.
    pub parameters: usize,
    /// Mean seconds per step in each named part, from a separate profiled pass (so the timers
    /// do not disturb the medians above); empty when not asked for. Forward parts are the
    /// `snnkit_model::profile` ones (`conv`, `sma_encoder_conv`, `sma_attention`,
    /// `sma_combine`, `azo`, `batchnorm`, `lif`, `pool`, `head`), backward parts the ops with
    /// their own backward (`conv_bwd`, `sma_encoder_conv_bwd`, `batchnorm_bwd`, `lif_bwd`,
    /// `pool_bwd`, `sma_combine_bwd`); the phases around them are `forward_candle_ops` (candle
    /// ops outside every part: reshapes, copies, the SMA's small tensors), `loss`,
    /// `backward_candle_ops` (candle's autograd for its own ops: the head's linear layers, SMA
    /// attention, reshapes, gradient accumulation) and `optimizer`; `unattributed` is the
    /// pass's mean step minus all of them.
    pub breakdown_s: std::collections::BTreeMap<String, f64>,
    /// Share of the profiled pass's mean step covered by named parts (all of
    /// [`StepTimes::breakdown_s`] but `unattributed`); 0 without a breakdown.
    pub breakdown_coverage: f64,
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return f64::NAN;
    }
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}

/// Runs the benchmark on `device`. Every phase ends with a read-back or a device sync, so the
/// times include the work (GPU kernels run asynchronously).
pub fn step_times(b: &StepBench, device: &Device) -> Result<StepTimes> {
    let model = Network::new(&b.model, device)?;
    let resnet = matches!(b.model, NetworkConfig::MsResNet(_));
    let opt_cfg = if resnet {
        OptimizerConfig {
            kind: OptimizerKind::Sgd,
            lr: 0.1,
            momentum: 0.9,
            weight_decay: 1e-4,
            ..OptimizerConfig::default()
        }
    } else {
        OptimizerConfig {
            kind: OptimizerKind::AdamW,
            lr: 1e-4,
            weight_decay: 1e-3,
            ..OptimizerConfig::default()
        }
    };
    let loss_fn = if resnet { Loss::Ce } else { Loss::Mse };
    let mut opt = Optimizer::new(opt_cfg, model.named_parameters());
    let (cin, h, w) = b.model.input_chw();
    let x = if resnet {
        // Normalised images: standard normal pixels.
        Tensor::randn(0f32, 1f32, (b.batch, cin, h, w), device)?
    } else {
        // Event counts are small non-negative integers; Poisson-like input from a uniform draw.
        (Tensor::rand(
            0f32,
            1f32,
            (b.model.time_steps(), b.batch, cin, h, w),
            device,
        )?
        .affine(2.5, -1.5)?
        .relu()?
        .ceil())?
        .to_dtype(DType::F32)?
    };
    let num_classes = b.model.num_classes();
    let labels: Vec<u32> = (0..b.batch as u32)
        .map(|i| i % num_classes.max(1) as u32)
        .collect();
    let labels = Tensor::new(labels, device)?;
    let (mut fw, mut bw, mut up, mut all) = (vec![], vec![], vec![], vec![]);
    for i in 0..b.warmup + b.iters {
        let t0 = Instant::now();
        let out = model.forward_t(&x, true)?;
        let loss = loss_fn.compute(&out, &labels)?;
        let _ = loss.to_scalar::<f32>()?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        device.synchronize()?;
        let t2 = Instant::now();
        let g = opt.grads(&grads);
        opt.step(&g)?;
        device.synchronize()?;
        let t3 = Instant::now();
        if i >= b.warmup {
            fw.push((t1 - t0).as_secs_f64());
            bw.push((t2 - t1).as_secs_f64());
            up.push((t3 - t2).as_secs_f64());
            all.push((t3 - t0).as_secs_f64());
        }
    }
    let med = median(&all);
    let breakdown_s = if b.breakdown {
        breakdown(
            &model,
            &mut opt,
            loss_fn,
            &x,
            &labels,
            b.iters.max(1),
            device,
        )?
    } else {
        Default::default()
    };
    let named: f64 = breakdown_s
        .iter()
        .filter(|(k, _)| k.as_str() != UNATTRIBUTED)
        .map(|(_, v)| v)
        .sum();
    let total: f64 = breakdown_s.values().sum();
    Ok(StepTimes {
        median_step_s: med,
        median_forward_s: median(&fw),
        median_backward_s: median(&bw),
        median_update_s: median(&up),
        steps_s: all,
        samples_per_s: b.batch as f64 / med,
        parameters: model.store().num_parameters(),
        breakdown_coverage: if total > 0.0 { named / total } else { 0.0 },
        breakdown_s,
    })
}

/// The breakdown key for time no part claimed.
pub const UNATTRIBUTED: &str = "unattributed";

/// Mean seconds per step in each profiled model part over `iters` more steps.
fn breakdown(
    model: &Network,
    opt: &mut Optimizer,
    loss_fn: Loss,
    x: &Tensor,
    labels: &Tensor,
    iters: usize,
    device: &Device,
) -> Result<std::collections::BTreeMap<String, f64>> {
    use snnkit_model::profile;
    profile::reset();
    profile::enable(true);
    let t0 = Instant::now();
    // Phase scopes around the model's own: times are exclusive, so each phase keeps only what
    // no model part inside it claimed.
    let mut run = || -> Result<()> {
        for _ in 0..iters {
            let out = {
                let _p = profile::scope("forward_candle_ops");
                model.forward_t(x, true)?
            };
            let loss = {
                let _p = profile::scope("loss");
                let loss = loss_fn.compute(&out, labels)?;
                device.synchronize()?;
                loss
            };
            let grads = {
                let _p = profile::scope("backward_candle_ops");
                let grads = loss.backward()?;
                device.synchronize()?;
                grads
            };
            let _p = profile::scope("optimizer");
            let g = opt.grads(&grads);
            opt.step(&g)?;
            device.synchronize()?;
        }
        Ok(())
    };
    let res = run();
    profile::enable(false);
    res?;
    let per_step = t0.elapsed().as_secs_f64() / iters as f64;
    let mut m: std::collections::BTreeMap<String, f64> = profile::snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v / iters as f64))
        .collect();
    let parts: f64 = m.values().sum();
    m.insert(UNATTRIBUTED.into(), (per_step - parts).max(0.0));
    Ok(m)
}
