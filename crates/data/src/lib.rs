//! Dataset manifests (the `labels.csv` schema), ingestion from public dataset layouts,
//! validation, the study's six scenarios, patient-level splits and the preprocessed cache.
//!
//! Labels: `negative`, `benign` (the study's *recalled-benign*: recalled after screening
//! and proven benign) and `malignant`.

pub mod cache;
mod error;
pub mod ingest;
pub mod manifest;
pub mod scenario;
pub mod split;
pub mod summary;
pub mod validate;

pub use error::DataError;
pub use manifest::{Label, Manifest, Record};
pub use scenario::Scenario;
pub use split::{Part, Split, SplitSettings};
pub use summary::Summary;
pub use validate::{Origin, Problem};
