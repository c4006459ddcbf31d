//! Opt-in wall-clock accounting per model part, for `snnkit bench step`'s breakdown. It lives in
//! the lowest crate of the model stack so the convolution's own backward can report into it;
//! `snnkit_model::profile` re-exports it.
//!
//! Disabled by default (one relaxed atomic load per scope). A [`Scope`] records the time until
//! it is dropped under its part name. Scopes nest on a thread and times are **exclusive**: an
//! inner scope's time is taken out of the enclosing one, so all parts add up to at most the wall
//! time and a wide scope (say the whole backward pass) keeps only what no narrower part claimed.
//! Work a scope hands to other threads (rayon) is counted in wall time on the opening thread.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

static ENABLED: AtomicBool = AtomicBool::new(false);
static TOTALS: Mutex<BTreeMap<&'static str, f64>> = Mutex::new(BTreeMap::new());

thread_local! {
    /// Open scopes of this thread, innermost last: (part, seconds claimed by inner scopes).
    static OPEN: RefCell<Vec<(&'static str, f64)>> = const { RefCell::new(Vec::new()) };
}

/// Turns recording on or off (process-wide).
pub fn enable(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether recording is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Clears the accumulated times.
pub fn reset() {
    if let Ok(mut t) = TOTALS.lock() {
        t.clear();
    }
}

/// Accumulated exclusive seconds per part since the last [`reset`].
pub fn snapshot() -> BTreeMap<&'static str, f64> {
    TOTALS.lock().map(|t| t.clone()).unwrap_or_default()
}

/// The innermost open part on this thread, if any (a custom op reads it when built, to name its
/// backward after the layer that created it).
pub fn current() -> Option<&'static str> {
    if !enabled() {
        return None;
    }
    OPEN.with(|o| o.borrow().last().map(|(p, _)| *p))
}

/// `"{part}_bwd"`: the part a backward pass of `part`'s ops is recorded under (interned, one
/// small leak per distinct part name).
pub fn backward_name(part: &'static str) -> &'static str {
    static NAMES: Mutex<BTreeMap<&'static str, &'static str>> = Mutex::new(BTreeMap::new());
    let Ok(mut names) = NAMES.lock() else {
        return "backward";
    };
    names
        .entry(part)
        .or_insert_with(|| Box::leak(format!("{part}_bwd").into_boxed_str()))
}

/// The backward part for an op built now: `"{current part}_bwd"`, or `fallback` outside any
/// scope (or when recording is off).
pub fn backward_part(fallback: &'static str) -> &'static str {
    current().map_or(fallback, backward_name)
}

/// Records the time until it is dropped under `part` (when enabled), minus inner scopes.
pub struct Scope {
    start: Option<Instant>,
}

/// Starts timing `part`.
pub fn scope(part: &'static str) -> Scope {
    if !enabled() {
        return Scope { start: None };
    }
    OPEN.with(|o| o.borrow_mut().push((part, 0.0)));
    Scope {
        start: Some(Instant::now()),
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        let Some(start) = self.start else { return };
        let elapsed = start.elapsed().as_secs_f64();
        let popped = OPEN.with(|o| {
            let mut o = o.borrow_mut();
            let top = o.pop();
            if let Some(parent) = o.last_mut() {
                parent.1 += elapsed;
            }
            top
        });
        if let Some((part, inner)) = popped {
            if let Ok(mut t) = TOTALS.lock() {
                *t.entry(part).or_insert(0.0) += (elapsed - inner).max(0.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_scopes_are_exclusive() {
        enable(true);
        reset();
        {
            let _outer = scope("test_outer");
            std::thread::sleep(std::time::Duration::from_millis(20));
            {
                let _inner = scope("test_inner");
                assert_eq!(current(), Some("test_inner"));
                std::thread::sleep(std::time::Duration::from_millis(30));
            }
        }
        let s = snapshot();
        enable(false);
        let (outer, inner) = (s["test_outer"], s["test_inner"]);
        assert!(inner >= 0.029, "inner {inner}");
        assert!(
            (0.019..inner).contains(&outer),
            "outer {outer} inner {inner}"
        );
    }
}
