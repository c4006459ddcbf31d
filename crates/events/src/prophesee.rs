//! The `%` text header shared by Prophesee's EVT 2.0 / EVT 3.0 `.raw` and DAT `.dat` files.
//!
//! A header is a run of lines that start with `%`; newer files end it with `% end`, older ones
//! simply start the binary data after the last `%` line (as OpenEB reads them). The sensor size
//! comes from `% format EVTx;width=W;height=H`, `% geometry WxH` or the DAT lines `% Width W` /
//! `% Height H`, in that order of preference.

use crate::error::{Ctx, Error};

/// Longest header line accepted; a longer run without a line break is binary data, not a header.
const MAX_LINE: usize = 64 * 1024;

/// Ranges of data words, each with the decoder state it starts in and the index of its first
/// event, plus the total event count: the result of the first of the two decoding passes.
pub(crate) type Plan<'a, S> = (Vec<(&'a [u8], S, usize)>, usize);

/// The event encoding a `.raw` header names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Evt {
    V2,
    V3,
    /// EVT 2.1 (64-bit vectorised words): named so that the error can say so; not decoded.
    V21,
}

/// What the header says.
#[derive(Debug, Clone, Default)]
pub(crate) struct Header {
    /// Offset of the first data byte.
    pub data_start: usize,
    /// Number of `%` lines.
    pub lines: usize,
    /// Encoding from `% evt X.Y` or `% format EVTx`.
    pub evt: Option<Evt>,
    /// Sensor `(width, height)`.
    pub size: Option<(u16, u16)>,
    /// DAT `% Version N`.
    pub version: Option<u32>,
}

fn evt_name(s: &str) -> Option<Evt> {
    match s.trim().to_ascii_uppercase().as_str() {
        "2.0" | "EVT2" | "EVT20" | "EVT2.0" => Some(Evt::V2),
        "3.0" | "EVT3" | "EVT30" | "EVT3.0" => Some(Evt::V3),
        "2.1" | "EVT21" | "EVT2.1" => Some(Evt::V21),
        _ => None,
    }
}

/// Parses the `%` header lines at the start of `b`.
///
/// Never fails on unknown keys (vendors add many); fails only on a header line without an end
/// or a size that is not a number.
pub(crate) fn parse_header(b: &[u8], ctx: Ctx) -> Result<Header, Error> {
    let mut h = Header::default();
    let (mut fw, mut fh) = (None, None); // from `% format`
    let mut geometry = None;
    let (mut dw, mut dh) = (None, None); // DAT `% Width` / `% Height`
    let mut pos = 0;
    while pos < b.len() && b[pos] == b'%' {
        let rest = &b[pos..b.len().min(pos + MAX_LINE)];
        let Some(nl) = rest.iter().position(|&c| c == b'\n') else {
            return Err(ctx.truncated(pos, "a '%' header line ending in a line break"));
        };
        let line = String::from_utf8_lossy(&rest[..nl]);
        let line = line.trim_end_matches('\r');
        let at = pos;
        pos += nl + 1;
        h.lines += 1;
        let body = line[1..].trim();
        if body == "end" {
            break;
        }
        let num = |s: &str, what: &str| -> Result<u16, Error> {
            s.trim()
                .parse::<u16>()
                .map_err(|_| ctx.invalid(at, format!("a {what} in 0..65536"), format!("{s:?}")))
        };
        let (key, val) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
        match key {
            "evt" => h.evt = h.evt.or(evt_name(val)),
            "format" => {
                let mut parts = val.split(';');
                if let Some(name) = parts.next() {
                    h.evt = evt_name(name).or(h.evt);
                }
                for kv in parts {
                    match kv.split_once('=') {
                        Some(("width", v)) => fw = Some(num(v, "width")?),
                        Some(("height", v)) => fh = Some(num(v, "height")?),
                        _ => {}
                    }
                }
            }
            "geometry" => {
                if let Some((w, hh)) = val.trim().split_once('x') {
                    geometry = Some((num(w, "geometry width")?, num(hh, "geometry height")?));
                }
            }
            "Width" => dw = Some(num(val, "width")?),
            "Height" => dh = Some(num(val, "height")?),
            "Version" => {
                h.version = Some(val.trim().parse().map_err(|_| {
                    ctx.invalid(at, "a DAT version number", format!("{:?}", val.trim()))
                })?)
            }
            _ => {}
        }
    }
    h.data_start = pos;
    h.size = match (fw, fh) {
        (Some(w), Some(hh)) => Some((w, hh)),
        _ => geometry.or(match (dw, dh) {
            (Some(w), Some(hh)) => Some((w, hh)),
            _ => None,
        }),
    };
    Ok(h)
}

/// Guesses the encoding of a `.raw` file or a `.dat` file from its first bytes (for detection).
pub(crate) fn sniff(head: &[u8]) -> Option<Evt> {
    if head.first() != Some(&b'%') {
        return None;
    }
    // Detection reads only a prefix: parse what is complete and ignore a cut-off last line.
    let cut = head.iter().rposition(|&c| c == b'\n').map_or(0, |i| i + 1);
    parse_header(&head[..cut], Ctx::memory()).ok()?.evt
}

/// The encoding a Prophesee `%` header names when snnkit does not decode it (`EVT 2.1`, or the
/// name of a `% format` line such as `EVT4`), so that detection can say which format a file is.
pub(crate) fn unsupported_name(head: &[u8]) -> Option<String> {
    if head.first() != Some(&b'%') {
        return None;
    }
    let text = String::from_utf8_lossy(head);
    for line in text.lines().take_while(|l| l.starts_with('%')) {
        let body = line[1..].trim();
        let (key, val) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
        let name = match key {
            "evt" => format!("EVT {}", val.trim()),
            "format" => val.split(';').next().unwrap_or("").trim().to_string(),
            _ => continue,
        };
        if !name.is_empty() && !matches!(evt_name(&name.replace(' ', "")), Some(Evt::V2 | Evt::V3))
        {
            return Some(name);
        }
    }
    None
}

/// Writes the header lines of a `.raw` file; `name` is `EVT2` or `EVT3`.
pub(crate) fn raw_header(version: &str, name: &str, size: Option<(u16, u16)>) -> String {
    let mut h = format!("% evt {version}\n");
    if let Some((w, hh)) = size {
        h.push_str(&format!("% format {name};width={w};height={hh}\n"));
        h.push_str(&format!("% geometry {w}x{hh}\n"));
    } else {
        h.push_str(&format!("% format {name}\n"));
    }
    h.push_str("% integrator_name snnkit\n% end\n");
    h
}

/// Index of the first event outside the sensor, with the check skipped when the maxima fit.
pub(crate) fn check_sensor(
    ev: &crate::Events,
    size: Option<(u16, u16)>,
    ctx: Ctx,
    offset_of: impl FnOnce(usize) -> usize,
) -> Result<(), Error> {
    if let Some(size) = size {
        if let Some(i) = crate::source::first_outside(&ev.x, &ev.y, size) {
            return Err(ctx.out_of_sensor(offset_of(i), ev.x[i].into(), ev.y[i].into(), size));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_encodings_are_named() {
        assert_eq!(
            unsupported_name(b"% evt 2.1\n% end\n").as_deref(),
            Some("EVT 2.1")
        );
        assert_eq!(
            unsupported_name(b"% date x\n% format EVT4;width=3\n").as_deref(),
            Some("EVT4")
        );
        assert_eq!(unsupported_name(b"% evt 3.0\n% end\n"), None);
        assert_eq!(unsupported_name(b"% format EVT2;height=2\n"), None);
        assert_eq!(unsupported_name(b"% date x\n"), None);
        assert_eq!(unsupported_name(b"#!AER-DAT2.0\n"), None);
    }

    #[test]
    fn header_keys_and_end() {
        let b = b"% evt 3.0\n% format EVT3;height=720;width=1280\n% geometry 1x2\n% end\n%\x00";
        let h = parse_header(b, Ctx::memory()).unwrap();
        assert_eq!(h.evt, Some(Evt::V3));
        assert_eq!(h.size, Some((1280, 720)));
        assert_eq!(h.data_start, b.len() - 2);
        assert_eq!(h.lines, 4);
        let d = b"% Version 2\r\n% Width 304\r\n% Height 240\r\n\x00\x08";
        let h = parse_header(d, Ctx::memory()).unwrap();
        assert_eq!(
            (h.version, h.size, h.evt),
            (Some(2), Some((304, 240)), None)
        );
        assert_eq!(h.data_start, d.len() - 2);
        assert!(matches!(
            parse_header(b"% geometry 12x-1\n", Ctx::memory()),
            Err(Error::Invalid { offset: 0, .. })
        ));
        assert!(matches!(
            parse_header(b"% evt 2.0\n% no newline", Ctx::memory()),
            Err(Error::Truncated { offset: 10, .. })
        ));
        assert_eq!(sniff(b"% evt 2.0\n% format EV"), Some(Evt::V2));
        assert_eq!(sniff(b"% format EVT21;width=3\n"), Some(Evt::V21));
    }
}
