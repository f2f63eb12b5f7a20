//! The `{name}` of a path, checked before any handler sees it.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use super::error::{ApiError, Failure};
use crate::storage::{StorageError, validate_name};

/// A model or job name from the path that follows the naming rule; anything else (bytes that
/// are not UTF-8 included) is 400 `invalid_name` in our error shape.
pub struct ModelName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ModelName {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(name) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::from(StorageError::InvalidName(parts.uri.path().to_owned())))?;
        validate_name(&name)?;
        Ok(ModelName(name))
    }
}
