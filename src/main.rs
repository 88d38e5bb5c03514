//! The `voxrelay` command: serve, check a config, hash a client key, or run the simulator.

use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use voxrelay::config::{self, LogConfig};
use voxrelay::secret::KeyDigest;
use voxrelay::simulate::{Simulator, SimulatorConfig};
use voxrelay::{App, fds, memory, shutdown, telemetry};

/// Exit status for a configuration error (sysexits `EX_CONFIG`-style usage error).
const EX_USAGE: u8 = 64;

/// voxrelay: a WebSocket relay between browsers and Deepgram / Cloudflare AI Gateway.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Configuration file (TOML); `VOXRELAY_*` env variables override it.
    #[arg(
        long,
        short,
        global = true,
        env = "VOXRELAY_CONFIG",
        default_value = "config/voxrelay.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the relay (the default).
    Serve,
    /// Validate the configuration and exit non-zero on any error.
    CheckConfig,
    /// Exit 0 when the relay at the configured address answers `/healthz` (container probes).
    Healthcheck {
        /// Address to probe instead of the configured `server.listen`.
        #[arg(long)]
        addr: Option<SocketAddr>,
        /// Path to probe (`/healthz` for liveness, `/readyz` for readiness).
        #[arg(long, default_value = "/healthz")]
        path: String,
    },
    /// Print the SHA-256 digest of a client key, for `client_keys[].sha256`.
    HashKey {
        /// The key; read from standard input when omitted (keeps it out of shell history).
        key: Option<String>,
    },
    /// Run only the simulator of the provider APIs (no credentials needed).
    Simulate {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: SocketAddr,
        /// `/v1/listen` idle timeout before close 1011 NET-0001.
        #[arg(long, default_value = "10s", value_parser = humantime_serde::re::humantime::parse_duration)]
        idle_timeout: Duration,
        /// Environment variable holding a key the simulator requires from its clients.
        #[arg(long)]
        api_key_env: Option<String>,
    },
}

fn main() -> ExitCode {
    // before any thread starts
    memory::return_freed_memory();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config),
        Command::CheckConfig => check_config(cli.config),
        Command::HashKey { key } => hash_key(key),
        Command::Healthcheck { addr, path } => healthcheck(cli.config, addr, &path),
        Command::Simulate {
            listen,
            idle_timeout,
            api_key_env,
        } => simulate(listen, idle_timeout, api_key_env),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts")
}

fn serve(path: PathBuf) -> ExitCode {
    let settings = match config::load(&path) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(EX_USAGE);
        }
    };
    telemetry::init(&settings.log);
    for warning in &settings.warnings {
        tracing::warn!(%warning, "configuration warning");
    }
    // before the runtime starts its threads
    let files = fds::prepare(settings.max_sessions);
    match files.sessions_possible() {
        Some(possible) if possible < settings.max_sessions as u64 => tracing::warn!(
            open_file_limit = files.limit,
            sessions_possible = possible,
            max_sessions = settings.max_sessions,
            "the open-file limit holds fewer sessions than limits.max_sessions"
        ),
        _ => tracing::debug!(
            open_file_limit = files.limit,
            descriptor_table = files.presized,
            "open files prepared"
        ),
    }
    memory::warn_if_overcommitted(&settings.server.config, settings.max_sessions);
    let result = runtime().block_on(async {
        let app = App::build(settings).await?.reload_from(path);
        let signal = shutdown::shutdown_signal();
        let tls = app.tls_enabled();
        tracing::info!(addr = %app.local_addr(), tls, "voxrelay listening");
        app.run(signal).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "voxrelay failed");
            eprintln!("voxrelay: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Validates the configuration: every error with its key path (exit 64), and warnings for
/// what is valid but probably not meant (`warning: …`, exit 0 when there is no error).
fn check_config(path: PathBuf) -> ExitCode {
    let raw = match config::extract(&config::figment(&path)) {
        Ok(raw) => raw,
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            return ExitCode::from(EX_USAGE);
        }
    };
    for warning in config::warnings(&raw) {
        eprintln!("warning: {warning}");
    }
    match config::validate(raw) {
        Ok(s) => {
            println!("{}: ok ({})", path.display(), s.summary());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{}: {e}", path.display());
            ExitCode::from(EX_USAGE)
        }
    }
}

fn healthcheck(config: PathBuf, addr: Option<SocketAddr>, path: &str) -> ExitCode {
    // the config names the address (unless given) and whether the listener speaks TLS
    let (addr, tls) = match (addr, config::load(&config)) {
        (Some(a), Ok(s)) => (a, s.server.probe_tls()),
        (Some(a), Err(_)) => (a, Ok(None)),
        (None, Ok(s)) => (s.server.config.listen, s.server.probe_tls()),
        (None, Err(e)) => {
            eprintln!("{}: {e}", config.display());
            return ExitCode::from(EX_USAGE);
        }
    };
    let tls = match tls {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("server.tls: {e}");
            return ExitCode::from(EX_USAGE);
        }
    };
    match voxrelay::health::probe(addr, path, Duration::from_secs(3), tls) {
        Ok(200) => ExitCode::SUCCESS,
        Ok(status) => {
            eprintln!("{path} answered {status}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn hash_key(key: Option<String>) -> ExitCode {
    let key = match key {
        Some(k) => k,
        None => {
            let mut buf = String::new();
            if std::io::stdin().read_to_string(&mut buf).is_err() {
                eprintln!("could not read the key from standard input");
                return ExitCode::from(EX_USAGE);
            }
            buf.trim_end_matches(['\r', '\n']).to_owned()
        }
    };
    if key.is_empty() {
        eprintln!("the key is empty");
        return ExitCode::from(EX_USAGE);
    }
    println!("{}", KeyDigest::of(&key).to_hex());
    ExitCode::SUCCESS
}

fn simulate(listen: SocketAddr, idle_timeout: Duration, api_key_env: Option<String>) -> ExitCode {
    telemetry::init(&LogConfig::default());
    let api_key = match api_key_env {
        None => None,
        Some(var) => match std::env::var(&var) {
            Ok(k) if !k.is_empty() => Some(k),
            Ok(_) => {
                eprintln!("--api-key-env: environment variable {var} is empty");
                return ExitCode::from(EX_USAGE);
            }
            Err(std::env::VarError::NotPresent) => {
                eprintln!("--api-key-env: environment variable {var} is not set");
                return ExitCode::from(EX_USAGE);
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                eprintln!("--api-key-env: environment variable {var} is not valid UTF-8");
                return ExitCode::from(EX_USAGE);
            }
        },
    };
    let config = SimulatorConfig {
        idle_timeout,
        api_key,
    };
    let result = runtime().block_on(async {
        let sim = Simulator::bind(listen, config).await.map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("cannot listen on {listen} (--listen): {e}"),
            )
        })?;
        let signal = shutdown::shutdown_signal();
        voxrelay::simulate::announce(sim.local_addr());
        sim.run(signal).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("simulator failed: {e}");
            ExitCode::FAILURE
        }
    }
}
