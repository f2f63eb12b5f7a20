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

/// A data file's numbers and what a CSV header calls its columns and rows.
#[derive(Debug)]
pub struct DataFile {
    /// `(n, dim)`.
    pub data: Array2<f64>,
    /// The header's names of the numeric columns.
    pub features: Option<Vec<String>>,
    /// The label column's text, one per row.
    pub labels: Option<Vec<String>>,
}

/// Reads `(n, dim)` data from a file, choosing the format by its extension. `delimiter`
/// separates CSV fields; without it, it is detected among `,` `;` and tab.
pub fn read_data(path: &Path, delimiter: Option<char>) -> Result<Array2<f64>, CliError> {
    Ok(read_data_file(path, delimiter, None)?.data)
}

/// [`read_data`], keeping a CSV header's names and the column `label_column` (a header name,
/// CSV only) as the rows' labels rather than a feature.
pub fn read_data_file(
    path: &Path,
    delimiter: Option<char>,
    label_column: Option<&str>,
) -> Result<DataFile, CliError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bad = |reason: String| CliError::BadInput(format!("{}: {reason}", path.display()));
    let cannot_read = |e: std::io::Error| bad(format!("cannot read: {e}"));
    if label_column.is_some() && extension.as_deref() != Some("csv") {
        return Err(bad(
            "--label-column names a column of a CSV file's header: use a .csv file".into(),
        ));
    }
    let numbers = |data| DataFile {
        data,
        features: None,
        labels: None,
    };
    if extension.as_deref() == Some("npy") {
        let data = data_from_npy_file(path).map_err(bad)?;
        check_finite(data.view()).map_err(|e| bad(e.to_string()))?;
        return Ok(numbers(data));
    }
    let bytes = std::fs::read(path).map_err(cannot_read)?;
    match extension.as_deref() {
        Some("csv") => {
            let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))?;
            let table = read_csv(&text, delimiter, label_column).map_err(bad)?;
            if let Some(header) = &table.header {
                tracing::info!(file = %path.display(), header, "first row read as a header");
            }
            Ok(DataFile {
                data: data_from_flat(table.values, table.shape).map_err(|e| bad(e.to_string()))?,
                features: table.features,
                labels: table.labels,
            })
        }
        Some("json") => {
            let rows: Vec<Vec<f64>> = serde_json::from_slice(&bytes)
                .map_err(|e| bad(format!("expected a JSON array of arrays of numbers: {e}")))?;
            Ok(numbers(
                data_from_rows(&rows).map_err(|e| bad(e.to_string()))?,
            ))
        }
        _ => Err(bad("unknown extension: use .npy, .csv or .json".into())),
    }
}
