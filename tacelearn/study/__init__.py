"""tacelearn.study."""
