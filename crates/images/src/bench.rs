//! Loader throughput: images per second through the whole pipeline (read, decode, crop, resize,
//! flip, normalise, batch tensor), as `snnkit bench images` reports it.

use crate::error::{Error, Result};
use crate::loader::ImageLoader;
use std::time::Instant;

/// What [`throughput`] measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Throughput {
    /// Images delivered in the timed part.
    pub images: usize,
    /// Seconds of the timed part.
    pub seconds: f64,
    /// `images / seconds`.
    pub images_per_s: f64,
    /// Batch size.
    pub batch_size: usize,
    /// Output side.
    pub size: usize,
    /// rayon threads that decoded.
    pub threads: usize,
}

/// Pulls batches from `loader` (epochs 1, 2, ... as needed) until `images` have been delivered
/// after `warmup` batches, and times that part.
pub fn throughput(loader: &ImageLoader, images: usize, warmup: usize) -> Result<Throughput> {
    if loader.batches_per_epoch() == 0 {
        return Err(Error::Usage(format!(
            "{} images make no batch of {}",
            loader.len(),
            loader.config().batch_size
        )));
    }
    let (mut seen, mut skipped) = (0usize, 0usize);
    let mut start = Instant::now();
    let mut epoch = 1;
    'outer: loop {
        for b in loader.epoch(epoch) {
            let b = b?;
            if skipped < warmup {
                skipped += 1;
                if skipped == warmup {
                    start = Instant::now();
                }
                continue;
            }
            seen += b.labels_vec.len();
            if seen >= images {
                break 'outer;
            }
        }
        epoch += 1;
    }
    let seconds = start.elapsed().as_secs_f64();
    Ok(Throughput {
        images: seen,
        seconds,
        images_per_s: seen as f64 / seconds.max(1e-9),
        batch_size: loader.config().batch_size,
        size: loader.config().size,
        threads: rayon::current_num_threads(),
    })
}
