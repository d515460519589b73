"""Customer models: BG/NBD and Gamma-Gamma fits, their inputs (fitted on the scope), churn risk,
predictive CLV and the holdout check."""
