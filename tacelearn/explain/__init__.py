"""tacelearn.explain."""
