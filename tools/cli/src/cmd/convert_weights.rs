//! `snnkit convert-weights`: a PyTorch checkpoint (`torch.save` zip) to safetensors (logic in
//! `snnkit_train::torch_import`).

use anyhow::Result;
use std::path::PathBuf;

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The PyTorch checkpoint (`torch.save` zip format): a bare state_dict, or a dict holding one
    /// under `state_dict`, `model` or `net`. DistributedDataParallel's `module.` prefix is removed.
    pub input: PathBuf,
    /// The .safetensors file to write (float tensors as float32, integer ones as int64); missing
    /// parent folders are created.
    pub output: PathBuf,
    /// Print what was converted as JSON (name → shape and dtype).
    #[arg(long)]
    pub json: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    crate::usage::require_extension("OUTPUT", &args.output, "safetensors")?;
    crate::usage::create_parent(&args.output)?;
    let sd = snnkit_train::convert_torch_checkpoint(&args.input, &args.output)?;
    if args.json {
        let tensors: serde_json::Map<String, serde_json::Value> = sd
            .tensors
            .iter()
            .map(|(k, t)| {
                (
                    k.clone(),
                    serde_json::json!({"shape": t.dims(), "dtype": format!("{:?}", t.dtype()).to_lowercase()}),
                )
            })
            .collect();
        let v = serde_json::json!({
            "input": args.input,
            "output": args.output,
            "source_key": sd.source_key,
            "stripped_ddp_prefix": sd.stripped_ddp_prefix,
            "skipped": sd.skipped,
            "tensors": tensors,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let params: usize = sd.tensors.values().map(|t| t.elem_count()).sum();
    println!(
        "{}: {} tensors ({} values){}{} -> {}",
        args.input.display(),
        sd.tensors.len(),
        params,
        sd.source_key
            .as_deref()
            .map(|k| format!(", state_dict under `{k}`"))
            .unwrap_or_default(),
        if sd.stripped_ddp_prefix {
            ", `module.` prefix removed"
        } else {
            ""
        },
        args.output.display()
    );
    Ok(())
}
