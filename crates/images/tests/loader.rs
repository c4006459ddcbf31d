//! The image loader end to end on real files: torchvision's evaluation transform reproduced
//! exactly, seeded and thread-independent batches, flips, and errors that name the file.

use candle_core::Device;
use rayon::ThreadPoolBuilder;
use snnkit_datasets::synthetic_images::{generate, ImageSynthConfig};
use snnkit_datasets::{open_images, ImageFolder, ImageSet, Split};
use snnkit_images::{ImageLoader, ImageLoaderConfig, TrainCrop, IMAGENET_MEAN, IMAGENET_STD};
use std::path::Path;
use std::sync::Arc;

/// The 23×17 test image (pixel formula shared with the Python script below).
fn test_image(dir: &Path) {
    let (w, h) = (23u32, 17u32);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let v = |c: u32| ((x * 7 + y * 13 + c * 50 + (x * y) % 11) % 256) as u8;
        image::Rgb([v(0), v(1), v(2)])
    });
    for split in ["train", "val"] {
        let d = dir.join(split).join("only");
        std::fs::create_dir_all(&d).unwrap();
        img.save(d.join("a.png")).unwrap();
    }
}

fn bytes_of(v: &[f32]) -> Vec<i64> {
    v.chunks(v.len() / 3)
        .enumerate()
        .flat_map(|(c, ch)| {
            ch.iter()
                .map(move |x| ((x * IMAGENET_STD[c] + IMAGENET_MEAN[c]) * 255.0).round() as i64)
        })
        .collect()
}

/// Expected values from torchvision 0.15.2 / Pillow 13 (`/work/peers`):
///
/// ```python
/// w, h = 23, 17
/// a = np.zeros((h, w, 3), np.uint8)   # a[y, x, c] = (x*7 + y*13 + c*50 + (x*y) % 11) % 256
/// t = ([T.Resize(resize)] if resize else []) + [T.CenterCrop(crop), T.ToTensor(),
///      T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])]
/// out = T.Compose(t)(Image.fromarray(a))
/// print(out.sum((1, 2)), np.array(T.Compose(t[:-2])(img)).sum(), u8[:2, :3, 0])
/// ```
#[test]
fn eval_transform_matches_torchvision_exactly() {
    let d = tempfile::tempdir().unwrap();
    test_image(d.path());
    let set: Arc<dyn ImageSet> = Arc::new(ImageFolder::open(d.path(), Split::Test).unwrap());
    // (Resize, CenterCrop, per-channel sums of the tensor, sum of the 8-bit crop, its first red
    // values of rows 0 and 1).
    type Case = (usize, usize, [f32; 3], i64, [i64; 6]);
    let cases: [Case; 3] = [
        (
            12,
            10,
            [46.2796, 36.9223, 30.4314],
            40906,
            [60, 67, 78, 76, 87, 98],
        ),
        (
            30,
            26,
            [281.0292, 235.3242, 221.0148],
            274729,
            [43, 47, 52, 52, 56, 62],
        ),
        (
            0,
            15,
            [90.2838, 76.3656, 76.7016],
            91319,
            [45, 53, 61, 62, 71, 69],
        ),
    ];
    for (resize, crop, sums, u8_sum, corner) in cases {
        let cfg = ImageLoaderConfig {
            size: crop,
            eval_resize: resize,
            ..ImageLoaderConfig::eval(1)
        };
        let l = ImageLoader::new(set.clone(), cfg, &Device::Cpu).unwrap();
        let v = l.image(0, 0).unwrap();
        let plane = crop * crop;
        for c in 0..3 {
            let s: f32 = v[c * plane..(c + 1) * plane].iter().sum();
            assert!(
                (s - sums[c]).abs() < 2e-3,
                "resize {resize} crop {crop} channel {c}: {s}"
            );
        }
        let b = bytes_of(&v);
        assert_eq!(b.iter().sum::<i64>(), u8_sum, "resize {resize} crop {crop}");
        let got: Vec<i64> = [0, 1, 2, crop, crop + 1, crop + 2]
            .iter()
            .map(|&i| b[i])
            .collect();
        assert_eq!(got, corner, "resize {resize} crop {crop}");
    }
}

fn synth(dir: &Path, per_class: usize) {
    let cfg = ImageSynthConfig {
        train_per_class: per_class,
        val_per_class: 2,
        width: 40,
        height: 30,
        ..Default::default()
    };
    generate(&cfg, dir, |_, _| {}).unwrap();
}

fn collect(l: &ImageLoader, epoch: u64) -> Vec<(Vec<usize>, Vec<f32>)> {
    l.epoch(epoch)
        .map(|b| {
            let b = b.unwrap();
            assert_eq!(b.images.dims(), &[4, 3, 24, 24]);
            (
                b.indices,
                b.images.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            )
        })
        .collect()
}

#[test]
fn training_batches_are_seeded_and_thread_independent() {
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), 5);
    let set: Arc<dyn ImageSet> = open_images(d.path(), Split::Train).unwrap().into();
    let cfg = ImageLoaderConfig {
        size: 24,
        ..ImageLoaderConfig::train(4)
    };
    let l = ImageLoader::new(set.clone(), cfg.clone(), &Device::Cpu).unwrap();
    assert_eq!(
        (l.len(), l.batches_per_epoch(), l.num_classes()),
        (20, 5, 4)
    );
    let a = collect(&l, 1);
    let one = ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let b = one.install(|| collect(&l, 1));
    assert_eq!(a, b, "one thread or many, same batches");
    let direct = l.batch(&a[2].0, 1).unwrap();
    assert_eq!(
        direct
            .images
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap(),
        a[2].1
    );
    assert_eq!(
        direct.labels_vec,
        a[2].0
            .iter()
            .map(|&i| set.label(i) as u32)
            .collect::<Vec<_>>()
    );
    let c = collect(&l, 2);
    assert_ne!(a[0].0, c[0].0, "another epoch, another order");
    // Same images, another epoch: other crops.
    let again = l.batch(&a[0].0, 2).unwrap();
    assert_ne!(
        again
            .images
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap(),
        a[0].1
    );
    let other = ImageLoader::new(set, ImageLoaderConfig { seed: 9, ..cfg }, &Device::Cpu).unwrap();
    assert_ne!(
        collect(&other, 1)[0].0,
        a[0].0,
        "another seed, another order"
    );
}

#[test]
fn flips_mirror_the_whole_image() {
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), 1);
    let set: Arc<dyn ImageSet> = open_images(d.path(), Split::Train).unwrap().into();
    // A padded crop with no padding at the image's own size is the identity; only flips remain.
    let base = ImageLoaderConfig {
        size: 30,
        crop: TrainCrop::Padded { padding: 0 },
        ..ImageLoaderConfig::train(1)
    };
    let plain = ImageLoader::new(
        set.clone(),
        ImageLoaderConfig {
            hflip: false,
            ..base.clone()
        },
        &Device::Cpu,
    )
    .unwrap();
    let flips = ImageLoader::new(set, base, &Device::Cpu).unwrap();
    // The 40-pixel-wide image is cropped to 30 columns at a random offset: compare rows of the
    // unflipped crop with the same epoch's draw, which is the same offset.
    let (mut same, mut mirrored) = (0, 0);
    for epoch in 0..40 {
        let p = plain.image(2, epoch).unwrap();
        let f = flips.image(2, epoch).unwrap();
        if p == f {
            same += 1;
        } else {
            let m: Vec<f32> = p
                .chunks(30)
                .flat_map(|row| row.iter().rev().copied())
                .collect();
            assert_eq!(m, f, "epoch {epoch}: a flip mirrors every row");
            mirrored += 1;
        }
    }
    assert!(
        same > 5 && mirrored > 5,
        "{same} unflipped, {mirrored} flipped"
    );
}

#[test]
fn a_damaged_image_fails_its_batch_with_the_file_name() {
    let d = tempfile::tempdir().unwrap();
    synth(d.path(), 2);
    let bad = d.path().join("train/1_vstripes/1_vstripes_0000.png");
    let mut bytes = std::fs::read(&bad).unwrap();
    bytes.truncate(60);
    std::fs::write(&bad, bytes).unwrap();
    let set: Arc<dyn ImageSet> = open_images(d.path(), Split::Train).unwrap().into();
    let cfg = ImageLoaderConfig {
        size: 8,
        shuffle: false,
        ..ImageLoaderConfig::train(8)
    };
    let l = ImageLoader::new(set, cfg, &Device::Cpu).unwrap();
    let errs: Vec<String> = l
        .epoch(0)
        .filter_map(|b| b.err())
        .map(|e| e.to_string())
        .collect();
    assert_eq!(errs.len(), 1);
    assert!(errs[0].contains("1_vstripes_0000.png"), "{}", errs[0]);
    let e = ImageLoader::new(
        open_images(d.path(), Split::Train).unwrap().into(),
        ImageLoaderConfig {
            std: [0.0, 1.0, 1.0],
            ..ImageLoaderConfig::eval(2)
        },
        &Device::Cpu,
    );
    assert!(e.is_err());
}
