//! Data files for the command line: `.npy` (2-D), `.csv` and `.json`.
//!
//! CSV is read strictly: a mistyped number is an error naming its line and column, never a row
//! silently taken for a header, so what trains is exactly what the file says.

use std::path::Path;

use ndarray::Array2;

use super::CliError;
use crate::som::{check_finite, data_from_flat, data_from_rows};
use crate::storage::data_from_npy;

/// The CSV delimiters detected when none is given, most preferred first on a tie.
const DELIMITERS: [char; 3] = [',', ';', '\t'];

/// Reads `(n, dim)` data from a file, choosing the format by its extension. `delimiter`
/// separates CSV fields; without it, it is detected among `,` `;` and tab.
pub fn read_data(path: &Path, delimiter: Option<char>) -> Result<Array2<f64>, CliError> {
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
            let table = read_csv(&text, delimiter).map_err(bad)?;
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

/// The value of `--delimiter`: one character that cannot be part of a number, or `tab`.
pub fn parse_delimiter(text: &str) -> Result<char, String> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        _ if text.eq_ignore_ascii_case("tab") => Ok('\t'),
        (Some(c), None) if !(c.is_alphanumeric() || matches!(c, '.' | '-' | '+')) => Ok(c),
        _ => Err(format!(
            "expected one character that is not part of a number (e.g. ';') or 'tab'; got {text:?}"
        )),
    }
}

/// The numbers of a CSV file, row-major, with the header row it skipped.
#[derive(Debug, PartialEq)]
struct Table {
    values: Vec<f64>,
    /// `[rows, fields per row]`; `[0, 0]` for a file with no data rows.
    shape: [usize; 2],
    header: Option<String>,
}

/// Reads rows of finite numbers. Blank lines are ignored and a UTF-8 byte order mark is
/// skipped; the first row is a header only if none of its fields is a number, so a typo in
/// the first row of data is reported rather than dropped. Errors name a 1-based line and column.
fn read_csv(text: &str, delimiter: Option<char>) -> Result<Table, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| !line.trim().is_empty())
        .peekable();
    let Some(&(_, first)) = lines.peek() else {
        return Ok(Table {
            values: Vec::new(),
            shape: [0, 0],
            header: None,
        });
    };
    let delimiter = delimiter.unwrap_or_else(|| detect_delimiter(first));
    let header = first
        .split(delimiter)
        .all(|field| field.trim().parse::<f64>().is_err())
        .then(|| first.to_owned());
    if header.is_some() {
        lines.next();
    }

    let mut values = Vec::new();
    // The first data row's line and width, which every other row must match.
    let mut width: Option<(usize, usize)> = None;
    let mut rows = 0;
    for (line_number, line) in lines {
        let before = values.len();
        for (index, field) in line.split(delimiter).enumerate() {
            let field = field.trim();
            let at = format!("line {line_number}, column {}", index + 1);
            let value = field.parse::<f64>().map_err(|_| {
                let hint = if field.contains(DELIMITERS) {
                    format!(" (fields are separated by {delimiter:?}; --delimiter sets another)")
                } else {
                    String::new()
                };
                format!("{at}: {field:?} is not a number{hint}")
            })?;
            if !value.is_finite() {
                return Err(format!(
                    "{at} is {field}: every value must be a finite number"
                ));
            }
            values.push(value);
        }
        let fields = values.len() - before;
        match width {
            None => width = Some((line_number, fields)),
            Some((first_line, expected)) if expected != fields => {
                return Err(format!(
                    "line {line_number} has {fields} fields but line {first_line} has {expected}: every row must have the same length"
                ));
            }
            Some(_) => {}
        }
        rows += 1;
    }
    Ok(Table {
        values,
        shape: [rows, width.map_or(0, |(_, fields)| fields)],
        header,
    })
}

/// The candidate found most often in the first row (a one-column file has none: `,`).
fn detect_delimiter(first_row: &str) -> char {
    // `max_by_key` keeps the last of equals, so the reversed list lets the first preference win.
    DELIMITERS
        .into_iter()
        .rev()
        .max_by_key(|&d| first_row.matches(d).count())
        .expect("the list is not empty")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &str) -> Result<(Vec<f64>, [usize; 2]), String> {
        read_csv(text, None).map(|table| (table.values, table.shape))
    }

    #[test]
    fn a_csv_header_is_skipped_and_numbers_are_read() {
        let table = read_csv("r,g,b\n0.1, 0.2,0.3\n\n1,2,3\n", None).unwrap();
        assert_eq!(table.values, vec![0.1, 0.2, 0.3, 1.0, 2.0, 3.0]);
        assert_eq!(table.shape, [2, 3]);
        assert_eq!(table.header.as_deref(), Some("r,g,b"));
    }

    #[test]
    fn a_first_row_with_one_number_is_data_and_its_typo_an_error() {
        assert_eq!(
            rows("1,O,0\n0,1,0\n").unwrap_err(),
            "line 1, column 2: \"O\" is not a number"
        );
        assert_eq!(
            rows("x,1\n2,3\n").unwrap_err(),
            "line 1, column 1: \"x\" is not a number"
        );
    }

    #[test]
    fn a_word_after_the_first_line_is_an_error_naming_its_line_and_column() {
        assert_eq!(
            rows("1,2\n\n3,x\n").unwrap_err(),
            "line 3, column 2: \"x\" is not a number"
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_field() {
        assert_eq!(
            rows("\u{feff}1,2\n3,4\n").unwrap(),
            (vec![1.0, 2.0, 3.0, 4.0], [2, 2])
        );
        assert_eq!(
            rows("\u{feff}a,b\n3,4\n").unwrap(),
            (vec![3.0, 4.0], [1, 2])
        );
    }

    #[test]
    fn semicolons_and_tabs_are_detected_and_any_delimiter_can_be_given() {
        assert_eq!(
            rows("1;2\r\n3;4\r\n").unwrap(),
            (vec![1.0, 2.0, 3.0, 4.0], [2, 2])
        );
        assert_eq!(rows("a\tb\n1\t2\n").unwrap(), (vec![1.0, 2.0], [1, 2]));
        assert_eq!(rows("5\n6\n").unwrap(), (vec![5.0, 6.0], [2, 1]));
        let piped = read_csv("1|2\n3|4\n", Some('|')).unwrap();
        assert_eq!(piped.values, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn a_field_holding_another_delimiter_gets_a_hint() {
        let err = rows("1;2;3,5\n").unwrap_err();
        assert!(
            err.starts_with(
                "line 1, column 3: \"3,5\" is not a number (fields are separated by ';'"
            ),
            "{err}"
        );
    }

    #[test]
    fn ragged_rows_and_non_finite_values_name_their_lines() {
        assert_eq!(
            rows("h\n1,2\n3\n").unwrap_err(),
            "line 3 has 1 fields but line 2 has 2: every row must have the same length"
        );
        assert_eq!(
            rows("1,inf\n").unwrap_err(),
            "line 1, column 2 is inf: every value must be a finite number"
        );
    }

    #[test]
    fn delimiters_are_one_character_outside_numbers_or_tab() {
        assert_eq!(parse_delimiter(";"), Ok(';'));
        assert_eq!(parse_delimiter("TAB"), Ok('\t'));
        assert_eq!(parse_delimiter("|"), Ok('|'));
        for bad in ["", ".", "-", "e", "7", ";;"] {
            assert!(parse_delimiter(bad).is_err(), "{bad:?}");
        }
    }
}
