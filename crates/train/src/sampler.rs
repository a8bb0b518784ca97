//! Which training images each iteration sees. The stream is a pure function of the seed
//! and the iteration number — epoch `e` is a permutation drawn from its own ChaCha8
//! stream — so a resumed run sees exactly the batches an uninterrupted one would.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::config::Balance;
use crate::TrainError;

/// Deterministic mini-batches over `(image, class)` items.
#[derive(Debug, Clone)]
pub struct Sampler {
    by_class: Vec<Vec<(usize, usize)>>,
    balance: Balance,
    batch_size: usize,
    seed: u64,
    cached: Option<(usize, Vec<(usize, usize)>)>,
}

impl Sampler {
    /// A sampler of `items` into `n_classes` classes. Down-sampling (the study's Table 1)
    /// happens here once, from the seed; every class must be present.
    pub fn new(
        items: &[(usize, usize)],
        n_classes: usize,
        balance: Balance,
        batch_size: usize,
        seed: u64,
    ) -> Result<Sampler, TrainError> {
        let items = match balance {
            Balance::Downsample => {
                data::scenario::balance(items, n_classes, crate::mix_seed(seed, 0xBA1))
            }
            _ => items.to_vec(),
        };
        let mut by_class = vec![Vec::new(); n_classes];
        for &(i, c) in &items {
            if c >= n_classes {
                return Err(TrainError::Data(format!("class {c} of {n_classes}")));
            }
            by_class[c].push((i, c));
        }
        if let Some(c) = by_class.iter().position(Vec::is_empty) {
            return Err(TrainError::Data(format!(
                "no training image of class {c}: every class needs at least one"
            )));
        }
        Ok(Sampler {
            by_class,
            balance,
            batch_size,
            seed,
            cached: None,
        })
    }

    /// The training items after balancing (what one epoch covers, in class order).
    pub fn items(&self) -> Vec<(usize, usize)> {
        self.by_class.iter().flatten().copied().collect()
    }

    /// Images per class in one epoch.
    pub fn per_class(&self) -> Vec<usize> {
        let max = self.by_class.iter().map(Vec::len).max().unwrap_or(0);
        self.by_class
            .iter()
            .map(|v| match self.balance {
                Balance::Oversample => max,
                _ => v.len(),
            })
            .collect()
    }

    /// Images in one epoch.
    pub fn epoch_len(&self) -> usize {
        self.per_class().iter().sum()
    }

    fn epoch(&self, e: usize) -> Vec<(usize, usize)> {
        let mut rng = ChaCha8Rng::seed_from_u64(crate::mix_seed(self.seed, 0xE90C_0000 + e as u64));
        let mut order: Vec<(usize, usize)> = match self.balance {
            Balance::Oversample => {
                let max = self.by_class.iter().map(Vec::len).max().unwrap_or(0);
                let mut all = Vec::new();
                for class in &self.by_class {
                    let mut c = class.clone();
                    c.shuffle(&mut rng);
                    all.extend(c.iter().cycle().take(max).copied());
                }
                all
            }
            _ => self.items(),
        };
        order.shuffle(&mut rng);
        order
    }

    /// The batch of iteration `it` (0-based): `(image, class)` pairs.
    pub fn batch(&mut self, it: usize) -> Vec<(usize, usize)> {
        let n = self.epoch_len();
        let start = it * self.batch_size;
        (start..start + self.batch_size)
            .map(|k| {
                let e = k / n;
                if self.cached.as_ref().map(|(ce, _)| *ce) != Some(e) {
                    self.cached = Some((e, self.epoch(e)));
                }
                self.cached
                    .as_ref()
                    .map(|(_, v)| v[k % n])
                    .unwrap_or((0, 0))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items() -> Vec<(usize, usize)> {
        (0..30).map(|i| (i, usize::from(i >= 24))).collect() // 24 negatives, 6 positives
    }

    #[test]
    fn downsample_balances_and_epochs_cover_everything_once() {
        let mut s = Sampler::new(&items(), 2, Balance::Downsample, 4, 7).unwrap();
        assert_eq!(s.per_class(), vec![6, 6]);
        let mut seen: Vec<(usize, usize)> = (0..3).flat_map(|it| s.batch(it)).collect();
        seen.sort();
        let mut want = s.items();
        want.sort();
        assert_eq!(seen, want);
    }

    #[test]
    fn stateless_in_the_iteration() {
        let mut a = Sampler::new(&items(), 2, Balance::Oversample, 4, 3).unwrap();
        let mut b = a.clone();
        // 24 batches of 4 = two epochs of 2 × 24 images.
        let seq: Vec<_> = (0..24).map(|it| a.batch(it)).collect();
        assert_eq!(b.batch(13), seq[13]);
        assert_eq!(b.batch(2), seq[2]);
        let positives = seq.iter().flatten().filter(|(_, c)| *c == 1).count();
        assert_eq!(positives, 48, "oversampling draws both classes equally");
    }

    #[test]
    fn missing_class_is_an_error() {
        let only: Vec<(usize, usize)> = (0..5).map(|i| (i, 0)).collect();
        assert!(Sampler::new(&only, 2, Balance::None, 2, 0).is_err());
    }
}
