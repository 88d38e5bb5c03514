//! voxbench: benchmark harness for voxrelay — an echo upstream, a WebSocket load generator, and a
//! runner comparing direct, voxrelay, nginx and HAProxy in one run (see BENCHMARKS.md).

mod echo;
mod generator;
mod procfs;
mod report;
mod run;
mod targets;

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "voxbench",
    about = "Benchmark harness for voxrelay (see BENCHMARKS.md)"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the comparison: targets alternated per N and repetition; JSON lines then markdown.
    Run(Box<run::RunArgs>),
    /// Serve the echo upstream (started by `run`; useful on its own for manual tests).
    Echo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9100")]
        listen: String,
        /// Bytes of each binary frame sent back.
        #[arg(long, default_value_t = 16)]
        reply_bytes: usize,
    },
    /// Print the markdown summary of JSON-lines result files.
    Report {
        /// Result files written by `run --out`.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    match real_main() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("voxbench: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn current_thread() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn real_main() -> Result<bool> {
    match Cli::parse().cmd {
        Cmd::Echo {
            listen,
            reply_bytes,
        } => {
            raise_nofile();
            current_thread()?.block_on(echo::serve(&listen, reply_bytes))?;
            Ok(true)
        }
        Cmd::Report { files } => {
            let mut records = Vec::new();
            for f in files {
                let text = std::fs::read_to_string(&f)
                    .with_context(|| format!("reading {}", f.display()))?;
                for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
                    records.push(serde_json::from_str(line)?);
                }
            }
            print!("{}", report::markdown(&records));
            Ok(true)
        }
        Cmd::Run(mut args) => {
            raise_nofile();
            let cpus = std::thread::available_parallelism().map_or(1, usize::from);
            if !args.no_pin && cpus < 2 {
                eprintln!(
                    "voxbench: fewer than 2 usable cores: not pinning (figures not comparable)"
                );
                args.no_pin = true;
            }
            if !args.no_pin {
                pin_self(args.gen_cpu)?;
            }
            if let Some(n) = args.nice {
                renice_self(n)?;
            }
            let rt = current_thread()?;
            let args = *args;
            rt.block_on(async {
                tokio::select! {
                    r = run::run(args) => r,
                    _ = shutdown_signal() => anyhow::bail!("interrupted; processes stopped"),
                }
            })
        }
    }
}

/// Raises the soft open-file limit to the hard one (children inherit it).
fn raise_nofile() {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("voxbench: cannot raise RLIMIT_NOFILE: {e}");
    }
}

/// Pins this process (before the runtime starts, so all its threads) to `cpu` with taskset.
fn pin_self(cpu: usize) -> Result<()> {
    let status = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .context("running taskset (util-linux)")?;
    anyhow::ensure!(status.success(), "taskset -p -c {cpu} failed: {status}");
    Ok(())
}

/// Sets this process's niceness before the runtime starts (threads and children inherit it).
fn renice_self(nice: i32) -> Result<()> {
    let status = Command::new("renice")
        .args([
            "-n",
            &nice.to_string(),
            "-p",
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .context("running renice (util-linux)")?;
    anyhow::ensure!(status.success(), "renice -n {nice} failed: {status}");
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
