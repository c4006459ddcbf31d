//! AEDAT 2.0 (jAER; CIFAR10-DVS): reader and writer.
//!
//! Spec: iniVation "AEDAT file formats", §AEDAT 2.0, and jAER's `DVS128.java` extractor (see
//! `docs/formats.md`). A header of `#` lines (the first is `#!AER-DAT2.0`; jAER adds
//! `# AEChip: <class>`) is followed by big-endian 8-byte words `[u32 address][u32 timestamp µs]`.
//!
//! Two address layouts:
//! * **DVS128** (CIFAR10-DVS): bit 0 polarity, bits 1–7 x, bits 8–14 y, bit 15 external event.
//! * **DAVIS**: bit 31 type (1 = APS or IMU sample, skipped), bits 22–30 y, 12–21 x, bits 11–10
//!   `10` ON, `00` OFF, `01`/`11` external (skipped).
//!
//! The layout comes from [`ReadOptions::aedat2_layout`], the profile, the `# AEChip:` line, or
//! (no chip line) the addresses: any bit above 15 set means DAVIS. Without a profile the reader
//! returns the address fields as stored (the spec's coordinates, origin lower-left, and the raw
//! polarity bit). With [`Profile::Cifar10Dvs`] it applies SpikingJelly's mapping
//! `x = 127 − y_raw, y = 127 − x_raw, p = 1 − p_raw` to DVS128 words. jAER itself shows DVS128
//! events at `x = 127 − x_raw`, `y = y_raw` (from the bottom) with ON = raw polarity 0.
//!
//! [`ReadOptions::aedat2_orientation`] `Upright` rotates the fields by 180° within the sensor
//! (`x → W − 1 − x`, `y → H − 1 − y`, Tonic's `read_davis_346` convention, upright like AEDAT 4);
//! the default `Native` keeps them as stored.
//!
//! The header is skipped as SpikingJelly does: every line that decodes as UTF-8 and, stripped of
//! whitespace, is non-empty and starts with `#`. An odd number of 4-byte words is an error.

use crate::error::{Ctx, Error};
use crate::format::{Aedat2Layout, Aedat2Orientation, Format, Profile, ReadOptions};
use crate::recording::{finish, Recording};
use crate::source::{decode_fixed, show_bytes};
use crate::types::Events;
use std::io::Write;
use std::path::Path;

/// The version-line prefix of AEDAT 2.x files.
pub const MAGIC: &[u8] = b"#!AER-DAT2.";

/// Options for [`write()`].
#[derive(Debug, Clone, Default)]
pub struct Aedat2WriteOptions {
    /// With [`Profile::Cifar10Dvs`], events are taken in SpikingJelly's CIFAR10-DVS convention and
    /// stored with the inverse mapping, so reading with the same profile returns them unchanged.
    /// Other profiles (and `None`) store coordinates and polarity as the raw address fields.
    pub profile: Option<Profile>,
}

/// Reads an AEDAT 2.0 file.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<Recording, Error> {
    let bytes = crate::source::open(path)?;
    decode(&bytes, Ctx { path }, opts)
}

/// Decodes AEDAT 2.0 bytes held in memory (errors name the file `<memory>`).
pub fn decode_bytes(bytes: &[u8], opts: &ReadOptions) -> Result<Recording, Error> {
    decode(bytes, Ctx::memory(), opts)
}

/// What the header says.
struct Header {
    data_start: usize,
    chip: Option<String>,
}

fn parse_header(b: &[u8], ctx: Ctx) -> Result<Header, Error> {
    if !b.starts_with(MAGIC) {
        if MAGIC.starts_with(b) {
            return Err(ctx.truncated(0, "the version line #!AER-DAT2.0"));
        }
        return Err(ctx.invalid(0, "the version line #!AER-DAT2.0", show_bytes(b)));
    }
    let mut pos = 0;
    let mut chip = None;
    while pos < b.len() {
        let end = b[pos..]
            .iter()
            .position(|&c| c == b'\n')
            .map_or(b.len(), |k| pos + k + 1);
        let Ok(text) = std::str::from_utf8(&b[pos..end]) else {
            break;
        };
        let text = text.trim();
        if !text.starts_with('#') {
            break;
        }
        if let Some(rest) = text.strip_prefix("# AEChip:") {
            chip = Some(rest.trim().to_string());
        }
        pos = end;
    }
    Ok(Header {
        data_start: pos,
        chip,
    })
}

/// Layout and sensor size of a jAER chip class name.
fn chip_info(chip: &str) -> (Option<Aedat2Layout>, Option<(u16, u16)>) {
    let c = chip.to_ascii_uppercase();
    let name = c.rsplit('.').next().unwrap_or(&c);
    if name.contains("DAVIS") {
        let table: [(&str, (u16, u16)); 6] = [
            ("DAVIS346", (346, 260)),
            ("DAVIS240", (240, 180)),
            ("DAVIS640", (640, 480)),
            ("DAVIS208", (208, 192)),
            ("DAVIS128", (128, 128)),
            ("DAVIS128MONO", (128, 128)),
        ];
        let size = table
            .iter()
            .find(|(k, _)| name.starts_with(k))
            .map(|&(_, s)| s);
        (Some(Aedat2Layout::Davis), size)
    } else if name.contains("DVS128") {
        (Some(Aedat2Layout::Dvs128), Some((128, 128)))
    } else {
        (None, None)
    }
}

#[inline(always)]
pub(crate) fn be_pair(w: &[u8]) -> (u32, u32) {
    let mut a = [0u8; 4];
    let mut t = [0u8; 4];
    a.copy_from_slice(&w[0..4]);
    t.copy_from_slice(&w[4..8]);
    (u32::from_be_bytes(a), u32::from_be_bytes(t))
}

/// How each address word becomes an event (or is skipped).
#[derive(Clone, Copy)]
pub(crate) struct Mapping {
    layout: Aedat2Layout,
    cifar: bool,
    strict: bool,
    /// `(width, height)` to rotate by 180° within ([`Aedat2Orientation::Upright`]).
    upright: Option<(u16, u16)>,
}

impl Mapping {
    /// `(x, y, p)` of a word, or `None` for skipped words.
    #[inline(always)]
    pub(crate) fn map(self, a: u32) -> Option<(u16, u16, u8)> {
        let (x, y, p) = self.map_native(a)?;
        Some(match self.upright {
            // Outside the sensor stays as stored, so the range check reports the stored value.
            Some((w, h)) if x < w && y < h => (w - 1 - x, h - 1 - y, p),
            _ => (x, y, p),
        })
    }

    #[inline(always)]
    fn map_native(self, a: u32) -> Option<(u16, u16, u8)> {
        match self.layout {
            Aedat2Layout::Dvs128 => {
                if self.strict && a & 0xFFFF_8000 != 0 {
                    return None;
                }
                let xr = ((a & 0xFE) >> 1) as u16;
                let yr = ((a & 0x7F00) >> 8) as u16;
                let pr = (a & 1) as u8;
                Some(if self.cifar {
                    (127 - yr, 127 - xr, 1 - pr)
                } else {
                    (xr, yr, pr)
                })
            }
            Aedat2Layout::Davis => {
                if a & 0x8000_0000 != 0 || a & 0x400 != 0 {
                    return None; // APS/IMU sample or external event
                }
                Some((
                    ((a >> 12) & 0x3FF) as u16,
                    ((a >> 22) & 0x1FF) as u16,
                    ((a >> 11) & 1) as u8,
                ))
            }
        }
    }

    /// True when every word becomes exactly one event.
    pub(crate) fn total(self) -> bool {
        self.layout == Aedat2Layout::Dvs128 && !self.strict
    }
}

/// The word stream of an AEDAT 2.0 file and how its words become events; shared by [`decode`]
/// and the ranged decoder.
pub(crate) struct Body<'a> {
    /// Offset of the first address/timestamp pair.
    pub data_start: usize,
    /// The 8-byte address/timestamp pairs.
    pub words: &'a [u8],
    /// How each address word becomes an event (or is skipped).
    pub mapping: Mapping,
    /// Sensor size from the profile or the chip named in the header (DVS128: 128 × 128).
    pub size: Option<(u16, u16)>,
}

/// Parses the header and works out the layout and sensor size (see [`Body`]).
pub(crate) fn body<'a>(b: &'a [u8], ctx: Ctx, opts: &ReadOptions) -> Result<Body<'a>, Error> {
    let header = parse_header(b, ctx)?;
    let body = &b[header.data_start..];
    if !body.len().is_multiple_of(8) {
        let at = header.data_start + body.len() - body.len() % 8;
        return Err(ctx.invalid(
            at,
            "an even number of 4-byte words (8-byte address/timestamp pairs)",
            format!("{} trailing bytes", body.len() % 8),
        ));
    }
    let (chip_layout, chip_size) = header.chip.as_deref().map_or((None, None), chip_info);
    let cifar = opts.profile == Some(Profile::Cifar10Dvs);
    let layout = opts
        .aedat2_layout
        .or(cifar.then_some(Aedat2Layout::Dvs128))
        .or(chip_layout)
        .unwrap_or_else(|| {
            if body.chunks_exact(8).any(|w| be_pair(w).0 >> 16 != 0) {
                Aedat2Layout::Davis
            } else {
                Aedat2Layout::Dvs128
            }
        });
    let size = opts.profile.map(|p| p.sensor_size()).or(chip_size).or(
        // Seven address bits cannot exceed the DVS128 array.
        (layout == Aedat2Layout::Dvs128).then_some((128, 128)),
    );
    let upright = match opts.aedat2_orientation {
        Aedat2Orientation::Native => None,
        Aedat2Orientation::Upright if cifar => {
            return Err(ctx.invalid(
                0,
                "no upright orientation with the cifar10-dvs profile (it applies SpikingJelly's own mapping)",
                "orientation upright",
            ))
        }
        Aedat2Orientation::Upright => Some(size.ok_or_else(|| {
            ctx.invalid(
                header.data_start,
                "a sensor size for the upright orientation (a `# AEChip:` header line naming the camera, or a profile)",
                "no chip line",
            )
        })?),
    };
    Ok(Body {
        data_start: header.data_start,
        words: body,
        mapping: Mapping {
            layout,
            cifar,
            strict: opts.strict,
            upright,
        },
        size,
    })
}

pub(crate) fn decode(b: &[u8], ctx: Ctx, opts: &ReadOptions) -> Result<Recording, Error> {
    let Body {
        data_start,
        words: body,
        mapping: m,
        size,
    } = self::body(b, ctx, opts)?;
    let n = body.len() / 8;
    let events = if m.total() {
        decode_fixed(body, 8, |d, c| {
            for ((((w, t), x), y), p) in d
                .chunks_exact(8)
                .zip(c.t.iter_mut())
                .zip(c.x.iter_mut())
                .zip(c.y.iter_mut())
                .zip(c.p.iter_mut())
            {
                let (a, ts) = be_pair(w);
                let (xx, yy, pp) = m.map(a).unwrap_or_default();
                (*t, *x, *y, *p) = (ts as i64, xx, yy, pp);
            }
        })
    } else {
        let mut ev = Events::with_capacity(n);
        for w in body.chunks_exact(8) {
            let (a, ts) = be_pair(w);
            if let Some((x, y, p)) = m.map(a) {
                ev.push(crate::Event {
                    t: ts as i64,
                    x,
                    y,
                    p,
                });
            }
        }
        ev
    };
    if let Some(size) = size {
        if let Some(i) = crate::source::first_outside(&events.x, &events.y, size) {
            // The i-th kept word; skipped words are not counted.
            let k = body
                .chunks_exact(8)
                .enumerate()
                .filter(|(_, w)| m.map(be_pair(w).0).is_some())
                .nth(i)
                .map_or(0, |(k, _)| k);
            return Err(ctx.out_of_sensor(
                data_start + 8 * k,
                events.x[i].into(),
                events.y[i].into(),
                size,
            ));
        }
    }
    Ok(finish(Format::Aedat2, events, size))
}

/// Writes `events` as an AEDAT 2.0 file in the jAER DVS128 layout (atomically).
///
/// Requires `x, y < 128` and `0 <= t < 2^32`; polarity is 1 for any non-zero `p`.
pub fn write(path: &Path, events: &Events, opts: &Aedat2WriteOptions) -> Result<(), Error> {
    crate::source::write_atomic(path, |w| write_to(w, events, opts, Ctx { path }))
}

/// Encodes `events` as AEDAT 2.0 into memory (see [`write()`]).
pub fn encode(events: &Events, opts: &Aedat2WriteOptions) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(300 + events.len() * 8);
    write_to(&mut out, events, opts, Ctx::memory())?;
    Ok(out)
}

fn write_to<W: Write>(
    w: &mut W,
    ev: &Events,
    opts: &Aedat2WriteOptions,
    ctx: Ctx,
) -> Result<(), Error> {
    let head = "#!AER-DAT2.0\r\n\
                # This is a raw AE data file created by snnkit\r\n\
                # Data format is int32 address, int32 timestamp (8 bytes total), repeated for each event\r\n\
                # Timestamps tick is 1 us\r\n\
                # AEChip: ch.unizh.ini.jaer.chip.retina.DVS128\r\n";
    w.write_all(head.as_bytes()).map_err(|e| ctx.io(e))?;
    let cifar = opts.profile == Some(Profile::Cifar10Dvs);
    let mut buf = Vec::with_capacity(1 << 16);
    for i in 0..ev.len() {
        let (t, x, y, p) = (ev.t[i], ev.x[i], ev.y[i], (ev.p[i] != 0) as u32);
        if !(0..=u32::MAX as i64).contains(&t) || x > 127 || y > 127 {
            return Err(Error::Unwritable {
                path: ctx.path.to_path_buf(),
                index: i,
                message: format!("t={t}, x={x}, y={y} do not fit (0 <= t < 2^32, x and y < 128)"),
            });
        }
        let (xr, yr, pr) = if cifar {
            (127 - y as u32, 127 - x as u32, 1 - p)
        } else {
            (x as u32, y as u32, p)
        };
        let a = yr << 8 | xr << 1 | pr;
        buf.extend_from_slice(&a.to_be_bytes());
        buf.extend_from_slice(&(t as u32).to_be_bytes());
        if buf.len() >= 1 << 16 {
            w.write_all(&buf).map_err(|e| ctx.io(e))?;
            buf.clear();
        }
    }
    w.write_all(&buf).map_err(|e| ctx.io(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    fn sample(n: i64) -> Events {
        (0..n)
            .map(|i| Event {
                t: i * 3 + (1 << 31),
                x: (i % 128) as u16,
                y: (i * 5 % 128) as u16,
                p: (i % 2) as u8,
            })
            .collect()
    }

    #[test]
    fn round_trip_raw_and_cifar_profile() {
        let ev = sample(600_000);
        let raw = encode(&ev, &Aedat2WriteOptions::default()).unwrap();
        let rec = decode_bytes(&raw, &ReadOptions::default()).unwrap();
        assert_eq!(rec.events, ev);
        assert_eq!((rec.width, rec.height), (Some(128), Some(128)));
        let cifar = Aedat2WriteOptions {
            profile: Some(Profile::Cifar10Dvs),
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.aedat");
        write(&path, &ev, &cifar).unwrap();
        let opts = ReadOptions {
            profile: Some(Profile::Cifar10Dvs),
            ..Default::default()
        };
        assert_eq!(read(&path, &opts).unwrap().events, ev);
        // Read without the profile, the same file gives the raw fields: x_raw = 127 - y.
        let plain = read(&path, &ReadOptions::default()).unwrap().events;
        assert_eq!(plain.x[7], 127 - ev.y[7]);
        assert_eq!(plain.p[7], 1 - ev.p[7]);
    }

    #[test]
    fn upright_rotates_within_the_sensor_and_needs_its_size() {
        let words: [(u32, u32); 2] = [
            ((100 << 22) | (200 << 12) | (1 << 11), 10), // ON at (200, 100) as stored
            ((179 << 22) | (239 << 12), 13),             // OFF at (239, 179), the far corner
        ];
        let body: Vec<u8> = words
            .iter()
            .flat_map(|(a, t)| [a.to_be_bytes(), t.to_be_bytes()].concat())
            .collect();
        let chip = b"#!AER-DAT2.0\r\n# AEChip: eu.seebetter.ini.chips.davis.DAVIS240C\r\n";
        let upright = ReadOptions {
            aedat2_orientation: Aedat2Orientation::Upright,
            ..Default::default()
        };
        let rec = decode_bytes(&[&chip[..], &body].concat(), &upright).unwrap();
        assert_eq!((rec.events.x[0], rec.events.y[0]), (39, 79));
        assert_eq!((rec.events.x[1], rec.events.y[1]), (0, 0));
        assert_eq!(rec.events.p, vec![1, 0]);
        // Without a chip line the DAVIS sensor size is unknown: refused, not guessed.
        let e = decode_bytes(&[&b"#!AER-DAT2.0\r\n"[..], &body].concat(), &upright).unwrap_err();
        assert!(e.to_string().contains("upright"), "{e}");
        // DVS128 words: the array is always 128 x 128.
        let dvs = encode(&sample(3), &Aedat2WriteOptions::default()).unwrap();
        let native = decode_bytes(&dvs, &ReadOptions::default()).unwrap().events;
        let up = decode_bytes(&dvs, &upright).unwrap().events;
        for i in 0..3 {
            assert_eq!((up.x[i], up.y[i]), (127 - native.x[i], 127 - native.y[i]));
        }
    }

    #[test]
    fn davis_words_skip_aps_imu_and_external() {
        let mut b =
            b"#!AER-DAT2.0\r\n# AEChip: eu.seebetter.ini.chips.davis.DAVIS240C\r\n".to_vec();
        let words: [(u32, u32); 4] = [
            ((100 << 22) | (200 << 12) | (1 << 11), 10), // ON at (200, 100)
            (0x8000_0000 | (5 << 22), 11),               // APS
            ((3 << 22) | (4 << 12) | (1 << 10), 12),     // external
            ((179 << 22) | (239 << 12), 13),             // OFF at (239, 179)
        ];
        for (a, t) in words {
            b.extend_from_slice(&a.to_be_bytes());
            b.extend_from_slice(&t.to_be_bytes());
        }
        let rec = decode_bytes(&b, &ReadOptions::default()).unwrap();
        assert_eq!((rec.width, rec.height), (Some(240), Some(180)));
        let e: Vec<_> = rec.events.iter().collect();
        assert_eq!(
            e,
            vec![
                Event {
                    t: 10,
                    x: 200,
                    y: 100,
                    p: 1
                },
                Event {
                    t: 13,
                    x: 239,
                    y: 179,
                    p: 0
                }
            ]
        );
        // x = 240 is outside the DAVIS240 array.
        let off = b.len();
        b.extend_from_slice(&((240u32) << 12).to_be_bytes());
        b.extend_from_slice(&14u32.to_be_bytes());
        assert!(matches!(decode_bytes(&b, &ReadOptions::default()),
            Err(Error::OutOfSensor { offset, x: 240, .. }) if offset as usize == off));
    }

    #[test]
    fn odd_word_count_and_bad_magic() {
        let mut raw = encode(&sample(3), &Aedat2WriteOptions::default()).unwrap();
        raw.extend_from_slice(&[0, 0, 0, 1]);
        assert!(matches!(
            decode_bytes(&raw, &ReadOptions::default()),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            decode_bytes(b"#!AER-DAT3.1\r\n", &ReadOptions::default()),
            Err(Error::Invalid { offset: 0, .. })
        ));
    }
}
