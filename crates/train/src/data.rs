//! Finding a run's cache files and configuring the loaders from a [`TrainConfig`].

use crate::config::TrainConfig;
use crate::error::{Error, Result};
use candle_core::Device;
use snnkit_cache::{Augment, Downsample, Loader, LoaderConfig};
use std::path::{Path, PathBuf};

/// The cache file of `split` for this configuration. `cache` may be the folder holding
/// `<split>.h5` itself, or a cache root laid out as `CACHE_DIR/<dataset>/<setting>/<split>.h5`
/// (with `data.setting` empty, the dataset folder must hold exactly one setting).
pub fn locate_split(cache: &Path, cfg: &TrainConfig, split: &str) -> Result<PathBuf> {
    let file = format!("{split}.h5");
    let direct = cache.join(&file);
    if direct.is_file() {
        return Ok(direct);
    }
    let layout = |message: String| Error::CacheLayout {
        path: cache.to_path_buf(),
        message,
    };
    if cfg.dataset.is_empty() {
        return Err(layout(format!(
            "no {file} here, and the config names no dataset"
        )));
    }
    let ds = cache.join(&cfg.dataset);
    if !cfg.data.setting.is_empty() {
        let p = ds.join(&cfg.data.setting).join(&file);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(layout(format!(
                "no {} (data.setting = {:?})",
                p.display(),
                cfg.data.setting
            )))
        };
    }
    let mut found: Vec<PathBuf> = match std::fs::read_dir(&ds) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.path().join(&file))
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    found.sort();
    match found.len() {
        0 => Err(layout(format!(
            "no {file} and no {}/<setting>/{file} (run `snnkit convert` first)",
            cfg.dataset
        ))),
        1 => Ok(found.remove(0)),
        _ => Err(layout(format!(
            "several settings hold {file} ({}); choose one with data.setting",
            found
                .iter()
                .filter_map(|p| p
                    .parent()?
                    .file_name()
                    .map(|s| s.to_string_lossy().into_owned()))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
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
