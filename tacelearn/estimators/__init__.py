"""tacelearn.estimators."""
