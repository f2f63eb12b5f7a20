//! The command line: subcommands, flags and the environment variables they also read.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Train and serve Kohonen self-organising maps.
#[derive(Debug, Parser)]
#[command(name = "kohonen", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a map on data from a file and write its weights as .npy.
    Train(TrainArgs),
    /// Print the best-matching node [row, col] of every vector of a data file, as JSON.
    Predict(PredictArgs),
    /// Train the four sample maps of the 10 sample colours into the models folder.
    Samples(SamplesArgs),
}

#[derive(Debug, Args)]
pub struct ModelsDir {
    /// Folder of the stored models.
    #[arg(long, env = "MODELS_DIR", default_value = "saved_models")]
    pub models_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training data: .npy (2-D), .csv (numbers, optional header row) or .json (nested array).
    #[arg(long)]
    pub data: PathBuf,
    /// Grid shape as ROWSxCOLS, e.g. 10x10.
    #[arg(long, value_parser = parse_grid)]
    pub grid: [usize; 2],
    /// Iterations; each presents every sample once.
    #[arg(long)]
    pub iterations: usize,
    /// Initial learning rate, 0 < rate <= 1.
    #[arg(long, default_value_t = 0.1)]
    pub learning_rate: f64,
    /// Seed of the initial weights (0 <= seed < 2^53); drawn at random and printed if absent.
    #[arg(long, conflicts_with = "init")]
    pub seed: Option<u64>,
    /// Start from these weights (.npy of shape rows x cols x dim) instead of random ones.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Write the weights to this .npy file.
    #[arg(long, required_unless_present = "name", conflicts_with = "name")]
    pub out: Option<PathBuf>,
    /// Store the model under this name in the models folder (.npy and .json).
    #[arg(long)]
    pub name: Option<String>,
    #[command(flatten)]
    pub models: ModelsDir,
    /// Replace an existing output file or model.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A .npy file of weights, or the name of a stored model.
    #[arg(long)]
    pub model: String,
    /// Vectors: .npy (2-D), .csv or .json, as for training.
    #[arg(long)]
    pub data: PathBuf,
    #[command(flatten)]
    pub models: ModelsDir,
}

#[derive(Debug, Args)]
pub struct SamplesArgs {
    #[command(flatten)]
    pub models: ModelsDir,
}

fn parse_grid(text: &str) -> Result<[usize; 2], String> {
    let parsed = text
        .split_once(['x', 'X'])
        .and_then(|(rows, cols)| Some([rows.trim().parse().ok()?, cols.trim().parse().ok()?]));
    match parsed {
        Some([rows, cols]) if rows > 0 && cols > 0 => Ok([rows, cols]),
        _ => Err(format!(
            "expected ROWSxCOLS with both at least 1, e.g. 10x10; got {text:?}"
        )),
    }
}
