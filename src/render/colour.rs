//! How a node's weights become a colour.

use ndarray::{Array1, Array2, ArrayView1, ArrayView3, Axis};

/// The rule that turned weights into colours, named in a response header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// D = 3, every weight in [0, 1]: the weights are the colour.
    Rgb,
    /// D = 3 with weights outside [0, 1] (e.g. colours sent as 0..255): each channel min-max
    /// scaled.
    RgbMinMax,
    /// D = 1: grey levels, the weight itself when in [0, 1], else min-max scaled.
    Grey,
    /// D = 2 or D > 3: the first three principal components of the weights, each min-max
    /// scaled (D = 2 has two; the third channel is then mid-grey).
    Pca,
}

impl Mapping {
    pub fn as_str(self) -> &'static str {
        match self {
            Mapping::Rgb => "rgb",
            Mapping::RgbMinMax => "rgb-min-max",
            Mapping::Grey => "grey",
            Mapping::Pca => "pca",
        }
    }
}

impl Mapping {
    /// How colours were made from `dim` weights, in two short lines for a figure's legend;
    /// `None` when the weights are the colours.
    pub fn legend(self, dim: usize) -> Option<[String; 2]> {
        let lines = match self {
            Mapping::Rgb => return None,
            Mapping::RgbMinMax => [
                "Colour: the 3 weights as red, green and blue,".to_owned(),
                "each scaled from its lowest to its highest value.".to_owned(),
            ],
            Mapping::Grey => [
                "Colour: the one weight as a grey level,".to_owned(),
                "black the lowest and white the highest.".to_owned(),
            ],
            Mapping::Pca if dim == 2 => [
                "Colour: the 2 weights' principal components,".to_owned(),
                "red the 1st and green the 2nd (each min-max scaled).".to_owned(),
            ],
            Mapping::Pca => [
                format!("Colour: the first 3 principal components of the {dim} weights,"),
                "red the 1st, green the 2nd, blue the 3rd (each min-max scaled).".to_owned(),
            ],
        };
        Some(lines)
    }
}

/// Turns vectors of the map's dimension into colours, the same way for the nodes and for the
/// vectors drawn over them.
#[derive(Debug, Clone)]
pub struct Colouring {
    pub mapping: Mapping,
    /// Directions the vectors are projected on (one per channel used); none for RGB and grey.
    axes: Vec<Array1<f64>>,
    centre: Array1<f64>,
    /// Per channel: the value shown as 0 and the span shown as 0..1.
    ranges: Vec<(f64, f64)>,
}

impl Colouring {
    /// The colouring of a map's weights `(rows, cols, dim)`.
    pub fn of_weights(weights: ArrayView3<f64>) -> Self {
        let (rows, cols, dim) = weights.dim();
        let nodes = weights
            .to_shape((rows * cols, dim))
            .expect("weights reshape to nodes x dim")
            .into_owned();
        let centre = nodes.mean_axis(Axis(0)).expect("a map has nodes");
        let (mapping, axes) = match dim {
            3 => (Mapping::Rgb, Vec::new()),
            1 => (Mapping::Grey, Vec::new()),
            _ => (Mapping::Pca, principal_axes(&nodes, &centre, dim.min(3))),
        };
        let mut colouring = Colouring {
            mapping,
            axes,
            centre,
            ranges: Vec::new(),
        };
        let channels: Vec<Vec<f64>> = nodes
            .rows()
            .into_iter()
            .map(|node| colouring.channels(node))
            .collect();
        let count = channels.first().map_or(0, Vec::len);
        let mut bounds = vec![(f64::INFINITY, f64::NEG_INFINITY); count];
        for node in &channels {
            for (bound, &value) in bounds.iter_mut().zip(node) {
                *bound = (bound.0.min(value), bound.1.max(value));
            }
        }
        let inside_unit = bounds.iter().all(|&(low, high)| low >= 0.0 && high <= 1.0);
        colouring.ranges = if inside_unit && mapping != Mapping::Pca {
            vec![(0.0, 1.0); count]
        } else {
            if mapping == Mapping::Rgb {
                colouring.mapping = Mapping::RgbMinMax;
            }
            bounds
                .into_iter()
                .map(|(low, high)| (low, high - low))
                .collect()
        };
        colouring
    }

    /// The raw channel values of a vector: the weights, or their projections.
    fn channels(&self, vector: ArrayView1<f64>) -> Vec<f64> {
        if self.axes.is_empty() {
            vector.to_vec()
        } else {
            let centred = &vector - &self.centre;
            self.axes.iter().map(|axis| axis.dot(&centred)).collect()
        }
    }

    /// The colour of a vector of the map's dimension.
    pub fn colour(&self, vector: ArrayView1<f64>) -> [u8; 3] {
        let levels: Vec<u8> = self
            .channels(vector)
            .iter()
            .zip(&self.ranges)
            .map(|(&value, &(low, span))| {
                let unit = if span > 0.0 {
                    (value - low) / span
                } else {
                    0.5
                };
                to_level(unit)
            })
            .collect();
        match levels[..] {
            [grey] => [grey; 3],
            [red, green] => [red, green, to_level(0.5)],
            [red, green, blue, ..] => [red, green, blue],
            [] => [to_level(0.5); 3],
        }
    }
}

/// A level 0..=255 from a value in [0, 1] (clamped).
pub fn to_level(unit: f64) -> u8 {
    (unit.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// The first `count` principal axes of `nodes` (rows are nodes), by power iteration on the
/// centred data without forming the covariance (so a high dimension costs no D x D matrix);
/// each axis is orthogonal to the ones before it and signed so its largest component is
/// positive, so the colours do not flip between runs.
fn principal_axes(nodes: &Array2<f64>, centre: &Array1<f64>, count: usize) -> Vec<Array1<f64>> {
    let centred = nodes - centre;
    let dim = centre.len();
    let mut axes: Vec<Array1<f64>> = Vec::with_capacity(count);
    for index in 0..count {
        let mut axis = Array1::from_shape_fn(dim, |k| 1.0 + ((k + index) % 7) as f64 / 7.0);
        for _ in 0..200 {
            let mut next = centred.t().dot(&centred.dot(&axis));
            for earlier in &axes {
                let overlap = earlier.dot(&next);
                next.scaled_add(-overlap, earlier);
            }
            let norm = next.dot(&next).sqrt();
            if norm < 1e-300 {
                break;
            }
            next /= norm;
            let change = (&next - &axis).mapv(f64::abs).sum();
            axis = next;
            if change < 1e-12 {
                break;
            }
        }
        let largest =
            axis.iter().copied().fold(
                0.0_f64,
                |best, v| if v.abs() > best.abs() { v } else { best },
            );
        if largest < 0.0 {
            axis.mapv_inplace(|v| -v);
        }
        axes.push(axis);
    }
    axes
}
