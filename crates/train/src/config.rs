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
use snnkit_model::{
    Activation, AzoConfig, MsResNetArch, MsResNetConfig, Network, NetworkConfig, SmaPosition,
    Vgg8Config,
};
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

/// `[model]` table: maps onto [`Vgg8Config`]; T, classes and input size default to the cache's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Architecture: `sma-vgg8` (default) or `ms-resnet18` / `ms-resnet34` / `ms-resnet104`.
    /// The ResNets use `sma`, `azo`, `rcr`, `rtr`, `sma_kernels`, `c_reduction`, `width_mult`
    /// and `resnet_t_reduction`; `widths`, `head`, `pool_size`, `dropout`, `t_reduction`,
    /// `sma_activation`, `sma_blocks`, `sma_position` and `head_gain` are SMA-VGG8's (a ResNet's dropout is its
    /// architecture's: 0.2 for 104).
    pub arch: String,
    /// ResNet width multiplier k (stage widths `int(64k)` … `int(512k)`).
    pub width_mult: f64,
    /// ResNet SMA time reduction (T-MSE width `floor(T / TR)`; 1.5 in `train_amp.py`).
    pub resnet_t_reduction: f64,
    /// Expected T (`0` = take it from the cache; otherwise it must match).
    pub time_steps: usize,
    /// Expected number of classes (`0` = from the cache).
    pub num_classes: usize,
    /// Conv widths of blocks 1..5.
    pub widths: [usize; 5],
    /// Hidden widths of the head.
    pub head: [usize; 2],
    /// AdaptiveAvgPool2d output size.
    pub pool_size: usize,
    /// Head dropout probability.
    pub dropout: f64,
    /// SMA modules at all (`false` = VGG8 without SMA).
    pub sma: bool,
    /// Blocks (1..=5) carrying an SMA: `[2, 3]` as released (the paper's S3); see docs/training.md
    /// for the Fig. 2 settings T1–T4, S1–S4.
    pub sma_blocks: Vec<usize>,
    /// SMA position inside the block: `L1` after the conv (released), `L2` after BN, `L3` after
    /// the LIF.
    pub sma_position: SmaPosition,
    /// AZO in training (needs `sma`).
    pub azo: bool,
    /// AZO channel ratio RCR.
    pub rcr: usize,
    /// AZO time ratio RTR.
    pub rtr: usize,
    /// SMA kernel sizes.
    pub sma_kernels: Vec<usize>,
    /// SMA channel reduction.
    pub c_reduction: usize,
    /// SMA time reduction.
    pub t_reduction: usize,
    /// SMA encoder activation (`lif` as in the released code, or `relu`).
    pub sma_activation: Activation,
    /// Initial bias of every BatchNorm layer (`0` = PyTorch's init). A positive shift makes the
    /// LIF after each BN fire from the first step, which a narrow network trained for a few
    /// epochs needs (the parity fixtures re-draw the SMA encoders' BN biases for the same reason).
    pub bn_bias_init: f64,
    /// Factor applied to the head's Linear weights after init (`1` = PyTorch's init); the head
    /// LIFs of a narrow network otherwise start silent.
    pub head_gain: f64,
}

impl Default for ModelConfig {
    fn default() -> Self {
        let v = Vgg8Config::default();
        Self {
            arch: "sma-vgg8".into(),
            width_mult: 1.0,
            resnet_t_reduction: 1.5,
            time_steps: 0,
            num_classes: 0,
            widths: v.widths,
            head: v.head,
            pool_size: v.pool_size,
            dropout: v.dropout,
            sma: v.sma,
            sma_blocks: v.sma_blocks,
            sma_position: v.sma_position,
            azo: v.azo.is_some(),
            rcr: v.azo.map(|a| a.rcr).unwrap_or(10),
            rtr: v.azo.map(|a| a.rtr).unwrap_or(4),
            sma_kernels: v.sma_kernels,
            c_reduction: v.c_reduction,
            t_reduction: v.t_reduction,
            sma_activation: v.sma_activation,
            bn_bias_init: 0.0,
            head_gain: 1.0,
        }
    }
}

impl ModelConfig {
    /// Applies `bn_bias_init` and `head_gain` to a freshly built network.
    pub fn apply_init(&self, model: &Network) -> Result<()> {
        // BatchNorm layers are the prefixes that own a running mean.
        let bn: std::collections::HashSet<String> = model
            .named_buffers()
            .into_iter()
            .filter_map(|(n, _)| n.strip_suffix(".running_mean").map(str::to_string))
            .collect();
        for (name, var) in model.named_parameters() {
            if self.bn_bias_init != 0.0 {
                if let Some(prefix) = name.strip_suffix(".bias") {
                    if bn.contains(prefix) {
                        var.set(
                            &var.as_tensor()
                                .ones_like()?
                                .affine(self.bn_bias_init, 0.0)?,
                        )?;
                    }
                }
            }
            let head = ["others.2.weight", "others.5.weight", "others.8.weight"];
            if self.head_gain != 1.0 && head.contains(&name.as_str()) {
                var.set(&var.as_tensor().affine(self.head_gain, 0.0)?)?;
            }
        }
        Ok(())
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
        let vgg = self.to_vgg8(time_steps, num_classes, height, width, seed)?;
        if self.arch == "sma-vgg8" || self.arch == "vgg8" {
            return Ok(NetworkConfig::Vgg8(Vgg8Config {
                in_channels: channels,
                ..vgg
            }));
        }
        let arch = MsResNetArch::parse(&self.arch).map_err(|e| Error::Config {
            origin: "[model] arch".into(),
            message: e.to_string(),
        })?;
        let base = MsResNetConfig::preset(arch);
        Ok(NetworkConfig::MsResNet(MsResNetConfig {
            time_steps,
            num_classes,
            in_channels: channels,
            height,
            width,
            width_mult: self.width_mult,
            sma: self.sma,
            sma_kernels: self.sma_kernels.clone(),
            c_reduction: self.c_reduction,
            t_reduction: self.resnet_t_reduction,
            azo: vgg.azo,
            init_seed: seed,
            dropout_seed: vgg.dropout_seed,
            ..base
        }))
    }

    /// The network for data of `time_steps` frames of `height × width`, `num_classes` classes.
    /// Fails when the config pins T or the class count to other values.
    pub fn to_vgg8(
        &self,
        time_steps: usize,
        num_classes: usize,
        height: usize,
        width: usize,
        seed: u64,
    ) -> Result<Vgg8Config> {
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
        if self.azo && !self.sma {
            return Err(err("azo = true needs sma = true".into()));
        }
        Ok(Vgg8Config {
            time_steps,
            num_classes,
            height,
            width,
            widths: self.widths,
            head: self.head,
            pool_size: self.pool_size,
            dropout: self.dropout,
            sma: self.sma,
            sma_blocks: self.sma_blocks.clone(),
            sma_position: self.sma_position,
            sma_kernels: self.sma_kernels.clone(),
            c_reduction: self.c_reduction,
            t_reduction: self.t_reduction,
            sma_activation: self.sma_activation,
            azo: self.azo.then_some(AzoConfig {
                rcr: self.rcr,
                rtr: self.rtr,
            }),
            init_seed: seed,
            // A separate stream so changing the head does not shift the initialisation.
            dropout_seed: seed.wrapping_add(0x9e37_79b9),
            ..Vgg8Config::default()
        })
    }
}

/// The paper's SMA ablations (Fig. 2: placement T1–T4, S1–S4 and position L1–L3; Table 1:
/// 2–6 scales), as name and description. Apply one with [`TrainConfig::apply_ablation`] or
/// `snnkit train --ablation NAME`.
pub const ABLATIONS: [(&str, &str); 16] = [
    ("T1", "no SMA (VGG8)"),
    ("T2", "SMA in block 1 (the encoder)"),
    ("T3", "SMA in blocks 2-5"),
    ("T4", "SMA in every block"),
    ("S1", "SMA in the odd blocks after the encoder (3, 5)"),
    ("S2", "SMA in the even blocks (2, 4)"),
    ("S3", "SMA in blocks 2-3 (the released setting)"),
    ("S4", "SMA in blocks 4-5"),
    (
        "L1",
        "SMA after the conv (the released position), blocks 2-3",
    ),
    ("L2", "SMA after BatchNorm, blocks 2-3"),
    ("L3", "SMA after the LIF, blocks 2-3"),
    ("N2", "2 scales: kernels 1, 3"),
    ("N3", "3 scales: kernels 1, 3, 5"),
    ("N4", "4 scales: kernels 1, 3, 5, 7 (released)"),
    ("N5", "5 scales: kernels 1, 3, ..., 9"),
    ("N6", "6 scales: kernels 1, 3, ..., 11"),
];

impl ModelConfig {
    /// Sets the SMA placement, position or scale count of ablation `name` (see [`ABLATIONS`]);
    /// the other settings keep their values.
    pub fn apply_ablation(&mut self, name: &str) -> Result<()> {
        let blocks = |v: &[usize]| v.to_vec();
        match name {
            "T1" => {
                self.sma = false;
                self.azo = false;
                self.sma_blocks = Vec::new();
            }
            "T2" | "T3" | "T4" | "S1" | "S2" | "S3" | "S4" => {
                self.sma = true;
                self.sma_position = SmaPosition::L1;
                self.sma_blocks = match name {
                    "T2" => blocks(&[1]),
                    "T3" => blocks(&[2, 3, 4, 5]),
                    "T4" => blocks(&[1, 2, 3, 4, 5]),
                    "S1" => blocks(&[3, 5]),
                    "S2" => blocks(&[2, 4]),
                    "S3" => blocks(&[2, 3]),
                    _ => blocks(&[4, 5]),
                };
            }
            "L1" | "L2" | "L3" => {
                self.sma = true;
                self.sma_blocks = blocks(&[2, 3]);
                self.sma_position = match name {
                    "L1" => SmaPosition::L1,
                    "L2" => SmaPosition::L2,
                    _ => SmaPosition::L3,
                };
            }
            _ => {
                let n = name
                    .strip_prefix('N')
                    .and_then(|n| n.parse::<usize>().ok())
                    .filter(|n| (2..=6).contains(n))
                    .ok_or_else(|| Error::Config {
                        origin: "--ablation".into(),
                        message: format!(
                            "unknown ablation {name:?} (known: {})",
                            ABLATIONS.map(|a| a.0).join(", ")
                        ),
                    })?;
                self.sma = true;
                self.sma_kernels = (0..n).map(|i| 2 * i + 1).collect();
            }
        }
        Ok(())
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
            Some(n) => parse_toml(preset_toml(n)?, &format!("preset {n}"))?,
            None => toml::Value::Table(toml::Table::new()),
        };
        let origin = match (file, &base_name) {
            (Some(p), _) => p.display().to_string(),
            (None, Some(n)) => format!("preset {n}"),
            (None, None) => "defaults".into(),
        };
        if let Some(u) = user {
            merge_toml(&mut value, u);
        }
        let cfg: TrainConfig = value
            .try_into()
            .map_err(|e: toml::de::Error| Error::Config {
                origin: origin.clone(),
                message: e.to_string(),
            })?;
        cfg.validate(&origin)?;
        Ok(cfg)
    }

    /// Parses a resolved configuration (a run folder's `config.toml` or a checkpoint's copy).
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self> {
        let cfg: TrainConfig = toml::from_str(text).map_err(|e| Error::Config {
            origin: origin.into(),
            message: e.to_string(),
        })?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// The configuration as TOML text.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Config {
            origin: "serialising".into(),
            message: e.to_string(),
        })
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
        if !(0.0..1.0).contains(&self.model.dropout) {
            return bad("model.dropout must be in [0, 1)");
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

    #[test]
    fn unknown_preset_lists_known_ones() {
        let e = TrainConfig::preset("mnist").unwrap_err().to_string();
        assert!(
            e.contains("dvs128-gesture") && e.contains("synthetic"),
            "{e}"
        );
    }
}
