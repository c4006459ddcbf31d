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

    /// The schedule after `last_epoch` epochs of a period `t_max`, from the closed form
    /// `eta_min + (base_lr - eta_min) (1 + cos(pi e / t_max)) / 2` (what the recursive update gives
    /// within the first period). Used when a resumed run changes its horizon.
    pub fn resumed(base_lr: f64, t_max: usize, eta_min: f64, last_epoch: usize) -> Self {
        let mut s = Self::new(base_lr, t_max, eta_min);
        let e = last_epoch as f64 / s.t_max as f64;
        s.last_epoch = last_epoch;
        s.lr = eta_min + (base_lr - eta_min) * (1.0 + (std::f64::consts::PI * e).cos()) / 2.0;
        s
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

    #[test]
    fn resumed_matches_stepping_and_extends_a_finished_schedule() {
        let mut s = CosineAnnealingLr::new(1e-2, 12, 1e-4);
        for _ in 0..5 {
            s.step();
        }
        let r = CosineAnnealingLr::resumed(1e-2, 12, 1e-4, 5);
        assert_eq!(r.last_epoch, 5);
        assert!((r.lr - s.lr).abs() < 1e-15, "{} vs {}", r.lr, s.lr);
        // A 3-epoch schedule that ended at 0, extended to 6 epochs: epoch 4 trains at half the rate.
        let mut e = CosineAnnealingLr::resumed(1e-2, 6, 0.0, 3);
        assert!((e.lr - 5e-3).abs() < 1e-15);
        assert!(e.step() > 0.0);
    }
}
