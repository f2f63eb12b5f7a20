//! `GET /metrics`: counters in Prometheus' text format, and the middleware that counts
//! requests.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::models::blocking;
use super::state::AppState;

/// Requests answered, by method, route (the route's pattern, so names do not multiply the
/// series) and status.
#[derive(Clone, Default)]
pub struct RequestCounts {
    counts: Arc<Mutex<BTreeMap<Series, u64>>>,
}

/// Route, method and status of a request.
type Series = (String, &'static str, u16);

/// The route pattern of a request, as a label: `/download/{name}` rather than each name, the
/// same with or without the trailing slash, and `unmatched` for unknown paths.
fn route_label(matched: Option<&MatchedPath>) -> String {
    match matched.map(MatchedPath::as_str) {
        Some("/") => "/".to_owned(),
        Some(route) => route.trim_end_matches('/').to_owned(),
        None => "unmatched".to_owned(),
    }
}

/// Middleware: counts every request once its answer is ready.
pub async fn count_requests(
    State(counts): State<RequestCounts>,
    request: Request,
    next: Next,
) -> Response {
    let route = route_label(request.extensions().get::<MatchedPath>());
    let method = method_label(request.method());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    *counts
        .counts
        .lock()
        .expect("request counts lock")
        .entry((route, method, status))
        .or_default() += 1;
    response
}

/// Standard methods by name, anything else as `other`, so a client cannot add series.
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    [
        M::GET,
        M::POST,
        M::PUT,
        M::DELETE,
        M::HEAD,
        M::OPTIONS,
        M::PATCH,
    ]
    .into_iter()
    .zip(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH"])
    .find(|(known, _)| known == method)
    .map_or("other", |(_, label)| label)
}

#[utoipa::path(get, path = "/metrics", tag = "service",
    description = "Prometheus text: requests by method, route and status; jobs by status; training seconds; model cache hits and misses; models.",
    responses((status = 200, description = "Metrics", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let listed = {
        let store = state.store.clone();
        blocking(move || store.list().map(|names| names.len()))
            .await
            .ok()
            .and_then(Result::ok)
    };
    let mut text = String::new();
    family(
        &mut text,
        "kohonen_http_requests_total",
        "counter",
        "HTTP requests answered, by method, route and status.",
    );
    for ((route, method, status), count) in state
        .requests
        .counts
        .lock()
        .expect("request counts lock")
        .iter()
    {
        let _ = writeln!(
            text,
            "kohonen_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
        );
    }
    family(
        &mut text,
        "kohonen_jobs",
        "gauge",
        "Training jobs of this process, by status.",
    );
    for (status, count) in state.jobs.count_by_status() {
        let _ = writeln!(
            text,
            "kohonen_jobs{{status=\"{}\"}} {count}",
            status.as_str()
        );
    }
    family(
        &mut text,
        "kohonen_training_seconds_total",
        "counter",
        "Seconds spent training, summed over the jobs that ended.",
    );
    let _ = writeln!(
        text,
        "kohonen_training_seconds_total {}",
        state.jobs.training_seconds()
    );
    let (hits, misses) = state.models.hits_and_misses();
    family(
        &mut text,
        "kohonen_model_cache_hits_total",
        "counter",
        "Predictions served by a map already in memory.",
    );
    let _ = writeln!(text, "kohonen_model_cache_hits_total {hits}");
    family(
        &mut text,
        "kohonen_model_cache_misses_total",
        "counter",
        "Predictions that read the map from disk.",
    );
    let _ = writeln!(text, "kohonen_model_cache_misses_total {misses}");
    if let Some(models) = listed {
        family(
            &mut text,
            "kohonen_models",
            "gauge",
            "Complete models in the models folder.",
        );
        let _ = writeln!(text, "kohonen_models {models}");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

fn family(text: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(text, "# HELP {name} {help}\n# TYPE {name} {kind}");
}
