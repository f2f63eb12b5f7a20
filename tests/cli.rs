//! The command line end to end: the real binary, real files, exit codes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kohonen::som::Topology;
use kohonen::storage::{FolderRepository, ModelMeta, ModelRepository, OptionsRecord};
use ndarray::{Array2, Array3};
use ndarray_npy::{read_npy, write_npy};

fn kohonen(args: &[&str]) -> Output {
    kohonen_with_env(args, &[])
}

fn kohonen_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kohonen"))
        .args(args)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

/// `kohonen train` of `data` on a 3x3 map into `out`, with `extra` flags.
fn train_into(data: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "train",
        "--data",
        s(data),
        "--grid",
        "3x3",
        "--iterations",
        "5",
        "--seed",
        "1",
        "--out",
        s(out),
    ];
    args.extend(extra);
    kohonen(&args)
}

/// The summary of a training that must have succeeded.
fn summary(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the summary is JSON")
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn s(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

#[test]
fn samples_regenerate_the_committed_sample_models_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let plots = dir.path().join("plots");
    let out = kohonen(&[
        "samples",
        "--models-dir",
        s(dir.path()),
        "--plots-dir",
        s(&plots),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["10X10_100N", "10X10_200N", "10X10_500N", "100X100_1000N"] {
        let fresh = std::fs::read(dir.path().join(format!("{name}.npy"))).unwrap();
        let committed = std::fs::read(repo(&format!("saved_models/{name}.npy"))).unwrap();
        assert!(fresh == committed, "{name} differs from the committed file");
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join(format!("{name}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(meta["status"], "succeeded");
        assert_eq!(meta["name"], name);
    }
    let mut pictures: Vec<String> = std::fs::read_dir(&plots)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    pictures.sort();
    assert_eq!(
        pictures.len(),
        9,
        "a map and a U-matrix each, and the four side by side"
    );
    for picture in pictures {
        let fresh = std::fs::read(plots.join(&picture)).unwrap();
        let committed = std::fs::read(repo(&format!("saved_plots/{picture}"))).unwrap();
        assert!(
            fresh == committed,
            "{picture} differs from the committed picture"
        );
    }
}

#[test]
fn render_draws_a_map_file_and_refuses_to_overwrite_or_draw_curves_of_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("map.png");
    let weights = repo("tests/fixtures/npy-edge/f64_fortran_4x6x3.npy");
    let out = kohonen(&["render", s(&weights), "--scale", "9", "--out", s(&out_path)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (summary["width"].clone(), summary["height"].clone()),
        (54.into(), 36.into())
    );
    let decoder = png::Decoder::new(std::io::Cursor::new(std::fs::read(&out_path).unwrap()));
    let info = decoder.read_info().unwrap().info().clone();
    assert_eq!((info.width, info.height), (54, 36));

    let again = kohonen(&["render", s(&weights), "--out", s(&out_path)]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    let curves = kohonen(&[
        "render",
        s(&weights),
        "--kind",
        "curves",
        "--out",
        s(&dir.path().join("c.png")),
    ]);
    assert_eq!(curves.status.code(), Some(2));
    let zero = kohonen(&[
        "render",
        s(&weights),
        "--scale",
        "0",
        "--out",
        s(&dir.path().join("z.png")),
    ]);
    assert_eq!(zero.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("pixels per node"));

    let umatrix = kohonen(&[
        "render",
        "10X10_100N",
        "--kind",
        "umatrix",
        "--models-dir",
        s(&repo("saved_models")),
        "--out",
        s(&dir.path().join("u.png")),
    ]);
    assert!(
        umatrix.status.success(),
        "{}",
        String::from_utf8_lossy(&umatrix.stderr)
    );
}

#[test]
fn train_from_given_initial_weights_reproduces_a_golden_case() {
    let case = repo("tests/fixtures/golden/rough-5x7-4dim");
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("w.npy");
    let out = kohonen(&[
        "train",
        "--data",
        s(&case.join("data.npy")),
        "--init",
        s(&case.join("initial_weights.npy")),
        "--grid",
        "5x7",
        "--iterations",
        "3",
        "--learning-rate",
        "0.25",
        "--out",
        s(&out_path),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Array3<f64> = read_npy(&out_path).unwrap();
    let want: Array3<f64> = read_npy(case.join("expected_weights.npy")).unwrap();
    for (a, b) in got.iter().zip(&want) {
        assert!((a - b).abs() <= 1e-9, "{a} vs {b}");
    }
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["seed"], serde_json::Value::Null);
    assert!((report["quantization_error"].as_f64().unwrap() - 0.25499130567136036).abs() < 1e-9);
    assert_eq!(report["out"], s(&out_path));
}

#[test]
fn train_from_csv_with_a_seed_stores_a_named_model_that_predict_reads() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("colours.csv");
    std::fs::write(&csv, "r,g,b\n0.1,0.8,0.3\n0.9,0.1,0.2\n0.2,0.2,0.9\n").unwrap();
    let models = dir.path().join("models");
    let train = |seed: &str| {
        kohonen(&[
            "train",
            "--data",
            s(&csv),
            "--grid",
            "4x3",
            "--iterations",
            "20",
            "--seed",
            seed,
            "--name",
            "mine",
            "--models-dir",
            s(&models),
            "--force",
        ])
    };
    let report = summary(&train("7"));
    assert_eq!(
        (report["samples"].as_u64(), report["dim"].as_u64()),
        (Some(3), Some(3))
    );
    let first: Array3<f64> = read_npy(models.join("mine.npy")).unwrap();
    assert_eq!(first.shape(), [4, 3, 3]);
    assert!(train("7").status.success());
    assert_eq!(
        read_npy::<_, Array3<f64>>(models.join("mine.npy")).unwrap(),
        first
    );

    let out = kohonen(&[
        "predict",
        "--model",
        "mine",
        "--data",
        s(&csv),
        "--models-dir",
        s(&models),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let predictions: Vec<[usize; 2]> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(predictions.len(), 3);
    assert!(predictions.iter().all(|[r, c]| *r < 4 && *c < 3));
}

#[test]
fn bad_input_exits_with_2_and_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let ragged = write("ragged.csv", "1,2,3\n4,5\n");
    let nan = write("nan.csv", "1,2,3\n4,nan,6\n");
    let unknown = write("data.txt", "1,2,3\n");
    let good = write("good.json", "[[0.1,0.2,0.3],[0.4,0.5,0.6]]");
    let cube = dir.path().join("cube.npy");
    write_npy(&cube, &Array3::<f64>::zeros((2, 2, 2))).unwrap();
    let existing = write("existing.npy", "keep me");
    let missing = dir.path().join("missing.csv");
    let out = dir.path().join("out.npy");

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--data", s(&missing), "--out", s(&out)], "cannot read"),
        (vec!["--data", s(&ragged), "--out", s(&out)], "same length"),
        (vec!["--data", s(&nan), "--out", s(&out)], "finite"),
        (
            vec!["--data", s(&unknown), "--out", s(&out)],
            "unknown extension",
        ),
        (vec!["--data", s(&cube), "--out", s(&out)], "2 dimensions"),
        (vec!["--data", s(&good), "--out", s(&existing)], "--force"),
        (
            vec![
                "--data",
                s(&good),
                "--out",
                s(&out),
                "--learning-rate",
                "1.5",
            ],
            "learning_rate",
        ),
        (
            vec!["--data", s(&good), "--out", s(&out), "--init", s(&cube)],
            "initial weights",
        ),
    ];
    for (args, expected) in cases {
        let mut full = vec!["train", "--grid", "3x3", "--iterations", "5"];
        full.extend(args);
        let result = kohonen(&full);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{full:?}: {stderr}");
        assert!(stderr.contains(expected), "{full:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{full:?}: {stderr}");
        assert!(result.stdout.is_empty());
        assert!(!out.exists(), "{full:?} wrote its output");
    }
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");

    let vectors = dir.path().join("vectors.npy");
    write_npy(&vectors, &Array2::<f64>::zeros((2, 5))).unwrap();
    let result = kohonen(&[
        "predict",
        "--model",
        s(&repo("saved_models/10X10_100N.npy")),
        "--data",
        s(&vectors),
    ]);
    assert_eq!(result.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&result.stderr).contains("3-dimensional"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_exits_0_for_a_running_server_and_1_once_it_is_gone() {
    let app = common::spawn_app().await;
    let url = app.url("/health");
    let ask = |url: String| tokio::task::spawn_blocking(move || kohonen(&["health", &url]));
    let up = ask(url.clone()).await.unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    assert!(String::from_utf8_lossy(&up.stdout).contains("\"status\":\"ok\""));
    let missing = ask(app.url("/no-such-path")).await.unwrap();
    assert_eq!(missing.status.code(), Some(1));
    app.stop().await;
    let down = ask(url).await.unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains("not healthy"));
    let bad = ask("https://example.org/health".into()).await.unwrap();
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn a_typo_in_the_first_csv_row_is_an_error_naming_its_line_and_column_not_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("typo.csv");
    std::fs::write(&csv, "1,O,0\n0,1,0\n0,0,1\n").unwrap();
    let out_path = dir.path().join("w.npy");
    let out = train_into(&csv, &out_path, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("line 1, column 2: \"O\" is not a number"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!out_path.exists());
}

#[test]
fn a_byte_order_mark_is_skipped_and_the_summary_counts_every_row_after_it() {
    let dir = tempfile::tempdir().unwrap();
    for (file, text, samples) in [
        (
            "bom.csv",
            "\u{feff}0.1,0.2,0.3\n0.9,0.1,0.2\n0.2,0.2,0.9\n",
            3,
        ),
        (
            "bom-header.csv",
            "\u{feff}r,g,b\n0.9,0.1,0.2\n0.2,0.2,0.9\n",
            2,
        ),
    ] {
        let csv = dir.path().join(file);
        std::fs::write(&csv, text).unwrap();
        let report = summary(&train_into(
            &csv,
            &dir.path().join(format!("{file}.npy")),
            &[],
        ));
        assert_eq!(report["samples"], samples, "{file}");
        assert_eq!(report["dim"], 3, "{file}");
    }
}

#[test]
fn semicolon_and_tab_files_are_read_and_any_other_delimiter_can_be_given() {
    let dir = tempfile::tempdir().unwrap();
    for (file, text, flags) in [
        (
            "semicolons.csv",
            "r;g\n0.1;0.2\n0.3;0.4\n0.5;0.6\n0.7;0.8\n",
            &[][..],
        ),
        (
            "tabs.csv",
            "0.1\t0.2\n0.3\t0.4\n0.5\t0.6\n0.7\t0.8\n",
            &[][..],
        ),
        (
            "pipes.csv",
            "0.1|0.2\n0.3|0.4\n0.5|0.6\n0.7|0.8\n",
            &["--delimiter", "|"][..],
        ),
    ] {
        let csv = dir.path().join(file);
        std::fs::write(&csv, text).unwrap();
        let report = summary(&train_into(
            &csv,
            &dir.path().join(format!("{file}.npy")),
            flags,
        ));
        assert_eq!(
            (report["samples"].clone(), report["dim"].clone()),
            (4.into(), 2.into()),
            "{file}"
        );
    }
    let pipes = dir.path().join("pipes.csv");
    let undetected = train_into(&pipes, &dir.path().join("undetected.npy"), &[]);
    assert_eq!(undetected.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&undetected.stderr);
    assert!(
        stderr.contains("line 2, column 1: \"0.3|0.4\" is not a number"),
        "{stderr}"
    );
}

#[test]
fn an_out_file_must_be_named_for_what_is_written_into_it() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("data.json");
    std::fs::write(&json, "[[0.1,0.2,0.3],[0.4,0.5,0.6]]").unwrap();
    let png = dir.path().join("a.png");
    let train = train_into(&json, &png, &[]);
    assert_eq!(train.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&train.stderr).contains("must end in .npy"));
    assert!(!png.exists());

    let npy = dir.path().join("a.npy");
    let weights = repo("tests/fixtures/npy-edge/f64_c_order_4x6x3.npy");
    let render = kohonen(&["render", s(&weights), "--out", s(&npy)]);
    assert_eq!(render.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&render.stderr).contains("must end in .png"));
    assert!(!npy.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_without_a_url_asks_the_port_in_the_port_variable() {
    let app = common::spawn_app().await;
    let port = app.address.port().to_string();
    let ask = |port: String| {
        tokio::task::spawn_blocking(move || kohonen_with_env(&["health"], &[("PORT", &port)]))
    };
    let up = ask(port.clone()).await.unwrap();
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    app.stop().await;
    let down = ask(port.clone()).await.unwrap();
    assert_eq!(down.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&down.stderr).contains(&format!(":{port}/health")));
}

#[test]
fn the_option_flags_train_a_hexagonal_toroidal_batch_pca_model_whose_summary_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("colours.json");
    std::fs::write(
        &data,
        "[[0.1,0.8,0.3],[0.9,0.1,0.2],[0.2,0.2,0.9],[0.8,0.8,0.1],[0.5,0.4,0.6]]",
    )
    .unwrap();
    let models = dir.path().join("models");
    let out = kohonen(&[
        "train",
        "--data",
        s(&data),
        "--grid",
        "4x5",
        "--iterations",
        "6",
        "--topology",
        "hexagonal",
        "--toroidal",
        "--neighbourhood",
        "bubble",
        "--radius",
        "3",
        "--schedule",
        "linear",
        "--final-radius",
        "0.5",
        "--distance",
        "manhattan",
        "--init",
        "pca",
        "--scaling",
        "minmax",
        "--mode",
        "batch",
        "--name",
        "hexes",
        "--models-dir",
        s(&models),
    ]);
    let report = summary(&out);
    let expected = serde_json::json!({
        "topology": "hexagonal", "toroidal": true, "neighbourhood": "bubble", "radius": 3.0,
        "schedule": "linear", "final_radius": 0.5, "final_learning_rate": null,
        "compatibility": null, "distance": "manhattan", "init": "pca", "order": "given",
        "scaling": "minmax", "mode": "batch",
    });
    assert_eq!(report["options"], expected);
    assert_eq!(report["learning_rate"], serde_json::Value::Null);
    assert_eq!(report["seed"], serde_json::Value::Null, "PCA draws nothing");
    assert_eq!(report["scaler"]["kind"], "minmax");
    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(models.join("hexes.json")).unwrap()).unwrap();
    assert_eq!(
        stored["options"], expected,
        "the summary shows the options as stored"
    );
    assert_eq!(stored["quality_per_iteration"].as_array().unwrap().len(), 6);

    // predict reads the stored model's scaler and distance: each training row lands on the
    // node nearest (by Manhattan distance) to the row in scaled units.
    let predicted = kohonen(&[
        "predict",
        "--model",
        "hexes",
        "--data",
        s(&data),
        "--models-dir",
        s(&models),
    ]);
    assert!(
        predicted.status.success(),
        "{}",
        String::from_utf8_lossy(&predicted.stderr)
    );
    let predictions: Vec<[usize; 2]> = serde_json::from_slice(&predicted.stdout).unwrap();
    let weights: Array3<f64> = read_npy(models.join("hexes.npy")).unwrap();
    let rows: Vec<Vec<f64>> = serde_json::from_slice(&std::fs::read(&data).unwrap()).unwrap();
    let offset = &report["scaler"]["offset"];
    let scale = &report["scaler"]["scale"];
    for (row, placed) in rows.iter().zip(predictions) {
        let scaled: Vec<f64> = (0..3)
            .map(|k| (row[k] - offset[k].as_f64().unwrap()) / scale[k].as_f64().unwrap())
            .collect();
        let mut best = (f64::INFINITY, [0, 0]);
        for ((r, c), node) in (0..4)
            .flat_map(|r| (0..5).map(move |c| (r, c)))
            .map(|(r, c)| {
                (
                    (r, c),
                    (0..3).map(|k| weights[[r, c, k]]).collect::<Vec<_>>(),
                )
            })
        {
            let d: f64 = scaled.iter().zip(&node).map(|(a, b)| (a - b).abs()).sum();
            if d < best.0 {
                best = (d, [r, c]);
            }
        }
        assert_eq!(placed, best.1, "{row:?}");
    }
}

#[test]
fn an_invalid_option_or_combination_is_a_usage_error_with_the_cores_message() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.json");
    std::fs::write(&data, "[[0.1,0.2,0.3],[0.4,0.5,0.6]]").unwrap();
    let out = dir.path().join("out.npy");
    let cases: [(&[&str], &str); 5] = [
        (
            &["--radius", "0"],
            "radius must be a finite number >= 0.000001",
        ),
        (
            &["--mode", "batch", "--learning-rate", "0.1"],
            "batch mode has no learning rate",
        ),
        (
            &["--topology", "hexagonal", "--toroidal"],
            "a toroidal hexagonal grid needs an even number of rows",
        ),
        (&["--final-radius", "0.5"], "linear schedule only"),
        (
            &["--compatibility", "python-service", "--radius", "2"],
            "radius cannot be given with compatibility",
        ),
    ];
    for (flags, message) in cases {
        let mut args = vec![
            "train",
            "--data",
            s(&data),
            "--grid",
            "3x3",
            "--iterations",
            "4",
            "--out",
            s(&out),
        ];
        args.extend(flags);
        let result = kohonen(&args);
        let stderr = String::from_utf8_lossy(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{flags:?}: {stderr}");
        assert!(!out.exists(), "{flags:?} wrote its output");
    }
    let unknown = kohonen(&[
        "train",
        "--data",
        s(&data),
        "--grid",
        "3x3",
        "--iterations",
        "4",
        "--out",
        s(&out),
        "--distance",
        "chebyshev",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(stderr.contains("euclidean, manhattan, cosine"), "{stderr}");

    // Batch without a learning rate is fine, and a method's name is the method.
    let batch = summary(&kohonen(&[
        "train",
        "--data",
        s(&data),
        "--grid",
        "2x2",
        "--iterations",
        "3",
        "--out",
        s(&out),
        "--mode",
        "batch",
        "--init",
        "sample",
        "--seed",
        "9",
    ]));
    assert_eq!(batch["options"]["init"], "sample");
    assert_eq!(batch["seed"], 9);
}

#[test]
fn train_help_lists_the_choices_of_every_option() {
    use kohonen::som::{
        Compatibility, Decay, Distance, InitMethod, Mode, Neighbourhood, Order, Scaling, Topology,
    };
    let help = kohonen(&["train", "--help"]);
    assert!(help.status.success());
    let help = String::from_utf8_lossy(&help.stdout);
    let flags: [(&str, Vec<&str>); 9] = [
        ("--topology", Topology::names()),
        ("--neighbourhood", Neighbourhood::names()),
        ("--schedule", Decay::names()),
        ("--compatibility", Compatibility::names()),
        ("--distance", Distance::names()),
        ("--init", InitMethod::names()),
        ("--order", Order::names()),
        ("--scaling", Scaling::names()),
        ("--mode", Mode::names()),
    ];
    for (flag, names) in flags {
        let line = help
            .split("\n      --")
            .find(|entry| entry.starts_with(&flag[2..]))
            .unwrap_or_else(|| panic!("{flag} is in the help: {help}"));
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(line.contains(&names.join(", ")), "{flag}: {line}");
    }
    for flag in [
        "--toroidal",
        "--radius",
        "--final-radius",
        "--final-learning-rate",
    ] {
        assert!(help.contains(flag), "{flag}");
    }
    assert!(help.contains("FILE.npy"));
}

#[test]
fn render_draws_a_stored_hexagonal_model_as_hexagons() {
    let dir = tempfile::tempdir().unwrap();
    let weights = Array3::from_shape_fn((6, 7, 3), |(r, c, k)| ((r + c + k) % 5) as f64 / 4.0);
    let meta = ModelMeta {
        name: "hex".into(),
        grid_shape: Some([6, 7]),
        dim: Some(3),
        options: Some(OptionsRecord {
            topology: Topology::Hexagonal,
            ..OptionsRecord::default()
        }),
        ..ModelMeta::default()
    };
    FolderRepository::open(dir.path())
        .unwrap()
        .commit_model(&meta, &weights)
        .unwrap();
    for (kind, size) in [("map", (300, 219)), ("umatrix", (428, 275))] {
        let out_path = dir.path().join(format!("{kind}.png"));
        let out = kohonen(&[
            "render",
            "hex",
            "--kind",
            kind,
            "--scale",
            "40",
            "--models-dir",
            s(dir.path()),
            "--out",
            s(&out_path),
        ]);
        let summary = summary(&out);
        // The map: floor((7 + 1/2) 40) by round(40 (3 * 6 + 1) / (2 sqrt(3))); the U-matrix
        // adds its title, margins and colour bar.
        assert_eq!(
            (summary["width"].clone(), summary["height"].clone()),
            (size.0.into(), size.1.into()),
            "{kind}"
        );
    }
}
