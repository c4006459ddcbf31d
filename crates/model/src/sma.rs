//! Spiking Multiscale Attention (SMA), exactly as the reference `SMA` class (spec §1).
//!
//! Input and output `[T, B, C, H, W]`. Per scale n: conv k_n×k_n (same padding) → BatchNorm
//! (statistics over T·B·H·W) → LIF (or ReLU) gives `M^n`. `Y = Σ_n M^n` (no /N), `Ȳ` = spatial
//! mean. C-MSE: shared 1×1 squeeze `C → C/CR` + ReLU, one excitation per scale, softmax over the
//! scale axis → `W_β [N,T,B,C]`. T-MSE: channel mean `p[b,t]`, squeeze `T → T/TR` + ReLU, one
//! excitation per scale, softmax over scales → `W_α [N,T,B]`. Output `Z = Σ_n W_α W_β M^n`, with
//! AZO (training only) applied per scale before the sum.

use candle_core::{DType, Result, Tensor, Var, D};
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::azo::{azo_replace_folded, azo_select, azo_source_rows, AzoConfig, AzoSelection};
use crate::combine_op::{CombineAcc, CombineFirst, CombineOp};
use crate::error::{self, Error};
use crate::layers::{fold_tb, BatchNorm, Conv2d};
use crate::lif::{FiringRates, Lif, LifConfig};
use crate::store::ParamStore;

/// Encoder activation δ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// LIF neuron (the released VGG code).
    #[default]
    Lif,
    /// ReLU (the paper's main text and the ImageNet code).
    Relu,
}

/// SMA hyper-parameters (`SMA(channel, time, kernels, C_reduction, T_reduction, AZO, RCR, RTR)`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmaConfig {
    /// Channels C (input = output).
    pub channels: usize,
    /// Simulation length T (the T-MSE treats time as channels, so it is fixed).
    pub time_steps: usize,
    /// Kernel sizes of the scales (odd).
    pub kernels: Vec<usize>,
    /// Channel reduction CR (`C_hid = C // CR`).
    pub c_reduction: usize,
    /// Time reduction TR (`T_hid = T // TR`).
    pub t_reduction: usize,
    /// Encoder activation.
    pub activation: Activation,
    /// AZO ratios; `None` disables AZO.
    pub azo: Option<AzoConfig>,
    /// LIF parameters of the encoder neurons.
    pub lif: LifConfig,
}

impl SmaConfig {
    /// The released configuration: kernels 1,3,5,7, CR 4, TR 4, LIF encoders, no AZO.
    pub fn new(channels: usize, time_steps: usize) -> Self {
        Self {
            channels,
            time_steps,
            kernels: vec![1, 3, 5, 7],
            c_reduction: 4,
            t_reduction: 4,
            activation: Activation::Lif,
            azo: None,
            lif: LifConfig::default(),
        }
    }

    /// `C // CR`.
    pub fn c_hidden(&self) -> usize {
        self.channels / self.c_reduction.max(1)
    }

    /// `T // TR`.
    pub fn t_hidden(&self) -> usize {
        self.time_steps / self.t_reduction.max(1)
    }

    fn validate(&self) -> error::Result<()> {
        if self.kernels.is_empty() || self.kernels.iter().any(|k| k % 2 == 0) {
            return Err(Error::Config(format!(
                "SMA kernels must be odd and non-empty, got {:?}",
                self.kernels
            )));
        }
        if self.c_reduction == 0 || self.t_reduction == 0 {
            return Err(Error::Config(format!(
                "SMA reductions must be positive (CR={} TR={})",
                self.c_reduction, self.t_reduction
            )));
        }
        if self.c_hidden() == 0 || self.t_hidden() == 0 {
            return Err(Error::Config(format!(
                "SMA hidden widths are zero (C={} CR={} T={} TR={})",
                self.channels, self.c_reduction, self.time_steps, self.t_reduction
            )));
        }
        if let Some(a) = self.azo {
            if a.rcr == 0 || a.rtr == 0 {
                return Err(Error::Config("AZO ratios must be positive".into()));
            }
        }
        Ok(())
    }
}

/// A 1×1 (or 1×1×1) convolution used as a dense map, stored under PyTorch conv shapes.
#[derive(Debug, Clone)]
struct PointConv {
    weight: Var,
    bias: Var,
    fout: usize,
    fin: usize,
}

impl PointConv {
    fn new(
        store: &ParamStore,
        prefix: &str,
        fin: usize,
        fout: usize,
        dims3: bool,
    ) -> error::Result<Self> {
        let bound = 1.0 / (fin as f64).sqrt();
        let shape: Vec<usize> = if dims3 {
            vec![fout, fin, 1, 1, 1]
        } else {
            vec![fout, fin, 1, 1]
        };
        Ok(Self {
            weight: store.param_uniform(&format!("{prefix}.weight"), shape, bound)?,
            bias: store.param_uniform(&format!("{prefix}.bias"), fout, bound)?,
            fout,
            fin,
        })
    }

    /// `x` `[M, fin]` -> `[M, fout]`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let w = self.weight.as_tensor().reshape((self.fout, self.fin))?;
        x.matmul(&w.t()?)?.broadcast_add(self.bias.as_tensor())
    }
}

#[derive(Debug, Clone)]
struct Encoder {
    conv: Conv2d,
    bn: BatchNorm,
    lif: Option<Lif>,
}

/// Everything the SMA forward computed (for tests, visualisation and the parity harness).
#[derive(Debug, Clone)]
pub struct SmaTrace {
    /// Output `[T, B, C, H, W]`.
    pub output: Tensor,
    /// Per-scale encoder outputs `M^n`, each `[T, B, C, H, W]`.
    pub m: Vec<Tensor>,
    /// Time weights `W_α` `[N, T, B]` (softmax over N).
    pub w_alpha: Tensor,
    /// Channel weights `W_β` `[N, T, B, C]` (softmax over N).
    pub w_beta: Tensor,
    /// AZO selection when AZO ran.
    pub azo: Option<AzoSelection>,
}

/// Where an SMA's tensors live and how wide its T-MSE is, for hosts whose reference code differs
/// from the VGG scripts (the MS-ResNet SMA wraps its BN in `batch_norm_2d`, so its names read
/// `S_Convs.<n>.bn.bn.weight`, and uses a fractional `T_reduction`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmaLayout {
    /// Name of each scale's BatchNorm under `S_Convs.<n>` (`bn` in the VGG code, `bn.bn` in the
    /// ResNet code).
    pub encoder_bn: String,
    /// T-MSE hidden width; `None` = `T // TR` from [`SmaConfig::t_reduction`].
    pub t_hidden: Option<usize>,
}

impl Default for SmaLayout {
    fn default() -> Self {
        Self {
            encoder_bn: "bn".into(),
            t_hidden: None,
        }
    }
}

/// The SMA module.
#[derive(Debug, Clone)]
pub struct Sma {
    cfg: SmaConfig,
    encoders: Vec<Encoder>,
    c_squeeze: PointConv,
    c_excite: Vec<PointConv>,
    t_squeeze: PointConv,
    t_excite: Vec<PointConv>,
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

impl Sma {
    /// Builds the module with parameters under `prefix` (empty for a standalone SMA, `block2.1`
    /// inside SMA-VGG8), PyTorch default init, encoder LIF rates recorded as
    /// `<prefix>.S_Convs.<n>.lif`.
    pub fn new(
        store: &ParamStore,
        prefix: &str,
        cfg: &SmaConfig,
        rates: &FiringRates,
    ) -> error::Result<Self> {
        Self::with_layout(store, prefix, cfg, rates, &SmaLayout::default())
    }

    /// [`Sma::new`] with another parameter layout (the MS-ResNet SMA).
    pub fn with_layout(
        store: &ParamStore,
        prefix: &str,
        cfg: &SmaConfig,
        rates: &FiringRates,
        layout: &SmaLayout,
    ) -> error::Result<Self> {
        let mut check = cfg.clone();
        if let Some(th) = layout.t_hidden {
            if th == 0 {
                return Err(Error::Config(format!(
                    "SMA T-MSE hidden width is zero (T={})",
                    cfg.time_steps
                )));
            }
            // The explicit width replaces `T // TR`; validate the rest as usual.
            check.t_reduction = 1;
        }
        check.validate()?;
        let c = cfg.channels;
        let mut encoders = Vec::new();
        for (n, &k) in cfg.kernels.iter().enumerate() {
            let p = join(prefix, &format!("S_Convs.{n}"));
            let conv = Conv2d::new(store, &format!("{p}.conv"), c, c, k, k / 2)?;
            let bn = BatchNorm::new(store, &format!("{p}.{}", layout.encoder_bn), c)?;
            let lif = match cfg.activation {
                Activation::Lif => Some(Lif::new(cfg.lif, &format!("{p}.lif"), rates.clone())),
                Activation::Relu => None,
            };
            encoders.push(Encoder { conv, bn, lif });
        }
        let (ch, th) = (cfg.c_hidden(), layout.t_hidden.unwrap_or(cfg.t_hidden()));
        let c_squeeze = PointConv::new(
            store,
            &join(prefix, "C_before_attention_conv"),
            c,
            ch,
            false,
        )?;
        let c_excite = (0..cfg.kernels.len())
            .map(|n| {
                PointConv::new(
                    store,
                    &join(prefix, &format!("C_after_attention_convs.{n}")),
                    ch,
                    c,
                    false,
                )
            })
            .collect::<error::Result<Vec<_>>>()?;
        let t = cfg.time_steps;
        let t_squeeze =
            PointConv::new(store, &join(prefix, "T_before_attention_conv"), t, th, true)?;
        let t_excite = (0..cfg.kernels.len())
            .map(|n| {
                PointConv::new(
                    store,
                    &join(prefix, &format!("T_after_attention_convs.{n}")),
                    th,
                    t,
                    true,
                )
            })
            .collect::<error::Result<Vec<_>>>()?;
        Ok(Self {
            cfg: cfg.clone(),
            encoders,
            c_squeeze,
            c_excite,
            t_squeeze,
            t_excite,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SmaConfig {
        &self.cfg
    }

    /// `x` `[T, B, C, H, W]` -> `[T, B, C, H, W]`; `train` = BatchNorm batch statistics and AZO.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.forward_trace(x, train)?.output)
    }

    /// Forward keeping the intermediate tensors (`[T, B, C, H, W]` in and out).
    pub fn forward_trace(&self, x: &Tensor, train: bool) -> Result<SmaTrace> {
        let (t, b, c, h, w) = x.dims5()?;
        let mut tr = self.forward_folded(&fold_tb(x)?, t, train)?;
        tr.output = tr.output.reshape((t, b, c, h, w))?;
        tr.m =
            tr.m.iter()
                .map(|m| m.reshape((t, b, c, h, w)))
                .collect::<Result<Vec<_>>>()?;
        Ok(tr)
    }

    /// The forward on the folded input `[T·B, C, H, W]` (what the host network carries);
    /// `output` and `m` of the trace stay folded. Avoiding fold/unfold reshapes matters: every
    /// reshape node costs two full passes in candle's backward.
    pub fn forward_folded(&self, xf: &Tensor, t: usize, train: bool) -> Result<SmaTrace> {
        let (tb, c, h, w) = xf.dims4()?;
        if t != self.cfg.time_steps || c != self.cfg.channels || tb.checked_rem(t) != Some(0) {
            candle_core::bail!(
                "SMA built for T={} C={}, got T={t} and input {:?}",
                self.cfg.time_steps,
                self.cfg.channels,
                xf.dims()
            );
        }
        let b = tb / t;
        let n = self.encoders.len();
        // Encoders: M^n, folded [T*B, C, H, W].
        let mut m = Vec::with_capacity(n);
        for enc in &self.encoders {
            let y = {
                let _p = crate::profile::scope("sma_encoder_conv");
                enc.conv.forward(xf)?
            };
            let y = enc.bn.forward_t(&y, train)?;
            m.push(match &enc.lif {
                Some(lif) => lif.forward_steps(&y, t)?,
                None => y.relu()?,
            });
        }
        let attention = crate::profile::scope("sma_attention");
        // Decoder input: Ȳ[t,b,c] = mean_hw Σ_n M^n (sum, not mean, over scales).
        // Summing per-scale spatial sums (exact for spike maps) instead of building the full-size
        // Y saves three full-size adds forward and their gradient accumulations backward.
        let mut ysum: Option<Tensor> = None;
        for mn in &m {
            let s = mn.sum((2, 3))?;
            ysum = Some(match ysum {
                None => s,
                Some(a) => (a + s)?,
            });
        }
        let ysum = ysum.ok_or_else(|| candle_core::Error::Msg("SMA without scales".into()))?;
        let ybar = (ysum * (1.0 / (h * w) as f64))?; // [T*B, C]

        // C-MSE: one channel vector per (t, b).
        let hc = self.c_squeeze.forward(&ybar)?.relu()?;
        let ac = self
            .c_excite
            .iter()
            .map(|e| e.forward(&hc))
            .collect::<Result<Vec<_>>>()?;
        let w_beta = candle_nn::ops::softmax(&Tensor::stack(&ac, 0)?, 0)?.reshape((n, t, b, c))?;
        // T-MSE: channel mean per (b, t), dense map across time.
        let p = ybar
            .reshape((t, b, c))?
            .mean(D::Minus1)?
            .t()?
            .contiguous()?; // [B, T]
        let ht = self.t_squeeze.forward(&p)?.relu()?;
        let at = self
            .t_excite
            .iter()
            .map(|e| e.forward(&ht))
            .collect::<Result<Vec<_>>>()?;
        let w_alpha = candle_nn::ops::softmax(&Tensor::stack(&at, 0)?, 0)?
            .transpose(1, 2)?
            .contiguous()?; // [N, T, B]
        drop(attention);
        // AZO selection (host side: tiny tensors, discrete choice, no gradient).
        let azo = match (self.cfg.azo, train) {
            (Some(a), true) => {
                let _p = crate::profile::scope("azo");
                let wa = w_alpha.flatten_all()?.to_vec1::<f32>()?;
                let wb = w_beta.flatten_all()?.to_vec1::<f32>()?;
                Some(azo_select(&wa, &wb, n, t, b, c, t / a.rtr, c / a.rcr))
            }
            _ => None,
        };
        // Z = Σ_n (W_α W_β) M^n, AZO per scale before the sum.
        let mut out: Option<Tensor> = None;
        let fused = xf.device().is_cpu() && xf.dtype() == DType::F32;
        for (s, mn) in m.iter().enumerate() {
            let wa = w_alpha.get(s)?.reshape((t, b, 1))?;
            let wab = wa.broadcast_mul(&w_beta.get(s)?)?;
            if fused {
                // One fused node per scale (weighting, AZO copy and accumulation).
                let _p = crate::profile::scope("sma_combine");
                let src = match &azo {
                    Some(sel) => azo_source_rows(t, b, c, &sel.time[s], &sel.channels[s]),
                    None => (0..(t * b * c) as u32).collect(),
                };
                let op = CombineOp {
                    src: Arc::new(src),
                    step: b * c,
                };
                let wab = wab.reshape((t * b, c))?.contiguous()?;
                let mn = mn.contiguous()?;
                out = Some(match out {
                    None => mn.apply_op2(&wab, CombineFirst(op))?,
                    Some(o) => mn.apply_op3(&wab, &o, CombineAcc(op))?,
                });
                continue;
            }
            let wab = wab.reshape((t * b, c, 1, 1))?;
            let mut z = wab.broadcast_mul(mn)?;
            if let Some(sel) = &azo {
                let _p = crate::profile::scope("azo");
                z = azo_replace_folded(&z, t, &sel.time[s], &sel.channels[s])?;
            }
            out = Some(match out {
                None => z,
                Some(o) => (o + z)?,
            });
        }
        let output = out.ok_or_else(|| candle_core::Error::Msg("SMA without scales".into()))?;
        Ok(SmaTrace {
            output,
            m,
            w_alpha,
            w_beta,
            azo,
        })
    }
}
