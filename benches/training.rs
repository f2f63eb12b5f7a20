//! Training and prediction speed on the sizes users ask for (the targets: 100x100 for
//! 1000 iterations in at most 40 ms, 10x10 for 100 in at most 0.3 ms, on 2 cores).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use kohonen::som::{
    Codebook, SAMPLE_COLOURS, SomParams, TrainControl, TrainOptions, data_from_rows,
    random_weights, train,
};
use ndarray::Array2;
use std::hint::black_box;

fn train_colours(c: &mut Criterion) {
    let data = data_from_rows(&SAMPLE_COLOURS).expect("sample colours are valid");
    let mut group = c.benchmark_group("train_colours");
    for (side, iterations) in [(10, 100), (10, 500), (100, 1000)] {
        if side == 100 {
            group.sample_size(20);
        }
        let params = SomParams::new(side, side, iterations).check(3).unwrap();
        let id = BenchmarkId::from_parameter(format!("{side}x{side}_{iterations}N"));
        group.bench_function(id, |b| {
            b.iter(|| {
                let initial = random_weights(side, side, 3, 1);
                train(
                    &params,
                    initial,
                    data.view(),
                    &TrainOptions::default(),
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
    let params = SomParams::new(30, 30, 50).check(64).unwrap();
    let mut group = c.benchmark_group("train_dim64");
    group.sample_size(10);
    group.bench_function("30x30_50N_2000x64", |b| {
        b.iter(|| {
            train(
                &params,
                random_weights(30, 30, 64, 1),
                data.view(),
                &TrainOptions::default(),
                &TrainControl::default(),
            )
            .unwrap()
        })
    });
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

criterion_group!(benches, train_colours, train_64_dimensions, predict);
criterion_main!(benches);
