//! The HTTP service: router, shared state, and the server's life cycle.
//!
//! Handlers are thin: they read the request, call the job runner, the store or the core, and
//! turn the result into JSON. Every error goes through [`error::ApiError`].

mod body;
mod error;
mod jobs;
mod metrics;
mod models;
mod name;
mod pictures;
mod predict;
mod state;
mod train;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::Method;
use axum::middleware::{self, Next};

use axum::routing::{MethodRouter, delete, get, post};
use tokio::net::TcpListener;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

pub use error::ApiError;
pub use state::{AppState, ModelCache};

use crate::config::ServeArgs;
use crate::jobs::JobRegistry;
use crate::som::SizeLimits;
use crate::storage::ModelStore;

use body::BodyLimit;
use error::Failure;

/// The whole API over `state`, with bodies up to `max_body_bytes`.
pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    let routes = [
        ("/train", post(train::train)),
        ("/atrain", post(train::atrain)),
        ("/list-of-models", get(models::list)),
        ("/download/{name}", get(models::download)),
        ("/predict", get(predict::predict).post(predict::predict)),
        ("/jobs/{name}", get(jobs::get).merge(delete(jobs::cancel))),
        ("/models", get(models::list_details)),
        (
            "/models/{name}",
            get(models::get).delete(models::delete).put(models::import),
        ),
        ("/models/{name}/image.png", get(pictures::map)),
        ("/models/{name}/umatrix.png", get(pictures::umatrix)),
        ("/models/{name}/curves.png", get(pictures::curves)),
        ("/models/{name}/hits.png", post(pictures::hits)),
        (
            "/models/{name}/predictions.png",
            post(pictures::predictions),
        ),
        ("/health", get(models::health)),
        ("/metrics", get(metrics::metrics)),
    ];
    let requests = state.requests.clone();
    let mut router = Router::new();
    for (path, handler) in routes {
        router = with_and_without_slash(router, path, handler);
    }
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(
            move |mut request: Request, next: Next| {
                request.extensions_mut().insert(BodyLimit(max_body_bytes));
                next.run(request)
            },
        ))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn_with_state(
            requests,
            metrics::count_requests,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

/// Routes `path` and `path/` to the same handler: the Python client adds the slash, and a
/// redirect would lose a GET's body.
fn with_and_without_slash(
    router: Router<AppState>,
    path: &str,
    handler: MethodRouter<AppState>,
) -> Router<AppState> {
    router
        .route(path, handler.clone())
        .route(&format!("{path}/"), handler)
}

async fn not_found(request: Request) -> Failure {
    ApiError::NotFound(request.uri().path().to_owned()).into()
}

async fn method_not_allowed(method: Method, request: Request) -> Failure {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: request.uri().path().to_owned(),
    }
    .into()
}

/// Opens the models folder, recovers jobs left pending, binds `host:port` (port 0 picks a
/// free one) and returns the address bound and the server. The server runs until `shutdown`
/// completes, gives in-flight requests the grace period, then records the trainings still
/// running as failed ("interrupted by shutdown").
pub async fn start<S: Future<Output = ()> + Send + 'static>(
    args: &ServeArgs,
    shutdown: S,
) -> std::io::Result<(
    SocketAddr,
    impl Future<Output = std::io::Result<()>> + Send + use<S>,
)> {
    let store = ModelStore::open(&args.models.models_dir).map_err(std::io::Error::other)?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let jobs = JobRegistry::new(
        store.clone(),
        args.max_concurrent_jobs.unwrap_or(cores),
        args.queue_limit,
        args.training_priority,
    );
    let state = AppState {
        store,
        jobs: jobs.clone(),
        models: ModelCache::default(),
        requests: metrics::RequestCounts::default(),
        limits: SizeLimits {
            max_nodes: args.max_nodes,
            max_weights: args.max_weights,
        },
    };
    let app = router(state, args.max_body_bytes);
    let listener = TcpListener::bind(SocketAddr::new(args.host, args.port)).await?;
    let local = listener.local_addr()?;
    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let server = async move {
        let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stopping.send(true);
        });
        let deadline = async move {
            let _ = stopped.wait_for(|&stop| stop).await;
            tokio::time::sleep(grace).await;
        };
        let result = tokio::select! {
            result = serving => result,
            () = deadline => {
                tracing::warn!("the grace period ended with requests still in flight");
                Ok(())
            }
        };
        jobs.interrupt_all("interrupted by shutdown");
        result
    };
    Ok((local, server))
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
