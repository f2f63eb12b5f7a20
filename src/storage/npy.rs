//! Reading and writing weights as `.npy`.
//!
//! Reading accepts what users drop in: f32 or f64, either byte order, C or Fortran order.
//! It never unpickles (ndarray-npy refuses object arrays), and refuses anything that is not a
//! 3-D array of finite numbers with every side at least 1.

use ndarray::{Array2, Array3, ArrayD, Ix2, Ix3};
use ndarray_npy::{ReadNpyError, ReadNpyExt, WriteNpyExt};

/// Reads `(rows, cols, dim)` weights from the bytes of a `.npy` file, or says why not.
pub fn weights_from_npy(bytes: &[u8]) -> Result<Array3<f64>, String> {
    let array = float_array_from_npy(bytes)?;
    let shape = array.shape().to_vec();
    let weights = array.into_dimensionality::<Ix3>().map_err(|_| {
        format!("the array has shape {shape:?}; a map needs 3 dimensions (rows, cols, dim)")
    })?;
    if weights.shape().contains(&0) {
        return Err(format!(
            "the array has shape {shape:?}; every side must be at least 1"
        ));
    }
    if let Some(((r, c, k), value)) = weights.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(format!(
            "weight [{r}, {c}, {k}] is {value}; every weight must be finite"
        ));
    }
    Ok(weights.as_standard_layout().into_owned())
}

/// Reads `(n, dim)` data from the bytes of a `.npy` file, or says why not. Values are not
/// checked here: the core's checks name the bad row and column.
pub fn data_from_npy(bytes: &[u8]) -> Result<Array2<f64>, String> {
    let array = float_array_from_npy(bytes)?;
    let shape = array.shape().to_vec();
    let data = array.into_dimensionality::<Ix2>().map_err(|_| {
        format!("the array has shape {shape:?}; data needs 2 dimensions (samples, dim)")
    })?;
    Ok(data.as_standard_layout().into_owned())
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
