//! snnkit-model: see Cargo.toml description.
