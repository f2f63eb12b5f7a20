//! The data-producing subcommands: data to stdout, logs to stderr, exit code 2 with one line
//! on stderr for bad input (and nothing written).

mod data;
mod health;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use ndarray::Array3;
use serde_json::json;

use crate::config::{
    InitArg, OptionArgs, PictureKind, PredictArgs, RenderArgs, SamplesArgs, TrainArgs,
};
use crate::render::{self, Curves, Map, Picture, RenderError, Sizing};
use crate::som::{
    InitMethod, Initial, SAMPLE_COLOURS, SizeLimits, SomError, SomParams, TrainControl,
    TrainingOptions, check_seed, data_from_rows, random_seed,
};
use crate::storage::{
    FolderRepository, LoadedMap, ModelMeta, ModelStore, StorageError, validate_name,
    weights_from_npy, weights_to_npy, write_atomically,
};
use crate::training::{self, DataNames, Labels, NamesError, TrainingJob, header_feature_names};

pub use data::{read_data, read_data_file};
pub use health::health;

/// Why a subcommand failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    BadInput(String),
    #[error(transparent)]
    Som(#[from] SomError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
    #[error("not healthy: {0}")]
    Unhealthy(String),
}

impl CliError {
    /// 2 for anything the user can fix by changing the command, 1 for failures of the machine.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Storage(StorageError::Io { .. })
            | CliError::Render(RenderError::Drawing(_))
            | CliError::Output(_)
            | CliError::Unhealthy(_) => 1,
            _ => 2,
        }
    }
}

/// The four sample maps the Python service shipped, by name, with the seeds that make ours.
pub const SAMPLE_MODELS: [(&str, usize, usize, u64); 4] = [
    ("10X10_100N", 10, 100, 1),
    ("10X10_200N", 10, 200, 2),
    ("10X10_500N", 10, 500, 3),
    ("100X100_1000N", 100, 1000, 4),
];

/// Where `kohonen train` puts the weights.
enum Destination {
    File(PathBuf),
    Model {
        store: ModelStore,
        name: String,
        /// The models folder, to say where the weights went.
        dir: PathBuf,
    },
}

/// The models folder as a repository: the command line works on one folder (a cluster's
/// models are trained and read through its HTTP API).
fn open_store(models_dir: &Path) -> Result<ModelStore, CliError> {
    Ok(std::sync::Arc::new(FolderRepository::open(models_dir)?))
}

pub fn train(args: TrainArgs) -> Result<(), CliError> {
    let destination = match (&args.out, &args.name) {
        (Some(out), _) => {
            check_out(out, "npy", args.force)?;
            Destination::File(out.clone())
        }
        (None, Some(name)) => {
            validate_name(name)?;
            let store = open_store(&args.models.models_dir)?;
            if store.exists(name)? && !args.force {
                return Err(CliError::BadInput(format!(
                    "a model named {name:?} exists: pass --force to replace it"
                )));
            }
            Destination::Model {
                store,
                name: name.clone(),
                dir: args.models.models_dir.clone(),
            }
        }
        (None, None) => unreachable!("clap requires --out or --name"),
    };
    let file = read_data_file(&args.data, args.delimiter, args.label_column.as_deref())?;
    let data = file.data;
    let [samples, dim] = [data.nrows(), data.ncols()];
    let names = DataNames {
        feature_names: (args.feature_names.clone()).or(header_feature_names(file.features)),
        labels: (file.labels.as_deref().map(Labels::from_rows).transpose()).map_err(flag_error)?,
    };
    names.check(samples, dim).map_err(flag_error)?;
    let [rows, cols] = args.grid;
    let method = match &args.init {
        Some(InitArg::Method(method)) => Some(*method),
        Some(InitArg::File(_)) | None => None,
    };
    let params = SomParams {
        learning_rate: args.learning_rate,
        ..SomParams::new(rows, cols, args.iterations)
    }
    .options(training_options(&args.options, method))
    .check(dim)?;
    let initial = match &args.init {
        Some(InitArg::File(path)) => Initial::Weights(read_weights_file(path)?),
        Some(InitArg::Method(_)) | None => Initial::Method(params.options().init),
    };
    let seed = check_seed(args.seed.unwrap_or_else(random_seed))?;
    let job = TrainingJob {
        params,
        initial,
        seed,
        data,
        record_bmus: false,
        dataset: None,
        names,
    };
    let outcome = run_with_progress(&job)?;

    let out = match destination {
        Destination::File(path) => {
            write_atomically(&path, &weights_to_npy(&outcome.weights))?;
            path.display().to_string()
        }
        Destination::Model { store, name, dir } => {
            let mut meta = outcome.meta.clone();
            meta.name = name.clone();
            meta.created_at = Some(Timestamp::now());
            store.commit_model(&meta, &outcome.weights)?;
            dir.join(format!("{name}.npy")).display().to_string()
        }
    };
    let meta = &outcome.meta;
    print_json(&json!({
        "out": out,
        "samples": samples,
        "dim": dim,
        "seed": meta.seed,
        "learning_rate": meta.learning_rate,
        "training_seconds": meta.training_seconds,
        "quantization_error": meta.quantization_error,
        "topographic_error": meta.topographic_error,
        "options": meta.options,
        "scaler": meta.scaler,
        "feature_names": meta.data.as_ref().and_then(|data| data.feature_names.as_ref()),
        "labels": meta.data.as_ref().and_then(|data| data.labels.as_ref()),
    }))
}

/// A names error with the flag it came from (a CSV header's names count as
/// `--feature-names`).
fn flag_error(err: NamesError) -> CliError {
    let flag = match err.field() {
        "feature_names" => "--feature-names",
        _ => "--label-column",
    };
    CliError::BadInput(format!("{flag}: {err}"))
}

/// The options of SPEC §3b as the flags give them (`init`: the method of `--init`, if one).
fn training_options(flags: &OptionArgs, init: Option<InitMethod>) -> TrainingOptions {
    TrainingOptions {
        topology: flags.topology,
        toroidal: flags.toroidal.then_some(true),
        neighbourhood: flags.neighbourhood,
        radius: flags.radius,
        schedule: flags.schedule,
        final_radius: flags.final_radius,
        final_learning_rate: flags.final_learning_rate,
        compatibility: flags.compatibility,
        distance: flags.distance,
        init,
        order: flags.order,
        scaling: flags.scaling,
        mode: flags.mode,
    }
}

/// Trains on another thread and shows a progress bar while it runs, if stderr is a terminal.
fn run_with_progress(job: &TrainingJob) -> Result<training::Outcome, CliError> {
    let control = TrainControl::default();
    if !std::io::stderr().is_terminal() {
        return Ok(training::run(job, &control)?);
    }
    // Ten thousand steps: the bar moves within an iteration over a large dataset too.
    const STEPS: f64 = 10_000.0;
    let bar = indicatif::ProgressBar::new(STEPS as u64);
    let iterations = job.params.max_iterations();
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {msg}, eta {eta}")
            .expect("the template is valid"),
    );
    let outcome = std::thread::scope(|scope| {
        let training = scope.spawn(|| training::run(job, &control));
        while !training.is_finished() {
            bar.set_position((control.fraction_done() * STEPS) as u64);
            let done = control.iterations_done();
            bar.set_message(format!("{done}/{iterations} iterations"));
            std::thread::sleep(Duration::from_millis(100));
        }
        training.join().expect("training does not panic")
    });
    bar.finish_and_clear();
    Ok(outcome?)
}

/// The weights `(rows, cols, dim)` of a `.npy` file.
fn read_weights_file(path: &Path) -> Result<Array3<f64>, CliError> {
    let bytes = std::fs::read(path)
        .map_err(|e| CliError::BadInput(format!("{}: cannot read: {e}", path.display())))?;
    weights_from_npy(&bytes, &SizeLimits::default())
        .map_err(|reason| CliError::BadInput(format!("{}: {reason}", path.display())))
}

/// The map of `model` as predictions use it: a stored model with the options and scaler of
/// its record, or a `.npy` file, which has no record (the default options).
fn load_predictor(model: &str, models_dir: &Path) -> Result<LoadedMap, CliError> {
    if looks_like_a_file(model) {
        let weights = read_weights_file(Path::new(model))?;
        LoadedMap::new(weights.view(), None).map_err(CliError::BadInput)
    } else {
        Ok(open_store(models_dir)?.load_map(model)?)
    }
}

/// The map `model` as pictures show it: a stored model as its record says (see
/// [`Map::of_model`]); a `.npy` file, which has no record, as SPEC §3 makes maps.
fn load_picture(model: &str, models_dir: &Path) -> Result<Map, CliError> {
    Ok(Map::of_model(&load_predictor(model, models_dir)?))
}

pub fn predict(args: PredictArgs) -> Result<(), CliError> {
    let model = load_predictor(&args.model, &args.models.models_dir)?;
    let data = model.to_map_units(read_data(&args.data, args.delimiter)?)?;
    let predictions = model.map.predict(data.view())?;
    print_json(&json!(predictions))
}

/// The stored record of `model`, for a picture (`what`) drawn from it: a `.npy` file has none.
fn stored_record(model: &str, models_dir: &Path, what: &str) -> Result<ModelMeta, CliError> {
    if looks_like_a_file(model) {
        return Err(CliError::BadInput(format!(
            "{what} come from a stored model's record: give a model name, not a file"
        )));
    }
    Ok(open_store(models_dir)?.describe(model)?)
}

pub fn render(args: RenderArgs) -> Result<(), CliError> {
    if let Some(out) = &args.out {
        check_out(out, "png", args.force)?;
    }
    if args.out.is_none() && std::io::stdout().is_terminal() {
        return Err(CliError::BadInput(
            "a PNG is not for a terminal: pass --out FILE.png or redirect stdout".into(),
        ));
    }
    let sizing = Sizing::new(args.scale, args.size)?;
    if args.feature.is_some() && args.kind != PictureKind::Components {
        return Err(CliError::BadInput(
            "--feature picks a panel of --kind components".into(),
        ));
    }
    let dir = &args.models.models_dir;
    let picture = match args.kind {
        PictureKind::Map => render::map_png(&load_picture(&args.model, dir)?, sizing)?,
        PictureKind::Umatrix => {
            let map = load_picture(&args.model, dir)?;
            render::umatrix_png(
                &map,
                &format!("U-matrix of {}", model_title(&args.model)),
                sizing,
            )?
        }
        PictureKind::Curves => {
            let meta = stored_record(&args.model, dir, "curves")?;
            render::curves_png(
                &format!("Training of {}", args.model),
                &Curves::of_record(&meta),
            )?
        }
        PictureKind::Hits | PictureKind::Labels => {
            let meta = stored_record(&args.model, dir, "hits and labels")?;
            let record = meta.data.ok_or_else(|| {
                CliError::BadInput(format!(
                    "the model {:?} keeps no summary of its training data (imported, or trained before summaries were kept)",
                    args.model
                ))
            })?;
            let map = load_picture(&args.model, dir)?;
            match args.kind {
                PictureKind::Hits => render::training_hits_png(&map, &record, sizing)?,
                _ => render::training_labels_png(&map, &record, sizing).ok_or_else(|| {
                    CliError::BadInput(format!(
                        "the model {:?} was trained without labels",
                        args.model
                    ))
                })??,
            }
        }
        PictureKind::Components => {
            let model = load_predictor(&args.model, dir)?;
            let names = render::feature_names(&model);
            let feature = (args.feature.as_deref())
                .map(|asked| render::feature_index(&names, asked))
                .transpose()?;
            render::components_png(&Map::of_model(&model), &names, feature, sizing)?
        }
        PictureKind::Figure => {
            let map = load_picture(&args.model, dir)?;
            render::figure_png(&map, &model_title(&args.model), sizing)?
        }
    };
    match &args.out {
        Some(out) => {
            write_atomically(out, &picture.png)?;
            print_json(&picture_summary(&out.display().to_string(), &picture))
        }
        None => Ok(std::io::stdout().lock().write_all(&picture.png)?),
    }
}

/// Refuses an `--out` that exists (unless forced) or whose name promises another format than
/// the bytes written: a `.png` holding `.npy` bytes misleads whoever opens it.
fn check_out(out: &Path, extension: &str, force: bool) -> Result<(), CliError> {
    let named_right = out
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case(extension));
    if !named_right {
        return Err(CliError::BadInput(format!(
            "--out {}: the output is .{extension}, so its name must end in .{extension}",
            out.display()
        )));
    }
    if out.exists() && !force {
        return Err(CliError::BadInput(format!(
            "{} exists: pass --force to replace it",
            out.display()
        )));
    }
    Ok(())
}

/// A model's name as titles show it: a stored model's, or a `.npy` file's stem.
fn model_title(model: &str) -> String {
    Path::new(model).file_stem().map_or_else(
        || model.to_owned(),
        |stem| stem.to_string_lossy().into_owned(),
    )
}

fn picture_summary(out: &str, picture: &Picture) -> serde_json::Value {
    json!({
        "out": out,
        "width": picture.width,
        "height": picture.height,
        "scale": picture.scale,
        "nodes_per_pixel": picture.nodes_per_pixel,
        "colour_mapping": picture.mapping.map(|mapping| mapping.as_str()),
    })
}

fn looks_like_a_file(model: &str) -> bool {
    model.ends_with(".npy") || model.contains(std::path::MAIN_SEPARATOR)
}

pub fn samples(args: SamplesArgs) -> Result<(), CliError> {
    let store = open_store(&args.models.models_dir)?;
    let data = data_from_rows(&SAMPLE_COLOURS)?;
    std::fs::create_dir_all(&args.plots_dir)?;
    let mut maps = Vec::new();
    for (name, side, iterations, seed) in SAMPLE_MODELS {
        let job = TrainingJob {
            params: SomParams::new(side, side, iterations).check(3)?,
            initial: Initial::Method(InitMethod::Random),
            seed,
            data: data.clone(),
            record_bmus: false,
            dataset: None,
            names: DataNames::default(),
        };
        let outcome = training::run(&job, &TrainControl::default())?;
        let mut meta = outcome.meta;
        meta.name = name.to_owned();
        meta.created_at = meta.finished_at;
        store.commit_model(&meta, &outcome.weights)?;
        tracing::info!(
            model = name,
            seconds = meta.training_seconds,
            "sample map trained"
        );
        let map = Map::of_model(
            &LoadedMap::new(outcome.weights.view(), Some(&meta)).map_err(CliError::BadInput)?,
        );
        let picture = render::map_png(&map, None)?;
        write_plot(&args.plots_dir, &format!("{name}.png"), &picture)?;
        let title = format!("U-matrix of {name}");
        let umatrix = render::umatrix_png(&map, &title, None)?;
        write_plot(&args.plots_dir, &format!("{name}_umatrix.png"), &umatrix)?;
        maps.push((name, map));
    }
    let named: Vec<_> = maps.iter().map(|(name, map)| (*name, map)).collect();
    let comparison = render::comparison_png(&named, 200)?;
    write_plot(&args.plots_dir, "samples.png", &comparison)?;
    print_json(&json!(SAMPLE_MODELS.map(|(name, ..)| name)))
}

fn write_plot(dir: &Path, file: &str, picture: &Picture) -> Result<(), CliError> {
    write_atomically(&dir.join(file), &picture.png)?;
    Ok(())
}

fn print_json(value: &serde_json::Value) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, value).map_err(std::io::Error::from)?;
    writeln!(stdout)?;
    Ok(())
}
