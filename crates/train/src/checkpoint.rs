//! Checkpoints: one safetensors file holding the model's `state_dict` (PyTorch names, so the
//! weights load into the authors' code), the optimizer state (`optimizer.<param>.*`), and in the
//! header metadata the epoch, the schedule, the RNG state, the best accuracy and the resolved
//! configuration. Written atomically (temporary file in the same folder, then rename).

use crate::error::{Error, Result};
use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};
use snnkit_model::ParamStore;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// Value of the `format` metadata key.
pub const CHECKPOINT_FORMAT: &str = "snnkit-checkpoint-1";

/// Everything in a checkpoint besides the tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointMeta {
    /// Epochs completed when this was written.
    pub epoch: usize,
    /// The resolved training configuration (TOML).
    pub config_toml: String,
    /// The network configuration (`snnkit_model::Vgg8Config` as JSON).
    pub model_json: String,
    /// Schedule state: epochs stepped.
    pub sched_last_epoch: usize,
    /// Schedule state: the current learning rate (f64, exact through JSON).
    pub sched_lr: f64,
    /// Dropout RNG seed (hex, 32 bytes).
    pub dropout_rng_seed: String,
    /// Dropout RNG word position (decimal; a u128).
    pub dropout_rng_word_pos: String,
    /// Best test accuracy so far.
    pub best_acc: f64,
    /// Epoch of the best test accuracy (1-based; 0 = none yet).
    pub best_epoch: usize,
    /// Class names of the training cache, in label order.
    pub class_names: Vec<String>,
}

/// A checkpoint read back: its metadata and all tensors (on the requested device).
#[derive(Debug)]
pub struct Checkpoint {
    /// The file it came from.
    pub path: PathBuf,
    /// Metadata.
    pub meta: CheckpointMeta,
    /// All tensors by name (model state and `optimizer.*`).
    pub tensors: HashMap<String, Tensor>,
}

impl Checkpoint {
    /// The model's tensors only (everything but `optimizer.*`).
    pub fn model_tensors(&self) -> HashMap<String, Tensor> {
        self.tensors
            .iter()
            .filter(|(k, _)| !k.starts_with("optimizer."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Writes `tensors` and `meta` to `path` atomically.
pub fn save(path: &Path, tensors: &BTreeMap<String, Tensor>, meta: &CheckpointMeta) -> Result<()> {
    write_atomic(path, &serialize(path, tensors, meta)?)
}

/// The bytes of the checkpoint file [`save`] writes (`path` only names the file in errors), for
/// writing the same checkpoint under several names without serialising it again.
pub fn serialize(
    path: &Path,
    tensors: &BTreeMap<String, Tensor>,
    meta: &CheckpointMeta,
) -> Result<Vec<u8>> {
    let cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(k, v)| Ok((k.clone(), v.to_device(&Device::Cpu)?.contiguous()?)))
        .collect::<candle_core::Result<_>>()?;
    let mut md = HashMap::new();
    md.insert("format".to_string(), CHECKPOINT_FORMAT.to_string());
    md.insert("snnkit".to_string(), serde_json::to_string(meta)?);
    let bytes = safetensors::serialize(cpu.iter().map(|(k, v)| (k.as_str(), v)), Some(md))
        .map_err(|e| Error::Checkpoint {
            path: path.into(),
            message: e.to_string(),
        })?;
    canonical_header(&bytes).ok_or_else(|| Error::Checkpoint {
        path: path.into(),
        message: "safetensors wrote a header this code does not understand".into(),
    })
}

/// The same safetensors file with its JSON header in a fixed order: `__metadata__` first with its keys
/// sorted, then the tensors in data order. safetensors keeps the metadata in a `HashMap`, whose order
/// differs between processes, so without this a resumed run's `last.safetensors` would differ from an
/// uninterrupted run's in the header although every tensor and value is the same. `None` if `bytes` is not
/// a safetensors file.
fn canonical_header(bytes: &[u8]) -> Option<Vec<u8>> {
    let n = usize::try_from(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?)).ok()?;
    let header = bytes.get(8..8usize.checked_add(n)?)?;
    let data = &bytes[8 + n..];
    let serde_json::Value::Object(mut entries) = serde_json::from_slice(header).ok()? else {
        return None;
    };
    let mut out = String::from("{");
    if let Some(serde_json::Value::Object(md)) = entries.remove("__metadata__") {
        let sorted: BTreeMap<String, serde_json::Value> = md.into_iter().collect();
        out.push_str("\"__metadata__\":");
        out.push_str(&serde_json::to_string(&sorted).ok()?);
    }
    let mut tensors: Vec<(String, serde_json::Value)> = entries.into_iter().collect();
    let start = |v: &serde_json::Value| v["data_offsets"][0].as_u64();
    tensors.sort_by_key(|(name, info)| (start(info), name.clone()));
    for (name, info) in tensors {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(&name).ok()?);
        out.push(':');
        out.push_str(&serde_json::to_string(&info).ok()?);
    }
    out.push('}');
    // safetensors pads the header with spaces so that the data starts 8-byte aligned.
    while out.len() % 8 != 0 {
        out.push(' ');
    }
    let mut file = Vec::with_capacity(8 + out.len() + data.len());
    file.extend_from_slice(&(out.len() as u64).to_le_bytes());
    file.extend_from_slice(out.as_bytes());
    file.extend_from_slice(data);
    Some(file)
}

/// Reads a checkpoint, placing its tensors on `device`.
pub fn load(path: &Path, device: &Device) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |message: String| Error::Checkpoint {
        path: path.into(),
        message,
    };
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let md = header.metadata().as_ref().ok_or_else(|| {
        bad("no snnkit metadata (a bare weights file? give it with --init-from)".into())
    })?;
    match md.get("format") {
        Some(f) if f == CHECKPOINT_FORMAT => {}
        Some(f) => return Err(bad(format!("unknown checkpoint format {f:?}"))),
        None => return Err(bad("no `format` key in the metadata".into())),
    }
    let meta: CheckpointMeta = serde_json::from_str(
        md.get("snnkit")
            .ok_or_else(|| bad("no `snnkit` key in the metadata".into()))?,
    )
    .map_err(|e| bad(format!("metadata: {e}")))?;
    let tensors =
        candle_core::safetensors::load_buffer(&bytes, device).map_err(|e| bad(e.to_string()))?;
    Ok(Checkpoint {
        path: path.into(),
        meta,
        tensors,
    })
}

/// Names of a weights file that do not fit a network, by kind.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WeightsMismatch {
    /// Tensors the network needs that the file lacks.
    pub missing: Vec<String>,
    /// Tensors in the file the network does not have.
    pub unexpected: Vec<String>,
    /// `(name, in file, in network)` shapes (and dtypes) that differ.
    pub wrong_shape: Vec<(String, String, String)>,
}

impl WeightsMismatch {
    /// Compares `file` (name → tensor) with the network's `state_dict`.
    pub fn between(
        file: &HashMap<String, Tensor>,
        model: &BTreeMap<String, Tensor>,
    ) -> WeightsMismatch {
        let mut m = WeightsMismatch::default();
        for (name, want) in model {
            match file.get(name) {
                None => m.missing.push(name.clone()),
                Some(got) if got.dims() != want.dims() || got.dtype() != want.dtype() => {
                    m.wrong_shape.push((
                        name.clone(),
                        format!("{:?} {:?}", got.dims(), got.dtype()),
                        format!("{:?} {:?}", want.dims(), want.dtype()),
                    ))
                }
                Some(_) => {}
            }
        }
        m.unexpected = file
            .keys()
            .filter(|k| !model.contains_key(*k))
            .cloned()
            .collect();
        m.unexpected.sort();
        m
    }

    /// No differences.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.wrong_shape.is_empty()
    }
}

impl std::fmt::Display for WeightsMismatch {
    /// One line: each kind with its count and up to four names.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn list(names: &[String]) -> String {
            let mut s = names.iter().take(4).cloned().collect::<Vec<_>>().join(", ");
            if names.len() > 4 {
                s.push_str(&format!(", ... ({} more)", names.len() - 4));
            }
            s
        }
        let mut parts = Vec::new();
        if !self.missing.is_empty() {
            parts.push(format!(
                "{} missing ({})",
                self.missing.len(),
                list(&self.missing)
            ));
        }
        if !self.unexpected.is_empty() {
            parts.push(format!(
                "{} unexpected ({})",
                self.unexpected.len(),
                list(&self.unexpected)
            ));
        }
        if !self.wrong_shape.is_empty() {
            let shapes: Vec<String> = self
                .wrong_shape
                .iter()
                .map(|(n, got, want)| format!("{n}: file {got}, network {want}"))
                .collect();
            parts.push(format!(
                "{} of the wrong shape ({})",
                shapes.len(),
                list(&shapes)
            ));
        }
        write!(f, "{}", parts.join("; "))
    }
}

/// Loads a weights file (a safetensors `state_dict` such as `snnkit convert-weights` writes, or
/// the model part of a snnkit checkpoint) into a network's `store` as its starting point. Every name must
/// match the network's with the same shape; otherwise one error lists the missing, unexpected and
/// mis-shaped names, and the model is left untouched.
pub fn load_weights(store: &ParamStore, path: &Path) -> Result<()> {
    let device = store.device().clone();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let tensors =
        candle_core::safetensors::load_buffer(&bytes, &device).map_err(|e| Error::Checkpoint {
            path: path.into(),
            message: format!("not a safetensors weights file: {e}"),
        })?;
    let file: HashMap<String, Tensor> = tensors
        .into_iter()
        .filter(|(k, _)| !k.starts_with("optimizer."))
        .collect();
    let diff = WeightsMismatch::between(&file, &store.state_dict());
    if !diff.is_empty() {
        return Err(Error::WeightsMismatch {
            path: path.into(),
            message: diff.to_string(),
        });
    }
    store.load_state_dict(&file, true, path)?;
    Ok(())
}

/// Writes `bytes` to `path` atomically and durably ([`snnkit_fsutil::write_atomic`]): a crash
/// leaves either the old file or the new one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    snnkit_fsutil::write_atomic(path, bytes).map_err(|e| Error::io(path, e))
}

/// Hex encoding of a byte string (RNG seeds in metadata).
pub(crate) fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Inverse of [`to_hex`] for a 32-byte seed.
pub(crate) fn from_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_keeps_tensors_and_meta() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.safetensors");
        let mut t = BTreeMap::new();
        t.insert(
            "w".to_string(),
            Tensor::new(&[1f32, 2.0], &Device::Cpu).unwrap(),
        );
        t.insert(
            "optimizer.w.step".to_string(),
            Tensor::new(3i64, &Device::Cpu).unwrap(),
        );
        let meta = CheckpointMeta {
            epoch: 2,
            config_toml: "epochs = 3\n".into(),
            model_json: "{}".into(),
            sched_last_epoch: 2,
            sched_lr: 0.1 + 0.2,
            dropout_rng_seed: to_hex(&[7u8; 32]),
            dropout_rng_word_pos: u128::MAX.to_string(),
            best_acc: 0.5,
            best_epoch: 1,
            class_names: vec!["a".into()],
        };
        save(&p, &t, &meta).unwrap();
        let c = load(&p, &Device::Cpu).unwrap();
        assert_eq!(c.meta, meta);
        assert_eq!(c.tensors["w"].to_vec1::<f32>().unwrap(), vec![1.0, 2.0]);
        assert_eq!(c.model_tensors().len(), 1);
        assert_eq!(from_hex32(&meta.dropout_rng_seed), Some([7u8; 32]));
        // A truncated file is an error naming the file, not a panic.
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        let e = load(&p, &Device::Cpu).unwrap_err().to_string();
        assert!(e.contains("c.safetensors"), "{e}");
    }
}
