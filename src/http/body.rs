//! Request bodies: JSON whatever the `Content-Type` says (the Python client sends none), read
//! field by field so each bad field gets its own code and a message naming it.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use ndarray::Array2;
use serde_json::{Map, Value};

use super::error::{ApiError, Failure};
use crate::som::{SomError, data_from_flat, data_from_rows};

/// A JSON object body. Rejections (bad JSON, over the size limit) become our error shape.
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = Failure;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::InvalidJson(
                "the body is empty: send a JSON object, e.g. {\"model_name\": ...}".into(),
            )
            .into());
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonBody(map)),
            Ok(_) => Err(ApiError::InvalidJson("the body must be a JSON object".into()).into()),
            Err(err) => match parse_with_non_finite_numbers_as_zero(&bytes) {
                Some(repaired) => {
                    let debug = repaired.get("debug_mode") == Some(&Value::Bool(true));
                    Err(ApiError::InvalidValue {
                        code: "non_finite_value",
                        message: "the body has NaN or Infinity, which a map cannot learn from \
                                  (and JSON does not allow): send finite numbers; in Python, \
                                  json.dumps(..., allow_nan=False) finds them"
                            .into(),
                    }
                    .debug(debug))
                }
                None => {
                    Err(ApiError::InvalidJson(format!("the body is not valid JSON: {err}")).into())
                }
            },
        }
    }
}

/// The whole body, or 413 `body_too_large` past the limit.
pub async fn read_body(request: Request) -> Result<Bytes, ApiError> {
    let limit = request
        .extensions()
        .get::<BodyLimit>()
        .map_or(0, |limit| limit.0);
    Bytes::from_request(request, &())
        .await
        .map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::BodyTooLarge(limit)
            } else {
                ApiError::InvalidJson(format!("the body could not be read: {rejection}"))
            }
        })
}

/// The body size limit, put in the request's extensions so rejections can name it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The object `bytes` would be if its bare `NaN` and `Infinity` tokens (as Python's
/// `json.dumps` writes them) were zeros, when it has some: then the fault is the values, not
/// the syntax.
fn parse_with_non_finite_numbers_as_zero(bytes: &[u8]) -> Option<Map<String, Value>> {
    let mut repaired = Vec::with_capacity(bytes.len());
    let mut found = false;
    let mut in_string = false;
    let mut escaped = false;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if in_string {
            in_string = escaped || byte != b'"';
            escaped = !escaped && byte == b'\\';
        } else if byte == b'"' {
            in_string = true;
        } else if let Some(token) = [&b"NaN"[..], b"Infinity"]
            .into_iter()
            .find(|token| bytes[at..].starts_with(token))
        {
            repaired.push(b'0');
            at += token.len();
            found = true;
            continue;
        }
        repaired.push(byte);
        at += 1;
    }
    match serde_json::from_slice(&repaired) {
        Ok(Value::Object(map)) if found => Some(map),
        _ => None,
    }
}

/// Reads the fields of a body object.
pub struct Fields<'a>(pub &'a Map<String, Value>);

impl Fields<'_> {
    fn present(&self, field: &'static str) -> Option<&Value> {
        self.0.get(field)
    }

    pub fn required(&self, field: &'static str) -> Result<&Value, ApiError> {
        match self.present(field) {
            None => Err(ApiError::MissingField(field)),
            Some(Value::Null) => Err(ApiError::InvalidType {
                field,
                expected: "given, not null",
            }),
            Some(value) => Ok(value),
        }
    }

    /// A boolean flag, false when absent.
    pub fn flag(&self, field: &'static str) -> Result<bool, ApiError> {
        match self.present(field) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(_) => Err(ApiError::InvalidType {
                field,
                expected: "true or false",
            }),
        }
    }

    /// A string.
    pub fn string(&self, field: &'static str) -> Result<&str, ApiError> {
        self.required(field)?.as_str().ok_or(ApiError::InvalidType {
            field,
            expected: "a string",
        })
    }

    /// A number (absent: `None`).
    pub fn number(&self, field: &'static str) -> Result<Option<f64>, ApiError> {
        match self.present(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value.as_f64().map(Some).ok_or(ApiError::InvalidType {
                field,
                expected: "a number",
            }),
        }
    }

    /// A whole number written `100` or `100.0` (absent: `None`); a fraction or a negative
    /// number is a 422 with `code`.
    pub fn count(
        &self,
        field: &'static str,
        code: &'static str,
        example: &str,
    ) -> Result<Option<u64>, ApiError> {
        match self.number(field)? {
            None => Ok(None),
            Some(value) => whole_number(value)
                .map(Some)
                .ok_or_else(|| ApiError::InvalidValue {
                    code,
                    message: format!("{field} must be a whole number, got {value}; e.g. {example}"),
                }),
        }
    }

    /// `[rows, cols]`, each a whole number.
    pub fn grid_shape(&self) -> Result<[usize; 2], ApiError> {
        let value = self.required("grid_shape")?;
        let bad = || ApiError::InvalidValue {
            code: "invalid_grid_shape",
            message: format!(
                "grid_shape must be two whole numbers >= 1 (rows, columns), got {value}; e.g. [10, 10]"
            ),
        };
        let Value::Array(items) = value else {
            return Err(bad());
        };
        match items.as_slice() {
            [rows, cols] => {
                let side = |v: &Value| v.as_f64().and_then(whole_number).filter(|&n| n >= 1);
                match (side(rows), side(cols)) {
                    (Some(rows), Some(cols)) => Ok([rows as usize, cols as usize]),
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }

    /// An `(n, dim)` array from `field`, nested or flat with `shape_field` `[n, dim]`. An
    /// empty list is `None` (callers decide whether that is allowed).
    pub fn data(
        &self,
        field: &'static str,
        shape_field: &'static str,
    ) -> Result<Option<Array2<f64>>, ApiError> {
        let Value::Array(items) = self.required(field)? else {
            return Err(ApiError::InvalidType {
                field,
                expected: "an array of rows of numbers",
            });
        };
        let shape = self.data_shape(shape_field)?;
        if items.is_empty() {
            return match shape {
                Some([0, _]) | None => Ok(None),
                Some([rows, cols]) => Err(SomError::ShapeMismatch { rows, cols, len: 0 }.into()),
            };
        }
        let nested = items.iter().all(Value::is_array);
        let data = if nested {
            let rows = items
                .iter()
                .enumerate()
                .map(|(r, row)| numbers(row.as_array().expect("checked above"), field, Some(r)))
                .collect::<Result<Vec<_>, _>>()?;
            let data = data_from_rows(&rows)?;
            if let Some([rows, cols]) = shape
                && [rows, cols] != [data.nrows(), data.ncols()]
            {
                return Err(ApiError::InvalidValue {
                    code: "shape_mismatch",
                    message: format!(
                        "{shape_field} says [{rows}, {cols}] but {field} has {} rows of {} values",
                        data.nrows(),
                        data.ncols()
                    ),
                });
            }
            data
        } else {
            let flat = numbers(items, field, None)?;
            let shape = shape.ok_or_else(|| ApiError::InvalidValue {
                code: "shape_mismatch",
                message: format!(
                    "{field} is a flat list: send it as rows ([[...], [...]]) or give {shape_field} [n, dim]"
                ),
            })?;
            data_from_flat(flat, shape)?
        };
        Ok(Some(data))
    }

    fn data_shape(&self, field: &'static str) -> Result<Option<[usize; 2]>, ApiError> {
        let value = match self.present(field) {
            None | Some(Value::Null) => return Ok(None),
            Some(value) => value,
        };
        let bad = || ApiError::InvalidValue {
            code: "shape_mismatch",
            message: format!(
                "{field} must be two whole numbers [n, dim], got {value}; e.g. [10, 3]"
            ),
        };
        match value.as_array().map(Vec::as_slice) {
            Some([n, dim]) => {
                let count = |v: &Value| v.as_f64().and_then(whole_number);
                match (count(n), count(dim)) {
                    (Some(n), Some(dim)) => Ok(Some([n as usize, dim as usize])),
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }
}

/// `value` as a whole number `>= 0`, if it is one.
fn whole_number(value: f64) -> Option<u64> {
    (value >= 0.0 && value.fract() == 0.0 && value < 2f64.powi(63)).then_some(value as u64)
}

fn numbers(items: &[Value], field: &'static str, row: Option<usize>) -> Result<Vec<f64>, ApiError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_f64().ok_or_else(|| {
                let place = match row {
                    Some(r) => format!("row {r}, column {i}"),
                    None => format!("item {i}"),
                };
                ApiError::InvalidValue {
                    code: "invalid_data",
                    message: format!("{field}: {place} is {item}, not a number"),
                }
            })
        })
        .collect()
}
