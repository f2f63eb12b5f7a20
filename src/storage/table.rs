//! CSV tables, read by the same rules wherever data comes from (the command line's files, an
//! uploaded dataset): a UTF-8 byte order mark is skipped, blank lines are ignored, the
//! delimiter is detected among `,` `;` and tab unless given, and the first row is a header only
//! if none of its fields is a number. Every value must be a finite number, strictly: a mistyped
//! number is an error naming its line and column, never a row silently taken for a header.

/// The CSV delimiters detected when none is given, most preferred first on a tie.
pub const DELIMITERS: [char; 3] = [',', ';', '\t'];

/// The numbers of a CSV file, row-major, with the header row it skipped.
#[derive(Debug, PartialEq)]
pub struct Table {
    pub values: Vec<f64>,
    /// `[rows, numeric fields per row]`; `[0, 0]` for a file with no data rows.
    pub shape: [usize; 2],
    pub header: Option<String>,
    /// The header's names of the numeric columns, trimmed, when there is a header.
    pub features: Option<Vec<String>>,
    /// The text of the label column, one per row, when one was asked for.
    pub labels: Option<Vec<String>>,
}

/// Reads rows of finite numbers ([the module's rules](self)). `label_column` names a header
/// column kept as text (the rows' labels) instead of read as numbers; the file must then have a
/// header holding that name. Errors name a 1-based line and column.
pub fn read_csv(
    text: &str,
    delimiter: Option<char>,
    label_column: Option<&str>,
) -> Result<Table, String> {
    let mut reader = CsvReader::new(delimiter, label_column);
    let mut values = Vec::new();
    for (index, line) in text.lines().enumerate() {
        reader.line(index + 1, line, &mut values)?;
    }
    reader.finish(values)
}

/// Reads a table a line at a time by [the module's rules](self), for text too large to hold:
/// it keeps the header and the labels, and hands each row's numbers to the caller.
#[derive(Debug)]
pub struct CsvReader {
    delimiter: Option<char>,
    label_column: Option<String>,
    /// Whether the first non-blank line, which settles the delimiter and the header, was read.
    started: bool,
    header: Option<String>,
    names: Option<Vec<String>>,
    label_index: Option<usize>,
    labels: Option<Vec<String>>,
    /// The first data row's line and width, which every other row must match.
    width: Option<(usize, usize)>,
    rows: usize,
}

impl CsvReader {
    pub fn new(delimiter: Option<char>, label_column: Option<&str>) -> CsvReader {
        CsvReader {
            delimiter,
            label_column: label_column.map(str::to_owned),
            started: false,
            header: None,
            names: None,
            label_index: None,
            labels: None,
            width: None,
            rows: 0,
        }
    }

    /// Data rows read so far.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Reads line `line_number` (1-based, without its line ending); a data row's numbers are
    /// appended to `values`.
    pub fn line(
        &mut self,
        line_number: usize,
        line: &str,
        values: &mut Vec<f64>,
    ) -> Result<(), String> {
        let line = match line_number {
            1 => line.strip_prefix('\u{feff}').unwrap_or(line),
            _ => line,
        };
        if line.trim().is_empty() {
            return Ok(());
        }
        if !self.started {
            self.started = true;
            if self.start(line)? {
                return Ok(());
            }
        }
        let delimiter = self.delimiter.expect("the first line sets the delimiter");
        let label_index = self.label_index;
        let mut fields = 0;
        for (index, field) in line.split(delimiter).enumerate() {
            fields += 1;
            let field = field.trim();
            if Some(index) == label_index {
                if let Some(labels) = &mut self.labels {
                    labels.push(field.to_owned());
                }
                continue;
            }
            let at = format!("line {line_number}, column {}", index + 1);
            let value = field.parse::<f64>().map_err(|_| {
                let hint = if field.contains(DELIMITERS) {
                    format!(" (fields are separated by {delimiter:?}; --delimiter or ?delimiter= sets another)")
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
        if label_index.is_some_and(|index| index >= fields) {
            return Err(format!(
                "line {line_number} has {fields} fields and no label column: every row must have the same length"
            ));
        }
        match self.width {
            None => self.width = Some((line_number, fields)),
            Some((first_line, expected)) if expected != fields => {
                return Err(format!(
                    "line {line_number} has {fields} fields but line {first_line} has {expected}: every row must have the same length"
                ));
            }
            Some(_) => {}
        }
        self.rows += 1;
        Ok(())
    }

    /// Settles the delimiter, the header and the label column from the first non-blank line;
    /// returns whether that line was the header.
    fn start(&mut self, first: &str) -> Result<bool, String> {
        let delimiter = *self
            .delimiter
            .get_or_insert_with(|| detect_delimiter(first));
        let is_header = first
            .split(delimiter)
            .all(|field| field.trim().parse::<f64>().is_err());
        if is_header {
            self.header = Some(first.to_owned());
            self.names = Some(
                first
                    .split(delimiter)
                    .map(|f| f.trim().to_owned())
                    .collect(),
            );
        }
        self.label_index = match (&self.label_column, &self.names) {
            (None, _) => None,
            (Some(label), None) => {
                return Err(format!(
                    "the label column {label:?} needs a header row naming it; the first row holds a number"
                ));
            }
            (Some(label), Some(names)) => {
                Some(names.iter().position(|name| name == label).ok_or_else(|| {
                    format!("the header has no column named {label:?}; its columns are {names:?}")
                })?)
            }
        };
        self.labels = self.label_index.map(|_| Vec::new());
        Ok(is_header)
    }

    /// The table, once every line was read, with the `values` the caller kept (none when it
    /// wrote them elsewhere).
    pub fn finish(self, values: Vec<f64>) -> Result<Table, String> {
        if let (false, Some(label)) = (self.started, &self.label_column) {
            return Err(format!(
                "the label column {label:?} needs a header row naming it; the text is empty"
            ));
        }
        let label_index = self.label_index;
        let numeric = self
            .width
            .map_or(0, |(_, fields)| fields - usize::from(label_index.is_some()));
        let features = self.names.map(|names| {
            names
                .into_iter()
                .enumerate()
                .filter(|(index, _)| Some(*index) != label_index)
                .map(|(_, name)| name)
                .collect()
        });
        Ok(Table {
            values,
            shape: [self.rows, if self.rows == 0 { 0 } else { numeric }],
            header: self.header,
            features,
            labels: self.labels,
        })
    }
}

/// A delimiter given as text (`--delimiter`, `?delimiter=`): one character that cannot be part of a number, or `tab`.
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

    #[test]
    fn delimiters_are_one_character_outside_numbers_or_tab() {
        assert_eq!(parse_delimiter(";"), Ok(';'));
        assert_eq!(parse_delimiter("TAB"), Ok('\t'));
        assert_eq!(parse_delimiter("|"), Ok('|'));
        for bad in ["", ".", "-", "e", "7", ";;"] {
            assert!(parse_delimiter(bad).is_err(), "{bad:?}");
        }
    }

    fn rows(text: &str) -> Result<(Vec<f64>, [usize; 2]), String> {
        read_csv(text, None, None).map(|table| (table.values, table.shape))
    }

    #[test]
    fn a_csv_header_is_skipped_and_numbers_are_read() {
        let table = read_csv("r,g,b\n0.1, 0.2,0.3\n\n1,2,3\n", None, None).unwrap();
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
        let piped = read_csv("1|2\n3|4\n", Some('|'), None).unwrap();
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
    fn a_label_column_is_kept_as_text_and_left_out_of_the_features() {
        let table = read_csv("\u{feff}r;name;g\n1;red;2\n3;blue;4\n", None, Some("name")).unwrap();
        assert_eq!(table.values, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(table.shape, [2, 2]);
        assert_eq!(table.features, Some(vec!["r".to_owned(), "g".to_owned()]));
        assert_eq!(
            table.labels,
            Some(vec!["red".to_owned(), "blue".to_owned()])
        );
    }

    #[test]
    fn a_label_column_needs_a_header_that_names_it() {
        assert!(
            read_csv("1,2\n", None, Some("x"))
                .unwrap_err()
                .contains("header")
        );
        let err = read_csv("a,b\n1,2\n", None, Some("x")).unwrap_err();
        assert!(err.contains("no column named \"x\""), "{err}");
    }
}
