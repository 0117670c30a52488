"""tacelearn.metrics."""
