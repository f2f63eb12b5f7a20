//! Training and prediction speed on the sizes users ask for (the targets: 100x100 for 1000
//! iterations in at most 45 ms, hexagonal and toroidal within 1.5x of it, 10x10 for 100 in at
//! most 0.3 ms, on 2 cores), and batch training on blobs, a small version of the big-data
//! workload (scripts/bench-bigdata.sh).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use kohonen::som::{
    Codebook, InitMethod, Initial, Mode, Neighbourhood, SAMPLE_COLOURS, SomParams, Topology,
    TrainControl, TrainSettings, TrainingOptions, data_from_rows, random_weights, train,
};
use ndarray::Array2;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::hint::black_box;

fn train_colours(c: &mut Criterion) {
    let data = data_from_rows(&SAMPLE_COLOURS).expect("sample colours are valid");
    let mut group = c.benchmark_group("train_colours");
    let hexagonal = TrainingOptions {
        topology: Some(Topology::Hexagonal),
        ..TrainingOptions::default()
    };
    let toroidal = TrainingOptions {
        toroidal: Some(true),
        ..TrainingOptions::default()
    };
    let cases = [
        (10, 100, "", TrainingOptions::default()),
        (10, 500, "", TrainingOptions::default()),
        (100, 1000, "", TrainingOptions::default()),
        (100, 1000, "_hexagonal", hexagonal),
        (100, 1000, "_toroidal", toroidal),
    ];
    for (side, iterations, label, options) in cases {
        if side == 100 {
            group.sample_size(20);
        }
        let params = SomParams::new(side, side, iterations)
            .options(options)
            .check(3)
            .unwrap();
        let id = BenchmarkId::from_parameter(format!("{side}x{side}_{iterations}N{label}"));
        group.bench_function(id, |b| {
            b.iter(|| {
                let initial = Initial::Weights(random_weights(side, side, 3, 1));
                train(
                    &params,
                    initial,
                    0,
                    data.view(),
                    &TrainSettings::default(),
                    &TrainControl::default(),
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn train_64_dimensions(c: &mut Criterion) {
    let data = Array2::from_shape_fn((2000, 64), |(i, k)| {
        ((i * 31 + k * 17) % 101) as f64 / 101.0
    });
    let mut group = c.benchmark_group("train_dim64");
    group.sample_size(10);
    for (label, mode) in [("", Mode::Online), ("_batch", Mode::Batch)] {
        let options = TrainingOptions {
            mode: Some(mode),
            ..TrainingOptions::default()
        };
        let params = SomParams::new(30, 30, 50)
            .options(options)
            .check(64)
            .unwrap();
        group.bench_function(format!("30x30_50N_2000x64{label}"), |b| {
            b.iter(|| {
                train(
                    &params,
                    Initial::Weights(random_weights(30, 30, 64, 1)),
                    0,
                    data.view(),
                    &TrainSettings::default(),
                    &TrainControl::default(),
                )
                .unwrap()
            })
        });
    }
    group.finish();
}

fn predict(c: &mut Criterion) {
    let map = Codebook::from_weights(random_weights(100, 100, 3, 1).view());
    let vectors =
        Array2::from_shape_fn((10_000, 3), |(i, k)| ((i * 7 + k * 3) % 256) as f64 / 255.0);
    let mut group = c.benchmark_group("predict");
    group.sample_size(20);
    group.bench_function("100x100_10000_vectors", |b| {
        b.iter(|| map.predict(black_box(vectors.view())).unwrap())
    });
    group.finish();
}

/// `(n, dim)` samples in 3 blobs of unit spread whose centres are uniform in `[-10, 10]^dim`,
/// as scripts/peers/make_blobs.py makes them (not the same numbers).
fn blobs(n: usize, dim: usize, seed: u64) -> Array2<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres = Array2::from_shape_simple_fn((3, dim), || rng.random::<f64>() * 20.0 - 10.0);
    let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..3)).collect();
    let mut normal = || {
        // Box-Muller: rand has no normal distribution of its own.
        let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    };
    Array2::from_shape_fn((n, dim), |(i, k)| centres[[labels[i], k]] + normal())
}

fn train_blobs(c: &mut Criterion) {
    let data = blobs(4_000, 100, 42);
    let mut group = c.benchmark_group("train_blobs");
    group.sample_size(10);
    // `sample` starts from rows of the data at almost no cost, so it times the batch loop;
    // `pca` adds the initialisation the big-data benchmark uses.
    for (label, init) in [("", InitMethod::Sample), ("_pca", InitMethod::Pca)] {
        let options = TrainingOptions {
            mode: Some(Mode::Batch),
            neighbourhood: Some(Neighbourhood::GaussianFull),
            init: Some(init),
            ..TrainingOptions::default()
        };
        let params = SomParams::new(20, 15, 10)
            .options(options)
            .check(100)
            .unwrap();
        group.bench_function(
            format!("20x15_10N_4000x100_batch_gaussian_full{label}"),
            |b| {
                b.iter(|| {
                    train(
                        &params,
                        Initial::Method(init),
                        1,
                        data.view(),
                        &TrainSettings::default(),
                        &TrainControl::default(),
                    )
                    .unwrap()
                })
            },
        );
    }
    group.finish();
}

criterion_group!(
    benches,
    train_colours,
    train_64_dimensions,
    predict,
    train_blobs
);
criterion_main!(benches);
