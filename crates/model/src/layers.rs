//! Stateless multi-step building blocks: convolution, BatchNorm over T·B, linear, dropout with a
//! per-sequence mask, 2×2 max-pooling and adaptive average pooling with PyTorch semantics.

use std::sync::{Arc, Mutex};

use candle_core::{DType, Result, Tensor, Var, D};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::bn_op::{BnSaved, BnTrainOp};
use crate::error;
use crate::store::ParamStore;

/// `[T, B, rest...]` -> `[T*B, rest...]` (spikingjelly's `seq_to_ann` fold).
pub fn fold_tb(x: &Tensor) -> Result<Tensor> {
    let dims = x.dims();
    if dims.len() < 2 {
        candle_core::bail!("expected [T, B, ...], got {dims:?}");
    }
    let mut shape = vec![dims[0] * dims[1]];
    shape.extend_from_slice(&dims[2..]);
    x.reshape(shape)
}

/// `[T*B, rest...]` -> `[T, B, rest...]`.
pub fn unfold_tb(x: &Tensor, t: usize) -> Result<Tensor> {
    let dims = x.dims();
    if dims.is_empty() {
        candle_core::bail!("expected [T*B, ...], got a scalar");
    }
    let mut shape = vec![t, dims[0] / t.max(1)];
    shape.extend_from_slice(&dims[1..]);
    x.reshape(shape)
}

/// 2-D convolution with bias (`<prefix>.weight` `[Cout, Cin, k, k]`, `<prefix>.bias` `[Cout]`).
#[derive(Debug, Clone)]
pub struct Conv2d {
    /// Kernel.
    pub weight: Var,
    /// Bias.
    pub bias: Var,
    /// Zero padding on each side.
    pub padding: usize,
    /// Stride.
    pub stride: usize,
}

impl Conv2d {
    /// New conv with PyTorch's default init (`U(±1/sqrt(Cin·k·k))` for weight and bias).
    pub fn new(
        store: &ParamStore,
        prefix: &str,
        cin: usize,
        cout: usize,
        k: usize,
        padding: usize,
    ) -> error::Result<Self> {
        let bound = 1.0 / ((cin * k * k) as f64).sqrt();
        let weight = store.param_uniform(&format!("{prefix}.weight"), (cout, cin, k, k), bound)?;
        let bias = store.param_uniform(&format!("{prefix}.bias"), cout, bound)?;
        Ok(Self {
            weight,
            bias,
            padding,
            stride: 1,
        })
    }

    /// `x` `[N, Cin, H, W]` -> `[N, Cout, H', W']` through [`crate::conv::conv2d`].
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        crate::conv::conv2d(
            x,
            self.weight.as_tensor(),
            Some(self.bias.as_tensor()),
            self.stride,
            self.padding,
        )
    }
}

/// `nn.BatchNorm2d` (eps 1e-5, momentum 0.1, affine) on `[N, C, H, W]`: training normalises with
/// the biased batch variance over (N, H, W) and updates `running_mean`, `running_var` (unbiased
/// variance) and `num_batches_tracked`; evaluation uses the running statistics.
#[derive(Debug, Clone)]
pub struct BatchNorm {
    /// γ.
    pub weight: Var,
    /// β.
    pub bias: Var,
    /// Running mean buffer.
    pub running_mean: Var,
    /// Running (unbiased) variance buffer.
    pub running_var: Var,
    /// Number of training forwards seen (int64 scalar, as in PyTorch).
    pub num_batches_tracked: Var,
    /// Numerical epsilon.
    pub eps: f64,
    /// Running-statistics momentum.
    pub momentum: f64,
}

impl BatchNorm {
    /// New BatchNorm over `c` channels under `prefix` (γ=1, β=0, mean 0, var 1, count 0).
    pub fn new(store: &ParamStore, prefix: &str, c: usize) -> error::Result<Self> {
        let dev = store.device();
        Ok(Self {
            weight: store.param_const(&format!("{prefix}.weight"), c, 1.0)?,
            bias: store.param_const(&format!("{prefix}.bias"), c, 0.0)?,
            running_mean: store.buffer(
                &format!("{prefix}.running_mean"),
                &Tensor::zeros(c, DType::F32, dev)?,
            )?,
            running_var: store.buffer(
                &format!("{prefix}.running_var"),
                &Tensor::ones(c, DType::F32, dev)?,
            )?,
            num_batches_tracked: store.buffer(
                &format!("{prefix}.num_batches_tracked"),
                &Tensor::zeros((), DType::I64, dev)?,
            )?,
            eps: 1e-5,
            momentum: 0.1,
        })
    }

    /// New BatchNorm with γ initialised to `gamma` instead of 1 (tdBN: 0.5 = the MS-ResNet
    /// threshold, 0 for the last BN of a residual branch).
    pub fn with_weight(
        store: &ParamStore,
        prefix: &str,
        c: usize,
        gamma: f64,
    ) -> error::Result<Self> {
        let bn = Self::new(store, prefix, c)?;
        bn.weight.set(&bn.weight.as_tensor().affine(0.0, gamma)?)?;
        Ok(bn)
    }

    /// Normalises `x` `[N, C, H, W]`; `train` selects batch statistics (and updates the buffers).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let shape = (1, c, 1, 1);
        let gamma = self.weight.as_tensor().reshape(shape)?;
        let beta = self.bias.as_tensor().reshape(shape)?;
        if !train {
            let mean = self.running_mean.as_tensor().detach().reshape(shape)?;
            let var = self.running_var.as_tensor().detach().reshape(shape)?;
            let scale = gamma.broadcast_mul(&(var + self.eps)?.sqrt()?.recip()?)?;
            return x
                .broadcast_sub(&mean)?
                .broadcast_mul(&scale)?
                .broadcast_add(&beta);
        }
        let count = (n * h * w) as f64;
        if x.device().is_cpu() && x.dtype() == DType::F32 {
            return self.forward_train_cpu(x, count);
        }
        let mean = (x.sum_keepdim((0, 2, 3))? / count)?;
        let xc = x.broadcast_sub(&mean)?;
        let var = (xc.sqr()?.sum_keepdim((0, 2, 3))? / count)?;
        let scale = gamma.broadcast_mul(&(&var + self.eps)?.sqrt()?.recip()?)?;
        let y = xc.broadcast_mul(&scale)?.broadcast_add(&beta)?;
        // Running statistics (no graph): PyTorch uses the unbiased variance here.
        let m = self.momentum;
        let bessel = if count > 1.0 {
            count / (count - 1.0)
        } else {
            1.0
        };
        let new_mean = ((self.running_mean.as_tensor().detach() * (1.0 - m))?
            + (mean.detach().flatten_all()? * m)?)?;
        let new_var = ((self.running_var.as_tensor().detach() * (1.0 - m))?
            + (var.detach().flatten_all()? * (m * bessel))?)?;
        self.running_mean.set(&new_mean)?;
        self.running_var.set(&new_var)?;
        let nbt = (self.num_batches_tracked.as_tensor().detach() + 1.0)?;
        self.num_batches_tracked.set(&nbt)?;
        Ok(y)
    }
}

impl BatchNorm {
    /// Training forward through the fused CPU op, then the running-statistics update on the host.
    fn forward_train_cpu(&self, x: &Tensor, count: f64) -> Result<Tensor> {
        let saved = Arc::new(Mutex::new(BnSaved::default()));
        let op = BnTrainOp {
            eps: self.eps,
            saved: saved.clone(),
        };
        let y = x
            .contiguous()?
            .apply_op3(self.weight.as_tensor(), self.bias.as_tensor(), op)?;
        let st = saved
            .lock()
            .map_err(|_| candle_core::Error::Msg("batchnorm state lock poisoned".into()))?
            .clone();
        let m = self.momentum;
        let bessel = if count > 1.0 {
            count / (count - 1.0)
        } else {
            1.0
        };
        let rm = self.running_mean.as_tensor().to_vec1::<f32>()?;
        let rv = self.running_var.as_tensor().to_vec1::<f32>()?;
        let new_mean: Vec<f32> = rm
            .iter()
            .zip(&st.mean)
            .map(|(&r, &b)| ((1.0 - m) * r as f64 + m * b) as f32)
            .collect();
        let new_var: Vec<f32> = rv
            .iter()
            .zip(&st.var)
            .map(|(&r, &b)| ((1.0 - m) * r as f64 + m * b * bessel) as f32)
            .collect();
        let c = new_mean.len();
        self.running_mean
            .set(&Tensor::from_vec(new_mean, c, x.device())?)?;
        self.running_var
            .set(&Tensor::from_vec(new_var, c, x.device())?)?;
        let nbt = (self.num_batches_tracked.as_tensor().detach() + 1.0)?;
        self.num_batches_tracked.set(&nbt)?;
        Ok(y)
    }
}

/// `nn.Linear` on `[..., in]` (`<prefix>.weight` `[out, in]`, `<prefix>.bias` `[out]`).
#[derive(Debug, Clone)]
pub struct Linear {
    /// Weight `[out, in]`.
    pub weight: Var,
    /// Bias `[out]`.
    pub bias: Var,
}

impl Linear {
    /// New linear layer with PyTorch's default init (`U(±1/sqrt(in))`).
    pub fn new(store: &ParamStore, prefix: &str, fin: usize, fout: usize) -> error::Result<Self> {
        let bound = 1.0 / (fin as f64).sqrt();
        Ok(Self {
            weight: store.param_uniform(&format!("{prefix}.weight"), (fout, fin), bound)?,
            bias: store.param_uniform(&format!("{prefix}.bias"), fout, bound)?,
        })
    }

    /// `x` `[N, in]` -> `[N, out]`.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(&self.weight.as_tensor().t()?)?
            .broadcast_add(self.bias.as_tensor())
    }
}

/// spikingjelly's multi-step `layer.Dropout`: in training one mask `[B, F]` (0 with probability
/// `p`, else `1/(1-p)`) is drawn per sequence and applied at every timestep; identity in eval.
#[derive(Debug, Clone)]
pub struct SeqDropout {
    /// Drop probability.
    pub p: f64,
    name: String,
    rng: Arc<Mutex<ChaCha8Rng>>,
    injected: Arc<Mutex<Option<Tensor>>>,
    last: Arc<Mutex<Option<Tensor>>>,
}

impl SeqDropout {
    /// New dropout called `name` (e.g. `others.4`) drawing from the shared `rng`.
    pub fn new(p: f64, name: &str, rng: Arc<Mutex<ChaCha8Rng>>) -> Self {
        Self {
            p,
            name: name.to_string(),
            rng,
            injected: Arc::new(Mutex::new(None)),
            last: Arc::new(Mutex::new(None)),
        }
    }

    /// Module name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Uses `mask` `[B, F]` for the next training forward instead of drawing one (parity tests).
    pub fn inject_mask(&self, mask: Tensor) {
        if let Ok(mut g) = self.injected.lock() {
            *g = Some(mask);
        }
    }

    /// The mask used by the last training forward.
    pub fn last_mask(&self) -> Option<Tensor> {
        self.last.lock().ok().and_then(|g| g.clone())
    }

    /// Applies the mask to `x` `[T, B, F]`.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        if !train || self.p == 0.0 {
            return Ok(x.clone());
        }
        let (_, b, f) = x.dims3()?;
        let injected = self.injected.lock().ok().and_then(|mut g| g.take());
        let mask = match injected {
            Some(m) => {
                if m.dims() != [b, f] {
                    candle_core::bail!(
                        "dropout {}: injected mask {:?}, expected [{b}, {f}]",
                        self.name,
                        m.dims()
                    );
                }
                m.to_device(x.device())?.to_dtype(x.dtype())?
            }
            None => {
                let keep = (1.0 / (1.0 - self.p)) as f32;
                let vals: Vec<f32> = {
                    let mut rng = self
                        .rng
                        .lock()
                        .map_err(|_| candle_core::Error::Msg("dropout rng lock poisoned".into()))?;
                    (0..b * f)
                        .map(|_| {
                            if rng.random::<f64>() < self.p {
                                0.0
                            } else {
                                keep
                            }
                        })
                        .collect()
                };
                Tensor::from_vec(vals, (b, f), x.device())?
            }
        };
        if let Ok(mut g) = self.last.lock() {
            *g = Some(mask.clone());
        }
        x.broadcast_mul(&mask.unsqueeze(0)?)
    }
}

/// A fresh dropout RNG from a seed.
pub fn dropout_rng(seed: u64) -> Arc<Mutex<ChaCha8Rng>> {
    Arc::new(Mutex::new(ChaCha8Rng::seed_from_u64(seed)))
}

/// `MaxPool2d(2, 2)` (floor mode) on `[N, C, H, W]` with PyTorch's gradient rule: the whole
/// gradient goes to the first maximum of each window in row-major order (spike maps tie a lot,
/// and candle's own max-pool backward splits ties, which would not match the reference).
pub fn max_pool2x2(x: &Tensor) -> Result<Tensor> {
    if x.device().is_cpu() && x.dtype() == DType::F32 {
        return x.contiguous()?.apply_op1(crate::pool_op::MaxPool2x2);
    }
    max_pool2x2_composed(x)
}

/// Device-agnostic [`max_pool2x2`] from candle ops (same values and gradient rule).
pub fn max_pool2x2_composed(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let (ho, wo) = (h / 2, w / 2);
    let xe = x
        .narrow(2, 0, 2 * ho)?
        .narrow(3, 0, 2 * wo)?
        .reshape((n, c, ho, 2, wo, 2))?;
    let pick = |i: usize, j: usize| -> Result<Tensor> {
        xe.narrow(3, i, 1)?.narrow(5, j, 1)?.reshape((n, c, ho, wo))
    };
    let (a, b, cc, d) = (pick(0, 0)?, pick(0, 1)?, pick(1, 0)?, pick(1, 1)?);
    let (ad, bd, cd, dd) = (a.detach(), b.detach(), cc.detach(), d.detach());
    let m = ad.maximum(&bd)?.maximum(&cd.maximum(&dd)?)?;
    let dt = x.dtype();
    let ma = ad.ge(&m)?.to_dtype(dt)?;
    let not_a = ma.affine(-1.0, 1.0)?;
    let mb = (bd.ge(&m)?.to_dtype(dt)? * &not_a)?;
    let not_ab = (&not_a - &mb)?;
    let mc = (cd.ge(&m)?.to_dtype(dt)? * &not_ab)?;
    let md = (&not_ab - &mc)?;
    ((a * ma)? + (b * mb)? + (cc * mc)? + (d * md)?)?.contiguous()
}

/// PyTorch adaptive-pool bin `[floor(i·n/out), ceil((i+1)·n/out))`.
pub fn adaptive_bin(i: usize, n: usize, out: usize) -> (usize, usize) {
    let start = (i * n) / out;
    let end = ((i + 1) * n).div_ceil(out);
    (start, end)
}

/// `AdaptiveAvgPool2d(out)` on `[N, C, H, W]` -> `[N, C, out, out]` with PyTorch's (possibly
/// overlapping) bins.
pub fn adaptive_avg_pool2d(x: &Tensor, out: usize) -> Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let mut rows = Vec::with_capacity(out);
    for i in 0..out {
        let (h0, h1) = adaptive_bin(i, h, out);
        let mut cols = Vec::with_capacity(out);
        for j in 0..out {
            let (w0, w1) = adaptive_bin(j, w, out);
            let win = x.narrow(2, h0, h1 - h0)?.narrow(3, w0, w1 - w0)?;
            let s = win.sum_keepdim(D::Minus1)?.sum_keepdim(D::Minus2)?;
            cols.push((s / ((h1 - h0) * (w1 - w0)) as f64)?);
        }
        rows.push(Tensor::cat(&cols, 3)?);
    }
    Tensor::cat(&rows, 2)
}

/// `AvgPool3d((1, 2, 2), stride (1, 2, 2))` on folded `[N, C, H, W]` maps: 2×2 average pooling,
/// floor mode (odd trailing rows and columns are dropped, as in PyTorch).
pub fn avg_pool2x2(x: &Tensor) -> Result<Tensor> {
    let (n, c, h, w) = x.dims4()?;
    let (ho, wo) = (h / 2, w / 2);
    if ho == 0 || wo == 0 {
        candle_core::bail!("avg_pool2x2: input {h}x{w} is smaller than the 2x2 window");
    }
    x.narrow(2, 0, 2 * ho)?
        .narrow(3, 0, 2 * wo)?
        .reshape((n, c, ho, 2, wo, 2))?
        .sum((3, 5))?
        .affine(0.25, 0.0)
}
