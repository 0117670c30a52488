"""Shared building blocks of every subpackage: input checks, messages that name offenders,
atomic writes, the content-addressed cache store and number formatting.

This is the lowest layer of tacelearn: it imports no other subpackage.
"""

from ._formatting import format_estimate_ci, format_number, format_pvalue
from ._io import atomic_directory, atomic_write_bytes, atomic_write_text
from ._messages import (
    MAX_LISTED,
    describe_entries,
    describe_names,
    describe_rows,
    list_problems,
)
from ._parallel import parallel_backend, scheduler_address, sequential_in_dask_worker
from ._paths import (
    MAX_VOXELS,
    NIFTI_SUFFIXES,
    SPACING_RANGE_MM,
    is_nifti_path,
    split_selector,
)
from ._store import CacheWarning, ContentStore, StoreEntry, as_store, content_key
from ._validation import (
    check_binary_outcome,
    check_named_scores,
    check_scores,
    one_dimensional,
)
from ._walk import reachable_objects
from ._warnings import call_capturing_warnings, reraise_warnings

__all__ = [
    "MAX_LISTED",
    "MAX_VOXELS",
    "NIFTI_SUFFIXES",
    "SPACING_RANGE_MM",
    "as_store",
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_text",
    "CacheWarning",
    "call_capturing_warnings",
    "check_binary_outcome",
    "check_named_scores",
    "check_scores",
    "content_key",
    "ContentStore",
    "describe_entries",
    "describe_names",
    "describe_rows",
    "format_estimate_ci",
    "format_number",
    "format_pvalue",
    "is_nifti_path",
    "list_problems",
    "one_dimensional",
    "parallel_backend",
    "reachable_objects",
    "reraise_warnings",
    "scheduler_address",
    "sequential_in_dask_worker",
    "split_selector",
    "StoreEntry",
]
