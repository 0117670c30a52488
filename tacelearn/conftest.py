"""Doctest settings: figures go to the Agg backend, examples run from the project root."""

import matplotlib

matplotlib.use("Agg")
