"""Cell-type fractions of bulk samples by CIBERSORT-style nu-support vector regression."""

from __future__ import annotations

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.svm import NuSVR

from ..utils import describe_names
from ._checks import check_expression

__all__ = ["NU_VALUES", "deconvolve"]

#: The nu values CIBERSORT tries for every sample; the fit with the smallest RMSE wins.
NU_VALUES = (0.25, 0.5, 0.75)
# Fewer shared genes than this many per cell type leave the regression under-determined.
_MIN_GENES_PER_CELL_TYPE = 2


def _standardise(values, axis=None):
    # R's sd (n - 1), as CIBERSORT computes it; the SVR's fixed cost C makes the scale matter.
    return ((values - values.mean(axis=axis, keepdims=True))
            / values.std(axis=axis, ddof=1, keepdims=True))


def _fit_sample(signature, mixture):
    """Non-negative weights summing to 1 from the best of the nu-SVR fits, or None."""
    best_weights, best_rmse = None, np.inf
    for nu in NU_VALUES:
        model = NuSVR(nu=nu, C=1.0, kernel="linear").fit(signature, mixture)
        weights = np.clip(model.coef_.ravel(), 0.0, None)
        if weights.sum() <= 0:
            continue
        weights = weights / weights.sum()
        rmse = np.sqrt(np.mean((signature @ weights - mixture) ** 2))
        if rmse < best_rmse:
            best_weights, best_rmse = weights, rmse
    return best_weights


def deconvolve(expression, signature, *, n_jobs=None):
    """Estimate cell-type fractions of bulk samples from a signature matrix (CIBERSORT-style).

    For each sample, the expression of the signature genes is regressed on the signature
    matrix by linear nu-support vector regression (scikit-learn's ``NuSVR``, ``C=1``) with
    nu = 0.25, 0.5 and 0.75; as in CIBERSORT (Newman et al., Nat Methods 2015) the
    signature is standardised as a whole, each mixture over its genes, the fit with the
    smallest root-mean-square error is kept, negative coefficients are set to zero and the
    rest rescaled to sum to one. Genes are matched by name; the other genes are ignored (and
    not checked).

    Parameters
    ----------
    expression : pandas.DataFrame of shape (n_samples, n_genes)
        Bulk expression on a LINEAR scale (TPM, FPKM, normalised counts or microarray
        intensities, not their logarithm), rows indexed by sample id. Undo a log first, e.g.
        ``2 ** log2_expression - 1`` for ``log2(x + 1)`` data.
    signature : pandas.DataFrame of shape (n_signature_genes, n_cell_types)
        Reference expression profiles of purified cell types on the same linear scale, rows
        indexed by gene (such as CIBERSORT's LM22, which is not bundled).
    n_jobs : int, optional
        Samples fitted in parallel (joblib); ``None`` means 1 unless in a joblib context.

    Returns
    -------
    fractions : pandas.DataFrame of shape (n_samples, n_cell_types)
        Relative fractions of the signature's cell types: non-negative, summing to 1 per
        sample. They are fractions among the cell types of the signature, not of all cells.

    See Also
    --------
    compare_cell_fractions : Mann-Whitney tests of the fractions between two groups.
    tacelearn.plotting.CellFractionDisplay : Box plots of fractions by group.

    Notes
    -----
    CIBERSORT's permutation p-value of the fit and its optional quantile normalisation of
    the mixtures are not reproduced.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from tacelearn.genomics import deconvolve
    >>> rng = np.random.default_rng(0)
    >>> genes = [f"G{i:02d}" for i in range(40)]
    >>> signature = pd.DataFrame(rng.lognormal(3.0, 1.5, size=(40, 3)), index=genes,
    ...                          columns=["B cells", "T cells", "Macrophages"])
    >>> truth = pd.DataFrame([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]], index=["P1", "P2"],
    ...                      columns=signature.columns)
    >>> bulk = truth @ signature.T
    >>> deconvolve(bulk, signature).round(2)
        B cells  T cells  Macrophages
    P1      0.2      0.5          0.3
    P2      0.6      0.1          0.3
    """
    if not isinstance(expression, pd.DataFrame):
        raise TypeError("expression must be a pandas DataFrame with labelled rows and columns, "
                        f"got {type(expression).__name__}")
    signature = check_expression(signature, name="signature", non_negative=True)
    # Sorted, as CIBERSORT does: the solver's answer then does not depend on column order.
    shared = signature.index[signature.index.isin(expression.columns)].sort_values()
    needed = _MIN_GENES_PER_CELL_TYPE * signature.shape[1]
    if len(shared) < needed:
        raise ValueError(
            f"only {len(shared)} of the signature's {signature.shape[0]} genes are expression "
            f"columns; at least {needed} are needed for {signature.shape[1]} cell types "
            "(check that both use the same gene identifiers, e.g. symbols)")
    reference = signature.loc[shared].to_numpy()
    if np.ptp(reference) == 0:
        raise ValueError("the signature is constant over the shared genes")
    reference = _standardise(reference)
    # Only the signature genes are checked: the other columns play no part.
    expression = check_expression(expression.loc[:, shared], non_negative=True)
    mixtures = expression.to_numpy()

    flat = expression.index[np.ptp(mixtures, axis=1) == 0]
    if len(flat):
        raise ValueError(f"samples {describe_names(flat)} have the same expression for every "
                         "signature gene and cannot be deconvolved")
    weights = Parallel(n_jobs=n_jobs)(
        delayed(_fit_sample)(reference, mixture) for mixture in _standardise(mixtures, axis=1))
    unexplained = [sample for sample, w in zip(expression.index, weights) if w is None]
    if unexplained:
        raise ValueError(f"samples {describe_names(unexplained)}: every cell-type coefficient "
                         "was negative, the signature does not explain their expression")
    return pd.DataFrame(np.vstack(weights), index=expression.index, columns=signature.columns)
