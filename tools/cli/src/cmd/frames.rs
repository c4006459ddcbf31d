//! `snnkit frames`: one event file in, `[T, 2, H, W]` frames out as `.npy`.
//!
//! SpikingJelly modes (`--frames T --split-by number|time`, `--duration US`) write float32, as
//! SpikingJelly's loaders return; Tonic modes (`--tonic-mode ...`) write int16, as Tonic does.

use crate::cmd::inspect::DecodeArgs;
use crate::usage::usage;
use anyhow::{Context, Result};
use ndarray::Array4;
use snnkit_frames::{integrate, FrameSpec, SensorSize};
use std::path::PathBuf;

/// SpikingJelly's `split_by` choices.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SplitBy {
    /// Equal event counts per frame, remainder to the last frame.
    Number,
    /// Equal time spans from the first to the last event, the last frame takes the rest.
    Time,
}

/// Tonic `ToFrame` modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TonicMode {
    /// `time_window=--window`, overlap in µs.
    TimeWindow,
    /// `event_count=--count`, overlap in events.
    EventCount,
    /// `n_time_bins=--frames`, overlap as a fraction of a bin.
    NTimeBins,
    /// `n_event_bins=--frames`, overlap as a fraction of a bin.
    NEventBins,
}

/// Arguments.
#[derive(clap::Args)]
pub struct Args {
    /// The event file and how to decode it (the flags of `snnkit inspect`); the profile also
    /// gives the sensor size.
    #[command(flatten)]
    decode: DecodeArgs,
    /// Sensor height (rows); default from the profile, else from the file.
    #[arg(long, requires = "width")]
    height: Option<usize>,
    /// Sensor width (columns); default from the profile, else from the file.
    #[arg(long, requires = "height")]
    width: Option<usize>,
    /// Number of frames T (SpikingJelly split, or Tonic n-time-bins / n-event-bins).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    frames: Option<u64>,
    /// SpikingJelly split_by (with --frames).
    #[arg(long, value_enum, conflicts_with_all = ["duration", "tonic_mode"])]
    split_by: Option<SplitBy>,
    /// SpikingJelly fixed frame duration in µs (T = ceil(span / duration)).
    #[arg(long, conflicts_with_all = ["frames", "tonic_mode"], value_parser = clap::value_parser!(i64).range(1..))]
    duration: Option<i64>,
    /// Tonic ToFrame mode instead of SpikingJelly; output is int16 like Tonic's.
    #[arg(long, value_enum)]
    tonic_mode: Option<TonicMode>,
    /// Tonic time-window length in µs (with --tonic-mode time-window).
    #[arg(long, requires = "tonic_mode", conflicts_with_all = ["frames", "count"])]
    window: Option<f64>,
    /// Tonic events per frame (with --tonic-mode event-count).
    #[arg(long, requires = "tonic_mode", conflicts_with_all = ["frames", "window"], value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,
    /// Tonic overlap: µs (time-window), events (event-count), or bin fraction (n-*-bins).
    #[arg(long, default_value_t = 0.0)]
    overlap: f64,
    /// Tonic include_incomplete (time-window, event-count).
    #[arg(long)]
    include_incomplete: bool,
    /// Output `.npy` file (float32 for SpikingJelly's modes, int16 for Tonic's); missing parent
    /// folders are created.
    #[arg(long)]
    out: PathBuf,
}

/// The frame mode the flags select; a missing, conflicting or unused flag is a usage error.
fn spec(a: &Args) -> Result<FrameSpec> {
    let frames = a.frames.map(|f| f as usize);
    let need_frames = |mode: &str| frames.ok_or_else(|| usage!("{mode} needs --frames T"));
    let tonic = a.tonic_mode.is_some();
    if !tonic && a.overlap != 0.0 {
        return Err(usage!("--overlap applies to --tonic-mode only"));
    }
    if a.include_incomplete
        && !matches!(
            a.tonic_mode,
            Some(TonicMode::TimeWindow | TonicMode::EventCount)
        )
    {
        return Err(usage!(
            "--include-incomplete applies to --tonic-mode time-window or event-count only"
        ));
    }
    let unused = |flag: &str, mode: &str| usage!("{flag} does not apply to {mode}");
    let spec = match (a.tonic_mode, a.split_by, a.duration) {
        (Some(mode), _, _) => match mode {
            TonicMode::TimeWindow => {
                let window = a
                    .window
                    .ok_or_else(|| usage!("--tonic-mode time-window needs --window US"))?;
                if !(window.is_finite() && window > 0.0) {
                    return Err(usage!("--window {window}: a positive number of µs"));
                }
                FrameSpec::TimeWindow {
                    window,
                    overlap: a.overlap,
                    include_incomplete: a.include_incomplete,
                    start_time: None,
                    end_time: None,
                }
            }
            TonicMode::EventCount => {
                if a.overlap < 0.0 || a.overlap.fract() != 0.0 {
                    return Err(usage!(
                        "--overlap {}: for event-count, a whole number of events",
                        a.overlap
                    ));
                }
                FrameSpec::EventCount {
                    count: a
                        .count
                        .ok_or_else(|| usage!("--tonic-mode event-count needs --count N"))?
                        as usize,
                    overlap: a.overlap as usize,
                    include_incomplete: a.include_incomplete,
                }
            }
            TonicMode::NTimeBins | TonicMode::NEventBins => {
                let name = if mode == TonicMode::NTimeBins {
                    "--tonic-mode n-time-bins"
                } else {
                    "--tonic-mode n-event-bins"
                };
                if a.window.is_some() {
                    return Err(unused("--window", name));
                }
                if a.count.is_some() {
                    return Err(unused("--count", name));
                }
                let bins = need_frames(name)?;
                if mode == TonicMode::NTimeBins {
                    FrameSpec::TimeBins {
                        bins,
                        overlap: a.overlap,
                    }
                } else {
                    FrameSpec::EventBins {
                        bins,
                        overlap: a.overlap,
                    }
                }
            }
        },
        (None, Some(SplitBy::Number), None) => FrameSpec::SplitByNumber {
            frames: need_frames("--split-by number")?,
        },
        (None, Some(SplitBy::Time), None) => FrameSpec::SplitByTime {
            frames: need_frames("--split-by time")?,
        },
        (None, None, Some(duration)) => FrameSpec::FixedDuration { duration },
        (None, None, None) if frames.is_some() => {
            return Err(usage!(
                "--frames T needs --split-by number|time (SpikingJelly) or --tonic-mode n-time-bins|n-event-bins"
            ))
        }
        _ => {
            return Err(usage!(
                "choose one mode: --frames T --split-by number|time, --duration US, or --tonic-mode ..."
            ))
        }
    };
    if !matches!(a.tonic_mode, Some(TonicMode::TimeWindow)) && a.window.is_some() {
        return Err(unused(
            "--window",
            "this mode (only --tonic-mode time-window)",
        ));
    }
    if !matches!(a.tonic_mode, Some(TonicMode::EventCount)) && a.count.is_some() {
        return Err(unused(
            "--count",
            "this mode (only --tonic-mode event-count)",
        ));
    }
    Ok(spec)
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let spec = spec(&args)?;
    crate::usage::require_extension("--out", &args.out, "npy")?;
    let rec = args.decode.read()?;
    let file = &args.decode.file;
    let sensor = match (args.height, args.width) {
        (Some(height), Some(width)) => SensorSize { width, height },
        _ => match (args.decode.profile, rec.width, rec.height) {
            (Some(p), _, _) => SensorSize::from(p.sensor_size()),
            (None, Some(w), Some(h)) => SensorSize::from((w, h)),
            _ => {
                return Err(usage!(
                    "{}: the file does not state its sensor size; give --height H --width W or --profile",
                    file.display()
                ))
            }
        },
    };
    let frames = integrate(rec.events.as_ref(), sensor, &spec)
        .with_context(|| format!("{}", file.display()))?;
    let shape = frames.shape();
    crate::usage::create_parent(&args.out)?;
    if spec.is_spikingjelly() {
        let a = Array4::from_shape_vec(shape, frames.to_f32())?;
        crate::npy::write_atomic(&args.out, &a)?;
    } else {
        let a = Array4::from_shape_vec(shape, frames.to_i16_wrapping())?;
        crate::npy::write_atomic(&args.out, &a)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(extra: &[&str]) -> Result<FrameSpec> {
        let mut argv = vec!["frames", "in.aedat", "--out", "o.npy"];
        argv.extend_from_slice(extra);
        let cli = Cli::try_parse_from(argv)?;
        spec(&cli.args)
    }

    #[test]
    fn flags_map_to_frame_specs() {
        assert_eq!(
            parse(&["--frames", "8", "--split-by", "time"]).unwrap(),
            FrameSpec::SplitByTime { frames: 8 }
        );
        assert_eq!(
            parse(&["--duration", "50000"]).unwrap(),
            FrameSpec::FixedDuration { duration: 50_000 }
        );
        assert_eq!(
            parse(&[
                "--tonic-mode",
                "n-event-bins",
                "--frames",
                "4",
                "--overlap",
                "0.5"
            ])
            .unwrap(),
            FrameSpec::EventBins {
                bins: 4,
                overlap: 0.5
            }
        );
        assert_eq!(
            parse(&[
                "--tonic-mode",
                "event-count",
                "--count",
                "100",
                "--overlap",
                "10",
                "--include-incomplete"
            ])
            .unwrap(),
            FrameSpec::EventCount {
                count: 100,
                overlap: 10,
                include_incomplete: true
            }
        );
        assert!(parse(&["--tonic-mode", "time-window", "--window", "1000"])
            .unwrap()
            .eq(&FrameSpec::time_window(1000.0)));
    }

    #[test]
    fn incomplete_or_conflicting_flags_are_refused() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["--split-by", "number"]).is_err()); // no --frames
        assert!(parse(&["--frames", "4"]).is_err()); // no mode
        assert!(parse(&["--frames", "4", "--split-by", "number", "--duration", "5"]).is_err());
        assert!(parse(&["--tonic-mode", "time-window"]).is_err()); // no --window
        assert!(parse(&[
            "--tonic-mode",
            "event-count",
            "--count",
            "5",
            "--overlap",
            "1.5"
        ])
        .is_err());
        assert!(parse(&["--height", "5", "--frames", "1", "--split-by", "time"]).is_err());
    }

    fn shared() -> Option<PathBuf> {
        snnkit_testdata::shared_with("fixtures/expected/SUMMARY.json")
    }

    /// The expected array of `file` as i64 cells with its shape (dense `.npy` of f32/i16, or
    /// `.coo.npy` rows `t, c, y, x, value` with the shape given).
    fn expected(path: &std::path::Path, coo_shape: Option<[usize; 4]>) -> (Vec<usize>, Vec<i64>) {
        use ndarray_npy::ReadNpyExt;
        let f = || std::fs::File::open(path).unwrap();
        if let Some(shape) = coo_shape {
            let coo = ndarray::Array2::<i64>::read_npy(f()).unwrap();
            let mut dense = vec![0i64; shape.iter().product()];
            for r in coo.rows() {
                let i = ((r[0] as usize * shape[1] + r[1] as usize) * shape[2] + r[2] as usize)
                    * shape[3]
                    + r[3] as usize;
                dense[i] = r[4];
            }
            (shape.to_vec(), dense)
        } else if let Ok(a) = ndarray::ArrayD::<f32>::read_npy(f()) {
            (a.shape().to_vec(), a.iter().map(|&v| v as i64).collect())
        } else {
            let a = ndarray::ArrayD::<i16>::read_npy(f()).unwrap();
            (a.shape().to_vec(), a.iter().map(|&v| v as i64).collect())
        }
    }

    /// `snnkit frames` end to end (decode, bin, atomic .npy write) on every frame fixture of
    /// `../shared/fixtures/expected`, SpikingJelly (float32) and Tonic (int16) alike.
    #[test]
    fn cli_reproduces_every_frame_fixture() {
        use ndarray_npy::ReadNpyExt;
        let Some(sh) = shared() else { return };
        let fx = sh.join("fixtures");
        let nmnist = "atis_bin/tonic_sample_nmnist.bin";
        let n34 = ["--height", "34", "--width", "34"];
        // (expected file, input fixture, flags, dense shape of a .coo.npy)
        type Case<'a> = (&'a str, &'a str, Vec<&'a str>, Option<[usize; 4]>);
        let cases: Vec<Case> = vec![
            (
                "nmnist_sj_T10_number.npy",
                nmnist,
                vec!["--frames", "10", "--split-by", "number"],
                None,
            ),
            (
                "nmnist_sj_T10_time.npy",
                nmnist,
                vec!["--frames", "10", "--split-by", "time"],
                None,
            ),
            (
                "nmnist_sj_duration50000.npy",
                nmnist,
                vec!["--duration", "50000"],
                None,
            ),
            (
                "nmnist_tonic_n_time_bins10.npy",
                nmnist,
                vec!["--tonic-mode", "n-time-bins", "--frames", "10"],
                None,
            ),
            (
                "nmnist_tonic_n_event_bins10.npy",
                nmnist,
                vec!["--tonic-mode", "n-event-bins", "--frames", "10"],
                None,
            ),
            (
                "nmnist_tonic_time_window50000.npy",
                nmnist,
                vec!["--tonic-mode", "time-window", "--window", "50000"],
                None,
            ),
            (
                "nmnist_tonic_event_count1000.npy",
                nmnist,
                vec!["--tonic-mode", "event-count", "--count", "1000"],
                None,
            ),
            (
                "cifar10dvs_sj_T10_number.coo.npy",
                "synthetic/synthetic_cifar10dvs_dvs128.aedat",
                vec![
                    "--profile",
                    "cifar10-dvs",
                    "--frames",
                    "10",
                    "--split-by",
                    "number",
                ],
                Some([10, 2, 128, 128]),
            ),
            (
                "cifar10dvs_sj_T10_time.coo.npy",
                "synthetic/synthetic_cifar10dvs_dvs128.aedat",
                vec![
                    "--profile",
                    "cifar10-dvs",
                    "--frames",
                    "10",
                    "--split-by",
                    "time",
                ],
                Some([10, 2, 128, 128]),
            ),
            (
                "ncaltech_like_sj_T5_number.coo.npy",
                "synthetic/synthetic_ncaltech101_like.bin",
                vec![
                    "--height",
                    "180",
                    "--width",
                    "240",
                    "--frames",
                    "5",
                    "--split-by",
                    "number",
                ],
                Some([5, 2, 180, 240]),
            ),
            (
                "ncaltech_like_sj_T5_time.coo.npy",
                "synthetic/synthetic_ncaltech101_like.bin",
                vec![
                    "--profile",
                    "n-caltech101",
                    "--frames",
                    "5",
                    "--split-by",
                    "time",
                ],
                Some([5, 2, 180, 240]),
            ),
            (
                "tonic_sample_sj_T8_number.coo.npy",
                "aedat4/tonic_sample.aedat4",
                vec!["--frames", "8", "--split-by", "number"],
                Some([8, 2, 240, 320]),
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (want, input, flags, coo) in cases {
            let out = dir.path().join("o.npy");
            let input = fx.join(input).to_string_lossy().into_owned();
            let out_s = out.to_string_lossy().into_owned();
            let mut argv = vec!["frames", input.as_str(), "--out", out_s.as_str()];
            if input.ends_with("nmnist.bin") {
                argv.extend_from_slice(&n34);
            }
            argv.extend(flags);
            run(Cli::try_parse_from(&argv).unwrap().args)
                .unwrap_or_else(|e| panic!("{want}: {e:#}"));
            let (shape, cells) = expected(&fx.join("expected").join(want), coo);
            let f = || std::fs::File::open(&out).unwrap();
            let (got_shape, got): (Vec<usize>, Vec<i64>) = if want.contains("_tonic_") {
                let a = ndarray::ArrayD::<i16>::read_npy(f()).unwrap();
                (a.shape().to_vec(), a.iter().map(|&v| v as i64).collect())
            } else {
                let a = ndarray::ArrayD::<f32>::read_npy(f()).unwrap();
                (a.shape().to_vec(), a.iter().map(|&v| v as i64).collect())
            };
            assert_eq!(got_shape, shape, "{want}");
            assert!(got == cells, "{want}: cells differ");
        }
    }
}
