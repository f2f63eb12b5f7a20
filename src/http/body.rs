//! Request bodies: read within bounds, then parsed straight into typed structs.
//!
//! Memory is bounded twice: one body may not pass `--max-body-bytes` (413), and the bytes held
//! by all bodies being read or parsed at once may not pass `--max-inflight-body-bytes` (503
//! `busy` with `Retry-After`). JSON is parsed into the handler's own type (whatever the
//! `Content-Type` says: the Python client sends none), never into a generic tree; fields the
//! type does not know are ignored but named in the answer's `warnings`.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::error::{ApiError, Failure};

/// How much body the server reads: per request and for all requests in flight together.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    pub max_body_bytes: usize,
    in_flight: Arc<Semaphore>,
}

impl BodyBudget {
    pub fn new(max_body_bytes: usize, max_in_flight_bytes: usize) -> Self {
        BodyBudget {
            max_body_bytes,
            in_flight: Arc::new(Semaphore::new(
                max_in_flight_bytes.min(Semaphore::MAX_PERMITS),
            )),
        }
    }

    /// Takes `bytes` more of the shared budget for `held`, or says the server is busy.
    fn reserve(
        &self,
        held: &mut Option<OwnedSemaphorePermit>,
        bytes: usize,
    ) -> Result<(), ApiError> {
        if bytes == 0 {
            return Ok(());
        }
        let count = u32::try_from(bytes).map_err(|_| ApiError::Busy)?;
        let permit = self
            .in_flight
            .clone()
            .try_acquire_many_owned(count)
            .map_err(|_| ApiError::Busy)?;
        match held {
            Some(held) => held.merge(permit),
            None => *held = Some(permit),
        }
        Ok(())
    }
}

/// Room made for a body before its bytes arrive, whatever its `Content-Length` says.
const INITIAL_CAPACITY: usize = 1 << 20;

/// Most unknown fields named in an answer's warnings; the rest are counted.
const MAX_WARNINGS: usize = 10;

/// A request body in memory, with its share of the in-flight budget: dropping it gives the
/// share back.
pub struct HeldBody {
    pub bytes: Bytes,
    _share: Option<OwnedSemaphorePermit>,
}

/// Reads the whole body of `request`: 413 `body_too_large` past the limit (before reading
/// when `Content-Length` says so), 503 `busy` when the bodies in flight would pass theirs, 408
/// when the client stops sending.
pub async fn read_body(request: Request) -> Result<HeldBody, ApiError> {
    let budget = request
        .extensions()
        .get::<BodyBudget>()
        .cloned()
        .expect("the router puts the body budget in every request");
    let limit = budget.max_body_bytes;
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::BodyTooLarge(limit));
    }
    // The budget is taken as bytes arrive, not as declared: a client that announces a large
    // body and sends it slowly holds only what it sent.
    let mut share = None;
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(INITIAL_CAPACITY));
    let mut body: Body = request.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(body_error)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if bytes.len() + data.len() > limit {
            return Err(ApiError::BodyTooLarge(limit));
        }
        budget.reserve(&mut share, data.len())?;
        bytes.extend_from_slice(&data);
    }
    Ok(HeldBody {
        bytes: bytes.into(),
        _share: share,
    })
}

/// Why a body could not be read: the client stopped sending it (the body timeouts), or the
/// connection broke.
pub(super) fn body_error(err: axum::Error) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(cause) = source {
        if cause.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::BodyTimeout;
        }
        source = cause.source();
    }
    ApiError::InvalidJson(format!("the body could not be read: {err}"))
}

/// A JSON request body type: the fields it knows (for the warnings about the others) and
/// whether it asked for `debug_mode`.
pub trait RequestBody: DeserializeOwned + Send + 'static {
    /// Every field the type reads, as spelt in JSON.
    const FIELDS: &'static [&'static str];
    fn debug_mode(&self) -> bool;
}

/// A parsed JSON body and the warnings about what it held that was ignored.
pub struct JsonBody<T> {
    pub value: T,
    pub warnings: Vec<String>,
}

impl<T: RequestBody, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = Failure;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let body = read_body(request).await?;
        // Parsing a large body is CPU work: off the runtime's threads.
        let parsed = tokio::task::spawn_blocking(move || parse::<T>(&body.bytes))
            .await
            .map_err(|_| Failure::from(ApiError::Internal))??;
        if !parsed.warnings.is_empty() {
            tracing::warn!(warnings = ?parsed.warnings, "request fields ignored");
        }
        Ok(parsed)
    }
}

/// Parses `bytes` as a `T`, naming ignored fields in warnings.
fn parse<T: RequestBody>(bytes: &[u8]) -> Result<JsonBody<T>, Failure> {
    match bytes.iter().find(|byte| !byte.is_ascii_whitespace()) {
        None => {
            return Err(ApiError::InvalidJson(
                "the body is empty: send a JSON object, e.g. {\"model_name\": ...}".into(),
            )
            .into());
        }
        Some(b'{') => {}
        Some(_) => {
            return Err(ApiError::InvalidJson("the body must be a JSON object".into()).into());
        }
    }
    let mut unknown = Vec::new();
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = serde_ignored::deserialize(&mut deserializer, |path| {
        if let serde_ignored::Path::Map {
            parent: serde_ignored::Path::Root,
            key,
        } = path
        {
            unknown.push(key);
        }
    })
    .and_then(|value: T| deserializer.end().map(|()| value));
    match parsed {
        Ok(value) => Ok(JsonBody {
            value,
            warnings: warnings(unknown, T::FIELDS),
        }),
        Err(err) => match without_non_finite_numbers(bytes) {
            Some(repaired) => {
                let debug = serde_json::from_slice::<T>(&repaired).is_ok_and(|v| v.debug_mode());
                Err(ApiError::InvalidValue {
                    code: "non_finite_value",
                    message: "the body has NaN or Infinity, which a map cannot learn from \
                              (and JSON does not allow): send finite numbers; in Python, \
                              json.dumps(..., allow_nan=False) finds them"
                        .into(),
                }
                .debug(debug))
            }
            None => Err(ApiError::InvalidJson(format!("the body is not valid JSON: {err}")).into()),
        },
    }
}

/// One warning per distinct unknown field, at most [`MAX_WARNINGS`] of them and then how many
/// more: a body of a million unknown keys gets a short answer and one log line.
fn warnings(mut unknown: Vec<String>, known: &[&str]) -> Vec<String> {
    unknown.sort();
    unknown.dedup();
    let mut warnings: Vec<String> = (unknown.iter().take(MAX_WARNINGS))
        .map(|field| unknown_field_warning(field, known))
        .collect();
    if unknown.len() > MAX_WARNINGS {
        warnings.push(format!(
            "and {} more unknown fields ignored",
            unknown.len() - MAX_WARNINGS
        ));
    }
    warnings
}

/// "unknown field 'learningrate' ignored; did you mean 'learning_rate'?"
fn unknown_field_warning(field: &str, known: &[&str]) -> String {
    let closest = known
        .iter()
        .map(|candidate| (strsim::levenshtein(field, candidate), *candidate))
        .min();
    let shown: String = field.chars().take(64).collect();
    match closest {
        Some((distance, candidate)) if distance <= 3.max(candidate.len() / 3) => {
            format!("unknown field '{shown}' ignored; did you mean '{candidate}'?")
        }
        _ => format!("unknown field '{shown}' ignored"),
    }
}

/// `bytes` with its bare `NaN` and `Infinity` tokens (as Python's `json.dumps` writes them)
/// made zeros, when it has some and is valid JSON then: the fault is the values, not the syntax.
fn without_non_finite_numbers(bytes: &[u8]) -> Option<Vec<u8>> {
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
    let valid = found && serde_json::from_slice::<serde::de::IgnoredAny>(&repaired).is_ok();
    valid.then_some(repaired)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_unknown_fields_give_a_few_distinct_warnings_and_a_count() {
        let unknown: Vec<String> = (0..5000).map(|i| format!("f{}", i % 2000)).collect();
        let warnings = warnings(unknown, &["grid_shape"]);
        assert_eq!(warnings.len(), MAX_WARNINGS + 1);
        assert_eq!(warnings[0], "unknown field 'f0' ignored");
        assert_eq!(
            warnings[MAX_WARNINGS],
            "and 1990 more unknown fields ignored"
        );
    }

    #[test]
    fn a_misspelt_field_is_named_with_the_closest_known_one() {
        let known = ["training_data", "learning_rate", "grid_shape"];
        assert_eq!(
            unknown_field_warning("learningrate", &known),
            "unknown field 'learningrate' ignored; did you mean 'learning_rate'?"
        );
        assert_eq!(
            unknown_field_warning("colour", &known),
            "unknown field 'colour' ignored"
        );
    }
}
