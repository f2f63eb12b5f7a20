use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use kohonen::cli;
use kohonen::config::{Cli, Command, ServeArgs};
use kohonen::http::StartError;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// glibc's allocator keeps freed maps (24 MB for 1000x1000x3) in per-thread arenas: after a
/// few trainings the server held about 200 MB it did not use. mimalloc gives them back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long blocking work may still run once the server has stopped.
const BLOCKING_WORK_AT_EXIT: Duration = Duration::from_secs(2);

fn main() -> ExitCode {
    let args = Cli::parse();
    let command = args.command.unwrap_or(Command::Serve(args.serve));
    let result = match command {
        Command::Serve(args) => return serve(args),
        Command::Train(args) => with_stderr_logs(|| cli::train(args)),
        Command::Predict(args) => with_stderr_logs(|| cli::predict(args)),
        Command::Health(args) => cli::health(args),
        Command::Render(args) => with_stderr_logs(|| cli::render(args)),
        Command::Samples(args) => with_stderr_logs(|| cli::samples(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}

fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into())
}

/// Data subcommands: data on stdout, logs on stderr.
fn with_stderr_logs<T>(run: impl FnOnce() -> T) -> T {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(filter())
        .init();
    run()
}

/// The server: logs to stdout and to a daily file under the logs folder.
fn serve(args: ServeArgs) -> ExitCode {
    let file = tracing_appender::rolling::daily(&args.logs_dir, "kohonen.log");
    let (file, _flush_on_exit) = tracing_appender::non_blocking(file);
    tracing_subscriber::registry()
        .with(filter())
        .with(tracing_subscriber::fmt::layer().with_ansi(std::io::stdout().is_terminal()))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(file),
        )
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let (addr, server) = kohonen::http::start(&args, kohonen::http::shutdown_signal()).await?;
        tracing::info!(%addr, models_dir = %args.models.models_dir.display(), "listening");
        server.await.map_err(StartError::from)
    });
    // The server has given its grace period and interrupted the jobs; work still on the
    // blocking pool (a prediction, a training finishing its presentation) gets a moment, not
    // the power to keep the process alive.
    runtime.shutdown_timeout(BLOCKING_WORK_AT_EXIT);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "the server stopped");
            eprintln!("error: {err}");
            match err {
                // A missing or unreachable database or object store: a setup error.
                StartError::Dependency(_) => ExitCode::from(2),
                StartError::Io(_) => ExitCode::FAILURE,
            }
        }
    }
}
