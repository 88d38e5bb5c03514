//! The application: `App::build` (binds the public listener, and the metrics
//! listener and simulator when configured; port 0 works) and `App::run` with a bounded, tested
//! drain.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::info;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::reload::Reloader;
use crate::serve::{Routers, ServeOptions};
use crate::simulate::{Simulator, SimulatorConfig};
use crate::state::Shared;
use crate::tls::ServerTls;
use crate::upstream::UpstreamConnector;

/// How often idle per-IP rate-limit buckets are forgotten.
const RATE_PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Extra time, beyond the drain's bound, given to sessions to finish once told to close.
const CLOSE_SLACK: Duration = Duration::from_secs(1);

/// A bound, ready-to-run voxrelay.
pub struct App {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    shared: Arc<Shared>,
    routers: Routers,
    simulator: Option<Simulator>,
    tls: Option<ServerTls>,
    /// Reloads the configuration file on SIGHUP and when it changes (see [`App::reload_from`]).
    reloader: Option<Arc<Reloader>>,
    /// What a reloader needs of the settings the app started with.
    start: Option<crate::reload::Start>,
}

impl App {
    /// Binds the listener (and the simulator, when enabled) and builds the router.
    pub async fn build(settings: Settings) -> std::io::Result<App> {
        let server = settings.server.config.clone();
        let connector = UpstreamConnector::new(
            settings.server.tls.clone(),
            server.websocket(),
            server.upstream_connect_timeout,
        );
        let simulator = match &settings.simulator {
            Some(sim) => {
                let config = SimulatorConfig {
                    idle_timeout: sim.idle_timeout,
                    api_key: None,
                };
                let sim = Simulator::bind(sim.listen, config)
                    .await
                    .map_err(|e| bind_error(e, sim.listen, "simulator.listen"))?;
                let base = format!("ws://{}", sim.local_addr());
                for upstream in settings.upstreams.values() {
                    let _ = upstream.simulator.set(base.clone());
                }
                Some(sim)
            }
            None => None,
        };
        let listener = bind(server.listen, "server.listen").await?;
        let metrics_listener = match settings.metrics.listen {
            Some(addr) => Some(bind(addr, "metrics.listen").await?),
            None => None,
        };
        let start = crate::reload::Start::of(&settings);
        let metrics = Metrics::new(settings.metrics.max_client_labels);
        metrics.sessions_limit.set(settings.max_sessions as i64);
        let revocations = Arc::<crate::revoke::Revocations>::default();
        // cluster-wide limits: connected (lazily) here, its background task spawned by `run`;
        // its heartbeat ends the live sessions whose client or token was revoked cluster-wide
        let limits = match settings.cluster {
            Some(cluster) => {
                let cluster = crate::cluster::Cluster::connect(cluster, metrics.clone()).await?;
                cluster.set_revocation_hook(revocations.clone());
                settings.limits.with_cluster(cluster)
            }
            None => settings.limits,
        };
        let shared = Arc::new(Shared {
            server,
            auth: ArcSwap::from_pointee(settings.auth),
            limits: Arc::new(limits),
            metrics,
            connector,
            draining: CancellationToken::new(),
            sessions_stop: CancellationToken::new(),
            tracker: TaskTracker::new(),
            revocations,
            route_names: ArcSwap::from_pointee(
                settings.routes.iter().map(|r| r.name.clone()).collect(),
            ),
        });
        let metrics_on_public = metrics_listener.is_none();
        let router = crate::http::router(
            shared.clone(),
            &settings.routes,
            &settings.demo,
            metrics_on_public,
        );
        let tls = settings.server.listener_tls;
        Ok(App {
            listener,
            metrics_listener,
            shared,
            routers: Arc::new(ArcSwap::from_pointee(router)),
            simulator,
            tls,
            reloader: None,
            start: Some(start),
        })
    }

    /// Reloads the configuration from `path` on SIGHUP and whenever its contents change (every
    /// `reload.watch_interval`): keys, tokens, routes and prices change in place, a file with
    /// errors is refused and the running configuration stays (see [`crate::reload`]).
    pub fn reload_from(mut self, path: std::path::PathBuf) -> Self {
        if let Some(start) = self.start.take() {
            let simulator = self.simulator_addr().map(|a| format!("ws://{a}"));
            self.reloader = Some(Arc::new(Reloader::new(
                path,
                start,
                self.shared.clone(),
                self.routers.clone(),
                self.metrics_listener.is_none(),
                simulator,
            )));
        }
        self
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Whether the listener speaks TLS (`https://`, `wss://`).
    pub fn tls_enabled(&self) -> bool {
        self.tls.is_some()
    }

    /// The separate metrics listener's address, when `metrics.listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .map(|l| l.local_addr().expect("a bound listener has an address"))
    }

    /// The simulator's address, when it runs.
    pub fn simulator_addr(&self) -> Option<SocketAddr> {
        self.simulator.as_ref().map(Simulator::local_addr)
    }

    /// Serves until `shutdown` completes, then drains: `/readyz` and new upgrades answer 503,
    /// live sessions get `shutdown_grace` to finish; then each, at a random moment within
    /// `drain_spread`, has its client API's finalize sent upstream, the upstream's finals relayed
    /// for up to `drain_timeout`, and its client closed with 1012 (the upstream with 1000).
    /// The last session is closed within `shutdown_grace + drain_spread + drain_timeout +
    /// close_timeout` of `shutdown` (a second of slack aside), whatever the peers do; the
    /// listeners and the simulator then stop within a close timeout each.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let App {
            listener,
            metrics_listener,
            shared,
            routers,
            simulator,
            tls,
            reloader,
            start,
        } = self;
        drop(start);
        let stop_serving = CancellationToken::new();
        let stop_simulator = CancellationToken::new();
        let simulator = simulator.map(|sim| {
            crate::simulate::announce(sim.local_addr());
            tokio::spawn(sim.run(stop_simulator.clone().cancelled_owned()))
        });
        tokio::spawn(prune_rate_limits(shared.clone(), stop_serving.clone()));
        // cluster-wide limits: heartbeat, releases, ping; stopped once the drain is over
        let stop_cluster = CancellationToken::new();
        let cluster = (shared.limits.cluster().cloned())
            .map(|cluster| tokio::spawn(cluster.run(stop_cluster.clone())));
        let acceptor = tls.as_ref().map(ServerTls::acceptor);
        if let Some(tls) = tls {
            let (metrics, stop) = (shared.metrics.clone(), stop_serving.clone());
            tokio::spawn(crate::tls::watch(tls, metrics, stop));
        }
        let options = ServeOptions {
            head_timeout: shared.server.handshake_timeout,
            max_head_bytes: shared.server.max_request_head_bytes,
            metrics: shared.metrics.clone(),
            connections: Some(shared.limits.connections().clone()),
            tls: acceptor,
        };
        if let Some(metrics_listener) = metrics_listener {
            serve_metrics(metrics_listener, &shared, &options, stop_serving.clone());
        }
        if let Some(reloader) = reloader {
            tokio::spawn(crate::reload::run(reloader, stop_serving.clone()));
        }
        let server = crate::serve::serve(listener, routers, options, stop_serving.clone());
        let server = tokio::spawn(server);
        shutdown.await;
        drain(&shared).await;
        stop_serving.cancel();
        stop_simulator.cancel();
        let bound = shared.server.close_timeout + CLOSE_SLACK;
        if let Some(sim) = simulator {
            // the simulator closes its own sessions with 1001; let it finish
            let _ = tokio::time::timeout(bound, sim).await;
        }
        let served = match tokio::time::timeout(bound, server).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => Err(std::io::Error::other(join)),
            Err(_) => Ok(()),
        };
        if let Some(cluster) = cluster {
            // the ended sessions' leases are released before exit (else the TTL reclaims them)
            stop_cluster.cancel();
            let _ = tokio::time::timeout(bound, cluster).await;
        }
        served
    }
}

/// Serves `/metrics` alone on `listener` (no per-IP cap: only Prometheus should reach it).
fn serve_metrics(
    listener: TcpListener,
    shared: &Arc<Shared>,
    options: &ServeOptions,
    stop: CancellationToken,
) {
    if let Ok(addr) = listener.local_addr() {
        info!(%addr, "metrics listening");
    }
    // plain HTTP: scraped from inside the cluster or host, never through the public name
    let options = ServeOptions {
        connections: None,
        tls: None,
        ..options.clone()
    };
    let router = crate::http::metrics_router(shared.clone());
    let routers = Arc::new(ArcSwap::from_pointee(router));
    tokio::spawn(crate::serve::serve(listener, routers, options, stop));
}

/// Binds `addr`; the error names the address and the setting it came from.
async fn bind(addr: SocketAddr, key: &str) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| bind_error(e, addr, key))
}

fn bind_error(e: std::io::Error, addr: SocketAddr, key: &str) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("cannot listen on {addr} ({key}): {e}"))
}

/// Refuses new sessions, waits the grace for live ones, then stops them: each drains at its
/// own moment in the spread (see [`crate::relay::DrainOptions`]) and closes within the drain
/// and close timeouts after it.
async fn drain(shared: &Shared) {
    let live = shared.tracker.len();
    let server = &shared.server;
    info!(
        live_sessions = live,
        grace = ?server.shutdown_grace,
        spread = ?server.drain_spread,
        "draining"
    );
    shared.draining.cancel();
    shared.tracker.close();
    let grace = shared.server.shutdown_grace;
    if tokio::time::timeout(grace, shared.tracker.wait())
        .await
        .is_err()
    {
        info!(
            live_sessions = shared.tracker.len(),
            "grace period over; draining sessions"
        );
        shared.sessions_stop.cancel();
        let bound = server.drain_spread + server.drain_timeout + server.close_timeout + CLOSE_SLACK;
        let _ = tokio::time::timeout(bound, shared.tracker.wait()).await;
    }
    info!("drained");
}

async fn prune_rate_limits(shared: Arc<Shared>, stop: CancellationToken) {
    let mut every = tokio::time::interval(RATE_PRUNE_INTERVAL);
    loop {
        tokio::select! {
            _ = every.tick() => shared.limits.prune(),
            () = stop.cancelled() => return,
        }
    }
}
