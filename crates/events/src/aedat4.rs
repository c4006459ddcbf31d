//! AEDAT 4.0 (DV / iniVation): reader, and a writer for event streams.
//!
//! Spec: iniVation "AEDAT file formats", §AEDAT 4.0, and the flatbuffer schemas of the `aedat`
//! crates (see `docs/formats.md`). Layout:
//!
//! ```text
//! "#!AER-DAT4.0\r\n" | u32 L | IOHeader flatbuffer (L bytes; compression, file_data_position,
//! XML description) | packets: i32 stream_id, u32 size, payload (raw / LZ4 frame / zstd frame)
//! ```
//!
//! Each decompressed payload is a size-prefixed flatbuffer; an event packet (`EVTS`) holds a
//! vector of 16-byte structs `{t: i64 µs, x: i16, y: i16, on: bool}`. The reader returns the
//! events of the event stream with the lowest id (as Tonic's `read_aedat4` does), skipping other
//! streams (frames, IMU, triggers); the sensor size is the stream's `sizeX`/`sizeY` from the XML.
//!
//! This is an own decoder rather than the `aedat` crate, because that crate panics on some
//! damaged headers; every offset here is bounds-checked and a damaged file is an [`Error`].
//! Out-of-sensor events are reported at the byte offset of their (compressed) packet.

use crate::error::{Ctx, Error};
use crate::format::{Format, ReadOptions};
use crate::recording::{finish, Recording};
use crate::source::show_bytes;
use crate::types::Events;
use rayon::prelude::*;
use std::borrow::Cow;
use std::io::{Read, Write};
use std::path::Path;

/// The version line every AEDAT 4.0 file starts with.
pub const MAGIC: &[u8] = b"#!AER-DAT4.0\r\n";
/// Largest decompressed packet accepted (guards memory against corrupt or hostile input).
const MAX_PACKET: u64 = 1 << 30;
/// Most events [`write()`] puts in one packet: 16 bytes each plus a 32-byte flatbuffer header must
/// stay within the 1 GiB the reader accepts per decompressed packet.
pub const MAX_PACKET_EVENTS: usize = (MAX_PACKET as usize - 32) / 16;

/// Packet compression of an AEDAT 4 file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Payloads are stored as is.
    None,
    /// One LZ4 frame per packet (DV's default).
    #[default]
    Lz4,
    /// One zstd frame per packet.
    Zstd,
}

/// Options for [`write()`].
#[derive(Debug, Clone)]
pub struct Aedat4WriteOptions {
    /// Packet compression.
    pub compression: Compression,
    /// Sensor width written to the XML description (`sizeX`).
    pub width: u16,
    /// Sensor height written to the XML description (`sizeY`).
    pub height: u16,
    /// Largest number of events per packet (at most [`MAX_PACKET_EVENTS`]; larger values are
    /// capped so that the reader's packet-size limit holds).
    pub packet_events: usize,
}

impl Default for Aedat4WriteOptions {
    fn default() -> Self {
        Aedat4WriteOptions {
            compression: Compression::Lz4,
            width: 346,
            height: 260,
            packet_events: 16384,
        }
    }
}

/// Reads an AEDAT 4.0 file.
pub fn read(path: &Path, opts: &ReadOptions) -> Result<Recording, Error> {
    let bytes = crate::source::open(path)?;
    decode(&bytes, Ctx { path }, opts)
}

/// Decodes AEDAT 4.0 bytes held in memory (errors name the file `<memory>`).
pub fn decode_bytes(bytes: &[u8], opts: &ReadOptions) -> Result<Recording, Error> {
    decode(bytes, Ctx::memory(), opts)
}

/// A bounds-checked view of one flatbuffer; `base` is its file offset, for error messages.
struct Fb<'a> {
    buf: &'a [u8],
    base: usize,
    ctx: Ctx<'a>,
    what: &'static str,
}

impl Fb<'_> {
    fn bytes(&self, at: usize, n: usize) -> Result<&[u8], Error> {
        at.checked_add(n)
            .and_then(|end| self.buf.get(at..end))
            .ok_or_else(|| {
                self.ctx.invalid(
                    self.base + at.min(self.buf.len()),
                    format!("{n} bytes of the {} flatbuffer at offset {at}", self.what),
                    format!("a {}-byte buffer", self.buf.len()),
                )
            })
    }
    fn u16(&self, at: usize) -> Result<u16, Error> {
        let b = self.bytes(at, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&self, at: usize) -> Result<u32, Error> {
        let b = self.bytes(at, 4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i64(&self, at: usize) -> Result<i64, Error> {
        let b = self.bytes(at, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
    }
    /// Position of the table whose uoffset is stored at `at`.
    fn deref(&self, at: usize) -> Result<usize, Error> {
        Ok(at + self.u32(at)? as usize)
    }
    /// Position of field `index` of the table at `table`, `None` when absent (default value).
    fn field(&self, table: usize, index: usize) -> Result<Option<usize>, Error> {
        let soff = self.u32(table)? as i32 as i64;
        let vt = table as i64 - soff;
        if vt < 0 || vt as usize >= self.buf.len() {
            return Err(self.ctx.invalid(
                self.base + table,
                format!("a vtable offset inside the {} flatbuffer", self.what),
                format!("{soff}"),
            ));
        }
        let vt = vt as usize;
        let vlen = self.u16(vt)? as usize;
        let slot = 4 + 2 * index;
        if slot + 2 > vlen {
            return Ok(None);
        }
        let off = self.u16(vt + slot)? as usize;
        Ok((off != 0).then_some(table + off))
    }
}

/// IOHeader facts.
struct IoHeader {
    compression: i32,
    file_data_position: i64,
    description: String,
}

fn parse_io_header(b: &[u8], ctx: Ctx) -> Result<(IoHeader, usize), Error> {
    if !b.starts_with(MAGIC) {
        if MAGIC.starts_with(b) {
            return Err(ctx.truncated(0, "the version line #!AER-DAT4.0"));
        }
        return Err(ctx.invalid(0, "the version line #!AER-DAT4.0\\r\\n", show_bytes(b)));
    }
    let at = MAGIC.len();
    let Some(lb) = b.get(at..at + 4) else {
        return Err(ctx.truncated(at, "the u32 IOHeader length"));
    };
    let len = u32::from_le_bytes([lb[0], lb[1], lb[2], lb[3]]) as usize;
    let start = at + 4;
    let Some(buf) = b.get(start..).filter(|r| r.len() >= len).map(|r| &r[..len]) else {
        return Err(ctx.truncated(start, format!("an IOHeader of {len} bytes")));
    };
    let fb = Fb {
        buf,
        base: start,
        ctx,
        what: "IOHeader",
    };
    let root = fb.deref(0)?;
    let compression = match fb.field(root, 0)? {
        Some(p) => fb.u32(p)? as i32,
        None => 0,
    };
    let file_data_position = match fb.field(root, 1)? {
        Some(p) => fb.i64(p)?,
        None => -1,
    };
    let description = match fb.field(root, 2)? {
        Some(p) => {
            let s = fb.deref(p)?;
            let n = fb.u32(s)? as usize;
            let raw = fb.bytes(s + 4, n)?;
            String::from_utf8(raw.to_vec()).map_err(|e| {
                ctx.invalid(
                    start + s + 4 + e.utf8_error().valid_up_to(),
                    "UTF-8 XML in the IOHeader description",
                    "invalid UTF-8",
                )
            })?
        }
        None => String::new(),
    };
    Ok((
        IoHeader {
            compression,
            file_data_position,
            description,
        },
        start + len,
    ))
}

/// One stream described in the XML: id, type identifier and sensor size.
#[derive(Debug)]
struct Stream {
    id: i32,
    kind: String,
    size: Option<(u16, u16)>,
}

/// Text of `<attr key="KEY" ...>VALUE</attr>` inside `s`.
fn attr<'s>(s: &'s str, key: &str) -> Option<&'s str> {
    let k = s.find(&format!("key=\"{key}\""))?;
    let rest = &s[k..];
    let open = rest.find('>')?;
    let close = rest.find("</attr>")?;
    (open < close).then(|| rest[open + 1..close].trim())
}

/// The streams of the `outInfo` node. A small scan rather than an XML parser: DV writes this
/// description in one fixed shape, and anything unexpected just yields fewer streams.
fn streams(xml: &str) -> Vec<Stream> {
    let mut out = Vec::new();
    let marks: Vec<(usize, i32)> = xml
        .match_indices("<node name=\"")
        .filter_map(|(i, m)| {
            let rest = &xml[i + m.len()..];
            let name = &rest[..rest.find('"')?];
            let id: i32 = name.parse().ok()?;
            let tag = &rest[..rest.find('>')?];
            tag.contains(&format!("outInfo/{name}/\""))
                .then_some((i, id))
        })
        .collect();
    for (k, &(i, id)) in marks.iter().enumerate() {
        let end = marks.get(k + 1).map_or(xml.len(), |m| m.0);
        let s = &xml[i..end];
        let size = match (attr(s, "sizeX"), attr(s, "sizeY")) {
            (Some(w), Some(h)) => w.parse().ok().zip(h.parse().ok()),
            _ => None,
        };
        out.push(Stream {
            id,
            kind: attr(s, "typeIdentifier").unwrap_or("").to_string(),
            size,
        });
    }
    out
}

/// One packet of the chosen stream: file offset of its header and its payload.
struct Packet<'a> {
    offset: usize,
    payload: &'a [u8],
}

/// The packet's flatbuffer: decompressed, or borrowed from the file when stored uncompressed.
fn decompress<'a>(pk: &Packet<'a>, compression: i32, ctx: Ctx) -> Result<Cow<'a, [u8]>, Error> {
    let bad = |e: std::io::Error| {
        ctx.invalid(
            pk.offset + 8,
            "a well-formed compressed packet payload",
            format!("{e}"),
        )
    };
    match compression {
        1 | 2 => read_prefixed(lz4_flex::frame::FrameDecoder::new(pk.payload), pk, ctx, bad)
            .map(Cow::Owned),
        3 | 4 => {
            let dec = zstd::stream::read::Decoder::new(pk.payload).map_err(bad)?;
            read_prefixed(dec, pk, ctx, bad).map(Cow::Owned)
        }
        _ => Ok(Cow::Borrowed(pk.payload)),
    }
}

/// Reads one size-prefixed flatbuffer from a decompressor: the u32 prefix first, so the output
/// is allocated once at its final size (growing it cost a third of the decode time).
fn read_prefixed(
    mut r: impl Read,
    pk: &Packet,
    ctx: Ctx,
    bad: impl Fn(std::io::Error) -> Error,
) -> Result<Vec<u8>, Error> {
    let mut prefix = [0u8; 4];
    r.read_exact(&mut prefix).map_err(&bad)?;
    let len = u32::from_le_bytes(prefix) as u64;
    if len + 4 > MAX_PACKET {
        return Err(ctx.invalid(
            pk.offset + 8,
            format!("a packet of at most {MAX_PACKET} bytes after decompression"),
            format!("a size prefix of {len}"),
        ));
    }
    let mut out = vec![0u8; len as usize + 4];
    out[..4].copy_from_slice(&prefix);
    r.read_exact(&mut out[4..]).map_err(&bad)?;
    Ok(out)
}

/// Identifier (bytes 8..12) of a size-prefixed flatbuffer, if long enough.
fn identifier(buf: &[u8]) -> Option<&[u8]> {
    buf.get(8..12)
}

/// Decodes one EVTS packet's flatbuffer into `ev`.
fn decode_events(buf: &[u8], pk_offset: usize, ctx: Ctx, ev: &mut Events) -> Result<(), Error> {
    let fb = Fb {
        buf,
        base: pk_offset,
        ctx,
        what: "EventPacket",
    };
    let len = fb.u32(0)? as usize;
    if len > buf.len() - 4 {
        return Err(ctx.invalid(
            pk_offset,
            format!("a size prefix of at most {} bytes", buf.len() - 4),
            format!("{len}"),
        ));
    }
    if identifier(buf) != Some(b"EVTS") {
        return Err(ctx.invalid(
            pk_offset,
            "the flatbuffer identifier EVTS in an event-stream packet",
            show_bytes(identifier(buf).unwrap_or(&[])),
        ));
    }
    let fb = Fb {
        buf: &buf[4..4 + len],
        ..fb
    };
    let root = fb.deref(0)?;
    let Some(field) = fb.field(root, 0)? else {
        return Ok(()); // no elements vector: an empty packet
    };
    let vec = fb.deref(field)?;
    let n = fb.u32(vec)? as usize;
    let data = fb.bytes(vec + 4, n.saturating_mul(16))?;
    ev.t.reserve(n);
    ev.x.reserve(n);
    ev.y.reserve(n);
    ev.p.reserve(n);
    for r in data.chunks_exact(16) {
        let mut t = [0u8; 8];
        t.copy_from_slice(&r[0..8]);
        let x = i16::from_le_bytes([r[8], r[9]]);
        let y = i16::from_le_bytes([r[10], r[11]]);
        if x < 0 || y < 0 {
            return Err(ctx.invalid(
                pk_offset,
                "non-negative event coordinates",
                format!("x={x}, y={y}"),
            ));
        }
        ev.t.push(i64::from_le_bytes(t));
        ev.x.push(x as u16);
        ev.y.push(y as u16);
        ev.p.push((r[12] != 0) as u8);
    }
    Ok(())
}

pub(crate) fn decode(b: &[u8], ctx: Ctx, opts: &ReadOptions) -> Result<Recording, Error> {
    let (io, mut pos) = parse_io_header(b, ctx)?;
    if !(0..=4).contains(&io.compression) {
        return Err(ctx.invalid(
            MAGIC.len() + 4,
            "IOHeader compression 0..=4 (none, LZ4, LZ4 high, zstd, zstd high)",
            format!("{}", io.compression),
        ));
    }
    // Packets run to the file-data table (an index at the end), or to the end of the file.
    let end = if io.file_data_position > 0 && (io.file_data_position as u64) <= b.len() as u64 {
        io.file_data_position as usize
    } else {
        b.len()
    };
    let mut all: Vec<(i32, Packet)> = Vec::new();
    while pos < end {
        let Some(h) = b.get(pos..pos + 8).filter(|_| pos + 8 <= end) else {
            return Err(ctx.truncated(pos, "an 8-byte packet header (stream id, size)"));
        };
        let id = i32::from_le_bytes([h[0], h[1], h[2], h[3]]);
        let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
        let Some(payload) = b
            .get(pos + 8..)
            .filter(|r| r.len() >= size && pos + 8 + size <= end)
        else {
            return Err(ctx.truncated(pos + 8, format!("a packet payload of {size} bytes")));
        };
        all.push((
            id,
            Packet {
                offset: pos,
                payload: &payload[..size],
            },
        ));
        pos += 8 + size;
    }
    let described = streams(&io.description);
    let chosen = described
        .iter()
        .filter(|s| s.kind == "EVTS")
        .min_by_key(|s| s.id);
    let (id, xml_size) = match chosen {
        Some(s) => (Some(s.id), s.size),
        None => {
            // No usable description: the lowest stream id whose first packet is an EVTS buffer.
            let mut ids: Vec<i32> = all.iter().map(|(i, _)| *i).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut found = None;
            for i in ids {
                if let Some((_, pk)) = all.iter().find(|(j, _)| *j == i) {
                    let buf = decompress(pk, io.compression, ctx)?;
                    if identifier(&buf) == Some(b"EVTS") {
                        found = Some(i);
                        break;
                    }
                }
            }
            (found, None)
        }
    };
    let packets: Vec<&Packet> = all
        .iter()
        .filter(|(i, _)| Some(*i) == id)
        .map(|(_, p)| p)
        .collect();
    // Decompress and decode packets in parallel batches, appending each batch in file order, so
    // that at most one batch exists twice (decoded parts + final columns).
    let size = opts.profile.map(|p| p.sensor_size()).or(xml_size);
    let batch = 8 * rayon::current_num_threads().max(1);
    let mut events = Events::default();
    for group in packets.chunks(batch) {
        let parts: Vec<Result<Events, Error>> = group
            .par_iter()
            .map(|pk| {
                let buf = decompress(pk, io.compression, ctx)?;
                let mut ev = Events::default();
                decode_events(&buf, pk.offset, ctx, &mut ev)?;
                Ok(ev)
            })
            .collect();
        for (pk, part) in group.iter().zip(parts) {
            let p = part?;
            if let Some(size) = size {
                if let Some(i) = crate::source::first_outside(&p.x, &p.y, size) {
                    return Err(ctx.out_of_sensor(pk.offset, p.x[i].into(), p.y[i].into(), size));
                }
            }
            events.t.extend_from_slice(&p.t);
            events.x.extend_from_slice(&p.x);
            events.y.extend_from_slice(&p.y);
            events.p.extend_from_slice(&p.p);
        }
    }
    Ok(finish(Format::Aedat4, events, size))
}

/// Writes `events` as an AEDAT 4.0 file with one event stream (id 0), atomically.
///
/// Requires `x < width`, `y < height` (both below 32768); polarity is ON for any non-zero `p`.
/// The IOHeader's `file_data_position` is -1 (no index table), which readers accept.
pub fn write(path: &Path, events: &Events, opts: &Aedat4WriteOptions) -> Result<(), Error> {
    crate::source::write_atomic(path, |w| write_to(w, events, opts, Ctx { path }))
}

/// Encodes `events` as AEDAT 4.0 into memory (see [`write()`]).
pub fn encode(events: &Events, opts: &Aedat4WriteOptions) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    write_to(&mut out, events, opts, Ctx::memory())?;
    Ok(out)
}

fn io_header(compression: Compression, width: u16, height: u16) -> Vec<u8> {
    let comp_name = match compression {
        Compression::None => "NONE",
        Compression::Lz4 => "LZ4",
        Compression::Zstd => "ZSTD",
    };
    let xml = format!(
        "<dv version=\"2.0\">\n    <node name=\"outInfo\" path=\"/mainloop/Recorder/outInfo/\">\n        \
         <node name=\"0\" path=\"/mainloop/Recorder/outInfo/0/\">\n            \
         <attr key=\"compression\" type=\"string\">{comp_name}</attr>\n            \
         <attr key=\"originalModuleName\" type=\"string\">snnkit</attr>\n            \
         <attr key=\"originalOutputName\" type=\"string\">events</attr>\n            \
         <attr key=\"typeDescription\" type=\"string\">Array of events (polarity ON/OFF).</attr>\n            \
         <attr key=\"typeIdentifier\" type=\"string\">EVTS</attr>\n            \
         <node name=\"info\" path=\"/mainloop/Recorder/outInfo/0/info/\">\n                \
         <attr key=\"sizeX\" type=\"int\">{width}</attr>\n                \
         <attr key=\"sizeY\" type=\"int\">{height}</attr>\n                \
         <attr key=\"source\" type=\"string\">snnkit</attr>\n            \
         </node>\n        </node>\n    </node>\n</dv>\n"
    );
    let code: i32 = match compression {
        Compression::None => 0,
        Compression::Lz4 => 1,
        Compression::Zstd => 3,
    };
    // Flatbuffer by hand: root offset, "IOHE", vtable (3 fields), table, string.
    let mut b = Vec::new();
    b.extend_from_slice(&20u32.to_le_bytes()); // root table at 20
    b.extend_from_slice(b"IOHE");
    for v in [10u16, 20, 4, 12, 8, 0] {
        b.extend_from_slice(&v.to_le_bytes()); // vtable at 8: len, table len, fields; pad
    }
    b.extend_from_slice(&12i32.to_le_bytes()); // table at 20: vtable at 20 - 12
    b.extend_from_slice(&code.to_le_bytes()); // 24: compression
    b.extend_from_slice(&12u32.to_le_bytes()); // 28: description string at 40
    b.extend_from_slice(&(-1i64).to_le_bytes()); // 32: file_data_position
    b.extend_from_slice(&(xml.len() as u32).to_le_bytes()); // 40: string
    b.extend_from_slice(xml.as_bytes());
    b.push(0);
    while b.len() % 4 != 0 {
        b.push(0);
    }
    b
}

fn event_packet(ev: &Events, r: std::ops::Range<usize>) -> Vec<u8> {
    let n = r.len();
    let mut b = Vec::with_capacity(32 + 16 * n);
    b.extend_from_slice(&((28 + 16 * n) as u32).to_le_bytes()); // size prefix
    b.extend_from_slice(&16u32.to_le_bytes()); // root table at 4 + 16
    b.extend_from_slice(b"EVTS");
    for v in [6u16, 8, 4, 0] {
        b.extend_from_slice(&v.to_le_bytes()); // vtable at 12; pad
    }
    b.extend_from_slice(&8i32.to_le_bytes()); // table at 20: vtable at 12
    b.extend_from_slice(&4u32.to_le_bytes()); // 24: elements vector at 28
    b.extend_from_slice(&(n as u32).to_le_bytes()); // 28: count, structs from 32
    for i in r {
        b.extend_from_slice(&ev.t[i].to_le_bytes());
        b.extend_from_slice(&(ev.x[i] as i16).to_le_bytes());
        b.extend_from_slice(&(ev.y[i] as i16).to_le_bytes());
        b.extend_from_slice(&[(ev.p[i] != 0) as u8, 0, 0, 0]);
    }
    b
}

fn write_to<W: Write>(
    w: &mut W,
    ev: &Events,
    opts: &Aedat4WriteOptions,
    ctx: Ctx,
) -> Result<(), Error> {
    if opts.width > 0x7FFF || opts.height > 0x7FFF {
        return Err(Error::Unwritable {
            path: ctx.path.to_path_buf(),
            index: 0,
            message: format!("sensor {}x{} exceeds 32767", opts.width, opts.height),
        });
    }
    if let Some(i) = crate::source::first_outside(&ev.x, &ev.y, (opts.width, opts.height)) {
        return Err(Error::Unwritable {
            path: ctx.path.to_path_buf(),
            index: i,
            message: format!(
                "x={}, y={} outside the {}x{} sensor",
                ev.x[i], ev.y[i], opts.width, opts.height
            ),
        });
    }
    write_header(w, opts, ctx)?;
    write_packets(w, ev, opts, ctx)
}

/// Writes the magic line and the IOHeader.
pub(crate) fn write_header<W: Write>(
    w: &mut W,
    opts: &Aedat4WriteOptions,
    ctx: Ctx,
) -> Result<(), Error> {
    let head = io_header(opts.compression, opts.width, opts.height);
    w.write_all(MAGIC).map_err(|e| ctx.io(e))?;
    w.write_all(&(head.len() as u32).to_le_bytes())
        .map_err(|e| ctx.io(e))?;
    w.write_all(&head).map_err(|e| ctx.io(e))
}

/// Writes `ev` as event packets of stream 0 (no header; the caller checked the sensor size).
pub(crate) fn write_packets<W: Write>(
    w: &mut W,
    ev: &Events,
    opts: &Aedat4WriteOptions,
    ctx: Ctx,
) -> Result<(), Error> {
    // A packet must stay within what the reader accepts (and its u32 size prefix).
    let step = opts.packet_events.clamp(1, MAX_PACKET_EVENTS);
    let ranges: Vec<_> = (0..ev.len())
        .step_by(step)
        .map(|s| s..(s + step).min(ev.len()))
        .collect();
    let payloads: Vec<Result<Vec<u8>, std::io::Error>> = ranges
        .into_par_iter()
        .map(|r| {
            let raw = event_packet(ev, r);
            match opts.compression {
                Compression::None => Ok(raw),
                Compression::Lz4 => {
                    let mut enc = lz4_flex::frame::FrameEncoder::new(Vec::new());
                    enc.write_all(&raw)?;
                    enc.finish().map_err(std::io::Error::other)
                }
                Compression::Zstd => zstd::bulk::compress(&raw, 3),
            }
        })
        .collect();
    for p in payloads {
        let p = p.map_err(|e| ctx.io(e))?;
        w.write_all(&0i32.to_le_bytes()).map_err(|e| ctx.io(e))?;
        w.write_all(&(p.len() as u32).to_le_bytes())
            .map_err(|e| ctx.io(e))?;
        w.write_all(&p).map_err(|e| ctx.io(e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Event;

    fn sample(n: i64) -> Events {
        (0..n)
            .map(|i| Event {
                t: 1_605_507_430_438_338 + i * 7,
                x: (i % 346) as u16,
                y: (i * 3 % 260) as u16,
                p: (i % 2) as u8,
            })
            .collect()
    }

    #[test]
    fn round_trip_each_compression() {
        let ev = sample(50_000);
        for compression in [Compression::None, Compression::Lz4, Compression::Zstd] {
            let opts = Aedat4WriteOptions {
                compression,
                packet_events: 7000,
                ..Default::default()
            };
            let b = encode(&ev, &opts).unwrap();
            let rec = decode_bytes(&b, &ReadOptions::default()).unwrap();
            assert_eq!(rec.events, ev, "{compression:?}");
            assert_eq!((rec.width, rec.height), (Some(346), Some(260)));
        }
    }

    #[test]
    fn xml_streams_are_found() {
        let head = io_header(Compression::Lz4, 320, 240);
        let xml = String::from_utf8_lossy(&head[44..]).to_string();
        let s = streams(&xml);
        assert_eq!(s.len(), 1);
        assert_eq!(
            (s[0].id, s[0].kind.as_str(), s[0].size),
            (0, "EVTS", Some((320, 240)))
        );
    }

    #[test]
    fn damaged_headers_are_errors() {
        let b = encode(&sample(100), &Aedat4WriteOptions::default()).unwrap();
        let opts = ReadOptions::default();
        let mut bad = b.clone();
        bad[14] = 0xFF; // IOHeader length beyond the file
        bad[15] = 0xFF;
        bad[16] = 0xFF;
        assert!(matches!(
            decode_bytes(&bad, &opts),
            Err(Error::Truncated { offset: 18, .. })
        ));
        let mut bad = b.clone();
        bad[60] = 0xFF; // inside the XML: invalid UTF-8
        assert!(decode_bytes(&bad, &opts).is_err());
        assert!(matches!(
            decode_bytes(&b[..b.len() - 1], &opts),
            Err(Error::Truncated { .. })
        ));
    }
}
