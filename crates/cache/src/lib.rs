//! snnkit-cache: see Cargo.toml description.
