"""Gene sets: GMT files in and out, and the bundled synthetic hallmark-like collection."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from ..utils import atomic_write_text

__all__ = ["SYNTHETIC_HALLMARK_GMT", "check_gene_sets", "read_gmt", "write_gmt"]

#: The bundled GMT of synthetic hallmark-like gene sets used by :func:`make_tace_expression`.
#: The names end in ``_SYNTHETIC`` and the genes in ``SYN_``: nothing here comes from MSigDB.
SYNTHETIC_HALLMARK_GMT = Path(
    str(resources.files("tacelearn.genomics").joinpath("data", "synthetic_hallmarks.gmt"))
)
_DEFAULT_DESCRIPTION = "na"


def read_gmt(path):
    """Read a GMT file: one gene set a line, ``name<TAB>description<TAB>gene<TAB>gene...``.

    Parameters
    ----------
    path : str or path-like
        A local ``.gmt`` file (as MSigDB and Enrichr distribute them).

    Returns
    -------
    gene_sets : dict of str to list of str
        Genes of each set, in file order, without duplicates or empty fields.

    See Also
    --------
    write_gmt : The inverse.

    Examples
    --------
    >>> from tacelearn.genomics import SYNTHETIC_HALLMARK_GMT, read_gmt
    >>> gene_sets = read_gmt(SYNTHETIC_HALLMARK_GMT)
    >>> gene_sets["HALLMARK_HYPOXIA_SYNTHETIC"][:3]
    ['SYN_HYPOX_01', 'SYN_HYPOX_02', 'SYN_HYPOX_03']
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"gene set file {path} does not exist")
    gene_sets = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split("\t")
            if len(fields) < 3 or not fields[0].strip():
                raise ValueError(f"{path}, line {number}: a GMT line needs a set name, a "
                                 "description and at least one gene, separated by tabs")
            name = fields[0].strip()
            if name in gene_sets:
                raise ValueError(f"{path}, line {number}: gene set {name!r} appears twice")
            genes = [gene.strip() for gene in fields[2:] if gene.strip()]
            gene_sets[name] = list(dict.fromkeys(genes))
    if not gene_sets:
        raise ValueError(f"gene set file {path} holds no gene set")
    return gene_sets


def write_gmt(gene_sets, path, *, description=_DEFAULT_DESCRIPTION):
    """Write gene sets to a GMT file (atomically: a reader never sees half a file).

    Parameters
    ----------
    gene_sets : dict of str to iterable of str
        Genes of each set.
    path : str or path-like
        File to write; its folder is created if needed.
    description : str, default="na"
        Second field of every line.

    Returns
    -------
    path : pathlib.Path
        The file written.

    See Also
    --------
    read_gmt : The inverse.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from tacelearn.genomics import read_gmt, write_gmt
    >>> path = write_gmt({"UP": ["A", "B"], "DOWN": ["C"]}, Path(tempfile.mkdtemp()) / "s.gmt")
    >>> read_gmt(path)
    {'UP': ['A', 'B'], 'DOWN': ['C']}
    """
    gene_sets = check_gene_sets(gene_sets)
    if "\t" in description or "\n" in description:
        raise ValueError("description must not contain tabs or line breaks")
    lines = ["\t".join([name, description, *genes]) for name, genes in gene_sets.items()]
    atomic_write_text(path, "\n".join(lines) + "\n")
    return Path(path)


def _check_text(value, what):
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string, got {value!r}")
    if any(character in value for character in "\t\r\n"):
        raise ValueError(f"{what} {value!r} contains a tab or a line break")
    return value.strip()


def check_gene_sets(gene_sets):
    """Gene sets as a dict of lists, from a dict or a local GMT path; never a download.

    gseapy would treat a string that is not a file as the name of an Enrichr library and
    fetch it over the network: such a string is refused here.
    """
    if isinstance(gene_sets, (str, os.PathLike)):
        if not Path(gene_sets).is_file():
            raise ValueError(
                f"gene_sets {str(gene_sets)!r} is not an existing file; tacelearn never "
                "downloads gene sets: pass a local .gmt file or a dict of gene lists")
        return read_gmt(gene_sets)
    if not isinstance(gene_sets, dict):
        raise TypeError("gene_sets must be a dict of gene lists or the path of a GMT file, "
                        f"got {type(gene_sets).__name__}")
    if not gene_sets:
        raise ValueError("gene_sets is empty")
    checked = {}
    for name, genes in gene_sets.items():
        name = _check_text(name, "gene set name")
        if isinstance(genes, str):
            raise TypeError(f"gene set {name!r} must be a list of genes, got a string")
        genes = [_check_text(gene, f"a gene of set {name!r}") for gene in genes]
        if not genes:
            raise ValueError(f"gene set {name!r} is empty")
        checked[name] = list(dict.fromkeys(genes))
    return checked
