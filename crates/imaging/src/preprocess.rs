//! The study's preprocessing (owned by the preprocessing work; see issue 2 §5).
