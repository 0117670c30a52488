"""scikit-learn's common estimator checks over every public estimator of tacelearn.

Every class a subpackage exports (its ``__all__``) that is a scikit-learn estimator is in
ESTIMATORS; test_every_public_estimator_is_checked fails when one is added without being
listed. A check an estimator does not pass is listed with one reason per check, and
``xfail_strict`` makes a listed check that starts passing fail, so the lists cannot go stale.

The image pieces (TumourPatchExtractor, RadiomicsExtractor, CNNEncoder) take a cohort
DataFrame of image paths, 4D patches, 5D volumes or lesion bags, never the 2D numeric arrays
the checks build: every check that fits on such data fails at input validation. The checks
that need no data (parameters, cloning, repr, tags, parameter validation) still run on them,
and test_cohort_estimator_api runs the properties behind the failing data checks (fit returns
self, leaves the parameters alone, is idempotent; outputs survive pickling, a Pipeline, a
shuffle and a subset of the patients) on a small synthetic cohort. Their lesion-level and 3D
configurations are checked too.
"""

import copyreg
import hashlib
import importlib
import inspect
import io
import pickle
import pkgutil

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

import tacelearn
from tacelearn.datasets import categorical_columns, make_tace_cohort
from tacelearn.estimators import (
    BinaryLogisticRegression,
    BinaryMLPClassifier,
    ImageBranch,
    TextCategories,
)
from tacelearn.transformers import (
    ClinicalCutoffEncoder,
    CNNEncoder,
    CorrelationFilter,
    OutOfFoldTransformer,
    RadiomicsExtractor,
    TumourPatchExtractor,
    UnivariateSelector,
)
from tacelearn.validation import LogisticRecalibrator

# Tiny networks, one epoch: the checks test the API, not the learning.
TINY_CNN = {"backbone": "test_resnet", "max_epochs": 1, "batch_size": 3, "random_state": 0}
TINY_3D_CNN = {**TINY_CNN, "backbone": "monai:resnet10",
               "backbone_params": {"widen_factor": 0.125, "conv1_t_size": 3,
                                   "conv1_t_stride": 2}}
# Three cheap PyRadiomics features (the tumour's volume, each sequence's mean), not hundreds.
TINY_RADIOMICS = {"setting": {"binWidth": 25, "normalize": True, "normalizeScale": 100},
                  "featureClass": {"shape": ["VoxelVolume"], "firstorder": ["Mean"]}}

ESTIMATORS = [
    ClinicalCutoffEncoder(),
    UnivariateSelector(),
    CorrelationFilter(),
    OutOfFoldTransformer(LinearDiscriminantAnalysis(), cv=3),
    TextCategories(),
    BinaryLogisticRegression(),
    BinaryMLPClassifier(random_state=0),
    ImageBranch([("scale", StandardScaler()), ("filter", CorrelationFilter())]),
    LogisticRecalibrator(method="intercept"),
    LogisticRecalibrator(LogisticRegression(C=0.1), method="intercept", cv=3),
    LogisticRecalibrator(),
    TumourPatchExtractor(),
    TumourPatchExtractor(lesion="bags", mode="3d"),
    RadiomicsExtractor(),
    CNNEncoder(**TINY_CNN),
    CNNEncoder(**TINY_CNN, lesion_aggregation="attention"),
    CNNEncoder(**TINY_3D_CNN),
]

# ------------------------------------------------------------------ expected failures

# fit_transform gives out-of-fold outputs and fit().transform in-sample ones, by design.
_OUT_OF_FOLD_DIFFERS = "fit_transform returns out-of-fold outputs, unlike fit().transform"

# TextCategories returns text categories (the input of the one-hot encoder), never numbers.
_TEXT_OUTPUT = ("the check compares outputs with assert_allclose; TextCategories returns "
                "text by design -> test_cohort_estimator_api[TextCategories]")

# The common checks fit on well-separated blobs. A model that separates cases from controls
# leaves the recalibration slope without a maximum-likelihood estimate (it is infinite), and
# fit refuses such a sample with a ValueError that says so; the intercept-only method has no
# such limit and passes every check.
_SEPARABLE = ("the check's data are separable, so the recalibration slope has no "
              "maximum-likelihood estimate and fit raises ValueError by design")

# ImageBranch is a Pipeline: fit fits the estimators of its `steps` parameter in place.
_PIPELINE_STEPS = ("inherited from Pipeline, whose fit fits the estimators of `steps` in "
                   "place; scikit-learn xfails this check for Pipeline itself")


def _binary_head_reasons(name):
    """Both heads keep scikit-learn's default tag ``classifier_tags.multi_class=True``, so the
    checks fit multiclass targets, which the heads refuse by design (check_binary_target)."""
    refused = f"{name} refuses a non-binary target by design (check_binary_target)"
    three = f"the check fits a 3-class y; {refused}"
    sparse = (f"the check fits sparse X with a 3-class y; {refused} before X is validated, "
              "so the error does not mention sparse input")
    multilabel = f"the check fits a multilabel indicator y; {refused}"
    reasons = {
        check: three for check in (
            "check_fit_score_takes_y", "check_estimators_overwrite_params",
            "check_dont_overwrite_parameters", "check_estimators_fit_returns_self",
            "check_readonly_memmap_input", "check_n_features_in_after_fitting",
            "check_sample_weights_list", "check_sample_weight_equivalence_on_dense_data",
            "check_sample_weight_equivalence_on_sparse_data",
            "check_f_contiguous_array_estimator", "check_classifiers_train",
            "check_supervised_y_2d", "check_non_transformer_estimators_n_iter",
            "check_methods_sample_order_invariance", "check_methods_subset_invariance",
            "check_dict_unchanged", "check_fit2d_predict1d")
    }
    reasons.update({
        "check_positive_only_tag_during_fit":
            f"the check fits non-negative X with a 3-class y; {refused}",
        "check_dtype_object": f"the check fits object X with a 4-class y; {refused}",
        "check_classifiers_classes": f"the check fits 3 string classes; {refused}",
        "check_estimator_sparse_array": sparse,
        "check_estimator_sparse_matrix": sparse,
        "check_estimator_sparse_tag": sparse,
    })
    if name == "BinaryLogisticRegression":
        reasons["check_class_weight_classifiers"] = three
        reasons["check_sparsify_coefficients"] = f"the check fits y in {{1, 2, 3}}; {refused}"
    else:
        reasons.update({check: multilabel for check in (
            "check_classifiers_multilabel_representation_invariance",
            "check_classifiers_multilabel_output_format_predict",
            "check_classifiers_multilabel_output_format_predict_proba",
            "check_classifiers_multilabel_output_format_decision_function")})
    return reasons


# TumourPatchExtractor and RadiomicsExtractor: what each data check tests, and why an array
# cannot stand in for a cohort there (or where the property is tested on a real cohort).
_COHORT_DETAILS = {
    "check_complex_data": "; complex values cannot name image files",
    "check_dict_unchanged": " -> test_cohort_estimator_api (transform leaves the state alone)",
    "check_dont_overwrite_parameters":
        " -> test_cohort_estimator_api (fit adds only attributes ending in _)",
    "check_dtype_object": "; its path columns are object dtype and name files, not numbers",
    "check_estimator_sparse_array": "; a sparse matrix cannot hold file paths",
    "check_estimator_sparse_matrix": "; a sparse matrix cannot hold file paths",
    "check_estimator_sparse_tag":
        "; its sparse tag is False and sparse X gets that TypeError, not a sparse message",
    "check_estimators_dtypes": "; the images' dtypes are those of the files",
    "check_estimators_empty_data_messages":
        "; the empty array gets that TypeError before its size is looked at",
    "check_estimators_fit_returns_self": " -> test_cohort_estimator_api",
    "check_estimators_nan_inf": "; NaN in an image is a property of the file, not of X",
    "check_estimators_overwrite_params":
        " -> test_cohort_estimator_api (fit leaves the parameters unchanged)",
    "check_estimators_pickle": " -> test_cohort_estimator_api (pickle round trip)",
    "check_f_contiguous_array_estimator": "; memory layout does not apply to a table of paths",
    "check_fit1d": "; a 1D array gets that TypeError, not a ValueError",
    "check_fit2d_1feature": "; a one-column array is not a cohort table",
    "check_fit2d_1sample": "; a one-row array is not a cohort table",
    "check_fit2d_predict1d": "; a 1D array gets that TypeError, not a ValueError",
    "check_fit_check_is_fitted": " -> test_cohort_estimator_api (unfitted, then fitted)",
    "check_fit_idempotent": " -> test_cohort_estimator_api (a second fit, the same output)",
    "check_fit_score_takes_y": " -> test_cohort_estimator_api (fit takes y and ignores it)",
    "check_methods_sample_order_invariance":
        " -> test_cohort_estimator_api (shuffled patients)",
    "check_methods_subset_invariance": " -> test_cohort_estimator_api (a subset of patients)",
    "check_n_features_in":
        " -> test_cohort_estimator_api (n_features_in_ counts the cohort's columns)",
    "check_n_features_in_after_fitting":
        "; the array of another width gets that TypeError before its width is compared",
    "check_pipeline_consistency": " -> test_cohort_estimator_api (the same inside a Pipeline)",
    "check_positive_only_tag_during_fit": "; not the sign of X: any array is refused",
    "check_readonly_memmap_input": "; a memmap is an array, not a cohort table",
    "check_transformer_data_not_an_array": "; an array-like is not a cohort table",
    "check_transformer_general":
        " -> test_cohort_estimator_api (fit_transform equals fit().transform)",
}


def _cohort_reasons(name):
    refused = (f"the check builds numeric arrays; {name} takes a cohort DataFrame of image "
               "paths and refuses anything else with a TypeError")
    return {check: refused + detail for check, detail in _COHORT_DETAILS.items()}


# CNNEncoder: the same, for patches (test_encoder.py names the tests of the 2D encoder).
_CNN_DETAILS = {
    "check_class_weight_classifiers": " -> test_encoder.py::test_class_weights_in_the_loss",
    "check_classifier_data_not_an_array":
        " -> test_encoder.py::test_string_labels_and_float64_input",
    "check_classifiers_classes": " -> test_encoder.py::test_string_labels_and_float64_input",
    "check_classifiers_train":
        " -> test_encoder.py::test_paper_backbones_fit_and_predict_on_tiny_input",
    "check_decision_proba_consistency":
        " -> test_encoder.py::test_outputs_agree_with_the_timm_model_run_by_hand",
    "check_dict_unchanged": " -> test_cohort_estimator_api (predicting leaves the state alone)",
    "check_dont_overwrite_parameters":
        " -> test_cohort_estimator_api (fit adds only attributes ending in _)",
    "check_dtype_object": "; object arrays are cast to float32 by validate_data",
    "check_estimators_dtypes": " -> test_encoder.py::test_string_labels_and_float64_input",
    "check_estimators_fit_returns_self": " -> test_cohort_estimator_api",
    "check_estimators_nan_inf": " -> test_encoder.py::test_bad_input_raises_clear_errors",
    "check_estimators_overwrite_params":
        " -> test_cohort_estimator_api (fit leaves the parameters unchanged)",
    "check_estimators_pickle": " -> test_cohort_estimator_api (pickle round trip)",
    "check_f_contiguous_array_estimator": " -> test_encoder.py::test_read_only_and_fortran_input",
    "check_fit2d_1feature": "; one channel is a valid patch",
    "check_fit2d_predict1d": " -> test_encoder.py::test_bad_input_raises_clear_errors",
    "check_fit_check_is_fitted": " -> test_cohort_estimator_api (unfitted, then fitted)",
    "check_fit_idempotent":
        " -> test_cohort_estimator_api (the same random_state, the same outputs)",
    "check_fit_score_takes_y": "; fit(X, y) is the only signature",
    "check_methods_sample_order_invariance":
        " -> test_cohort_estimator_api (shuffled patients, eval mode)",
    "check_methods_subset_invariance":
        " -> test_cohort_estimator_api (a subset of patients, eval mode)",
    "check_n_features_in":
        " -> test_cohort_estimator_api (n_features_in_ counts the channels)",
    "check_n_features_in_after_fitting":
        " -> test_encoder.py::test_bad_input_raises_clear_errors",
    "check_pipeline_consistency": " -> test_cohort_estimator_api (the same inside a Pipeline)",
    "check_positive_only_tag_during_fit": "; negative intensities are normal input",
    "check_readonly_memmap_input": " -> test_encoder.py::test_read_only_and_fortran_input",
    "check_supervised_y_2d": "; y is 1D by validate_data",
    "check_transformer_data_not_an_array":
        " -> test_encoder.py::test_transform_output_choices_and_feature_names",
    "check_transformer_general":
        " -> test_cohort_estimator_api (fit_transform equals fit().transform)",
}

# With lesion_aggregation, X is first checked to be lesion bags: checks that expect an error
# about something else (its dtype, size, y) get the lesion-bag error instead.
_BAG_DETAILS = {
    "check_complex_data": "; the complex array is refused as not bags, not as complex",
    "check_estimators_empty_data_messages":
        "; the empty array is refused as not bags before its size is looked at",
    "check_estimator_sparse_array": "; sparse X is refused as not bags, not as sparse",
    "check_estimator_sparse_matrix": "; sparse X is refused as not bags, not as sparse",
    "check_estimator_sparse_tag": "; sparse X is refused as not bags, not as sparse",
    "check_fit2d_1sample": "; the one-row array is refused as not bags before its size",
    "check_classifiers_one_label": "; X is refused as not bags before y's single class",
    "check_classifiers_regression_target": "; X is refused as not bags before continuous y",
    "check_classifier_not_supporting_multiclass":
        "; X is refused as not bags before the multiclass y",
    "check_requires_y_none": "; X is refused as not bags before y=None",
}


def _cnn_reasons(estimator):
    if estimator.lesion_aggregation is not None:
        takes, details = "lesion bags (make_lesion_bags)", {**_CNN_DETAILS, **_BAG_DETAILS}
    elif estimator.backbone.startswith("monai:"):
        takes, details = "5D volumes with a MONAI backbone", _CNN_DETAILS
    else:
        takes, details = "4D patches", _CNN_DETAILS
    refused = f"fits on 2D tabular X; CNNEncoder takes {takes}"
    return {check: refused + detail for check, detail in details.items()}


EXPECTED_FAILED_CHECKS = {
    "OutOfFoldTransformer": {
        "check_transformer_general": _OUT_OF_FOLD_DIFFERS,
        "check_transformer_data_not_an_array": _OUT_OF_FOLD_DIFFERS,
    },
    "TextCategories": {
        "check_pipeline_consistency": _TEXT_OUTPUT,
        "check_estimators_pickle": _TEXT_OUTPUT,
        "check_transformer_general": _TEXT_OUTPUT,
        "check_methods_sample_order_invariance": _TEXT_OUTPUT,
        "check_methods_subset_invariance": _TEXT_OUTPUT,
        "check_fit_idempotent": _TEXT_OUTPUT,
        "check_transformer_preserve_dtypes":
            "returns a DataFrame of text whatever the input, while its tags keep the default "
            "preserves_dtype=['float64']",
        "check_transformer_data_not_an_array":
            "fit and transform build their table with pd.DataFrame(X) from the raw input, "
            "not from validate_data's array, so an object that only implements __array__ "
            "is refused",
    },
    "BinaryLogisticRegression": _binary_head_reasons("BinaryLogisticRegression"),
    "BinaryMLPClassifier": _binary_head_reasons("BinaryMLPClassifier"),
    "ImageBranch": {
        "check_estimators_overwrite_params": _PIPELINE_STEPS,
        "check_dont_overwrite_parameters": _PIPELINE_STEPS,
    },
    "TumourPatchExtractor": _cohort_reasons("TumourPatchExtractor"),
    "RadiomicsExtractor": _cohort_reasons("RadiomicsExtractor"),
}


def expected_failed_checks(estimator):
    """The checks ``estimator`` is expected to fail, each with its reason."""
    if isinstance(estimator, CNNEncoder):
        return _cnn_reasons(estimator)
    if isinstance(estimator, LogisticRecalibrator):
        if estimator.method == "intercept":
            return {}
        return {check: _SEPARABLE for check in (
            "check_positive_only_tag_during_fit", "check_pipeline_consistency",
            "check_estimators_pickle", "check_classifiers_classes")}
    return EXPECTED_FAILED_CHECKS.get(type(estimator).__name__, {})


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """BLAS, OpenMP and torch on one thread. The checks' problems are tiny: a second thread
    gains nothing, and on a busy machine every operation waits for the other thread's core
    (the recalibrator's checks took 21 s instead of 2.5 s, a tiny CNN fit 3 s instead of
    0.05 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(threads)


class ExpectedCheckFailure(Exception):
    """An expected failure of a check, without the check's traceback."""


# Convergence is not what the checks test (scikit-learn's own common tests ignore it too).
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks,
                         xfail_strict=True)
def test_sklearn_compatible(estimator, check, request):
    if request.node.get_closest_marker("xfail") is None:
        check(estimator)
        return
    try:
        check(estimator)
    except Exception as error:
        # Listed above with its reason. Its traceback through scikit-learn's estimator_checks
        # (5000 lines, parsed again for every frame) would cost pytest 0.3 s per check.
        raise ExpectedCheckFailure(f"{type(error).__name__}: {error}") from None


# ------------------------------------------------------------------ coverage


def public_estimator_classes():
    """``{"tacelearn.<subpackage>.<name>": class}`` of every estimator class the subpackages
    export in ``__all__``."""
    classes = {}
    for info in pkgutil.iter_modules(tacelearn.__path__):
        if not info.ispkg or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"tacelearn.{info.name}")
        assert hasattr(module, "__all__"), f"tacelearn.{info.name} has no __all__"
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) and issubclass(value, BaseEstimator):
                classes[f"tacelearn.{info.name}.{name}"] = value
    return classes


def test_every_public_estimator_is_checked():
    public = public_estimator_classes()
    checked = {type(estimator) for estimator in ESTIMATORS}
    missing = sorted(name for name, cls in public.items() if cls not in checked)
    assert not missing, (f"public estimators without scikit-learn's common checks: {missing}; "
                         "add them to ESTIMATORS in tests/test_common.py")
    # The discovery sees every class checked here (else it could be finding nothing).
    assert checked <= set(public.values())


def test_every_cohort_estimator_has_its_api_test():
    # The expected failures above point to test_cohort_estimator_api: it must cover the class.
    pointing = {type(estimator) for estimator in ESTIMATORS
                if any("test_cohort_estimator_api" in reason
                       for reason in expected_failed_checks(estimator).values())}
    assert pointing <= {type(estimator) for estimator, _ in COHORT_CASES.values()}


# ------------------------------------------------------------------ on a real cohort

COHORT_CASES = {
    "TextCategories": (TextCategories(), "clinical"),
    "TumourPatchExtractor": (TumourPatchExtractor(size=16), "cohort"),
    "TumourPatchExtractor-3d-bags": (TumourPatchExtractor(size=16, lesion="bags", mode="3d"),
                                     "cohort"),
    "RadiomicsExtractor": (RadiomicsExtractor(settings=TINY_RADIOMICS), "cohort"),
    "CNNEncoder": (CNNEncoder(**TINY_CNN), "patches"),
    "CNNEncoder-attention": (CNNEncoder(**TINY_CNN, lesion_aggregation="attention"), "bags"),
    "CNNEncoder-3d": (CNNEncoder(**TINY_3D_CNN), "volumes"),
}


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Nine synthetic patients of three centres, both outcomes, one to three lesions each."""
    return make_tace_cohort(tmp_path_factory.mktemp("common_cohort"), n_per_center=(5, 2, 2),
                            image_shape=(32, 32, 8), random_state=3)


@pytest.fixture(scope="module")
def inputs(cohort):
    return {
        "cohort": cohort,
        "clinical": cohort[list(categorical_columns())],
        "patches": TumourPatchExtractor(size=16).fit_transform(cohort),
        "bags": TumourPatchExtractor(size=16, lesion="bags").fit_transform(cohort),
        "volumes": TumourPatchExtractor(size=16, mode="3d").fit_transform(cohort),
    }


def _rows(X, index):
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def _outputs(estimator, X):
    """What a fitted estimator returns for ``X``: the transform, and a classifier's
    probabilities."""
    outputs = [np.asarray(estimator.transform(X))]
    if hasattr(estimator, "predict_proba"):
        outputs.append(estimator.predict_proba(X))
    return outputs


def _assert_same(actual, expected):
    """Equal outputs; lesion bags (structured arrays) may differ by all-zero unused slots."""
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        if got.dtype.kind in "OUS":
            np.testing.assert_array_equal(got, want)
            continue
        if got.dtype.names is None:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
            continue
        for field in got.dtype.names:
            a, b = got[field], want[field]
            slots = min(a.shape[1], b.shape[1])
            np.testing.assert_allclose(a[:, :slots], b[:, :slots], rtol=1e-5, atol=1e-6)
            assert not a[:, slots:].any()
            assert not b[:, slots:].any()


def _state(estimator):
    """A digest of the estimator's attributes. Torch generators count by their state: their
    pickles differ from one call to the next."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer)
    pickler.dispatch_table = {**copyreg.dispatch_table, torch.Generator: lambda generator: (
        bytes, (generator.get_state().numpy().tobytes(),))}
    pickler.dump(vars(estimator))
    return hashlib.sha256(buffer.getvalue()).hexdigest()


def _n_columns(X):
    """Columns of a table, channels of patches or of the patches in lesion bags."""
    return X["patches"].shape[2] if getattr(X, "dtype", None) and X.dtype.names else X.shape[1]


@pytest.mark.parametrize("case", COHORT_CASES)
def test_cohort_estimator_api(case, inputs, cohort):
    template, source = COHORT_CASES[case]
    X, y = inputs[source], cohort["objective_response"].astype(int).to_numpy()
    n = len(y)
    estimator = clone(template)
    params, attributes = joblib.hash(estimator.get_params(deep=False)), set(vars(estimator))
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)

    assert estimator.fit(X, y) is estimator
    check_is_fitted(estimator)
    assert joblib.hash(estimator.get_params(deep=False)) == params
    added = set(vars(estimator)) - attributes
    assert all(name.startswith("_") or name.endswith("_") for name in added), added
    assert estimator.n_features_in_ == _n_columns(X)

    state = _state(estimator)
    outputs = _outputs(estimator, X)
    assert _state(estimator) == state
    assert all(len(output) == n for output in outputs)

    # fit_transform equals fit().transform, and a second fit gives the same outputs.
    again = clone(template)
    _assert_same([np.asarray(again.fit_transform(X, y))], outputs[:1])
    _assert_same(_outputs(again, X), outputs)
    _assert_same(_outputs(pickle.loads(pickle.dumps(estimator)), X), outputs)
    _assert_same(_outputs(make_pipeline(clone(template)).fit(X, y), X), outputs)

    order = np.random.default_rng(0).permutation(n)
    _assert_same(_outputs(estimator, _rows(X, order)), [output[order] for output in outputs])
    subset = np.arange(n // 2)
    _assert_same(_outputs(estimator, _rows(X, subset)), [output[subset] for output in outputs])
