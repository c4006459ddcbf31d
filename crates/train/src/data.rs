//! Finding a run's cache files and configuring the loaders from a [`TrainConfig`].

use crate::config::TrainConfig;
use crate::error::{Error, Result};
use candle_core::Device;
use snnkit_cache::{Augment, Downsample, Loader, LoaderConfig};
use std::path::{Path, PathBuf};

/// The cache file of `split` for this configuration. `cache` may be a split file, a setting
/// folder, a dataset folder or a cache root (see [`snnkit_cache::locate()`]); `dataset` and
/// `data.setting` choose among several.
pub fn locate_split(cache: &Path, cfg: &TrainConfig, split: &str) -> Result<PathBuf> {
    let layout = |e: snnkit_cache::LocateError| Error::CacheLayout {
        path: e.path,
        message: e.message,
    };
    snnkit_cache::locate(cache, Some(&cfg.dataset), Some(&cfg.data.setting))
        .and_then(|l| l.split(split))
        .map_err(layout)
}

/// Loader settings for training (`train = true`: shuffled, drop_last, augmentation) or testing.
pub fn loader_config(cfg: &TrainConfig, train: bool) -> LoaderConfig {
    let mut lc = if train {
        LoaderConfig::train(cfg.data.batch_size)
    } else {
        LoaderConfig::eval(cfg.data.eval_batch_size)
    };
    lc.seed = cfg.seed;
    lc.prefetch = cfg.data.prefetch.max(1);
    if train {
        lc.augment = Augment {
            hflip: cfg.data.hflip,
            max_shift: cfg.data.max_shift,
        };
    }
    if cfg.data.downsample > 1 {
        lc.downsample = Some(Downsample {
            factor: cfg.data.downsample,
            mode: cfg.data.pool,
        });
    }
    lc
}

/// Opens the loader of `split` (train settings when `train`).
pub fn open_loader(
    cache: &Path,
    cfg: &TrainConfig,
    split: &str,
    train: bool,
    device: &Device,
) -> Result<Loader> {
    let path = locate_split(cache, cfg, split)?;
    Ok(Loader::open(&path, loader_config(cfg, train), device)?)
}

/// Parses `cpu`, `cuda` or `cuda:N` into a candle device.
pub fn parse_device(s: &str) -> Result<Device> {
    let s = s.trim();
    if s == "cpu" {
        return Ok(Device::Cpu);
    }
    let idx = match s.strip_prefix("cuda") {
        Some("") => 0,
        Some(rest) => rest
            .strip_prefix(':')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| Error::Other(format!("bad device {s:?} (cpu, cuda or cuda:N)")))?,
        None => {
            return Err(Error::Other(format!(
                "bad device {s:?} (cpu, cuda or cuda:N)"
            )))
        }
    };
    Device::new_cuda(idx).map_err(|e| {
        Error::Other(format!(
            "device {s}: {e} (build with `--features cuda` for GPU support)"
        ))
    })
}

/// A short name for a device (`cpu`, `cuda:0`).
pub fn device_name(d: &Device) -> String {
    match d.location() {
        candle_core::DeviceLocation::Cpu => "cpu".into(),
        candle_core::DeviceLocation::Cuda { gpu_id } => format!("cuda:{gpu_id}"),
        candle_core::DeviceLocation::Metal { gpu_id } => format!("metal:{gpu_id}"),
    }
}
