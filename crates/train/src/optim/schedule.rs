//! `torch.optim.lr_scheduler.CosineAnnealingLR`, stepped once per epoch.

/// Cosine annealing with PyTorch's recursive update: each step derives the new rate from the
/// current one, so the f64 sequence matches torch's (and differs in the last bits from the closed
/// form). The state is `(last_epoch, lr)`; both go into checkpoints.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CosineAnnealingLr {
    /// The rate at epoch 0.
    pub base_lr: f64,
    /// Period (the recipes use the epoch count).
    pub t_max: usize,
    /// Floor of the schedule.
    pub eta_min: f64,
    /// Epochs stepped so far.
    pub last_epoch: usize,
    /// The current rate.
    pub lr: f64,
}

impl CosineAnnealingLr {
    /// A schedule at epoch 0 (rate `base_lr`).
    pub fn new(base_lr: f64, t_max: usize, eta_min: f64) -> Self {
        Self {
            base_lr,
            t_max: t_max.max(1),
            eta_min,
            last_epoch: 0,
            lr: base_lr,
        }
    }

    /// Advances one epoch and returns the new rate (torch 2.0.1 `get_lr`).
    pub fn step(&mut self) -> f64 {
        self.last_epoch += 1;
        let e = self.last_epoch as i64;
        let t = self.t_max as i64;
        let pi = std::f64::consts::PI;
        self.lr = if (e - 1 - t).rem_euclid(2 * t) == 0 {
            self.lr + (self.base_lr - self.eta_min) * (1.0 - (pi / t as f64).cos()) / 2.0
        } else {
            (1.0 + (pi * e as f64 / t as f64).cos())
                / (1.0 + (pi * (e - 1) as f64 / t as f64).cos())
                * (self.lr - self.eta_min)
                + self.eta_min
        };
        self.lr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ends_at_eta_min_and_halves_midway() {
        let mut s = CosineAnnealingLr::new(1e-3, 10, 0.0);
        let lrs: Vec<f64> = (0..10).map(|_| s.step()).collect();
        assert!((lrs[4] - 5e-4).abs() < 1e-15, "{lrs:?}");
        assert!(lrs[9].abs() < 1e-18);
    }
}
