//! The intent journal that makes a change to a model (two files) one step.
//!
//! Before a change touches `NAME.npy` or `NAME.json`, the whole change is written, atomically,
//! to `.NAME.intent`: the record to write and the already-flushed temporary file holding the new
//! weights, or "delete". Then the files are changed and the intent removed. The intent's rename
//! into place is the commit point: a crash before it leaves the old model (and a temporary file
//! that start-up removes); a crash after it leaves an intent that start-up carries out again,
//! every step of which can be repeated.

use serde::{Deserialize, Serialize};

use super::files::TEMP_MARKER;
use super::meta::ModelMeta;

/// Ends the name of every intent file, which starts with `.` and the model's name.
pub const INTENT_SUFFIX: &str = ".intent";

/// A change to one model, as written in its intent file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "lowercase")]
pub enum Intent {
    /// Rename `weights` (a temporary file of the folder) to `NAME.npy`, then write `record` as
    /// `NAME.json`.
    Commit {
        weights: String,
        record: Box<ModelMeta>,
    },
    /// Remove `NAME.json`, then `NAME.npy`.
    Delete,
}

impl Intent {
    /// The intent file of `name`.
    pub fn file_name(name: &str) -> String {
        format!(".{name}{INTENT_SUFFIX}")
    }

    /// The model name an intent file is for, if `file_name` is one.
    pub fn model_of(file_name: &str) -> Option<&str> {
        file_name.strip_prefix('.')?.strip_suffix(INTENT_SUFFIX)
    }

    /// Whether this intent, found in `.NAME.intent`, only names files of `name`: the weights it
    /// renames must be one of `name`'s temporary weights files in the same folder.
    pub fn is_for(&self, name: &str) -> bool {
        match self {
            Intent::Commit { weights, record } => {
                record.name == name
                    && !weights.contains('/')
                    && weights.starts_with(&format!(".{name}.npy{TEMP_MARKER}"))
            }
            Intent::Delete => true,
        }
    }
}
