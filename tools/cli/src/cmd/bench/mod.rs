//! `snnkit bench ...`: throughput and latency figures printed for people (or JSON for scripts).

mod conv;
mod convert;
mod decode;
mod frames;
mod images;
mod loader;
mod step;

/// Which benchmark to run.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    which: Which,
}

#[derive(clap::Subcommand)]
enum Which {
    /// Event decoding throughput per format (events/s).
    Decode(decode::Args),
    /// Binning throughput (events/s), single and parallel.
    Frames(frames::Args),
    /// Conversion of a generated DVS128-Gesture-sized set into the cache.
    Convert(convert::Args),
    /// Loader throughput (samples/s) with and without augmentation.
    Loader(loader::Args),
    /// Image loader throughput (images/s): decode, random resized crop, flip, normalise.
    Images(images::Args),
    /// Convolution forward and forward+backward times per shape.
    Conv(conv::Args),
    /// Median seconds per SMA-VGG8 training step.
    Step(step::Args),
}

/// Runs the selected benchmark.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.which {
        Which::Decode(a) => decode::run(a),
        Which::Frames(a) => frames::run(a),
        Which::Convert(a) => convert::run(a),
        Which::Loader(a) => loader::run(a),
        Which::Images(a) => images::run(a),
        Which::Conv(a) => conv::run(a),
        Which::Step(a) => step::run(a),
    }
}
