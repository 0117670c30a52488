"""tacelearn.genomics."""
