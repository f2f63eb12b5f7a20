//! Tests of the options of SPEC §3b: the golden cases of an independent implementation, the
//! fast trainers against the reference trainer on random option combinations, thread-count
//! independence, and one test per invalid option.

use std::path::{Path, PathBuf};

use approx::assert_abs_diff_eq;
use ndarray::{Array2, Array3};
use ndarray_npy::read_npy;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use super::*;

#[derive(Deserialize)]
struct OptionsCase {
    grid_shape: [usize; 2],
    max_iterations: usize,
    options: serde_json::Map<String, serde_json::Value>,
    init: String,
    learning_rate: Option<f64>,
    radius_per_iteration: Vec<f64>,
    learning_rate_per_iteration: Option<Vec<f64>>,
    expected_bmu_per_presentation: Option<Vec<[usize; 2]>>,
    expected_quality_per_iteration: Option<Vec<[f64; 2]>>,
    expected_scaler: Option<ExpectedScaler>,
    expected_predictions: Vec<[usize; 2]>,
    expected_quantization_error: f64,
    expected_topographic_error: f64,
    tolerance: f64,
}

#[derive(Deserialize)]
struct ExpectedScaler {
    kind: String,
    offset: Vec<f64>,
    scale: Vec<f64>,
}

fn case_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden-options");
    let mut dirs: Vec<_> = std::fs::read_dir(root)
        .expect("golden option fixtures are in the repo")
        .map(|entry| entry.expect("readable fixture folder").path())
        .collect();
    dirs.sort();
    assert_eq!(
        dirs.len(),
        18,
        "all eighteen golden option cases are present"
    );
    dirs
}

/// The options of a case, parsed as a request's would be.
fn parse_options(given: &serde_json::Map<String, serde_json::Value>) -> TrainingOptions {
    let text = |key: &str| {
        given
            .get(key)
            .map(|v| v.as_str().expect("a name").to_owned())
    };
    let number = |key: &str| given.get(key).map(|v| v.as_f64().expect("a number"));
    for key in given.keys() {
        assert!(
            [
                "topology",
                "toroidal",
                "neighbourhood",
                "radius",
                "schedule",
                "final_radius",
                "final_learning_rate",
                "compatibility",
                "distance",
                "init",
                "order",
                "scaling",
                "mode"
            ]
            .contains(&key.as_str()),
            "unknown option {key}"
        );
    }
    TrainingOptions {
        topology: text("topology").map(|t| t.parse().unwrap()),
        toroidal: given.get("toroidal").map(|v| v.as_bool().expect("a bool")),
        neighbourhood: text("neighbourhood").map(|t| t.parse().unwrap()),
        radius: number("radius"),
        schedule: text("schedule").map(|t| t.parse().unwrap()),
        final_radius: number("final_radius"),
        final_learning_rate: number("final_learning_rate"),
        compatibility: text("compatibility").map(|t| t.parse().unwrap()),
        distance: text("distance").map(|t| t.parse().unwrap()),
        init: text("init").map(|t| t.parse().unwrap()),
        order: text("order").map(|t| t.parse().unwrap()),
        scaling: text("scaling").map(|t| t.parse().unwrap()),
        mode: text("mode").map(|t| t.parse().unwrap()),
    }
}

#[test]
fn every_golden_option_case_is_reproduced_by_the_fast_and_the_reference_trainer() {
    for dir in case_dirs() {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let case: OptionsCase =
            serde_json::from_str(&std::fs::read_to_string(dir.join("case.json")).unwrap()).unwrap();
        let data: Array2<f64> = read_npy(dir.join("data.npy")).unwrap();
        let expected: Array3<f64> = read_npy(dir.join("expected_weights.npy")).unwrap();
        let [rows, cols] = case.grid_shape;
        let mut options = parse_options(&case.options);
        let initial = match case.init.as_str() {
            "pca" => {
                options.init = Some(InitMethod::Pca);
                Initial::Method(InitMethod::Pca)
            }
            "initial_weights.npy" => Initial::Weights(read_npy(dir.join(&case.init)).unwrap()),
            other => panic!("{name}: unknown init {other}"),
        };
        let params = SomParams {
            learning_rate: case.learning_rate,
            ..SomParams::new(rows, cols, case.max_iterations).options(options)
        }
        .check(data.ncols())
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let settings = TrainSettings {
            record_bmus: true,
            ..TrainSettings::default()
        };
        let fast = train(
            &params,
            initial.clone(),
            0,
            data.view(),
            &settings,
            &TrainControl::default(),
        )
        .unwrap();
        let reference = train_reference(&params, initial, 0, data.view()).unwrap();
        if case.init == "pca" {
            // The case also holds the PCA initialisation its reference computed.
            let want: Array3<f64> = read_npy(dir.join("initial_weights.npy")).unwrap();
            let mut rng = super::init::generator(0);
            let got = super::init::initial_weights(
                InitMethod::Pca,
                rows,
                cols,
                data.view(),
                &mut rng,
                &TrainControl::default(),
            )
            .unwrap();
            for (got, want) in got.iter().zip(&want) {
                assert!(
                    (got - want).abs() <= case.tolerance,
                    "{name}: PCA init {got} != {want}"
                );
            }
        }
        let tol = case.tolerance;
        for (trained, by) in [(&fast, "fast"), (&reference, "reference")] {
            let what = format!("{name} ({by})");
            assert_eq!(trained.weights.shape(), expected.shape(), "{what}");
            for (got, want) in trained.weights.iter().zip(&expected) {
                assert!((got - want).abs() <= tol, "{what}: weight {got} != {want}");
            }
            assert_eq!(trained.schedule.radii.len(), case.max_iterations, "{what}");
            for (got, want) in trained
                .schedule
                .radii
                .iter()
                .zip(&case.radius_per_iteration)
            {
                assert_abs_diff_eq!(*got, *want, epsilon = tol);
            }
            match &case.learning_rate_per_iteration {
                Some(rates) => {
                    assert_eq!(trained.schedule.learning_rates.len(), rates.len(), "{what}");
                    for (got, want) in trained.schedule.learning_rates.iter().zip(rates) {
                        assert_abs_diff_eq!(*got, *want, epsilon = tol);
                    }
                }
                None => assert!(trained.schedule.learning_rates.is_empty(), "{what}"),
            }
            if let Some(bmus) = &case.expected_bmu_per_presentation {
                assert_eq!(trained.bmus.as_ref(), Some(bmus), "{what}: BMUs");
            }
            match &case.expected_quality_per_iteration {
                Some(quality) => {
                    let got = trained
                        .quality_per_iteration
                        .as_ref()
                        .expect("batch quality");
                    assert_eq!(got.len(), quality.len(), "{what}");
                    for (got, want) in got.iter().zip(quality) {
                        assert_abs_diff_eq!(got[0], want[0], epsilon = tol);
                        assert_abs_diff_eq!(got[1], want[1], epsilon = tol);
                    }
                }
                None => assert!(trained.quality_per_iteration.is_none(), "{what}"),
            }
            match &case.expected_scaler {
                Some(want) => {
                    let got = trained.scaler.as_ref().expect("a scaler");
                    assert_eq!(got.kind.as_str(), want.kind, "{what}");
                    for (got, want) in got.offset.iter().zip(&want.offset) {
                        assert_abs_diff_eq!(*got, *want, epsilon = tol);
                    }
                    for (got, want) in got.scale.iter().zip(&want.scale) {
                        assert_abs_diff_eq!(*got, *want, epsilon = tol);
                    }
                }
                None => assert!(trained.scaler.is_none(), "{what}"),
            }
            let opts = params.options();
            let map = Codebook::from_weights(trained.weights.view()).with(
                opts.topology,
                opts.toroidal,
                opts.distance,
            );
            let scaled = match &trained.scaler {
                Some(scaler) => scaler.scale(data.view()),
                None => data.clone(),
            };
            assert_eq!(
                map.predict(scaled.view()).unwrap(),
                case.expected_predictions,
                "{what}: predictions"
            );
            let qe = map.quantization_error(scaled.view()).unwrap();
            assert!(
                (qe - case.expected_quantization_error).abs() <= tol,
                "{what}: qe {qe}"
            );
            let te = map.topographic_error(scaled.view()).unwrap();
            assert!(
                (te - case.expected_topographic_error).abs() <= tol,
                "{what}: te {te}"
            );
            assert_eq!(
                trained.quality,
                [qe, te],
                "{what}: the training's own measure"
            );
            if let Some(predictions) = &trained.predictions {
                assert_eq!(predictions, &case.expected_predictions, "{what}");
            }
        }
    }
}

/// A random valid combination of options for a small map, or `None` when the draw is not a
/// valid combination (then the check must have said why, naming a field).
fn random_case(rng: &mut ChaCha8Rng) -> Option<(SomParams, Initial, Array2<f64>)> {
    let rows = rng.random_range(1..=7usize);
    let cols = rng.random_range(1..=7usize);
    let dim = rng.random_range(1..=5usize);
    let n = rng.random_range(1..=12usize);
    let iterations = rng.random_range(1..=6usize);
    // One of `choices` things, or (at `choices`) none: "not given".
    fn pick(rng: &mut ChaCha8Rng, choices: usize) -> usize {
        rng.random_range(0..choices + 1)
    }
    fn maybe<T: Copy>(all: &[T], k: usize) -> Option<T> {
        all.get(k).copied()
    }
    let mut options = TrainingOptions {
        topology: maybe(Topology::ALL, pick(rng, Topology::ALL.len())),
        toroidal: maybe(&[false, true], pick(rng, 2)),
        neighbourhood: maybe(Neighbourhood::ALL, pick(rng, Neighbourhood::ALL.len())),
        schedule: maybe(Decay::ALL, pick(rng, Decay::ALL.len())),
        distance: maybe(Distance::ALL, pick(rng, Distance::ALL.len())),
        init: maybe(InitMethod::ALL, pick(rng, InitMethod::ALL.len())),
        order: maybe(Order::ALL, pick(rng, Order::ALL.len())),
        scaling: maybe(Scaling::ALL, pick(rng, Scaling::ALL.len())),
        mode: maybe(Mode::ALL, pick(rng, Mode::ALL.len())),
        ..TrainingOptions::default()
    };
    if pick(rng, 3) == 0 {
        options = TrainingOptions {
            compatibility: Some(Compatibility::PythonService),
            neighbourhood: None,
            schedule: None,
            mode: None,
            ..options
        };
    }
    if pick(rng, 2) == 0 && options.compatibility.is_none() {
        options.radius = Some(rng.random_range(0.3..4.0));
    }
    if options.schedule == Some(Decay::Linear) && pick(rng, 1) == 0 {
        options.final_radius = Some(rng.random_range(0.1..1.0) * options.radius.unwrap_or(0.5));
        options.final_learning_rate = Some(0.01);
    }
    let learning_rate = (options.mode != Some(Mode::Batch)).then(|| rng.random_range(0.05..1.0));
    let data = Array2::from_shape_simple_fn((n, dim), || rng.random::<f64>());
    let initial = if pick(rng, 3) == 0 {
        Initial::Weights(Array3::from_shape_simple_fn((rows, cols, dim), || {
            rng.random::<f64>()
        }))
    } else {
        Initial::Method(options.init.unwrap_or(InitMethod::Random))
    };
    let params = SomParams {
        learning_rate,
        ..SomParams::new(rows, cols, iterations).options(options)
    };
    match params.clone().check(dim) {
        Ok(_) => Some((params, initial, data)),
        Err(SomError::InvalidOption { field, message }) => {
            assert!(message.contains(field), "{message} names {field}");
            None
        }
        Err(other) => panic!("unexpected error {other}"),
    }
}

/// Trains in a rayon pool of `threads` threads, with the map split over them when online.
fn train_with_threads(
    threads: usize,
    params: &CheckedParams,
    initial: Initial,
    seed: u64,
    data: &Array2<f64>,
) -> Trained {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let settings = TrainSettings {
        parallel_min_work: 0,
        record_bmus: true,
        ..TrainSettings::default()
    };
    pool.install(|| {
        let control = TrainControl::default();
        train(params, initial, seed, data.view(), &settings, &control).unwrap()
    })
}

#[test]
fn the_fast_trainers_equal_the_reference_on_random_option_combinations_and_any_thread_count() {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let (mut online, mut batch) = (0, 0);
    while online < 150 || batch < 150 {
        let Some((params, initial, data)) = random_case(&mut rng) else {
            continue;
        };
        let what = format!("{params:?}");
        let params = params.check(data.ncols()).unwrap();
        let seed = rng.random_range(0..1000);
        let reference = train_reference(&params, initial.clone(), seed, data.view()).unwrap();
        let one = train_with_threads(1, &params, initial.clone(), seed, &data);
        let three = train_with_threads(3, &params, initial, seed, &data);
        assert_eq!(one.weights, three.weights, "1 and 3 threads: {what}");
        assert_eq!(one.bmus, three.bmus, "{what}");
        assert_eq!(
            one.quality_per_iteration, three.quality_per_iteration,
            "{what}"
        );
        assert_eq!(one.scaler, reference.scaler, "{what}");
        assert_eq!(one.schedule, reference.schedule, "{what}");
        assert_eq!(one.weights, reference.weights, "{what}");
        assert_eq!(one.bmus, reference.bmus, "{what}");
        assert_eq!(
            one.quality_per_iteration, reference.quality_per_iteration,
            "{what}"
        );
        match params.options().mode {
            Mode::Online => online += 1,
            Mode::Batch => batch += 1,
        }
    }
}

/// The field and message of checking `options` on a `rows x cols` map.
fn refusal(rows: usize, options: TrainingOptions, learning_rate: Option<f64>) -> (String, String) {
    let params = SomParams {
        learning_rate,
        ..SomParams::new(rows, 5, 10).options(options)
    };
    match params.check(3) {
        Err(SomError::InvalidOption { field, message }) => (field.to_owned(), message),
        other => panic!("expected an invalid option, got {other:?}"),
    }
}

#[test]
fn every_invalid_combination_is_refused_naming_its_field_and_what_to_send() {
    let batch = TrainingOptions {
        mode: Some(Mode::Batch),
        ..TrainingOptions::default()
    };
    let linear = TrainingOptions {
        schedule: Some(Decay::Linear),
        ..TrainingOptions::default()
    };
    let python = TrainingOptions {
        compatibility: Some(Compatibility::PythonService),
        ..TrainingOptions::default()
    };
    let cases = [
        (4, batch, Some(0.1), "learning_rate", "mode"),
        (
            4,
            TrainingOptions {
                final_learning_rate: Some(0.01),
                schedule: Some(Decay::Linear),
                ..batch
            },
            None,
            "final_learning_rate",
            "leave out",
        ),
        (
            4,
            TrainingOptions {
                neighbourhood: Some(Neighbourhood::MexicanHat),
                ..batch
            },
            None,
            "neighbourhood",
            "online",
        ),
        (
            4,
            TrainingOptions {
                order: Some(Order::Shuffled),
                ..batch
            },
            None,
            "order",
            "leave out order",
        ),
        (
            5,
            TrainingOptions {
                topology: Some(Topology::Hexagonal),
                toroidal: Some(true),
                ..TrainingOptions::default()
            },
            None,
            "toroidal",
            "use 4 or 6 rows",
        ),
        (
            4,
            TrainingOptions {
                final_radius: Some(0.5),
                ..TrainingOptions::default()
            },
            None,
            "final_radius",
            "\"schedule\": \"linear\"",
        ),
        (
            4,
            TrainingOptions {
                final_learning_rate: Some(0.01),
                schedule: Some(Decay::Inverse),
                ..TrainingOptions::default()
            },
            None,
            "final_learning_rate",
            "\"schedule\": \"linear\"",
        ),
        (
            4,
            TrainingOptions {
                radius: Some(2.0),
                final_radius: Some(3.0),
                ..linear
            },
            None,
            "final_radius",
            "0.000001 <= final_radius <= radius (2.0)",
        ),
        (
            4,
            TrainingOptions {
                final_learning_rate: Some(0.5),
                ..linear
            },
            Some(0.1),
            "final_learning_rate",
            "<= learning_rate (0.1)",
        ),
        (
            4,
            TrainingOptions {
                radius: Some(0.0),
                ..TrainingOptions::default()
            },
            None,
            "radius",
            ">= 0.000001",
        ),
        (
            4,
            TrainingOptions {
                neighbourhood: Some(Neighbourhood::Bubble),
                ..python
            },
            None,
            "neighbourhood",
            "compatibility",
        ),
        (
            4,
            TrainingOptions {
                schedule: Some(Decay::Linear),
                ..python
            },
            None,
            "schedule",
            "compatibility",
        ),
        (
            4,
            TrainingOptions {
                radius: Some(1.0),
                ..python
            },
            None,
            "radius",
            "compatibility",
        ),
        (
            4,
            TrainingOptions {
                mode: Some(Mode::Batch),
                ..python
            },
            None,
            "mode",
            "compatibility",
        ),
    ];
    for (rows, options, learning_rate, field, advice) in cases {
        let (got, message) = refusal(rows, options, learning_rate);
        assert_eq!(got, field, "{message}");
        assert!(message.contains(field), "{message}");
        assert!(message.contains(advice), "{message} should say {advice}");
    }
}

#[test]
fn an_unknown_option_value_is_refused_listing_the_known_ones() {
    let err = "hexagon".parse::<Topology>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "topology must be one of rectangular, hexagonal, got \"hexagon\""
    );
    let err = "gauss".parse::<Neighbourhood>().unwrap_err();
    assert!(
        err.to_string()
            .contains("gaussian, gaussian-full, bubble, triangle, epanechnikov, mexican-hat")
    );
    for name in Distance::names() {
        assert_eq!(name.parse::<Distance>().unwrap().as_str(), name);
    }
}

#[test]
fn batch_mode_without_a_learning_rate_and_online_with_the_default_are_accepted() {
    let batch = TrainingOptions {
        mode: Some(Mode::Batch),
        ..TrainingOptions::default()
    };
    let params = SomParams::new(4, 4, 3).options(batch).check(2).unwrap();
    assert_eq!(params.learning_rate(), None);
    let online = SomParams::new(4, 4, 3).check(2).unwrap();
    assert_eq!(online.learning_rate(), Some(DEFAULT_LEARNING_RATE));
    let linear = TrainingOptions {
        schedule: Some(Decay::Linear),
        radius: Some(3.0),
        ..TrainingOptions::default()
    };
    let linear = SomParams::new(4, 4, 3).options(linear).check(2).unwrap();
    assert_eq!(linear.options().schedule.final_radius, Some(1.0));
    assert_eq!(linear.options().schedule.final_learning_rate, Some(0.001));
}

#[test]
fn pca_initialisation_refuses_more_features_than_it_can_diagonalise() {
    let pca = TrainingOptions {
        init: Some(InitMethod::Pca),
        ..TrainingOptions::default()
    };
    let err = (SomParams::new(2, 2, 1).options(pca))
        .check(MAX_PCA_DIM + 1)
        .unwrap_err();
    assert!(
        matches!(err, SomError::InvalidOption { field: "init", .. }),
        "{err}"
    );
}

#[test]
fn a_hexagonal_node_has_six_neighbours_at_distance_one_and_odd_rows_shift_right() {
    let grid = Grid {
        rows: 5,
        cols: 5,
        topology: Topology::Hexagonal,
        toroidal: false,
    };
    // Node [2, 2] (even row): neighbours [1, 1], [1, 2], [2, 1], [2, 3], [3, 1], [3, 2].
    let at = |r: usize, c: usize| r * 5 + c;
    let expected = vec![at(1, 1), at(1, 2), at(2, 1), at(2, 3), at(3, 1), at(3, 2)];
    assert_eq!(grid.neighbours(at(2, 2)), expected);
    // Node [1, 2] (odd row, shifted right): [0, 2], [0, 3], [1, 1], [1, 3], [2, 2], [2, 3].
    let expected = vec![at(0, 2), at(0, 3), at(1, 1), at(1, 3), at(2, 2), at(2, 3)];
    assert_eq!(grid.neighbours(at(1, 2)), expected);
    for &n in &expected {
        assert_abs_diff_eq!(grid.d2(at(1, 2), n), 1.0, epsilon = 1e-12);
    }
    // Two rows down: sqrt(3) apart.
    assert_abs_diff_eq!(grid.d2(at(0, 0), at(2, 0)), 3.0, epsilon = 1e-12);
}

#[test]
fn a_toroidal_grid_wraps_both_ways_and_takes_the_shorter_way_round() {
    let rect = Grid {
        rows: 5,
        cols: 6,
        topology: Topology::Rectangular,
        toroidal: true,
    };
    assert_eq!(rect.d2(0, 5), 1.0);
    assert_eq!(rect.d2(0, 4 * 6), 1.0);
    assert_eq!(rect.d2(0, 4 * 6 + 5), 2.0);
    assert!(rect.are_neighbours(0, 4 * 6 + 5));
    assert_eq!(rect.neighbours(0).len(), 8);
    let plain = Grid {
        toroidal: false,
        ..rect
    };
    assert_eq!(plain.d2(0, 5), 25.0);
    assert!(!plain.are_neighbours(0, 5));
    assert_eq!(plain.neighbours(0).len(), 3);
    let hex = Grid {
        rows: 6,
        cols: 5,
        topology: Topology::Hexagonal,
        toroidal: true,
    };
    // Every node of a toroidal hexagonal grid has six neighbours, the edges included.
    for node in 0..hex.nodes() {
        assert_eq!(hex.neighbours(node).len(), 6, "node {node}");
    }
}

#[test]
fn data_beyond_1e100_is_refused_and_a_map_of_enormous_weights_still_names_nodes() {
    let data = Array2::from_shape_vec((3, 1), vec![0.5, -1e200, 0.25]).unwrap();
    let params = SomParams::new(3, 3, 4).check(1).unwrap();
    let initial = Initial::Method(InitMethod::Random);
    let control = TrainControl::default();
    let err = train(
        &params,
        initial,
        1,
        data.view(),
        &TrainSettings::default(),
        &control,
    )
    .unwrap_err();
    assert!(
        matches!(err, SomError::ValueTooLarge { row: 1, col: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("within ±1e100"), "{err}");
    // A map imported with such weights: every distance is infinite, yet the searches name
    // nodes (the first ones) instead of none.
    let weights = Array3::from_elem((2, 2, 1), 1e300);
    let map = Codebook::from_weights(weights.view());
    let far = Array2::from_elem((2, 1), -1e300);
    assert_eq!(map.predict(far.view()).unwrap(), vec![[0, 0], [0, 0]]);
    assert_eq!(map.topographic_error(far.view()).unwrap(), 0.0);
}

#[test]
fn a_mexican_hat_that_pushes_the_weights_to_infinity_is_an_error_not_a_map() {
    let data = Array2::from_shape_fn((20, 3), |(i, k)| ((i * 37 + k * 11) % 41) as f64 / 41.0);
    let options = TrainingOptions {
        neighbourhood: Some(Neighbourhood::MexicanHat),
        ..TrainingOptions::default()
    };
    let params = SomParams::new(10, 10, 500)
        .learning_rate(1.0)
        .options(options)
        .check(3)
        .unwrap();
    let initial = Initial::Method(InitMethod::Random);
    let control = TrainControl::default();
    let result = train(
        &params,
        initial,
        1,
        data.view(),
        &TrainSettings::default(),
        &control,
    );
    assert!(
        matches!(result, Err(SomError::Diverged)),
        "{:?}",
        result.map(|t| t.weights[[0, 0, 0]])
    );
}

#[test]
fn a_batch_training_stops_inside_an_iteration_when_cancelled() {
    let data = Array2::from_shape_fn((4000, 8), |(i, k)| ((i * 7 + k * 13) % 97) as f64 / 97.0);
    let batch = TrainingOptions {
        mode: Some(Mode::Batch),
        neighbourhood: Some(Neighbourhood::GaussianFull),
        ..TrainingOptions::default()
    };
    let params = SomParams::new(60, 60, 1000)
        .options(batch)
        .check(8)
        .unwrap();
    let control = TrainControl::default();
    let result = std::thread::scope(|scope| {
        let training = scope.spawn(|| {
            let settings = TrainSettings::default();
            let initial = Initial::Method(InitMethod::Random);
            train(&params, initial, 1, data.view(), &settings, &control)
        });
        while control.iterations_done() == 0 {
            std::thread::yield_now();
        }
        control.cancel();
        training.join().unwrap()
    });
    match result {
        Err(SomError::Cancelled { iterations_done }) => assert!(iterations_done < 1000),
        other => panic!(
            "expected a cancel, got {:?}",
            other.map(|t| t.weights.dim())
        ),
    }
}

#[test]
fn progress_moves_within_an_iteration_and_a_cancel_there_stops_it() {
    // One iteration over 100,000 samples takes long enough to be watched part-way.
    let data = Array2::from_shape_fn((100_000, 16), |(i, k)| {
        ((i * 7 + k * 13) % 97) as f64 / 97.0
    });
    for mode in [Mode::Online, Mode::Batch] {
        let options = TrainingOptions {
            mode: Some(mode),
            ..TrainingOptions::default()
        };
        let params = SomParams::new(20, 20, 3)
            .options(options)
            .check(16)
            .unwrap();
        let control = TrainControl::default();
        let (seen, result) = std::thread::scope(|scope| {
            let training = scope.spawn(|| {
                let initial = Initial::Method(InitMethod::Random);
                train(
                    &params,
                    initial,
                    1,
                    data.view(),
                    &TrainSettings::default(),
                    &control,
                )
            });
            while control.fraction_done() == 0.0 {
                std::thread::yield_now();
            }
            let seen = (control.fraction_done(), control.iterations_done());
            control.cancel();
            (seen, training.join().unwrap())
        });
        let (fraction, iterations_done) = seen;
        assert!(
            fraction > 0.0 && fraction < 1.0 / 3.0 && iterations_done == 0,
            "{mode:?}: {fraction} of the work seen after {iterations_done} iterations"
        );
        match result {
            Err(SomError::Cancelled { iterations_done }) => assert_eq!(iterations_done, 0),
            other => panic!(
                "{mode:?}: expected a cancel, got {:?}",
                other.map(|t| t.weights.dim())
            ),
        }
    }
}
