//! Training losses of the SMA-AZO recipes, on time-major network outputs `[T, B, K]`.
//!
//! - [`Loss::Mse`]: `F.mse_loss(out.mean(0), one_hot)` (DVS128 Gesture and CIFAR10-DVS scripts).
//! - [`Loss::Tet`]: the N-Caltech101 script's `TET_loss`: the mean over t of the cross-entropy of
//!   `out[t]` against one-hot probability targets (TET without its MSE regulariser).
//! - [`Loss::Ce`]: plain cross-entropy of the time-mean output.

use candle_core::{DType, Device, Tensor, D};
use serde::{Deserialize, Serialize};

/// Which loss to train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// Mean squared error between the time-mean output and the one-hot target (mean over B·K).
    Mse,
    /// Per-timestep cross-entropy averaged over T ("TET" with λ = 0).
    Tet,
    /// Cross-entropy of the time-mean output.
    Ce,
}

impl Loss {
    /// Computes the scalar loss of `out` (`[T, B, K]`, f32) against integer `labels` (`[B]`, u32).
    pub fn compute(self, out: &Tensor, labels: &Tensor) -> candle_core::Result<Tensor> {
        self.compute_smoothed(out, labels, 0.0)
    }

    /// [`Loss::compute`] against label-smoothed targets `(1 − ε)·one_hot + ε/K` (for CE this is
    /// `torch.nn.CrossEntropyLoss(label_smoothing = ε)`; `ε = 0` is the plain loss).
    pub fn compute_smoothed(
        self,
        out: &Tensor,
        labels: &Tensor,
        eps: f64,
    ) -> candle_core::Result<Tensor> {
        let (_t, _b, k) = out.dims3()?;
        let mut target = one_hot(labels, k, out.device())?;
        if eps != 0.0 {
            target = target.affine(1.0 - eps, eps / k as f64)?;
        }
        match self {
            Loss::Mse => mse_mean(out, &target),
            Loss::Tet => tet(out, &target),
            Loss::Ce => ce_probs(&out.mean(0)?, &target),
        }
    }
}

impl std::str::FromStr for Loss {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "mse" => Ok(Loss::Mse),
            "tet" => Ok(Loss::Tet),
            "ce" => Ok(Loss::Ce),
            _ => Err(format!("unknown loss {s:?} (mse, tet, ce)")),
        }
    }
}

/// One-hot f32 matrix `[B, K]` from `labels` (`[B]`, any integer dtype), built on `device`.
pub fn one_hot(labels: &Tensor, k: usize, device: &Device) -> candle_core::Result<Tensor> {
    let classes = Tensor::arange(0u32, k as u32, device)?;
    let labels = labels.to_dtype(DType::U32)?.to_device(device)?;
    labels
        .unsqueeze(1)?
        .broadcast_eq(&classes.unsqueeze(0)?)?
        .to_dtype(DType::F32)
}

/// `mean((mean_t out - target)^2)` over B·K.
pub fn mse_mean(out: &Tensor, target: &Tensor) -> candle_core::Result<Tensor> {
    out.mean(0)?.sub(target)?.sqr()?.mean_all()
}

/// Cross-entropy with probability targets, mean over the batch: `-(target · log_softmax(x)).sum(1).mean()`.
pub fn ce_probs(logits: &Tensor, target: &Tensor) -> candle_core::Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    target.mul(&logp)?.sum(D::Minus1)?.neg()?.mean_all()
}

/// `(1/T) Σ_t CE(out[t], target)`.
pub fn tet(out: &Tensor, target: &Tensor) -> candle_core::Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(out, D::Minus1)?;
    // [T, B]: per-sample CE at each step, then the batch mean per step, then the mean over steps.
    let per = logp
        .broadcast_mul(&target.unsqueeze(0)?)?
        .sum(D::Minus1)?
        .neg()?;
    per.mean(1)?.mean(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mse_is_zero_for_perfect_output() {
        let dev = Device::Cpu;
        let labels = Tensor::new(&[1u32, 0], &dev).unwrap();
        let target = one_hot(&labels, 3, &dev).unwrap();
        let out = target.unsqueeze(0).unwrap().repeat((4, 1, 1)).unwrap();
        let l = Loss::Mse.compute(&out, &labels).unwrap();
        assert_eq!(l.to_scalar::<f32>().unwrap(), 0.0);
    }

    #[test]
    fn label_smoothing_matches_torch() {
        // torch 2.0.1: F.cross_entropy(torch.tensor([[2., -1., 0.5], [0., 1., 3.]]),
        //     torch.tensor([0, 1]), label_smoothing=0.1) = 1.2639119625091553
        let dev = Device::Cpu;
        let out = Tensor::new(&[[[2f32, -1.0, 0.5], [0.0, 1.0, 3.0]]], &dev).unwrap();
        let labels = Tensor::new(&[0u32, 1], &dev).unwrap();
        let l = Loss::Ce
            .compute_smoothed(&out, &labels, 0.1)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!((l - 1.263_912).abs() < 1e-5, "{l}");
    }

    #[test]
    fn ce_of_uniform_logits_is_log_k() {
        let dev = Device::Cpu;
        let labels = Tensor::new(&[2u32, 0, 1], &dev).unwrap();
        let out = Tensor::zeros((5, 3, 4), DType::F32, &dev).unwrap();
        for loss in [Loss::Tet, Loss::Ce] {
            let l = loss
                .compute(&out, &labels)
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!((l - 4f32.ln()).abs() < 1e-6, "{loss:?}: {l}");
        }
    }
}
