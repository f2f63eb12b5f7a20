//! The neighbourhood factor `h(d2, s)` of SPEC §3b.

use super::options::Neighbourhood;

/// The slack of SPEC §3 on the radius: a node at `d2 <= s^2 + 1e-9` is inside, so that the
/// last iteration's radius `0.9999999999999998` keeps the nodes at distance 1.
const SLACK: f64 = 1e-9;

impl Neighbourhood {
    /// The factor of a node at squared grid distance `d2` from the best-matching node, at
    /// radius `s`.
    pub fn factor(self, d2: f64, s: f64) -> f64 {
        let s2 = s * s;
        let gaussian = || (-d2 / (2.0 * s2)).exp();
        match self {
            Neighbourhood::Gaussian if d2 <= s2 + SLACK => gaussian(),
            Neighbourhood::Bubble if d2 <= s2 + SLACK => 1.0,
            Neighbourhood::Gaussian | Neighbourhood::Bubble => 0.0,
            Neighbourhood::GaussianFull => gaussian(),
            Neighbourhood::Triangle => (1.0 - d2.sqrt() / s).max(0.0),
            Neighbourhood::Epanechnikov => (1.0 - d2 / s2).max(0.0),
            Neighbourhood::MexicanHat => (1.0 - d2 / s2) * gaussian(),
        }
    }

    /// The largest `d2` whose factor can be non-zero at radius `s`, or `None` when every node
    /// gets a factor: the nodes beyond it need not be visited.
    pub fn reach(self, s: f64) -> Option<f64> {
        match self {
            Neighbourhood::GaussianFull | Neighbourhood::MexicanHat => None,
            _ => Some(s * s + SLACK),
        }
    }
}
