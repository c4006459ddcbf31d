//! `snnkit`: raw event files in, trained SMA-AZO networks out.

mod cmd;
mod npy;
mod progress;
mod usage;

use clap::{Parser, Subcommand};

/// Neuromorphic event data and spiking neural networks: decode, bin, cache, train, evaluate.
#[derive(Parser)]
#[command(name = "snnkit", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a summary of an event file (format, sensor size, event count, time span).
    Inspect(cmd::inspect::Args),
    /// Decode an event file into an int64 [N, 4] .npy array (t, x, y, p), or convert it to the
    /// event format the output extension names (.aedat4, .aedat, .raw, .dat, .h5).
    Events(cmd::events::Args),
    /// Integrate an event file into [T, 2, H, W] frames as .npy: float32 for SpikingJelly's modes
    /// (--split-by, --duration), int16 for Tonic's (--tonic-mode).
    Frames(cmd::frames::Args),
    /// Write a synthetic dataset in the DVS128 Gesture layout (AEDAT 3.1 files, label CSVs, trial lists).
    Synth(cmd::synth::Args),
    /// Convert a dataset into the HDF5 frame cache (one file per split).
    Convert(cmd::convert::Args),
    /// Inspect frame caches.
    Cache(cmd::cache::Args),
    /// Convert a PyTorch checkpoint (torch.save zip, e.g. the authors' weights) to safetensors.
    ConvertWeights(cmd::convert_weights::Args),
    /// Train an SMA-AZO network on a frame cache.
    Train(cmd::train::Args),
    /// Evaluate a checkpoint on a frame cache.
    Eval(cmd::eval::Args),
    /// Look inside a trained network: firing-rate heatmaps, spike counts, scale importance, energy.
    Explain(cmd::explain::Args),
    /// Run the whole pipeline on the synthetic dataset: synth, convert, train, eval.
    Demo(cmd::demo::Args),
    /// Benchmarks: decoding, binning, conversion, loading, convolution, training steps.
    Bench(cmd::bench::Args),
}

fn main() -> std::process::ExitCode {
    snnkit_model::runtime::tune_cpu_process();
    restore_default_sigpipe();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SNNKIT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Events(a) => cmd::events::run(a),
        Command::Frames(a) => cmd::frames::run(a),
        Command::Synth(a) => cmd::synth::run(a),
        Command::Convert(a) => cmd::convert::run(a),
        Command::Cache(a) => cmd::cache::run(a),
        Command::ConvertWeights(a) => cmd::convert_weights::run(a),
        Command::Train(a) => cmd::train::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Explain(a) => cmd::explain::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Bench(a) => cmd::bench::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line, naming the file and offset where the error carries them.
            eprintln!("error: {e:#}");
            // Usage errors exit 2 like clap's own; everything else is a runtime error (1).
            if usage::is_usage(&e) {
                std::process::ExitCode::from(2)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}

/// Rust ignores SIGPIPE, so writing to a closed pipe (`snnkit eval --json | head`) would panic; like other
/// command-line tools, snnkit should simply stop quietly instead. With the default disposition the
/// process ends at the first write to a closed pipe (status 141 from the shell, no message), so the
/// `BrokenPipe` branches of `print_stdout` only matter where a caller ignores SIGPIPE itself.
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: setting a signal disposition to its default at start-up, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
