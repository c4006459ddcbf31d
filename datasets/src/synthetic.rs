//! A synthetic dataset in the DVS128 Gesture layout, written in real formats, so the whole
//! pipeline runs with no download.
//!
//! [`generate`] writes `userNN_<lighting>.aedat` (AEDAT 3.1, 128×128, written with
//! `snnkit_events::aedat3`), `userNN_<lighting>_labels.csv`, `trials_to_train.txt`,
//! `trials_to_test.txt`, plus `classes.txt` (class names in label order) and
//! `synth_config.toml` (the configuration, for provenance). [`Synthetic`] reads the folder back
//! with the DVS128 Gesture rules.
//!
//! The classes differ only in how things move ([`SynthClass`]): a bar rotating clockwise or
//! counter-clockwise, a bar sweeping left, right, up or down, a ring expanding or contracting.
//! Summed over a whole sample, the two members of each pair give the same picture (a disk, a
//! swept strip, an annulus), so telling them apart needs the time axis. A moving bright edge
//! fires ON events on its leading side and OFF events on its trailing side, as a DVS does.
//! Sensor-like noise: uniform background activity and a few hot pixels per recording.
//! Every random choice comes from ChaCha8 seeded with the configured seed and the user index.

use crate::dataset::{Dataset, Sample, Split};
use crate::error::{io, Error, Result};
use crate::gesture::{labels_name, GestureLayout, LabelOrder};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use snnkit_events::{aedat3, Event, Events, Profile};
use std::f64::consts::PI;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Sensor side of the synthetic recordings (DVS128).
pub const SIZE: u16 = 128;

/// The motion classes. Each has a twin that differs only in direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SynthClass {
    /// A bar through the centre turning clockwise on screen (y grows downwards).
    RotateCw,
    /// The same bar turning counter-clockwise.
    RotateCcw,
    /// A vertical bar sweeping to the left.
    MoveLeft,
    /// A vertical bar sweeping to the right.
    MoveRight,
    /// A horizontal bar sweeping up.
    MoveUp,
    /// A horizontal bar sweeping down.
    MoveDown,
    /// A ring growing from the centre.
    Expand,
    /// A ring shrinking to the centre.
    Contract,
}

impl SynthClass {
    /// All classes, in default label order.
    pub const ALL: [SynthClass; 8] = [
        SynthClass::RotateCw,
        SynthClass::RotateCcw,
        SynthClass::MoveLeft,
        SynthClass::MoveRight,
        SynthClass::MoveUp,
        SynthClass::MoveDown,
        SynthClass::Expand,
        SynthClass::Contract,
    ];

    /// The class name (`rotate_cw`, ...), as written to `classes.txt`.
    pub fn name(self) -> &'static str {
        match self {
            SynthClass::RotateCw => "rotate_cw",
            SynthClass::RotateCcw => "rotate_ccw",
            SynthClass::MoveLeft => "move_left",
            SynthClass::MoveRight => "move_right",
            SynthClass::MoveUp => "move_up",
            SynthClass::MoveDown => "move_down",
            SynthClass::Expand => "expand",
            SynthClass::Contract => "contract",
        }
    }
}

impl fmt::Display for SynthClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SynthClass {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        SynthClass::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| Error::InvalidConfig {
                reason: format!(
                    "unknown synthetic class '{s}'; known: {}",
                    SynthClass::ALL.map(|c| c.name()).join(", ")
                ),
            })
    }
}

/// What [`generate`] writes. `Default` is sized to convert and train in minutes on 2 CPU cores:
/// 6 recordings (4 train, 2 test) × 8 classes × 4 repeats = 128 train and 64 test samples of
/// about 7,000–10,500 events each (8,000 motion events, of which sweeping bars and rings lose
/// part off the sensor, plus noise).
#[derive(Debug, Clone, PartialEq)]
pub struct SynthConfig {
    /// Seed of every random choice.
    pub seed: u64,
    /// Number of recordings (one per user).
    pub users: usize,
    /// How many of the last users go to `trials_to_test.txt` (the rest train).
    pub test_users: usize,
    /// Classes, in label order.
    pub classes: Vec<SynthClass>,
    /// Samples of each class per recording.
    pub repeats: usize,
    /// Length of one gesture (one sample) in µs.
    pub gesture_us: i64,
    /// Pause between gestures in µs (noise only).
    pub gap_us: i64,
    /// Motion events per gesture (before noise).
    pub events_per_gesture: usize,
    /// Background-activity events per second over the whole sensor.
    pub background_rate_hz: f64,
    /// Hot pixels per recording.
    pub hot_pixels: usize,
    /// Events per second of each hot pixel.
    pub hot_pixel_rate_hz: f64,
}

/// The file [`generate`] records the configuration in (TOML, for provenance).
pub const CONFIG_FILE: &str = "synth_config.toml";

impl SynthConfig {
    /// The configuration as TOML (`key = value` lines, `classes` as a list of names).
    pub fn to_toml(&self) -> String {
        let classes: Vec<String> = self
            .classes
            .iter()
            .map(|c| format!("\"{}\"", c.name()))
            .collect();
        format!(
            "# snnkit synth: the generator's settings (samples_per_class = samples of each class per recording)\n\
             seed = {}\nusers = {}\ntest_users = {}\nclasses = [{}]\nsamples_per_class = {}\n\
             gesture_us = {}\ngap_us = {}\nevents_per_gesture = {}\nbackground_rate_hz = {:?}\n\
             hot_pixels = {}\nhot_pixel_rate_hz = {:?}\n",
            self.seed,
            self.users,
            self.test_users,
            classes.join(", "),
            self.repeats,
            self.gesture_us,
            self.gap_us,
            self.events_per_gesture,
            self.background_rate_hz,
            self.hot_pixels,
            self.hot_pixel_rate_hz,
        )
    }
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            seed: 0,
            users: 6,
            test_users: 2,
            classes: SynthClass::ALL.to_vec(),
            repeats: 4,
            gesture_us: 500_000,
            gap_us: 100_000,
            events_per_gesture: 8_000,
            background_rate_hz: 4_000.0,
            hot_pixels: 4,
            hot_pixel_rate_hz: 200.0,
        }
    }
}

impl SynthConfig {
    /// Checks the configuration: at least one training user (at most 99) and one class, distinct
    /// classes, positive sizes, finite non-negative noise rates, and recordings shorter than
    /// 2^32 µs (the label CSVs hold u32 times) with at most 2^28 events each.
    pub fn validate(&self) -> Result<()> {
        let bad = |r: &str| {
            Err(Error::InvalidConfig {
                reason: r.to_string(),
            })
        };
        if self.users == 0 || self.test_users >= self.users {
            return bad("need at least one training user: users > test_users >= 0");
        }
        if self.users > 99 {
            return bad("at most 99 users (userNN names)");
        }
        if self.classes.is_empty() {
            return bad("need at least one class");
        }
        let mut seen = self.classes.clone();
        seen.sort_by_key(|c| c.name());
        seen.dedup();
        if seen.len() != self.classes.len() {
            return bad("classes must be distinct");
        }
        if self.repeats == 0 || self.events_per_gesture == 0 {
            return bad("repeats and events_per_gesture must be at least 1");
        }
        if self.gesture_us <= 0 || self.gap_us < 0 {
            return bad("gesture_us must be > 0 and gap_us >= 0");
        }
        let rate_ok = |r: f64| r.is_finite() && r >= 0.0;
        if !rate_ok(self.background_rate_hz) || !rate_ok(self.hot_pixel_rate_hz) {
            return bad("noise rates must be finite and >= 0");
        }
        // In u128 and f64: CLI values may be anything, and this check must not overflow itself.
        let gestures = self.classes.len() as u128 * self.repeats as u128;
        let total_us =
            (self.gesture_us as u128 + self.gap_us as u128) * gestures + 2 * LEAD_US as u128;
        // The label CSVs hold u32 µs (SpikingJelly and `read_labels` parse them as uint32).
        if total_us > u32::MAX as u128 {
            return bad("recordings would be longer than 2^32 µs (label CSVs hold u32 times)");
        }
        let secs = total_us as f64 / 1e6;
        let events = gestures as f64 * self.events_per_gesture as f64
            + (self.background_rate_hz + self.hot_pixels as f64 * self.hot_pixel_rate_hz) * secs;
        if events > MAX_RECORDING_EVENTS as f64 {
            return bad("more than 2^28 events per recording");
        }
        Ok(())
    }
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthSummary {
    /// Recording file names, train users first.
    pub recordings: Vec<String>,
    /// Samples in the training split.
    pub train_samples: usize,
    /// Samples in the test split.
    pub test_samples: usize,
    /// Events written over all recordings.
    pub events: u64,
}

const LIGHTING: [&str; 3] = ["fluorescent", "led", "natural"];
/// Noise-only lead-in before the first gesture (and tail after the last), µs.
const LEAD_US: i64 = 200_000;
/// Most events one recording may hold (motion plus noise); more is a configuration mistake.
const MAX_RECORDING_EVENTS: u64 = 1 << 28;

/// Writes the synthetic dataset into `out_dir` (created if needed). Every file is written to a
/// temporary name in `out_dir` and renamed when complete; `classes.txt` is written last.
pub fn generate(out_dir: &Path, cfg: &SynthConfig) -> Result<SynthSummary> {
    cfg.validate()?;
    std::fs::create_dir_all(out_dir).map_err(io(out_dir))?;
    let mut recordings = Vec::new();
    let mut events_total = 0u64;
    for u in 0..cfg.users {
        let name = format!("user{:02}_{}", u + 1, LIGHTING[u % LIGHTING.len()]);
        let mut rng =
            ChaCha8Rng::seed_from_u64(cfg.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u as u64);
        let (events, rows) = recording(cfg, &mut rng);
        events_total += events.len() as u64;
        let opts = aedat3::Aedat3WriteOptions::default();
        let bytes = aedat3::encode(&events, &opts)?;
        let aedat = format!("{name}.aedat");
        write_atomic(&out_dir.join(&aedat), &bytes)?;
        let mut csv = String::from("class,startTime_usec,endTime_usec\n");
        for (class, start, end) in rows {
            csv.push_str(&format!("{},{start},{end}\n", class + 1));
        }
        write_atomic(&out_dir.join(labels_name(&aedat)), csv.as_bytes())?;
        recordings.push(aedat);
    }
    let n_train = cfg.users - cfg.test_users;
    let list = |names: &[String]| names.iter().map(|n| format!("{n}\n")).collect::<String>();
    write_atomic(
        &out_dir.join("trials_to_train.txt"),
        list(&recordings[..n_train]).as_bytes(),
    )?;
    write_atomic(
        &out_dir.join("trials_to_test.txt"),
        list(&recordings[n_train..]).as_bytes(),
    )?;
    write_atomic(&out_dir.join(CONFIG_FILE), cfg.to_toml().as_bytes())?;
    let classes: String = cfg.classes.iter().map(|c| format!("{c}\n")).collect();
    write_atomic(&out_dir.join("classes.txt"), classes.as_bytes())?;
    let per_user = cfg.classes.len() * cfg.repeats;
    Ok(SynthSummary {
        recordings,
        train_samples: n_train * per_user,
        test_samples: cfg.test_users * per_user,
        events: events_total,
    })
}

/// Writes `bytes` to `path` atomically and durably ([`snnkit_fsutil::write_atomic`]).
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    snnkit_fsutil::write_atomic(path, bytes).map_err(io(path))
}

/// One recording: gestures in a shuffled order, plus noise over the whole duration.
/// Returns the events (sorted by time) and the label rows `(class index, start, end)`.
fn recording(cfg: &SynthConfig, rng: &mut ChaCha8Rng) -> (Events, Vec<(usize, i64, i64)>) {
    let mut order: Vec<usize> = (0..cfg.classes.len())
        .flat_map(|c| std::iter::repeat_n(c, cfg.repeats))
        .collect();
    for i in (1..order.len()).rev() {
        let j = rng.random_range(0..=i);
        order.swap(i, j);
    }
    let mut ev: Vec<Event> = Vec::new();
    let mut rows = Vec::new();
    let mut t = LEAD_US;
    for &c in &order {
        let (start, end) = (t, t + cfg.gesture_us);
        gesture(
            cfg.classes[c],
            start,
            cfg.gesture_us,
            cfg.events_per_gesture,
            rng,
            &mut ev,
        );
        rows.push((c, start, end));
        t = end + cfg.gap_us;
    }
    let total_us = t + LEAD_US;
    noise(cfg, total_us, rng, &mut ev);
    ev.sort_by_key(|e| e.t);
    (ev.into_iter().collect(), rows)
}

fn push(ev: &mut Vec<Event>, t: i64, x: f64, y: f64, p: u8) {
    let (x, y) = (x.round(), y.round());
    if (0.0..SIZE as f64).contains(&x) && (0.0..SIZE as f64).contains(&y) {
        ev.push(Event {
            t,
            x: x as u16,
            y: y as u16,
            p,
        });
    }
}

/// Appends the motion events of one gesture.
fn gesture(
    class: SynthClass,
    t0: i64,
    dur: i64,
    n: usize,
    rng: &mut ChaCha8Rng,
    ev: &mut Vec<Event>,
) {
    let half = SIZE as f64 / 2.0;
    let cx = half + rng.random_range(-10.0..10.0);
    let cy = half + rng.random_range(-10.0..10.0);
    let speed = rng.random_range(0.8..1.2);
    let width = rng.random_range(6.0..10.0);
    let length = rng.random_range(60.0..90.0);
    // Start angle of the rotating bar: near-fixed (±20°), so each frame's bar angle tells the
    // direction; exactly one turn, so summed over time both directions cover the disk equally.
    let phase = rng.random_range(-0.35..0.35);
    let mut us: Vec<f64> = (0..n).map(|_| rng.random::<f64>()).collect();
    us.sort_by(f64::total_cmp);
    for u in us {
        let t = t0 + ((u * dur as f64) as i64).min(dur - 1);
        // ON on the leading edge, OFF on the trailing one.
        let on = rng.random_bool(0.5);
        let side = if on { 0.5 } else { -0.5 };
        let jitter = rng.random_range(-1.0..1.0);
        let along = rng.random_range(-0.5..0.5) * length;
        let (x, y) = match class {
            SynthClass::MoveLeft
            | SynthClass::MoveRight
            | SynthClass::MoveUp
            | SynthClass::MoveDown => {
                // The bar sweeps 180 px (times speed), entering and leaving the sensor, so the
                // ON (leading) and OFF (trailing) strips summed over time both cover it all.
                let dir = match class {
                    SynthClass::MoveRight | SynthClass::MoveDown => 1.0,
                    _ => -1.0,
                };
                let pos = dir * (u - 0.5) * 180.0 * speed;
                let normal = pos + dir * (side * width + jitter);
                match class {
                    SynthClass::MoveLeft | SynthClass::MoveRight => (cx + normal, cy + along),
                    _ => (cx + along, cy + normal),
                }
            }
            SynthClass::RotateCw | SynthClass::RotateCcw => {
                // One turn; screen clockwise = growing angle with y downwards.
                let dir = if class == SynthClass::RotateCw {
                    1.0
                } else {
                    -1.0
                };
                let theta = phase + dir * 2.0 * PI * u;
                // Radius with density ∝ r (edge speed grows with r), on either half of the bar.
                let arm = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
                let r = arm * (length / 2.0) * rng.random::<f64>().sqrt();
                let (c, s) = (theta.cos(), theta.sin());
                // Tangential direction of motion at this point.
                let (tx, ty) = (-s * dir * arm, c * dir * arm);
                let off = side * width + jitter;
                (cx + r * c + tx * off, cy + r * s + ty * off)
            }
            SynthClass::Expand | SynthClass::Contract => {
                // From the centre to past the sensor's edge, so both polarities summed over time
                // cover the same disk.
                let (r0, r1) = (0.0, 100.0 * speed);
                let (r, dir) = if class == SynthClass::Expand {
                    (r0 + (r1 - r0) * u, 1.0)
                } else {
                    (r1 - (r1 - r0) * u, -1.0)
                };
                let phi = rng.random_range(0.0..2.0 * PI);
                let rr = r + dir * (side * width + jitter);
                if rr < 0.0 {
                    continue; // an edge inside the centre: nothing there to fire
                }
                (cx + rr * phi.cos(), cy + rr * phi.sin())
            }
        };
        push(ev, t, x, y, on as u8);
    }
}

/// Background activity (uniform pixels, polarities and times) and hot pixels (fixed pixels at a
/// steady rate, one polarity each) over `[0, total_us)`.
fn noise(cfg: &SynthConfig, total_us: i64, rng: &mut ChaCha8Rng, ev: &mut Vec<Event>) {
    let secs = total_us as f64 / 1e6;
    let bg = (cfg.background_rate_hz * secs).round() as usize;
    for _ in 0..bg {
        let e = Event {
            t: rng.random_range(0..total_us),
            x: rng.random_range(0..SIZE),
            y: rng.random_range(0..SIZE),
            p: rng.random_range(0..2),
        };
        ev.push(e);
    }
    for _ in 0..cfg.hot_pixels {
        let (x, y, p) = (
            rng.random_range(0..SIZE),
            rng.random_range(0..SIZE),
            rng.random_range(0..2u8),
        );
        let n = (cfg.hot_pixel_rate_hz * secs).round() as usize;
        for _ in 0..n {
            ev.push(Event {
                t: rng.random_range(0..total_us),
                x,
                y,
                p,
            });
        }
    }
}

/// A folder written by [`generate`] (or any folder in the same layout with a `classes.txt`):
/// read with the DVS128 Gesture rules, 128×128, profile `dvs128-gesture`.
#[derive(Debug, Clone)]
pub struct Synthetic {
    layout: GestureLayout,
    names: Vec<String>,
}

impl Synthetic {
    /// Opens `root`, reading its class list from `classes.txt`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let expected = "a folder written by `snnkit synth` (classes.txt, trials_to_train.txt, \
                        trials_to_test.txt, userNN_<lighting>.aedat, userNN_<lighting>_labels.csv)";
        if !root.is_dir() {
            return Err(Error::MissingFolder {
                path: root,
                expected: expected.into(),
            });
        }
        let path = root.join("classes.txt");
        if !path.is_file() {
            return Err(Error::MissingFile {
                path,
                expected: expected.into(),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        let classes: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        if classes.is_empty() {
            return Err(Error::BadTextFile {
                path,
                line: 1,
                reason: "no class names".into(),
            });
        }
        let layout = GestureLayout {
            root,
            classes,
            order: LabelOrder::ClassMinusOne,
            name: "synthetic",
        };
        let names = layout.label_names();
        Ok(Synthetic { layout, names })
    }
}

impl Dataset for Synthetic {
    fn name(&self) -> &'static str {
        self.layout.name
    }
    fn root(&self) -> &Path {
        &self.layout.root
    }
    fn class_names(&self) -> &[String] {
        &self.names
    }
    fn sensor_size(&self) -> (u16, u16) {
        (SIZE, SIZE)
    }
    fn profile(&self) -> Option<Profile> {
        Some(Profile::Dvs128Gesture)
    }
    fn files(&self) -> Result<Vec<PathBuf>> {
        let mut f = self.layout.files()?;
        f.push(PathBuf::from("classes.txt"));
        f.sort();
        Ok(f)
    }
    fn samples(&self, split: Split) -> Result<Vec<Sample>> {
        self.layout.samples(split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_file_is_toml_with_every_setting() {
        let cfg = SynthConfig {
            seed: 5,
            classes: vec![SynthClass::RotateCw, SynthClass::Expand],
            background_rate_hz: 4000.0,
            ..SynthConfig::default()
        };
        let v: toml::Table = toml::from_str(&cfg.to_toml()).unwrap();
        assert_eq!(v["seed"].as_integer(), Some(5));
        assert_eq!(
            v["samples_per_class"].as_integer(),
            Some(cfg.repeats as i64)
        );
        assert_eq!(v["background_rate_hz"].as_float(), Some(4000.0));
        let classes: Vec<&str> = v["classes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        assert_eq!(classes, ["rotate_cw", "expand"]);
        assert_eq!(v.len(), 11);
    }
}
