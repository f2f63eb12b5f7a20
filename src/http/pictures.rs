//! Pictures of a model as PNG, under `/models/{name}/`: drawn by [`crate::render`] off the
//! async runtime, with an `ETag` so a browser does not fetch the same picture twice.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::body::{JsonBody, RequestBody};
use super::error::{ApiError, ErrorOut, Failure};
use super::models::{blocking, fingerprint};
use super::name::ModelName;
use super::predict::{VectorsIn, predict_abandonable};
use super::state::AppState;
use crate::render::{self, Curves, Map, Picture};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PictureOptions {
    /// Pixels per node (default: about 400 pixels across; at most 4 megapixels, so at most
    /// 2000 on a 1 x 1 map and 200 on a 10 x 10 one).
    #[param(minimum = 1)]
    scale: Option<usize>,
}

fn options(
    query: Result<Query<PictureOptions>, QueryRejection>,
) -> Result<Option<usize>, ApiError> {
    query
        .map(|Query(options)| options.scale)
        .map_err(|_| ApiError::InvalidType {
            field: "scale",
            expected: "a whole number of pixels per node, at least 1",
        })
}

/// The picture's `ETag`: what was asked, the versions of the model's files, and the
/// server's version (another release may draw differently).
fn version_tag(state: &AppState, name: &str, what: &str) -> Result<String, ApiError> {
    let version = format!(
        "{}:{what}:{name}:{}",
        env!("CARGO_PKG_VERSION"),
        state.store.version(name)?
    );
    Ok(format!("\"{:016x}\"", fingerprint(version.as_bytes())))
}

fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        })
}

/// The PNG response, with how it was drawn in headers.
fn png_response(picture: &Picture, etag: Option<String>) -> Response {
    let mut response = (
        [(header::CONTENT_TYPE, HeaderValue::from_static("image/png"))],
        picture.png.clone(),
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-scale", HeaderValue::from(picture.scale));
    headers.insert(
        "x-nodes-per-pixel",
        HeaderValue::from(picture.nodes_per_pixel),
    );
    if let Some(mapping) = picture.mapping {
        headers.insert(
            "x-colour-mapping",
            HeaderValue::from_static(mapping.as_str()),
        );
    }
    if let Some(etag) = etag.and_then(|etag| HeaderValue::from_str(&etag).ok()) {
        headers.insert(header::ETAG, etag);
    }
    response
}

/// Which picture of the stored weights a `GET` asks for.
#[derive(Clone, Copy)]
enum Kind {
    Map,
    Umatrix,
    Curves,
}

/// Serves a `GET` picture: 304 when the client's copy is current, else draws it.
async fn get_picture(
    state: AppState,
    name: String,
    kind: Kind,
    scale: Option<usize>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let asked = match kind {
        Kind::Map => format!("map:{scale:?}"),
        Kind::Umatrix => format!("umatrix:{scale:?}"),
        Kind::Curves => "curves".to_owned(),
    };
    let lookup = (state.clone(), name.clone());
    let etag = blocking(move || version_tag(&lookup.0, &lookup.1, &asked)).await??;
    if matches(&headers, &etag) {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        if let Ok(value) = HeaderValue::from_str(&etag) {
            response.headers_mut().insert(header::ETAG, value);
        }
        return Ok(response);
    }
    let picture = blocking(move || {
        let drawn = || Ok::<_, ApiError>(Map::of_model(&state.models.model(&name)?));
        let picture = match kind {
            Kind::Map => render::map_png(&drawn()?, scale)?,
            Kind::Umatrix => {
                let title = format!("U-matrix of {name}");
                render::umatrix_png(&drawn()?, &title, scale)?
            }
            Kind::Curves => {
                let meta = state.store.describe(&name)?;
                render::curves_png(&format!("Training of {name}"), &Curves::of_record(&meta))?
            }
        };
        Ok::<_, ApiError>(picture)
    })
    .await??;
    Ok(png_response(&picture, Some(etag)))
}

#[utoipa::path(get, path = "/models/{name}/image.png", tag = "pictures",
    description = "The map, in the data's units (a scaled model's weights are scaled back), with no margin. On a rectangular grid node (r, c) fills columns [c*s, (c+1)*s) and rows [r*s, (r+1)*s). On a hexagonal grid each node is a hexagon with a vertical point, s wide, in rows offset by half a node: node (r, c) is centred at (s (c + 1/2 + (r mod 2)/2), s (1/sqrt(3) + r sqrt(3)/2)), each pixel belongs to the nearest centre, and the picture is floor((y + 1/2) s) by round(s (3x + 1) / (2 sqrt(3))) pixels for an x by y map, white where no hexagon is. D=3 is RGB (min-max scaled per channel if outside [0, 1]), D=1 grey, other D the first principal components; the header X-Colour-Mapping says which. A huge map is averaged down (X-Nodes-Per-Pixel).",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), PictureOptions),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 304, description = "Unchanged since the ETag sent in If-None-Match"), (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 422, description = "Scale 0 or too large", body = ErrorOut, example = json!({"message": "scale 0 is not possible for a 10x10 map: use 1 to 200 pixels per node", "code": "invalid_scale"}))))]
pub async fn map(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    query: Result<Query<PictureOptions>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    get_picture(state, name, Kind::Map, options(query)?, headers).await
}

#[utoipa::path(get, path = "/models/{name}/umatrix.png", tag = "pictures",
    description = "The U-matrix: each node's mean distance (in the data's units) to its neighbours on the map's grid (8 on a rectangular grid, 6 on a hexagonal one, wrapping round a toroidal one), as a heat map laid out like image.png, with a colour bar. High values are boundaries between clusters.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), PictureOptions),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 304, description = "Unchanged since the ETag sent in If-None-Match"), (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 422, description = "Scale 0 or too large", body = ErrorOut, example = json!({"message": "scale 0 is not possible for a 10x10 map: use 1 to 200 pixels per node", "code": "invalid_scale"}))))]
pub async fn umatrix(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    query: Result<Query<PictureOptions>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    get_picture(state, name, Kind::Umatrix, options(query)?, headers).await
}

#[utoipa::path(get, path = "/models/{name}/curves.png", tag = "pictures",
    description = "From the model's training record, by iteration: the neighbourhood radius, and the learning rate (online training) or the quantization and topographic errors (batch training).",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N")),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 304, description = "Unchanged since the ETag sent in If-None-Match"), (status = 404, description = "No such model, or it has no training record (imported or dropped in by hand)", body = ErrorOut, example = json!({"message": "there is nothing to draw: the training record has no per-iteration radius, learning rate or errors", "code": "not_found"}))))]
pub async fn curves(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    get_picture(state, name, Kind::Curves, None, headers).await
}

/// What a `POST` picture draws over the map.
#[derive(Clone, Copy)]
enum Overlay {
    Hits,
    Predictions,
}

/// Draws the vectors of a `/predict`-like body over the map.
async fn post_picture(
    state: AppState,
    name: String,
    scale: Option<usize>,
    JsonBody { value, warnings }: JsonBody<VectorsIn>,
    overlay: Overlay,
) -> Result<Response, Failure> {
    let debug = value.debug_mode();
    let data = value.into_vectors().map_err(|err| err.debug(debug))?;
    let (model, best) = predict_abandonable(&state, &name, data.clone())
        .await
        .map_err(|err| err.debug(debug))?;
    let picture = blocking(move || {
        let map = Map::of_model(&model);
        let picture = match overlay {
            Overlay::Hits => render::hits_png(&map, &best, scale)?,
            Overlay::Predictions => render::predictions_png(&map, data.view(), &best, scale)?,
        };
        Ok::<_, ApiError>(picture)
    })
    .await?
    .map_err(|err| err.debug(debug))?;
    let mut response = png_response(&picture, None);
    if let Ok(value) = HeaderValue::from_str(&warnings.join("; "))
        && !warnings.is_empty()
    {
        response.headers_mut().insert("x-warnings", value);
    }
    Ok(response)
}

#[utoipa::path(post, path = "/models/{name}/hits.png", tag = "pictures",
    description = "The map with a disc on every node that is the best match of some vectors, its area in proportion to their number.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), PictureOptions),
    request_body(content = VectorsIn, content_type = "application/json", description = "Vectors as for /predict: test_data nested n x D, or flat with test_data_shape"),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 422, description = "Invalid vectors or scale", body = ErrorOut, example = json!({"message": "the vectors have 2 components but the map's nodes have 3", "code": "dimension_mismatch"}))))]
pub async fn hits(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    query: Result<Query<PictureOptions>, QueryRejection>,
    body: JsonBody<VectorsIn>,
) -> Result<Response, Failure> {
    post_picture(state, name, options(query)?, body, Overlay::Hits).await
}

#[utoipa::path(post, path = "/models/{name}/predictions.png", tag = "pictures",
    description = "The map with each vector drawn at its best-matching node, in its own colour, labelled with its index.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), PictureOptions),
    request_body(content = VectorsIn, content_type = "application/json", description = "Vectors as for /predict: test_data nested n x D, or flat with test_data_shape"),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 422, description = "Invalid vectors or scale", body = ErrorOut, example = json!({"message": "the vectors have 2 components but the map's nodes have 3", "code": "dimension_mismatch"}))))]
pub async fn predictions(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    query: Result<Query<PictureOptions>, QueryRejection>,
    body: JsonBody<VectorsIn>,
) -> Result<Response, Failure> {
    post_picture(state, name, options(query)?, body, Overlay::Predictions).await
}
