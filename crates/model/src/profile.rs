//! Opt-in wall-clock accounting per model part, for `snnkit bench step`'s breakdown.
//!
//! Disabled by default (one relaxed atomic load per scope). Forward time is recorded for every
//! part; backward time only for the fused CPU ops whose backward is our own code (LIF, BatchNorm,
//! max-pool), since candle's autograd runs the rest.
//! Parts: `lif`, `lif_bwd`, `sma_encoder_conv`, `sma_attention`, `sma_combine`, `azo`, `batchnorm`,
//! `batchnorm_bwd`, `conv` (the host blocks' convolutions), `pool`, `pool_bwd`. Parts do not
//! nest, so they add up; the rest of a step (head, composed ops, autograd) is the remainder.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

static ENABLED: AtomicBool = AtomicBool::new(false);
static TOTALS: Mutex<BTreeMap<&'static str, f64>> = Mutex::new(BTreeMap::new());

/// Turns recording on or off (process-wide).
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Clears the accumulated times.
pub fn reset() {
    if let Ok(mut t) = TOTALS.lock() {
        t.clear();
    }
}

/// Accumulated seconds per part since the last [`reset`].
pub fn snapshot() -> BTreeMap<&'static str, f64> {
    TOTALS.lock().map(|t| t.clone()).unwrap_or_default()
}

/// Records the time until it is dropped under `part` (when enabled).
pub struct Scope {
    part: &'static str,
    start: Option<Instant>,
}

/// Starts timing `part`.
pub fn scope(part: &'static str) -> Scope {
    let start = ENABLED.load(Ordering::Relaxed).then(Instant::now);
    Scope { part, start }
}

impl Drop for Scope {
    fn drop(&mut self) {
        if let Some(s) = self.start {
            if let Ok(mut t) = TOTALS.lock() {
                *t.entry(self.part).or_insert(0.0) += s.elapsed().as_secs_f64();
            }
        }
    }
}
