"""tacelearn.stats."""
