//! torchvision's `ImageFolder` layout (the ImageNet layout): `ROOT/train/<class>/**/*.jpg`,
//! `ROOT/val/<class>/**/*.jpg`, classes = the sorted names of the class folders.
//!
//! Sample order follows torchvision 0.15 `datasets.folder.make_dataset`: classes in sorted
//! order, then `sorted(os.walk(class_dir, followlinks=True))` (folders by path, files by name).
//! Extensions are matched case-insensitively; snnkit decodes JPEG and PNG (`.jpg`, `.jpeg`,
//! `.png`), the formats of ImageNet and of `snnkit synth --images`.

use crate::dataset::Split;
use crate::error::{io, Error, Result};
use crate::folder::sorted_dirs;
use crate::image_set::{ImageSet, RgbImage};
use std::path::{Path, PathBuf};

/// File extensions listed as images (lower case, compared case-insensitively).
pub const IMAGE_EXTENSIONS: [&str; 3] = ["jpg", "jpeg", "png"];

/// Folder names of each split: the training split is `train`; the held-out split is `val`
/// (ImageNet's name) or, when there is no `val`, `test`.
pub fn split_folder(root: &Path, split: Split) -> PathBuf {
    match split {
        Split::Train => root.join("train"),
        Split::Test => {
            let val = root.join("val");
            if !val.is_dir() && root.join("test").is_dir() {
                root.join("test")
            } else {
                val
            }
        }
    }
}

/// One split of an ImageFolder tree. See the module docs for the layout and order.
#[derive(Debug, Clone)]
pub struct ImageFolder {
    root: PathBuf,
    classes: Vec<String>,
    /// Paths relative to `root` and labels, in torchvision's order.
    items: Vec<(PathBuf, usize)>,
}

impl ImageFolder {
    /// Lists `split` of the tree at `root`. The class list is the `train` folder's (so labels
    /// agree across splits); the held-out split must hold the same class folders, since a
    /// missing or extra folder would silently shift every label after it. A class folder without
    /// any image is an error, as in torchvision.
    pub fn open(root: &Path, split: Split) -> Result<Self> {
        let dir = split_folder(root, split);
        if !dir.is_dir() {
            return Err(Error::MissingFolder {
                path: dir,
                expected: "ImageFolder layout: ROOT/train/<class>/*.jpg, ROOT/val/<class>/*.jpg"
                    .into(),
            });
        }
        let classes = sorted_dirs(&dir)?;
        if classes.is_empty() {
            return Err(Error::BadClasses {
                path: dir,
                reason: "no class folders".into(),
            });
        }
        let train_dir = split_folder(root, Split::Train);
        if split == Split::Test && train_dir.is_dir() {
            let train_classes = sorted_dirs(&train_dir)?;
            if train_classes != classes {
                let missing: Vec<&str> = train_classes
                    .iter()
                    .filter(|c| !classes.contains(c))
                    .map(String::as_str)
                    .collect();
                let extra: Vec<&str> = classes
                    .iter()
                    .filter(|c| !train_classes.contains(c))
                    .map(String::as_str)
                    .collect();
                return Err(Error::BadClasses {
                    path: dir,
                    reason: format!(
                        "class folders differ from {}: missing [{}], extra [{}]",
                        train_dir.display(),
                        missing.join(", "),
                        extra.join(", ")
                    ),
                });
            }
        }
        let split_rel = dir.strip_prefix(root).unwrap_or(&dir).to_path_buf();
        let mut items = Vec::new();
        for (label, class) in classes.iter().enumerate() {
            let class_dir = dir.join(class);
            let files = walk_images(&class_dir)?;
            if files.is_empty() {
                return Err(Error::EmptyClass {
                    class: class.clone(),
                    path: class_dir,
                    pattern: "*.jpg, *.jpeg or *.png".into(),
                });
            }
            items.extend(
                files
                    .into_iter()
                    .map(|f| (split_rel.join(class).join(f), label)),
            );
        }
        Ok(Self {
            root: root.to_path_buf(),
            classes,
            items,
        })
    }

    /// Image paths relative to the root, with labels, in sample order.
    pub fn items(&self) -> &[(PathBuf, usize)] {
        &self.items
    }
}

/// Whether `name` has one of [`IMAGE_EXTENSIONS`] (case-insensitive).
fn is_image(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| IMAGE_EXTENSIONS.iter().any(|e| e.eq_ignore_ascii_case(ext)))
}

/// Image files under `dir`, relative to it, in `sorted(os.walk(dir))` order: folders sorted by
/// their path, files sorted by name within each folder. Follows links, as torchvision does.
fn walk_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut folders: Vec<(String, Vec<String>)> = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = dir.join(&rel);
        let mut files = Vec::new();
        for entry in std::fs::read_dir(&abs).map_err(io(&abs))? {
            let entry = entry.map_err(io(&abs))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if path.is_dir() {
                stack.push(rel.join(&name));
            } else if path.is_file() && is_image(&name) {
                files.push(name);
            }
        }
        files.sort();
        folders.push((rel.to_string_lossy().into_owned(), files));
    }
    folders.sort();
    Ok(folders
        .into_iter()
        .flat_map(|(rel, files)| {
            let rel = PathBuf::from(rel);
            files.into_iter().map(move |f| rel.join(f))
        })
        .collect())
}

/// Decodes an image file (JPEG or PNG, recognised from its first bytes) into RGB; grey, grey +
/// alpha, RGBA and 16-bit images are converted as PIL's `convert("RGB")` does (alpha dropped).
pub fn decode_image_file(path: &Path) -> Result<RgbImage> {
    let bytes = std::fs::read(path).map_err(io(path))?;
    decode_image(&bytes, path)
}

/// Decodes image bytes (JPEG or PNG); `path` names them in errors.
pub fn decode_image(bytes: &[u8], path: &Path) -> Result<RgbImage> {
    let bad = |reason: String| Error::BadImage {
        path: path.to_path_buf(),
        reason,
    };
    let format = image::guess_format(bytes).map_err(|e| bad(e.to_string()))?;
    let img = image::load_from_memory_with_format(bytes, format).map_err(|e| bad(e.to_string()))?;
    let rgb = img.into_rgb8();
    let (w, h) = (rgb.width() as usize, rgb.height() as usize);
    RgbImage::new(w, h, rgb.into_raw()).ok_or_else(|| bad("decoder returned a short buffer".into()))
}

impl ImageSet for ImageFolder {
    fn kind(&self) -> &'static str {
        "image-folder"
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn class_names(&self) -> &[String] {
        &self.classes
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn label(&self, i: usize) -> usize {
        self.items[i].1
    }

    fn source_id(&self, i: usize) -> String {
        self.items[i].0.to_string_lossy().replace('\\', "/")
    }

    fn load(&self, i: usize) -> Result<RgbImage> {
        decode_image_file(&self.root.join(&self.items[i].0))
    }

    fn files(&self) -> Vec<PathBuf> {
        self.items.iter().map(|(p, _)| self.root.join(p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(path: &Path, w: u32, h: u32, v: u8) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        image::RgbImage::from_pixel(w, h, image::Rgb([v, v / 2, 255 - v]))
            .save(path)
            .unwrap();
    }

    #[test]
    fn lists_in_torchvision_order_and_decodes() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        png(&r.join("train/cat/b.png"), 3, 2, 10);
        png(&r.join("train/cat/a.PNG"), 3, 2, 20);
        png(&r.join("train/cat/sub/0.png"), 3, 2, 30);
        png(&r.join("train/Dog/x.png"), 4, 5, 40);
        std::fs::write(r.join("train/Dog/notes.txt"), "not an image").unwrap();
        png(&r.join("val/cat/v.png"), 2, 2, 50);
        png(&r.join("val/Dog/w.png"), 2, 2, 60);
        let tr = ImageFolder::open(r, Split::Train).unwrap();
        // Upper case sorts first, as Python's sorted() does.
        assert_eq!(tr.class_names(), ["Dog", "cat"]);
        let ids: Vec<String> = (0..tr.len()).map(|i| tr.source_id(i)).collect();
        assert_eq!(
            ids,
            [
                "train/Dog/x.png",
                "train/cat/a.PNG",
                "train/cat/b.png",
                "train/cat/sub/0.png"
            ]
        );
        assert_eq!(
            (0..4).map(|i| tr.label(i)).collect::<Vec<_>>(),
            [0, 1, 1, 1]
        );
        let img = tr.load(0).unwrap();
        assert_eq!((img.width, img.height), (4, 5));
        assert_eq!(&img.pixels[..3], &[40, 20, 215]);
        let va = ImageFolder::open(r, Split::Test).unwrap();
        assert_eq!((va.len(), va.label(1)), (2, 1));
    }

    #[test]
    fn refuses_mismatched_classes_empty_classes_and_bad_images() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        png(&r.join("train/a/0.png"), 2, 2, 0);
        png(&r.join("train/b/0.png"), 2, 2, 0);
        png(&r.join("val/a/0.png"), 2, 2, 0);
        let e = ImageFolder::open(r, Split::Test).unwrap_err().to_string();
        assert!(e.contains("missing [b]"), "{e}");
        std::fs::create_dir_all(r.join("train/c")).unwrap();
        let e = ImageFolder::open(r, Split::Train).unwrap_err().to_string();
        assert!(e.contains("class 'c'"), "{e}");
        std::fs::remove_dir(r.join("train/c")).unwrap();
        std::fs::write(r.join("train/b/0.png"), b"\x89PNG\r\n\x1a\ngarbage").unwrap();
        let tr = ImageFolder::open(r, Split::Train).unwrap();
        let e = tr.load(1).unwrap_err().to_string();
        assert!(
            e.contains("train/b/0.png") && e.contains("cannot decode"),
            "{e}"
        );
    }
}
