use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use kohonen::cli;
use kohonen::config::{Cli, Command};

fn main() -> ExitCode {
    let args = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let result = match args.command {
        Command::Train(args) => cli::train(args),
        Command::Predict(args) => cli::predict(args),
        Command::Samples(args) => cli::samples(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
