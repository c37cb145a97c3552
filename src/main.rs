//! `chl`, the Channel Ledger command line: parses arguments, calls the libraries, prints.
//! Exit status: 0 success, 1 a refused or failed operation, 2 bad usage.

mod args;
mod commands;
mod progress;

use clap::Parser;
use std::io;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = args::Args::parse();
    match commands::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("chl: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Output piped into `head` and closed early is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    }) || format!("{e:#}").contains("Broken pipe")
}
