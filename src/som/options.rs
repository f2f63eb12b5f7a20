//! The training options of SPEC §3b, unchecked ([`TrainingOptions`]) and checked
//! ([`Options`]): which grid, neighbourhood, schedule, distance, initialisation, order,
//! scaling and mode a map is trained with. Every option left out takes the default, and the
//! defaults are SPEC §3 exactly.

use std::fmt;
use std::str::FromStr;

use super::params::SomError;

/// An option whose value is one of a few names: `as_str` gives the name, `FromStr` parses it
/// and refuses anything else listing the known names.
macro_rules! named_options {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in the order `--help` and the OpenAPI document list them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The request field (and, with dashes, the command-line flag) that sets it.
            pub const FIELD: &'static str = $field;

            /// The name a request gives and a record stores.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The known names, for messages and documents.
            pub fn names() -> Vec<&'static str> {
                Self::ALL.iter().map(|value| value.as_str()).collect()
            }
        }

        impl NamedOption for $name {
            fn as_str(self) -> &'static str {
                $name::as_str(self)
            }
        }

        impl FromStr for $name {
            type Err = SomError;

            fn from_str(text: &str) -> Result<Self, SomError> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str() == text)
                    .ok_or_else(|| SomError::InvalidOption {
                        field: $field,
                        message: format!(
                            "{} must be one of {}, got {:?}",
                            $field,
                            Self::names().join(", "),
                            text
                        ),
                    })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// An option whose value is one of a few names (for readers and writers of records).
pub trait NamedOption: FromStr<Err = SomError> + Copy {
    /// The name a request gives and a record stores.
    fn as_str(self) -> &'static str;
}

named_options! {
    /// How nodes sit on the grid.
    Topology, "topology" {
        /// Node `[r, c]` at `(r, c)`: 4 neighbours at distance 1, 8 for the topographic error.
        Rectangular = "rectangular",
        /// Odd rows shifted right by half a node, rows `sqrt(3)/2` apart: 6 neighbours.
        Hexagonal = "hexagonal",
    }
}

named_options! {
    /// The factor `h(d2, s)` a node at squared grid distance `d2` from the best-matching node
    /// gets at radius `s`.
    Neighbourhood, "neighbourhood" {
        /// `exp(-d2 / 2s^2)` inside the radius (`d2 <= s^2 + 1e-9`), 0 outside: SPEC §3.
        Gaussian = "gaussian",
        /// `exp(-d2 / 2s^2)` everywhere.
        GaussianFull = "gaussian-full",
        /// 1 inside the radius, 0 outside.
        Bubble = "bubble",
        /// `max(0, 1 - sqrt(d2) / s)`.
        Triangle = "triangle",
        /// `max(0, 1 - d2 / s^2)`.
        Epanechnikov = "epanechnikov",
        /// `(1 - d2 / s^2) exp(-d2 / 2s^2)` everywhere; negative far out (online only).
        MexicanHat = "mexican-hat",
    }
}

named_options! {
    /// How the radius and learning rate fall from iteration to iteration.
    Decay, "schedule" {
        /// `s0 exp(-t / lambda)`, `lambda = N / ln(s0)`: SPEC §3.
        Exponential = "exponential",
        /// From `s0` to `final_radius` (and `a0` to `final_learning_rate`) in equal steps.
        Linear = "linear",
        /// `s0 / (1 + 2t / N)`.
        Inverse = "inverse",
    }
}

named_options! {
    /// Reproduces another implementation's maps.
    Compatibility, "compatibility" {
        /// The Python service's maps: `gaussian-full`, the exponential schedule one iteration
        /// late (`t = 0..N-1`). MiniSom gives the same.
        PythonService = "python-service",
    }
}

named_options! {
    /// The distance between a vector and a node's weights.
    Distance, "distance" {
        /// `sqrt(sum (v_k - w_k)^2)`.
        Euclidean = "euclidean",
        /// `sum |v_k - w_k|`.
        Manhattan = "manhattan",
        /// `1 - v.w / (|v| |w|)`, 1 when either norm is 0.
        Cosine = "cosine",
    }
}

named_options! {
    /// Where the weights start.
    InitMethod, "init" {
        /// Uniform in `[0, 1)` from the seed: SPEC §3.
        Random = "random",
        /// Each node a training row drawn (with replacement) from the seed.
        Sample = "sample",
        /// Spread over the plane of the data's two principal components; no randomness.
        Pca = "pca",
    }
}

named_options! {
    /// The order in which an iteration presents the samples (online mode).
    Order, "order" {
        /// As given: SPEC §3.
        Given = "given",
        /// A new permutation per iteration, drawn from the seed.
        Shuffled = "shuffled",
    }
}

named_options! {
    /// How features are scaled before training (fitted on the training data).
    Scaling, "scaling" {
        /// Not at all: SPEC §3.
        None = "none",
        /// `(v - mean) / std`, the population standard deviation.
        Standard = "standard",
        /// `(v - min) / (max - min)`.
        Minmax = "minmax",
    }
}

named_options! {
    /// How the weights move.
    Mode, "mode" {
        /// After every sample, by the learning rate: SPEC §3.
        Online = "online",
        /// Once per iteration, to the neighbourhood-weighted mean of the samples.
        Batch = "batch",
    }
}

/// The options as a request or the command line gave them: `None` is "not given".
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TrainingOptions {
    pub topology: Option<Topology>,
    pub toroidal: Option<bool>,
    pub neighbourhood: Option<Neighbourhood>,
    pub radius: Option<f64>,
    pub schedule: Option<Decay>,
    pub final_radius: Option<f64>,
    pub final_learning_rate: Option<f64>,
    pub compatibility: Option<Compatibility>,
    pub distance: Option<Distance>,
    pub init: Option<InitMethod>,
    pub order: Option<Order>,
    pub scaling: Option<Scaling>,
    pub mode: Option<Mode>,
}

/// How the radius and learning rate of each iteration are computed, checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleSpec {
    pub decay: Decay,
    /// Starting radius `s0 > 0`.
    pub radius: f64,
    /// `s1` of the linear schedule, `0 < s1 <= s0`.
    pub final_radius: Option<f64>,
    /// Starting learning rate `a0` in `(0, 1]`; `None` in batch mode.
    pub learning_rate: Option<f64>,
    /// `a1` of the linear schedule, `0 < a1 <= a0`.
    pub final_learning_rate: Option<f64>,
    /// Evaluate at `t - 1` instead of `t` (the Python service's off-by-one).
    pub one_iteration_late: bool,
}

/// Options that passed [`TrainingOptions::check`]: every value known, every combination valid.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    pub topology: Topology,
    pub toroidal: bool,
    pub neighbourhood: Neighbourhood,
    pub schedule: ScheduleSpec,
    pub compatibility: Option<Compatibility>,
    pub distance: Distance,
    pub init: InitMethod,
    pub order: Order,
    pub scaling: Scaling,
    pub mode: Mode,
}

/// The smallest starting or final radius: below it `s^2` underflows in the factors' `d2 / s^2`
/// long before a map could tell the difference (every radius under 1 moves only the winner
/// much).
pub const MIN_RADIUS: f64 = 1e-6;

/// The learning rate of an online training that gave none.
pub const DEFAULT_LEARNING_RATE: f64 = 0.1;

fn invalid(field: &'static str, message: String) -> SomError {
    SomError::InvalidOption { field, message }
}

impl TrainingOptions {
    /// Checks the options of a `rows x cols` map, with the learning rate as given (`None`: not
    /// given).
    ///
    /// # Errors
    /// [`SomError::InvalidOption`] naming the field, for a value out of range or a combination
    /// that makes no sense; [`SomError::InvalidLearningRate`] for a learning rate outside
    /// `(0, 1]`.
    pub fn check(
        &self,
        rows: usize,
        cols: usize,
        learning_rate: Option<f64>,
    ) -> Result<Options, SomError> {
        let mode = self.mode.unwrap_or(Mode::Online);
        let batch = mode == Mode::Batch;
        if let Some(compatibility) = self.compatibility {
            let fixed = [
                ("neighbourhood", self.neighbourhood.is_some()),
                ("schedule", self.schedule.is_some()),
                ("radius", self.radius.is_some()),
                ("final_radius", self.final_radius.is_some()),
                ("final_learning_rate", self.final_learning_rate.is_some()),
                ("mode", batch),
            ];
            if let Some((field, _)) = fixed.iter().find(|(_, given)| *given) {
                return Err(invalid(
                    field,
                    format!(
                        "{field} cannot be given with compatibility \"{compatibility}\", which fixes the neighbourhood, schedule and radius (and trains online): leave out one of the two"
                    ),
                ));
            }
        }
        if batch {
            if learning_rate.is_some() {
                return Err(invalid(
                    "learning_rate",
                    "batch mode has no learning rate: leave out learning_rate, or send \"mode\": \"online\"".into(),
                ));
            }
            if self.final_learning_rate.is_some() {
                return Err(invalid(
                    "final_learning_rate",
                    "batch mode has no learning rate: leave out final_learning_rate, or send \"mode\": \"online\"".into(),
                ));
            }
            if self.neighbourhood == Some(Neighbourhood::MexicanHat) {
                return Err(invalid(
                    "neighbourhood",
                    "\"mexican-hat\" is for online mode only (its negative factors make batch weights meaningless): choose another neighbourhood or \"mode\": \"online\"".into(),
                ));
            }
            if self.order == Some(Order::Shuffled) {
                return Err(invalid(
                    "order",
                    "batch mode uses every sample at once, so their order does not matter: leave out order, or send \"mode\": \"online\"".into(),
                ));
            }
        }
        let learning_rate = match learning_rate {
            Some(rate) if !(rate > 0.0 && rate <= 1.0) => {
                return Err(SomError::InvalidLearningRate(rate));
            }
            Some(rate) => Some(rate),
            None if batch => None,
            None => Some(DEFAULT_LEARNING_RATE),
        };

        let topology = self.topology.unwrap_or(Topology::Rectangular);
        let toroidal = self.toroidal.unwrap_or(false);
        if toroidal && topology == Topology::Hexagonal && rows % 2 == 1 {
            let even = if rows == 1 {
                "2".to_string()
            } else {
                format!("{} or {}", rows - 1, rows + 1)
            };
            return Err(invalid(
                "toroidal",
                format!(
                    "a toroidal hexagonal grid needs an even number of rows (odd rows are shifted, so the wrap must join an odd row to an even one), got {rows}: use {even} rows"
                ),
            ));
        }

        let default_radius = rows.max(cols) as f64 / 2.0;
        let radius = match self.radius {
            Some(radius) if !(radius.is_finite() && radius >= MIN_RADIUS) => {
                return Err(invalid(
                    "radius",
                    format!(
                        "radius must be a finite number >= {MIN_RADIUS:.6}, got {radius:?}; the default is half the longer side of the grid ({default_radius})"
                    ),
                ));
            }
            Some(radius) => radius,
            None => default_radius,
        };
        let decay = self.schedule.unwrap_or(Decay::Exponential);
        let linear = decay == Decay::Linear;
        let not_linear = |field: &'static str| {
            invalid(
                field,
                format!(
                    "{field} belongs to the linear schedule only: send \"schedule\": \"linear\" with it, or leave it out"
                ),
            )
        };
        let final_radius = match self.final_radius {
            Some(_) if !linear => return Err(not_linear("final_radius")),
            Some(s1) if !(s1.is_finite() && s1 >= MIN_RADIUS && s1 <= radius) => {
                return Err(invalid(
                    "final_radius",
                    format!(
                        "final_radius must be a number with {MIN_RADIUS:.6} <= final_radius <= radius ({radius:?}), got {s1:?}"
                    ),
                ));
            }
            Some(s1) => Some(s1),
            None if linear => Some(radius.min(1.0)),
            None => None,
        };
        let final_learning_rate = match (self.final_learning_rate, learning_rate) {
            (Some(_), _) if !linear => return Err(not_linear("final_learning_rate")),
            (Some(a1), Some(a0)) if !(a1.is_finite() && a1 > 0.0 && a1 <= a0) => {
                return Err(invalid(
                    "final_learning_rate",
                    format!(
                        "final_learning_rate must be a number with 0 < final_learning_rate <= learning_rate ({a0:?}), got {a1:?}"
                    ),
                ));
            }
            (Some(a1), _) => Some(a1),
            (None, Some(a0)) if linear => Some(a0 / 100.0),
            (None, _) => None,
        };
        let python = self.compatibility == Some(Compatibility::PythonService);
        Ok(Options {
            topology,
            toroidal,
            neighbourhood: match self.neighbourhood {
                Some(kernel) => kernel,
                None if python => Neighbourhood::GaussianFull,
                None => Neighbourhood::Gaussian,
            },
            schedule: ScheduleSpec {
                decay,
                radius,
                final_radius,
                learning_rate,
                final_learning_rate,
                one_iteration_late: python,
            },
            compatibility: self.compatibility,
            distance: self.distance.unwrap_or(Distance::Euclidean),
            init: self.init.unwrap_or(InitMethod::Random),
            order: self.order.unwrap_or(Order::Given),
            scaling: self.scaling.unwrap_or(Scaling::None),
            mode,
        })
    }
}

impl Options {
    /// Whether a training with these options draws from its seed (random or sample
    /// initialisation, shuffled order).
    pub fn uses_seed(&self, given_weights: bool) -> bool {
        (!given_weights && self.init != InitMethod::Pca) || self.order == Order::Shuffled
    }
}
