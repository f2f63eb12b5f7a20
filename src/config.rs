//! The command line: subcommands, flags and the environment variables they also read.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};

use crate::som::{
    Compatibility, Decay, Distance, InitMethod, Mode, NamedOption, Neighbourhood, Order, Scaling,
    Topology,
};

/// Train and serve Kohonen self-organising maps.
#[derive(Debug, Parser)]
#[command(
    name = "kohonen",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do; without one, `serve` with the flags given here.
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (the default).
    Serve(ServeArgs),
    /// Train a map on data from a file and write its weights as .npy.
    Train(TrainArgs),
    /// Print the best-matching node [row, col] of every vector of a data file, as JSON.
    Predict(PredictArgs),
    /// Ask a running server for /health: exit 0 when it answers ok (for container health
    /// checks, where there is no curl).
    Health(HealthArgs),
    /// Draw a stored model or a .npy file as PNG: the map, its U-matrix or its training curves.
    Render(RenderArgs),
    /// Train the four sample maps of the 10 sample colours into the models folder, and draw
    /// them into the plots folder.
    Samples(SamplesArgs),
}

#[derive(Debug, Args)]
pub struct ModelsDir {
    /// Folder of the stored models.
    #[arg(long, env = "MODELS_DIR", default_value = "saved_models")]
    pub models_dir: PathBuf,
}

/// The server's settings. Every flag also reads an environment variable.
#[derive(Debug, Parser)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KOHONEN_HOST", default_value = "0.0.0.0")]
    pub host: std::net::IpAddr,
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,
    #[command(flatten)]
    pub models: ModelsDir,
    /// Folder of the daily log files.
    #[arg(long, env = "KOHONEN_LOGS_DIR", default_value = "logs")]
    pub logs_dir: PathBuf,
    /// Trainings running at once (default: the number of cores).
    #[arg(long, env = "KOHONEN_MAX_CONCURRENT_JOBS")]
    pub max_concurrent_jobs: Option<usize>,
    /// Trainings waiting for a slot before new ones get 503.
    #[arg(long, env = "KOHONEN_QUEUE_LIMIT", default_value_t = 64)]
    pub queue_limit: usize,
    /// How trainings share the cores: idle (any other work goes first, so requests stay fast),
    /// low (nice 10) or normal.
    #[arg(long, env = "KOHONEN_TRAINING_PRIORITY", default_value = "idle")]
    pub training_priority: crate::jobs::TrainingPriority,
    /// Largest request body, in bytes.
    #[arg(long, env = "KOHONEN_MAX_BODY_BYTES", default_value_t = 64 << 20)]
    pub max_body_bytes: usize,
    /// Largest dataset upload (`PUT /datasets/NAME`), in bytes: streamed to disk, so not bound
    /// by --max-body-bytes.
    #[arg(long, env = "KOHONEN_MAX_DATASET_BYTES", default_value_t = 4 << 30)]
    pub max_dataset_bytes: u64,
    /// Request body bytes held by all requests at once; past it new bodies get 503 busy.
    #[arg(long, env = "KOHONEN_MAX_INFLIGHT_BODY_BYTES", default_value_t = 256 << 20)]
    pub max_inflight_body_bytes: usize,
    /// Seconds a client has to send a request's headers, counted from when the connection
    /// waits for them: a new connection, or an idle keep-alive one (it is then closed).
    #[arg(long, env = "KOHONEN_HEADER_TIMEOUT_SECONDS", default_value_t = 30)]
    pub header_timeout_seconds: u64,
    /// Seconds a request body may go without sending anything before the request is 408.
    #[arg(long, env = "KOHONEN_BODY_TIMEOUT_SECONDS", default_value_t = 30)]
    pub body_timeout_seconds: u64,
    /// Seconds a whole request body may take to arrive, however steadily it trickles in; a
    /// dataset upload (`PUT /datasets/NAME`) has no such deadline, only the pause timeout.
    #[arg(long, env = "KOHONEN_BODY_DEADLINE_SECONDS", default_value_t = 300)]
    pub body_deadline_seconds: u64,
    /// Connections served at once; more wait to be accepted.
    #[arg(long, env = "KOHONEN_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Most work of one prediction or picture request: vectors x nodes x dimension.
    #[arg(
        long,
        env = "KOHONEN_MAX_PREDICT_WORK",
        default_value_t = 10_000_000_000
    )]
    pub max_predict_work: u64,
    /// A web origin (scheme://host[:port]) whose pages may call this server from a browser,
    /// with CORS; repeat the flag, or separate origins by commas in the variable.
    #[arg(
        long = "allowed-origin",
        env = "KOHONEN_ALLOWED_ORIGINS",
        value_delimiter = ','
    )]
    pub allowed_origins: Vec<String>,
    /// The address of a reverse proxy whose X-Forwarded-Host names the host browsers asked
    /// for; repeat the flag, or separate addresses by commas in the variable.
    #[arg(
        long = "trusted-proxy",
        env = "KOHONEN_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Most nodes (rows x columns) of a map.
    #[arg(long, env = "KOHONEN_MAX_NODES", default_value_t = 1_000_000)]
    pub max_nodes: usize,
    /// Most weights (nodes x dimension) of a map.
    #[arg(long, env = "KOHONEN_MAX_WEIGHTS", default_value_t = 50_000_000)]
    pub max_weights: usize,
    /// Most iterations of a training.
    #[arg(long, env = "KOHONEN_MAX_ITERATIONS", default_value_t = 1_000_000)]
    pub max_iterations: usize,
    /// Bytes of loaded maps kept in memory for predictions and pictures (least recently used
    /// out first; a larger map is served but not kept).
    #[arg(long, env = "KOHONEN_MODEL_CACHE_BYTES", default_value_t = crate::storage::DEFAULT_CACHE_BYTES)]
    pub model_cache_bytes: usize,
    /// Seconds in-flight requests get to finish after SIGTERM or SIGINT.
    #[arg(long, env = "KOHONEN_SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// Several replicas as one service: the registry and job queue in PostgreSQL, the weights and
/// datasets in an S3-compatible object store. Both or neither: without them the service is one
/// process on a local folder.
#[derive(Debug, Clone, Args)]
pub struct ClusterArgs {
    /// PostgreSQL holding the models' records, their names and the job queue, e.g.
    /// postgres://user:password@host:5432/kohonen (needs --store too).
    #[arg(long, env = "DATABASE_URL", requires = "store")]
    pub database_url: Option<String>,
    /// The object store holding weights and datasets, as s3://BUCKET/PREFIX; the endpoint and
    /// credentials come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    /// AWS_REGION and AWS_ALLOW_HTTP (needs --database-url too).
    #[arg(long, env = "KOHONEN_STORE", requires = "database_url")]
    pub store: Option<String>,
    /// This replica's name, shown as a running job's `worker` (default: host name and port).
    #[arg(long, env = "KOHONEN_REPLICA_ID")]
    pub replica_id: Option<String>,
    /// Seconds a replica's claim on a running job lasts unless renewed (it is renewed every
    /// second, or every third of this if shorter): a replica that dies loses its jobs to the
    /// others after this long.
    #[arg(long, env = "KOHONEN_JOB_LEASE_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(3..=3600))]
    pub job_lease_seconds: u64,
    /// Times a job is started before it fails for good (a replica that dies mid-job costs one).
    #[arg(long, env = "KOHONEN_JOB_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub job_attempts: u32,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training data: .npy (2-D), .csv (numbers, optional header row) or .json (nested array).
    #[arg(long)]
    pub data: PathBuf,
    /// CSV field separator: one character, or `tab` (default: detected among `,` `;` and tab).
    #[arg(long, value_parser = crate::storage::table::parse_delimiter)]
    pub delimiter: Option<char>,
    /// Names of the features, comma-separated, one per column (default: a CSV header's).
    #[arg(long, value_delimiter = ',', num_args = 1)]
    pub feature_names: Option<Vec<String>>,
    /// A CSV header's column kept as the rows' labels, not trained on as a feature.
    #[arg(long)]
    pub label_column: Option<String>,
    /// Grid shape as ROWSxCOLS, e.g. 10x10.
    #[arg(long, value_parser = parse_grid)]
    pub grid: [usize; 2],
    /// Iterations; each presents every sample once.
    #[arg(long)]
    pub iterations: usize,
    /// Initial learning rate, 0 < rate <= 1 [default: 0.1 online; batch mode has none].
    #[arg(long)]
    pub learning_rate: Option<f64>,
    /// Seed of the training's draws (random or sample init, shuffled order), 0 <= seed < 2^53;
    /// drawn at random and printed if absent.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Where the weights start: a method, or a .npy file of shape rows x cols x dim (in scaled
    /// units when scaling) [default: random].
    #[arg(long, value_name = "METHOD|FILE.npy", help = init_help(), value_parser = parse_init)]
    pub init: Option<InitArg>,
    #[command(flatten)]
    pub options: OptionArgs,
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

/// Where `kohonen train` starts the weights.
#[derive(Debug, Clone, PartialEq)]
pub enum InitArg {
    Method(InitMethod),
    File(PathBuf),
}

/// `--init`'s help, with the methods the core knows.
fn init_help() -> String {
    format!(
        "Where the weights start: {}, or FILE.npy of shape rows x cols x dim (in scaled units when scaling) [default: random]",
        InitMethod::names().join(", ")
    )
}

/// A method's name is the method (so a file named `pca` needs `./pca`); anything else is a
/// file.
fn parse_init(text: &str) -> Result<InitArg, String> {
    Ok(match text.parse() {
        Ok(method) => InitArg::Method(method),
        Err(_) => InitArg::File(PathBuf::from(text)),
    })
}

/// A value parser for an option of SPEC §3b whose possible values (shown by `--help`) are the
/// core's names.
fn named<T: NamedOption + Send + Sync + 'static>(
    all: &'static [T],
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(all.iter().map(|value| value.as_str())).try_map(|name| name.parse())
}

/// The options of SPEC §3b as flags (the request fields with dashes); each left out takes the
/// default, and their combinations are checked by the core as for a request.
#[derive(Debug, Args)]
pub struct OptionArgs {
    /// How nodes sit on the grid [default: rectangular].
    #[arg(long, value_parser = named(Topology::ALL))]
    pub topology: Option<Topology>,
    /// The grid wraps around in both directions (hexagonal: an even number of rows).
    #[arg(long)]
    pub toroidal: bool,
    /// The factor a node gets from its grid distance to the best match [default: gaussian].
    #[arg(long, value_parser = named(Neighbourhood::ALL))]
    pub neighbourhood: Option<Neighbourhood>,
    /// Starting radius > 0 [default: half the grid's longer side].
    #[arg(long)]
    pub radius: Option<f64>,
    /// How the radius and learning rate fall [default: exponential].
    #[arg(long, value_parser = named(Decay::ALL))]
    pub schedule: Option<Decay>,
    /// The last radius of the linear schedule, 0 < s1 <= radius [default: min(1, radius)].
    #[arg(long)]
    pub final_radius: Option<f64>,
    /// The last learning rate of the linear schedule, 0 < a1 <= learning rate [default:
    /// learning rate / 100].
    #[arg(long)]
    pub final_learning_rate: Option<f64>,
    /// Reproduce another implementation's maps (fixes neighbourhood, schedule and radius).
    #[arg(long, value_parser = named(Compatibility::ALL))]
    pub compatibility: Option<Compatibility>,
    /// The distance between a vector and a node's weights [default: euclidean].
    #[arg(long, value_parser = named(Distance::ALL))]
    pub distance: Option<Distance>,
    /// The order of the samples in each iteration (online) [default: given].
    #[arg(long, value_parser = named(Order::ALL))]
    pub order: Option<Order>,
    /// Feature scaling fitted on the training data [default: none].
    #[arg(long, value_parser = named(Scaling::ALL))]
    pub scaling: Option<Scaling>,
    /// How the weights move: after every sample, or once per iteration [default: online].
    #[arg(long, value_parser = named(Mode::ALL))]
    pub mode: Option<Mode>,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// A .npy file of weights, or the name of a stored model.
    #[arg(long)]
    pub model: String,
    /// Vectors: .npy (2-D), .csv or .json, as for training.
    #[arg(long)]
    pub data: PathBuf,
    /// CSV field separator, as for training.
    #[arg(long, value_parser = crate::storage::table::parse_delimiter)]
    pub delimiter: Option<char>,
    #[command(flatten)]
    pub models: ModelsDir,
}

#[derive(Debug, Args)]
pub struct SamplesArgs {
    #[command(flatten)]
    pub models: ModelsDir,
    /// Folder the sample pictures are written to.
    #[arg(long, default_value = "saved_plots")]
    pub plots_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The server's health URL (plain http; default: http://127.0.0.1:PORT/health).
    pub url: Option<String>,
    /// The local server's port when no URL is given: the same `PORT` the server reads, so a
    /// container's health check follows it.
    #[arg(long, env = "PORT", default_value_t = 8000)]
    pub port: u16,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3)]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// A .npy file of weights, or the name of a stored model (curves need a stored model).
    pub model: String,
    /// What to draw.
    #[arg(long, value_enum, default_value_t = PictureKind::Map)]
    pub kind: PictureKind,
    /// Pixels per node (default: about 400 pixels across, at most 4 megapixels).
    #[arg(long)]
    pub scale: Option<usize>,
    /// At most this many pixels on the picture's longer side (16 to 2000), at the largest
    /// scale that fits; not with --scale.
    #[arg(long)]
    pub size: Option<usize>,
    /// For --kind components: one feature's panel, by index from 0 or by name.
    #[arg(long)]
    pub feature: Option<String>,
    /// Write the PNG to this file (default: stdout, unless it is a terminal).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub models: ModelsDir,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PictureKind {
    /// The nodes' colours, one cell per node.
    Map,
    /// Mean distance of each node to its neighbours, as a heat map.
    Umatrix,
    /// Radius and learning rate (online) or errors (batch) per iteration, from the model's
    /// record.
    Curves,
    /// A heat map per feature (component planes), or of the one --feature names.
    Components,
    /// The map with row and column ticks, a title and how the colours were made.
    Figure,
    /// Where the training data landed, from a stored model's record.
    Hits,
    /// Each node in its majority label's colour, from a stored model's record.
    Labels,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_flags_work_with_and_without_serve() {
        let bare = Cli::try_parse_from(["kohonen", "--port", "9001"]).unwrap();
        assert!(bare.command.is_none());
        assert_eq!(bare.serve.port, 9001);
        let Some(Command::Serve(explicit)) =
            Cli::try_parse_from(["kohonen", "serve", "--port", "9002"])
                .unwrap()
                .command
        else {
            panic!("serve parses as serve");
        };
        assert_eq!(explicit.port, 9002);
        assert!(Cli::try_parse_from(["kohonen", "--port", "9003", "samples"]).is_err());
    }
}
