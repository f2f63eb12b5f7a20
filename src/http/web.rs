//! The web page at `/`: one HTML file, its ES modules and its style, built into the binary so
//! it works offline and in the container. It uses the public API only.

use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::ApiError;
use super::state::AppState;

const INDEX: &str = include_str!("web/index.html");

const SCRIPT: &str = "text/javascript; charset=utf-8";

/// Every file under `/assets/`: its name, type and text. The modules import each other by
/// these names, so a module missing here fails the page's first load in the browser test.
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", SCRIPT, include_str!("web/app.js")),
    ("api.js", SCRIPT, include_str!("web/api.js")),
    ("data.js", SCRIPT, include_str!("web/data.js")),
    ("jobs.js", SCRIPT, include_str!("web/jobs.js")),
    ("models.js", SCRIPT, include_str!("web/models.js")),
    ("options.js", SCRIPT, include_str!("web/options.js")),
    (
        "style.css",
        "text/css; charset=utf-8",
        include_str!("web/style.css"),
    ),
];

/// `GET /` and `GET /assets/{file}`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route("/assets/{file}", get(asset_file))
}

async fn asset_file(Path(file): Path<String>) -> Result<Response, super::error::Failure> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(name, _, _)| *name == file)
        .ok_or_else(|| ApiError::NotFound(format!("/assets/{file}")))?;
    Ok(asset(content_type, body).into_response())
}

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}
