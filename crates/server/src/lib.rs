//! The HTTP API of spec/http.md, served by `chl serve`: axum on tokio over one ledger.
//!
//! - Writes go through the ledger's group committer: every request's batch waits on a
//!   oneshot until the group holding it is durable, so concurrent clients share fsyncs.
//! - Reads take the ledger's read lock and answer up to the durable head.
//! - `/v1/stream` followers each keep their own cursor and read the log themselves; the
//!   writer only bumps a watch channel, so a slow follower never holds it up.
//! - The router and the OpenAPI document are both generated from `endpoints::Endpoint`.

pub mod api;
pub mod endpoints;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod rate;
pub mod stream;
pub mod tokens;

use crate::endpoints::Endpoint;
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::rate::RateLimiter;
use crate::tokens::{Caller, Rejected, Role, TokenSet};
use axum::Router;
use axum::http::HeaderMap;
use chl_ledger::{CommitObserver, Committer, CommitterConfig, Ledger};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock, TryLockError};
use std::time::Duration;
use tokio::sync::watch;

/// The limits and knobs of `chl serve`.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
    /// The most submissions in one `POST /v1/events` batch (413 beyond).
    pub max_batch: usize,
    /// A request not answered in this time gets 503 `timeout` (the live tail excepted).
    pub request_timeout: Duration,
    /// Public authorization checks allowed per client address per second, and the burst.
    pub public_rate_per_second: f64,
    pub public_burst: f64,
    /// How often the live tail sends a keep-alive comment.
    pub keep_alive: Duration,
    /// Group commit bounds.
    pub committer: CommitterConfig,
    /// How often checkpoints are signed and the index updated while writes flow (see
    /// `LedgerConfig::upkeep_interval`); also how far the latest checkpoint may lag.
    pub checkpoint_interval: Duration,
    /// How long a stop waits for connections to finish before dropping them (a client that
    /// stopped reading a live tail would otherwise hold the stop up for ever).
    pub drain_timeout: Duration,
    /// Count public rate limits against the first `X-Forwarded-For` address rather than the
    /// peer: only behind a proxy that sets it (a client could otherwise pick its own).
    pub trust_forwarded_for: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_body_bytes: 4 << 20,
            max_batch: 1000,
            request_timeout: Duration::from_secs(10),
            public_rate_per_second: 20.0,
            public_burst: 40.0,
            keep_alive: Duration::from_secs(15),
            committer: CommitterConfig::default(),
            checkpoint_interval: Duration::from_secs(1),
            drain_timeout: Duration::from_secs(30),
            trust_forwarded_for: false,
        }
    }
}

/// Everything a handler needs, shared by all of them.
pub struct App {
    pub ledger: Arc<RwLock<Ledger>>,
    committer: Committer,
    tokens: TokenSet,
    pub metrics: Arc<Metrics>,
    /// The number of durable records, bumped after every group commit.
    durable: watch::Receiver<u64>,
    /// Set when the server begins to stop: live tails end so that draining can finish.
    stopping: watch::Receiver<bool>,
    config: ServeConfig,
    rate: RateLimiter,
    openapi: String,
}

/// Told of each durable group by the writer thread.
struct Observer {
    durable: watch::Sender<u64>,
    metrics: Arc<Metrics>,
}

impl CommitObserver for Observer {
    fn committed(&self, ledger: &Ledger, records: usize, _batches: usize, elapsed: Duration) {
        let count = ledger.record_count();
        self.metrics.head_seq.store(count.saturating_sub(1), Ordering::Relaxed);
        self.metrics.group_records.observe(records as f64);
        self.metrics.group_seconds.observe(elapsed.as_secs_f64());
        self.durable.send_replace(count);
    }
}

/// A running server's handle: stop it with `stop`, then `finish` to drain and sync.
pub struct Server {
    pub addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    app: Arc<App>,
}

impl App {
    /// Builds the app over `ledger` (its state is loaded here, before the first request).
    pub fn new(mut ledger: Ledger, config: ServeConfig) -> Result<(Arc<App>, watch::Sender<bool>), String> {
        ledger.state().map_err(|e| format!("load the ledger's state: {e}"))?;
        ledger.set_upkeep_interval(config.checkpoint_interval);
        let tokens = TokenSet::new(ledger.root()).map_err(|e| e.to_string())?;
        let metrics = Arc::new(Metrics::default());
        let count = ledger.record_count();
        metrics.head_seq.store(count.saturating_sub(1), Ordering::Relaxed);
        let (durable_tx, durable) = watch::channel(count);
        let (stop, stopping) = watch::channel(false);
        let ledger = Arc::new(RwLock::new(ledger));
        let observer = Arc::new(Observer { durable: durable_tx, metrics: Arc::clone(&metrics) });
        let committer = Committer::start_shared(Arc::clone(&ledger), config.committer.clone(), observer);
        let rate = RateLimiter::new(config.public_rate_per_second, config.public_burst);
        let app = Arc::new(App {
            ledger,
            committer,
            tokens,
            metrics,
            durable,
            stopping,
            config,
            rate,
            openapi: openapi::document().to_string(),
        });
        Ok((app, stop))
    }

    /// Runs `read` on the ledger under its read lock. The writer holds the write lock for
    /// one group commit at a time; rather than stall this runtime thread while it does, the
    /// wait happens off the async workers.
    pub fn read<T>(&self, read: impl FnOnce(&Ledger) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let poisoned = || ApiError::unavailable("the ledger's writer failed; restart the server");
        match self.ledger.try_read() {
            Ok(guard) => read(&guard),
            Err(TryLockError::WouldBlock) => {
                let blocking = tokio::runtime::Handle::try_current()
                    .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
                let guard = if blocking {
                    tokio::task::block_in_place(|| self.ledger.read())
                } else {
                    self.ledger.read()
                };
                let guard = guard.map_err(|_| poisoned())?;
                read(&guard)
            }
            Err(TryLockError::Poisoned(_)) => Err(poisoned()),
        }
    }

    /// Runs `change` on the ledger under its write lock, waiting off the async workers (the
    /// writer thread may hold it for a group commit). For rare upkeep, never for appends.
    pub fn write<T>(&self, change: impl FnOnce(&mut Ledger) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let multi_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let mut guard = if multi_thread {
            tokio::task::block_in_place(|| self.ledger.write())
        } else {
            self.ledger.write()
        }
        .map_err(|_| ApiError::unavailable("the ledger's writer failed; restart the server"))?;
        change(&mut guard)
    }

    /// The address a request counts against for rate limits: the peer, or with
    /// `trust_forwarded_for` the first address of `X-Forwarded-For` (set by a proxy in front).
    pub fn client_address(&self, peer: std::net::IpAddr, headers: &HeaderMap) -> std::net::IpAddr {
        if !self.config.trust_forwarded_for {
            return peer;
        }
        headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|first| first.trim().parse().ok())
            .unwrap_or(peer)
    }

    /// Whether a token still names a caller: live tails check it again as they run.
    pub fn still_valid(&self, token: &str) -> bool {
        matches!(self.tokens.authenticate(token), Ok(Ok(_)))
    }

    /// The caller a request's bearer token names: 401 without a valid one.
    pub fn caller(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let Some(value) = headers.get(axum::http::header::AUTHORIZATION) else {
            return Err(ApiError::unauthorized(
                "no bearer token: send Authorization: Bearer <token> (issued by chl token issue)",
            ));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("the Authorization header is not Bearer <token>"))?;
        match self.tokens.authenticate(token) {
            Ok(Ok(caller)) => Ok(caller),
            Ok(Err(Rejected::Unknown)) => Err(ApiError::unauthorized("the bearer token is not known")),
            Ok(Err(Rejected::Revoked)) => Err(ApiError::unauthorized("the bearer token was revoked")),
            Err(e) => Err(ApiError::unavailable(format!("cannot read the tokens: {e}"))),
        }
    }

    /// The caller, if its role is one of `roles`: 401 without a valid token, 403 otherwise.
    pub fn require(
        &self,
        headers: &HeaderMap,
        endpoint: Endpoint,
        roles: &[Role],
    ) -> Result<Caller, ApiError> {
        let caller = self.caller(headers)?;
        if roles.contains(&caller.role) {
            return Ok(caller);
        }
        Err(ApiError::forbidden(format!(
            "{} {} (role {}) may not call {} {}; it is for {}",
            if caller.role == Role::Party { "party" } else { "principal" },
            caller.principal,
            caller.role,
            match endpoint.spec().method {
                endpoints::Method::Get => "GET",
                endpoints::Method::Post => "POST",
            },
            endpoint.spec().path,
            roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(", ")
        )))
    }

    pub fn config(&self) -> &ServeConfig {
        &self.config
    }

    pub fn committer(&self) -> &Committer {
        &self.committer
    }
}

impl Server {
    /// Binds `addr` and serves `ledger` on the current tokio runtime (multi-threaded).
    pub async fn start(ledger: Ledger, addr: SocketAddr, config: ServeConfig) -> std::io::Result<Server> {
        let (app, stop) = App::new(ledger, config).map_err(std::io::Error::other)?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let router: Router = api::router(Arc::clone(&app));
        let mut stopping = app.stopping.clone();
        let task = tokio::spawn(async move {
            axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                .with_graceful_shutdown(async move {
                    let _ = stopping.wait_for(|s| *s).await;
                })
                .await
        });
        Ok(Server { addr, stop, task, app })
    }

    pub fn app(&self) -> &Arc<App> {
        &self.app
    }

    /// Stops accepting connections, lets in-flight requests finish (live tails end), stops
    /// the writer once its queue is drained (every accepted batch durable or refused), and
    /// hands the ledger back.
    pub async fn finish(mut self) -> std::io::Result<Option<Ledger>> {
        self.stop.send_replace(true);
        match tokio::time::timeout(self.app.config.drain_timeout, &mut self.task).await {
            Ok(served) => served.map_err(std::io::Error::other)??,
            Err(_) => {
                // Connections still open: drop them. Appends already queued still become
                // durable (or are refused) below, before the ledger is handed back.
                self.task.abort();
                let _ = (&mut self.task).await;
            }
        }
        let app = Arc::try_unwrap(self.app).ok();
        Ok(match app {
            Some(App { ledger, committer, .. }) => {
                // The committer cannot hand the ledger back while `ledger` shares it.
                drop(committer.shutdown());
                Arc::try_unwrap(ledger).ok().and_then(|l| l.into_inner().ok())
            }
            None => None,
        })
    }
}
