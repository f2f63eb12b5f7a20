//! An upload made into a stored data file in bounded memory: a `.npy` is read in chunks (or,
//! in Fortran order, in tiles of rows and columns), CSV a line at a time, every value is
//! checked as it is read, and the values are written out as little-endian f64 in C order
//! after room for the header, which is written last, once the shape is known. What is held at
//! once is a chunk of [`CHUNK_VALUES`] values, or a CSV line (at most [`MAX_LINE_BYTES`]) and
//! the labels, whatever the size of the upload.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::datasets::{CsvOptions, DatasetError, PendingRecord};
use super::npy::{CHUNK_VALUES, DATA_HEADER_LEN, NpyHeader, data_header};
use super::table::CsvReader;
use crate::som::value_error;

/// Longest CSV line read; a longer one is refused rather than held.
pub const MAX_LINE_BYTES: u64 = 16 << 20;

const MAGIC: &[u8] = b"\x93NUMPY";

/// What an upload turned out to hold.
pub struct Ingested {
    pub rows: usize,
    pub dim: usize,
    pub pending: PendingRecord,
}

/// Reads the upload at `upload` as data, a `.npy` (float32 or float64, 2-D, either order) when
/// it starts with the `.npy` magic, CSV otherwise, and writes it to `out` (at `out_path`) as a
/// stored data file, flushed to disk. Every value must be finite and within the core's
/// magnitude limit.
pub fn ingest(
    upload: &Path,
    out: &File,
    out_path: &Path,
    csv: &CsvOptions,
) -> Result<Ingested, DatasetError> {
    let mut file = File::open(upload).map_err(io_error("read", upload))?;
    let len = file.metadata().map_err(io_error("read", upload))?.len();
    let mut magic = Vec::new();
    (&mut file)
        .take(MAGIC.len() as u64)
        .read_to_end(&mut magic)
        .and_then(|_| file.seek(SeekFrom::Start(0)))
        .map_err(io_error("read", upload))?;
    let mut writer = DataWriter {
        file: out,
        path: out_path,
        bytes: Vec::new(),
    };
    let mut reader = Upload { file, path: upload };
    let ingested = if magic == MAGIC {
        ingest_npy(&mut reader, len, &mut writer)?
    } else {
        ingest_csv(reader, csv, &mut writer)?
    };
    if ingested.rows == 0 || ingested.dim == 0 {
        return Err(invalid(
            "the data has no values: send at least one row of at least one number",
        ));
    }
    out.write_all_at(&data_header(ingested.rows, ingested.dim), 0)
        .and_then(|()| out.sync_all())
        .map_err(io_error("write", out_path))?;
    Ok(ingested)
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> DatasetError {
    let path = path.to_owned();
    move |source| DatasetError::Io {
        action,
        path,
        source,
    }
}

fn invalid(reason: impl Into<String>) -> DatasetError {
    DatasetError::InvalidData(reason.into())
}

/// The uploaded file being read.
struct Upload<'a> {
    file: File,
    path: &'a Path,
}

/// The stored data file being written: values go after the header's room.
struct DataWriter<'a> {
    file: &'a File,
    path: &'a Path,
    bytes: Vec<u8>,
}

impl DataWriter<'_> {
    /// Writes `values` as the data's values from the flat C-order index `first`.
    fn write_at(&mut self, first: usize, values: &[f64]) -> Result<(), DatasetError> {
        self.bytes.clear();
        for value in values {
            self.bytes.extend_from_slice(&value.to_le_bytes());
        }
        let offset = DATA_HEADER_LEN as u64 + first as u64 * 8;
        self.file
            .write_all_at(&self.bytes, offset)
            .map_err(io_error("write", self.path))
    }
}

/// Checks `values`, the data's values from the flat C-order index `first` in rows of `dim`.
fn check_values(first: usize, dim: usize, values: &[f64]) -> Result<(), DatasetError> {
    let found = (values.iter().enumerate())
        .find_map(|(i, &value)| value_error((first + i) / dim, (first + i) % dim, value));
    match found {
        Some(err) => Err(invalid(err.to_string())),
        None => Ok(()),
    }
}

fn ingest_npy(
    upload: &mut Upload,
    len: u64,
    out: &mut DataWriter,
) -> Result<Ingested, DatasetError> {
    let header = NpyHeader::read_from(&mut upload.file).map_err(|err| invalid(err.to_string()))?;
    header
        .check_len(len)
        .map_err(|err| invalid(err.to_string()))?;
    let [rows, dim] = header
        .check_data()
        .map_err(|err| invalid(format!("the body is not a usable .npy: {err}")))?;
    if header.fortran_order {
        transpose_npy(&header, upload, [rows, dim], out)?;
    } else {
        copy_npy(&header, upload, [rows, dim], out)?;
    }
    let dtype = if header.item_size == 4 {
        "float32"
    } else {
        "float64"
    };
    Ok(Ingested {
        rows,
        dim,
        pending: PendingRecord::new(dtype, None, None, None),
    })
}

/// Copies C-order data `(rows, dim)`, a chunk at a time.
fn copy_npy(
    header: &NpyHeader,
    upload: &mut Upload,
    [rows, dim]: [usize; 2],
    out: &mut DataWriter,
) -> Result<(), DatasetError> {
    let count = rows * dim;
    let mut bytes = vec![0; CHUNK_VALUES.min(count) * header.item_size];
    let mut values = vec![0.0; CHUNK_VALUES.min(count)];
    let mut first = 0;
    while first < count {
        let n = CHUNK_VALUES.min(count - first);
        let bytes = &mut bytes[..n * header.item_size];
        (upload.file.read_exact(bytes)).map_err(io_error("read", upload.path))?;
        header.decode(bytes, &mut values[..n]);
        check_values(first, dim, &values[..n])?;
        out.write_at(first, &values[..n])?;
        first += n;
    }
    Ok(())
}

/// Copies Fortran-order data `(rows, dim)` into C order a tile at a time: a tile is up to
/// [`CHUNK_VALUES`] values, all the columns of a band of rows when at least 64 rows fit, so
/// that it is read as one run per column and written as one run.
fn transpose_npy(
    header: &NpyHeader,
    upload: &Upload,
    [rows, dim]: [usize; 2],
    out: &mut DataWriter,
) -> Result<(), DatasetError> {
    let tile_cols = dim.min(CHUNK_VALUES / 64);
    let tile_rows = rows.min(CHUNK_VALUES / tile_cols);
    let mut bytes = vec![0; tile_rows * header.item_size];
    let mut column = vec![0.0; tile_rows];
    let mut tile = vec![0.0; tile_rows * tile_cols];
    for r0 in (0..rows).step_by(tile_rows) {
        let r_len = tile_rows.min(rows - r0);
        for c0 in (0..dim).step_by(tile_cols) {
            let c_len = tile_cols.min(dim - c0);
            for c in 0..c_len {
                let offset = header.data_offset + ((c0 + c) * rows + r0) * header.item_size;
                let run = &mut bytes[..r_len * header.item_size];
                (upload.file.read_exact_at(run, offset as u64))
                    .map_err(io_error("read", upload.path))?;
                header.decode(run, &mut column[..r_len]);
                for (r, &value) in column[..r_len].iter().enumerate() {
                    tile[r * c_len + c] = value;
                }
            }
            for r in 0..r_len {
                let first = (r0 + r) * dim + c0;
                let row = &tile[r * c_len..(r + 1) * c_len];
                check_values(first, dim, row)?;
                if c_len < dim {
                    out.write_at(first, row)?;
                }
            }
            if c_len == dim {
                out.write_at(r0 * dim, &tile[..r_len * dim])?;
            }
        }
    }
    Ok(())
}

/// Reads CSV a line at a time, writing the values a chunk at a time.
fn ingest_csv(
    upload: Upload,
    csv: &CsvOptions,
    out: &mut DataWriter,
) -> Result<Ingested, DatasetError> {
    let not_text = || {
        invalid("the body is neither a .npy (it does not start with \\x93NUMPY) nor UTF-8 CSV text")
    };
    let cannot_read = |reason: String| invalid(format!("the CSV body cannot be read: {reason}"));
    let mut reader = CsvReader::new(csv.delimiter, csv.label_column.as_deref());
    let mut lines = BufReader::new(upload.file);
    let mut line = Vec::new();
    let mut values = Vec::new();
    let mut written = 0;
    for line_number in 1.. {
        line.clear();
        (&mut lines)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut line)
            .map_err(io_error("read", upload.path))?;
        if line.is_empty() {
            break;
        }
        if line.len() as u64 > MAX_LINE_BYTES {
            return Err(cannot_read(format!(
                "line {line_number} is over {MAX_LINE_BYTES} bytes"
            )));
        }
        let text = std::str::from_utf8(&line).map_err(|_| not_text())?;
        let text = text.strip_suffix('\n').unwrap_or(text);
        let text = text.strip_suffix('\r').unwrap_or(text);
        let (before, rows_before) = (values.len(), reader.rows());
        reader
            .line(line_number, text, &mut values)
            .map_err(cannot_read)?;
        let row = &values[before..];
        if reader.rows() > rows_before && !row.is_empty() {
            check_values(rows_before * row.len(), row.len(), row)?;
        }
        if values.len() >= CHUNK_VALUES {
            out.write_at(written, &values)?;
            written += values.len();
            values.clear();
        }
    }
    out.write_at(written, &values)?;
    let table = reader.finish(Vec::new()).map_err(cannot_read)?;
    Ok(Ingested {
        rows: table.shape[0],
        dim: table.shape[1],
        pending: PendingRecord::new(
            "csv",
            table.features,
            csv.label_column.clone(),
            table.labels,
        ),
    })
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, ShapeBuilder};
    use ndarray_npy::WriteNpyExt;

    use super::*;
    use crate::storage::data_from_npy;

    /// Ingests `upload` and reads the stored file back.
    fn stored(upload: &[u8], csv: &CsvOptions) -> Result<(Array2<f64>, Ingested), DatasetError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("upload");
        std::fs::write(&path, upload).unwrap();
        let out = tempfile::tempfile_in(dir.path()).unwrap();
        let ingested = ingest(&path, &out, dir.path(), csv)?;
        let mut bytes = Vec::new();
        (&out).seek(SeekFrom::Start(0)).unwrap();
        (&out).read_to_end(&mut bytes).unwrap();
        Ok((data_from_npy(&bytes).unwrap(), ingested))
    }

    fn npy<A: ndarray_npy::WritableElement>(array: &Array2<A>) -> Vec<u8> {
        let mut bytes = Vec::new();
        array.write_npy(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn fortran_order_data_is_stored_in_c_order_across_tiles_narrow_and_wide() {
        for (rows, dim) in [(700, 300), (70, 3000), (5, 2)] {
            let data = Array2::from_shape_fn((rows, dim).f(), |(r, c)| (r * dim + c) as f32);
            let (back, ingested) = stored(&npy(&data), &CsvOptions::default()).unwrap();
            assert_eq!((ingested.rows, ingested.dim), (rows, dim));
            assert_eq!(back, data.mapv(f64::from), "{rows} x {dim}");
            assert!(back.is_standard_layout());
        }
    }

    #[test]
    fn c_order_data_over_several_chunks_is_stored_unchanged() {
        let data = Array2::from_shape_fn((1000, 300), |(r, c)| r as f64 - c as f64 / 7.0);
        let (back, _) = stored(&npy(&data), &CsvOptions::default()).unwrap();
        assert_eq!(back, data);
    }

    #[test]
    fn a_bad_value_is_named_by_its_row_and_column_in_either_order() {
        for fortran in [false, true] {
            let mut data = Array2::<f64>::zeros((4, 3).set_f(fortran));
            data[[2, 1]] = f64::NAN;
            let err = stored(&npy(&data), &CsvOptions::default()).err().unwrap();
            assert!(err.to_string().contains("row 2, column 1"), "{err}");
            data[[2, 1]] = 1e300;
            let err = stored(&npy(&data), &CsvOptions::default()).err().unwrap();
            assert!(err.to_string().contains("row 2, column 1"), "{err}");
        }
    }

    #[test]
    fn csv_over_several_chunks_is_stored_row_by_row() {
        let text: String = (0..50_000)
            .map(|i| format!("{i},{}.5,-{i}\r\n", i % 7))
            .collect();
        let (back, ingested) = stored(text.as_bytes(), &CsvOptions::default()).unwrap();
        assert_eq!((ingested.rows, ingested.dim), (50_000, 3));
        assert_eq!(back.row(49_999).to_vec(), vec![49_999.0, 5.5, -49_999.0]);
        let err = stored(b"1,2\n3,1e300\n", &CsvOptions::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("row 1, column 1"), "{err}");
    }
}
