//! Reading weights and data as `.npy`, and writing weights.
//!
//! Reading accepts what users drop in: f32 or f64, either byte order, C or Fortran order.
//! It never unpickles. Weights must be a 3-D array of finite numbers with every side at least
//! 1; data a 2-D array. The header is parsed here first and checked against the size limits
//! and the file's real length, so a 137-byte file claiming a terabyte allocates nothing.
//! Weights whose header tells the truth are handed to ndarray-npy. Data, which may be
//! gigabytes, is decoded here as it streams in ([`read_data_npy`]): straight into the one
//! `(n, dim)` f64 array the training uses, through a buffer of [`CHUNK_BYTES`], so reading a
//! file of B bytes needs B of memory (2 B for float32, widened once) and no other copy.

use std::io::{self, Read};

use ndarray::{Array2, Array3, ArrayD, Ix3};
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};

use crate::som::{SizeLimits, SomError};

/// Why bytes are not usable weights.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// Not a `.npy` file, a wrong type or shape, a length that disagrees with the header.
    #[error("{0}")]
    Invalid(String),
    /// A well-formed map over the size limits.
    #[error(transparent)]
    TooLarge(SomError),
}

/// The first bytes of every `.npy` file.
const MAGIC: &[u8] = b"\x93NUMPY";

/// Longest header read. numpy itself refuses headers over 10,000 bytes by default.
pub const MAX_HEADER_LEN: usize = 65_536;

/// What a `.npy` header says: enough to know, before reading the data, how many bytes it must
/// have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// Bytes before the data: magic, version, length field and the header dict.
    pub data_offset: usize,
    /// Bytes per element: 4 (f32) or 8 (f64).
    pub item_size: usize,
    /// The bytes of each element are most significant first (`>f8`).
    pub big_endian: bool,
    /// The elements are stored column by column (the first index varies fastest).
    pub fortran_order: bool,
    pub shape: Vec<usize>,
}

impl NpyHeader {
    /// Parses the header at the start of `bytes` (which may hold only the first
    /// [`MAX_HEADER_LEN`] + 12 bytes of the file).
    pub fn parse(bytes: &[u8]) -> Result<NpyHeader, NpyError> {
        let invalid = |why: &str| NpyError::Invalid(format!("not a readable .npy file: {why}"));
        if !bytes.starts_with(MAGIC) || bytes.len() < 10 {
            return Err(invalid("it does not start with the .npy magic bytes"));
        }
        let (len_field, len) = match bytes[6] {
            1 => (2, usize::from(u16::from_le_bytes([bytes[8], bytes[9]]))),
            2 | 3 if bytes.len() >= 12 => (
                4,
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            ),
            version => return Err(invalid(&format!("unknown format version {version}"))),
        };
        let start = 8 + len_field;
        if len > MAX_HEADER_LEN {
            return Err(invalid("the header is over 64 KiB"));
        }
        let text = bytes
            .get(start..start + len)
            .ok_or_else(|| invalid("the header is cut short"))?;
        let text = std::str::from_utf8(text).map_err(|_| invalid("the header is not text"))?;
        let dict = HeaderDict::parse(text).map_err(|why| invalid(&why))?;
        let item_size = match dict.descr.as_str() {
            "<f8" | ">f8" | "=f8" => 8,
            "<f4" | ">f4" | "=f4" => 4,
            other => {
                return Err(NpyError::Invalid(format!(
                    "the array holds {other}; only float32 and float64 arrays are read"
                )));
            }
        };
        let big_endian = match dict.descr.as_bytes()[0] {
            b'>' => true,
            b'=' => cfg!(target_endian = "big"),
            _ => false,
        };
        Ok(NpyHeader {
            data_offset: start + len,
            item_size,
            big_endian,
            fortran_order: dict.fortran_order,
            shape: dict.shape,
        })
    }

    /// Elements the header promises, or `None` past `usize`.
    fn elements(&self) -> Option<usize> {
        self.shape
            .iter()
            .try_fold(1usize, |product, &side| product.checked_mul(side))
    }

    /// Checks that a file of `file_len` bytes holds exactly the data the header promises.
    pub fn check_len(&self, file_len: u64) -> Result<(), NpyError> {
        let expected = self
            .elements()
            .and_then(|n| n.checked_mul(self.item_size))
            .and_then(|data| data.checked_add(self.data_offset));
        let shape = &self.shape;
        match expected.map(|bytes| (bytes as u64).cmp(&file_len)) {
            Some(std::cmp::Ordering::Equal) => Ok(()),
            Some(std::cmp::Ordering::Greater) | None => Err(NpyError::Invalid(format!(
                "the file is truncated: it holds less data than its header says (shape {shape:?}, \
                 {file_len} bytes)"
            ))),
            Some(std::cmp::Ordering::Less) => Err(NpyError::Invalid(format!(
                "the file holds more bytes ({file_len}) than its header says (shape {shape:?})"
            ))),
        }
    }

    /// Checks that the header describes weights `(rows, cols, dim)` within `limits`; returns
    /// that shape.
    pub fn check_weights(&self, limits: &SizeLimits) -> Result<[usize; 3], NpyError> {
        let shape = &self.shape;
        let &[rows, cols, dim] = shape.as_slice() else {
            return Err(NpyError::Invalid(format!(
                "the array has shape {shape:?}; a map needs 3 dimensions (rows, cols, dim)"
            )));
        };
        if shape.contains(&0) {
            return Err(NpyError::Invalid(format!(
                "the array has shape {shape:?}; every side must be at least 1"
            )));
        }
        limits.check(rows, cols, dim).map_err(NpyError::TooLarge)?;
        Ok([rows, cols, dim])
    }
}

/// The dict of a `.npy` header, a Python literal such as
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (4, 6, 3), }`.
struct HeaderDict {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

impl HeaderDict {
    fn parse(text: &str) -> Result<HeaderDict, String> {
        let mut parser = Literal { rest: text.trim() };
        parser.expect('{')?;
        let (mut descr, mut fortran_order, mut shape) = (None, None, None);
        while !parser.eat('}') {
            let key = parser.string()?;
            parser.expect(':')?;
            match key.as_str() {
                "descr" => descr = Some(parser.string()?),
                "fortran_order" => fortran_order = Some(parser.boolean()?),
                "shape" => shape = Some(parser.tuple()?),
                other => return Err(format!("unknown header key {other:?}")),
            }
            if !parser.eat(',') {
                parser.expect('}')?;
                break;
            }
        }
        match (descr, fortran_order, shape) {
            (Some(descr), Some(fortran_order), Some(shape)) => Ok(HeaderDict {
                descr,
                fortran_order,
                shape,
            }),
            _ => Err("the header lacks descr, fortran_order or shape".into()),
        }
    }
}

/// Just enough of a Python literal reader for a `.npy` header.
struct Literal<'a> {
    rest: &'a str,
}

impl Literal<'_> {
    fn eat(&mut self, c: char) -> bool {
        self.rest = self.rest.trim_start();
        match self.rest.strip_prefix(c) {
            Some(rest) => {
                self.rest = rest;
                true
            }
            None => false,
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected {c:?} in the header"))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.rest = self.rest.trim_start();
        let quote = self
            .rest
            .chars()
            .next()
            .filter(|c| matches!(c, '\'' | '"'))
            .ok_or("expected a quoted string in the header")?;
        let body = &self.rest[1..];
        let end = body
            .find(quote)
            .ok_or("an unterminated string in the header")?;
        self.rest = &body[end + 1..];
        Ok(body[..end].to_owned())
    }

    fn boolean(&mut self) -> Result<bool, String> {
        self.rest = self.rest.trim_start();
        for (word, value) in [("True", true), ("False", false)] {
            if let Some(rest) = self.rest.strip_prefix(word) {
                self.rest = rest;
                return Ok(value);
            }
        }
        Err("expected True or False in the header".into())
    }

    fn tuple(&mut self) -> Result<Vec<usize>, String> {
        self.expect('(')?;
        let mut sides = Vec::new();
        while !self.eat(')') {
            self.rest = self.rest.trim_start();
            let digits = self.rest.len()
                - self
                    .rest
                    .trim_start_matches(|c: char| c.is_ascii_digit())
                    .len();
            let side = self.rest[..digits]
                .parse()
                .map_err(|_| "a shape side that is not a whole number".to_owned())?;
            sides.push(side);
            self.rest = &self.rest[digits..];
            if !self.eat(',') {
                self.expect(')')?;
                break;
            }
        }
        Ok(sides)
    }
}

/// Reads `(rows, cols, dim)` weights from the bytes of a `.npy` file, or says why not; nothing
/// is allocated before the header is checked against `limits` and the bytes' length.
pub fn weights_from_npy(bytes: &[u8], limits: &SizeLimits) -> Result<Array3<f64>, NpyError> {
    let header = NpyHeader::parse(bytes)?;
    header.check_weights(limits)?;
    header.check_len(bytes.len() as u64)?;
    let array = float_array_from_npy(bytes).map_err(NpyError::Invalid)?;
    let weights = array
        .into_dimensionality::<Ix3>()
        .map_err(|_| NpyError::Invalid("the array is not 3-D".into()))?;
    if let Some(((r, c, k), value)) = weights.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(NpyError::Invalid(format!(
            "weight [{r}, {c}, {k}] is {value}; every weight must be finite"
        )));
    }
    Ok(weights.as_standard_layout().into_owned())
}

/// Reads `(n, dim)` data from the bytes of a `.npy` file, or says why not (see
/// [`read_data_npy`]).
pub fn data_from_npy(bytes: &[u8]) -> Result<Array2<f64>, String> {
    let mut reader = bytes;
    match read_data_npy(&mut reader, bytes.len() as u64) {
        Ok((_, data)) => Ok(data),
        Err(DataReadError::Invalid(reason)) => Err(reason),
        Err(DataReadError::Read(err)) => unreachable!("reading memory cannot fail: {err}"),
    }
}

/// Why a `.npy` stream did not give data.
#[derive(Debug, thiserror::Error)]
pub enum DataReadError {
    /// The stream failed (not the file's fault).
    #[error("cannot read: {0}")]
    Read(#[from] io::Error),
    /// Not a `.npy` file, a wrong type or shape, a length that disagrees with the header.
    #[error("{0}")]
    Invalid(String),
}

/// Bytes of a `.npy` file decoded at a time while reading data: the one buffer beside the
/// data.
pub const CHUNK_BYTES: usize = 1 << 20;

/// Reads `(n, dim)` data, in C order, and its header from a `.npy` stream of `len` bytes (the
/// file's length): float32 widened to f64 as it is decoded, either byte order, Fortran order
/// put in C order as it is decoded. Nothing is allocated before the header agrees with `len`,
/// and then only the data and one buffer of [`CHUNK_BYTES`]. Values are not checked here: the
/// core's checks name the bad row and column.
///
/// # Errors
/// [`DataReadError::Read`] when `reader` fails; [`DataReadError::Invalid`] for anything else.
pub fn read_data_npy(
    reader: &mut impl Read,
    len: u64,
) -> Result<(NpyHeader, Array2<f64>), DataReadError> {
    let invalid = |err: NpyError| DataReadError::Invalid(err.to_string());
    let mut buffer = Vec::with_capacity(CHUNK_BYTES.max(MAX_HEADER_LEN + 12));
    reader
        .take((MAX_HEADER_LEN + 12) as u64)
        .read_to_end(&mut buffer)?;
    let header = NpyHeader::parse(&buffer).map_err(invalid)?;
    header.check_len(len).map_err(invalid)?;
    let &[n, dim] = header.shape.as_slice() else {
        return Err(DataReadError::Invalid(format!(
            "the array has shape {:?}; data needs 2 dimensions (samples, dim)",
            header.shape
        )));
    };
    let mut values = vec![0.0; n * dim];
    buffer.drain(..header.data_offset);
    let item = header.item_size;
    let mut decoded = 0;
    let mut scratch = Vec::new();
    while decoded < values.len() {
        let wanted = CHUNK_BYTES.min((values.len() - decoded) * item);
        if buffer.len() < wanted {
            let have = buffer.len();
            buffer.resize(wanted, 0);
            reader.read_exact(&mut buffer[have..]).map_err(|err| {
                if err.kind() == io::ErrorKind::UnexpectedEof {
                    DataReadError::Invalid(
                        "the file is truncated: it holds less data than its header says".into(),
                    )
                } else {
                    DataReadError::Read(err)
                }
            })?;
        }
        let count = wanted / item;
        let bytes = &buffer[..count * item];
        if header.fortran_order && n > 1 && dim > 1 {
            scratch.resize(count, 0.0);
            decode(bytes, &header, &mut scratch);
            let (mut row, mut col) = (decoded % n, decoded / n);
            for &value in &scratch {
                values[row * dim + col] = value;
                row += 1;
                if row == n {
                    row = 0;
                    col += 1;
                }
            }
        } else {
            decode(bytes, &header, &mut values[decoded..decoded + count]);
        }
        decoded += count;
        buffer.drain(..count * item);
    }
    let data = Array2::from_shape_vec((n, dim), values).expect("the header's shape sized it");
    Ok((header, data))
}

/// Decodes `out.len()` elements of the header's type from `bytes`.
fn decode(bytes: &[u8], header: &NpyHeader, out: &mut [f64]) {
    match (header.item_size, header.big_endian) {
        (8, false) => decode_with(bytes, out, f64::from_le_bytes),
        (8, true) => decode_with(bytes, out, f64::from_be_bytes),
        (_, false) => decode_with(bytes, out, |b| f64::from(f32::from_le_bytes(b))),
        (_, true) => decode_with(bytes, out, |b| f64::from(f32::from_be_bytes(b))),
    }
}

fn decode_with<const N: usize>(bytes: &[u8], out: &mut [f64], from: impl Fn([u8; N]) -> f64) {
    for (value, b) in out.iter_mut().zip(bytes.chunks_exact(N)) {
        *value = from(b.try_into().expect("chunks of N bytes"));
    }
}

fn float_array_from_npy(bytes: &[u8]) -> Result<ArrayD<f64>, String> {
    match ArrayD::<f64>::read_npy(bytes) {
        Ok(array) => Ok(array),
        Err(ReadNpyError::WrongDescriptor(_)) => Ok(ArrayD::<f32>::read_npy(bytes)
            .map_err(describe)?
            .mapv(f64::from)),
        Err(err) => Err(describe(err)),
    }
}

fn describe(err: ReadNpyError) -> String {
    match err {
        ReadNpyError::WrongDescriptor(descr) => {
            format!("the array holds {descr}; only float32 and float64 arrays are read")
        }
        ReadNpyError::MissingData => {
            "the file is truncated: it holds less data than its header says".into()
        }
        other => format!("not a readable .npy file: {other}"),
    }
}

/// The bytes of a `.npy` file holding `weights`: little-endian f64, C order.
pub fn weights_to_npy(weights: &Array3<f64>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(weights.len() * 8 + 128);
    weights
        .as_standard_layout()
        .write_npy(&mut bytes)
        .expect("writing an f64 array to memory cannot fail");
    bytes
}
