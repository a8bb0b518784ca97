//! Synthetic screening mammograms: the embedded default dataset.
