//! snnkit-datasets
