//! File formats, dataset profiles and reading options.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// An event-file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// AEDAT 2.0 (jAER): text header, big-endian 8-byte address/timestamp words.
    Aedat2,
    /// AEDAT 3.1 (cAER): text header, little-endian packets with 28-byte headers.
    Aedat3,
    /// AEDAT 4.0 (DV): flatbuffer packets, optionally LZ4 or zstd compressed.
    Aedat4,
    /// ATIS `.bin` (N-MNIST, N-Caltech101): headerless 5-byte events.
    AtisBin,
    /// HDF5 event file (DSEC or event_utils layout).
    Hdf5,
    /// Prophesee EVT 2.0 `.raw`: `%` header, 32-bit words.
    Evt2,
    /// Prophesee EVT 3.0 `.raw`: `%` header, 16-bit stateful words.
    Evt3,
    /// Prophesee / ATIS DAT `.dat` (N-CARS): `%` header, 8-byte records.
    Dat,
}

impl Format {
    /// Every format, in CLI-name order.
    pub const ALL: [Format; 8] = [
        Format::Aedat2,
        Format::Aedat3,
        Format::Aedat4,
        Format::AtisBin,
        Format::Hdf5,
        Format::Evt2,
        Format::Evt3,
        Format::Dat,
    ];

    /// The CLI name (`aedat2`, `aedat3`, `aedat4`, `atis-bin`, `hdf5`, `evt2`, `evt3`, `dat`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Aedat2 => "aedat2",
            Format::Aedat3 => "aedat3",
            Format::Aedat4 => "aedat4",
            Format::AtisBin => "atis-bin",
            Format::Hdf5 => "hdf5",
            Format::Evt2 => "evt2",
            Format::Evt3 => "evt3",
            Format::Dat => "dat",
        }
    }

    /// Tells the format from the first bytes of a file, falling back to the file name
    /// (`.bin` means ATIS, which has no header; `.dat` a DAT file). `None` when neither says.
    ///
    /// Prophesee `.raw` files are told by their `% evt X.Y` or `% format EVTx` header line, so
    /// `head` should hold the whole header (a few hundred bytes; [`detect_file`](crate::detect_file)
    /// reads 4 KiB).
    pub fn detect(head: &[u8], path: &Path) -> Option<Format> {
        const HDF5_MAGIC: &[u8] = b"\x89HDF\r\n\x1a\n";
        if head.starts_with(b"#!AER-DAT2.") {
            return Some(Format::Aedat2);
        }
        if head.starts_with(b"#!AER-DAT3.") {
            return Some(Format::Aedat3);
        }
        if head.starts_with(b"#!AER-DAT4.") {
            return Some(Format::Aedat4);
        }
        if head.starts_with(HDF5_MAGIC) {
            return Some(Format::Hdf5);
        }
        match crate::prophesee::sniff(head) {
            Some(crate::prophesee::Evt::V2) => return Some(Format::Evt2),
            Some(crate::prophesee::Evt::V3) => return Some(Format::Evt3),
            // EVT 2.1 is not decoded: leave it undetected so the error says so.
            Some(crate::prophesee::Evt::V21) => return None,
            None => {}
        }
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("bin") => Some(Format::AtisBin),
            Some("h5") | Some("hdf5") => Some(Format::Hdf5),
            Some("dat") => Some(Format::Dat),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing an unknown format or profile name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{name}'; expected one of {expected}")]
pub struct ParseNameError {
    kind: &'static str,
    name: String,
    expected: &'static str,
}

impl FromStr for Format {
    type Err = ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| ParseNameError {
                kind: "format",
                name: s.to_string(),
                expected: "aedat2, aedat3, aedat4, atis-bin, hdf5, evt2, evt3, dat",
            })
    }
}

/// A dataset convention: sensor size plus the coordinate mapping SpikingJelly uses for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// DVS128 Gesture (AEDAT 3.1), 128×128, coordinates as stored.
    Dvs128Gesture,
    /// CIFAR10-DVS (AEDAT 2.0 DVS128 layout), 128×128, SpikingJelly's mapping
    /// `x = 127 − y_raw`, `y = 127 − x_raw`, `p = 1 − p_raw`.
    Cifar10Dvs,
    /// N-MNIST (ATIS .bin), 34×34, coordinates as stored.
    NMnist,
    /// N-Caltech101 (ATIS .bin), 240 wide × 180 high, coordinates as stored.
    NCaltech101,
    /// N-CARS (Prophesee DAT), 120 wide × 100 high, coordinates as stored.
    NCars,
}

impl Profile {
    /// Every profile, in CLI-name order.
    pub const ALL: [Profile; 5] = [
        Profile::Dvs128Gesture,
        Profile::Cifar10Dvs,
        Profile::NMnist,
        Profile::NCaltech101,
        Profile::NCars,
    ];

    /// The CLI name (`dvs128-gesture`, `cifar10-dvs`, `n-mnist`, `n-caltech101`, `n-cars`).
    pub fn name(self) -> &'static str {
        match self {
            Profile::Dvs128Gesture => "dvs128-gesture",
            Profile::Cifar10Dvs => "cifar10-dvs",
            Profile::NMnist => "n-mnist",
            Profile::NCaltech101 => "n-caltech101",
            Profile::NCars => "n-cars",
        }
    }

    /// Sensor size as `(width, height)`.
    pub fn sensor_size(self) -> (u16, u16) {
        match self {
            Profile::Dvs128Gesture | Profile::Cifar10Dvs => (128, 128),
            Profile::NMnist => (34, 34),
            Profile::NCaltech101 => (240, 180),
            Profile::NCars => (120, 100),
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Profile {
    type Err = ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| ParseNameError {
                kind: "profile",
                name: s.to_string(),
                expected: "dvs128-gesture, cifar10-dvs, n-mnist, n-caltech101, n-cars",
            })
    }
}

/// How ATIS `.bin` overflow markers (`y == 240`) are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AtisOverflow {
    /// SpikingJelly: no special handling, a marker stays an event.
    #[default]
    SpikingJelly,
    /// Tonic and the original reader: drop markers and add 8192 µs (2^13) to every later timestamp.
    Tonic,
}

/// Address layout of AEDAT 2.0 words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Aedat2Layout {
    /// jAER DVS128: bit 0 polarity, bits 1–7 x, bits 8–14 y, bit 15 external.
    Dvs128,
    /// DAVIS: bit 31 type (1 = APS/IMU, skipped), bits 22–30 y, 12–21 x, 11–10 polarity/external.
    Davis,
}

impl FromStr for Aedat2Layout {
    type Err = ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "dvs128" => Ok(Aedat2Layout::Dvs128),
            "davis" => Ok(Aedat2Layout::Davis),
            _ => Err(ParseNameError {
                kind: "AEDAT 2.0 layout",
                name: s.to_string(),
                expected: "dvs128, davis",
            }),
        }
    }
}

/// Orientation of AEDAT 2.0 coordinates.
///
/// jAER stores addresses with the origin at the lower left of the array (and, for the DVS128,
/// with x mirrored: jAER itself shows `x = 127 − x_raw`). AEDAT 4 (DV) and Tonic put the origin at
/// the upper left, so raw AEDAT 2.0 fields look rotated by 180° against an AEDAT 4 recording of
/// the same kind of camera. Tonic's `read_davis_346` applies `x = 345 − x_raw`, `y = 259 − y_raw`;
/// SpikingJelly has no DAVIS AEDAT 2.0 reader and maps CIFAR10-DVS (DVS128) its own way
/// ([`Profile::Cifar10Dvs`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Aedat2Orientation {
    /// The address fields as stored (origin lower left); the default, which the oracles use.
    #[default]
    Native,
    /// Rotated by 180° within the sensor (`x → W − 1 − x`, `y → H − 1 − y`), as Tonic reads DAVIS
    /// files: upright like AEDAT 4. Needs the sensor size (the `# AEChip:` line or a profile).
    Upright,
}

impl Aedat2Orientation {
    /// `native` or `upright`.
    pub fn name(self) -> &'static str {
        match self {
            Aedat2Orientation::Native => "native",
            Aedat2Orientation::Upright => "upright",
        }
    }
}

impl FromStr for Aedat2Orientation {
    type Err = ParseNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "native" => Ok(Aedat2Orientation::Native),
            "upright" => Ok(Aedat2Orientation::Upright),
            _ => Err(ParseNameError {
                kind: "AEDAT 2.0 orientation",
                name: s.to_string(),
                expected: "native, upright",
            }),
        }
    }
}

/// Options for [`read_file`](crate::read_file) and the per-format readers.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Format; detected from the header (or a `.bin` name) when `None`.
    pub format: Option<Format>,
    /// Dataset convention: sets the sensor size (coordinates outside it are an error) and the
    /// coordinate mapping (only CIFAR10-DVS changes coordinates).
    pub profile: Option<Profile>,
    /// Spec-strict decoding: AEDAT 3.1 drops events whose validity bit is 0 and AEDAT 2.0
    /// (DVS128 layout) drops external/special addresses. Default (`false`) matches SpikingJelly.
    pub strict: bool,
    /// ATIS overflow-marker handling.
    pub atis_overflow: AtisOverflow,
    /// AEDAT 2.0 address layout; from the `# AEChip:` header line (or the addresses) when `None`.
    pub aedat2_layout: Option<Aedat2Layout>,
    /// AEDAT 2.0 orientation: [`Aedat2Orientation::Native`] (default) keeps the address fields,
    /// [`Aedat2Orientation::Upright`] rotates them by 180° as Tonic does. Other formats ignore it.
    pub aedat2_orientation: Aedat2Orientation,
}

impl ReadOptions {
    /// Options with only the format set.
    pub fn with_format(format: Format) -> Self {
        ReadOptions {
            format: Some(format),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print() {
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), f.name());
        }
        for p in Profile::ALL {
            assert_eq!(p.name().parse::<Profile>(), Ok(p));
        }
        assert!("aedat5".parse::<Format>().is_err());
        assert_eq!("davis".parse::<Aedat2Layout>(), Ok(Aedat2Layout::Davis));
        assert_eq!("dvs128".parse::<Aedat2Layout>(), Ok(Aedat2Layout::Dvs128));
        for o in [Aedat2Orientation::Native, Aedat2Orientation::Upright] {
            assert_eq!(o.name().parse::<Aedat2Orientation>(), Ok(o));
        }
        assert!("flipped".parse::<Aedat2Orientation>().is_err());
        let e = "mnist".parse::<Profile>().unwrap_err().to_string();
        assert!(e.contains("n-mnist"), "{e}");
        assert_eq!(Profile::NCaltech101.sensor_size(), (240, 180));
        assert_eq!(Profile::NMnist.sensor_size(), (34, 34));
    }

    #[test]
    fn detection_by_magic_then_name() {
        let p = Path::new("x.aedat");
        assert_eq!(Format::detect(b"#!AER-DAT2.0\r\n", p), Some(Format::Aedat2));
        assert_eq!(Format::detect(b"#!AER-DAT3.1\r\n", p), Some(Format::Aedat3));
        assert_eq!(Format::detect(b"#!AER-DAT4.0\r\n", p), Some(Format::Aedat4));
        assert_eq!(Format::detect(b"\x89HDF\r\n\x1a\n", p), Some(Format::Hdf5));
        assert_eq!(
            Format::detect(b"\x01\x02", Path::new("a/B.BIN")),
            Some(Format::AtisBin)
        );
        assert_eq!(Format::detect(b"\x01\x02", p), None);
        let raw = Path::new("r.raw");
        assert_eq!(
            Format::detect(b"% evt 3.0\n% end\n", raw),
            Some(Format::Evt3)
        );
        assert_eq!(
            Format::detect(b"% date x\n% format EVT2;width=3\n", raw),
            Some(Format::Evt2)
        );
        assert_eq!(Format::detect(b"% date x\n", raw), None);
        assert_eq!(Format::detect(b"% evt 2.1\n", raw), None);
        assert_eq!(
            Format::detect(b"% Version 2\n", Path::new("a_td.dat")),
            Some(Format::Dat)
        );
    }
}
