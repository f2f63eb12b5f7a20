//! `GET /predict` (with a JSON body, as the Python client sends it) and `POST /predict`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::body::{Fields, JsonBody};
use super::error::{ApiError, Failure};
use super::models::blocking;
use super::state::AppState;
use crate::storage::validate_name;

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
        let map = state.models.get(&state.store, &name)?;
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
