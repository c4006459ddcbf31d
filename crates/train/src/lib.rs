//! snnkit-train: see Cargo.toml description.
