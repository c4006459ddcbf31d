//! Training configuration: TOML presets embedded in the crate, overridable field by field.
//!
//! A run's configuration is built in layers: a preset (`presets/*.toml`, embedded with
//! `include_str!`), then a user TOML file whose tables are merged key by key over it, then any
//! command-line overrides. The resolved configuration is what the run folder's `config.toml`
//! holds, and what a checkpoint carries.

use crate::error::{Error, Result};
use crate::loss::Loss;
use crate::optim::OptimizerConfig;
use serde::{Deserialize, Serialize};
use snnkit_cache::Pool;
use snnkit_images::{ImageLoaderConfig, TrainCrop, IMAGENET_MEAN, IMAGENET_STD};
pub use snnkit_model::ABLATIONS;
use snnkit_model::{InitOptions, MsResNetArch, MsResNetConfig, NetworkConfig, Vgg8Config};
use std::path::Path;

/// Built-in presets: name and TOML text.
pub const PRESETS: [(&str, &str); 9] = [
    (
        "dvs128-gesture",
        include_str!("../presets/dvs128-gesture.toml"),
    ),
    ("cifar10-dvs", include_str!("../presets/cifar10-dvs.toml")),
    ("n-caltech101", include_str!("../presets/n-caltech101.toml")),
    ("synthetic", include_str!("../presets/synthetic.toml")),
    (
        "ms-resnet18-imagenet",
        include_str!("../presets/ms-resnet18-imagenet.toml"),
    ),
    (
        "ms-resnet34-imagenet",
        include_str!("../presets/ms-resnet34-imagenet.toml"),
    ),
    (
        "ms-resnet104-imagenet",
        include_str!("../presets/ms-resnet104-imagenet.toml"),
    ),
    (
        "ms-resnet104-azo-finetune",
        include_str!("../presets/ms-resnet104-azo-finetune.toml"),
    ),
    (
        "ms-resnet18-synthetic",
        include_str!("../presets/ms-resnet18-synthetic.toml"),
    ),
];

/// Everything that defines a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Preset or experiment name (informative).
    pub name: String,
    /// Dataset name; selects `CACHE_DIR/<dataset>/<setting>/` when the cache folder holds several.
    pub dataset: String,
    /// Seed of the initialisation, the shuffle, augmentation and dropout.
    pub seed: u64,
    /// Number of epochs.
    pub epochs: usize,
    /// Loss function.
    pub loss: Loss,
    /// Clip the global gradient L2 norm to this value (`0` = no clipping).
    pub clip_grad: f64,
    /// Optimizer and its hyperparameters.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule.
    pub schedule: ScheduleConfig,
    /// Data loading.
    pub data: DataConfig,
    /// Network: SMA-VGG8 or SMA-MS-ResNet (`arch`).
    pub model: ModelConfig,
    /// Label smoothing ε of the cross-entropy losses (`ce`, `tet`): the target is
    /// `(1 − ε)·one_hot + ε/K`, as `torch.nn.CrossEntropyLoss(label_smoothing = ε)`. `0` = off.
    pub label_smoothing: f64,
    /// `[images]`: read a static-image dataset (ImageFolder or CIFAR-10, `snnkit train --data`)
    /// instead of a frame cache, for an MS-ResNet `[model] arch` with `time_steps` set (direct
    /// encoding repeats each image T times). Absent = frame cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<ImagesConfig>,
}

/// `[images]` table: the static-image transforms (the loader's batch size, seed and prefetch
/// come from `[data]` and `seed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImagesConfig {
    /// Training crop side: batches are `[B, 3, size, size]`.
    pub size: usize,
    /// Evaluation centre-crop side (`0` = `size`); 288 for the paper's starred ResNet-104 rows.
    pub eval_size: usize,
    /// Evaluation `Resize` of the shorter side before the centre crop (`0` = crop only).
    pub eval_resize: usize,
    /// Training crop: `{ kind = "random_resized", scale, ratio }` or `{ kind = "padded", padding }`.
    pub crop: TrainCrop,
    /// Random horizontal flip (p = 0.5) in training.
    pub hflip: bool,
    /// Per-channel mean.
    pub mean: [f32; 3],
    /// Per-channel standard deviation.
    pub std: [f32; 3],
}

impl Default for ImagesConfig {
    fn default() -> Self {
        Self {
            size: 224,
            eval_size: 0,
            eval_resize: 256,
            crop: TrainCrop::IMAGENET,
            hflip: true,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        }
    }
}

impl ImagesConfig {
    /// Loader settings for training (`train`: shuffled, drop_last, augmentation) or evaluation.
    pub fn loader_config(&self, cfg: &TrainConfig, train: bool) -> ImageLoaderConfig {
        let base = if train {
            ImageLoaderConfig::train(cfg.data.batch_size)
        } else {
            ImageLoaderConfig::eval(cfg.data.eval_batch_size)
        };
        ImageLoaderConfig {
            seed: cfg.seed,
            size: if train || self.eval_size == 0 {
                self.size
            } else {
                self.eval_size
            },
            crop: self.crop,
            hflip: self.hflip,
            eval_resize: self.eval_resize,
            mean: self.mean,
            std: self.std,
            prefetch: cfg.data.prefetch.max(1),
            ..base
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            name: String::new(),
            dataset: String::new(),
            seed: 0,
            epochs: 1,
            loss: Loss::Mse,
            clip_grad: 0.0,
            optimizer: OptimizerConfig::default(),
            schedule: ScheduleConfig::default(),
            data: DataConfig::default(),
            model: ModelConfig::default(),
            label_smoothing: 0.0,
            images: None,
        }
    }
}

/// The learning-rate schedule, stepped once per epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScheduleKind {
    /// `CosineAnnealingLR` (the recipes).
    Cosine,
    /// Constant rate.
    Constant,
}

/// `[schedule]` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    /// Which schedule.
    #[serde(rename = "name")]
    pub kind: ScheduleKind,
    /// Cosine period in epochs (`0` = the epoch count, as the recipes' `--decay`).
    pub t_max: usize,
    /// Cosine floor.
    pub eta_min: f64,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        Self {
            kind: ScheduleKind::Cosine,
            t_max: 0,
            eta_min: 0.0,
        }
    }
}

/// `[data]` table: which cache files and how the loader reads them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// Cache setting folder (`frames16_number`, ...); empty = the only one present.
    pub setting: String,
    /// Training split file stem.
    pub train_split: String,
    /// Test split file stem (evaluated after every epoch).
    pub test_split: String,
    /// Training batch size.
    pub batch_size: usize,
    /// Evaluation batch size.
    pub eval_batch_size: usize,
    /// Random horizontal flip (p = 0.5).
    pub hflip: bool,
    /// Random integer translation in `[-max_shift, max_shift]` pixels.
    pub max_shift: usize,
    /// Spatial pooling factor applied by the loader (`1` = none).
    pub downsample: usize,
    /// Pooling mode when `downsample > 1`.
    pub pool: Pool,
    /// Batches prepared ahead by the loader.
    pub prefetch: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            setting: String::new(),
            train_split: "train".into(),
            test_split: "test".into(),
            batch_size: 16,
            eval_batch_size: 32,
            hflip: false,
            max_shift: 0,
            downsample: 1,
            pool: Pool::Sum,
            prefetch: 2,
        }
    }
}

/// `[model]` table: which network, what it must agree with in the data, and the network's own
/// configuration — the model crate's types nested as `[model.vgg8]` ([`Vgg8Config`]),
/// `[model.resnet]` ([`MsResNetConfig`]) and `[model.init]` ([`InitOptions`]). Their
/// data-bound fields (T, classes, input channels and size, seeds; the ResNet's `arch`) come from
/// the cache, `seed` and `arch` and may not be written in these tables.
///
/// ```toml
/// [model]
/// arch = "sma-vgg8"
/// time_steps = 16            # 0 = the cache's T
/// [model.vgg8]
/// widths = [64, 128, 256, 512, 512]
/// azo = { rcr = 10, rtr = 4 } # or false
/// [model.init]
/// bn_bias_init = 0.5
/// ```
///
/// The flat `[model]` keys of earlier versions (`widths`, `rcr`, `bn_bias_init`, ...) are still
/// read (see [`upgrade_legacy_model`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Architecture: `sma-vgg8` (default; `vgg8` also reads) or `ms-resnet18` / `ms-resnet34` /
    /// `ms-resnet104`.
    pub arch: String,
    /// Expected T (`0` = take it from the cache; otherwise it must match). Images (`[images]`)
    /// need it: each image is repeated T times.
    pub time_steps: usize,
    /// Expected number of classes (`0` = from the cache).
    pub num_classes: usize,
    /// `[model.init]`: adjustments to PyTorch's initialisation of a fresh network.
    pub init: InitOptions,
    /// `[model.vgg8]`: SMA-VGG8's configuration (used when `arch` is `sma-vgg8`).
    pub vgg8: Vgg8Config,
    /// `[model.resnet]`: SMA-MS-ResNet's configuration (used when `arch` is an MS-ResNet).
    pub resnet: MsResNetConfig,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            arch: "sma-vgg8".into(),
            time_steps: 0,
            num_classes: 0,
            init: InitOptions::default(),
            vgg8: Vgg8Config::default(),
            resnet: MsResNetConfig::default(),
        }
    }
}

impl ModelConfig {
    /// Whether `arch` names SMA-VGG8 (otherwise an MS-ResNet).
    pub fn is_vgg8(&self) -> bool {
        self.arch == "sma-vgg8" || self.arch == "vgg8"
    }

    /// Resets the table of the network `arch` does not name to its defaults: it is ignored, and
    /// a written configuration leaves it out, so a configuration equals itself read back.
    pub fn reset_unused(&mut self) {
        if self.is_vgg8() {
            self.resnet = MsResNetConfig::default();
        } else {
            self.vgg8 = Vgg8Config::default();
        }
    }

    /// The network `arch` names, for data of `time_steps` frames of `channels × height ×
    /// width`, `num_classes` classes. Fails when the config pins T or the class count to other
    /// values.
    pub fn to_network(
        &self,
        time_steps: usize,
        num_classes: usize,
        [channels, height, width]: [usize; 3],
        seed: u64,
    ) -> Result<NetworkConfig> {
        if self.is_vgg8() {
            return Ok(NetworkConfig::Vgg8(Vgg8Config {
                in_channels: channels,
                ..self.to_vgg8(time_steps, num_classes, height, width, seed)?
            }));
        }
        self.check_pins(time_steps, num_classes)?;
        let arch = MsResNetArch::parse(&self.arch).map_err(|e| Error::Config {
            origin: "[model] arch".into(),
            message: e.to_string(),
        })?;
        Ok(NetworkConfig::MsResNet(MsResNetConfig {
            arch,
            time_steps,
            num_classes,
            in_channels: channels,
            height,
            width,
            init_seed: seed,
            dropout_seed: dropout_seed(seed),
            ..self.resnet.clone()
        }))
    }

    /// SMA-VGG8 for data of `time_steps` frames of `height × width` (2 channels), `num_classes`
    /// classes. Fails when the config pins T or the class count to other values.
    pub fn to_vgg8(
        &self,
        time_steps: usize,
        num_classes: usize,
        height: usize,
        width: usize,
        seed: u64,
    ) -> Result<Vgg8Config> {
        self.check_pins(time_steps, num_classes)?;
        if self.vgg8.azo.is_some() && !self.vgg8.sma {
            return Err(Error::Config {
                origin: "[model.vgg8]".into(),
                message: "azo needs sma = true (write azo = false for VGG8 without SMA)".into(),
            });
        }
        Ok(Vgg8Config {
            time_steps,
            num_classes,
            height,
            width,
            in_channels: Vgg8Config::default().in_channels,
            init_seed: seed,
            dropout_seed: dropout_seed(seed),
            ..self.vgg8.clone()
        })
    }

    fn check_pins(&self, time_steps: usize, num_classes: usize) -> Result<()> {
        let err = |message: String| Error::Config {
            origin: "[model]".into(),
            message,
        };
        if self.time_steps != 0 && self.time_steps != time_steps {
            return Err(err(format!(
                "time_steps = {} but the cache has T = {time_steps}",
                self.time_steps
            )));
        }
        if self.num_classes != 0 && self.num_classes != num_classes {
            return Err(err(format!(
                "num_classes = {} but the cache has {num_classes} classes",
                self.num_classes
            )));
        }
        Ok(())
    }

    /// Sets the SMA placement, position or scale count of ablation `name` (see [`ABLATIONS`],
    /// [`Vgg8Config::apply_ablation`]); the other settings keep their values. The ablations
    /// are SMA-VGG8's.
    pub fn apply_ablation(&mut self, name: &str) -> Result<()> {
        let err = |message: String| Error::Config {
            origin: "--ablation".into(),
            message,
        };
        if !self.is_vgg8() {
            return Err(err(format!(
                "the ablations are SMA-VGG8's; [model] arch is {}",
                self.arch
            )));
        }
        self.vgg8.apply_ablation(name).map_err(|e| match e {
            snnkit_model::Error::Config(m) => err(m),
            other => err(other.to_string()),
        })
    }
}

/// The dropout masks' seed: a separate stream so changing the head does not shift the
/// initialisation.
fn dropout_seed(seed: u64) -> u64 {
    seed.wrapping_add(0x9e37_79b9)
}

/// Rewrites the flat `[model]` keys of earlier versions (what older presets, user files, run
/// folders and checkpoints hold) into the nested tables, in place: `widths`, `head`,
/// `pool_size`, `dropout`, `sma_blocks`, `sma_position`, `t_reduction`, `sma_activation` go to
/// `[model.vgg8]`; `width_mult` and `resnet_t_reduction` (as `t_reduction`) to `[model.resnet]`;
/// `sma`, `sma_kernels`, `c_reduction` and `azo` / `rcr` / `rtr` (as `azo = false` or
/// `{ rcr, rtr }`) to both, as they applied to whichever network `arch` chose; `bn_bias_init`
/// and `head_gain` to `[model.init]`. When the table names its `arch` (a whole configuration, as
/// run folders and checkpoints hold), only that network's table receives keys, the other
/// network's keys are dropped as they were ignored before; a partial file without `arch` (merged
/// over a preset) fills both. A key given in both spellings is an error naming it.
pub fn upgrade_legacy_model(config: &mut toml::Value, origin: &str) -> Result<()> {
    const VGG: [&str; 8] = [
        "widths",
        "head",
        "pool_size",
        "dropout",
        "sma_blocks",
        "sma_position",
        "t_reduction",
        "sma_activation",
    ];
    const BOTH: [&str; 3] = ["sma", "sma_kernels", "c_reduction"];
    const INIT: [&str; 2] = ["bn_bias_init", "head_gain"];
    let Some(model) = config
        .as_table_mut()
        .and_then(|t| t.get_mut("model"))
        .and_then(|m| m.as_table_mut())
    else {
        return Ok(());
    };
    // Which tables take keys: the named network's, or both when the file does not say.
    let (to_vgg8, to_resnet) = match model.get("arch").and_then(|a| a.as_str()) {
        Some("sma-vgg8" | "vgg8") => (true, false),
        Some(_) => (false, true),
        None => (true, true),
    };
    let mut moves: Vec<(&str, String, toml::Value)> = Vec::new();
    for k in VGG {
        if let Some(v) = model.remove(k) {
            moves.push(("vgg8", k.into(), v));
        }
    }
    for k in BOTH {
        if let Some(v) = model.remove(k) {
            moves.push(("vgg8", k.into(), v.clone()));
            moves.push(("resnet", k.into(), v));
        }
    }
    for k in INIT {
        if let Some(v) = model.remove(k) {
            moves.push(("init", k.into(), v));
        }
    }
    if let Some(v) = model.remove("width_mult") {
        moves.push(("resnet", "width_mult".into(), v));
    }
    if let Some(v) = model.remove("resnet_t_reduction") {
        moves.push(("resnet", "t_reduction".into(), v));
    }
    // `azo` was a flag with the ratios beside it; now it is `false` or the ratios.
    let (flag, rcr, rtr) = (
        model.remove("azo"),
        model.remove("rcr"),
        model.remove("rtr"),
    );
    let ratios_or_flag = flag.is_some() || rcr.is_some() || rtr.is_some();
    let azo = match flag {
        Some(toml::Value::Boolean(false)) => Some(toml::Value::Boolean(false)),
        Some(toml::Value::Table(t)) => {
            // Already the new form at the old place: leave it for serde to refuse, naming it.
            model.insert("azo".into(), toml::Value::Table(t));
            None
        }
        Some(toml::Value::Boolean(true)) | None if ratios_or_flag => {
            let mut t = toml::Table::new();
            if let Some(v) = rcr {
                t.insert("rcr".into(), v);
            }
            if let Some(v) = rtr {
                t.insert("rtr".into(), v);
            }
            Some(toml::Value::Table(t))
        }
        Some(other) => {
            return Err(Error::Config {
                origin: origin.into(),
                message: format!("[model] azo must be true or false, not {other}"),
            })
        }
        None => None,
    };
    if let Some(v) = azo {
        moves.push(("vgg8", "azo".into(), v.clone()));
        moves.push(("resnet", "azo".into(), v));
    }
    moves.retain(|(table, _, _)| match *table {
        "vgg8" => to_vgg8,
        "resnet" => to_resnet,
        _ => true,
    });
    for (table, key, value) in moves {
        let slot = model
            .entry(table)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(slot) = slot.as_table_mut() else {
            return Err(Error::Config {
                origin: origin.into(),
                message: format!("[model] {table} must be a table"),
            });
        };
        if slot.contains_key(&key) {
            return Err(Error::Config {
                origin: origin.into(),
                message: format!(
                    "[model] {key} is the old spelling of [model.{table}] {key}; give only one"
                ),
            });
        }
        slot.insert(key, value);
    }
    Ok(())
}

/// Refuses the nested tables' data-bound keys (they would be overwritten from the data).
fn check_no_data_fields(config: &toml::Value, origin: &str) -> Result<()> {
    let model = config.get("model");
    for (table, fields) in [
        ("vgg8", &Vgg8Config::DATA_FIELDS[..]),
        ("resnet", &MsResNetConfig::DATA_FIELDS[..]),
    ] {
        let Some(t) = model.and_then(|m| m.get(table)).and_then(|t| t.as_table()) else {
            continue;
        };
        if let Some(k) = fields.iter().find(|k| t.contains_key(**k)) {
            let hint = match *k {
                "time_steps" | "num_classes" => format!("pin it with [model] {k}"),
                "arch" => "choose the network with [model] arch".into(),
                "init_seed" | "dropout_seed" => "set the top-level seed".into(),
                _ => "it comes from the cache".into(),
            };
            return Err(Error::Config {
                origin: origin.into(),
                message: format!("[model.{table}] {k} is set from the data: {hint}"),
            });
        }
    }
    Ok(())
}

/// Drops what [`check_no_data_fields`] refuses, and the table of the network `arch` does not
/// use, from a serialised configuration.
fn strip_derived(config: &mut toml::Value, vgg8: bool) {
    let Some(model) = config.get_mut("model").and_then(|m| m.as_table_mut()) else {
        return;
    };
    model.remove(if vgg8 { "resnet" } else { "vgg8" });
    for (table, fields) in [
        ("vgg8", &Vgg8Config::DATA_FIELDS[..]),
        ("resnet", &MsResNetConfig::DATA_FIELDS[..]),
    ] {
        if let Some(t) = model.get_mut(table).and_then(|t| t.as_table_mut()) {
            for k in fields {
                t.remove(*k);
            }
        }
    }
}

/// Names of the built-in presets.
pub fn preset_names() -> Vec<&'static str> {
    PRESETS.iter().map(|(n, _)| *n).collect()
}

/// The TOML text of a built-in preset.
pub fn preset_toml(name: &str) -> Result<&'static str> {
    PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| Error::UnknownPreset {
            name: name.into(),
            known: preset_names().join(", "),
        })
}

/// Merges `over` into `base`: tables merge key by key (recursively), anything else replaces.
pub fn merge_toml(base: &mut toml::Value, over: toml::Value) {
    match (base, over) {
        (toml::Value::Table(b), toml::Value::Table(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(slot) => merge_toml(slot, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn parse_toml(text: &str, origin: &str) -> Result<toml::Value> {
    text.parse::<toml::Table>()
        .map(toml::Value::Table)
        .map_err(|e| Error::Config {
            origin: origin.into(),
            message: e.to_string(),
        })
}

impl TrainConfig {
    /// A built-in preset.
    pub fn preset(name: &str) -> Result<Self> {
        Self::resolve(Some(name), None)
    }

    /// Builds the configuration from an optional preset and an optional TOML file merged over it
    /// (at least one should be given; with neither, the defaults). A file may also name its base
    /// with `preset = "NAME"` at the top level.
    pub fn resolve(preset: Option<&str>, file: Option<&Path>) -> Result<Self> {
        let mut user = match file {
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
                Some(parse_toml(&text, &p.display().to_string())?)
            }
            None => None,
        };
        // `preset = "..."` inside the file picks its base unless the caller named one.
        let file_preset = match user
            .as_mut()
            .and_then(|u| u.as_table_mut())
            .and_then(|t| t.remove("preset"))
        {
            None => None,
            Some(toml::Value::String(s)) => Some(s),
            Some(other) => {
                return Err(Error::Config {
                    origin: file.map(|p| p.display().to_string()).unwrap_or_default(),
                    message: format!("preset must be a preset name (a string), not {other}"),
                })
            }
        };
        let base_name = preset.map(str::to_string).or(file_preset);
        let mut value = match &base_name {
            Some(n) => {
                let origin = format!("preset {n}");
                let mut v = parse_toml(preset_toml(n)?, &origin)?;
                upgrade_legacy_model(&mut v, &origin)?;
                v
            }
            None => toml::Value::Table(toml::Table::new()),
        };
        let origin = match (file, &base_name) {
            (Some(p), _) => p.display().to_string(),
            (None, Some(n)) => format!("preset {n}"),
            (None, None) => "defaults".into(),
        };
        if let Some(mut u) = user {
            // Each layer is upgraded alone, so an old-style file still merges key by key over a
            // preset.
            upgrade_legacy_model(&mut u, &origin)?;
            merge_toml(&mut value, u);
        }
        check_no_data_fields(&value, &origin)?;
        let mut cfg: TrainConfig =
            value
                .try_into()
                .map_err(|e: toml::de::Error| Error::Config {
                    origin: origin.clone(),
                    message: e.to_string(),
                })?;
        cfg.model.reset_unused();
        cfg.validate(&origin)?;
        Ok(cfg)
    }

    /// Parses a resolved configuration (a run folder's `config.toml` or a checkpoint's copy;
    /// also the flat `[model]` of earlier versions).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let mut value = parse_toml(text, origin)?;
        upgrade_legacy_model(&mut value, origin)?;
        check_no_data_fields(&value, origin)?;
        let mut cfg: TrainConfig =
            value
                .try_into()
                .map_err(|e: toml::de::Error| Error::Config {
                    origin: origin.into(),
                    message: e.to_string(),
                })?;
        cfg.model.reset_unused();
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// The configuration as TOML text: `[model]` holds the table of the network `arch` names,
    /// without the fields the data sets.
    pub fn to_toml_string(&self) -> Result<String> {
        let err = |message: String| Error::Config {
            origin: "serialising".into(),
            message,
        };
        let mut value = toml::Value::try_from(self).map_err(|e| err(e.to_string()))?;
        strip_derived(&mut value, self.model.is_vgg8());
        toml::to_string_pretty(&value).map_err(|e| err(e.to_string()))
    }

    /// Checks ranges that serde cannot.
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |m: &str| {
            Err(Error::Config {
                origin: origin.into(),
                message: m.into(),
            })
        };
        if self.epochs == 0 {
            return bad("epochs must be at least 1");
        }
        if self.data.batch_size == 0 || self.data.eval_batch_size == 0 {
            return bad("batch sizes must be at least 1");
        }
        if self.data.downsample == 0 {
            return bad("data.downsample must be at least 1");
        }
        let o = &self.optimizer;
        for (name, v) in [
            ("optimizer.lr", o.lr),
            ("optimizer.weight_decay", o.weight_decay),
            ("optimizer.eps", o.eps),
            ("optimizer.momentum_decay", o.momentum_decay),
            ("optimizer.momentum", o.momentum),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return bad(&format!("{name} must be a finite, non-negative number"));
            }
        }
        for (name, v) in [
            ("optimizer.dampening", o.dampening),
            ("schedule.eta_min", self.schedule.eta_min),
        ] {
            if !v.is_finite() {
                return bad(&format!("{name} must be a finite number"));
            }
        }
        if !((0.0..1.0).contains(&o.beta1) && (0.0..1.0).contains(&o.beta2)) {
            return bad("optimizer.beta1 and beta2 must be in [0, 1) (torch's rule)");
        }
        if self.clip_grad.is_nan() || self.clip_grad < 0.0 {
            return bad("clip_grad must be >= 0 (0 = off)");
        }
        if !(0.0..1.0).contains(&self.model.vgg8.dropout) {
            return bad("model.vgg8.dropout must be in [0, 1)");
        }
        if !(0.0..1.0).contains(&self.label_smoothing) {
            return bad("label_smoothing must be in [0, 1)");
        }
        if let Some(im) = &self.images {
            if im.size == 0 {
                return bad("images.size must be at least 1");
            }
        }
        if self.images.is_some() {
            if self.model.time_steps == 0 {
                return bad(
                    "model.time_steps must be set for images (each image is repeated T times)",
                );
            }
            if MsResNetArch::parse(&self.model.arch).is_err() {
                return bad("[images] needs an MS-ResNet model.arch (ms-resnet18, ms-resnet34, ms-resnet104): SMA-VGG8 takes event frames");
            }
        }
        Ok(())
    }

    /// The cosine period: `schedule.t_max`, or the epoch count when 0.
    pub fn t_max(&self) -> usize {
        if self.schedule.t_max == 0 {
            self.epochs
        } else {
            self.schedule.t_max
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::OptimizerKind;
    use snnkit_model::AzoConfig;

    #[test]
    fn presets_parse_and_match_the_recipes() {
        for n in preset_names() {
            let c = TrainConfig::preset(n).unwrap();
            assert_eq!(c.name, n);
            let back = TrainConfig::from_toml_str(&c.to_toml_string().unwrap(), n).unwrap();
            assert_eq!(back, c, "{n} round-trips through TOML");
        }
        let g = TrainConfig::preset("dvs128-gesture").unwrap();
        assert_eq!(g.optimizer.kind, OptimizerKind::AdamW);
        assert_eq!((g.optimizer.lr, g.optimizer.weight_decay), (1e-4, 1e-3));
        assert_eq!((g.data.batch_size, g.epochs, g.loss), (36, 200, Loss::Mse));
        let c = TrainConfig::preset("cifar10-dvs").unwrap();
        assert_eq!(c.optimizer.kind, OptimizerKind::Adam);
        assert_eq!(
            (c.data.batch_size, c.data.hflip, c.data.max_shift),
            (96, true, 5)
        );
        let n = TrainConfig::preset("n-caltech101").unwrap();
        assert_eq!(n.optimizer.kind, OptimizerKind::NAdam);
        assert_eq!(n.optimizer.momentum_decay, 1e-3);
        assert_eq!((n.data.batch_size, n.epochs, n.loss), (24, 300, Loss::Tet));
    }

    #[test]
    fn file_overrides_single_fields() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "preset = \"cifar10-dvs\"\nepochs = 3\n[optimizer]\nlr = 0.5\n",
        )
        .unwrap();
        let c = TrainConfig::resolve(None, Some(&p)).unwrap();
        assert_eq!((c.epochs, c.optimizer.lr), (3, 0.5));
        assert_eq!(
            c.data.batch_size, 96,
            "untouched fields keep the preset's value"
        );
        std::fs::write(&p, "[optimizer]\nlrr = 0.5\n").unwrap();
        let e = TrainConfig::resolve(Some("synthetic"), Some(&p)).unwrap_err();
        assert!(e.to_string().contains("lrr"), "{e}");
        std::fs::write(&p, "[schedule]\neta_min = nan\n").unwrap();
        let e = TrainConfig::resolve(Some("synthetic"), Some(&p)).unwrap_err();
        assert!(e.to_string().contains("schedule.eta_min"), "{e}");
        std::fs::write(&p, "preset = 5\n").unwrap();
        let e = TrainConfig::resolve(None, Some(&p)).unwrap_err();
        assert!(e.to_string().contains("preset must be"), "{e}");
    }

    /// The `[model]` table as the flat ModelConfig of earlier versions wrote it into run folders
    /// and checkpoints (every key), for the dvs128-gesture preset.
    const OLD_GESTURE_MODEL: &str = r#"
[model]
arch = "sma-vgg8"
width_mult = 1.0
resnet_t_reduction = 1.5
time_steps = 16
num_classes = 11
widths = [64, 128, 256, 512, 512]
head = [2048, 1024]
pool_size = 3
dropout = 0.5
sma = true
sma_blocks = [2, 3]
sma_position = "L1"
azo = true
rcr = 10
rtr = 4
sma_kernels = [1, 3, 5, 7]
c_reduction = 4
t_reduction = 4
sma_activation = "lif"
bn_bias_init = 0.0
head_gain = 1.0
"#;

    #[test]
    fn old_flat_model_tables_still_load() {
        // A checkpoint's or run folder's whole configuration.
        let g = TrainConfig::preset("dvs128-gesture").unwrap();
        let mut old: toml::Table = g.to_toml_string().unwrap().parse().unwrap();
        old.remove("model");
        let old = toml::to_string(&old).unwrap() + OLD_GESTURE_MODEL;
        assert_eq!(TrainConfig::from_toml_str(&old, "old").unwrap(), g);

        // An old user file merged over a preset, key by key.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.toml");
        std::fs::write(
            &p,
            "[model]\nrcr = 4\nwidths = [8, 8, 8, 8, 8]\nbn_bias_init = 0.5\n",
        )
        .unwrap();
        let c = TrainConfig::resolve(Some("dvs128-gesture"), Some(&p)).unwrap();
        assert_eq!(c.model.vgg8.azo, Some(AzoConfig { rcr: 4, rtr: 4 }));
        assert_eq!(c.model.vgg8.widths, [8; 5]);
        assert_eq!(c.model.init.bn_bias_init, 0.5);
        assert_eq!(
            c.model.vgg8.head,
            [2048, 1024],
            "the preset's other keys stay"
        );
        std::fs::write(&p, "[model]\nazo = false\n").unwrap();
        let c = TrainConfig::resolve(Some("dvs128-gesture"), Some(&p)).unwrap();
        assert_eq!((c.model.vgg8.azo, c.model.resnet.azo), (None, None));

        // An old MS-ResNet-104 fine-tuning configuration.
        std::fs::write(
            &p,
            "[model]\narch = \"ms-resnet104\"\ntime_steps = 5\nwidth_mult = 1.0\nsma = true\n\
             sma_kernels = [1, 3, 5, 7]\nc_reduction = 4\nresnet_t_reduction = 1.5\nazo = true\n\
             rcr = 4\nrtr = 2\n",
        )
        .unwrap();
        let old = TrainConfig::resolve(Some("ms-resnet104-azo-finetune"), Some(&p)).unwrap();
        let new = TrainConfig::preset("ms-resnet104-azo-finetune").unwrap();
        assert_eq!(old.model.resnet, new.model.resnet);
        assert_eq!(
            old.model.to_network(5, 10, [3, 64, 64], 1).unwrap(),
            new.model.to_network(5, 10, [3, 64, 64], 1).unwrap()
        );

        // Both spellings of one key: an error naming it.
        std::fs::write(
            &p,
            "[model]\nwidths = [8, 8, 8, 8, 8]\n[model.vgg8]\nwidths = [4, 4, 4, 4, 4]\n",
        )
        .unwrap();
        let e = TrainConfig::resolve(None, Some(&p))
            .unwrap_err()
            .to_string();
        assert!(e.contains("[model] widths is the old spelling"), "{e}");
    }

    #[test]
    fn nested_model_tables_are_the_model_crate_types() {
        let g = TrainConfig::preset("dvs128-gesture").unwrap();
        let net = g.model.to_network(16, 11, [2, 128, 128], 3).unwrap();
        let NetworkConfig::Vgg8(v) = net else {
            panic!("{net:?}")
        };
        // The released network: the model crate's default with the data's dims and seeds.
        assert_eq!(
            v,
            Vgg8Config {
                init_seed: 3,
                dropout_seed: dropout_seed(3),
                ..Vgg8Config::default()
            }
        );
        let n = TrainConfig::preset("n-caltech101").unwrap();
        assert_eq!(n.model.vgg8.azo, Some(AzoConfig { rcr: 24, rtr: 4 }));
        assert!(
            n.model.to_network(16, 101, [2, 180, 240], 0).is_err(),
            "T pinned to 14"
        );

        // The written configuration holds only the chosen network's table, without data fields.
        let text = g.to_toml_string().unwrap();
        assert!(
            text.contains("[model.vgg8]") && text.contains("[model.init]"),
            "{text}"
        );
        assert!(!text.contains("[model.resnet]"), "{text}");
        let vgg8 = &text[text.find("[model.vgg8]").unwrap()..];
        assert!(
            !vgg8.contains("init_seed") && !vgg8.contains("height"),
            "{text}"
        );
        let r = TrainConfig::preset("ms-resnet18-synthetic").unwrap();
        let text = r.to_toml_string().unwrap();
        assert!(text.contains("[model.resnet]") && !text.contains("[model.vgg8]"));

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        for (text, needle) in [
            ("[model.vgg8]\ntime_steps = 4\n", "[model] time_steps"),
            ("[model.resnet]\narch = \"ms-resnet18\"\n", "[model] arch"),
            ("[model.vgg8]\nheight = 64\n", "from the cache"),
            ("[model.vgg8]\nwidhts = [1, 1, 1, 1, 1]\n", "widhts"),
            ("[model.init]\nhead_gian = 2.0\n", "head_gian"),
            ("[model.vgg8]\nazo = { rcr = 4, rtx = 2 }\n", "rtx"),
            ("[model.vgg8]\nsma = false\n", "azo needs sma"),
        ] {
            std::fs::write(&p, text).unwrap();
            let e = TrainConfig::resolve(Some("synthetic"), Some(&p))
                .and_then(|c| c.model.to_network(4, 2, [2, 32, 32], 0).map(|_| ()))
                .unwrap_err()
                .to_string();
            assert!(e.contains(needle), "{text}: {e}");
        }
    }

    #[test]
    fn ablations_change_the_vgg8_table() {
        let mut m = TrainConfig::preset("synthetic").unwrap().model;
        m.apply_ablation("T1").unwrap();
        assert!(!m.vgg8.sma && m.vgg8.azo.is_none() && m.vgg8.sma_blocks.is_empty());
        m.apply_ablation("N3").unwrap();
        assert_eq!(
            (m.vgg8.sma, m.vgg8.sma_kernels.clone()),
            (true, vec![1, 3, 5])
        );
        let e = m.apply_ablation("Q1").unwrap_err().to_string();
        assert!(e.contains("--ablation") && e.contains("N6"), "{e}");
        let mut r = TrainConfig::preset("ms-resnet18-synthetic").unwrap().model;
        assert!(r.apply_ablation("T1").is_err());
    }

    #[test]
    fn unknown_preset_lists_known_ones() {
        let e = TrainConfig::preset("mnist").unwrap_err().to_string();
        assert!(
            e.contains("dvs128-gesture") && e.contains("synthetic"),
            "{e}"
        );
    }
}
