//! Data files for the command line: `.npy` (2-D, streamed as the service reads datasets),
//! `.csv` and `.json`.
//!
//! CSV is read strictly: a mistyped number is an error naming its line and column, never a row
//! silently taken for a header, so what trains is exactly what the file says.

use std::path::Path;

use ndarray::Array2;

use super::CliError;
use crate::som::{check_finite, data_from_flat, data_from_rows};
use crate::storage::data_from_npy_file;
use crate::storage::table::read_csv;

/// Reads `(n, dim)` data from a file, choosing the format by its extension. `delimiter`
/// separates CSV fields; without it, it is detected among `,` `;` and tab.
pub fn read_data(path: &Path, delimiter: Option<char>) -> Result<Array2<f64>, CliError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bad = |reason: String| CliError::BadInput(format!("{}: {reason}", path.display()));
    let cannot_read = |e: std::io::Error| bad(format!("cannot read: {e}"));
    if extension.as_deref() == Some("npy") {
        let data = data_from_npy_file(path).map_err(bad)?;
        check_finite(data.view()).map_err(|e| bad(e.to_string()))?;
        return Ok(data);
    }
    let bytes = std::fs::read(path).map_err(cannot_read)?;
    match extension.as_deref() {
        Some("csv") => {
            let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))?;
            let table = read_csv(&text, delimiter, None).map_err(bad)?;
            if let Some(header) = &table.header {
                tracing::info!(file = %path.display(), header, "first row read as a header");
            }
            data_from_flat(table.values, table.shape).map_err(|e| bad(e.to_string()))
        }
        Some("json") => {
            let rows: Vec<Vec<f64>> = serde_json::from_slice(&bytes)
                .map_err(|e| bad(format!("expected a JSON array of arrays of numbers: {e}")))?;
            data_from_rows(&rows).map_err(|e| bad(e.to_string()))
        }
        _ => Err(bad("unknown extension: use .npy, .csv or .json".into())),
    }
}
