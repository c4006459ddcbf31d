//! snnkit-frames: see Cargo.toml description.
