//! What every handler shares: cheap to clone.

use std::sync::Arc;

use crate::cluster::Cluster;
use crate::jobs::Jobs;
use crate::som::SizeLimits;
use crate::storage::{Datasets, ModelCache, ModelStore};

use super::metrics::RequestCounts;

#[derive(Clone)]
pub struct AppState {
    pub store: ModelStore,
    /// The database and object store of several replicas; `None` for one process on a folder.
    pub cluster: Option<Arc<Cluster>>,
    pub datasets: Datasets,
    /// Largest dataset upload, in bytes.
    pub max_dataset_bytes: u64,
    pub jobs: Jobs,
    pub models: ModelCache,
    pub limits: SizeLimits,
    pub requests: RequestCounts,
    /// Most vectors x nodes x dimension one prediction or picture may search.
    pub max_predict_work: u64,
}
