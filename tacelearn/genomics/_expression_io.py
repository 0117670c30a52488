"""Reading an expression table from a delimited text file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ._checks import check_expression

__all__ = ["read_expression"]

_TAB_SUFFIXES = (".tsv", ".txt", ".tab")


def read_expression(path, *, genes_in_rows=False):
    """Read an expression table as a samples x genes DataFrame and check it.

    Parameters
    ----------
    path : str or path-like
        CSV file (tab-separated when the name ends in ``.tsv``, ``.txt`` or ``.tab``, with
        or without ``.gz``). The first column holds the row labels, the header the column
        labels.
    genes_in_rows : bool, default=False
        Set when rows are genes and columns samples (the usual layout of TCGA downloads);
        the table is then transposed.

    Returns
    -------
    expression : pandas.DataFrame of shape (n_samples, n_genes)
        Float values indexed by sample id (as strings); unique, finite, numeric.

    See Also
    --------
    radiogenomics_analysis : What the table is for.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tacelearn.genomics import read_expression
    >>> path = Path(tempfile.mkdtemp()) / "expression.tsv"
    >>> _ = path.write_text("gene\\tP001\\tP002\\nVEGFA\\t7.5\\t9.0\\nALB\\t12.0\\t11.5\\n")
    >>> read_expression(path, genes_in_rows=True)
    gene     VEGFA   ALB
    patient_id
    P001       7.5  12.0
    P002       9.0  11.5
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"expression file {path} does not exist")
    suffixes = [suffix for suffix in path.suffixes if suffix != ".gz"]
    separator = "\t" if suffixes and suffixes[-1] in _TAB_SUFFIXES else ","
    table = pd.read_csv(path, sep=separator, index_col=0)
    if genes_in_rows:
        table = table.T
    table.index = table.index.astype(str).rename("patient_id")
    table.columns = table.columns.astype(str).rename("gene")
    return check_expression(table, name=f"expression file {path}")
