//! CIFAR-10, binary version (`cifar-10-binary.tar.gz`, <https://www.cs.toronto.edu/~kriz/cifar.html>).
//!
//! Layout: `cifar-10-batches-bin/data_batch_{1..5}.bin` (training, 10,000 images each),
//! `test_batch.bin` (10,000) and `batches.meta.txt` (the class names, one per line). Each record
//! is 3,073 bytes: the label (0..=9), then the 32×32 image as three 1,024-byte planes (red, green,
//! blue), each row-major (row = y). The files have no header; a file whose length is not a
//! multiple of 3,073 is truncated or not a batch.
//!
//! ```text
//! @techreport{krizhevsky2009learning,
//!   title={Learning multiple layers of features from tiny images},
//!   author={Krizhevsky, Alex}, institution={University of Toronto}, year={2009}}
//! ```

use crate::dataset::Split;
use crate::error::{io, Error, Result};
use crate::image_set::{ImageSet, RgbImage};
use crate::synthetic::write_atomic;
use std::path::{Path, PathBuf};

/// Image side in pixels.
pub const CIFAR10_SIDE: usize = 32;
/// Bytes of one image (three planes of 32×32).
pub const CIFAR10_IMAGE_BYTES: usize = 3 * CIFAR10_SIDE * CIFAR10_SIDE;
/// Bytes of one record: label byte + image.
pub const CIFAR10_RECORD_BYTES: usize = 1 + CIFAR10_IMAGE_BYTES;
/// The folder the archive unpacks into.
pub const CIFAR10_DIR: &str = "cifar-10-batches-bin";
/// Class names of `batches.meta.txt`, used when that file is absent.
pub const CIFAR10_IMAGE_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// Labels and planar images of one batch file, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cifar10Batch {
    /// One label per image.
    pub labels: Vec<u8>,
    /// `labels.len() * 3072` bytes: per image the red, green and blue planes.
    pub images: Vec<u8>,
}

impl Cifar10Batch {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The planar bytes of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * CIFAR10_IMAGE_BYTES..(i + 1) * CIFAR10_IMAGE_BYTES]
    }

    /// Appends an image given interleaved RGB (`32 * 32 * 3` bytes, as [`RgbImage`] holds it).
    /// Fails on any other size.
    pub fn push_rgb(&mut self, label: u8, rgb: &RgbImage) -> Result<()> {
        if rgb.width != CIFAR10_SIDE || rgb.height != CIFAR10_SIDE {
            return Err(Error::InvalidConfig {
                reason: format!(
                    "a CIFAR-10 image is 32x32, not {}x{}",
                    rgb.width, rgb.height
                ),
            });
        }
        let plane = CIFAR10_SIDE * CIFAR10_SIDE;
        let start = self.images.len();
        self.images.resize(start + CIFAR10_IMAGE_BYTES, 0);
        for (p, px) in rgb.pixels.chunks_exact(3).enumerate() {
            for (c, &v) in px.iter().enumerate() {
                self.images[start + c * plane + p] = v;
            }
        }
        self.labels.push(label);
        Ok(())
    }
}

/// Reads one batch file. Checks that the file is a whole number of records and every label is
/// below `classes`; errors name the file and the byte offset.
pub fn read_batch(path: &Path, classes: usize) -> Result<Cifar10Batch> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    let whole = bytes.len() / CIFAR10_RECORD_BYTES * CIFAR10_RECORD_BYTES;
    if whole != bytes.len() {
        return Err(Error::BadRecord {
            path: path.to_path_buf(),
            offset: whole as u64,
            reason: format!(
                "truncated record: {} bytes left, a record is {CIFAR10_RECORD_BYTES} (file is {} bytes)",
                bytes.len() - whole,
                bytes.len()
            ),
        });
    }
    let n = bytes.len() / CIFAR10_RECORD_BYTES;
    let mut out = Cifar10Batch {
        labels: Vec::with_capacity(n),
        images: Vec::with_capacity(n * CIFAR10_IMAGE_BYTES),
    };
    for (i, rec) in bytes.chunks_exact(CIFAR10_RECORD_BYTES).enumerate() {
        if usize::from(rec[0]) >= classes {
            return Err(Error::BadRecord {
                path: path.to_path_buf(),
                offset: (i * CIFAR10_RECORD_BYTES) as u64,
                reason: format!("label {} of record {i} is not below {classes}", rec[0]),
            });
        }
        out.labels.push(rec[0]);
        out.images.extend_from_slice(&rec[1..]);
    }
    Ok(out)
}

/// Writes `batch` in the binary format (atomically).
pub fn write_batch(path: &Path, batch: &Cifar10Batch) -> Result<()> {
    if batch.images.len() != batch.labels.len() * CIFAR10_IMAGE_BYTES {
        return Err(Error::InvalidConfig {
            reason: format!(
                "{} labels but {} image bytes (expected {} per image)",
                batch.labels.len(),
                batch.images.len(),
                CIFAR10_IMAGE_BYTES
            ),
        });
    }
    let mut bytes = Vec::with_capacity(batch.len() * CIFAR10_RECORD_BYTES);
    for i in 0..batch.len() {
        bytes.push(batch.labels[i]);
        bytes.extend_from_slice(batch.image(i));
    }
    write_atomic(path, &bytes)
}

/// One split of CIFAR-10, held in memory (150 MB for the training split).
#[derive(Debug, Clone)]
pub struct Cifar10 {
    dir: PathBuf,
    classes: Vec<String>,
    files: Vec<PathBuf>,
    /// `(file index, offset of the record)` per image, for [`ImageSet::source_id`].
    origin: Vec<(usize, usize)>,
    data: Cifar10Batch,
}

impl Cifar10 {
    /// The folder holding the batches: `root` itself or `root/cifar-10-batches-bin`, whichever
    /// holds `data_batch_1.bin` or `test_batch.bin`.
    pub fn find_dir(root: &Path) -> Option<PathBuf> {
        [root.to_path_buf(), root.join(CIFAR10_DIR)]
            .into_iter()
            .find(|d| d.join("data_batch_1.bin").is_file() || d.join("test_batch.bin").is_file())
    }

    /// The batch files of `split` in `dir`: `data_batch_1.bin`, `data_batch_2.bin`, ... (as many
    /// as are present, numbered from 1 without gaps) for training, `test_batch.bin` for testing.
    pub fn split_files(dir: &Path, split: Split) -> Vec<PathBuf> {
        match split {
            Split::Train => (1..)
                .map(|k| dir.join(format!("data_batch_{k}.bin")))
                .take_while(|p| p.is_file())
                .collect(),
            Split::Test => vec![dir.join("test_batch.bin")],
        }
    }

    /// Reads `split` from `root` (see [`Cifar10::find_dir`]). Class names come from
    /// `batches.meta.txt` (non-empty lines) when present, else [`CIFAR10_IMAGE_CLASSES`].
    pub fn open(root: &Path, split: Split) -> Result<Self> {
        let dir = Self::find_dir(root).ok_or_else(|| Error::MissingFile {
            path: root.join(CIFAR10_DIR).join("data_batch_1.bin"),
            expected: "CIFAR-10 binary batches (data_batch_N.bin, test_batch.bin)".into(),
        })?;
        let meta = dir.join("batches.meta.txt");
        let classes: Vec<String> = if meta.is_file() {
            std::fs::read_to_string(&meta)
                .map_err(io(&meta))?
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect()
        } else {
            CIFAR10_IMAGE_CLASSES
                .iter()
                .map(|s| s.to_string())
                .collect()
        };
        if classes.is_empty() || classes.len() > 256 {
            return Err(Error::BadTextFile {
                path: meta,
                line: 1,
                reason: format!("{} class names; expected 1 to 256", classes.len()),
            });
        }
        let files = Self::split_files(&dir, split);
        if files.is_empty() || !files[0].is_file() {
            return Err(Error::MissingFile {
                path: files
                    .first()
                    .cloned()
                    .unwrap_or_else(|| dir.join("data_batch_1.bin")),
                expected: format!("the CIFAR-10 {split} batch"),
            });
        }
        let mut data = Cifar10Batch::default();
        let mut origin = Vec::new();
        for (fi, f) in files.iter().enumerate() {
            let b = read_batch(f, classes.len())?;
            origin.extend((0..b.len()).map(|r| (fi, r * CIFAR10_RECORD_BYTES)));
            data.labels.extend_from_slice(&b.labels);
            data.images.extend_from_slice(&b.images);
        }
        Ok(Self {
            dir,
            classes,
            files,
            origin,
            data,
        })
    }

    /// The labels and planar images of the whole split.
    pub fn data(&self) -> &Cifar10Batch {
        &self.data
    }
}

impl ImageSet for Cifar10 {
    fn kind(&self) -> &'static str {
        "cifar10"
    }

    fn root(&self) -> &Path {
        &self.dir
    }

    fn class_names(&self) -> &[String] {
        &self.classes
    }

    fn len(&self) -> usize {
        self.data.len()
    }

    fn label(&self, i: usize) -> usize {
        usize::from(self.data.labels[i])
    }

    fn source_id(&self, i: usize) -> String {
        let (f, off) = self.origin[i];
        let name = self.files[f]
            .file_name()
            .unwrap_or_default()
            .to_string_lossy();
        format!("{name}@{off}")
    }

    fn load(&self, i: usize) -> Result<RgbImage> {
        let planes = self.data.image(i);
        let plane = CIFAR10_SIDE * CIFAR10_SIDE;
        let mut pixels = vec![0u8; CIFAR10_IMAGE_BYTES];
        for (p, px) in pixels.chunks_exact_mut(3).enumerate() {
            for (c, v) in px.iter_mut().enumerate() {
                *v = planes[c * plane + p];
            }
        }
        Ok(RgbImage {
            width: CIFAR10_SIDE,
            height: CIFAR10_SIDE,
            pixels,
        })
    }

    fn files(&self) -> Vec<PathBuf> {
        self.files.clone()
    }
}
