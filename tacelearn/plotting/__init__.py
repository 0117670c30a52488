"""tacelearn.plotting."""
