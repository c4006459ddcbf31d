//! SMA-VGG8 (spec §4): five conv blocks (SMA after the conv of blocks 2 and 3) and a spiking head.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex};

use candle_core::{Device, Result, Tensor, Var};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::azo::AzoConfig;
use crate::error::{self, Error};
use crate::layers::{
    adaptive_avg_pool2d, dropout_rng, fold_tb, max_pool2x2, unfold_tb, BatchNorm, Conv2d, Linear,
    SeqDropout,
};
use crate::lif::{FiringRates, Lif, LifConfig};
use crate::sma::{Activation, Sma, SmaConfig};
use crate::store::ParamStore;

/// SMA-VGG8 configuration. The trainer embeds it as its `[model.vgg8]` table (serde; unknown
/// keys are errors), filling the [data-bound fields](Vgg8Config::DATA_FIELDS) from the data.
/// `Default` is the released DVS128 Gesture network (T 16, 11 classes, 128×128, RCR 10, RTR 4);
/// the per-dataset settings are the trainer's TOML presets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Vgg8Config {
    /// Simulation length T (the SMA T-MSE is tied to it).
    pub time_steps: usize,
    /// Number of classes K.
    pub num_classes: usize,
    /// Input channels (2 polarities).
    pub in_channels: usize,
    /// Input height.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Conv widths of blocks 1..5 (reference 64-128-256-512-512).
    pub widths: [usize; 5],
    /// Hidden widths of the head (reference 2048, 1024).
    pub head: [usize; 2],
    /// AdaptiveAvgPool2d output size (reference 3).
    pub pool_size: usize,
    /// Dropout probability of the head (reference 0.5).
    pub dropout: f64,
    /// Insert SMA modules at all (false = the plain VGG ablation, whatever `sma_blocks` says).
    pub sma: bool,
    /// Blocks (1-based, 1..=5) that carry an SMA (the paper's Fig. 2: T1 = none, T2 = `[1]`,
    /// T3 = `[2, 3, 4, 5]`, T4 = all, S1 = `[3, 5]`, S2 = `[2, 4]`, S3 = `[2, 3]` the released
    /// default, S4 = `[4, 5]`).
    pub sma_blocks: Vec<usize>,
    /// Where inside its block the SMA sits (L1 after the conv, the default; L2 after BN; L3
    /// after the LIF).
    pub sma_position: SmaPosition,
    /// SMA kernel sizes.
    pub sma_kernels: Vec<usize>,
    /// SMA channel reduction CR.
    pub c_reduction: usize,
    /// SMA time reduction TR.
    pub t_reduction: usize,
    /// SMA encoder activation.
    pub sma_activation: Activation,
    /// AZO ratios (`None` = SMA-VGG without AZO; `false` in TOML/JSON, see [`crate::azo::optional`]).
    #[serde(with = "crate::azo::optional")]
    pub azo: Option<AzoConfig>,
    /// LIF parameters of every neuron.
    pub lif: LifConfig,
    /// Seed of the parameter initialisation.
    pub init_seed: u64,
    /// Seed of the dropout masks.
    pub dropout_seed: u64,
}

impl Default for Vgg8Config {
    fn default() -> Self {
        Self {
            time_steps: 16,
            num_classes: 11,
            in_channels: 2,
            height: 128,
            width: 128,
            widths: [64, 128, 256, 512, 512],
            head: [2048, 1024],
            pool_size: 3,
            dropout: 0.5,
            sma: true,
            sma_blocks: vec![2, 3],
            sma_position: SmaPosition::L1,
            sma_kernels: vec![1, 3, 5, 7],
            c_reduction: 4,
            t_reduction: 4,
            sma_activation: Activation::Lif,
            azo: Some(AzoConfig { rcr: 10, rtr: 4 }),
            lif: LifConfig::default(),
            init_seed: 0,
            dropout_seed: 0,
        }
    }
}

/// Where SMA sits inside a conv block (paper Fig. 2, "SMA position").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SmaPosition {
    /// After the conv, before BatchNorm (the released code): `conv, SMA, BN, LIF, pool`.
    #[default]
    L1,
    /// After BatchNorm: `conv, BN, SMA, LIF, pool`.
    L2,
    /// After the LIF neuron: `conv, BN, LIF, SMA, pool`.
    L3,
}

impl SmaPosition {
    /// Index of the SMA in the block's PyTorch `Sequential` (conv is 0).
    pub fn index(self) -> usize {
        match self {
            SmaPosition::L1 => 1,
            SmaPosition::L2 => 2,
            SmaPosition::L3 => 3,
        }
    }
}

/// Module paths of the head's three Linear layers (the reference's `others` `Sequential`).
pub const HEAD_LINEARS: [&str; 3] = ["others.2", "others.5", "others.8"];

/// The paper's SMA ablations (Fig. 2: placement T1–T4, S1–S4 and position L1–L3; Table 1:
/// 2–6 scales), as name and description; [`Vgg8Config::apply_ablation`] applies one.
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

impl Vgg8Config {
    /// Fields a trainer sets from the data and its seed rather than from a config file: T, the
    /// class count, the input's channels and size, and the two seeds.
    pub const DATA_FIELDS: [&'static str; 7] = [
        "time_steps",
        "num_classes",
        "in_channels",
        "height",
        "width",
        "init_seed",
        "dropout_seed",
    ];

    /// Sets the SMA placement, position or scale count of ablation `name` (see [`ABLATIONS`]);
    /// the other settings keep their values.
    pub fn apply_ablation(&mut self, name: &str) -> error::Result<()> {
        match name {
            "T1" => {
                self.sma = false;
                self.azo = None;
                self.sma_blocks = Vec::new();
            }
            "T2" | "T3" | "T4" | "S1" | "S2" | "S3" | "S4" => {
                self.sma = true;
                self.sma_position = SmaPosition::L1;
                self.sma_blocks = match name {
                    "T2" => vec![1],
                    "T3" => vec![2, 3, 4, 5],
                    "T4" => vec![1, 2, 3, 4, 5],
                    "S1" => vec![3, 5],
                    "S2" => vec![2, 4],
                    "S3" => vec![2, 3],
                    _ => vec![4, 5],
                };
            }
            "L1" | "L2" | "L3" => {
                self.sma = true;
                self.sma_blocks = vec![2, 3];
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
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "unknown ablation {name:?} (known: {})",
                            ABLATIONS.map(|a| a.0).join(", ")
                        ))
                    })?;
                self.sma = true;
                self.sma_kernels = (0..n).map(|i| 2 * i + 1).collect();
            }
        }
        Ok(())
    }

    /// Scales conv and head widths by `m` (rounded, at least 1), e.g. 0.125 for CPU-sized runs.
    pub fn with_width_multiplier(mut self, m: f64) -> Self {
        let s = |v: usize| ((v as f64 * m).round() as usize).max(1);
        self.widths = self.widths.map(s);
        self.head = self.head.map(s);
        self
    }

    /// Whether block `i` (1-based) carries an SMA.
    pub fn has_sma(&self, i: usize) -> bool {
        self.sma && self.sma_blocks.contains(&i)
    }

    /// Flattened head input: `widths[4] · pool²`.
    pub fn head_input(&self) -> usize {
        self.widths[4] * self.pool_size * self.pool_size
    }

    /// SMA configuration of a block with `channels` channels.
    pub fn sma_config(&self, channels: usize) -> SmaConfig {
        SmaConfig {
            channels,
            time_steps: self.time_steps,
            kernels: self.sma_kernels.clone(),
            c_reduction: self.c_reduction,
            t_reduction: self.t_reduction,
            activation: self.sma_activation,
            azo: self.azo,
            lif: self.lif,
        }
    }

    fn validate(&self) -> error::Result<()> {
        if self.widths.contains(&0) || self.head.contains(&0) || self.num_classes == 0 {
            return Err(Error::Config(
                "widths, head sizes and classes must be positive".into(),
            ));
        }
        if self.height < 32 || self.width < 32 {
            return Err(Error::Config(format!(
                "input {}x{} too small: five 2x2 max-pools need at least 32x32",
                self.height, self.width
            )));
        }
        if self.time_steps == 0 || self.in_channels == 0 || self.pool_size == 0 {
            return Err(Error::Config(
                "time_steps, in_channels and pool_size must be positive".into(),
            ));
        }
        if let Some(b) = self.sma_blocks.iter().find(|&&b| !(1..=5).contains(&b)) {
            return Err(Error::Config(format!(
                "sma_blocks holds block {b}; blocks are numbered 1 to 5"
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!(
                "dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Block {
    conv: Conv2d,
    sma: Option<Sma>,
    sma_name: String,
    bn: BatchNorm,
    lif: Lif,
}

/// Outputs of one forward with the per-block intermediates.
#[derive(Debug, Clone)]
pub struct Vgg8Trace {
    /// Network output `[T, B, K]`.
    pub output: Tensor,
    /// Output of each conv block after max-pooling, `[T, B, C, H, W]` (5 entries).
    pub blocks: Vec<Tensor>,
}

/// What [`SmaVgg8::forward_recorded`] returns.
#[derive(Debug, Clone)]
pub struct Vgg8Recording {
    /// Network output `[T, B, K]`.
    pub output: Tensor,
    /// Output of each conv block after max-pooling, `[T, B, C, H, W]` (the next block's input
    /// spikes), keyed in order `block1`..`block5`.
    pub blocks: Vec<Tensor>,
    /// Spikes of every LIF layer, `[T, B, C, H, W]` (conv) or `[T, B, F]` (head), by layer name.
    pub spikes: BTreeMap<String, Tensor>,
    /// Scale weights of every SMA module (`block2.1`, ...): `W_α [N, T, B]`, `W_β [N, T, B, C]`.
    pub scale_weights: BTreeMap<String, (Tensor, Tensor)>,
    /// Firing rate per LIF layer of this forward.
    pub firing_rates: BTreeMap<String, f64>,
}

/// A layer with weights, described for operation counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynapticLayer {
    /// Reference module path (`block1.0.0`, `block2.1.S_Convs.0.conv`, `others.2`, ...).
    pub name: String,
    /// Multiply-accumulates per sample and time step (what the same layer costs in an ANN).
    pub macs_per_step: u64,
    /// Input values per sample and time step.
    pub input_neurons: u64,
    /// Where its input comes from when that input is binary spikes: a LIF layer name, or
    /// `blockK` for the max-pooled output of conv block K. `None` = real-valued input (the
    /// event frames, a conv output, an average pool), which costs multiply-accumulates.
    pub spike_input: Option<String>,
}

/// The SMA-VGG8 network.
pub struct SmaVgg8 {
    cfg: Vgg8Config,
    store: ParamStore,
    rates: FiringRates,
    blocks: Vec<Block>,
    fc: [Linear; 3],
    head_lif: [Lif; 2],
    dropout: [SeqDropout; 2],
    drop_rng: Arc<Mutex<ChaCha8Rng>>,
}

impl std::fmt::Debug for SmaVgg8 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmaVgg8")
            .field("cfg", &self.cfg)
            .field("store", &self.store)
            .finish()
    }
}

impl SmaVgg8 {
    /// Builds the network on `device` with PyTorch default init seeded by `cfg.init_seed`.
    pub fn new(cfg: &Vgg8Config, device: &Device) -> error::Result<Self> {
        cfg.validate()?;
        let store = ParamStore::new(device, cfg.init_seed);
        let rates = FiringRates::new();
        let mut blocks = Vec::with_capacity(5);
        let mut cin = cfg.in_channels;
        for (i, &cout) in cfg.widths.iter().enumerate() {
            let name = format!("block{}", i + 1);
            // Sequential indices: conv 0, then BN and LIF, with the SMA inserted at its position.
            let pos = cfg.sma_position.index();
            let with_sma = cfg.has_sma(i + 1);
            let conv = Conv2d::new(&store, &format!("{name}.0.0"), cin, cout, 3, 1)?;
            let shift = |k: usize| if with_sma && k >= pos { k + 1 } else { k };
            let sma = if with_sma {
                Some(Sma::new(
                    &store,
                    &format!("{name}.{pos}"),
                    &cfg.sma_config(cout),
                    &rates,
                )?)
            } else {
                None
            };
            let bn = BatchNorm::new(&store, &format!("{name}.{}.0", shift(1)), cout)?;
            let lif = Lif::new(cfg.lif, &format!("{name}.{}", shift(2)), rates.clone());
            blocks.push(Block {
                conv,
                sma,
                sma_name: format!("{name}.{pos}"),
                bn,
                lif,
            });
            cin = cout;
        }
        let [h0, h1, h2] = HEAD_LINEARS;
        let fc = [
            Linear::new(&store, h0, cfg.head_input(), cfg.head[0])?,
            Linear::new(&store, h1, cfg.head[0], cfg.head[1])?,
            Linear::new(&store, h2, cfg.head[1], cfg.num_classes)?,
        ];
        let head_lif = [
            Lif::new(cfg.lif, "others.3", rates.clone()),
            Lif::new(cfg.lif, "others.6", rates.clone()),
        ];
        let drop_rng = dropout_rng(cfg.dropout_seed);
        let dropout = [
            SeqDropout::new(cfg.dropout, "others.4", drop_rng.clone()),
            SeqDropout::new(cfg.dropout, "others.7", drop_rng.clone()),
        ];
        Ok(Self {
            cfg: cfg.clone(),
            store,
            rates,
            blocks,
            fc,
            head_lif,
            dropout,
            drop_rng,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Vgg8Config {
        &self.cfg
    }

    /// Parameters and buffers.
    pub fn store(&self) -> &ParamStore {
        &self.store
    }

    /// Trainable parameters as a candle-nn `VarMap` (PyTorch names).
    pub fn varmap(&self) -> &candle_nn::VarMap {
        self.store.varmap()
    }

    /// Trainable parameters sorted by name (what an optimizer updates).
    pub fn named_parameters(&self) -> Vec<(String, Var)> {
        self.store.named_parameters()
    }

    /// BatchNorm buffers sorted by name.
    pub fn named_buffers(&self) -> Vec<(String, Tensor)> {
        self.store.named_buffers()
    }

    /// Saves parameters and buffers as safetensors (atomic).
    pub fn save_safetensors(&self, path: &Path) -> error::Result<()> {
        self.store.save_safetensors(path)
    }

    /// Loads parameters and buffers by name from a safetensors file (e.g. one written from the
    /// reference PyTorch model's `state_dict`).
    pub fn load_safetensors(&self, path: &Path) -> error::Result<()> {
        self.store.load_safetensors(path)
    }

    /// Spike rate of every LIF layer in the last forward, keyed by the reference module path
    /// (`block1.2`, `block2.1.S_Convs.0.lif`, `block2.3`, ..., `others.3`, `others.6`).
    pub fn firing_rates(&self) -> BTreeMap<String, f64> {
        self.rates.snapshot()
    }

    /// Uses the given masks (`[B, F]`, keyed `others.4` / `others.7`, optionally with the
    /// parity files' `dropout.` prefix and `.mask` suffix) for the next training forward.
    pub fn set_dropout_masks(&self, masks: &HashMap<String, Tensor>) -> error::Result<()> {
        for (k, v) in masks {
            let key = k.trim_start_matches("dropout.").trim_end_matches(".mask");
            let d = self
                .dropout
                .iter()
                .find(|d| d.name() == key)
                .ok_or_else(|| Error::Config(format!("no dropout layer named {k}")))?;
            d.inject_mask(v.clone());
        }
        Ok(())
    }

    /// Masks used by the last training forward, keyed `others.4` / `others.7`.
    pub fn last_dropout_masks(&self) -> BTreeMap<String, Tensor> {
        self.dropout
            .iter()
            .filter_map(|d| d.last_mask().map(|m| (d.name().to_string(), m)))
            .collect()
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

    /// Restores a state from [`SmaVgg8::dropout_rng_state`].
    pub fn set_dropout_rng_state(&self, seed: [u8; 32], word_pos: u128) {
        use rand::SeedableRng;
        let mut r = ChaCha8Rng::from_seed(seed);
        r.set_word_pos(word_pos);
        if let Ok(mut g) = self.drop_rng.lock() {
            *g = r;
        }
    }

    /// Eval-mode forward that also returns every LIF layer's spikes and every SMA module's scale
    /// weights (for analysis: heatmaps, spike counts, scale importance, energy).
    pub fn forward_recorded(&self, x: &Tensor) -> Result<Vgg8Recording> {
        self.rates.keep_tensors(true);
        let res = self.forward_trace(x, false);
        let kept = self.rates.take_kept();
        self.rates.keep_tensors(false);
        let trace = res?;
        let t = x.dim(0)?;
        let spikes = kept
            .spikes
            .into_iter()
            .map(|(k, v)| {
                let mut dims = vec![t, v.dim(0)? / t];
                dims.extend_from_slice(&v.dims()[1..]);
                Ok((k, v.reshape(dims)?))
            })
            .collect::<Result<BTreeMap<_, _>>>()?;
        Ok(Vgg8Recording {
            output: trace.output,
            blocks: trace.blocks,
            spikes,
            scale_weights: kept.scale_weights,
            firing_rates: self.rates.snapshot(),
        })
    }

    /// Every layer with weights, in forward order, with its multiply-accumulates per sample and
    /// time step and where its input comes from (for the energy estimate).
    pub fn synaptic_layers(&self) -> Vec<SynapticLayer> {
        let c = &self.cfg;
        let mut out = Vec::new();
        let (mut h, mut w) = (c.height as u64, c.width as u64);
        let mut cin = c.in_channels as u64;
        for (i, blk) in self.blocks.iter().enumerate() {
            let cout = c.widths[i] as u64;
            let hw = h * w;
            // A block's pooled output is binary unless an SMA after its LIF (L3) reweighted it.
            let l3 = c.sma_position == SmaPosition::L3;
            let binary_in = i > 0 && !(l3 && self.blocks[i - 1].sma.is_some());
            out.push(SynapticLayer {
                name: format!("block{}.0.0", i + 1),
                macs_per_step: cout * cin * 9 * hw,
                input_neurons: cin * hw,
                spike_input: binary_in.then(|| format!("block{}", i)),
            });
            if let Some(sma) = &blk.sma {
                let sc = sma.config();
                let (ch, th) = (sc.c_hidden() as u64, sc.t_hidden() as u64);
                let (n, tt) = (sc.kernels.len() as u64, sc.time_steps as u64);
                for (j, &k) in sc.kernels.iter().enumerate() {
                    out.push(SynapticLayer {
                        name: format!("{}.S_Convs.{j}.conv", blk.sma_name),
                        macs_per_step: cout * cout * (k * k) as u64 * hw,
                        input_neurons: cout * hw,
                        // At L3 the encoders read the block's spikes; else real values.
                        spike_input: l3.then(|| blk.lif.name().to_string()),
                    });
                }
                // The attention maps: per (t, b) for C-MSE; T-MSE runs once per sample, spread
                // over the T steps.
                out.push(SynapticLayer {
                    name: format!("{}.attention", blk.sma_name),
                    macs_per_step: cout * ch + n * ch * cout + (tt * th + n * th * tt).div_ceil(tt),
                    input_neurons: cout,
                    spike_input: None,
                });
            }
            cin = cout;
            h /= 2;
            w /= 2;
        }
        let f = [c.head_input() as u64, c.head[0] as u64, c.head[1] as u64];
        let o = [c.head[0] as u64, c.head[1] as u64, c.num_classes as u64];
        for (i, name) in HEAD_LINEARS.iter().enumerate() {
            out.push(SynapticLayer {
                name: name.to_string(),
                macs_per_step: f[i] * o[i],
                input_neurons: f[i],
                // The first head layer sees average-pooled (not binary) values.
                spike_input: match i {
                    1 => Some("others.3".into()),
                    2 => Some("others.6".into()),
                    _ => None,
                },
            });
        }
        out
    }

    /// Names of the LIF layers in forward order (reference module paths).
    pub fn lif_layers(&self) -> Vec<String> {
        let mut v = Vec::new();
        for blk in &self.blocks {
            if let Some(sma) = &blk.sma {
                if sma.config().activation == crate::sma::Activation::Lif {
                    for j in 0..sma.config().kernels.len() {
                        v.push(format!("{}.S_Convs.{j}.lif", blk.sma_name));
                    }
                }
            }
            v.push(blk.lif.name().to_string());
        }
        v.extend(self.head_lif.iter().map(|l| l.name().to_string()));
        v
    }

    /// `x` `[T, B, C_in, H, W]` -> `[T, B, K]`. `train`: BatchNorm batch statistics (and running
    /// statistics update), AZO, dropout. Every LIF starts from rest (the reference resets per batch).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> Result<Tensor> {
        Ok(self.forward_trace(x, train)?.output)
    }

    /// Forward that also returns every block's output.
    pub fn forward_trace(&self, x: &Tensor, train: bool) -> Result<Vgg8Trace> {
        let (t, _, c, _, _) = x.dims5()?;
        let any_sma = self.blocks.iter().any(|b| b.sma.is_some());
        if c != self.cfg.in_channels || (any_sma && t != self.cfg.time_steps) {
            candle_core::bail!(
                "SMA-VGG8 built for T={} C={}, got input {:?}",
                self.cfg.time_steps,
                self.cfg.in_channels,
                x.dims()
            );
        }
        self.forward_from(x, 0, train)
    }

    /// Runs the network from conv block `first` (0-based; 5 = the head only) on `x`, the input
    /// of that block `[T, B, C, H, W]`. Used to check blocks one at a time against reference
    /// intermediates (teacher forcing). `blocks` of the trace holds the outputs of the blocks run.
    pub fn forward_from(&self, x: &Tensor, first: usize, train: bool) -> Result<Vgg8Trace> {
        let (t, b, _, _, _) = x.dims5()?;
        let mut cur = fold_tb(x)?; // [T*B, C, H, W]
        let mut outs = Vec::with_capacity(self.blocks.len());
        for blk in self.blocks.iter().skip(first) {
            let mut y = {
                let _p = crate::profile::scope("conv");
                blk.conv.forward(&cur)?
            };
            let pos = self.cfg.sma_position;
            let sma = |y: Tensor| -> Result<Tensor> {
                match &blk.sma {
                    Some(sma) => {
                        let tr = sma.forward_folded(&y, t, train)?;
                        self.rates
                            .keep_scale_weights(&blk.sma_name, &tr.w_alpha, &tr.w_beta);
                        Ok(tr.output)
                    }
                    None => Ok(y),
                }
            };
            if pos == SmaPosition::L1 {
                y = sma(y)?;
            }
            let mut y = blk.bn.forward_t(&y, train)?;
            if pos == SmaPosition::L2 {
                y = sma(y)?;
            }
            let mut s = blk.lif.forward_steps(&y, t)?;
            if pos == SmaPosition::L3 {
                s = sma(s)?;
            }
            cur = max_pool2x2(&s)?;
            outs.push(unfold_tb(&cur, t)?);
        }
        // The classifier (its LIFs count as `lif`: profile scopes are exclusive).
        let _head = crate::profile::scope("head");
        let pooled = adaptive_avg_pool2d(&cur, self.cfg.pool_size)?.flatten_from(1)?; // [T*B, F]
        let mut z = pooled;
        for i in 0..2 {
            let y = self.fc[i].forward(&z)?;
            let f = y.dim(1)?;
            let s = self.head_lif[i].forward_steps(&y, t)?.reshape((t, b, f))?;
            z = fold_tb(&self.dropout[i].forward_t(&s, train)?)?;
        }
        let out = self.fc[2]
            .forward(&z)?
            .reshape((t, b, self.cfg.num_classes))?;
        Ok(Vgg8Trace {
            output: out,
            blocks: outs,
        })
    }
}
