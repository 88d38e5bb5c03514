//! Logging setup: tracing-subscriber in `pretty` or `json`, filtered by `RUST_LOG` or config.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

use crate::config::{LogConfig, LogFormat};

/// Caps on dependency targets that would print secrets at finer levels: tungstenite's client
/// handshake traces the raw upstream request, credential header included.
const SECRET_SAFE_CAPS: [&str; 1] = ["tungstenite::handshake::client=debug"];

/// The filter for `directives` (e.g. `info,voxrelay=debug`), with the secret-safety caps
/// applied last so no directive can lift them.
pub fn filter(directives: &str) -> EnvFilter {
    let base = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    SECRET_SAFE_CAPS.iter().fold(base, |f, cap| {
        f.add_directive(cap.parse::<Directive>().expect("valid directive"))
    })
}

/// Installs the global subscriber; a second call is a no-op.
pub fn init(log: &LogConfig) {
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| log.level.clone());
    let builder = tracing_subscriber::fmt().with_env_filter(filter(&directives));
    let _ = match log.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
