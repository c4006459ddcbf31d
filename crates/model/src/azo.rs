//! Attention ZoneOut (AZO), the tensor-parallel version of the reference training code.
//!
//! Per scale `s`: the `n_T = T // RTR` timesteps with the smallest batch-summed time weight
//! `Σ_b W_α[s,t,b]`, then the `n_C = C // RCR` channels with the smallest `Σ_{t∈T_sel} Σ_b W_β[s,t,b,c]`.
//! Every selected `(t, c)` with `t ≠ 0` takes the same scale's weighted map of `t − 1` from the
//! *un-replaced* tensor (no chaining). The copy is an `index_select`, so gradients flow to the
//! `t − 1` source and the overwritten entries get none.

use candle_core::{Result, Tensor};
use serde::{Deserialize, Serialize};

/// AZO ratios (the reference's `RCR`, `RTR`): `n_C = C // rcr`, `n_T = T // rtr`. `Default` is
/// DVS128 Gesture's (RCR 10, RTR 4); a config table may give one ratio and take the other's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AzoConfig {
    /// Replacement channel ratio.
    pub rcr: usize,
    /// Replacement time ratio.
    pub rtr: usize,
}

impl Default for AzoConfig {
    fn default() -> Self {
        Self { rcr: 10, rtr: 4 }
    }
}

/// Serde form of an optional [`AzoConfig`] that TOML can write (it has no null): `false` = no
/// AZO, a table `{ rcr = 10, rtr = 4 }` = AZO with those ratios. JSON `null` (what checkpoints
/// held before) also reads as no AZO.
pub mod optional {
    use super::AzoConfig;
    use serde::de::{self, MapAccess, Visitor};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::fmt;

    /// Writes `false` or the ratios.
    pub fn serialize<S: Serializer>(v: &Option<AzoConfig>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(a) => a.serialize(s),
            None => s.serialize_bool(false),
        }
    }

    /// Reads `false` / `null` (no AZO) or the ratios; `true` is refused (it names no ratios).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<AzoConfig>, D::Error> {
        d.deserialize_any(Form)
    }

    /// A visitor rather than an untagged enum, so an unknown key inside the table is named in
    /// the error.
    struct Form;

    impl<'de> Visitor<'de> for Form {
        type Value = Option<AzoConfig>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("false or a table { rcr = .., rtr = .. }")
        }

        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            if v {
                Err(E::custom(
                    "azo = true names no ratios: write azo = { rcr = 10, rtr = 4 } (or false)",
                ))
            } else {
                Ok(None)
            }
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(Form)
        }

        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            AzoConfig::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
}

/// The positions AZO chose, per scale, in `torch.topk(largest=False)` order (ascending score).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AzoSelection {
    /// Selected timesteps per scale (`[N][n_T]`).
    pub time: Vec<Vec<usize>>,
    /// Selected channels per scale (`[N][n_C]`).
    pub channels: Vec<Vec<usize>>,
}

/// Indices of the `k` smallest values (ties broken by the lower index), ascending by value.
pub fn smallest_k(scores: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    idx.truncate(k.min(scores.len()));
    idx
}

/// AZO selection from the softmax outputs: `w_alpha` `[N, T, B]` and `w_beta` `[N, T, B, C]`
/// (row-major host slices).
///
/// # Panics
/// If `w_alpha` holds fewer than `n·t·b` or `w_beta` fewer than `n·t·b·c` values.
#[allow(clippy::too_many_arguments)]
pub fn azo_select(
    w_alpha: &[f32],
    w_beta: &[f32],
    n: usize,
    t: usize,
    b: usize,
    c: usize,
    n_t: usize,
    n_c: usize,
) -> AzoSelection {
    let mut sel = AzoSelection::default();
    for s in 0..n {
        let st: Vec<f64> = (0..t)
            .map(|ti| (0..b).map(|bi| w_alpha[(s * t + ti) * b + bi] as f64).sum())
            .collect();
        let ts = smallest_k(&st, n_t);
        let sc: Vec<f64> = (0..c)
            .map(|ci| {
                ts.iter()
                    .map(|&ti| {
                        (0..b)
                            .map(|bi| w_beta[((s * t + ti) * b + bi) * c + ci] as f64)
                            .sum::<f64>()
                    })
                    .sum()
            })
            .collect();
        sel.channels.push(smallest_k(&sc, n_c));
        sel.time.push(ts);
    }
    sel
}

/// Source row of every `(t, b, c)` map after replacement (identity where nothing is replaced).
pub fn azo_source_rows(t: usize, b: usize, c: usize, t_sel: &[usize], c_sel: &[usize]) -> Vec<u32> {
    let mut idx: Vec<u32> = (0..(t * b * c) as u32).collect();
    for &ti in t_sel.iter().filter(|&&ti| ti != 0 && ti < t) {
        for bi in 0..b {
            for &ci in c_sel.iter().filter(|&&ci| ci < c) {
                idx[(ti * b + bi) * c + ci] = (((ti - 1) * b + bi) * c + ci) as u32;
            }
        }
    }
    idx
}

/// Replaces, in one scale's weighted map `z` `[T, B, C, H, W]`, every `(t ∈ t_sel \ {0}, c ∈ c_sel)`
/// map by the map of `t − 1` of the same sample and channel from the original `z`.
pub fn azo_replace(z: &Tensor, t_sel: &[usize], c_sel: &[usize]) -> Result<Tensor> {
    let t = z.dims5()?.0;
    azo_replace_folded(z, t, t_sel, c_sel)
}

/// [`azo_replace`] for a map of any shape whose memory order is `[T, B, C, spatial...]`, e.g.
/// the folded `[T·B, C, H, W]`; the result keeps `z`'s shape.
pub fn azo_replace_folded(
    z: &Tensor,
    t: usize,
    t_sel: &[usize],
    c_sel: &[usize],
) -> Result<Tensor> {
    let (b, c) = match *z.dims() {
        [tt, b, c, _, _] if tt == t => (b, c),
        [tb, c, _, _] if tb.checked_rem(t) == Some(0) => (tb / t, c),
        _ => candle_core::bail!("azo_replace: bad map shape {:?} for T={t}", z.dims()),
    };
    let rows = t * b * c;
    if t_sel.iter().all(|&ti| ti == 0) || c_sel.is_empty() {
        return Ok(z.clone());
    }
    let idx = azo_source_rows(t, b, c, t_sel, c_sel);
    let idx = Tensor::from_vec(idx, rows, z.device())?;
    z.reshape((rows, ()))?
        .index_select(&idx, 0)?
        .reshape(z.shape())
}
