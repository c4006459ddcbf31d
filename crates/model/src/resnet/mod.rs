//! SMA-MS-ResNet-18/34/104 (spec §6): the authors' `MS_ResNet.py` (membrane-shortcut ResNet with
//! the `mem_update` neuron and tdBN) with the ImageNet SMA of `train_amp.py` inserted after the
//! first conv of blocks `[0]` and `[1]` of every stage.
//!
//! Input: an image batch `[B, C, H, W]`, repeated T times (direct encoding); inside, activations
//! are time-major and folded `[T·B, C, H, W]`; output `[B, K]` (mean over T before `fc`).
//! Parameter names are the authors' `state_dict` names (`conv1.1.bn.running_mean`,
//! `conv2_x.0.residual_function.2.S_Convs.1.conv.weight`, `fc.weight`, ...).

mod block;
mod conv;
mod stem;

pub use block::{BasicBlock, BlockKind, BlockSma};
pub use conv::SnnConv2d;
pub use stem::Stem;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use candle_core::{Device, Result, Tensor, Var, D};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::azo::AzoConfig;
use crate::error::{self, Error};
use crate::layers::{dropout_rng, fold_tb, unfold_tb, Linear, SeqDropout};
use crate::lif::FiringRates;
use crate::mem_update::{MemUpdate, MemUpdateConfig};
use crate::sma::{Activation, SmaConfig, SmaLayout};
use crate::store::ParamStore;

/// The three published depths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum MsResNetArch {
    /// MS-ResNet-18: blocks `[2, 2, 2, 2]`, 7×7 stride-2 stem.
    #[default]
    #[serde(rename = "ms-resnet18")]
    ResNet18,
    /// MS-ResNet-34: blocks `[3, 4, 6, 3]`, 7×7 stride-2 stem.
    #[serde(rename = "ms-resnet34")]
    ResNet34,
    /// MS-ResNet-104: blocks `[3, 8, 32, 8]`, three 3×3 stem convs, AvgPool shortcuts, dropout.
    #[serde(rename = "ms-resnet104")]
    ResNet104,
}

impl MsResNetArch {
    /// Parses `ms-resnet18` / `ms-resnet34` / `ms-resnet104` (also `resnet18`, ...: the
    /// authors' constructor names).
    pub fn parse(name: &str) -> error::Result<Self> {
        match name.trim_start_matches("ms-").trim_start_matches("ms_") {
            "resnet18" => Ok(Self::ResNet18),
            "resnet34" => Ok(Self::ResNet34),
            "resnet104" => Ok(Self::ResNet104),
            _ => Err(Error::Config(format!(
                "unknown MS-ResNet architecture {name:?} (ms-resnet18, ms-resnet34, ms-resnet104)"
            ))),
        }
    }

    /// The name used in configs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::ResNet18 => "ms-resnet18",
            Self::ResNet34 => "ms-resnet34",
            Self::ResNet104 => "ms-resnet104",
        }
    }

    /// Blocks per stage (`conv2_x` … `conv5_x`).
    pub fn depths(self) -> [usize; 4] {
        match self {
            Self::ResNet18 => [2, 2, 2, 2],
            Self::ResNet34 => [3, 4, 6, 3],
            Self::ResNet104 => [3, 8, 32, 8],
        }
    }

    fn block_kind(self) -> BlockKind {
        match self {
            Self::ResNet104 => BlockKind::Basic104,
            _ => BlockKind::Basic18,
        }
    }

    /// Dropout before `fc` in the authors' code (0.2 for ResNet-104 only).
    pub fn default_dropout(self) -> f64 {
        match self {
            Self::ResNet104 => 0.2,
            _ => 0.0,
        }
    }
}

/// MS-ResNet configuration. The trainer embeds it as its `[model.resnet]` table (serde; unknown
/// keys are errors), filling the [data-bound fields](MsResNetConfig::DATA_FIELDS) from the data
/// and `arch` from `[model] arch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MsResNetConfig {
    /// Depth.
    pub arch: MsResNetArch,
    /// Simulation length T (the image is repeated T times; the SMA T-MSE is tied to it).
    pub time_steps: usize,
    /// Classes K (`fc` output).
    pub num_classes: usize,
    /// Input channels (3 for RGB images).
    pub in_channels: usize,
    /// Input height (used to validate and by the trainer/benchmarks; any size ≥ 32 runs).
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Width multiplier `k` of the authors' file: stage widths `int(64k)`, `int(128k)`,
    /// `int(256k)`, `int(512k)`.
    pub width_mult: f64,
    /// Insert the SMA (`false` = the MS-ResNet baseline).
    pub sma: bool,
    /// SMA into blocks `0..sma_blocks` of every stage (2 in `train_amp.py`).
    pub sma_blocks: usize,
    /// SMA scale kernels.
    pub sma_kernels: Vec<usize>,
    /// SMA channel reduction CR (4).
    pub c_reduction: usize,
    /// SMA time reduction TR (1.5 in `train_amp.py`; hidden width `floor(T / TR)`).
    pub t_reduction: f64,
    /// AZO inside every SMA (training only); `None` = no AZO (the published 18/34 runs; `false`
    /// in TOML/JSON, see [`crate::azo::optional`]).
    #[serde(with = "crate::azo::optional")]
    pub azo: Option<AzoConfig>,
    /// Dropout before `fc`; `None` = the architecture's (0.2 for 104, none for 18/34).
    pub dropout: Option<f64>,
    /// Neuron constants.
    pub neuron: MemUpdateConfig,
    /// Seed of the parameter initialisation.
    pub init_seed: u64,
    /// Seed of the dropout masks.
    pub dropout_seed: u64,
}

impl Default for MsResNetConfig {
    fn default() -> Self {
        Self {
            arch: MsResNetArch::ResNet18,
            time_steps: 6,
            num_classes: 1000,
            in_channels: 3,
            height: 224,
            width: 224,
            width_mult: 1.0,
            sma: true,
            sma_blocks: 2,
            sma_kernels: vec![1, 3, 5, 7],
            c_reduction: 4,
            t_reduction: 1.5,
            azo: None,
            dropout: None,
            neuron: MemUpdateConfig::default(),
            init_seed: 445,
            dropout_seed: 0,
        }
    }
}

impl MsResNetConfig {
    /// Fields a trainer sets from the data, its seed and its `arch` selector rather than from the
    /// `[model.resnet]` table.
    pub const DATA_FIELDS: [&'static str; 8] = [
        "arch",
        "time_steps",
        "num_classes",
        "in_channels",
        "height",
        "width",
        "init_seed",
        "dropout_seed",
    ];

    /// The published configuration of `arch` (`train_amp.py`: T = 6 for 18/34, T = 5 for 104,
    /// 1000 classes, 224×224, SMA with CR 4, TR 1.5; AZO with RCR 4, RTR 2 only for 104, which
    /// the paper adds in its fine-tuning stage).
    pub fn preset(arch: MsResNetArch) -> Self {
        let base = Self {
            arch,
            ..Self::default()
        };
        match arch {
            MsResNetArch::ResNet104 => Self {
                time_steps: 5,
                azo: Some(AzoConfig { rcr: 4, rtr: 2 }),
                ..base
            },
            _ => base,
        }
    }

    /// Stage widths `int(64k)`, `int(128k)`, `int(256k)`, `int(512k)` (Python `int` truncates).
    pub fn stage_widths(&self) -> [usize; 4] {
        [64, 128, 256, 512].map(|c| (c as f64 * self.width_mult) as usize)
    }

    /// Stem width `int(64k)`.
    pub fn stem_width(&self) -> usize {
        (64.0 * self.width_mult) as usize
    }

    /// T-MSE hidden width `floor(T / TR)` (`int(time // T_reduction)`).
    pub fn t_hidden(&self) -> usize {
        (self.time_steps as f64 / self.t_reduction).floor() as usize
    }

    /// The effective dropout probability.
    pub fn dropout_p(&self) -> f64 {
        self.dropout.unwrap_or(self.arch.default_dropout())
    }

    /// SMA configuration and layout of a stage with `channels` channels.
    pub fn block_sma(&self, channels: usize) -> BlockSma {
        BlockSma {
            cfg: SmaConfig {
                channels,
                time_steps: self.time_steps,
                kernels: self.sma_kernels.clone(),
                c_reduction: self.c_reduction,
                // Integer stand-in for display; the width comes from `layout.t_hidden`.
                t_reduction: (self.t_reduction.floor() as usize).max(1),
                activation: Activation::Relu,
                azo: self.azo,
                lif: Default::default(),
            },
            layout: SmaLayout {
                encoder_bn: "bn.bn".into(),
                t_hidden: Some(self.t_hidden()),
            },
        }
    }

    fn validate(&self) -> error::Result<()> {
        if self.time_steps == 0 || self.num_classes == 0 || self.in_channels == 0 {
            return Err(Error::Config(
                "time_steps, num_classes and in_channels must be positive".into(),
            ));
        }
        if !(self.width_mult > 0.0 && self.width_mult.is_finite()) {
            return Err(Error::Config(format!(
                "width multiplier must be positive, got {}",
                self.width_mult
            )));
        }
        if self.stem_width() == 0 || self.stage_widths().contains(&0) {
            return Err(Error::Config(format!(
                "width multiplier {} leaves a stage without channels (int(64k) = 0)",
                self.width_mult
            )));
        }
        if self.height < 32 || self.width < 32 {
            return Err(Error::Config(format!(
                "input {}x{} too small: the stem and four stride-2 stages need at least 32x32",
                self.height, self.width
            )));
        }
        if self.arch == MsResNetArch::ResNet104 {
            // AvgPool(2) floors where the stride-2 conv rounds up: the residual sum only lines
            // up when every stage input is even (the authors' code fails the same way).
            for (len, what) in [(self.height, "height"), (self.width, "width")] {
                let mut s = len.div_ceil(2);
                for stage in 2..=5 {
                    if s % 2 == 1 {
                        return Err(Error::Config(format!(
                            "MS-ResNet-104 input {what} {len}: conv{stage}_x gets an odd size {s}, \
                             which its AvgPool shortcut cannot match (use a multiple of 32)"
                        )));
                    }
                    s /= 2;
                }
            }
        }
        if self.sma {
            if !(self.t_reduction > 0.0 && self.t_reduction.is_finite()) {
                return Err(Error::Config(format!(
                    "SMA T_reduction must be positive, got {}",
                    self.t_reduction
                )));
            }
            if self.t_hidden() == 0 {
                return Err(Error::Config(format!(
                    "SMA T-MSE width floor(T / TR) = floor({} / {}) is zero",
                    self.time_steps, self.t_reduction
                )));
            }
        }
        let p = self.dropout_p();
        if !(0.0..1.0).contains(&p) {
            return Err(Error::Config(format!("dropout must be in [0, 1), got {p}")));
        }
        Ok(())
    }
}

/// Outputs of one forward with the per-stage intermediates.
#[derive(Debug, Clone)]
pub struct MsResNetTrace {
    /// Network output `[B, K]`.
    pub output: Tensor,
    /// Output of `conv1` and of each of `conv2_x` … `conv5_x` that ran, `[T, B, C, H, W]`
    /// (real-valued residual sums).
    pub stages: Vec<Tensor>,
}

/// The SMA-MS-ResNet network.
pub struct MsResNet {
    cfg: MsResNetConfig,
    store: ParamStore,
    rates: FiringRates,
    stem: Stem,
    stages: Vec<Vec<BasicBlock>>,
    head_lif: MemUpdate,
    dropout: SeqDropout,
    fc: Linear,
    drop_rng: Arc<Mutex<ChaCha8Rng>>,
}

impl std::fmt::Debug for MsResNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsResNet")
            .field("cfg", &self.cfg)
            .field("store", &self.store)
            .finish()
    }
}

/// Stage module names, in order.
pub const STAGE_NAMES: [&str; 5] = ["conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x"];

impl MsResNet {
    /// Builds the network on `device` with PyTorch's default init seeded by `cfg.init_seed`
    /// (tdBN γ 0.5, the last BN of every residual branch γ 0).
    pub fn new(cfg: &MsResNetConfig, device: &Device) -> error::Result<Self> {
        cfg.validate()?;
        let store = ParamStore::new(device, cfg.init_seed);
        let rates = FiringRates::new();
        let stem = Stem::new(&store, cfg.arch, cfg.in_channels, cfg.stem_width())?;
        let mut cin = cfg.stem_width();
        let mut stages = Vec::with_capacity(4);
        for (si, (&depth, &cout)) in cfg
            .arch
            .depths()
            .iter()
            .zip(cfg.stage_widths().iter())
            .enumerate()
        {
            let sma = cfg.block_sma(cout);
            let mut blocks = Vec::with_capacity(depth);
            for bi in 0..depth {
                let stride = if bi == 0 { 2 } else { 1 };
                let with_sma = cfg.sma && bi < cfg.sma_blocks;
                blocks.push(BasicBlock::new(
                    &store,
                    &format!("{}.{bi}", STAGE_NAMES[si + 1]),
                    cfg.arch.block_kind(),
                    cin,
                    cout,
                    stride,
                    with_sma.then_some(&sma),
                    cfg.neuron,
                    &rates,
                )?);
                cin = cout;
            }
            stages.push(blocks);
        }
        let head_lif = MemUpdate::new(cfg.neuron, "mem_update", rates.clone());
        let drop_rng = dropout_rng(cfg.dropout_seed);
        let dropout = SeqDropout::new(cfg.dropout_p(), "dropout", drop_rng.clone());
        let fc = Linear::new(&store, "fc", cin, cfg.num_classes)?;
        Ok(Self {
            cfg: cfg.clone(),
            store,
            rates,
            stem,
            stages,
            head_lif,
            dropout,
            fc,
            drop_rng,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &MsResNetConfig {
        &self.cfg
    }

    /// Parameters and buffers.
    pub fn store(&self) -> &ParamStore {
        &self.store
    }

    /// Trainable parameters sorted by name (what an optimizer updates).
    pub fn named_parameters(&self) -> Vec<(String, Var)> {
        self.store.named_parameters()
    }

    /// BatchNorm buffers sorted by name.
    pub fn named_buffers(&self) -> Vec<(String, Tensor)> {
        self.store.named_buffers()
    }

    /// Saves parameters and buffers as safetensors under the authors' names (atomic).
    pub fn save_safetensors(&self, path: &Path) -> error::Result<()> {
        self.store.save_safetensors(path)
    }

    /// Loads parameters and buffers by the authors' names (e.g. a converted published checkpoint).
    pub fn load_safetensors(&self, path: &Path) -> error::Result<()> {
        self.store.load_safetensors(path)
    }

    /// Spike rate of every neuron layer in the last forward, keyed by module path
    /// (`conv2_x.0.residual_function.0`, ..., `mem_update` for the head).
    pub fn firing_rates(&self) -> BTreeMap<String, f64> {
        self.rates.snapshot()
    }

    /// Conv biases whose gradient is analytically zero because a training-mode BatchNorm follows
    /// them directly (the SMA scale convs, the last ResNet-104 stem conv); a reference gradient
    /// there is rounding noise.
    pub fn bias_grads_cancelled_by_bn(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .named_parameters()
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| k.contains(".S_Convs.") && k.ends_with(".conv.bias"))
            .collect();
        v.extend(self.stem.bias_before_bn());
        v
    }

    /// Uses `mask` `[B, F]` (0 or `1/(1−p)`) as the dropout mask of the next training forward
    /// (parity tests); ignored when the network has no dropout.
    pub fn set_dropout_mask(&self, mask: Tensor) {
        self.dropout.inject_mask(mask);
    }

    /// The dropout mask of the last training forward, if any.
    pub fn last_dropout_mask(&self) -> Option<Tensor> {
        self.dropout.last_mask()
    }

    /// Dropout RNG state `(seed, word position)` for checkpoints.
    pub fn dropout_rng_state(&self) -> ([u8; 32], u128) {
        match self.drop_rng.lock() {
            Ok(r) => (r.get_seed(), r.get_word_pos()),
            Err(p) => {
                let r = p.into_inner();
                (r.get_seed(), r.get_word_pos())
            }
        }
    }

    /// Restores a state from [`MsResNet::dropout_rng_state`].
    pub fn set_dropout_rng_state(&self, seed: [u8; 32], word_pos: u128) {
        use rand::SeedableRng;
        let mut r = ChaCha8Rng::from_seed(seed);
        r.set_word_pos(word_pos);
        if let Ok(mut g) = self.drop_rng.lock() {
            *g = r;
        }
    }

    /// `x` `[B, C, H, W]` (one image per sample) -> `[B, K]`. `train`: BatchNorm batch statistics
    /// (and running-statistics update), AZO, dropout.
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.forward_trace(x, train)?.output)
    }

    /// Forward that also returns every stage's output.
    pub fn forward_trace(&self, x: &Tensor, train: bool) -> Result<MsResNetTrace> {
        let (b, c, h, w) = x.dims4()?;
        if c != self.cfg.in_channels {
            candle_core::bail!(
                "MS-ResNet built for {} input channels, got input {:?}",
                self.cfg.in_channels,
                x.dims()
            );
        }
        let t = self.cfg.time_steps;
        // Direct encoding: the same image at every timestep, folded [T·B, C, H, W].
        let xt = x
            .unsqueeze(0)?
            .broadcast_as((t, b, c, h, w))?
            .reshape((t * b, c, h, w))?;
        let y = self.stem.forward(&xt, train)?;
        let mut tr = self.run_from(&y, 1, train)?;
        tr.stages.insert(0, unfold_tb(&y, t)?);
        Ok(tr)
    }

    /// `x` `[T, B, C, H, W]`, one input per timestep (e.g. event frames) instead of a repeated
    /// image -> `[B, K]`. With every `x[t]` equal this is [`MsResNet::forward_trace`].
    pub fn forward_sequence(&self, x: &Tensor, train: bool) -> Result<MsResNetTrace> {
        let (t, _, c, _, _) = x.dims5()?;
        if t != self.cfg.time_steps || c != self.cfg.in_channels {
            candle_core::bail!(
                "MS-ResNet built for T={} with {} channels, got input {:?}",
                self.cfg.time_steps,
                self.cfg.in_channels,
                x.dims()
            );
        }
        let y = self.stem.forward(&fold_tb(x)?, train)?;
        let mut tr = self.run_from(&y, 1, train)?;
        tr.stages.insert(0, unfold_tb(&y, t)?);
        Ok(tr)
    }

    /// Runs the network from stage `first` (1 = `conv2_x`, …, 4 = `conv5_x`, 5 = the head only)
    /// on `x`, the output of the stage before, `[T, B, C, H, W]` (teacher forcing against
    /// reference intermediates). `stages` of the trace holds the outputs of the stages run.
    pub fn forward_from(&self, x: &Tensor, first: usize, train: bool) -> Result<MsResNetTrace> {
        let t = x.dims5()?.0;
        if t != self.cfg.time_steps || !(1..=5).contains(&first) {
            candle_core::bail!(
                "forward_from: stage {first} of 1..=5 on T={t} (built for T={})",
                self.cfg.time_steps
            );
        }
        self.run_from(&fold_tb(x)?, first, train)
    }

    fn run_from(&self, xf: &Tensor, first: usize, train: bool) -> Result<MsResNetTrace> {
        let t = self.cfg.time_steps;
        let mut cur = xf.clone();
        let mut stages = Vec::new();
        for blocks in self.stages.iter().skip(first - 1) {
            for blk in blocks {
                cur = blk.forward(&cur, t, train)?;
            }
            stages.push(unfold_tb(&cur, t)?);
        }
        // Head: neuron → spatial mean → mean over T → dropout → fc.
        let s = self.head_lif.forward_steps(&cur, t)?;
        let (tb, c, _, _) = s.dims4()?;
        let pooled = s
            .flatten_from(2)?
            .mean(D::Minus1)?
            .reshape((t, tb / t, c))?;
        let feat = (pooled.sum(0)? / t as f64)?; // [B, C]
        let feat = self
            .dropout
            .forward_t(&feat.unsqueeze(0)?, train)?
            .squeeze(0)?;
        let output = self.fc.forward(&feat)?;
        Ok(MsResNetTrace { output, stages })
    }
}
