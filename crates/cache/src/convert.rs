//! Conversion (in progress).
