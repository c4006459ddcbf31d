//! snnkit-model: spiking layers on candle — LIF, SMA, AZO and SMA-VGG8, numerically matching the
//! authors' PyTorch code (SMA-AZO on spikingjelly 0.0.0.0.14). Spec: `../shared/docs/sma-azo-spec.md`.
//!
//! # Public API (stable names; the trainer codes against these)
//!
//! Network:
//! - [`Vgg8Config`] (serde, `#[serde(default, deny_unknown_fields)]`; `Default` = the released
//!   DVS128 Gesture network): `time_steps, num_classes, in_channels, height, width, widths: [usize;
//!   5], head: [usize; 2], pool_size, dropout, sma: bool, sma_blocks, sma_position, sma_kernels,
//!   c_reduction, t_reduction, sma_activation: Activation, azo: Option<AzoConfig>, lif: LifConfig,
//!   init_seed, dropout_seed`. The per-dataset settings are the trainer's TOML presets
//!   (`snnkit_train::TrainConfig::preset`), which embed this type as `[model.vgg8]`.
//!   - `.with_width_multiplier(f64) -> Vgg8Config`; explicit widths: set `widths` / `head` /
//!     `height` / `width` fields. `sma: false` = VGG without SMA; `azo: None` = SMA without AZO
//!     (`azo = false` in TOML).
//!   - `.apply_ablation(name)` for the paper's [`ABLATIONS`] (T1–T4, S1–S4, L1–L3, N2–N6).
//! - [`InitOptions`] (`bn_bias_init`, `head_gain`): `InitOptions::apply(&Network)` adjusts a
//!   fresh network's BatchNorm biases and head weights ([`Network::head_weights`]).
//! - [`SmaVgg8`]:
//!   - `SmaVgg8::new(&Vgg8Config, &Device) -> Result<SmaVgg8>`
//!   - `forward_t(&self, x: &Tensor /*[T,B,2,H,W]*/, train: bool) -> candle_core::Result<Tensor /*[T,B,K]*/>`
//!   - `forward_trace(&self, x, train) -> candle_core::Result<Vgg8Trace { output, blocks }>`
//!   - `named_parameters() -> Vec<(String, Var)>` (trainable, sorted), `varmap() -> &VarMap`,
//!     `named_buffers() -> Vec<(String, Tensor)>` (BN running stats + `num_batches_tracked`),
//!     `store() -> &ParamStore`
//!   - `save_safetensors(&Path) -> Result<()>` (atomic), `load_safetensors(&Path) -> Result<()>`
//!     (by PyTorch name; extra tensors in the file are ignored, missing ones are an error)
//!   - `firing_rates() -> BTreeMap<String, f64>`: spike rate per LIF layer of the last forward,
//!     keyed by reference module path (`block1.2`, `block2.1.S_Convs.0.lif`, `block2.3`, ...,
//!     `others.3`, `others.6`)
//!   - `set_dropout_masks(&HashMap<String, Tensor>) -> Result<()>` (keys `others.4`/`others.7`,
//!     `[B,F]`, used by the next training forward only), `last_dropout_masks()`,
//!     `dropout_rng_state() -> ([u8; 32], u128)`, `set_dropout_rng_state(seed, word_pos)`
//!   - `forward_recorded(&self, x) -> candle_core::Result<Vgg8Recording>`: eval forward keeping
//!     every LIF layer's spikes and every SMA's scale weights; `synaptic_layers()` (MACs per
//!     step and input kind per weighted layer, for energy estimates); `lif_layers()`
//!   - `forward_from(&self, x: &Tensor /*input of block k, [T,B,C,H,W]*/, k: usize, train) -> Vgg8Trace`
//!     (teacher forcing: run from conv block `k`, 0-based; 5 = head only)
//!
//! Profiling for benchmarks: [`profile::enable`]`(bool)`, [`profile::reset`](),
//! [`profile::snapshot`]`() -> BTreeMap<&'static str, f64>` (seconds per part: `lif`, `lif_bwd`,
//! `sma_encoder_conv`, `sma_attention`, `sma_combine`, `azo`, `batchnorm`, `batchnorm_bwd`, `conv`, `pool`,
//! `pool_bwd`; parts do not nest).
//!
//! Modules: [`Lif`] / [`LifConfig`] / [`lif_multistep`] / [`lif_multistep_t`] (fused custom op
//! [`LifOp`]; `Lif::forward_steps(x, t)` runs on a folded `[T·B, ...]` tensor),
//! `Sma::forward_t` / `Sma::forward_trace` (`[T,B,C,H,W]`) / `Sma::forward_folded(xf, t, train)`,
//! [`Sma`] / [`SmaConfig`] / [`SmaTrace`] / [`Activation`], [`AzoConfig`] / [`AzoSelection`] /
//! [`azo::azo_select`] / [`azo::azo_replace`], [`layers::BatchNorm`], [`layers::SeqDropout`],
//! [`layers::max_pool2x2`], [`layers::adaptive_avg_pool2d`], [`conv::conv2d`] (the single
//! convolution entry point), [`ParamStore`], [`FiringRates`], [`Error`] / [`Result`].
//!
//! SMA placement (paper Fig. 2 and Table 1): `Vgg8Config::sma_blocks` (1-based subset of blocks
//! 1..=5, default `[2, 3]`), `sma_position` ([`SmaPosition`] `L1` after the conv (default), `L2`
//! after BN, `L3` after the LIF) and `sma_kernels` (the scales). Names follow a PyTorch
//! `Sequential` with the SMA inserted at that index: `block4.2` is the SMA of block 4 at L2, whose
//! BN is then `block4.1.0` and LIF `block4.3`.
//!
//! Parameter names are the reference's PyTorch `state_dict` names (`block2.1.S_Convs.2.bn.running_var`,
//! `others.2.weight`, ...). Without SMA, blocks 2 and 3 are named like blocks 1, 4, 5
//! (`blockK.0.0` conv, `blockK.1.0` BN), as a PyTorch `Sequential` without the SMA entry would be.

#![warn(missing_docs)]

pub mod azo;
mod bias_op;
mod bn_op;
mod combine_op;
pub mod conv;
mod cpu_slice;
pub mod error;
pub mod init;
pub mod layers;
pub mod lif;
pub mod mem_update;
pub mod network;
mod pool_op;
pub mod profile;
pub mod resnet;
pub mod runtime;
pub mod sma;
pub mod store;
pub mod vgg;

pub use azo::{AzoConfig, AzoSelection};
pub use error::{Error, Result};
pub use init::InitOptions;
pub use lif::{
    lif_multistep, lif_multistep_composed, lif_multistep_t, FiringRates, Kept, Lif, LifConfig,
    LifOp,
};
pub use mem_update::{MemUpdate, MemUpdateConfig};
pub use network::{Network, NetworkConfig};
pub use resnet::{MsResNet, MsResNetArch, MsResNetConfig, MsResNetTrace};
pub use sma::{Activation, Sma, SmaConfig, SmaLayout, SmaTrace};
pub use store::ParamStore;
pub use vgg::{
    SmaPosition, SmaVgg8, SynapticLayer, Vgg8Config, Vgg8Recording, Vgg8Trace, ABLATIONS,
    HEAD_LINEARS,
};
