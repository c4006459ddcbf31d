//! Placeholder while the reader is being written in this session.

use crate::error::{Ctx, Error};
use crate::format::ReadOptions;
use crate::read::Recording;
use std::path::Path;

/// Reads a file (not available yet: always an error).
pub fn read(path: &Path, _opts: &ReadOptions) -> Result<Recording, Error> {
    Err(Ctx { path }.invalid(
        0,
        "a format this build can read",
        "a format still being written",
    ))
}

#[allow(dead_code)]
pub(crate) fn decode(_b: &[u8], ctx: Ctx, _opts: &ReadOptions) -> Result<Recording, Error> {
    Err(ctx.invalid(
        0,
        "a format this build can read",
        "a format still being written",
    ))
}
