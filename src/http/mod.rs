//! The HTTP service: router, shared state, and the server's life cycle.
//!
//! Handlers are thin: they read the request, call the job runner, the store or the core, and
//! turn the result into JSON. Every error goes through [`error::ApiError`].

mod body;
mod datasets;
mod error;
mod jobs;
mod metrics;
mod models;
mod name;
mod origin;
mod pictures;
mod predict;
mod schema;
mod server;
mod state;
mod train;
mod web;
mod wire;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::{self, Next};

use tokio::net::TcpListener;
use tower::Layer;
use tower::util::MapRequestLayer;
use tower_http::timeout::{DeadlineBody, RequestBodyTimeoutLayer};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use error::ApiError;
use state::AppState;

use crate::cluster::{Cluster, ClusterRepository, PgQueue, SharedDatasets};
use crate::config::{ClusterArgs, ServeArgs};
use crate::jobs::{InProcessQueue, Jobs, QueueSettings};
use crate::som::SizeLimits;
use crate::storage::{DatasetStore, Datasets, FolderRepository, ModelCache, ModelStore};

use body::BodyBudget;
use error::Failure;

/// The API's routes and their OpenAPI description, from the same handlers: `routes!` takes
/// each handler's `#[utoipa::path]`, so no route exists without its description.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(train::train))
        .routes(routes!(train::atrain))
        .routes(routes!(models::list))
        .routes(routes!(models::download))
        .routes(routes!(predict::predict_with_get, predict::predict))
        .routes(routes!(jobs::list))
        .routes(routes!(jobs::get, jobs::cancel))
        .routes(routes!(models::list_details))
        .routes(routes!(models::get, models::delete, models::import))
        .routes(routes!(models::nodes))
        .routes(routes!(pictures::map))
        .routes(routes!(pictures::umatrix))
        .routes(routes!(pictures::curves))
        .routes(routes!(pictures::components))
        .routes(routes!(pictures::figure))
        .routes(routes!(pictures::training_hits, pictures::hits))
        .routes(routes!(pictures::labels))
        .routes(routes!(pictures::predictions))
        .routes(routes!(datasets::list))
        .routes(routes!(datasets::get, datasets::put, datasets::delete))
        .routes(routes!(models::health))
        .routes(routes!(metrics::metrics))
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kohonen maps",
        description = "Train and serve Kohonen self-organising maps. Bodies are JSON whatever the Content-Type says; every path also answers with a trailing slash; every error is {\"message\", \"code\"} (plus \"exception\" with \"debug_mode\": true)."
    ),
    tags(
        (name = "training", description = "Train maps, synchronously or as background jobs"),
        (name = "jobs", description = "Follow and cancel trainings"),
        (name = "models", description = "Stored maps: list, describe, download, import, delete, predict"),
        (name = "datasets", description = "Uploaded training data: store, list, describe, delete"),
        (name = "pictures", description = "PNG pictures of a map"),
        (name = "service", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// What the router enforces besides the routes.
struct RouterSettings {
    body: BodyBudget,
    body_timeout: Duration,
    body_deadline: Duration,
    origins: origin::OriginPolicy,
    documented: schema::DocumentedLimits,
}

/// The whole API over `state`; `/docs` is the interactive page over `/openapi.json`, and `/`
/// the web page, their assets built into the binary.
fn router(state: AppState, settings: RouterSettings) -> Router {
    let (routes, mut document) = api().split_for_parts();
    schema::complete(&mut document, &settings.documented);
    let requests = state.requests.clone();
    let body = settings.body;
    let origins = settings.origins;
    let body_deadline = settings.body_deadline;
    routes
        .merge(
            SwaggerUi::new("/docs")
                .url("/openapi.json", document)
                .config(
                    // The validator badge loads an image from outside whenever the host is not
                    // localhost: the page must load nothing from elsewhere.
                    utoipa_swagger_ui::Config::default().validator_url("none"),
                ),
        )
        .merge(web::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(
            move |mut request: Request, next: Next| {
                request.extensions_mut().insert(body.clone());
                next.run(request)
            },
        ))
        .layer(RequestBodyTimeoutLayer::new(settings.body_timeout))
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            next.run(with_body_deadline(request, body_deadline))
        }))
        .layer(origins.cors())
        .layer(middleware::from_fn(move |request: Request, next: Next| {
            origin::check(origins.clone(), request, next)
        }))
        .layer(middleware::from_fn(origin::security_headers))
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

/// `request` with the total deadline on its body, unless it is a dataset upload: gigabytes that
/// keep arriving are not cut off at a deadline made for JSON bodies (the pause timeout still
/// holds, and the upload's size limit bounds it).
fn with_body_deadline(request: Request, deadline: Duration) -> Request {
    let upload = request.method() == Method::PUT && request.uri().path().starts_with("/datasets/");
    if upload {
        request
    } else {
        request.map(|body| Body::new(DeadlineBody::new(deadline, body)))
    }
}

/// Serves `path/` as `path` (the Python client adds the slash, and a redirect would lose a
/// GET's body), except under `/docs/`, whose page lives at the slash.
fn trim_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') && !path.starts_with("/docs") {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let rewritten = match request.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_owned(),
        };
        if let Ok(uri) = rewritten.parse() {
            *request.uri_mut() = uri;
        }
    }
    request
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

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database or the object store of `--database-url` / `--store` is missing or out of
    /// reach: the process exits with code 2.
    #[error("{0}")]
    Dependency(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Opens the models folder (or connects to the cluster's database and object store), recovers
/// jobs left pending, binds `host:port` (port 0 picks a free one) and returns the address bound
/// and the server. The server runs until `shutdown` completes, gives in-flight requests the
/// grace period, then records the trainings still running as failed ("interrupted by
/// shutdown"), or, in a cluster, hands them back to the queue.
pub async fn start<S: Future<Output = ()> + Send + 'static>(
    args: &ServeArgs,
    shutdown: S,
) -> Result<
    (
        SocketAddr,
        impl Future<Output = std::io::Result<()>> + Send + use<S>,
    ),
    StartError,
> {
    let limits = SizeLimits {
        max_nodes: args.max_nodes,
        max_weights: args.max_weights,
        max_iterations: args.max_iterations,
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let listener = TcpListener::bind(SocketAddr::new(args.host, args.port)).await?;
    let local = listener.local_addr()?;
    let settings = QueueSettings {
        max_concurrent: args.max_concurrent_jobs.unwrap_or(cores).max(1),
        queue_limit: args.queue_limit,
        priority: args.training_priority,
        replica_id: (args.cluster.replica_id.clone())
            .unwrap_or_else(|| default_replica_id(local.port())),
    };
    let staging = DatasetStore::open(args.models.models_dir.join("datasets"));
    let (store, datasets, jobs, cluster): (ModelStore, Datasets, Jobs, _) = match &args.cluster {
        ClusterArgs {
            database_url: Some(database_url),
            store: Some(store_url),
            job_lease_seconds,
            job_attempts,
            ..
        } => {
            let cluster = Cluster::connect(database_url, store_url, &settings.replica_id)
                .await
                .map_err(StartError::Dependency)?;
            let lease = Duration::from_secs(*job_lease_seconds);
            let queue = PgQueue::start(cluster.clone(), settings, lease, *job_attempts, limits);
            let repository = ClusterRepository::new(cluster.clone(), limits);
            let datasets = SharedDatasets::new(cluster.clone(), staging);
            (
                Arc::new(repository),
                Arc::new(datasets),
                Arc::new(queue),
                Some(cluster),
            )
        }
        _ => {
            let folder = FolderRepository::open(&args.models.models_dir)
                .map_err(std::io::Error::other)?
                .with_limits(limits);
            let store: ModelStore = Arc::new(folder);
            let queue = InProcessQueue::new(store.clone(), settings);
            (store, Arc::new(staging), Arc::new(queue), None)
        }
    };
    let state = AppState {
        cluster,
        models: ModelCache::new(store.clone(), args.model_cache_bytes),
        datasets,
        max_dataset_bytes: args.max_dataset_bytes,
        store,
        jobs: jobs.clone(),
        requests: metrics::RequestCounts::default(),
        limits,
        max_predict_work: args.max_predict_work,
    };
    let settings = RouterSettings {
        body: BodyBudget::new(args.max_body_bytes, args.max_inflight_body_bytes),
        body_timeout: Duration::from_secs(args.body_timeout_seconds),
        body_deadline: Duration::from_secs(args.body_deadline_seconds),
        origins: origin::OriginPolicy::new(&args.allowed_origins, &args.trusted_proxies),
        documented: schema::DocumentedLimits {
            max_iterations: args.max_iterations,
            max_nodes: args.max_nodes,
            max_body_bytes: args.max_body_bytes,
        },
    };
    let app = Router::new()
        .fallback_service(MapRequestLayer::new(trim_trailing_slash).layer(router(state, settings)));
    let open_files = server::raise_open_files_limit();
    let limits = server::ConnectionLimits {
        header_timeout: Duration::from_secs(args.header_timeout_seconds),
        max_connections: args.max_connections,
    };
    tracing::debug!(open_files, ?limits, "connection limits");
    let grace = Duration::from_secs(args.shutdown_grace_seconds);
    let (stopping, mut stopped) = tokio::sync::watch::channel(false);
    let server = async move {
        let releasing = jobs.clone();
        let serving = server::serve(listener, app, limits, async move {
            shutdown.await;
            let _ = stopping.send(true);
            // Jobs other replicas can take are given back now, not after the grace period.
            releasing.release().await;
        });
        let deadline = async move {
            let _ = stopped.wait_for(|&stop| stop).await;
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            () = serving => {}
            () = deadline => {
                tracing::warn!("the grace period ended with requests still in flight");
            }
        };
        jobs.shutdown().await;
        Ok(())
    };
    Ok((local, server))
}

/// This replica's name when `--replica-id` is not given: the host's name and the port it
/// listens on, unique among replicas on one host or many.
fn default_replica_id(port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{port}")
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
