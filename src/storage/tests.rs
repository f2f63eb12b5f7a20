use std::path::{Path, PathBuf};

use ndarray::{Array2, Array3};

use super::*;
use crate::som::{Codebook, random_weights};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn store_with(files: &[&str]) -> (tempfile::TempDir, ModelStore) {
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        let source = fixture(file);
        let name = source.file_name().unwrap();
        fs::copy(&source, dir.path().join(name)).unwrap();
    }
    let store = ModelStore::open(dir.path()).unwrap();
    (dir, store)
}

#[test]
fn every_valid_edge_case_file_loads_with_the_same_weights() {
    let reference =
        weights_from_npy(&fs::read(fixture("npy-edge/f64_c_order_4x6x3.npy")).unwrap()).unwrap();
    assert_eq!(reference.shape(), [4, 6, 3]);
    for file in [
        "f32_4x6x3.npy",
        "f64_fortran_4x6x3.npy",
        "big_endian_f64_4x6x3.npy",
    ] {
        let bytes = fs::read(fixture(&format!("npy-edge/{file}"))).unwrap();
        let weights = weights_from_npy(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(weights.shape(), [4, 6, 3], "{file}");
        for (a, b) in weights.iter().zip(&reference) {
            assert!((a - b).abs() < 1e-6, "{file}: {a} vs {b}");
        }
    }
}

#[test]
fn every_bad_edge_case_file_is_refused_with_a_reason() {
    let expectations = [
        ("bad_2d.npy", "3 dimensions"),
        ("bad_nan_4x6x3.npy", "finite"),
        ("bad_not_npy.npy", "not a readable .npy"),
        ("bad_object.npy", "only float32 and float64"),
        ("bad_truncated.npy", "truncated"),
    ];
    for (file, reason) in expectations {
        let bytes = fs::read(fixture(&format!("npy-edge/{file}"))).unwrap();
        let err = weights_from_npy(&bytes).unwrap_err();
        assert!(err.contains(reason), "{file}: {err}");
    }
}

#[test]
fn the_listing_shows_valid_files_and_skips_bad_ones() {
    let (_dir, store) = store_with(&[
        "npy-edge/f32_4x6x3.npy",
        "npy-edge/big_endian_f64_4x6x3.npy",
        "npy-edge/bad_2d.npy",
        "npy-edge/bad_nan_4x6x3.npy",
        "npy-edge/bad_not_npy.npy",
        "npy-edge/bad_object.npy",
        "npy-edge/bad_truncated.npy",
        "original-npy/10X10_100N.npy",
    ]);
    fs::write(store.dir().join("bad name.npy"), b"x").unwrap();
    assert_eq!(
        store.list().unwrap().to_vec(),
        ["10X10_100N", "big_endian_f64_4x6x3", "f32_4x6x3"]
    );
    assert!(matches!(
        store.load("bad_object"),
        Err(StorageError::InvalidWeights { .. })
    ));
}

#[test]
fn a_model_of_the_python_service_loads_and_predicts() {
    let (_dir, store) = store_with(&["original-npy/10X10_100N.npy"]);
    let weights = store.load("10X10_100N").unwrap();
    assert_eq!(weights.shape(), [10, 10, 3]);
    assert_eq!(store.meta("10X10_100N").unwrap(), None);
    let map = Codebook::from_weights(weights.view());
    let node = Array2::from_shape_fn((1, 3), |(_, k)| weights[[3, 7, k]]);
    assert_eq!(map.predict(node.view()).unwrap(), vec![[3, 7]]);
}

#[test]
fn saved_weights_load_back_bit_for_bit() {
    let (dir, store) = store_with(&[]);
    let weights = random_weights(7, 5, 4, 3);
    store.save_weights("m", &weights).unwrap();
    assert_eq!(store.load("m").unwrap(), weights);
    let on_disk: Array3<f64> = ndarray_npy::read_npy(dir.path().join("m.npy")).unwrap();
    assert_eq!(on_disk, weights);
    let header = &fs::read(dir.path().join("m.npy")).unwrap()[..64];
    assert!(String::from_utf8_lossy(header).contains("'descr': '<f8', 'fortran_order': False"));
}

#[test]
fn a_model_whose_json_says_unfinished_is_not_listed() {
    let (_dir, store) = store_with(&[]);
    store
        .save_weights("m", &random_weights(2, 2, 1, 1))
        .unwrap();
    for (status, listed) in [
        (TrainingStatus::Running, false),
        (TrainingStatus::Failed, false),
        (TrainingStatus::Succeeded, true),
    ] {
        let meta = ModelMeta {
            name: "m".into(),
            status,
            ..ModelMeta::default()
        };
        store.save_meta(&meta).unwrap();
        assert_eq!(
            store.list().unwrap().to_vec().contains(&"m".to_owned()),
            listed
        );
        assert_eq!(store.meta("m").unwrap(), Some(meta));
    }
}

#[test]
fn claimed_names_get_a_suffix_when_taken() {
    let (_dir, store) = store_with(&[]);
    let claim = || store.claim_name("base", ModelMeta::default()).unwrap();
    assert_eq!(claim(), "base");
    assert_eq!(claim(), "base_2");
    assert_eq!(claim(), "base_3");
    assert_eq!(store.meta("base_2").unwrap().unwrap().name, "base_2");
}

#[test]
fn bad_names_touch_no_file() {
    let (dir, store) = store_with(&[]);
    for bad in ["../escape", "/tmp/x", ".hidden", "a b"] {
        assert!(matches!(store.load(bad), Err(StorageError::InvalidName(_))));
        assert!(matches!(
            store.delete(bad),
            Err(StorageError::InvalidName(_))
        ));
        assert!(
            store
                .save_weights(bad, &random_weights(1, 1, 1, 1))
                .is_err()
        );
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn delete_removes_both_files_and_then_reports_not_found() {
    let (dir, store) = store_with(&[]);
    store
        .save_weights("m", &random_weights(2, 2, 1, 1))
        .unwrap();
    store
        .save_meta(&ModelMeta {
            name: "m".into(),
            ..ModelMeta::default()
        })
        .unwrap();
    store.delete("m").unwrap();
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    assert!(matches!(store.delete("m"), Err(StorageError::NotFound(_))));
    assert!(matches!(store.load("m"), Err(StorageError::NotFound(_))));
}

#[test]
fn opening_removes_leftover_temporary_files_only() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".m.npy.tmp-1-0"), b"torn").unwrap();
    fs::write(dir.path().join(".gitkeep"), b"").unwrap();
    let store = ModelStore::open(dir.path()).unwrap();
    let mut left: Vec<_> = fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, [".gitkeep"]);
}

#[test]
fn a_file_replaced_by_hand_is_checked_again() {
    let (dir, store) = store_with(&["npy-edge/bad_2d.npy"]);
    assert!(store.list().unwrap().to_vec().is_empty());
    let good = fs::read(fixture("npy-edge/f32_4x6x3.npy")).unwrap();
    fs::write(dir.path().join("bad_2d.npy"), good).unwrap();
    std::thread::sleep(LISTING_MAX_AGE);
    assert_eq!(store.list().unwrap().to_vec(), ["bad_2d"]);
}

#[test]
fn a_file_dropped_in_is_listed_at_once() {
    let (dir, store) = store_with(&[]);
    assert!(store.list().unwrap().is_empty());
    fs::copy(
        fixture("npy-edge/f32_4x6x3.npy"),
        dir.path().join("new.npy"),
    )
    .unwrap();
    assert_eq!(store.list().unwrap().to_vec(), ["new"]);
}
