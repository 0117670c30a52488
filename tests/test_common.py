"""scikit-learn's common estimator checks over every pure-scikit-learn piece of tacelearn.

Image and skorch pieces (TumourPatchExtractor, CNNEncoder) take 4D images or file paths, so the
common checks do not apply to them as a whole; their own test modules run ``check_estimator``
with each expected failure listed and justified.
"""

from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.utils.estimator_checks import parametrize_with_checks

from tacelearn.transformers import (
    ClinicalCutoffEncoder,
    OutOfFoldTransformer,
    UnivariateSelector,
)

# fit_transform gives out-of-fold outputs and fit().transform in-sample ones, by design.
_OUT_OF_FOLD_DIFFERS = "fit_transform returns out-of-fold outputs, unlike fit().transform"

ESTIMATORS = [
    ClinicalCutoffEncoder(),
    UnivariateSelector(),
    OutOfFoldTransformer(LinearDiscriminantAnalysis(), cv=3),
]

EXPECTED_FAILED_CHECKS = {
    "OutOfFoldTransformer": {
        "check_transformer_general": _OUT_OF_FOLD_DIFFERS,
        "check_transformer_data_not_an_array": _OUT_OF_FOLD_DIFFERS,
    },
}


@parametrize_with_checks(
    ESTIMATORS,
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {}),
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
