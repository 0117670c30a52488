"""tacelearn.transformers."""
