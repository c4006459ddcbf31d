//! Storage access shared by the fused CPU custom ops (`*_op.rs`, [`crate::lif`]).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, Layout, Result};

/// Borrows the f32 data of a contiguous CPU storage; `what` names the tensor in the error.
pub(crate) fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, what: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else {
        candle_core::bail!("{what}: expected f32, got {:?}", s.dtype());
    };
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => candle_core::bail!("{what}: expected a contiguous tensor"),
    }
}
