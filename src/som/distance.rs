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
