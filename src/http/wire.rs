//! The values inside request bodies, read straight from the JSON text without a generic tree:
//! [`Samples`] streams a data array into one flat `f64` buffer, and [`Loose`] keeps a small
//! field's value whatever its type, so that a wrong value gets the message and code of its field
//! (SPEC §4) instead of serde's.

use std::fmt;

use ndarray::Array2;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, SeqAccess, Visitor};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, Type};

use super::error::ApiError;
use crate::som::{MAX_ABS_VALUE, NamedOption, SomError, data_from_flat};
use crate::training::{Labels, MAX_LABELS, MAX_NAME_CHARS, NamesError};

/// Longest text and most list items a [`Loose`] keeps: enough for every small field (a model
/// name has at most 200 characters) and its error message, never a copy of a large value.
const LOOSE_TEXT: usize = 256;
const LOOSE_ITEMS: usize = 8;

/// A small field as sent: what is needed to check it and to quote it in a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Loose {
    Null,
    Bool(bool),
    Number(f64),
    /// A string (cut to its first 256 characters).
    Text(String),
    /// A list of at most 8 numbers.
    Numbers(Vec<f64>),
    /// Any other value, by its kind ("an object", "a long or mixed array").
    Other(&'static str),
}

impl fmt::Display for Loose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loose::Null => write!(f, "null"),
            Loose::Bool(value) => write!(f, "{value}"),
            Loose::Number(value) => write!(f, "{value}"),
            Loose::Text(text) => write!(f, "{text:?}"),
            Loose::Numbers(values) => {
                let items: Vec<String> = values.iter().map(f64::to_string).collect();
                write!(f, "[{}]", items.join(", "))
            }
            Loose::Other(kind) => write!(f, "{kind}"),
        }
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }
    fn visit_none<E>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }
    fn visit_bool<E>(self, value: bool) -> Result<Loose, E> {
        Ok(Loose::Bool(value))
    }
    fn visit_u64<E>(self, value: u64) -> Result<Loose, E> {
        Ok(Loose::Number(value as f64))
    }
    fn visit_i64<E>(self, value: i64) -> Result<Loose, E> {
        Ok(Loose::Number(value as f64))
    }
    fn visit_f64<E>(self, value: f64) -> Result<Loose, E> {
        Ok(Loose::Number(value))
    }
    fn visit_str<E>(self, text: &str) -> Result<Loose, E> {
        Ok(Loose::Text(text.chars().take(LOOSE_TEXT).collect()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
        let mut numbers = Vec::new();
        let mut only_numbers = true;
        while let Some(item) = seq.next_element::<Loose>()? {
            match item {
                Loose::Number(value) if only_numbers && numbers.len() < LOOSE_ITEMS => {
                    numbers.push(value)
                }
                _ => only_numbers = false,
            }
        }
        Ok(if only_numbers {
            Loose::Numbers(numbers)
        } else {
            Loose::Other("a long or mixed array")
        })
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Other("an object"))
    }
}

/// `value` as a whole number `>= 0`, if it is one (`100` or `100.0`).
pub fn whole_number(value: f64) -> Option<u64> {
    (value >= 0.0 && value.fract() == 0.0 && value < 2f64.powi(63)).then_some(value as u64)
}

/// Reading the small fields, each error naming its field.
impl Loose {
    /// A number; `None` when absent or null.
    pub fn number(field: &'static str, value: &Option<Loose>) -> Result<Option<f64>, ApiError> {
        match value {
            None | Some(Loose::Null) => Ok(None),
            Some(Loose::Number(number)) => Ok(Some(*number)),
            Some(_) => Err(ApiError::InvalidType {
                field,
                expected: "a number",
            }),
        }
    }

    /// A whole number written `100` or `100.0`; a fraction or a negative number is a 422 with
    /// `code`.
    pub fn count(
        field: &'static str,
        value: &Option<Loose>,
        code: &'static str,
        example: &str,
    ) -> Result<Option<u64>, ApiError> {
        match Loose::number(field, value)? {
            None => Ok(None),
            Some(number) => whole_number(number)
                .map(Some)
                .ok_or_else(|| ApiError::InvalidValue {
                    code,
                    message: format!(
                        "{field} must be a whole number, got {number}; e.g. {example}"
                    ),
                }),
        }
    }

    /// A flag, false when absent or null.
    pub fn flag(field: &'static str, value: &Option<Loose>) -> Result<bool, ApiError> {
        Ok(Loose::boolean(field, value)?.unwrap_or(false))
    }

    /// `true` or `false`; `None` when absent or null.
    pub fn boolean(field: &'static str, value: &Option<Loose>) -> Result<Option<bool>, ApiError> {
        match value {
            None | Some(Loose::Null) => Ok(None),
            Some(Loose::Bool(flag)) => Ok(Some(*flag)),
            Some(_) => Err(ApiError::InvalidType {
                field,
                expected: "true or false",
            }),
        }
    }

    /// One of the names of `all` (an option of SPEC §3b); `None` when absent or null. An
    /// unknown name is the core's `invalid_option`, a value that is not a string
    /// `invalid_type`; both list the known names.
    pub fn named<T: NamedOption>(
        field: &'static str,
        value: &Option<Loose>,
        all: &[T],
    ) -> Result<Option<T>, ApiError> {
        match value {
            None | Some(Loose::Null) => Ok(None),
            Some(Loose::Text(name)) => Ok(Some(name.parse()?)),
            Some(other) => {
                let names: Vec<String> = all.iter().map(|v| format!("{:?}", v.as_str())).collect();
                Err(ApiError::InvalidValue {
                    code: "invalid_type",
                    message: format!(
                        "the field {field:?} must be one of {}, got {other}",
                        names.join(", ")
                    ),
                })
            }
        }
    }

    /// Two whole numbers, or `bad` for anything else.
    pub fn pair(value: &Loose, bad: impl FnOnce() -> ApiError) -> Result<[u64; 2], ApiError> {
        match value {
            Loose::Numbers(numbers) => match numbers.as_slice() {
                [a, b] => match (whole_number(*a), whole_number(*b)) {
                    (Some(a), Some(b)) => Ok([a, b]),
                    _ => Err(bad()),
                },
                _ => Err(bad()),
            },
            _ => Err(bad()),
        }
    }
}

/// The grid shape `[rows, cols]`, each a whole number `>= 1`.
pub fn grid_shape(value: &Option<Loose>) -> Result<[usize; 2], ApiError> {
    let value = present("grid_shape", value)?;
    let bad = || ApiError::InvalidValue {
        code: "invalid_grid_shape",
        message: format!(
            "grid_shape must be two whole numbers >= 1 (rows, columns), got {value}; e.g. [10, 10]"
        ),
    };
    match Loose::pair(value, bad)? {
        [rows, cols] if rows >= 1 && cols >= 1 => Ok([rows as usize, cols as usize]),
        _ => Err(bad()),
    }
}

/// A required small field's value; missing is `missing_field`, null is `invalid_type`.
pub fn present<'a>(field: &'static str, value: &'a Option<Loose>) -> Result<&'a Loose, ApiError> {
    match value {
        None => Err(ApiError::MissingField(field)),
        Some(Loose::Null) => Err(ApiError::InvalidType {
            field,
            expected: "given, not null",
        }),
        Some(value) => Ok(value),
    }
}

/// A data array as sent: nested `n x D` rows, or a flat list of numbers. Read into one flat
/// buffer; a value problem is kept (with the rest of the array skipped) so that it is reported
/// with its field's code rather than as unreadable JSON.
#[derive(Debug, Default)]
pub enum Samples {
    /// Absent or null.
    #[default]
    Missing,
    Nested {
        values: Vec<f64>,
        rows: usize,
        cols: usize,
    },
    Flat(Vec<f64>),
    /// Not an array: the kind it is.
    NotAnArray(&'static str),
    /// An array with something wrong inside: the code and the message.
    Invalid(ApiError),
}

impl Samples {
    /// The `(n, dim)` array, checked against `shape` (`[n, dim]`, required for a flat list).
    /// `Ok(None)` for an empty list that agrees with `shape`: the caller decides whether that is
    /// allowed.
    pub fn into_array(
        self,
        field: &'static str,
        shape_field: &'static str,
        shape: &Option<Loose>,
    ) -> Result<Option<Array2<f64>>, ApiError> {
        let shape = match shape {
            None | Some(Loose::Null) => None,
            Some(value) => Some(Loose::pair(value, || ApiError::InvalidValue {
                code: "shape_mismatch",
                message: format!(
                    "{shape_field} must be two whole numbers [n, dim], got {value}; e.g. [10, 3]"
                ),
            })?),
        }
        .map(|[rows, cols]| [rows as usize, cols as usize]);
        match self {
            Samples::Missing => Err(ApiError::MissingField(field)),
            Samples::NotAnArray("null") => Err(ApiError::InvalidType {
                field,
                expected: "given, not null",
            }),
            Samples::NotAnArray(_) => Err(ApiError::InvalidType {
                field,
                expected: "an array of rows of numbers",
            }),
            Samples::Invalid(err) => Err(err),
            Samples::Flat(values) if values.is_empty() => match shape {
                Some([0, _]) | None => Ok(None),
                Some([rows, cols]) => Err(SomError::ShapeMismatch { rows, cols, len: 0 }.into()),
            },
            Samples::Flat(values) => {
                let shape = shape.ok_or_else(|| ApiError::InvalidValue {
                    code: "shape_mismatch",
                    message: format!(
                        "{field} is a flat list: send it as rows ([[...], [...]]) or give {shape_field} [n, dim]"
                    ),
                })?;
                Ok(Some(data_from_flat(values, shape)?))
            }
            Samples::Nested { values, rows, cols } => {
                if let Some([n, dim]) = shape
                    && [n, dim] != [rows, cols]
                {
                    return Err(ApiError::InvalidValue {
                        code: "shape_mismatch",
                        message: format!(
                            "{shape_field} says [{n}, {dim}] but {field} has {rows} rows of {cols} values"
                        ),
                    });
                }
                Ok(Some(data_from_flat(values, [rows, cols])?))
            }
        }
    }
}

impl<'de> Deserialize<'de> for Samples {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SamplesVisitor)
    }
}

struct SamplesVisitor;

impl<'de> Visitor<'de> for SamplesVisitor {
    type Value = Samples;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of rows of numbers")
    }
    fn visit_unit<E>(self) -> Result<Samples, E> {
        Ok(Samples::NotAnArray("null"))
    }
    fn visit_none<E>(self) -> Result<Samples, E> {
        Ok(Samples::NotAnArray("null"))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Samples, E> {
        Ok(Samples::NotAnArray("a boolean"))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Samples, E> {
        Ok(Samples::NotAnArray("a number"))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Samples, E> {
        Ok(Samples::NotAnArray("a number"))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Samples, E> {
        Ok(Samples::NotAnArray("a number"))
    }
    fn visit_str<E>(self, _: &str) -> Result<Samples, E> {
        Ok(Samples::NotAnArray("a string"))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Samples, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Samples::NotAnArray("an object"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Samples, A::Error> {
        let mut values = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        let mut rows = 0;
        let mut cols = None;
        let mut problem = None;
        while problem.is_none() {
            let item = seq.next_element_seed(Item {
                values: &mut values,
                index: rows,
                nested: cols.is_some() || (rows == 0),
            })?;
            match item {
                None => break,
                Some(Ok(ItemKind::Number)) if cols.is_none() => {}
                Some(Ok(ItemKind::Row(len))) if rows == 0 || cols == Some(len) => cols = Some(len),
                Some(Ok(ItemKind::Row(len))) => {
                    problem = Some(match cols {
                        Some(expected) => SomError::RaggedRows {
                            row: rows,
                            len,
                            expected,
                        }
                        .into(),
                        None => mixed(rows),
                    })
                }
                Some(Ok(ItemKind::Number)) => problem = Some(mixed(rows)),
                Some(Err(err)) => problem = Some(err),
            }
            rows += 1;
        }
        if let Some(problem) = problem {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Samples::Invalid(problem));
        }
        Ok(match cols {
            Some(cols) => Samples::Nested { values, rows, cols },
            None => Samples::Flat(values),
        })
    }
}

fn mixed(index: usize) -> ApiError {
    ApiError::InvalidValue {
        code: "invalid_data",
        message: format!(
            "item {index} mixes rows and numbers: send rows ([[...], [...]]) or a flat list of numbers"
        ),
    }
}

/// What an item of a data array was: a number (of a flat list) or a row of `len` numbers
/// (appended to the buffer); `Err` describes a value that is neither.
enum ItemKind {
    Number,
    Row(usize),
}

struct Item<'a> {
    values: &'a mut Vec<f64>,
    index: usize,
    nested: bool,
}

impl<'de> DeserializeSeed<'de> for Item<'_> {
    type Value = Result<ItemKind, ApiError>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Item<'_> {
    type Value = Result<ItemKind, ApiError>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a number or a row of numbers")
    }
    fn visit_u64<E>(self, value: u64) -> Result<Self::Value, E> {
        self.values.push(value as f64);
        Ok(Ok(ItemKind::Number))
    }
    fn visit_i64<E>(self, value: i64) -> Result<Self::Value, E> {
        self.values.push(value as f64);
        Ok(Ok(ItemKind::Number))
    }
    fn visit_f64<E>(self, value: f64) -> Result<Self::Value, E> {
        self.values.push(value);
        Ok(Ok(ItemKind::Number))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Err(not_a_number(None, self.index, "null")))
    }
    fn visit_bool<E>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Err(not_a_number(None, self.index, &value.to_string())))
    }
    fn visit_str<E>(self, text: &str) -> Result<Self::Value, E> {
        let text = format!("{:?}", text.chars().take(LOOSE_TEXT).collect::<String>());
        Ok(Err(not_a_number(None, self.index, &text)))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Err(not_a_number(None, self.index, "an object")))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if !self.nested {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Err(mixed(self.index)));
        }
        let mut len = 0;
        while let Some(value) = seq.next_element::<Loose>()? {
            match value {
                Loose::Number(number) => self.values.push(number),
                other => {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    return Ok(Err(not_a_number(Some(self.index), len, &other.to_string())));
                }
            }
            len += 1;
        }
        Ok(Ok(ItemKind::Row(len)))
    }
}

fn not_a_number(row: Option<usize>, index: usize, what: &str) -> ApiError {
    let place = match row {
        Some(row) => format!("row {row}, column {index}"),
        None => format!("item {index}"),
    };
    ApiError::InvalidValue {
        code: "invalid_data",
        message: format!("{place} is {what}, not a number"),
    }
}

/// The schema of a data array: rows of numbers (all of one length), or a flat list of numbers
/// with its shape given beside it; empty or not.
pub fn samples_schema() -> impl Into<RefOr<Schema>> {
    samples_with_at_least(0)
}

/// The schema of a data array of at least one vector.
pub fn some_samples_schema() -> impl Into<RefOr<Schema>> {
    samples_with_at_least(1)
}

fn samples_with_at_least(items: usize) -> AnyOfBuilder {
    let number = || {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(-MAX_ABS_VALUE))
            .maximum(Some(MAX_ABS_VALUE))
    };
    AnyOfBuilder::new()
        .item(
            ArrayBuilder::new()
                .items(ArrayBuilder::new().items(number()).min_items(Some(1)))
                .min_items(Some(items))
                .description(Some("n rows of D numbers each")),
        )
        .item(
            ArrayBuilder::new()
                .items(number())
                .min_items(Some(items))
                .description(Some("n x D numbers, row after row, with the shape beside")),
        )
}

/// `feature_names` as sent: a list of strings, or the problem with it (kept, with the rest of
/// the list skipped, to be reported with its field's code).
#[derive(Debug, Default)]
pub enum FeatureNames {
    /// Absent or null.
    #[default]
    Missing,
    Given(Vec<String>),
    Invalid(ApiError),
}

impl FeatureNames {
    /// The names sent, if any (their count and rules are checked against the data later).
    pub fn into_names(self) -> Result<Option<Vec<String>>, ApiError> {
        match self {
            FeatureNames::Missing => Ok(None),
            FeatureNames::Given(names) => Ok(Some(names)),
            FeatureNames::Invalid(err) => Err(err),
        }
    }
}

/// `labels` as sent: one string or integer (kept as its decimal text) per row, interned as
/// they are read, so a million rows of a few classes hold a million indices, not strings.
#[derive(Debug, Default)]
pub enum LabelsIn {
    /// Absent or null.
    #[default]
    Missing,
    Given(Labels),
    Invalid(ApiError),
}

impl LabelsIn {
    pub fn into_labels(self) -> Result<Option<Labels>, ApiError> {
        match self {
            LabelsIn::Missing => Ok(None),
            LabelsIn::Given(labels) => Ok(Some(labels)),
            LabelsIn::Invalid(err) => Err(err),
        }
    }
}

/// One item of a list of names: a string, an integer, or (by its kind) anything else.
enum NameItem {
    Text(String),
    Integer(String),
    Other(String),
}

impl<'de> Deserialize<'de> for NameItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Loose::deserialize(deserializer)? {
            Loose::Text(text) => NameItem::Text(text),
            Loose::Number(number) if number.fract() == 0.0 && number.abs() < 2f64.powi(53) => {
                NameItem::Integer(format!("{number:.0}"))
            }
            other => NameItem::Other(other.to_string()),
        })
    }
}

/// Reads a JSON list of names item by item into `push` (integers as their decimal text, when
/// `integers` are names here); the first problem is kept and the rest of the list skipped.
fn read_names<'de, A: SeqAccess<'de>>(
    mut seq: A,
    field: &'static str,
    integers: bool,
    expected: &'static str,
    mut push: impl FnMut(String) -> Result<(), NamesError>,
) -> Result<Option<ApiError>, A::Error> {
    let mut index = 0;
    while let Some(item) = seq.next_element::<NameItem>()? {
        let refused = match item {
            NameItem::Text(name) => push(name),
            NameItem::Integer(name) if integers => push(name),
            NameItem::Integer(what) | NameItem::Other(what) => Err(NamesError::NotText {
                field,
                index,
                what,
                expected,
            }),
        };
        if let Err(err) = refused {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Some(err.into()));
        }
        index += 1;
    }
    Ok(None)
}

/// Deserialises a list of names as `T`: null is `missing`, another non-list `invalid`.
macro_rules! names_visitor {
    ($visitor:ident, $type:ident, $field:literal, $what:literal) => {
        struct $visitor;

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_any($visitor)
            }
        }

        impl<'de> Visitor<'de> for $visitor {
            type Value = $type;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, $what)
            }
            fn visit_unit<E>(self) -> Result<$type, E> {
                Ok($type::Missing)
            }
            fn visit_none<E>(self) -> Result<$type, E> {
                Ok($type::Missing)
            }
            fn visit_bool<E>(self, _: bool) -> Result<$type, E> {
                Ok(not_a_list($field))
            }
            fn visit_u64<E>(self, _: u64) -> Result<$type, E> {
                Ok(not_a_list($field))
            }
            fn visit_i64<E>(self, _: i64) -> Result<$type, E> {
                Ok(not_a_list($field))
            }
            fn visit_f64<E>(self, _: f64) -> Result<$type, E> {
                Ok(not_a_list($field))
            }
            fn visit_str<E>(self, _: &str) -> Result<$type, E> {
                Ok(not_a_list($field))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<$type, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(not_a_list($field))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<$type, A::Error> {
                $type::read(seq)
            }
        }
    };
}

names_visitor!(
    FeatureNamesVisitor,
    FeatureNames,
    "feature_names",
    "a list of strings"
);
names_visitor!(
    LabelsVisitor,
    LabelsIn,
    "labels",
    "a list of strings or integers"
);

trait NotAList {
    fn invalid(err: ApiError) -> Self;
}

impl NotAList for FeatureNames {
    fn invalid(err: ApiError) -> Self {
        FeatureNames::Invalid(err)
    }
}

impl NotAList for LabelsIn {
    fn invalid(err: ApiError) -> Self {
        LabelsIn::Invalid(err)
    }
}

fn not_a_list<T: NotAList>(field: &'static str) -> T {
    T::invalid(ApiError::InvalidType {
        field,
        expected: "a list",
    })
}

impl FeatureNames {
    fn read<'de, A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        let mut names = Vec::new();
        let expected = "feature names are strings";
        let problem = read_names(seq, "feature_names", false, expected, |name| {
            names.push(name);
            Ok(())
        })?;
        Ok(match problem {
            Some(err) => FeatureNames::Invalid(err),
            None => FeatureNames::Given(names),
        })
    }
}

impl LabelsIn {
    fn read<'de, A: SeqAccess<'de>>(seq: A) -> Result<Self, A::Error> {
        let mut labels = Labels::default();
        let expected = "a label is a string or an integer";
        let problem = read_names(seq, "labels", true, expected, |label| labels.push(&label))?;
        Ok(match problem {
            Some(err) => LabelsIn::Invalid(err),
            None => LabelsIn::Given(labels),
        })
    }
}

/// The schema of `feature_names`.
pub fn feature_names_schema() -> impl Into<RefOr<Schema>> {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(MAX_NAME_CHARS)),
        )
        .unique_items(true)
        .description(Some(
            "One distinct name per feature (D of them, each 1-100 characters); with dataset, replaces the names of its CSV header.",
        ))
}

/// The schema of `labels`.
pub fn labels_schema() -> impl Into<RefOr<Schema>> {
    AnyOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String).max_length(Some(MAX_NAME_CHARS)))
        .item(ObjectBuilder::new().schema_type(Type::Integer))
        .to_array_builder()
        .description(Some(format!(
            "One label per training row, a string (at most 100 characters) or an integer (kept as its decimal text: 1 and \"1\" are one label); at most {MAX_LABELS} distinct. With dataset, replaces the dataset's label column."
        )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(json: &str) -> Samples {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn nested_rows_are_read_into_one_flat_buffer() {
        let Samples::Nested { values, rows, cols } = samples("[[1, 2.5], [-3, 4e2]]") else {
            panic!("nested");
        };
        assert_eq!((values, rows, cols), (vec![1.0, 2.5, -3.0, 400.0], 2, 2));
        let Samples::Flat(values) = samples("[1, 2, 3]") else {
            panic!("flat");
        };
        assert_eq!(values, [1.0, 2.0, 3.0]);
    }

    #[test]
    fn a_bad_value_is_kept_with_its_place_and_the_rest_is_skipped() {
        let message = |json: &str| match samples(json) {
            Samples::Invalid(err) => err.to_string(),
            other => panic!("{json}: {other:?}"),
        };
        assert_eq!(
            message(r#"[[0.1, "x"], [1, 2]]"#),
            "row 0, column 1 is \"x\", not a number"
        );
        assert!(message("[[1, 2], [3]]").contains("row 1 has 1 values"));
        assert!(message("[1, [2]]").contains("mixes rows and numbers"));
        assert!(message("[[1], 2]").contains("mixes rows and numbers"));
        assert_eq!(message("[1, null]"), "item 1 is null, not a number");
    }

    #[test]
    fn loose_values_keep_little_of_a_large_value() {
        let loose: Loose = serde_json::from_str(&format!("{:?}", "x".repeat(1000))).unwrap();
        assert_eq!(loose, Loose::Text("x".repeat(256)));
        let loose: Loose = serde_json::from_str("[1, 2, 3, 4, 5, 6, 7, 8, 9]").unwrap();
        assert_eq!(loose, Loose::Other("a long or mixed array"));
        let loose: Loose = serde_json::from_str("[10.5, 10]").unwrap();
        assert_eq!(loose.to_string(), "[10.5, 10]");
    }
}
