//! Named parameters and buffers under PyTorch `state_dict` names, with safetensors save/load.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use candle_core::{DType, Device, Shape, Tensor, Var};
use candle_nn::VarMap;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};

/// Trainable parameters (a [`VarMap`]) and non-trainable buffers (BatchNorm running statistics and
/// `num_batches_tracked`), all keyed by the reference's PyTorch `state_dict` names.
///
/// Layers keep clones of their [`Var`]s, so [`ParamStore::load_state_dict`] (which writes into the
/// existing storage) is seen by the model immediately.
pub struct ParamStore {
    params: VarMap,
    buffers: VarMap,
    device: Device,
    rng: Mutex<ChaCha8Rng>,
}

impl std::fmt::Debug for ParamStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamStore")
            .field("params", &self.named_parameters().len())
            .field("buffers", &self.named_buffers().len())
            .field("device", &self.device)
            .finish()
    }
}

fn insert(map: &VarMap, name: &str, var: Var) -> Result<Var> {
    let mut data = map
        .data()
        .lock()
        .map_err(|_| Error::Config("parameter map lock poisoned".into()))?;
    if data.contains_key(name) {
        return Err(Error::Config(format!("duplicate parameter name {name}")));
    }
    data.insert(name.to_string(), var.clone());
    Ok(var)
}

fn sorted(map: &VarMap) -> Vec<(String, Var)> {
    let data = match map.data().lock() {
        Ok(d) => d,
        Err(p) => p.into_inner(),
    };
    let mut v: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

impl ParamStore {
    /// Empty store on `device`; `seed` drives the PyTorch-default initialisation of new parameters.
    pub fn new(device: &Device, seed: u64) -> Self {
        Self {
            params: VarMap::new(),
            buffers: VarMap::new(),
            device: device.clone(),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// The device every tensor lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Trainable parameters as a candle-nn [`VarMap`] (names = PyTorch names).
    pub fn varmap(&self) -> &VarMap {
        &self.params
    }

    /// Buffers (running statistics) as a second [`VarMap`]; not to be optimised.
    pub fn buffer_map(&self) -> &VarMap {
        &self.buffers
    }

    /// New parameter drawn from `U(-bound, bound)` (PyTorch's default conv/linear init with
    /// `bound = 1/sqrt(fan_in)`), drawn from the store's seeded RNG on the host.
    pub fn param_uniform(&self, name: &str, shape: impl Into<Shape>, bound: f64) -> Result<Var> {
        // `random_range` panics on an empty or infinite range (fan-in 0 gives bound = inf).
        if !(bound > 0.0 && bound.is_finite()) {
            return Err(Error::Config(format!(
                "parameter {name}: init bound {bound} (zero fan-in?)"
            )));
        }
        let shape: Shape = shape.into();
        let n = shape.elem_count();
        let vals: Vec<f32> = {
            let mut rng = self
                .rng
                .lock()
                .map_err(|_| Error::Config("rng lock poisoned".into()))?;
            (0..n)
                .map(|_| rng.random_range(-bound..bound) as f32)
                .collect()
        };
        let t = Tensor::from_vec(vals, shape, &self.device)?;
        insert(&self.params, name, Var::from_tensor(&t)?)
    }

    /// New parameter filled with `value` (BatchNorm weight 1 / bias 0).
    pub fn param_const(&self, name: &str, shape: impl Into<Shape>, value: f64) -> Result<Var> {
        let t = Tensor::ones(shape, DType::F32, &self.device)?.affine(value, 0.0)?;
        insert(&self.params, name, Var::from_tensor(&t)?)
    }

    /// New buffer with initial value `t`.
    pub fn buffer(&self, name: &str, t: &Tensor) -> Result<Var> {
        insert(
            &self.buffers,
            name,
            Var::from_tensor(&t.to_device(&self.device)?)?,
        )
    }

    /// Trainable parameters sorted by name.
    pub fn named_parameters(&self) -> Vec<(String, Var)> {
        sorted(&self.params)
    }

    /// Buffers sorted by name.
    pub fn named_buffers(&self) -> Vec<(String, Tensor)> {
        sorted(&self.buffers)
            .into_iter()
            .map(|(k, v)| (k, v.as_tensor().clone()))
            .collect()
    }

    /// Number of trainable scalars.
    pub fn num_parameters(&self) -> usize {
        self.named_parameters()
            .iter()
            .map(|(_, v)| v.elem_count())
            .sum()
    }

    /// Parameters and buffers together (the PyTorch `state_dict`).
    pub fn state_dict(&self) -> BTreeMap<String, Tensor> {
        let mut m: BTreeMap<String, Tensor> = self
            .named_parameters()
            .into_iter()
            .map(|(k, v)| (k, v.as_tensor().clone()))
            .collect();
        m.extend(self.named_buffers());
        m
    }

    /// Copies every parameter and buffer from `map` (by name) into the store. Every name of the
    /// store must be present with the same shape; with `strict`, names in `map` that the store
    /// does not know are an error too (otherwise ignored). `label` names the source in errors.
    pub fn load_state_dict(
        &self,
        map: &HashMap<String, Tensor>,
        strict: bool,
        label: &Path,
    ) -> Result<()> {
        let err = |msg: String| Error::Weights {
            path: label.to_path_buf(),
            msg,
        };
        let all: Vec<(String, Var)> = sorted(&self.params)
            .into_iter()
            .chain(sorted(&self.buffers))
            .collect();
        // Check everything first so a failed load leaves the store untouched.
        for (name, var) in &all {
            let t = map
                .get(name)
                .ok_or_else(|| err(format!("missing tensor {name}")))?;
            if t.dims() != var.dims() {
                return Err(err(format!(
                    "tensor {name}: shape {:?} in file, model expects {:?}",
                    t.dims(),
                    var.dims()
                )));
            }
            if t.dtype() != var.dtype() {
                return Err(err(format!(
                    "tensor {name}: dtype {:?} in file, model expects {:?}",
                    t.dtype(),
                    var.dtype()
                )));
            }
        }
        if strict {
            let known: std::collections::HashSet<&str> =
                all.iter().map(|(k, _)| k.as_str()).collect();
            let mut extra: Vec<&String> =
                map.keys().filter(|k| !known.contains(k.as_str())).collect();
            extra.sort();
            if let Some(first) = extra.first() {
                return Err(err(format!(
                    "unexpected tensor {first} ({} unknown names)",
                    extra.len()
                )));
            }
        }
        for (name, var) in &all {
            if let Some(t) = map.get(name) {
                var.set(&t.to_device(&self.device)?)?;
            }
        }
        Ok(())
    }

    /// Writes all parameters and buffers to a safetensors file, atomically (temp file + rename).
    pub fn save_safetensors(&self, path: &Path) -> Result<()> {
        save_tensors_atomic(&self.state_dict(), path)
    }

    /// Loads parameters and buffers from a safetensors file by name (extra tensors in the file,
    /// such as optimizer state, are ignored; missing or mis-shaped ones are an error).
    pub fn load_safetensors(&self, path: &Path) -> Result<()> {
        let map =
            candle_core::safetensors::load(path, &self.device).map_err(|e| Error::Weights {
                path: path.to_path_buf(),
                msg: e.to_string(),
            })?;
        self.load_state_dict(&map, false, path)
    }
}

/// Writes named tensors to `path` as safetensors, atomically and durably
/// ([`snnkit_fsutil::write_atomic`]): a crash never leaves a half-written file under the final name.
/// Tensors are stored in name order, so the same tensors always give the same bytes.
pub fn save_tensors_atomic(tensors: &BTreeMap<String, Tensor>, path: &Path) -> Result<()> {
    let cpu: Vec<(&str, Tensor)> = tensors
        .iter()
        .map(|(k, v)| Ok((k.as_str(), v.to_device(&Device::Cpu)?.contiguous()?)))
        .collect::<candle_core::Result<_>>()?;
    let bytes = safetensors::serialize(cpu.iter().map(|(k, v)| (*k, v)), None).map_err(|e| {
        Error::Weights {
            path: path.to_path_buf(),
            msg: e.to_string(),
        }
    })?;
    snnkit_fsutil::write_atomic(path, &bytes).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}
