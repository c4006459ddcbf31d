//! One module per subcommand. Each defines `Args` (clap) and `run`.

pub mod bench;
pub mod cache;
pub mod convert;
pub mod convert_weights;
pub mod demo;
pub mod eval;
pub mod events;
pub mod explain;
pub mod frames;
pub mod inspect;
pub mod synth;
pub mod train;
