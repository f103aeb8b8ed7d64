//! The daemon: a thin HTTP shell (axum) and a cron scheduler around the service layer. It
//! starts from a listener and a shutdown future, so tests bind port 0 and run the real thing.

mod auth;
mod body;
mod client;
pub mod drand;
pub mod error;
pub mod metrics;
mod openapi;
pub(crate) mod routes;
pub mod scheduler;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tracing::Instrument;

use self::error::{ApiError, ErrorCode};
use crate::config::Config;
use crate::config::EntropyKind;
use crate::service::access::PublicationKey;
use crate::service::bootstrap::{self, FirstStart};
use crate::service::enterprises::{AccessLimits, EnterpriseAccess};
use crate::service::clock::{Clock, ShiftedClock, SystemClock};
use crate::service::runs::{DrandSettings, DrawSettings, Runs};
use crate::service::ServiceError;
use crate::store::{self, Store};

/// What every handler shares.
pub struct AppState {
    pub runs: Arc<Runs>,
    pub metrics: Arc<metrics::Metrics>,
    pub config: Config,
    /// Present when commitments announce drand rounds.
    pub relays: Option<Arc<drand::Relays>>,
    /// The public check and the enterprises' own proofs, with their limits.
    pub enterprises: Arc<EnterpriseAccess>,
}

impl AppState {
    pub fn store(&self) -> &dyn Store {
        self.runs.store()
    }
}

/// A started daemon before it serves.
pub struct Started {
    pub state: Arc<AppState>,
    pub recovered: usize,
}

/// Opens the store and writes what a first start needs (key, admin account and token, the
/// demo marker: `service::bootstrap`). The caller prints the admin token at once, before
/// anything else can fail and lose it.
pub async fn open(config: &Config, demo: bool) -> Result<(Arc<dyn Store>, FirstStart), ServiceError> {
    let store: Arc<dyn Store> = Arc::from(store::open(&config.database.url, config.database.sealing_key()?).await?);
    let first =
        bootstrap::first_start(&*store, demo, config.accounts.token_days, SystemClock.now())
            .await?;
    Ok((store, first))
}

/// Builds the services on the opened store and completes draws a crash interrupted.
pub async fn start(
    config: Config,
    store: Arc<dyn Store>,
    key: PublicationKey,
) -> Result<Started, ServiceError> {
    let invalid = |e: crate::config::ConfigError| ServiceError::Invalid(e.to_string());
    let drand = match config.drand_chain().map_err(invalid)? {
        None => None,
        Some((name, chain)) => Some(DrandSettings {
            name,
            chain,
            margin_secs: config.drand.margin_secs as i64,
            clock: drand_clock()?,
        }),
    };
    let settings = DrawSettings {
        timezone: config.timezone().map_err(invalid)?,
        tier_source: config.credit.tier_source,
        witness_event: config.draw.witness_event.clone(),
        witnesses: config.draw.witnesses,
        witness_by_default: config.draw.entropy.contains(&EntropyKind::Witness),
        drand,
        due_soon_working_days: config.draw.due_soon_working_days,
        lease: chrono::Duration::seconds(config.draw.lease_secs.min(86_400) as i64),
        log_origin: config.server.log_origin.clone(),
    };
    let relays = match settings.drand {
        None => None,
        Some(_) => Some(Arc::new(drand::Relays::new(
            config.drand.relays.clone(),
            Duration::from_secs(config.drand.timeout_secs.max(1)),
        )?)),
    };
    let runs = Arc::new(Runs::new(store, key, settings).await?);
    let limits = AccessLimits {
        lookups_per_minute: config.access.lookups_per_minute,
        failures_per_hour: config.access.failures_per_hour,
        failures_per_hour_per_code: config.access.failures_per_hour_per_code,
    };
    let enterprises = Arc::new(EnterpriseAccess::new(runs.store(), runs.now(), limits).await?);
    let recovered = runs.recover().await?;
    Ok(Started {
        state: Arc::new(AppState {
            runs,
            metrics: Default::default(),
            config,
            relays,
            enterprises,
        }),
        recovered,
    })
}

/// Tests replay recorded beacons by running the drand clock from `DOUBLE_RANDOM_DRAND_NOW`
/// (RFC 3339) instead of now; the rest of the daemon keeps the real time.
fn drand_clock() -> Result<Arc<dyn Clock>, ServiceError> {
    let Ok(at) = std::env::var("DOUBLE_RANDOM_DRAND_NOW") else {
        return Ok(Arc::new(SystemClock));
    };
    let at = chrono::DateTime::parse_from_rfc3339(&at)
        .map_err(|e| ServiceError::Invalid(format!("DOUBLE_RANDOM_DRAND_NOW {at:?}: {e}")))?;
    tracing::warn!(%at, "the drand clock is set by DOUBLE_RANDOM_DRAND_NOW (tests only)");
    Ok(Arc::new(ShiftedClock::starting_at(at.to_utc())))
}

/// Serves until `shutdown` resolves: in-flight requests finish (each transition is one
/// transaction, so a cut-off one rolls back), the scheduler and the drand watcher stop after
/// their current pass, then the store closes.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    scheduler: bool,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sched = scheduler.then(|| {
        tokio::spawn(scheduler::run(
            state.runs.clone(),
            state.metrics.clone(),
            Duration::from_secs(state.config.server.scheduler_interval_secs.max(1)),
            stopped,
        ))
    });
    let watcher = state.relays.clone().filter(|_| scheduler).map(|relays| {
        let d = &state.config.drand;
        tokio::spawn(drand::run(
            state.runs.clone(),
            relays,
            state.metrics.clone(),
            Duration::from_secs(d.retry_secs.max(1)),
            Duration::from_secs(d.stall_after_secs),
            stop.subscribe(),
        ))
    });
    let app = router(state.clone());
    // The peer's address reaches the handlers (the rate limits count by it).
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await;
    let _ = stop.send(true);
    for job in sched.into_iter().chain(watcher) {
        let _ = job.await;
    }
    state.store().close().await;
    served
}

pub fn router(state: Arc<AppState>) -> Router {
    let upload_limit = state.config.server.max_upload_bytes;
    let body_limit = state.config.server.max_body_bytes;
    routes::routes(state.clone(), upload_limit)
        .layer(DefaultBodyLimit::max(body_limit))
        .fallback(routes::unknown_route)
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

/// A tracing span per request and the request metrics.
async fn observe(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().as_str().to_owned();
    let span = tracing::info_span!("http", %method, %route, status = tracing::field::Empty);
    let started = Instant::now();
    let response = next.run(req).instrument(span.clone()).await;
    span.record("status", response.status().as_u16());
    state.metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Errors axum answers itself (a malformed query, a body over the limit, a wrong method) in
/// the same JSON shape as ours.
async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.as_u16() < 400 || is_json {
        return response;
    }
    let code = match status.as_u16() {
        400 => ErrorCode::BadRequest,
        405 => ErrorCode::MethodNotAllowed,
        413 => ErrorCode::PayloadTooLarge,
        415 => ErrorCode::UnsupportedMediaType,
        422 => ErrorCode::Invalid,
        _ => ErrorCode::Error,
    };
    let body = axum::body::to_bytes(response.into_body(), 64 << 10)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_owned();
    let message = match text.is_empty() {
        true => status.canonical_reason().unwrap_or("error").to_owned(),
        false => text,
    };
    ApiError::new(status, code, message).into_response()
}
