//! A stored model as everything that reads it needs it: the weights as a [`Codebook`] on the
//! model's grid and compared by its distance, the scaler its input vectors go through, and
//! each node's majority label for a model trained with labels.
//! Built from the weights and the record in this one place, so that the cache, `/predict`,
//! the pictures and the command line cannot disagree about a model's options.

use std::sync::Arc;

use ndarray::{Array2, Array3, ArrayView3};

use super::ModelMeta;
use crate::som::{Codebook, Scaler, SomError};

/// A stored map ready for queries. Cheap to clone (the weights are shared).
#[derive(Debug, Clone)]
pub struct LoadedMap {
    /// The weights, in the model's (scaled) units, on its grid, compared by its distance.
    pub map: Arc<Codebook>,
    /// The scaling fitted on the training data, for a scaled model.
    pub scaler: Option<Scaler>,
    /// Each node's majority label, for a model trained with labels.
    pub labels: Option<Arc<NodeLabels>>,
    /// The features' names, for a model trained with them (pictures title panels with them).
    pub feature_names: Option<Arc<[String]>>,
}

/// The label most of each node's training samples carried (ties: the smallest label index):
/// what `/predict` answers for a vector that lands on the node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLabels {
    /// The distinct labels.
    names: Vec<String>,
    /// Per node (flat index), an index into `names`; `None` where it won no sample.
    majority: Vec<Option<u32>>,
}

impl NodeLabels {
    /// The majority labels of a record's nodes, for a record with labels and one entry per
    /// node of a map of `nodes` nodes.
    fn of_record(record: &super::DataRecord, nodes: usize) -> Option<Self> {
        let names = record.labels.clone()?;
        let majority = record.nodes.majority_labels()?;
        (majority.len() == nodes).then_some(NodeLabels { names, majority })
    }

    /// Node `node`'s majority label; `None` where it won no labelled sample.
    pub fn of(&self, node: usize) -> Option<&str> {
        let label = (*self.majority.get(node)?)?;
        self.names.get(label as usize).map(String::as_str)
    }
}

impl LoadedMap {
    /// The map of `weights` `(rows, cols, dim)` with the options and scaler of `meta`; without
    /// a record, or a record without options (a model made before options existed, imported or
    /// dropped in by hand), the defaults.
    ///
    /// # Errors
    /// The reason, when the record's scaler does not have one offset and one scale per
    /// component of the weights.
    pub fn new(weights: ArrayView3<f64>, meta: Option<&ModelMeta>) -> Result<Self, String> {
        let options = meta.map(ModelMeta::options).unwrap_or_default();
        let scaler = meta.and_then(ModelMeta::scaler);
        let dim = weights.dim().2;
        if let Some(scaler) = &scaler
            && (scaler.offset.len() != dim || scaler.scale.len() != dim)
        {
            return Err(format!(
                "its scaler has {} offsets and {} scales but the weights have {dim} components",
                scaler.offset.len(),
                scaler.scale.len()
            ));
        }
        let map = Codebook::from_weights(weights).with(
            options.topology,
            options.toroidal,
            options.distance,
        );
        let nodes = map.nodes();
        let record = meta.and_then(|meta| meta.data.as_ref());
        let labels = record
            .and_then(|record| NodeLabels::of_record(record, nodes))
            .map(Arc::new);
        let feature_names = (record.and_then(|record| record.feature_names.as_deref()))
            .filter(|names| names.len() == dim)
            .map(Arc::from);
        Ok(LoadedMap {
            map: Arc::new(map),
            scaler,
            labels,
            feature_names,
        })
    }

    /// `data` `(n, dim)` in the map's units: scaled as the training data was, so that a
    /// vector is compared with the weights in the units they were trained in.
    ///
    /// # Errors
    /// [`SomError::DimensionMismatch`] when the vectors' dimension differs from the map's.
    pub fn to_map_units(&self, data: Array2<f64>) -> Result<Array2<f64>, SomError> {
        if data.nrows() > 0 && data.ncols() != self.map.dim() {
            return Err(SomError::DimensionMismatch {
                expected: self.map.dim(),
                got: data.ncols(),
            });
        }
        Ok(match &self.scaler {
            Some(scaler) => scaler.scale(data.view()),
            None => data,
        })
    }

    /// The weights `(rows, cols, dim)` in the data's units: the stored ones converted back
    /// with the scaler, or as stored for a model without one.
    pub fn weights_in_data_units(&self) -> Array3<f64> {
        let mut weights = self.map.to_weights();
        if let Some(scaler) = &self.scaler {
            scaler.unscale_weights(&mut weights);
        }
        weights
    }

    /// Bytes of the weights held.
    pub fn bytes(&self) -> usize {
        self.map.nodes() * self.map.dim() * size_of::<f64>()
    }
}
