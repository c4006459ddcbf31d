//! Progress on stderr, the same way in every command (docs/cli.md): a bar on a terminal, a plain
//! line at a steady interval without one (job schedulers, `nohup`, `> log 2>&1`), nothing with
//! `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The interval of plain progress lines unless `SNNKIT_PROGRESS_INTERVAL` says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Nothing (`--quiet`).
    Hidden,
    /// An indicatif bar (stderr is a terminal).
    Bar,
    /// A plain line every [`interval`] (stderr is a file or a pipe).
    Lines,
}

impl Mode {
    /// The mode for a command run with or without `--quiet`.
    pub fn detect(quiet: bool) -> Mode {
        if quiet {
            Mode::Hidden
        } else if std::io::stderr().is_terminal() {
            Mode::Bar
        } else {
            Mode::Lines
        }
    }
}

/// `SNNKIT_PROGRESS_INTERVAL` in seconds (fractions allowed), else [`DEFAULT_INTERVAL`].
pub fn interval() -> Duration {
    std::env::var("SNNKIT_PROGRESS_INTERVAL")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(DEFAULT_INTERVAL, Duration::from_secs_f64)
}

/// `45s`, `2m 13s`, `1h 05m`.
pub fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// What a plain progress line shows.
struct State {
    label: String,
    unit: &'static str,
    pos: u64,
    total: u64,
    msg: String,
    start: Instant,
}

impl State {
    fn line(&self) -> String {
        let elapsed = self.start.elapsed().as_secs_f64();
        let mut line = format!("{}: {}/{} {}", self.label, self.pos, self.total, self.unit);
        if !self.msg.is_empty() {
            line.push_str(", ");
            line.push_str(&self.msg);
        }
        if self.pos > 0 && self.total > self.pos {
            let left = elapsed / self.pos as f64 * (self.total - self.pos) as f64;
            line.push_str(&format!(", {} left", human_duration(left)));
        } else {
            line.push_str(&format!(", {} elapsed", human_duration(elapsed)));
        }
        line
    }
}

fn lock(s: &Mutex<State>) -> MutexGuard<'_, State> {
    // A panic elsewhere must not turn progress reporting into a second panic.
    s.lock().unwrap_or_else(|e| e.into_inner())
}

/// One phase's progress (an epoch's batches, a split's files). Stops when finished or dropped.
pub struct Ticker {
    bar: Option<ProgressBar>,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts showing `label: pos/total unit, msg` in `mode`.
    pub fn new(mode: Mode, label: &str, unit: &'static str, total: u64) -> Self {
        let state = Arc::new(Mutex::new(State {
            label: label.to_string(),
            unit,
            pos: 0,
            total,
            msg: String::new(),
            start: Instant::now(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let bar = (mode == Mode::Bar).then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar.set_prefix(label.to_string());
            // Keeps the elapsed time moving during a long first batch.
            bar.enable_steady_tick(Duration::from_millis(500));
            bar
        });
        // A thread rather than printing from `set`: the line must come even while one batch
        // (or the first, which also opens files and starts the prefetcher) takes minutes.
        let thread = (mode == Mode::Lines).then(|| {
            let (state, stop) = (Arc::clone(&state), Arc::clone(&stop));
            let every = interval();
            std::thread::spawn(move || {
                let mut next = Instant::now() + every;
                loop {
                    while Instant::now() < next {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        // `finish` unparks the thread, so stopping never waits out the interval.
                        std::thread::park_timeout(next.saturating_duration_since(Instant::now()));
                    }
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    eprintln!("{}", lock(&state).line());
                    next += every;
                }
            })
        });
        Ticker {
            bar,
            state,
            stop,
            thread,
        }
    }

    /// Changes the total (e.g. once a conversion knows its file count).
    pub fn set_total(&self, total: u64) {
        lock(&self.state).total = total;
        if let Some(b) = &self.bar {
            b.set_length(total);
        }
    }

    /// Changes the label (e.g. the split being converted) and restarts the clock.
    pub fn set_label(&self, label: &str) {
        let mut s = lock(&self.state);
        s.label = label.to_string();
        s.start = Instant::now();
        if let Some(b) = &self.bar {
            b.reset();
            b.set_prefix(label.to_string());
        }
    }

    /// Position and message (running loss, throughput).
    pub fn set(&self, pos: u64, msg: String) {
        if let Some(b) = &self.bar {
            b.set_position(pos);
            b.set_message(msg.clone());
        }
        let mut s = lock(&self.state);
        s.pos = pos;
        s.msg = msg;
    }

    /// Sets only the message.
    pub fn message(&self, msg: String) {
        if let Some(b) = &self.bar {
            b.set_message(msg.clone());
        }
        lock(&self.state).msg = msg;
    }

    /// The bytes-style callback of the event converter: `pos` of `len`.
    pub fn bytes(&self, pos: u64, len: u64) {
        let mut s = lock(&self.state);
        s.total = len;
        s.pos = pos;
        drop(s);
        if let Some(b) = &self.bar {
            b.set_length(len);
            b.set_position(pos);
        }
    }

    /// Clears the bar and stops the line thread.
    pub fn finish(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_show_rate_and_time_left() {
        let s = State {
            label: "epoch 1/3 train".into(),
            unit: "batches",
            pos: 2,
            total: 6,
            msg: "loss 0.5000".into(),
            start: Instant::now() - Duration::from_secs(10),
        };
        let l = s.line();
        assert!(
            l.starts_with("epoch 1/3 train: 2/6 batches, loss 0.5000, "),
            "{l}"
        );
        assert!(l.ends_with("20s left"), "{l}");
        assert_eq!(human_duration(133.0), "2m 13s");
        assert_eq!(human_duration(3900.0), "1h 05m");
    }
}
