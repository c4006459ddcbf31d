//! Per-class train/test splits for datasets that ship without one (CIFAR10-DVS, N-Caltech101).

use crate::dataset::Split;
use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Default seed of the reproducible split.
pub const DEFAULT_SPLIT_SEED: u64 = 0;

/// How a class's files are ordered before the first `ceil(n * train_ratio)` go to training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SplitOrder {
    /// Files sorted by name (byte order), then shuffled with a Fisher–Yates pass driven by
    /// ChaCha8 seeded with `seed + class_index` (each swap index `j = (u64 * (i + 1)) >> 64`), so
    /// the split depends on nothing but the names and the seed.
    Seeded {
        /// The seed ([`DEFAULT_SPLIT_SEED`] by default).
        seed: u64,
    },
    /// SpikingJelly's `split_to_train_test_set(ratio, dataset, num_classes, random_split=False)`:
    /// per class, files in `DatasetFolder` order (names sorted lexicographically, so `_0, _1,
    /// _10, _100, ...`), the first `ceil(n * ratio)` to training.
    SpikingJelly,
}

impl Default for SplitOrder {
    fn default() -> Self {
        SplitOrder::Seeded {
            seed: DEFAULT_SPLIT_SEED,
        }
    }
}

/// The items of one class that fall into `split`, keeping the order of `SplitOrder`.
/// `sorted` must already be sorted (byte order of the names).
pub(crate) fn split_class<T: Clone>(
    sorted: &[T],
    class_index: usize,
    order: SplitOrder,
    train_ratio: f64,
    split: Split,
) -> Vec<T> {
    let mut items = sorted.to_vec();
    if let SplitOrder::Seeded { seed } = order {
        let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(class_index as u64));
        for i in (1..items.len()).rev() {
            let j = ((rng.next_u64() as u128 * (i as u128 + 1)) >> 64) as usize;
            items.swap(i, j);
        }
    }
    let n_train = ((items.len() as f64) * train_ratio).ceil() as usize;
    let n_train = n_train.min(items.len());
    match split {
        Split::Train => {
            items.truncate(n_train);
            items
        }
        Split::Test => items.split_off(n_train),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nine_to_one_partition_without_overlap() {
        let names: Vec<u32> = (0..25).collect();
        let order = SplitOrder::default();
        let tr = split_class(&names, 3, order, 0.9, Split::Train);
        let te = split_class(&names, 3, order, 0.9, Split::Test);
        assert_eq!(tr.len(), 23); // ceil(22.5)
        assert_eq!(te.len(), 2);
        let mut all: Vec<u32> = tr.iter().chain(&te).copied().collect();
        all.sort();
        assert_eq!(all, names);
        // Reproducible, and the seed matters.
        assert_eq!(tr, split_class(&names, 3, order, 0.9, Split::Train));
        let other = split_class(&names, 3, SplitOrder::Seeded { seed: 7 }, 0.9, Split::Train);
        assert_ne!(tr, other);
    }

    #[test]
    fn spikingjelly_order_takes_the_first_files() {
        let names = ["a_0", "a_1", "a_10", "a_2"];
        let tr = split_class(&names, 0, SplitOrder::SpikingJelly, 0.5, Split::Train);
        assert_eq!(tr, vec!["a_0", "a_1"]);
    }
}
