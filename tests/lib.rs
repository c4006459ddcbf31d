//! End-to-end tests for snnkit live in this package's `[[test]]` targets; this library is empty on purpose.
