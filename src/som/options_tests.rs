//! Tests of the options of SPEC §3b: the golden cases of an independent implementation, the
//! fast trainers against the reference trainer on random option combinations, thread-count
//! independence, and one test per invalid option.

use std::path::{Path, PathBuf};

use approx::assert_abs_diff_eq;
use ndarray::{Array2, Array3};
use ndarray_npy::read_npy;
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
            let got =
                super::init::initial_weights(InitMethod::Pca, rows, cols, data.view(), &mut rng)
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
        }
    }
}
