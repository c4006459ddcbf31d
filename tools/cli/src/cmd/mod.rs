//! One module per subcommand. Each defines `Args` (clap) and `run`. The value parsers below are
//! shared so that every subcommand names things the same way and refuses unknown names with a
//! usage error (exit status 2, see docs/cli.md).

pub mod bench;
pub mod cache;
pub mod convert;
pub mod convert_weights;
pub mod demo;
pub mod eval;
pub mod events;
pub mod explain;
pub mod frames;
pub mod inspect;
pub mod synth;
pub mod train;

/// `--device`: `cpu`, `cuda` or `cuda:N` (whether CUDA is there is checked when it is used).
pub fn device_arg(s: &str) -> Result<String, String> {
    let s = s.trim();
    let ok = s == "cpu"
        || s == "cuda"
        || s.strip_prefix("cuda:")
            .is_some_and(|n| n.parse::<usize>().is_ok());
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown device {s:?}; expected cpu, cuda or cuda:N"
        ))
    }
}

/// `--preset`: one of the built-in presets.
pub fn preset_arg(s: &str) -> Result<String, String> {
    let names = snnkit_train::preset_names();
    if names.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown preset {s:?}; presets: {}",
            names.join(", ")
        ))
    }
}

/// `--ablation`: one of the paper's ablation names.
pub fn ablation_arg(s: &str) -> Result<String, String> {
    if snnkit_train::ABLATIONS.iter().any(|(n, _)| *n == s) {
        Ok(s.to_string())
    } else {
        let names: Vec<&str> = snnkit_train::ABLATIONS.iter().map(|(n, _)| *n).collect();
        Err(format!(
            "unknown ablation {s:?}; ablations: {}",
            names.join(", ")
        ))
    }
}

/// `--dataset`: one of the datasets `snnkit convert` knows.
pub fn dataset_arg(s: &str) -> Result<String, String> {
    if snnkit_datasets::NAMES.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown dataset {s:?}; datasets: {}",
            snnkit_datasets::NAMES.join(", ")
        ))
    }
}

/// The `--cache` path with `--setting` applied: the chosen setting folder (the rest of the
/// resolution, e.g. the dataset a run was trained on, happens in the library).
pub fn cache_with_setting(
    cache: &std::path::Path,
    setting: Option<&str>,
) -> anyhow::Result<std::path::PathBuf> {
    Ok(match setting {
        None => cache.to_path_buf(),
        Some(s) => snnkit_cache::locate(cache, None, Some(s))?.dir,
    })
}
