//! Feature scaling fitted on the training data (SPEC §3b `scaling`).

use ndarray::{Array2, Array3, ArrayView2, Axis};

use super::options::Scaling;

/// Per feature, `scaled = (value - offset) / scale`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaler {
    pub kind: Scaling,
    pub offset: Vec<f64>,
    pub scale: Vec<f64>,
}

impl Scaler {
    /// Fits `kind` on `data` `(n, dim)`, `n >= 1`: `standard` takes the mean and the
    /// population standard deviation, `minmax` the minimum and the range; a feature whose
    /// maximum equals its minimum gets scale 1 in both. `None` for [`Scaling::None`].
    pub fn fit(kind: Scaling, data: ArrayView2<f64>) -> Option<Scaler> {
        let n = data.nrows() as f64;
        let columns = data.axis_iter(Axis(1));
        let (offset, scale) = match kind {
            Scaling::None => return None,
            Scaling::Standard => columns
                .map(|column| {
                    let mean = column.sum() / n;
                    let variance = column.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
                    let flat = column.iter().all(|&x| x == column[0]);
                    (mean, if flat { 1.0 } else { variance.sqrt() })
                })
                .unzip(),
            Scaling::Minmax => columns
                .map(|column| {
                    let min = column.iter().copied().fold(f64::INFINITY, f64::min);
                    let max = column.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    (min, if max == min { 1.0 } else { max - min })
                })
                .unzip(),
        };
        Some(Scaler {
            kind,
            offset,
            scale,
        })
    }

    /// `data` `(n, dim)` in scaled units.
    pub fn scale(&self, data: ArrayView2<f64>) -> Array2<f64> {
        let mut scaled = data.to_owned();
        for mut row in scaled.rows_mut() {
            for ((x, offset), scale) in row.iter_mut().zip(&self.offset).zip(&self.scale) {
                *x = (*x - offset) / scale;
            }
        }
        scaled
    }

    /// Weights `(rows, cols, dim)` from scaled units back to data units.
    pub fn unscale_weights(&self, weights: &mut Array3<f64>) {
        for mut node in weights.lanes_mut(Axis(2)) {
            for ((w, offset), scale) in node.iter_mut().zip(&self.offset).zip(&self.scale) {
                *w = *w * scale + offset;
            }
        }
    }
}
