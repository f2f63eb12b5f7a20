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
        let name = path_text(parts, state).await?;
        validate_name(&name)?;
        Ok(ModelName(name))
    }
}

/// The model name of `/download/{name}`, where the file name `NAME.npy` also names `NAME`
/// (names may not end in `.npy`, so this is never ambiguous).
pub struct DownloadName(pub String);

impl<S: Send + Sync> FromRequestParts<S> for DownloadName {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let text = path_text(parts, state).await?;
        let name = text.strip_suffix(".npy").unwrap_or(&text);
        validate_name(name)?;
        Ok(DownloadName(name.to_owned()))
    }
}

async fn path_text<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<String, Failure> {
    let Path(text) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::from(StorageError::InvalidName(parts.uri.path().to_owned())))?;
    Ok(text)
}
