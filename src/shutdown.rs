//! The process shutdown signal: SIGINT (Ctrl-C, local runs) or SIGTERM (Kubernetes, Docker).

use std::future::Future;

/// Installs the SIGINT and SIGTERM handlers now (so a signal that arrives from here on starts a
/// drain instead of killing the process) and returns a future that completes on the first one.
/// Call it inside the runtime, before announcing that the relay listens.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let interrupt = signal(SignalKind::interrupt()).ok();
        let terminate = signal(SignalKind::terminate()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = wait(interrupt) => tracing::info!(signal = "SIGINT", "shutdown signal"),
                () = wait(terminate) => tracing::info!(signal = "SIGTERM", "shutdown signal"),
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!(signal = "Ctrl-C", "shutdown signal");
    }
}
