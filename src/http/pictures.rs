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
use crate::render::{self, Curves, Map, Picture, Sizing};
use crate::storage::DataRecord;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PictureOptions {
    /// Pixels per node (default: about 400 pixels across; at most 4 megapixels, so at most
    /// 2000 on a 1 x 1 map and 200 on a 10 x 10 one). Not with size.
    #[param(value_type = Option<usize>, minimum = 1)]
    scale: Option<String>,
    /// At most this many pixels on the picture's longer side (16 to 2000), at the largest
    /// scale that fits; nodes are averaged when there are more than fit. Not with scale.
    #[param(value_type = Option<usize>, minimum = 16, maximum = 2000)]
    size: Option<String>,
}

/// Which feature `components.png` draws.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeatureOption {
    /// One feature's panel, by index from 0 or by name (default: a panel per feature, at
    /// most 64).
    feature: Option<String>,
}

/// The sizing a picture's query asks for, each number checked before it sizes anything.
fn options(query: Result<Query<PictureOptions>, QueryRejection>) -> Result<Sizing, ApiError> {
    let Query(options) = query.map_err(|_| ApiError::InvalidType {
        field: "scale",
        expected: "a whole number of pixels per node, at least 1",
    })?;
    let number = |value: Option<String>, field, expected| {
        value
            .map(|text| {
                text.parse::<usize>()
                    .map_err(|_| ApiError::InvalidType { field, expected })
            })
            .transpose()
    };
    let scale = number(
        options.scale,
        "scale",
        "a whole number of pixels per node, at least 1",
    )?;
    let size = number(
        options.size,
        "size",
        "a whole number of pixels on the longer side, 16 to 2000",
    )?;
    Ok(Sizing::new(scale, size)?)
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
#[derive(Debug)]
enum Kind {
    Map,
    Umatrix,
    Curves,
    /// The panels of all features, or of the one named (an index or a name).
    Components(Option<String>),
    Figure,
    /// Where the training data landed, from the model's record.
    Hits,
    /// Each node's majority label, from the model's record.
    Labels,
}

/// What `name`'s record knows of its training data, or why it knows nothing.
fn training_record(state: &AppState, name: &str) -> Result<DataRecord, ApiError> {
    (state.store.data_record(name)?).ok_or_else(|| ApiError::NoNodeSummary(name.to_owned()))
}

/// Serves a `GET` picture: 304 when the client's copy is current, else draws it.
async fn get_picture(
    state: AppState,
    name: String,
    kind: Kind,
    sizing: Sizing,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let asked = format!("{kind:?}:{sizing:?}");
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
            Kind::Map => render::map_png(&drawn()?, sizing)?,
            Kind::Umatrix => {
                let title = format!("U-matrix of {name}");
                render::umatrix_png(&drawn()?, &title, sizing)?
            }
            Kind::Curves => {
                let meta = state.store.describe(&name)?;
                render::curves_png(&format!("Training of {name}"), &Curves::of_record(&meta))?
            }
            Kind::Components(feature) => {
                let model = state.models.model(&name)?;
                let names = render::feature_names(&model);
                let feature = (feature.as_deref())
                    .map(|asked| render::feature_index(&names, asked))
                    .transpose()?;
                render::components_png(&Map::of_model(&model), &names, feature, sizing)?
            }
            Kind::Figure => render::figure_png(&drawn()?, &name, sizing)?,
            Kind::Hits => {
                let record = training_record(&state, &name)?;
                render::training_hits_png(&drawn()?, &record, sizing)?
            }
            Kind::Labels => {
                let record = training_record(&state, &name)?;
                render::training_labels_png(&drawn()?, &record, sizing)
                    .ok_or_else(|| ApiError::NoLabels(name.clone()))??
            }
        };
        Ok::<_, ApiError>(picture)
    })
    .await??;
    Ok(png_response(&picture, Some(etag)))
}

#[utoipa::path(get, path = "/models/{name}/image.png", tag = "pictures",
    description = "The map, in the data's units (a scaled model's weights are scaled back), with no margin. On a rectangular grid node (r, c) fills columns [c*s, (c+1)*s) and rows [r*s, (r+1)*s). On a hexagonal grid each node is a hexagon with a vertical point, s wide, in rows offset by half a node: node (r, c) is centred at (s (c + 1/2 + (r mod 2)/2), s (1/sqrt(3) + r sqrt(3)/2)), each pixel belongs to the nearest centre, and the picture is floor((y + 1/2) s) by round(s (3x + 1) / (2 sqrt(3))) pixels for an x by y map, white where no hexagon is. D=3 is RGB (min-max scaled per channel if outside [0, 1]), D=1 grey, other D the first principal components; the header X-Colour-Mapping says which. A huge map is averaged down (X-Nodes-Per-Pixel), as is one with more nodes across than size= pixels.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), PictureOptions),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 304, description = "Unchanged since the ETag sent in If-None-Match"), (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 422, description = "Scale 0 or too large (invalid_scale), a size out of 16..=2000, too small for the picture or given with scale (invalid_size)", body = ErrorOut, example = json!({"message": "scale 0 is not possible for a 10x10 map: use 1 to 200 pixels per node", "code": "invalid_scale"}))))]
pub async fn map(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    query: Result<Query<PictureOptions>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    get_picture(state, name, Kind::Map, options(query)?, headers).await
}

#[utoipa::path(get, path = "/models/{name}/components.png", tag = "pictures",
    description = "The component planes: a panel per feature (at most 64; more need feature=), titled with the feature's name, showing that weight of every node in the data's units as a heat map laid out like image.png (hexagons on a hexagonal map), with a colour bar from its lowest to its highest value. Panels are filled row by row, as square a grid of them as can be. With feature=K (an index from 0) or feature=NAME, that feature's panel alone.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), PictureOptions, FeatureOption),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 304, description = "Unchanged since the ETag sent in If-None-Match"), (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 422, description = "An unknown feature, more than 64 features without feature=, or a bad scale or size", body = ErrorOut, example = json!({"message": "no feature \"colour\": give an index from 0 to 2 or a name (\"feature 0\", \"feature 1\", \"feature 2\")", "code": "invalid_feature"}))))]
pub async fn components(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    query: Result<Query<PictureOptions>, QueryRejection>,
    feature: Result<Query<FeatureOption>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let sizing = options(query)?;
    let Query(FeatureOption { feature }) = feature.map_err(|_| ApiError::InvalidType {
        field: "feature",
        expected: "a feature's index from 0 or its name",
    })?;
    get_picture(state, name, Kind::Components(feature), sizing, headers).await
}

#[utoipa::path(get, path = "/models/{name}/figure.png", tag = "pictures",
    description = "The map as a figure: the model's name as its title (shortened with an ellipsis when too long), node numbers from 0 with tick marks left of the rows and below the columns, and, unless the weights are the colours (D=3 in [0, 1]), a legend saying how the colours were made (X-Colour-Mapping names the rule, as for image.png).",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), PictureOptions),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 304, description = "Unchanged since the ETag sent in If-None-Match"), (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 422, description = "A bad scale or size", body = ErrorOut, example = json!({"message": "give either size (pixels on the longer side) or scale (pixels per node), not both", "code": "invalid_size"}))))]
pub async fn figure(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    query: Result<Query<PictureOptions>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    get_picture(state, name, Kind::Figure, options(query)?, headers).await
}

#[utoipa::path(get, path = "/models/{name}/umatrix.png", tag = "pictures",
    description = "The U-matrix: each node's mean distance (in the data's units) to its neighbours on the map's grid (8 on a rectangular grid, 6 on a hexagonal one, wrapping round a toroidal one), as a heat map laid out like image.png, with a colour bar. High values are boundaries between clusters.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), PictureOptions),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 304, description = "Unchanged since the ETag sent in If-None-Match"), (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 422, description = "Scale 0 or too large (invalid_scale), a size out of 16..=2000, too small for the picture or given with scale (invalid_size)", body = ErrorOut, example = json!({"message": "scale 0 is not possible for a 10x10 map: use 1 to 200 pixels per node", "code": "invalid_scale"}))))]
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
    get_picture(state, name, Kind::Curves, Sizing::Default, headers).await
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
    sizing: Sizing,
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
            Overlay::Hits => {
                let hits = render::hits_per_node(map.grid(), &best);
                render::hits_png(&map, &hits, sizing)?
            }
            Overlay::Predictions => render::predictions_png(&map, data.view(), &best, sizing)?,
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

#[utoipa::path(get, path = "/models/{name}/hits.png", tag = "pictures",
    description = "The map with a disc on every node that won some of the training data, its area in proportion to their number (from the model's record; POST draws new vectors' hits instead). A mark is at least 6 pixels across: on cells under 8 pixels it is a square centred on the node that covers some of its neighbours.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), PictureOptions),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 304, description = "Unchanged since the ETag sent in If-None-Match"), (status = 404, description = "No such model, or it keeps no summary of its training data (imported, or trained before summaries were kept)", body = ErrorOut, example = json!({"message": "the model \"x\" has no summary of its training data: it was imported, trained before summaries were kept, or is not trained yet", "code": "no_node_summary"})), (status = 422, description = "A bad scale or size", body = ErrorOut, example = json!({"message": "scale 0 is not possible for a 10x10 map: use 1 to 200 pixels per node", "code": "invalid_scale"}))))]
pub async fn training_hits(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    query: Result<Query<PictureOptions>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    get_picture(state, name, Kind::Hits, options(query)?, headers).await
}

#[utoipa::path(get, path = "/models/{name}/labels.png", tag = "pictures",
    description = "Each node in the colour of the label most of its training samples carried (grey where it won none), paler where it won fewer, with a legend of the labels. For a model trained with labels.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), PictureOptions),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 304, description = "Unchanged since the ETag sent in If-None-Match"), (status = 404, description = "No such model, no summary of its training data, or trained without labels", body = ErrorOut, example = json!({"message": "the model \"x\" was trained without labels: send labels (or a dataset with a label_column) when training", "code": "no_labels"})), (status = 422, description = "A bad scale or size", body = ErrorOut, example = json!({"message": "scale 0 is not possible for a 10x10 map: use 1 to 200 pixels per node", "code": "invalid_scale"}))))]
pub async fn labels(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    query: Result<Query<PictureOptions>, QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    get_picture(state, name, Kind::Labels, options(query)?, headers).await
}

#[utoipa::path(post, path = "/models/{name}/hits.png", tag = "pictures",
    description = "The map with a disc on every node that is the best match of some vectors, its area in proportion to their number. A mark is at least 6 pixels across: on cells under 8 pixels it is a square centred on the node that covers some of its neighbours.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), PictureOptions),
    request_body(content = VectorsIn, content_type = "application/json", description = "Vectors as for /predict: test_data nested n x D, or flat with test_data_shape"),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 422, description = "Invalid vectors, scale or size", body = ErrorOut, example = json!({"message": "the vectors have 2 components but the map's nodes have 3", "code": "dimension_mismatch"}))))]
pub async fn hits(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    query: Result<Query<PictureOptions>, QueryRejection>,
    body: JsonBody<VectorsIn>,
) -> Result<Response, Failure> {
    post_picture(state, name, options(query)?, body, Overlay::Hits).await
}

#[utoipa::path(post, path = "/models/{name}/predictions.png", tag = "pictures",
    description = "The map with each vector drawn at its best-matching node, in its own colour, labelled with its index. A mark is at least 6 pixels across: on cells under 8 pixels it is a square centred on the node that covers some of its neighbours.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), PictureOptions),
    request_body(content = VectorsIn, content_type = "application/json", description = "Vectors as for /predict: test_data nested n x D, or flat with test_data_shape"),
    responses((status = 200, description = "The picture", content_type = "image/png", body = Vec<u8>), (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 422, description = "Invalid vectors, scale or size", body = ErrorOut, example = json!({"message": "the vectors have 2 components but the map's nodes have 3", "code": "dimension_mismatch"}))))]
pub async fn predictions(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    query: Result<Query<PictureOptions>, QueryRejection>,
    body: JsonBody<VectorsIn>,
) -> Result<Response, Failure> {
    post_picture(state, name, options(query)?, body, Overlay::Predictions).await
}
