//! Shared test data: 48×48 noise images; class 1 carries a bright disc at a random place
//! (a learnable "lesion"), class 0 does not.

use data::Scenario;
use model::Architecture;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use train::config::{Balance, TrainConfig};
use train::input::MemoryImages;

pub const SIDE: usize = 48;

pub fn images(n: usize, seed: u64) -> (MemoryImages, Vec<(usize, usize)>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut imgs = Vec::new();
    let mut items = Vec::new();
    for i in 0..n {
        let class = i % 2;
        let mut img: Vec<u8> = (0..SIDE * SIDE)
            .map(|_| rng.random_range(40..120))
            .collect();
        if class == 1 {
            let (cx, cy) = (
                rng.random_range(10..38) as f32,
                rng.random_range(10..38) as f32,
            );
            for y in 0..SIDE {
                for x in 0..SIDE {
                    let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt();
                    if d < 6.0 {
                        img[y * SIDE + x] = 230;
                    }
                }
            }
        }
        imgs.push(img);
        items.push((i, class));
    }
    (
        MemoryImages {
            side: SIDE,
            images: imgs,
        },
        items,
    )
}

pub fn config(iterations: usize) -> TrainConfig {
    let mut c = TrainConfig::study(
        Scenario::MalignantVsNegative,
        Architecture::EfficientNetLite0,
        "unused.csv".into(),
    );
    c.input_size = SIDE;
    c.preprocess.size = SIDE;
    c.iterations = iterations;
    c.batch_size = 16;
    c.learning_rate = 0.01;
    c.lr_step = 0;
    c.balance = Balance::None;
    c.checkpoint_every = 3;
    c.seed = 11;
    c
}
