"""tacelearn.survival."""
