//! Reading and writing weights as `.npy`.
//!
//! Reading accepts what users drop in: f32 or f64, either byte order, C or Fortran order.
//! It never unpickles, and refuses anything that is not a 3-D array of finite numbers with every
//! side at least 1. The header is parsed here first and checked against the size limits and the
//! file's real length, so a 137-byte file claiming a terabyte allocates nothing; only a file
//! whose header tells the truth is handed to ndarray-npy.

use std::io::{self, Read, Seek, SeekFrom};

use ndarray::{Array2, Array3, ArrayD, Ix3, ShapeBuilder};
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
    pub big_endian: bool,
    /// The first index varies fastest in the file (column-major).
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
        Ok(NpyHeader {
            data_offset: start + len,
            item_size,
            big_endian: dict.descr.starts_with('>'),
            fortran_order: dict.fortran_order,
            shape: dict.shape,
        })
    }

    /// Reads and parses the header at the start of `file`, leaving it at the first data byte.
    pub fn read_from(file: &mut (impl Read + Seek)) -> Result<NpyHeader, NpyError> {
        let mut head = Vec::new();
        let read = |err: io::Error| NpyError::Invalid(format!("cannot read the file: {err}"));
        file.take(MAX_HEADER_LEN as u64 + 12)
            .read_to_end(&mut head)
            .map_err(read)?;
        let header = NpyHeader::parse(&head)?;
        file.seek(SeekFrom::Start(header.data_offset as u64))
            .map_err(read)?;
        Ok(header)
    }

    /// Checks that the header describes data `(rows, dim)` with at least one value; returns
    /// that shape.
    pub fn check_data(&self) -> Result<[usize; 2], NpyError> {
        let shape = &self.shape;
        let &[rows, dim] = shape.as_slice() else {
            return Err(NpyError::Invalid(format!(
                "the array has shape {shape:?}; data needs 2 dimensions (samples, dim)"
            )));
        };
        if rows == 0 || dim == 0 {
            return Err(NpyError::Invalid(
                "the data has no values: send at least one row of at least one number".into(),
            ));
        }
        Ok([rows, dim])
    }

    /// Decodes `bytes`, whole elements of the header's type in its byte order, into `out`.
    pub fn decode(&self, bytes: &[u8], out: &mut [f64]) {
        debug_assert_eq!(bytes.len(), out.len() * self.item_size);
        let elements = bytes.chunks_exact(self.item_size).zip(out);
        match (self.item_size, self.big_endian) {
            (8, false) => elements.for_each(|(b, o)| *o = f64::from_le_bytes(eight(b))),
            (8, true) => elements.for_each(|(b, o)| *o = f64::from_be_bytes(eight(b))),
            (_, false) => elements.for_each(|(b, o)| *o = f32::from_le_bytes(four(b)).into()),
            (_, true) => elements.for_each(|(b, o)| *o = f32::from_be_bytes(four(b)).into()),
        }
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

fn eight(bytes: &[u8]) -> [u8; 8] {
    bytes.try_into().expect("chunks of 8 bytes")
}

fn four(bytes: &[u8]) -> [u8; 4] {
    bytes.try_into().expect("chunks of 4 bytes")
}

/// Bytes of the header [`data_header`] writes: room for any 2-D shape, and a multiple of 64 as
/// numpy aligns its headers.
pub const DATA_HEADER_LEN: usize = 128;

/// The header of a little-endian f64, C-order `.npy` of shape `(rows, dim)`, padded with
/// spaces to [`DATA_HEADER_LEN`] bytes whatever the shape, so that it can be written once the
/// number of rows is known, over room left for it.
pub fn data_header(rows: usize, dim: usize) -> [u8; DATA_HEADER_LEN] {
    let dict = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({rows}, {dim}), }}");
    let mut header = [b' '; DATA_HEADER_LEN];
    header[..6].copy_from_slice(MAGIC);
    header[6..8].copy_from_slice(&[1, 0]);
    let len = u16::try_from(DATA_HEADER_LEN - 10).expect("the header is short");
    header[8..10].copy_from_slice(&len.to_le_bytes());
    header[10..10 + dict.len()].copy_from_slice(dict.as_bytes());
    header[DATA_HEADER_LEN - 1] = b'\n';
    header
}

/// Values decoded per read when data is streamed: 1 MiB of f64.
pub const CHUNK_VALUES: usize = 1 << 17;

/// Reads the data of a checked 2-D `header` `(rows, dim)` from `reader`, positioned at the
/// first data byte, into one array (in the file's order, C or Fortran), widening f32 as it
/// goes: nothing but the array and one chunk of bytes is allocated.
pub fn read_data(header: &NpyHeader, reader: &mut impl Read) -> Result<Array2<f64>, NpyError> {
    let [rows, dim] = header.check_data()?;
    let shape = (rows, dim).set_f(header.fortran_order);
    let mut data = Array2::<f64>::zeros(shape);
    let values = data
        .as_slice_memory_order_mut()
        .expect("a new array is contiguous");
    let mut bytes = vec![0; CHUNK_VALUES.min(values.len()) * header.item_size];
    for chunk in values.chunks_mut(CHUNK_VALUES) {
        let bytes = &mut bytes[..chunk.len() * header.item_size];
        reader
            .read_exact(bytes)
            .map_err(|err| NpyError::Invalid(format!("the data cannot be read: {err}")))?;
        header.decode(bytes, chunk);
    }
    Ok(data)
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

/// Reads `(n, dim)` data from the bytes of a `.npy` file, or says why not. The header must agree
/// with the bytes' length, so nothing larger than the file is allocated. Values are not checked
/// here: the core's checks name the bad row and column.
pub fn data_from_npy(bytes: &[u8]) -> Result<Array2<f64>, String> {
    let header = NpyHeader::parse(bytes).map_err(|err| err.to_string())?;
    header
        .check_len(bytes.len() as u64)
        .map_err(|err| err.to_string())?;
    let data =
        read_data(&header, &mut &bytes[header.data_offset..]).map_err(|err| err.to_string())?;
    // A copy only for Fortran order: the bytes and one array are all a load holds.
    if data.is_standard_layout() {
        Ok(data)
    } else {
        Ok(data.as_standard_layout().into_owned())
    }
}

/// Reads `(n, dim)` data from the `.npy` file at `path` as [`data_from_npy`] does, streaming:
/// the file's bytes are never held whole (the command line reads files of any size the memory
/// allows this way). Values are not checked here.
pub fn data_from_npy_file(path: &std::path::Path) -> Result<Array2<f64>, String> {
    let mut file = std::fs::File::open(path).map_err(|err| format!("cannot read: {err}"))?;
    let len = (file.metadata())
        .map_err(|err| format!("cannot read: {err}"))?
        .len();
    let header = NpyHeader::read_from(&mut file).map_err(|err| err.to_string())?;
    header.check_len(len).map_err(|err| err.to_string())?;
    let data = read_data(&header, &mut io::BufReader::new(file)).map_err(|err| err.to_string())?;
    Ok(match data.is_standard_layout() {
        true => data,
        false => data.as_standard_layout().into_owned(),
    })
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
