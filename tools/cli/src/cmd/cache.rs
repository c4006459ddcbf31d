//! `snnkit cache info`: what a cache file holds.

use std::path::{Path, PathBuf};

use anyhow::Result;
use snnkit_cache::{CacheReader, FingerprintStatus};

use crate::cmd::convert::{human_bytes, print_stdout, say};

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Subcommand)]
enum Cmd {
    /// Shapes, count type, class counts, settings, size on disk and whether the raw files changed.
    Info(InfoArgs),
}

/// `snnkit cache info` arguments.
#[derive(clap::Args)]
struct InfoArgs {
    /// A cache file (`CACHE_DIR/<dataset>/<setting>/<split>.h5`), or a setting folder, a dataset
    /// folder or a cache root (every split of the setting is shown). Named FILE as in the CLI
    /// contract (`cache info CACHE_FILE`).
    #[arg(value_name = "FILE")]
    path: PathBuf,
    /// The setting folder to show when the dataset folder holds several (e.g. frames16_number).
    #[arg(long)]
    setting: Option<String>,
    /// The dataset to show when the cache root holds several.
    #[arg(long)]
    dataset: Option<String>,
    /// Print JSON on stdout: an object for a cache file, a list of them for a folder.
    #[arg(long)]
    json: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    match args.cmd {
        Cmd::Info(a) => info(a),
    }
}

fn info(args: InfoArgs) -> Result<()> {
    let loc = snnkit_cache::locate(&args.path, args.dataset.as_deref(), args.setting.as_deref())?;
    let files = match &loc.file {
        Some(f) => vec![f.clone()],
        None => loc.splits(),
    };
    let mut json = Vec::new();
    let mut text = Vec::new();
    for f in &files {
        let (j, t) = describe(f)?;
        json.push(j);
        text.push(t);
    }
    if args.json {
        let value = match (&loc.file, json.len()) {
            (Some(_), 1) => json.remove(0),
            _ => serde_json::Value::Array(json),
        };
        print_stdout(&serde_json::to_string_pretty(&value)?)
    } else {
        print_stdout(&text.join("\n\n"))
    }
}

/// The JSON object and the text block describing one cache file.
fn describe(file: &Path) -> Result<(serde_json::Value, String)> {
    // The fingerprint is reported below, so open without the warning.
    let reader = CacheReader::open_unchecked(file)?;
    let info = reader.info();
    let fingerprint = reader.fingerprint_status();
    let counts = reader.class_counts();
    let file_bytes = reader.file_size();
    let n = info.samples;
    let shape = [n, info.frames, 2, info.height, info.width];
    let raw_bytes = (n * info.sample_len() * info.dtype.size()) as u64;
    let json;
    let per_sample = if n > 0 {
        file_bytes as f64 / n as f64
    } else {
        0.0
    };
    {
        let classes: Vec<_> = info
            .class_names
            .iter()
            .zip(&counts)
            .enumerate()
            .map(|(i, (name, count))| serde_json::json!({"label": i, "name": name, "samples": count}))
            .collect();
        let value = serde_json::json!({
            "path": info.path,
            "format_version": info.format_version,
            "snnkit_version": info.snnkit_version,
            "decoder_version": info.decoder_version,
            "binning_version": info.binning_version,
            "stale": reader.check_versions().err().map(|e| e.to_string()),
            "dataset": info.dataset,
            "split": info.split,
            "setting": info.setting_name,
            "frame_setting": info.setting,
            "shape": shape,
            "dtype": info.dtype.name(),
            "compression": info.compression,
            "samples": n,
            "frames": info.frames,
            "height": info.height,
            "width": info.width,
            "classes": classes,
            "file_bytes": file_bytes,
            "frames_stored_bytes": reader.frames_storage_bytes(),
            "frames_raw_bytes": raw_bytes,
            "bytes_per_sample": per_sample,
            "created": info.created,
            "source_root": info.source_root,
            "source_fingerprint": info.source_fingerprint,
            "fingerprint": fingerprint,
            "skipped_files": info.skipped_files,
            "lengths": reader.lengths().map(|l| serde_json::json!({
                "min": l.iter().min(), "max": l.iter().max()
            })),
        });
        json = value;
    }
    let mut out = String::new();
    say!(out, "{}", info.path.display());
    say!(
        out,
        "  dataset      {} / {} ({})",
        info.dataset,
        info.split,
        info.setting_name
    );
    say!(
        out,
        "  frames       {shape:?} {} ({}), format v{}",
        info.dtype.name(),
        info.compression,
        info.format_version
    );
    if let Some(l) = reader.lengths() {
        let (lo, hi) = (
            l.iter().min().copied().unwrap_or(0),
            l.iter().max().copied().unwrap_or(0),
        );
        say!(
            out,
            "  lengths      {lo}..={hi} frames per sample (zero-padded to {})",
            info.frames
        );
    }
    say!(
        out,
        "  size         {} on disk, {:.0} B/sample ({:.1}x smaller than raw {} counts)",
        human_bytes(file_bytes),
        per_sample,
        raw_bytes as f64 / file_bytes.max(1) as f64,
        info.dtype.name()
    );
    say!(out, "  classes      {}", info.class_names.len());
    for (i, (name, count)) in info.class_names.iter().zip(&counts).enumerate() {
        say!(out, "    {i:3} {name:24} {count}");
    }
    say!(
        out,
        "  created      {} by snnkit {}",
        info.created,
        info.snnkit_version
    );
    let version = |v: Option<u64>| v.map_or_else(|| "unrecorded".to_string(), |v| v.to_string());
    say!(
        out,
        "  versions     decoder {}, binning {}{}",
        version(info.decoder_version),
        version(info.binning_version),
        match reader.check_versions() {
            Ok(()) => String::new(),
            Err(_) => format!(
                " (this snnkit: decoder {}, binning {}; STALE: re-run snnkit convert)",
                snnkit_cache::DECODER_VERSION,
                snnkit_cache::BINNING_VERSION
            ),
        }
    );
    if let Some(root) = &info.source_root {
        say!(out, "  source root  {root}");
    }
    let status = match &fingerprint {
        FingerprintStatus::Match => "matches the raw files".to_string(),
        FingerprintStatus::Mismatch { current, .. } => {
            format!("MISMATCH: raw files changed since conversion (now {current}); re-run snnkit convert")
        }
        FingerprintStatus::Unavailable { reason } => format!("not checked ({reason})"),
    };
    say!(out, "  fingerprint  {} {status}", info.source_fingerprint);
    if !info.skipped_files.is_empty() {
        say!(out, "  skipped      {}", info.skipped_files.join(", "));
    }
    Ok((json, out.trim_end().to_string()))
}
