//! `GET /predict` (with a JSON body, as the Python client sends it) and `POST /predict`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::body::{Fields, JsonBody};
use super::error::{ApiError, Failure};
use super::models::blocking;
use super::state::AppState;
use crate::storage::validate_name;

#[utoipa::path(get, operation_id = "predict_with_get", path = "/predict", tag = "models",
    description = "POST /predict as a GET with a JSON body, which is what the Python client sends. A browser (and this page) cannot send a GET with a body: use POST /predict here, with the same body and the same answer.",
    request_body(content = Object, description = "model_name and test_data (nested n x D, or flat with test_data_shape); an empty list gives []", example = json!({"model_name": "10X10_100N", "test_data": [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]})),
    responses(
        (status = 200, description = "Predictions, in the order of the vectors", body = Object, example = json!({"operation-location": "10X10_100N", "predictions": [[0, 9], [9, 2]]})),
        (status = 400, description = "The body is not JSON", body = Object, example = json!({"message": "the body is not valid JSON: expected value at line 1 column 1", "code": "invalid_json"})), (status = 400, description = "The name breaks the naming rule", body = Object, example = json!({"message": "invalid model name \"../x\": use 1-200 ASCII letters, digits, '.', '_' or '-', not starting with '.'", "code": "invalid_name"})), (status = 404, description = "No such model", body = Object, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 422, description = "The vectors' dimension differs from the map's, or the data is invalid", body = Object, example = json!({"message": "the vectors have 2 components but the map's nodes have 3", "code": "dimension_mismatch"})),
    ))]
pub async fn predict_with_get(
    state: State<AppState>,
    body: JsonBody,
) -> Result<Json<Value>, Failure> {
    predict(state, body).await
}

#[utoipa::path(post, path = "/predict", tag = "models",
    description = "The best-matching node [row, col] of every vector. This is the form to use from this page; GET /predict takes the same body.",
    request_body(content = Object, description = "model_name and test_data (nested n x D, or flat with test_data_shape); an empty list gives []", example = json!({"model_name": "10X10_100N", "test_data": [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]})),
    responses(
        (status = 200, description = "Predictions, in the order of the vectors", body = Object, example = json!({"operation-location": "10X10_100N", "predictions": [[0, 9], [9, 2]]})),
        (status = 400, description = "The body is not JSON", body = Object, example = json!({"message": "the body is not valid JSON: expected value at line 1 column 1", "code": "invalid_json"})), (status = 400, description = "The name breaks the naming rule", body = Object, example = json!({"message": "invalid model name \"../x\": use 1-200 ASCII letters, digits, '.', '_' or '-', not starting with '.'", "code": "invalid_name"})), (status = 404, description = "No such model", body = Object, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 422, description = "The vectors' dimension differs from the map's, or the data is invalid", body = Object, example = json!({"message": "the vectors have 2 components but the map's nodes have 3", "code": "dimension_mismatch"})),
    ))]
pub async fn predict(
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Json<Value>, Failure> {
    let fields = Fields(&body.0);
    let debug = fields.flag("debug_mode").unwrap_or(false);
    let parsed = (|| {
        let name = fields.string("model_name")?.to_owned();
        validate_name(&name)?;
        let data = fields.data("test_data", "test_data_shape")?;
        Ok::<_, ApiError>((name, data))
    })();
    let (name, data) = parsed.map_err(|err| err.debug(debug))?;
    let predictions = blocking(move || {
        let map = state.models.get(&name)?;
        let predictions = match data {
            Some(data) => map.predict(data.view())?,
            None => Vec::new(),
        };
        Ok::<_, ApiError>((name, predictions))
    })
    .await?
    .map_err(|err| err.debug(debug))?;
    Ok(Json(json!({
        "operation-location": predictions.0,
        "predictions": predictions.1,
    })))
}
