//! `snnkit events FILE --out OUT.npy`: decode into an int64 `[N, 4]` array (t, x, y, p).

use crate::cmd::inspect::DecodeArgs;
use anyhow::Result;
use std::path::PathBuf;

/// Arguments of `snnkit events`.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    decode: DecodeArgs,
    /// Output .npy file: int64 [N, 4], columns t, x, y, p, in file order.
    #[arg(long)]
    out: PathBuf,
}

/// Runs `snnkit events`.
pub fn run(args: Args) -> Result<()> {
    let rec = args.decode.read()?;
    let ev = &rec.events;
    let mut a = ndarray::Array2::<i64>::zeros((ev.len(), 4));
    for (i, mut row) in a.rows_mut().into_iter().enumerate() {
        row[0] = ev.t[i];
        row[1] = ev.x[i].into();
        row[2] = ev.y[i].into();
        row[3] = ev.p[i].into();
    }
    crate::npy::write_atomic(&args.out, &a)
}
