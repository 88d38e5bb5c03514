//! Logging setup: tracing-subscriber in `pretty` or `json`, filtered by `RUST_LOG` or config,
//! with a secret-safety filter no directive can lift.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{EnvFilter, FilterExt, FilterFn, LevelFilter, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, fmt};

use crate::config::{LogConfig, LogFormat};

/// voxrelay's own target: the only one allowed to log at TRACE. Dependencies log user content
/// there — tungstenite prints every frame's payload (raw audio, TTS text) and its client
/// handshake traces the raw upstream request, credential header included — so their TRACE
/// events are dropped whatever level is configured (they are capped at DEBUG).
const OWN_TARGET: &str = "voxrelay";

fn secret_free(meta: &Metadata<'_>) -> bool {
    *meta.level() != Level::TRACE || is_own(meta.target())
}

fn is_own(target: &str) -> bool {
    target
        .strip_prefix(OWN_TARGET)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
}

/// Drops the events that would carry secrets or user content (every dependency's TRACE events),
/// whatever level is configured.
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
    fn dependency_traces_are_dropped_but_not_their_debug_or_our_traces() {
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
        assert!(secret_free(&meta("voxrelay", Level::TRACE)));
        for dependency in [
            "tungstenite::protocol",
            "tungstenite::protocol::frame",
            "hyper::proto::h1::io",
            "voxrelayish",
        ] {
            assert!(
                !secret_free(&meta(dependency, Level::TRACE)),
                "{dependency}"
            );
            assert!(secret_free(&meta(dependency, Level::DEBUG)), "{dependency}");
        }
    }
}
