//! A queued job as the object store keeps it, so that any replica can train it, and train it
//! again from the start after a replica dies: its parameters as given (checked again by the
//! replica that takes it), seed, names and data (`settings.json` and `data.npy` under the job's
//! input key); and the `verbose` additions of a success, for the `/train` that waits.

use ndarray::Array2;
use ndarray_npy::WriteNpyExt;
use serde::{Deserialize, Serialize};

use crate::som::{Initial, Schedule, SizeLimits, SomParams};
use crate::storage::{GivenOptionsRecord, data_from_npy};
use crate::training::{DataNames, Labels, TrainingJob, Verbose};

/// A job's settings: everything of [`TrainingJob`] but the data.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct JobSettings {
    rows: usize,
    cols: usize,
    max_iterations: usize,
    learning_rate: Option<f64>,
    options: GivenOptionsRecord,
    seed: u64,
    record_bmus: bool,
    feature_names: Option<Vec<String>>,
    /// One label per row.
    labels: Option<Vec<String>>,
    /// The stored dataset the data came from (the data itself is copied: a retried job sees
    /// the same data whatever happens to the dataset).
    dataset: Option<String>,
}

/// Why a stored job cannot be trained.
pub(super) type InputError = String;

impl JobSettings {
    pub fn of(job: &TrainingJob) -> JobSettings {
        let given = job.params.as_given();
        let labels = job.names.labels.as_ref().map(|labels| {
            (labels.of_row.iter())
                .map(|&index| labels.names[index as usize].clone())
                .collect()
        });
        JobSettings {
            rows: given.rows,
            cols: given.cols,
            max_iterations: given.max_iterations,
            learning_rate: given.learning_rate,
            options: given.options.into(),
            seed: job.seed,
            record_bmus: job.record_bmus,
            feature_names: job.names.feature_names.clone(),
            labels,
            dataset: job.dataset.as_ref().map(|hold| hold.name().to_owned()),
        }
    }

    /// The stored dataset the job trains on, if any.
    pub fn dataset(&self) -> Option<&str> {
        self.dataset.as_deref()
    }

    /// The job again, with every check of a new request made again against this replica's
    /// `limits`.
    pub fn into_job(
        self,
        data: Array2<f64>,
        limits: SizeLimits,
    ) -> Result<TrainingJob, InputError> {
        let params = SomParams {
            learning_rate: self.learning_rate,
            options: self.options.into(),
            ..SomParams::new(self.rows, self.cols, self.max_iterations)
        }
        .limits(limits)
        .check(data.ncols())
        .map_err(|err| err.to_string())?;
        let labels = (self.labels.as_deref())
            .map(Labels::from_rows)
            .transpose()
            .map_err(|err| err.to_string())?;
        let names = DataNames {
            feature_names: self.feature_names,
            labels,
        };
        names
            .check(data.nrows(), data.ncols())
            .map_err(|err| err.to_string())?;
        Ok(TrainingJob {
            initial: Initial::Method(params.options().init),
            params,
            seed: self.seed,
            data,
            record_bmus: self.record_bmus,
            dataset: None,
            names,
        })
    }
}

/// The settings and the data of `job` as the two objects' bytes.
pub(super) fn encode(job: &TrainingJob) -> (Vec<u8>, Vec<u8>) {
    let settings = serde_json::to_vec(&JobSettings::of(job)).expect("settings always serialise");
    let mut data = Vec::with_capacity(job.data.len() * 8 + 128);
    job.data
        .as_standard_layout()
        .write_npy(&mut data)
        .expect("writing an f64 array to memory cannot fail");
    (settings, data)
}

/// The settings and the data read back from the two objects' bytes.
pub(super) fn decode(
    settings: &[u8],
    data: &[u8],
) -> Result<(JobSettings, Array2<f64>), InputError> {
    let settings: JobSettings =
        serde_json::from_slice(settings).map_err(|err| format!("its settings: {err}"))?;
    let data = data_from_npy(data).map_err(|err| format!("its data: {err}"))?;
    Ok((settings, data))
}

/// The `verbose` additions of a success, as the waiting `/train` reads them.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct VerboseRecord {
    bmus: Vec<[usize; 2]>,
    predictions: Vec<[usize; 2]>,
    radii: Vec<f64>,
    learning_rates: Vec<f64>,
}

impl From<Verbose> for VerboseRecord {
    fn from(verbose: Verbose) -> Self {
        VerboseRecord {
            bmus: verbose.bmus,
            predictions: verbose.predictions,
            radii: verbose.schedule.radii,
            learning_rates: verbose.schedule.learning_rates,
        }
    }
}

impl From<VerboseRecord> for Verbose {
    fn from(record: VerboseRecord) -> Self {
        Verbose {
            bmus: record.bmus,
            predictions: record.predictions,
            schedule: Schedule {
                radii: record.radii,
                learning_rates: record.learning_rates,
            },
        }
    }
}
