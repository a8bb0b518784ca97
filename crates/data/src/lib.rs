//! Dataset manifests (the `labels.csv` schema), ingestion from public dataset layouts,
//! validation, the study's six scenarios, patient-level splits and the preprocessed cache.

mod error;
pub mod manifest;

pub use error::DataError;
pub use manifest::{Label, Manifest, Record};
