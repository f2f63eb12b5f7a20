//! The distance between a vector and a node's weights (SPEC §3b `distance`).
//!
//! Searches compare *raw* distances, which order nodes as the distances do but are cheaper:
//! the squared sum for Euclidean, the distance itself for the others. [`Distance::finish`]
//! turns a raw distance into the distance (what the quantization error averages).

use super::options::Distance;

impl Distance {
    /// The raw distance between `v` and `w`, summed in the order `k = 0..dim`, as every fast
    /// path sums it too.
    pub fn raw(self, v: &[f64], w: &[f64]) -> f64 {
        match self {
            Distance::Euclidean => v.iter().zip(w).map(|(a, b)| (a - b) * (a - b)).sum(),
            Distance::Manhattan => v.iter().zip(w).map(|(a, b)| (a - b).abs()).sum(),
            Distance::Cosine => {
                let dot = v.iter().zip(w).map(|(a, b)| a * b).sum();
                let norm_w = w.iter().map(|b| b * b).sum();
                cosine(dot, squared_norm(v), norm_w)
            }
        }
    }

    /// The distance of a raw distance.
    pub fn finish(self, raw: f64) -> f64 {
        match self {
            Distance::Euclidean => raw.sqrt(),
            Distance::Manhattan | Distance::Cosine => raw,
        }
    }
}

/// The squared Euclidean distance of each of four `(v, w)` pairs, each summed in the order
/// `k = 0..dim` as [`Distance::raw`] sums it (the very same numbers), four at once: four
/// independent sums keep the adder busy where one waits on its previous addition.
#[inline(always)]
pub(crate) fn squared_euclidean_four(pairs: [(&[f64], &[f64]); 4]) -> [f64; 4] {
    let dim = pairs[0].0.len();
    let [(v0, w0), (v1, w1), (v2, w2), (v3, w3)] = pairs.map(|(v, w)| (&v[..dim], &w[..dim]));
    // Four named sums, not an array: an array's sums went through memory on every addition
    // (about 9 cycles per component and pair, measured with perf; now about 1.5).
    let (mut s0, mut s1, mut s2, mut s3) = (0.0, 0.0, 0.0, 0.0);
    for k in 0..dim {
        let (d0, d1, d2, d3) = (v0[k] - w0[k], v1[k] - w1[k], v2[k] - w2[k], v3[k] - w3[k]);
        s0 += d0 * d0;
        s1 += d1 * d1;
        s2 += d2 * d2;
        s3 += d3 * d3;
    }
    [s0, s1, s2, s3]
}

/// `sum v_k^2` in the order `k = 0..dim`.
pub(crate) fn squared_norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum()
}

/// `1 - v.w / (|v| |w|)` from `v.w`, `|v|^2` and `|w|^2`; 1 when either norm is 0.
#[inline(always)]
pub(crate) fn cosine(dot: f64, squared_norm_v: f64, squared_norm_w: f64) -> f64 {
    if squared_norm_v == 0.0 || squared_norm_w == 0.0 {
        1.0
    } else {
        1.0 - dot / (squared_norm_v.sqrt() * squared_norm_w.sqrt())
    }
}
