//! CIFAR-10 binary batches: a batch written in the exact format (label byte, then the red, green
//! and blue 32×32 planes) reads back byte for byte, and damaged files give errors with offsets.

use snnkit_datasets::{
    open_images, read_cifar10_batch, write_cifar10_batch, Cifar10, Cifar10Batch, ImageSet,
    RgbImage, Split, CIFAR10_RECORD_BYTES,
};

/// A batch of `n` images whose pixel values encode (image, channel, y, x).
fn batch(n: usize, seed: u8) -> Cifar10Batch {
    let mut b = Cifar10Batch::default();
    for i in 0..n {
        let mut px = vec![0u8; 32 * 32 * 3];
        for y in 0..32 {
            for x in 0..32 {
                for c in 0..3 {
                    px[(y * 32 + x) * 3 + c] = (i * 7 + c * 50 + y * 3 + x + seed as usize) as u8;
                }
            }
        }
        b.push_rgb((i % 10) as u8, &RgbImage::new(32, 32, px).unwrap())
            .unwrap();
    }
    b
}

#[test]
fn batches_round_trip_in_the_exact_format() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("cifar-10-batches-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let (b1, b2, t) = (batch(5, 0), batch(3, 100), batch(4, 200));
    write_cifar10_batch(&dir.join("data_batch_1.bin"), &b1).unwrap();
    write_cifar10_batch(&dir.join("data_batch_2.bin"), &b2).unwrap();
    write_cifar10_batch(&dir.join("test_batch.bin"), &t).unwrap();

    // The bytes on disk: record 1 of batch 1 starts at 3073 with its label, then the red plane
    // (pixel (y=0, x=2) at +1+2), then green at +1+1024, blue at +1+2048.
    let raw = std::fs::read(dir.join("data_batch_1.bin")).unwrap();
    assert_eq!(raw.len(), 5 * 3073);
    let r1 = &raw[3073..2 * 3073];
    assert_eq!(r1[0], 1);
    assert_eq!(
        (r1[1 + 2], r1[1 + 1024 + 2], r1[1 + 2048 + 2]),
        (9, 59, 109)
    );
    assert_eq!(r1[1 + 31 * 32 + 31], (7 + 31 * 3 + 31) as u8);
    assert_eq!(
        read_cifar10_batch(&dir.join("data_batch_1.bin"), 10).unwrap(),
        b1
    );

    let train = Cifar10::open(d.path(), Split::Train).unwrap();
    assert_eq!(train.len(), 8, "batches 1 and 2");
    assert_eq!(train.class_names()[9], "truck");
    assert_eq!((train.label(4), train.label(5)), (4, 0));
    assert_eq!(
        train.source_id(6),
        format!("data_batch_2.bin@{CIFAR10_RECORD_BYTES}")
    );
    let img = train.load(6).unwrap();
    let (x, y) = (5, 7);
    let i = (y * 32 + x) * 3;
    assert_eq!(
        &img.pixels[i..i + 3],
        &[
            (7 + 21 + 5 + 100) as u8,
            (7 + 50 + 21 + 5 + 100) as u8,
            (7 + 100 + 21 + 5 + 100) as u8
        ]
    );

    // `open_images` recognises the layout from the root, and batches.meta.txt names the classes.
    std::fs::write(
        dir.join("batches.meta.txt"),
        "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n",
    )
    .unwrap();
    let test = open_images(d.path(), Split::Test).unwrap();
    assert_eq!((test.kind(), test.len()), ("cifar10", 4));
    assert_eq!(test.class_names()[3], "d");
}

#[test]
fn damaged_batches_name_file_and_offset() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("test_batch.bin");
    let mut raw = Vec::new();
    for i in 0..3u8 {
        raw.push(i);
        raw.extend(std::iter::repeat_n(i, 3072));
    }
    std::fs::write(&p, &raw[..raw.len() - 10]).unwrap();
    let e = read_cifar10_batch(&p, 10).unwrap_err().to_string();
    assert!(
        e.contains("test_batch.bin") && e.contains(&format!("byte {}", 2 * 3073)),
        "{e}"
    );
    raw[3073] = 10;
    std::fs::write(&p, &raw).unwrap();
    let e = read_cifar10_batch(&p, 10).unwrap_err().to_string();
    assert!(e.contains("byte 3073") && e.contains("label 10"), "{e}");
    let e = Cifar10::open(&d.path().join("nothing"), Split::Test)
        .unwrap_err()
        .to_string();
    assert!(e.contains("data_batch_1.bin"), "{e}");
}
