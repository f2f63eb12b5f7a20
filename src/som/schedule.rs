//! The radius and learning rate of every iteration (SPEC §3 and §3b `schedule`).

use super::options::{Decay, ScheduleSpec};

/// Neighbourhood radius and learning rate of each iteration `t = 1..=N`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub radii: Vec<f64>,
    /// Empty in batch mode, which has no learning rate.
    pub learning_rates: Vec<f64>,
}

impl Schedule {
    /// The schedule of `max_iterations` iterations as `spec` says.
    pub fn new(spec: &ScheduleSpec, max_iterations: usize) -> Self {
        let n = max_iterations as f64;
        let s0 = spec.radius;
        let lambda = if s0 > 1.0 { n / s0.ln() } else { n };
        let late = usize::from(spec.one_iteration_late);
        // The value at iteration t of a quantity starting at `start` (and ending at `end` on
        // the linear schedule).
        let at = |t: usize, start: f64, end: Option<f64>| {
            let t = (t - late) as f64;
            match spec.decay {
                Decay::Exponential => start * (-t / lambda).exp(),
                Decay::Linear => {
                    let end = end.expect("a checked linear schedule has both ends");
                    start + (end - start) * t / n
                }
                Decay::Inverse => start / (1.0 + 2.0 * t / n),
            }
        };
        let ts = 1..=max_iterations;
        Schedule {
            radii: ts.clone().map(|t| at(t, s0, spec.final_radius)).collect(),
            learning_rates: match spec.learning_rate {
                Some(a0) => ts.map(|t| at(t, a0, spec.final_learning_rate)).collect(),
                None => Vec::new(),
            },
        }
    }

    /// At most `points` of the iterations (at least two), evenly spaced, the first and the
    /// last among them: what is stored with a model, whose record must not grow with
    /// `max_iterations`.
    pub fn sample(&self, points: usize) -> SampledSchedule {
        let indices = sample_indices(self.radii.len(), points);
        SampledSchedule {
            iterations: indices.iter().map(|&i| i + 1).collect(),
            radii: indices.iter().map(|&i| self.radii[i]).collect(),
            learning_rates: (indices.iter())
                .filter_map(|&i| self.learning_rates.get(i).copied())
                .collect(),
        }
    }
}

/// At most `points` (at least two) evenly spaced indices of `0..n`, the first and the last
/// among them.
pub fn sample_indices(n: usize, points: usize) -> Vec<usize> {
    let points = points.max(2).min(n);
    if points == n {
        (0..n).collect()
    } else {
        (0..points)
            .map(|k| ((k * (n - 1)) as f64 / (points - 1) as f64).round() as usize)
            .collect()
    }
}

/// Some iterations of a [`Schedule`] with their numbers (counted from 1).
#[derive(Debug, Clone, PartialEq)]
pub struct SampledSchedule {
    pub iterations: Vec<usize>,
    pub radii: Vec<f64>,
    /// Empty in batch mode.
    pub learning_rates: Vec<f64>,
}
