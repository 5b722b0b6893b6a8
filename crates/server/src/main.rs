//! The `deskward` binary: parses the command line and hands over to `serve` or an admin command.

mod cli;
mod data_dir;
mod import;
mod serve;
mod settings;
mod tls;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = <cli::Cli as clap::Parser>::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("deskward: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("deskward: {e:#}");
            ExitCode::FAILURE
        }
    }
}
