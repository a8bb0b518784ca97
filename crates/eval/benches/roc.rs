//! AUC + DeLong CI and a 2000-replicate stratified bootstrap CI at n = 10,000 and
//! 100,000, on the data of `shared/bench/proc_bench.R` (label ~ Bernoulli(0.3),
//! score = N(0, 1) + label), to compare with pROC back to back:
//! `cargo bench -p eval --bench roc` then `Rscript ../shared/bench/proc_bench.R 10000`.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use eval::bootstrap::{bootstrap_ci, BootstrapOptions};
use eval::{delong, Ranked};
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::Duration;

fn data(n: usize) -> (Vec<bool>, Vec<f64>) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let mut labels = Vec::with_capacity(n);
    let mut scores = Vec::with_capacity(n);
    for _ in 0..n {
        let y = rng.random::<f64>() < 0.3;
        // Box–Muller normal.
        let (u, v): (f64, f64) = (rng.random(), rng.random());
        let z = (-2.0 * (1.0 - u).ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
        labels.push(y);
        scores.push(z + if y { 1.0 } else { 0.0 });
    }
    (labels, scores)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("roc");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for n in [10_000usize, 100_000] {
        let (labels, scores) = data(n);
        g.bench_with_input(BenchmarkId::new("auc_delong_ci", n), &n, |b, _| {
            b.iter(|| {
                let d = delong(black_box(&labels), &[black_box(&scores)]).unwrap();
                black_box((d.aucs[0], d.ci(0, 0.95)))
            })
        });
        g.bench_with_input(BenchmarkId::new("bootstrap2000", n), &n, |b, _| {
            b.iter(|| {
                let r = Ranked::new(black_box(&labels), black_box(&scores)).unwrap();
                black_box(bootstrap_ci(&r, &BootstrapOptions::default()).unwrap())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
