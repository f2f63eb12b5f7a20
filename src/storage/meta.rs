//! What is known of a model besides its weights, stored as `NAME.json` beside `NAME.npy`.

use jiff::Timestamp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::som::{
    Compatibility, Decay, Distance, InitMethod, Mode, NamedOption, Neighbourhood, NodeSummary,
    Options, Order, Scaler, Scaling, Topology, TrainingOptions,
};

/// Where a model's training stands. A model without a `.json` (as the Python service wrote
/// them) is `Succeeded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TrainingStatus {
    Queued,
    Running,
    #[default]
    Succeeded,
    Failed,
    Cancelled,
}

impl TrainingStatus {
    pub const ALL: [TrainingStatus; 5] = [
        TrainingStatus::Queued,
        TrainingStatus::Running,
        TrainingStatus::Succeeded,
        TrainingStatus::Failed,
        TrainingStatus::Cancelled,
    ];

    /// The name stored and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TrainingStatus::Queued => "queued",
            TrainingStatus::Running => "running",
            TrainingStatus::Succeeded => "succeeded",
            TrainingStatus::Failed => "failed",
            TrainingStatus::Cancelled => "cancelled",
        }
    }

    /// Queued or running: the job may still change it.
    pub fn is_pending(self) -> bool {
        matches!(self, TrainingStatus::Queued | TrainingStatus::Running)
    }
}

/// The contents of `NAME.json`. Unknown values are `None` (a model imported or dropped in by
/// hand knows only its weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ModelMeta {
    pub name: String,
    #[serde(default)]
    pub status: TrainingStatus,
    pub grid_shape: Option<[usize; 2]>,
    pub dim: Option<usize>,
    pub max_iterations: Option<usize>,
    pub learning_rate: Option<f64>,
    pub seed: Option<u64>,
    pub created_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    #[serde(default)]
    pub iterations_done: usize,
    pub training_seconds: Option<f64>,
    pub quantization_error: Option<f64>,
    pub topographic_error: Option<f64>,
    /// Why the training failed, when it did.
    pub error: Option<String>,
    /// The radius and learning rate of some iterations (at most 1,000, the first and the last
    /// among them), whose numbers are in `recorded_iterations`; without those numbers (an
    /// older record), of every iteration in order.
    pub radius_per_iteration: Option<Vec<f64>>,
    pub learning_rate_per_iteration: Option<Vec<f64>>,
    pub recorded_iterations: Option<Vec<usize>>,
    /// The options of SPEC §3b the map was trained with; `None` (a model made before options
    /// existed, or imported) reads as the defaults.
    pub options: Option<OptionsRecord>,
    /// The feature scaling fitted on the training data, when the options asked for one: the
    /// weights are in its scaled units.
    pub scaler: Option<ScalerRecord>,
    /// The stored dataset the map was trained on, when it was trained on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// `[quantization error, topographic error]` after the iterations numbered in
    /// `recorded_iterations` (batch mode).
    pub quality_per_iteration: Option<Vec<[f64; 2]>>,
    /// What the map knows of the data it was trained on; `None` for a model trained before
    /// this was kept, imported, or dropped in by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataRecord>,
}

impl ModelMeta {
    /// The record of weights of shape `(rows, cols, dim)` made elsewhere and imported now: it
    /// knows only their shape and when they came.
    pub fn imported(name: &str, (rows, cols, dim): (usize, usize, usize)) -> Self {
        ModelMeta {
            name: name.to_owned(),
            status: TrainingStatus::Succeeded,
            grid_shape: Some([rows, cols]),
            dim: Some(dim),
            created_at: Some(Timestamp::now()),
            ..ModelMeta::default()
        }
    }

    /// The options the map was trained with, the defaults when unknown; an unknown starting
    /// radius is the default one of the grid (half its longer side) when the grid is known.
    pub fn options(&self) -> OptionsRecord {
        let mut options = self.options.clone().unwrap_or_default();
        if options.radius.is_none() {
            options.radius = self
                .grid_shape
                .map(|[rows, cols]| rows.max(cols) as f64 / 2.0);
        }
        options
    }

    /// The scaler the map's weights are in, if any.
    pub fn scaler(&self) -> Option<Scaler> {
        self.scaler.as_ref().map(ScalerRecord::to_scaler)
    }
}

/// Every option of SPEC §3b as a trained map used it (defaults filled in).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptionsRecord {
    #[serde(with = "named")]
    pub topology: Topology,
    pub toroidal: bool,
    #[serde(with = "named")]
    pub neighbourhood: Neighbourhood,
    /// Starting radius; `None` when unknown (the default: half the grid's longer side).
    pub radius: Option<f64>,
    #[serde(with = "named")]
    pub schedule: Decay,
    pub final_radius: Option<f64>,
    pub final_learning_rate: Option<f64>,
    #[serde(with = "named_or_null")]
    pub compatibility: Option<Compatibility>,
    #[serde(with = "named")]
    pub distance: Distance,
    /// `None`: the training started from given weights.
    #[serde(with = "named_or_null")]
    pub init: Option<InitMethod>,
    #[serde(with = "named")]
    pub order: Order,
    #[serde(with = "named")]
    pub scaling: Scaling,
    #[serde(with = "named")]
    pub mode: Mode,
}

impl Default for OptionsRecord {
    /// SPEC §3: what a model made before options existed was trained with.
    fn default() -> Self {
        OptionsRecord {
            topology: Topology::Rectangular,
            toroidal: false,
            neighbourhood: Neighbourhood::Gaussian,
            radius: None,
            schedule: Decay::Exponential,
            final_radius: None,
            final_learning_rate: None,
            compatibility: None,
            distance: Distance::Euclidean,
            init: Some(InitMethod::Random),
            order: Order::Given,
            scaling: Scaling::None,
            mode: Mode::Online,
        }
    }
}

impl OptionsRecord {
    /// The record of checked options; `given_weights` when the training started from given
    /// weights rather than an initialisation method.
    pub fn new(options: &Options, given_weights: bool) -> Self {
        OptionsRecord {
            topology: options.topology,
            toroidal: options.toroidal,
            neighbourhood: options.neighbourhood,
            radius: Some(options.schedule.radius),
            schedule: options.schedule.decay,
            final_radius: options.schedule.final_radius,
            final_learning_rate: options.schedule.final_learning_rate,
            compatibility: options.compatibility,
            distance: options.distance,
            init: (!given_weights).then_some(options.init),
            order: options.order,
            scaling: options.scaling,
            mode: options.mode,
        }
    }
}

/// The options of SPEC §3b as a request gave them (`None`: not given), stored with a queued job
/// so that the replica that trains it checks them again as they came.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GivenOptionsRecord {
    #[serde(with = "named_or_null")]
    pub topology: Option<Topology>,
    pub toroidal: Option<bool>,
    #[serde(with = "named_or_null")]
    pub neighbourhood: Option<Neighbourhood>,
    pub radius: Option<f64>,
    #[serde(with = "named_or_null")]
    pub schedule: Option<Decay>,
    pub final_radius: Option<f64>,
    pub final_learning_rate: Option<f64>,
    #[serde(with = "named_or_null")]
    pub compatibility: Option<Compatibility>,
    #[serde(with = "named_or_null")]
    pub distance: Option<Distance>,
    #[serde(with = "named_or_null")]
    pub init: Option<InitMethod>,
    #[serde(with = "named_or_null")]
    pub order: Option<Order>,
    #[serde(with = "named_or_null")]
    pub scaling: Option<Scaling>,
    #[serde(with = "named_or_null")]
    pub mode: Option<Mode>,
}

impl From<TrainingOptions> for GivenOptionsRecord {
    fn from(given: TrainingOptions) -> Self {
        GivenOptionsRecord {
            topology: given.topology,
            toroidal: given.toroidal,
            neighbourhood: given.neighbourhood,
            radius: given.radius,
            schedule: given.schedule,
            final_radius: given.final_radius,
            final_learning_rate: given.final_learning_rate,
            compatibility: given.compatibility,
            distance: given.distance,
            init: given.init,
            order: given.order,
            scaling: given.scaling,
            mode: given.mode,
        }
    }
}

impl From<GivenOptionsRecord> for TrainingOptions {
    fn from(record: GivenOptionsRecord) -> Self {
        TrainingOptions {
            topology: record.topology,
            toroidal: record.toroidal,
            neighbourhood: record.neighbourhood,
            radius: record.radius,
            schedule: record.schedule,
            final_radius: record.final_radius,
            final_learning_rate: record.final_learning_rate,
            compatibility: record.compatibility,
            distance: record.distance,
            init: record.init,
            order: record.order,
            scaling: record.scaling,
            mode: record.mode,
        }
    }
}

/// What a trained map knows of its training data: what its columns and rows were called, and
/// what the samples left on each node of the final map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataRecord {
    /// One per feature (component of the weights), when the training was given them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_names: Option<Vec<String>>,
    /// The distinct labels of the training rows, in order of first appearance; the label
    /// indices of `nodes` point into it. `None` when the training had no labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    pub nodes: NodesRecord,
}

/// A [`NodeSummary`] as stored: only the nodes that won samples, so that the record of a
/// large map trained on few samples stays small (a 1000x1000 map's dense columns were some
/// 7 MB of JSON parsed by every listing, and 50 MB in memory).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodesRecord {
    /// The map's nodes, won or not.
    pub nodes: usize,
    /// Whether the training had labels (then every won node has label counts).
    #[serde(default)]
    pub labelled: bool,
    /// The nodes that won samples, in increasing flat index `row * cols + col`.
    pub won: Vec<WonNode>,
}

/// A node that won training samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WonNode {
    pub node: usize,
    pub hits: u64,
    /// Mean distance (the map's, as the quantization error measures it) of the samples won;
    /// `null` when it is not finite (JSON has no infinity, and a record must read back).
    pub mean_distance: Option<f64>,
    /// `[label, count]` pairs in increasing label, when the training had labels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub label_counts: Vec<[u64; 2]>,
}

impl NodesRecord {
    pub fn new(summary: &NodeSummary) -> Self {
        let won = (summary.hits.iter().zip(&summary.mean_distance).enumerate())
            .filter(|(_, (hits, _))| **hits > 0)
            .map(|(node, (&hits, &mean))| WonNode {
                node,
                hits,
                mean_distance: mean.filter(|mean| mean.is_finite()),
                label_counts: (summary.label_counts.as_ref())
                    .map(|nodes| {
                        nodes[node]
                            .iter()
                            .map(|&(l, c)| [u64::from(l), c])
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect();
        NodesRecord {
            nodes: summary.hits.len(),
            labelled: summary.label_counts.is_some(),
            won,
        }
    }

    /// Whether the record is one of a map of `nodes` nodes (`None`: of unknown size): its
    /// won nodes in increasing index, each on the map.
    pub fn is_for(&self, nodes: Option<usize>) -> bool {
        nodes == Some(self.nodes)
            && (self.won.windows(2)).all(|pair| pair[0].node < pair[1].node)
            && self.won.last().is_none_or(|won| won.node < self.nodes)
    }

    /// Samples won by each node, in flat index order.
    pub fn hits(&self) -> Vec<u64> {
        self.column(0, |won| won.hits)
    }

    /// Mean distance of each node to the samples it won; `None` where it won none.
    pub fn mean_distances(&self) -> Vec<Option<f64>> {
        self.column(None, |won| won.mean_distance)
    }

    /// Each node's `[label, count]` pairs (empty where it won none); `None` without labels.
    pub fn label_counts(&self) -> Option<Vec<Vec<[u64; 2]>>> {
        self.labelled
            .then(|| self.column(Vec::new(), |won| won.label_counts.clone()))
    }

    /// Per node, the label most of its samples carried (ties: the smallest label index);
    /// `None` where it won no sample. `None` when the training had no labels.
    pub fn majority_labels(&self) -> Option<Vec<Option<u32>>> {
        let majority = |won: &WonNode| {
            let pairs: Vec<(u32, u64)> = (won.label_counts.iter())
                .filter_map(|&[label, count]| Some((u32::try_from(label).ok()?, count)))
                .collect();
            crate::som::majority(&pairs)
        };
        self.labelled.then(|| self.column(None, majority))
    }

    /// One value per node: `of` a won node, `otherwise` elsewhere (and for a node index past
    /// the map, which a record edited by hand might hold).
    fn column<T: Clone>(&self, otherwise: T, of: impl Fn(&WonNode) -> T) -> Vec<T> {
        let mut values = vec![otherwise; self.nodes];
        for won in &self.won {
            if let Some(value) = values.get_mut(won.node) {
                *value = of(won);
            }
        }
        values
    }
}

/// A [`Scaler`] as stored: per feature, `scaled = (value - offset) / scale`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScalerRecord {
    #[serde(with = "named")]
    pub kind: Scaling,
    pub offset: Vec<f64>,
    pub scale: Vec<f64>,
}

impl ScalerRecord {
    pub fn new(scaler: &Scaler) -> Self {
        ScalerRecord {
            kind: scaler.kind,
            offset: scaler.offset.clone(),
            scale: scaler.scale.clone(),
        }
    }

    pub fn to_scaler(&self) -> Scaler {
        Scaler {
            kind: self.kind,
            offset: self.offset.clone(),
            scale: self.scale.clone(),
        }
    }
}

/// An option stored by its name.
mod named {
    use super::*;

    pub fn serialize<T: NamedOption, S: Serializer>(
        value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(value.as_str())
    }

    pub fn deserialize<'de, T: NamedOption, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<T, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// An optional option stored by its name, or null.
mod named_or_null {
    use super::*;

    pub fn serialize<T: NamedOption, S: Serializer>(
        value: &Option<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.serialize_str(value.as_str()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T: NamedOption, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<T>, D::Error> {
        match Option::<String>::deserialize(deserializer)? {
            Some(name) => name.parse().map(Some).map_err(serde::de::Error::custom),
            None => Ok(None),
        }
    }
}
