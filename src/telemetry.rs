//! Logging setup: tracing-subscriber in `pretty` or `json`, filtered by `RUST_LOG` or config,
//! with a secret-safety filter no directive can lift.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{EnvFilter, FilterExt, FilterFn, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use crate::config::{LogConfig, LogFormat};

/// Targets whose TRACE events would print secrets: tungstenite's client handshake traces the
/// raw upstream request, credential header included.
const SECRET_BEARING_TRACE_TARGETS: [&str; 1] = ["tungstenite::handshake::client"];

fn secret_free(meta: &Metadata<'_>) -> bool {
    *meta.level() != Level::TRACE
        || !SECRET_BEARING_TRACE_TARGETS
            .iter()
            .any(|t| meta.target().starts_with(t))
}

/// Drops the events that would carry secrets, whatever level is configured.
/// It declares TRACE as its most verbose level so that it never raises the subscriber's max
/// level above what the level filter allows (a filter with no hint counts as TRACE, which would
/// let every `log` record from dependencies reach the dispatcher only to be dropped there).
pub fn secret_safe() -> FilterFn<fn(&Metadata<'_>) -> bool> {
    filter_fn(secret_free as fn(&Metadata<'_>) -> bool).with_max_level_hint(LevelFilter::TRACE)
}

/// The level filter for `directives` (e.g. `info,voxrelay=debug`); `info` if they do not parse.
pub fn filter(directives: &str) -> EnvFilter {
    EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"))
}

/// Installs the global subscriber; a second call is a no-op.
pub fn init(log: &LogConfig) {
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| log.level.clone());
    let layer = match log.format {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
        LogFormat::Pretty => fmt::layer().boxed(),
    };
    let layer = layer.with_filter(filter(&directives).and(secret_safe()));
    // try_init also installs the `log` bridge with `log`'s max level set to this subscriber's
    // max level hint: records above the configured level (tungstenite traces every socket
    // read and write) are then skipped by the `log` macros themselves
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_max_level_is_the_configured_level() {
        use tracing::Subscriber;
        for (directives, level) in [
            ("warn", LevelFilter::WARN),
            ("info,voxrelay=debug", LevelFilter::DEBUG),
            ("trace", LevelFilter::TRACE),
        ] {
            let layer = fmt::layer().with_filter(filter(directives).and(secret_safe()));
            let subscriber = tracing_subscriber::registry().with(layer);
            assert_eq!(subscriber.max_level_hint(), Some(level), "{directives}");
        }
    }

    #[test]
    fn handshake_traces_are_dropped_but_not_other_levels() {
        use tracing::callsite::Identifier;
        use tracing::field::FieldSet;
        use tracing::metadata::Kind;
        struct Site;
        impl tracing::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unreachable!()
            }
        }
        static SITE: Site = Site;
        let meta = |target, level| {
            Metadata::new(
                "e",
                target,
                level,
                None,
                None,
                None,
                FieldSet::new(&[], Identifier(&SITE)),
                Kind::EVENT,
            )
        };
        assert!(!secret_free(&meta(
            "tungstenite::handshake::client",
            Level::TRACE
        )));
        assert!(secret_free(&meta(
            "tungstenite::handshake::client",
            Level::DEBUG
        )));
        assert!(secret_free(&meta("voxrelay::session", Level::TRACE)));
    }
}
