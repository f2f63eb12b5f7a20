//! Data files for the command line: `.npy` (2-D), `.csv` and `.json`.

use std::path::Path;

use ndarray::Array2;

use super::CliError;
use crate::som::{check_finite, data_from_rows};
use crate::storage::data_from_npy;

/// Reads `(n, dim)` data from a file, choosing the format by its extension.
pub fn read_data(path: &Path) -> Result<Array2<f64>, CliError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bad = |reason: String| CliError::BadInput(format!("{}: {reason}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    match extension.as_deref() {
        Some("npy") => {
            let data = data_from_npy(&bytes).map_err(bad)?;
            check_finite(data.view()).map_err(|e| bad(e.to_string()))?;
            Ok(data)
        }
        Some("csv") => {
            let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))?;
            let rows = csv_rows(&text).map_err(bad)?;
            data_from_rows(&rows).map_err(|e| bad(e.to_string()))
        }
        Some("json") => {
            let rows: Vec<Vec<f64>> = serde_json::from_slice(&bytes)
                .map_err(|e| bad(format!("expected a JSON array of arrays of numbers: {e}")))?;
            data_from_rows(&rows).map_err(|e| bad(e.to_string()))
        }
        _ => Err(bad("unknown extension: use .npy, .csv or .json".into())),
    }
}

/// Rows of numbers separated by commas. A first line that is not all numbers is a header.
fn csv_rows(text: &str) -> Result<Vec<Vec<f64>>, String> {
    let parse = |line: &str| -> Result<Vec<f64>, String> {
        line.split(',')
            .map(|field| {
                let field = field.trim();
                field
                    .parse::<f64>()
                    .map_err(|_| format!("{field:?} is not a number"))
            })
            .collect()
    };
    let mut rows = Vec::new();
    let lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    for (index, line) in lines {
        match parse(line) {
            Ok(row) => rows.push(row),
            Err(_) if index == 0 => {}
            Err(reason) => return Err(format!("line {}: {reason}", index + 1)),
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csv_header_is_skipped_and_numbers_are_read() {
        let rows = csv_rows("r,g,b\n0.1, 0.2,0.3\n\n1,2,3\n").unwrap();
        assert_eq!(rows, vec![vec![0.1, 0.2, 0.3], vec![1.0, 2.0, 3.0]]);
    }

    #[test]
    fn a_word_after_the_first_line_is_an_error_naming_its_line() {
        let err = csv_rows("1,2\n3,x\n").unwrap_err();
        assert_eq!(err, "line 2: \"x\" is not a number");
    }
}
