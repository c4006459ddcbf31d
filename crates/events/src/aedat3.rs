//! AEDAT 3.1 (cAER / DVS128 Gesture): reader and writer.
//!
//! Spec: iniVation "AEDAT file formats", §AEDAT 3.1 (see `docs/formats.md`). After an ASCII header
//! ending in `#!END-HEADER\r\n`, the file is a sequence of packets: a 28-byte little-endian header
//! (`eventType, eventSource: i16; eventSize, eventTSOffset, eventTSOverflow, eventCapacity,
//! eventNumber, eventValid: i32`) followed by `eventCapacity × eventSize` bytes. Polarity events
//! (type 1) are 8 bytes: `u32 data` (bit 0 valid, bit 1 polarity, bits 2–16 y, bits 17–31 x) and a
//! 32-bit timestamp in µs; the full timestamp is `t = ts | eventTSOverflow << 31`.
//!
//! Default decoding matches SpikingJelly's `load_aedat_v3`: every event of every polarity packet
//! is kept, including events whose validity bit is 0, and all other packet types (special, frame,
//! IMU, ...) are skipped, so special events never become polarity events.
//! [`ReadOptions::strict`] drops invalid events instead (the spec's meaning of the bit).
//! Coordinates are as stored: (0, 0) is the upper-left pixel.

use crate::error::{Ctx, Error};
use crate::format::{Format, ReadOptions};
use crate::recording::{finish, Recording};
use crate::source::{le_i32, le_u32, show_bytes, Cols, JOB_EVENTS};
use crate::types::Events;
use rayon::prelude::*;
use std::io::Write;
use std::path::Path;

/// The version line every AEDAT 3.1 file starts with.
pub const MAGIC: &[u8] = b"#!AER-DAT3.1";
const END_HEADER: &[u8] = b"#!END-HEADER";
const PACKET_HEADER: usize = 28;
const POLARITY: i16 = 1;

/// Options for [`write()`].
#[derive(Debug, Clone)]
pub struct Aedat3WriteOptions {
    /// Device name written in the `#Source 1: <name>` header line (readers infer the sensor size
    /// from it: `DVS128` → 128×128, `DAVIS240` → 240×180, `DAVIS346` → 346×260).
    pub source: String,
    /// Text of the `#Start-Time:` header line (for example `2017-03-01 12:00:00 (TZ+0000)`);
    /// omitted when `None`, which keeps the output a pure function of the events.
    pub start_time: Option<String>,
    /// Largest number of events per polarity packet (cAER writes a few thousand).
    pub packet_events: usize,
}

impl Default for Aedat3WriteOptions {
    fn default() -> Self {
        Aedat3WriteOptions {
            source: "DVS128".to_string(),
            start_time: None,
            packet_events: 4096,
        }
    }
}

/// Reads an AEDAT 3.1 file.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<Recording, Error> {
    let bytes = crate::source::open(path)?;
    decode(&bytes, Ctx { path }, opts)
}

/// Decodes AEDAT 3.1 bytes held in memory (errors name the file `<memory>`).
pub fn decode_bytes(bytes: &[u8], opts: &ReadOptions) -> Result<Recording, Error> {
    decode(bytes, Ctx::memory(), opts)
}

/// One polarity packet: where its events start, how many and how big they are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Packet {
    pub data: usize,
    pub n: usize,
    pub size: usize,
    pub overflow: u32,
}

/// Header facts the decoder needs.
pub(crate) struct Header {
    pub data_start: usize,
    pub sensor: Option<(u16, u16)>,
}

/// Sensor size of a known cAER device name (`#Source <id>: <name>`).
fn sensor_of(name: &str) -> Option<(u16, u16)> {
    let n = name.trim().to_ascii_uppercase();
    let table: [(&str, (u16, u16)); 6] = [
        ("DVS128", (128, 128)),
        ("DAVIS128", (128, 128)),
        ("DAVIS208", (208, 192)),
        ("DAVIS240", (240, 180)),
        ("DAVIS346", (346, 260)),
        ("DAVIS640", (640, 480)),
    ];
    table
        .iter()
        .find(|(prefix, _)| n.starts_with(prefix))
        .map(|&(_, s)| s)
}

pub(crate) fn parse_header(b: &[u8], ctx: Ctx) -> Result<Header, Error> {
    if !b.starts_with(MAGIC) {
        if MAGIC.starts_with(b) {
            return Err(ctx.truncated(0, "the version line #!AER-DAT3.1"));
        }
        return Err(ctx.invalid(0, "the version line #!AER-DAT3.1", show_bytes(b)));
    }
    let mut pos = 0;
    let mut sensor = None;
    loop {
        let Some(nl) = b[pos..].iter().position(|&c| c == b'\n') else {
            return Err(ctx.truncated(pos, "a header line ending in \\n, up to #!END-HEADER"));
        };
        let line = &b[pos..pos + nl];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if !line.starts_with(b"#") {
            return Err(ctx.invalid(
                pos,
                "a header line starting with '#' (the header must end with #!END-HEADER)",
                show_bytes(line),
            ));
        }
        if line == END_HEADER {
            return Ok(Header {
                data_start: pos + nl + 1,
                sensor,
            });
        }
        if let Some(rest) = line.strip_prefix(b"#Source ") {
            if sensor.is_none() {
                let text = String::from_utf8_lossy(rest);
                sensor = text.split_once(':').and_then(|(_, name)| sensor_of(name));
            }
        }
        pos += nl + 1;
    }
}

/// Walks the packet headers, validating sizes; returns the polarity packets and their event total.
pub(crate) fn scan_packets(
    b: &[u8],
    start: usize,
    ctx: Ctx,
) -> Result<(Vec<Packet>, usize), Error> {
    let mut pos = start;
    let mut packets = Vec::new();
    let mut total = 0usize;
    while pos < b.len() {
        if b.len() - pos < PACKET_HEADER {
            return Err(ctx.truncated(pos, "a 28-byte packet header"));
        }
        let etype = le_u32(b, pos) as u16 as i16;
        let size = le_i32(b, pos + 4);
        let overflow = le_u32(b, pos + 12);
        let capacity = le_i32(b, pos + 16);
        let number = le_i32(b, pos + 20);
        let valid = le_i32(b, pos + 24);
        if size < 0 {
            return Err(ctx.invalid(pos + 4, "eventSize >= 0", format!("{size}")));
        }
        if capacity < 0 {
            return Err(ctx.invalid(pos + 16, "eventCapacity >= 0", format!("{capacity}")));
        }
        if number < 0 || number > capacity {
            return Err(ctx.invalid(
                pos + 20,
                format!("eventNumber in 0..={capacity} (eventCapacity)"),
                format!("{number}"),
            ));
        }
        if valid < 0 || valid > number {
            return Err(ctx.invalid(
                pos + 24,
                format!("eventValid in 0..={number} (eventNumber)"),
                format!("{valid}"),
            ));
        }
        let body = capacity as u64 * size as u64;
        let data = pos + PACKET_HEADER;
        if body > (b.len() - data) as u64 {
            return Err(ctx.truncated(
                data,
                format!(
                    "{capacity} events of {size} bytes ({body} bytes; {} left in the file)",
                    b.len() - data
                ),
            ));
        }
        if etype == POLARITY {
            if size < 8 {
                return Err(ctx.invalid(
                    pos + 4,
                    "eventSize >= 8 for a polarity packet",
                    format!("{size}"),
                ));
            }
            packets.push(Packet {
                data,
                n: capacity as usize,
                size: size as usize,
                overflow,
            });
            total += capacity as usize;
        }
        pos = data + body as usize;
    }
    Ok((packets, total))
}

#[inline(always)]
pub(crate) fn unpack(rec: &[u8], hi: i64) -> (i64, u16, u16, u8, bool) {
    let d = le_u32(rec, 0);
    let ts = le_u32(rec, 4);
    (
        ts as i64 | hi,
        ((d >> 17) & 0x7FFF) as u16,
        ((d >> 2) & 0x7FFF) as u16,
        ((d >> 1) & 1) as u8,
        d & 1 == 1,
    )
}

/// Decodes one packet into pre-sized output slices; returns the coordinate maxima.
fn fill(b: &[u8], pk: &Packet, c: Cols) -> (u16, u16) {
    let Cols { t, x, y, p } = c;
    let hi = (pk.overflow as i64) << 31;
    let data = &b[pk.data..pk.data + pk.n * pk.size];
    let (mut mx, mut my) = (0u16, 0u16);
    // Fixed 8-byte records let the compiler unroll and drop bounds checks; other sizes are legal
    // (extra bytes per event are ignored, as SpikingJelly does).
    macro_rules! body {
        ($recs:expr) => {
            for ((((rec, t), x), y), p) in $recs
                .zip(t.iter_mut())
                .zip(x.iter_mut())
                .zip(y.iter_mut())
                .zip(p.iter_mut())
            {
                let (tt, xx, yy, pp, _) = unpack(rec, hi);
                *t = tt;
                *x = xx;
                *y = yy;
                *p = pp;
                mx = mx.max(xx);
                my = my.max(yy);
            }
        };
    }
    if pk.size == 8 {
        body!(data.chunks_exact(8));
    } else {
        body!(data.chunks_exact(pk.size));
    }
    (mx, my)
}

/// Offset, x and y of the first event of `pk` outside `size` (only valid events when `strict`).
fn first_outside(
    b: &[u8],
    pk: &Packet,
    size: (u16, u16),
    strict: bool,
) -> Option<(usize, u16, u16)> {
    (0..pk.n).find_map(|i| {
        let off = pk.data + i * pk.size;
        let (_, x, y, _, valid) = unpack(&b[off..off + 8], 0);
        ((!strict || valid) && (x >= size.0 || y >= size.1)).then_some((off, x, y))
    })
}

fn decode_all(b: &[u8], packets: &[Packet], total: usize) -> (Events, Vec<(u16, u16)>) {
    let mut ev = crate::source::zeroed_events(total);
    let mut maxima = vec![(0u16, 0u16); packets.len()];
    // Cut packets into jobs of about JOB_EVENTS events and the outputs into matching slices.
    let mut jobs = Vec::new();
    {
        let (mut t, mut x, mut y, mut p) =
            (&mut ev.t[..], &mut ev.x[..], &mut ev.y[..], &mut ev.p[..]);
        let mut m = &mut maxima[..];
        let mut first = 0;
        while first < packets.len() {
            let mut last = first;
            let mut n = 0;
            while last < packets.len() && (n == 0 || n + packets[last].n <= JOB_EVENTS) {
                n += packets[last].n;
                last += 1;
            }
            let (t0, t1) = std::mem::take(&mut t).split_at_mut(n);
            let (x0, x1) = std::mem::take(&mut x).split_at_mut(n);
            let (y0, y1) = std::mem::take(&mut y).split_at_mut(n);
            let (p0, p1) = std::mem::take(&mut p).split_at_mut(n);
            let (m0, m1) = std::mem::take(&mut m).split_at_mut(last - first);
            let cols = Cols {
                t: t0,
                x: x0,
                y: y0,
                p: p0,
            };
            jobs.push((&packets[first..last], cols, m0));
            (t, x, y, p, m) = (t1, x1, y1, p1, m1);
            first = last;
        }
    }
    let run = |(pks, c, m): (&[Packet], Cols, &mut [(u16, u16)])| {
        let Cols { t, x, y, p } = c;
        let mut at = 0;
        for (pk, mm) in pks.iter().zip(m.iter_mut()) {
            let r = at..at + pk.n;
            let cols = Cols {
                t: &mut t[r.clone()],
                x: &mut x[r.clone()],
                y: &mut y[r.clone()],
                p: &mut p[r],
            };
            *mm = fill(b, pk, cols);
            at += pk.n;
        }
    };
    if jobs.len() > 1 {
        jobs.into_par_iter().for_each(run);
    } else {
        jobs.into_iter().for_each(run);
    }
    (ev, maxima)
}

fn decode_strict(b: &[u8], packets: &[Packet], total: usize) -> (Events, Vec<(u16, u16)>) {
    let mut ev = Events::with_capacity(total);
    let mut maxima = Vec::with_capacity(packets.len());
    for pk in packets {
        let hi = (pk.overflow as i64) << 31;
        let (mut mx, mut my) = (0u16, 0u16);
        for rec in b[pk.data..pk.data + pk.n * pk.size].chunks_exact(pk.size) {
            let (t, x, y, p, valid) = unpack(rec, hi);
            if valid {
                ev.t.push(t);
                ev.x.push(x);
                ev.y.push(y);
                ev.p.push(p);
                mx = mx.max(x);
                my = my.max(y);
            }
        }
        maxima.push((mx, my));
    }
    (ev, maxima)
}

pub(crate) fn decode(b: &[u8], ctx: Ctx, opts: &ReadOptions) -> Result<Recording, Error> {
    let header = parse_header(b, ctx)?;
    let (packets, total) = scan_packets(b, header.data_start, ctx)?;
    let (events, maxima) = if opts.strict {
        decode_strict(b, &packets, total)
    } else {
        decode_all(b, &packets, total)
    };
    let size = opts.profile.map(|p| p.sensor_size()).or(header.sensor);
    if let Some(size) = size {
        for (pk, &(mx, my)) in packets.iter().zip(&maxima) {
            if mx >= size.0 || my >= size.1 {
                if let Some((off, x, y)) = first_outside(b, pk, size, opts.strict) {
                    return Err(ctx.out_of_sensor(off, x.into(), y.into(), size));
                }
            }
        }
    }
    Ok(finish(Format::Aedat3, events, size))
}

/// Writes `events` as an AEDAT 3.1 file (atomically: temporary file, then rename).
///
/// Events become polarity packets of at most `packet_events` events with the validity bit set;
/// a new packet starts whenever `t >> 31` changes, which becomes the packet's `eventTSOverflow`.
/// Requires `0 <= t < 2^62`, `x, y < 32768`; polarity is ON for any non-zero `p`.
pub fn write(path: &Path, events: &Events, opts: &Aedat3WriteOptions) -> Result<(), Error> {
    crate::source::write_atomic(path, |w| write_to(w, events, opts, Ctx { path }))
}

/// Encodes `events` as AEDAT 3.1 into memory (see [`write()`]).
pub fn encode(events: &Events, opts: &Aedat3WriteOptions) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(200 + events.len() * 8 + events.len() / 64 * 28);
    write_to(&mut out, events, opts, Ctx::memory())?;
    Ok(out)
}

fn write_to<W: Write>(
    w: &mut W,
    ev: &Events,
    opts: &Aedat3WriteOptions,
    ctx: Ctx,
) -> Result<(), Error> {
    write_header(w, opts, ctx)?;
    write_packets(w, ev, opts, ctx, 0)
}

/// Writes the text header.
pub(crate) fn write_header<W: Write>(
    w: &mut W,
    opts: &Aedat3WriteOptions,
    ctx: Ctx,
) -> Result<(), Error> {
    let unwritable = |index: usize, message: String| Error::Unwritable {
        path: ctx.path.to_path_buf(),
        index,
        message,
    };
    if opts.source.contains(['\r', '\n']) {
        return Err(unwritable(
            0,
            "the source name contains a line break".into(),
        ));
    }
    let mut head = format!(
        "#!AER-DAT3.1\r\n#Format: RAW\r\n#Source 1: {}\r\n",
        opts.source
    );
    if let Some(st) = &opts.start_time {
        if st.contains(['\r', '\n']) {
            return Err(unwritable(0, "the start time contains a line break".into()));
        }
        head.push_str(&format!("#Start-Time: {st}\r\n"));
    }
    head.push_str("#!END-HEADER\r\n");
    w.write_all(head.as_bytes()).map_err(|e| ctx.io(e))
}

/// Writes `ev` as polarity packets (no header); error indices count from `first`.
pub(crate) fn write_packets<W: Write>(
    w: &mut W,
    ev: &Events,
    opts: &Aedat3WriteOptions,
    ctx: Ctx,
    first: usize,
) -> Result<(), Error> {
    let unwritable = |index: usize, message: String| Error::Unwritable {
        path: ctx.path.to_path_buf(),
        index: first + index,
        message,
    };
    let cap = opts.packet_events.clamp(1, i32::MAX as usize);
    let n = ev.len();
    // No bigger than the events need: `packet_events` may be up to i32::MAX.
    let mut buf: Vec<u8> = Vec::with_capacity(PACKET_HEADER + cap.min(n) * 8);
    let mut i = 0;
    while i < n {
        let overflow = ev.t[i] >> 31;
        let mut j = i;
        while j < n && j - i < cap && ev.t[j] >> 31 == overflow {
            let (t, x, y) = (ev.t[j], ev.x[j], ev.y[j]);
            if !(0..1i64 << 62).contains(&t) {
                return Err(unwritable(j, format!("timestamp {t} outside 0..2^62")));
            }
            if x > 0x7FFF || y > 0x7FFF {
                return Err(unwritable(j, format!("x={x}, y={y} do not fit 15 bits")));
            }
            j += 1;
        }
        let count = (j - i) as i32;
        buf.clear();
        buf.extend_from_slice(&POLARITY.to_le_bytes());
        buf.extend_from_slice(&1i16.to_le_bytes()); // eventSource: the #Source 1 line
        buf.extend_from_slice(&8i32.to_le_bytes()); // eventSize
        buf.extend_from_slice(&4i32.to_le_bytes()); // eventTSOffset
        buf.extend_from_slice(&(overflow as i32).to_le_bytes());
        for _ in 0..3 {
            buf.extend_from_slice(&count.to_le_bytes()); // capacity, number, valid
        }
        for k in i..j {
            let d =
                (ev.x[k] as u32) << 17 | (ev.y[k] as u32) << 2 | ((ev.p[k] != 0) as u32) << 1 | 1;
            buf.extend_from_slice(&d.to_le_bytes());
            buf.extend_from_slice(&((ev.t[k] & 0x7FFF_FFFF) as u32).to_le_bytes());
        }
        w.write_all(&buf).map_err(|e| ctx.io(e))?;
        i = j;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Event;

    fn sample() -> Events {
        (0..10_000i64)
            .map(|i| Event {
                t: i * 1000 + (i % 7) + if i > 5000 { 3 << 31 } else { 0 },
                x: (i % 128) as u16,
                y: ((i * 7) % 128) as u16,
                p: (i % 3 == 0) as u8,
            })
            .collect()
    }

    #[test]
    fn round_trip_with_overflow_and_sensor_from_source() {
        let ev = sample();
        let bytes = encode(&ev, &Aedat3WriteOptions::default()).unwrap();
        let rec = decode_bytes(&bytes, &ReadOptions::default()).unwrap();
        assert_eq!(rec.events, ev);
        assert_eq!((rec.width, rec.height), (Some(128), Some(128)));
        assert_eq!(rec.format, Format::Aedat3);
        let strict = ReadOptions {
            strict: true,
            ..Default::default()
        };
        assert_eq!(decode_bytes(&bytes, &strict).unwrap().events, ev);
    }

    #[test]
    fn round_trip_through_a_file_in_parallel_jobs() {
        let ev: Events = (0..700_000i64)
            .map(|i| Event {
                t: i,
                x: (i % 300) as u16,
                y: (i % 200) as u16,
                p: (i & 1) as u8,
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.aedat");
        let opts = Aedat3WriteOptions {
            source: "DAVIS346B".into(),
            start_time: Some("2017-03-01 12:00:00 (TZ+0000)".into()),
            packet_events: 5000,
        };
        write(&path, &ev, &opts).unwrap();
        let rec = read(&path, &ReadOptions::default()).unwrap();
        assert_eq!((rec.width, rec.height), (Some(346), Some(260)));
        assert_eq!(rec.events, ev);
    }

    #[test]
    fn strict_drops_invalid_events_and_default_keeps_them() {
        let ev = sample();
        let mut bytes = encode(&ev, &Aedat3WriteOptions::default()).unwrap();
        let start = parse_header(
            &bytes,
            Ctx {
                path: Path::new("m"),
            },
        )
        .unwrap()
        .data_start;
        // Clear the validity bit of the third event of the first packet.
        bytes[start + PACKET_HEADER + 2 * 8] &= !1;
        let all = decode_bytes(&bytes, &ReadOptions::default()).unwrap();
        assert_eq!(all.events, ev);
        let strict = ReadOptions {
            strict: true,
            ..Default::default()
        };
        let some = decode_bytes(&bytes, &strict).unwrap().events;
        assert_eq!(some.len(), ev.len() - 1);
        assert_eq!(some.get(2), ev.get(3));
    }

    #[test]
    fn out_of_sensor_names_the_byte() {
        let mut ev = sample();
        ev.x[42] = 200;
        let bytes = encode(&ev, &Aedat3WriteOptions::default()).unwrap();
        let start = parse_header(
            &bytes,
            Ctx {
                path: Path::new("m"),
            },
        )
        .unwrap()
        .data_start;
        match decode_bytes(&bytes, &ReadOptions::default()) {
            Err(Error::OutOfSensor { offset, x, .. }) => {
                assert_eq!(offset as usize, start + PACKET_HEADER + 42 * 8);
                assert_eq!(x, 200);
            }
            other => panic!("expected OutOfSensor, got {other:?}"),
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let ev = sample();
        let bytes = encode(&ev, &Aedat3WriteOptions::default()).unwrap();
        let opts = ReadOptions::default();
        assert!(matches!(
            decode_bytes(b"#!AER-DAT2.0\r\n", &opts),
            Err(Error::Invalid { offset: 0, .. })
        ));
        assert!(matches!(
            decode_bytes(b"#!AER-DA", &opts),
            Err(Error::Truncated { offset: 0, .. })
        ));
        assert!(matches!(
            decode_bytes(b"#!AER-DAT3.1\r\n#x\r\n", &opts),
            Err(Error::Truncated { .. })
        ));
        let start = parse_header(
            &bytes,
            Ctx {
                path: Path::new("m"),
            },
        )
        .unwrap()
        .data_start;
        let mut b = bytes.clone();
        b[start + 4] = 4; // eventSize 4 in a polarity packet
        assert!(
            matches!(decode_bytes(&b, &opts), Err(Error::Invalid { offset, .. }) if offset as usize == start + 4)
        );
        let cut = &bytes[..bytes.len() - 3];
        assert!(matches!(
            decode_bytes(cut, &opts),
            Err(Error::Truncated { .. })
        ));
        assert!(encode(
            &Events {
                t: vec![-1],
                x: vec![0],
                y: vec![0],
                p: vec![0]
            },
            &Aedat3WriteOptions::default()
        )
        .is_err());
    }
}
