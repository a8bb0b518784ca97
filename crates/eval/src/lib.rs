//! Evaluation statistics: ROC, AUC, DeLong, bootstrap, multi-class AUC, operating points.
