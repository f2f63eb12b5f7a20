use std::path::{Path, PathBuf};

use ndarray::{Array2, Array3};

use super::*;
use crate::som::{Codebook, Distance, Scaling, SizeLimits, Topology, random_weights};

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

fn named(name: &str) -> ModelMeta {
    ModelMeta {
        name: name.into(),
        ..ModelMeta::default()
    }
}

fn store_with(files: &[&str]) -> (tempfile::TempDir, FolderRepository) {
    let dir = tempfile::tempdir().unwrap();
    for file in files {
        let source = fixture(file);
        let name = source.file_name().unwrap();
        fs::copy(&source, dir.path().join(name)).unwrap();
    }
    let store = FolderRepository::open(dir.path()).unwrap();
    (dir, store)
}

#[test]
fn every_valid_edge_case_file_loads_with_the_same_weights() {
    let limits = SizeLimits::default();
    let reference = weights_from_npy(
        &fs::read(fixture("npy-edge/f64_c_order_4x6x3.npy")).unwrap(),
        &limits,
    )
    .unwrap();
    assert_eq!(reference.shape(), [4, 6, 3]);
    for file in [
        "f32_4x6x3.npy",
        "f64_fortran_4x6x3.npy",
        "big_endian_f64_4x6x3.npy",
    ] {
        let bytes = fs::read(fixture(&format!("npy-edge/{file}"))).unwrap();
        let weights = weights_from_npy(&bytes, &limits).unwrap_or_else(|e| panic!("{file}: {e}"));
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
        let err = weights_from_npy(&bytes, &SizeLimits::default())
            .unwrap_err()
            .to_string();
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
    store.commit_model(&named("m"), &weights).unwrap();
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
        .commit_model(&named("m"), &random_weights(2, 2, 1, 1))
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
                .commit_model(&named(bad), &random_weights(1, 1, 1, 1))
                .is_err()
        );
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn delete_removes_both_files_and_then_reports_not_found() {
    let (dir, store) = store_with(&[]);
    store
        .commit_model(&named("m"), &random_weights(2, 2, 1, 1))
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
    let store = FolderRepository::open(dir.path()).unwrap();
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

/// A `.npy` of `shape` in C order, whose element `i` (in file order) is `value(i)`, encoded
/// as `descr` says (`<f8`, `>f8`, `<f4`, `>f4`).
fn npy_of(
    descr: &str,
    fortran_order: bool,
    shape: [usize; 2],
    value: impl Fn(usize) -> f64,
) -> Vec<u8> {
    let order = if fortran_order { "True" } else { "False" };
    let (rows, cols) = (shape[0], shape[1]);
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': ({rows}, {cols}), }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for i in 0..shape[0] * shape[1] {
        let v = value(i);
        match descr {
            "<f8" => bytes.extend_from_slice(&v.to_le_bytes()),
            ">f8" => bytes.extend_from_slice(&v.to_be_bytes()),
            "<f4" => bytes.extend_from_slice(&(v as f32).to_le_bytes()),
            ">f4" => bytes.extend_from_slice(&(v as f32).to_be_bytes()),
            other => panic!("{other}"),
        }
    }
    bytes
}

/// Gives its bytes a few at a time, as a pipe or a slow disk may.
struct Dribble<'a>(&'a [u8]);

impl std::io::Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len()).min(7);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn data_reads_in_every_type_byte_order_and_layout_as_the_same_c_order_array() {
    // Over a few decoding chunks, so rows and columns straddle the chunks' edges.
    let [n, dim] = [npy::CHUNK_VALUES / 7 + 3, 7];
    let want = Array2::from_shape_fn((n, dim), |(r, c)| (r * dim + c) as f64 * 0.5);
    for descr in ["<f8", ">f8", "<f4", ">f4"] {
        for fortran_order in [false, true] {
            let bytes = npy_of(descr, fortran_order, [n, dim], |i| {
                let (r, c) = if fortran_order {
                    (i % n, i / n)
                } else {
                    (i / dim, i % dim)
                };
                want[[r, c]]
            });
            let header = npy::NpyHeader::parse(&bytes).unwrap();
            assert_eq!(header.item_size, if descr.ends_with('8') { 8 } else { 4 });
            let got = npy::read_data(&header, &mut Dribble(&bytes[header.data_offset..]));
            assert_eq!(got.unwrap(), want, "{descr} fortran_order={fortran_order}");
            assert_eq!(data_from_npy(&bytes).unwrap(), want);
        }
    }
}

#[test]
fn data_that_is_not_two_dimensional_or_shorter_than_its_header_is_refused() {
    let weights = fs::read(fixture("npy-edge/f64_c_order_4x6x3.npy")).unwrap();
    let err = data_from_npy(&weights).unwrap_err();
    assert!(err.contains("data needs 2 dimensions"), "{err}");
    let mut short = npy_of("<f8", false, [4, 3], |i| i as f64);
    short.truncate(short.len() - 8);
    let err = data_from_npy(&short).unwrap_err();
    assert!(err.contains("truncated"), "{err}");
}

/// A `.npy` of `extra` data bytes whose header claims `shape`, as an attacker would send.
pub(crate) fn lying_npy(shape: &str, extra: usize) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, extra));
    bytes
}

fn folder(dir: &Path) -> Vec<String> {
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    files
}

#[test]
fn a_header_claiming_a_terabyte_is_refused_before_anything_is_allocated() {
    let bytes = lying_npy("(100000, 100000, 100)", 9);
    assert_eq!(bytes.len(), 137);
    let err = weights_from_npy(&bytes, &SizeLimits::default()).unwrap_err();
    assert!(matches!(err, NpyError::TooLarge(_)), "{err}");
    let unlimited = SizeLimits {
        max_nodes: usize::MAX,
        max_weights: usize::MAX,
        ..SizeLimits::default()
    };
    let err = weights_from_npy(&bytes, &unlimited).unwrap_err();
    assert!(err.to_string().contains("truncated"), "{err}");
    let err = data_from_npy(&lying_npy("(100000000, 100000)", 9)).unwrap_err();
    assert!(err.contains("truncated"), "{err}");
    let longer = lying_npy("(2, 2, 1)", 4 * 8 + 1);
    let err = weights_from_npy(&longer, &SizeLimits::default()).unwrap_err();
    assert!(err.to_string().contains("more bytes"), "{err}");
    assert_eq!(
        weights_from_npy(&lying_npy("(2, 2, 1)", 4 * 8), &SizeLimits::default())
            .unwrap()
            .shape(),
        [2, 2, 1]
    );
}

#[test]
fn a_lying_file_dropped_in_is_skipped_and_the_rest_is_listed() {
    let (dir, store) = store_with(&["npy-edge/f32_4x6x3.npy"]);
    fs::write(
        dir.path().join("liar.npy"),
        lying_npy("(100000, 100000, 100)", 9),
    )
    .unwrap();
    fs::write(dir.path().join("short.npy"), lying_npy("(3, 3, 3)", 9)).unwrap();
    assert_eq!(store.list().unwrap().to_vec(), ["f32_4x6x3"]);
    assert!(matches!(
        store.weights_bytes("liar"),
        Err(StorageError::InvalidWeights { .. })
    ));
}

#[test]
fn symlinks_fifos_and_devices_are_neither_listed_nor_read() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.npy");
    fs::copy(fixture("npy-edge/f32_4x6x3.npy"), &secret).unwrap();
    let (dir, store) = store_with(&["npy-edge/f32_4x6x3.npy"]);
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.npy")).unwrap();
    std::os::unix::fs::symlink(&secret, dir.path().join("outside.npy")).unwrap();
    std::os::unix::fs::symlink(&secret, dir.path().join("linked.json")).unwrap();
    fs::copy(&secret, dir.path().join("linked.npy")).unwrap();
    let fifo = dir.path().join("pipe.npy");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    fs::create_dir(dir.path().join("folder.npy")).unwrap();

    // A listing that opened the FIFO or read /dev/zero would never return.
    let listing = std::thread::spawn({
        let store = store.clone();
        move || store.list().unwrap().to_vec()
    });
    assert_eq!(listing.join().unwrap(), ["f32_4x6x3"]);
    for name in ["zero", "outside", "pipe", "folder"] {
        assert!(
            matches!(
                store.weights_bytes(name),
                Err(StorageError::NotARegularFile(_))
            ),
            "{name}"
        );
        assert!(store.load(name).is_err(), "{name}");
    }
    assert!(matches!(
        store.meta("linked"),
        Err(StorageError::NotARegularFile(_))
    ));
}

#[test]
fn an_intent_left_by_a_crash_is_carried_out_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let old = random_weights(2, 2, 1, 1);
    let new = random_weights(3, 4, 2, 2);
    let record = ModelMeta {
        name: "m".into(),
        grid_shape: Some([3, 4]),
        dim: Some(2),
        ..ModelMeta::default()
    };
    {
        let store = FolderRepository::open(dir.path()).unwrap();
        store.commit_model(&named("m"), &old).unwrap();
        store.commit_model(&named("gone"), &old).unwrap();
        // What a crash right after the commit point leaves: the new weights staged, the intent
        // written, neither carried out. Deleting `gone` crashed half-way.
        let staged = files::write_temp(dir.path(), "m.npy", &weights_to_npy(&new)).unwrap();
        let weights = staged.file_name().unwrap().to_str().unwrap().to_owned();
        staged.keep().unwrap();
        store
            .write_intent(
                "m",
                &Intent::Commit {
                    weights,
                    record: Box::new(record.clone()),
                },
            )
            .unwrap();
        store.write_intent("gone", &Intent::Delete).unwrap();
        fs::remove_file(dir.path().join("gone.json")).unwrap();
    }
    let store = FolderRepository::open(dir.path()).unwrap();
    assert_eq!(store.load("m").unwrap(), new);
    assert_eq!(store.meta("m").unwrap(), Some(record));
    assert_eq!(folder(dir.path()), ["m.json", "m.npy"]);
    assert_eq!(store.list().unwrap().to_vec(), ["m"]);
}

#[test]
fn an_intent_whose_weights_were_already_renamed_still_writes_its_record() {
    let dir = tempfile::tempdir().unwrap();
    let new = random_weights(3, 4, 2, 2);
    let record = ModelMeta {
        grid_shape: Some([3, 4]),
        dim: Some(2),
        ..named("m")
    };
    {
        let store = FolderRepository::open(dir.path()).unwrap();
        store
            .commit_model(&named("m"), &random_weights(2, 2, 1, 1))
            .unwrap();
        fs::write(dir.path().join("m.npy"), weights_to_npy(&new)).unwrap();
        let intent = Intent::Commit {
            weights: ".m.npy.tmp-renamed".into(),
            record: Box::new(record.clone()),
        };
        store.write_intent("m", &intent).unwrap();
    }
    let store = FolderRepository::open(dir.path()).unwrap();
    assert_eq!(store.describe("m").unwrap(), record);
    assert_eq!(folder(dir.path()), ["m.json", "m.npy"]);
}

#[test]
fn an_intent_naming_another_models_file_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("victim.npy"),
        weights_to_npy(&random_weights(2, 2, 1, 1)),
    )
    .unwrap();
    let intent = Intent::Commit {
        weights: "victim.npy".into(),
        record: Box::new(named("m")),
    };
    fs::write(
        dir.path().join(Intent::file_name("m")),
        serde_json::to_vec(&intent).unwrap(),
    )
    .unwrap();
    let store = FolderRepository::open(dir.path()).unwrap();
    assert_eq!(folder(dir.path()), ["victim.npy"]);
    assert_eq!(store.list().unwrap().to_vec(), ["victim"]);
}

#[test]
fn temporary_names_are_unpredictable_and_planted_symlinks_redirect_no_write() {
    let names: Vec<String> = (0..2)
        .map(|_| {
            let dir = tempfile::tempdir().unwrap();
            let temp = files::write_temp(dir.path(), "m.npy", b"x").unwrap();
            temp.file_name().unwrap().to_str().unwrap().to_owned()
        })
        .collect();
    assert_ne!(names[0], names[1]);
    for name in &names {
        let random = name.strip_prefix(".m.npy.tmp-").unwrap();
        assert_eq!(random.len(), 16, "{name}");
    }

    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("target");
    let (dir, store) = store_with(&[]);
    // Links at every name a write could use: the files themselves, the intent, and the
    // temporary names the store used to count up.
    let mut planted = vec!["m.npy".to_owned(), "m.json".into(), ".m.intent".into()];
    for n in 0..50 {
        for file in ["m.npy", "m.json", "m.intent"] {
            planted.push(format!(".{file}.tmp-{}-{n}", std::process::id()));
        }
    }
    for link in &planted {
        std::os::unix::fs::symlink(&target, dir.path().join(link)).unwrap();
    }
    let weights = random_weights(2, 3, 1, 1);
    store.commit_model(&named("m"), &weights).unwrap();
    assert!(!target.exists(), "a write went through a planted link");
    assert!(
        fs::symlink_metadata(dir.path().join("m.npy"))
            .unwrap()
            .is_file()
    );
    assert_eq!(store.load("m").unwrap(), weights);
}

#[test]
fn the_cache_stays_within_its_byte_budget_and_sees_a_replaced_file() {
    let (_dir, store) = store_with(&[]);
    for name in ["a", "b", "c", "d"] {
        store
            .commit_model(&named(name), &random_weights(10, 10, 3, 1))
            .unwrap();
    }
    store
        .commit_model(&named("big"), &random_weights(30, 30, 3, 1))
        .unwrap();
    let one_map = 10 * 10 * 3 * 8;
    let cache = ModelCache::new(Arc::new(store.clone()), 2 * one_map + one_map / 2);
    for name in ["a", "b", "c", "d"] {
        cache.model(name).unwrap();
        assert!(cache.bytes() <= 2 * one_map + one_map / 2);
    }
    assert_eq!(cache.bytes(), 2 * one_map);
    assert_eq!(cache.hits_and_misses(), (0, 4));
    cache.model("d").unwrap();
    cache.model("c").unwrap();
    assert_eq!(cache.hits_and_misses(), (2, 4));
    cache.model("a").unwrap();
    assert_eq!(cache.hits_and_misses(), (2, 5), "a was least recently used");

    // Larger than the whole budget: served, not kept.
    assert_eq!(
        cache.model("big").unwrap().map.to_weights().shape(),
        [30, 30, 3]
    );
    assert_eq!(cache.bytes(), 2 * one_map);

    let replaced = random_weights(10, 10, 3, 9);
    store.commit_model(&named("a"), &replaced).unwrap();
    assert_eq!(cache.model("a").unwrap().map.to_weights(), replaced);
}

#[test]
fn the_cache_serves_a_map_with_the_options_and_scaler_of_its_current_record() {
    let (_dir, store) = store_with(&[]);
    let weights = random_weights(4, 4, 2, 1);
    store.commit_model(&named("m"), &weights).unwrap();
    let cache = ModelCache::new(Arc::new(store.clone()), DEFAULT_CACHE_BYTES);
    let old = cache.model("m").unwrap();
    assert_eq!(
        old.map.distance(),
        Distance::Euclidean,
        "no options: the defaults"
    );
    assert!(old.scaler.is_none());

    // Only the record is rewritten: the cached map must not keep the old options.
    let cosine = OptionsRecord {
        distance: Distance::Cosine,
        topology: Topology::Hexagonal,
        ..OptionsRecord::default()
    };
    let scaler = ScalerRecord {
        kind: Scaling::Standard,
        offset: vec![1.0, 2.0],
        scale: vec![3.0, 4.0],
    };
    store
        .save_meta(&ModelMeta {
            options: Some(cosine),
            scaler: Some(scaler.clone()),
            ..named("m")
        })
        .unwrap();
    let new = cache.model("m").unwrap();
    assert_eq!(new.map.distance(), Distance::Cosine);
    assert_eq!(new.map.grid().topology, Topology::Hexagonal);
    assert_eq!(new.scaler, Some(scaler.to_scaler()));
    assert_eq!(new.map.to_weights(), weights);
    let scaled = new.to_map_units(Array2::from_elem((1, 2), 7.0)).unwrap();
    assert_eq!(scaled.as_slice().unwrap(), [2.0, 1.25]);
    assert_eq!(cache.hits_and_misses(), (0, 2));
}

#[test]
fn a_record_whose_scaler_does_not_fit_the_weights_is_refused() {
    let (_dir, store) = store_with(&[]);
    let meta = ModelMeta {
        scaler: Some(ScalerRecord {
            kind: Scaling::Minmax,
            offset: vec![0.0],
            scale: vec![1.0],
        }),
        ..named("m")
    };
    store
        .commit_model(&meta, &random_weights(2, 2, 3, 1))
        .unwrap();
    let err = store.load_map("m").unwrap_err();
    assert!(matches!(err, StorageError::InvalidMeta { .. }), "{err}");
    assert!(err.to_string().contains("3 components"), "{err}");
}

#[test]
fn the_data_record_is_read_back_for_a_trained_model_and_is_none_for_an_imported_or_older_one() {
    let (dir, store) = store_with(&["original-npy/10X10_100N.npy"]);
    assert_eq!(store.data_record("10X10_100N").unwrap(), None);
    let weights = random_weights(1, 3, 2, 1);
    store.import("imported", &weights, false).unwrap();
    assert_eq!(store.data_record("imported").unwrap(), None);

    let summary = crate::som::NodeSummary::new(
        3,
        [(0, 0.5), (2, 1.0), (0, 1.5)].into_iter(),
        Some(&[1, 0, 0]),
    );
    let record = DataRecord {
        feature_names: Some(vec!["x".into(), "y".into()]),
        labels: Some(vec!["a".into(), "b".into()]),
        nodes: NodesRecord::new(&summary),
    };
    let meta = ModelMeta {
        grid_shape: Some([1, 3]),
        data: Some(record.clone()),
        ..named("trained")
    };
    store.commit_model(&meta, &weights).unwrap();
    let read = store.data_record("trained").unwrap().unwrap();
    assert_eq!(read, record);
    assert_eq!(read.nodes.hits(), [2, 0, 1]);
    assert_eq!(read.nodes.mean_distances(), [Some(1.0), None, Some(1.0)]);
    assert_eq!(
        read.nodes.label_counts(),
        Some(vec![vec![[0, 1], [1, 1]], vec![], vec![[0, 1]]])
    );
    assert_eq!(
        read.nodes.majority_labels(),
        Some(vec![Some(0), None, Some(0)])
    );
    let map = store.load_map("trained").unwrap();
    let labels = map.labels.unwrap();
    assert_eq!(
        [labels.of(0), labels.of(1), labels.of(2)],
        [Some("a"), None, Some("a")]
    );

    // A record written before the data record existed reads as before, with none.
    let json = dir.path().join("trained.json");
    let mut text: serde_json::Value = serde_json::from_slice(&fs::read(&json).unwrap()).unwrap();
    text.as_object_mut().unwrap().remove("data");
    fs::write(&json, text.to_string()).unwrap();
    assert_eq!(store.data_record("trained").unwrap(), None);
    assert!(store.load_map("trained").unwrap().labels.is_none());
    assert!(matches!(
        store.data_record("absent"),
        Err(StorageError::NotFound(_))
    ));
}

#[test]
fn a_large_map_trained_on_few_samples_keeps_a_record_of_the_nodes_that_won() {
    let summary = crate::som::NodeSummary::new(
        1_000_000,
        [(999_999, 0.5), (7, 1.0), (7, 2.0)].into_iter(),
        None,
    );
    let record = NodesRecord::new(&summary);
    let json = serde_json::to_string(&record).unwrap();
    assert!(json.len() < 200, "{json}");
    let read: NodesRecord = serde_json::from_str(&json).unwrap();
    let hits = read.hits();
    assert_eq!((hits.len(), hits[7], hits[999_999]), (1_000_000, 2, 1));
    assert_eq!(read.mean_distances()[7], Some(1.5));
    assert_eq!((read.label_counts(), read.majority_labels()), (None, None));
}

#[test]
fn a_summary_that_does_not_fit_its_grid_makes_the_record_invalid_and_an_infinite_distance_reads_back()
 {
    let (_dir, store) = store_with(&[]);
    let weights = random_weights(1, 3, 2, 1);
    let summary = crate::som::NodeSummary::new(3, [(0, f64::INFINITY), (2, 1.0)].into_iter(), None);
    let fitting = DataRecord {
        feature_names: None,
        labels: None,
        nodes: NodesRecord::new(&summary),
    };
    let meta = ModelMeta {
        grid_shape: Some([1, 3]),
        data: Some(fitting),
        ..named("infinite")
    };
    store.commit_model(&meta, &weights).unwrap();
    let read = store.data_record("infinite").unwrap().unwrap();
    assert_eq!(read.nodes.mean_distances(), [None, None, Some(1.0)]);
    assert_eq!(read.nodes.hits(), [1, 0, 1]);

    // A hand-edited count of nodes would size every column read from the record.
    let mut huge = meta.clone();
    huge.name = "huge".into();
    if let Some(data) = &mut huge.data {
        data.nodes.nodes = 1 << 50;
    }
    store.commit_model(&huge, &weights).unwrap();
    assert!(matches!(
        store.describe("huge"),
        Err(StorageError::InvalidMeta { .. })
    ));
}
