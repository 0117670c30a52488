"""bootstrap_validate against a brute-force loop, the .632+ formulas, R's rms::validate and
joblib's backends."""

import warnings

import joblib
import numpy as np
import pytest
import statsmodels.api as sm
from scipy.special import expit, logit
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_selection import SelectKBest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tacelearn.validation import bootstrap_validate


def simulated(seed, n=120, n_features=6):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    y = (rng.random(n) < expit(0.3 + X[:, 0] - 0.7 * X[:, 1])).astype(int)
    return X, y


def screened_model():
    """Scaling, screening and a head: every step must be refitted on each resample."""
    return make_pipeline(StandardScaler(), SelectKBest(k=3), LogisticRegression())


def hand_metrics(y, p):
    """AUC by scikit-learn, intercept and slope by statsmodels' GLM, Brier by its formula."""
    lp = logit(np.clip(p, 1e-8, 1 - 1e-8))
    slope = sm.GLM(y.astype(float), sm.add_constant(lp), family=sm.families.Binomial()).fit()
    offset = sm.GLM(y.astype(float), np.ones((y.size, 1)), family=sm.families.Binomial(),
                    offset=lp).fit()
    return {"auc": roc_auc_score(y, p), "calibration_slope": slope.params[1],
            "calibration_intercept": offset.params[0], "brier": np.mean((p - y) ** 2)}


def brute_force(estimator, X, y, n_bootstraps, seed):
    """Harrell's bootstrap written out, with the leave-one-out quantities of the .632+."""
    rng = np.random.RandomState(seed)
    apparent_p = clone(estimator).fit(X, y).predict_proba(X)[:, 1]
    apparent = hand_metrics(y, apparent_p)
    training, test, oob_auc = [], [], []
    squared, counts = np.zeros(y.size), np.zeros(y.size)
    for _ in range(n_bootstraps):
        index = rng.randint(0, y.size, y.size)
        if len(set(y[index])) < 2:
            continue
        p = clone(estimator).fit(X[index], y[index]).predict_proba(X)[:, 1]
        training.append(hand_metrics(y[index], p[index]))
        test.append(hand_metrics(y, p))
        out = np.setdiff1d(np.arange(y.size), index)
        if len(set(y[out])) == 2:
            oob_auc.append(roc_auc_score(y[out], p[out]))
        squared[out] += (p[out] - y[out]) ** 2
        counts[out] += 1
    table = {}
    for metric in apparent:
        optimism = np.mean([t[metric] - v[metric] for t, v in zip(training, test)])
        table[metric] = {"apparent": apparent[metric],
                         "training": np.mean([t[metric] for t in training]),
                         "test": np.mean([v[metric] for v in test]),
                         "optimism": optimism, "corrected": apparent[metric] - optimism}
    loo_brier = np.mean(squared[counts > 0] / counts[counts > 0])
    gamma_brier = np.mean([(yi - pj) ** 2 for yi in y for pj in apparent_p])
    return table, np.mean(oob_auc), loo_brier, gamma_brier, len(training)


def efron_tibshirani_632_plus(err, err1, gamma):
    """Efron & Tibshirani (1997), eqs. (29)-(32), on an error scale."""
    err1 = min(err1, gamma)
    r = (err1 - err) / (gamma - err) if err1 > err and gamma > err else 0.0
    w = 0.632 / (1 - 0.368 * r)
    return (1 - w) * err + w * err1


def test_optimism_matches_a_brute_force_loop_with_the_same_seed():
    X, y = simulated(0)
    result = bootstrap_validate(screened_model(), X, y, n_bootstraps=25, random_state=3)
    expected, oob_auc, loo_brier, gamma_brier, n_ok = brute_force(screened_model(), X, y, 25, 3)
    assert result.n_successful == n_ok == 25
    for metric, row in expected.items():
        for column, value in row.items():
            assert result.table.loc[metric, column] == pytest.approx(value, rel=1e-6, abs=1e-9)
    plus = result.estimates_632plus
    assert plus.loc["auc", "out_of_bag"] == pytest.approx(oob_auc, rel=1e-12)
    assert plus.loc["brier", "out_of_bag"] == pytest.approx(loo_brier, rel=1e-12)
    assert plus.loc["brier", "no_information"] == pytest.approx(gamma_brier, rel=1e-12)
    apparent_auc = expected["auc"]["apparent"]
    assert plus.loc["auc", "estimate"] == pytest.approx(
        1 - efron_tibshirani_632_plus(1 - apparent_auc, 1 - oob_auc, 0.5), rel=1e-12)
    assert plus.loc["brier", "estimate"] == pytest.approx(
        efron_tibshirani_632_plus(expected["brier"]["apparent"], loo_brier, gamma_brier),
        rel=1e-12)
    assert (result.table["n"] == 25).all()
    assert list(result.resamples.index) == list(range(25))


def park_miller(n, seed):
    """The Park-Miller generator, exact in doubles in Python and R alike."""
    u, state = np.empty(n), seed
    for k in range(n):
        state = (16807 * state) % 2147483647
        u[k] = state / 2147483647
    return u


def test_agrees_with_rms_validate():
    # R 4.2.2, rms 6.5.0, on the same data (generated by park_miller in both languages):
    #   park_miller <- function(n, seed) { u <- numeric(n); state <- seed
    #     for (k in seq_len(n)) { state <- (16807 * state) %% 2147483647
    #                             u[k] <- state / 2147483647 }; u }
    #   n <- 150; p <- 8; u <- park_miller(n * (p + 1), 12345)
    #   X <- matrix((u[1:(n * p)] - 0.5) * sqrt(12), nrow = n, byrow = TRUE)
    #   lp <- -0.3 + 1.0 * X[, 1] - 0.8 * X[, 2] + 0.6 * X[, 3]
    #   y <- as.integer(u[(n * p + 1):(n * (p + 1))] < plogis(lp))
    #   f <- lrm(y ~ ., data = data.frame(X, y = y), x = TRUE, y = TRUE)
    #   set.seed(1); validate(f, B = 200)
    #             index.orig training    test optimism index.corrected   n
    #   Dxy          0.66685  0.70240 0.62715  0.07525         0.59160 200
    #   Slope        1.00000  1.00000 0.80757  0.19243         0.80757 200
    #   B            0.16787  0.15503 0.17972 -0.02469         0.19256 200
    # Dxy = 2 (AUC - 0.5). The resampling streams differ, so only the apparent values can
    # agree exactly; the optimism must agree within the Monte Carlo error of B = 200.
    n, p = 150, 8
    u = park_miller(n * (p + 1), 12345)
    X = ((u[: n * p] - 0.5) * np.sqrt(12)).reshape(n, p)
    y = (u[n * p:] < expit(-0.3 + X[:, 0] - 0.8 * X[:, 1] + 0.6 * X[:, 2])).astype(int)
    result = bootstrap_validate(LogisticRegression(C=np.inf), X, y, n_bootstraps=200,
                                random_state=0)
    table = result.table
    assert table.loc["auc", "apparent"] == pytest.approx(0.5 + 0.66685 / 2, abs=1e-5)
    assert table.loc["brier", "apparent"] == pytest.approx(0.16787, abs=1e-5)
    assert table.loc["auc", "optimism"] > 0
    assert table.loc["auc", "corrected"] < table.loc["auc", "apparent"]
    assert table.loc["auc", "optimism"] == pytest.approx(0.07525 / 2, abs=0.015)
    assert table.loc["calibration_slope", "optimism"] == pytest.approx(0.19243, abs=0.06)
    assert table.loc["brier", "optimism"] == pytest.approx(-0.02469, abs=0.01)


def test_same_numbers_under_other_joblib_backends():
    X, y = simulated(1, n=80)
    sequential = bootstrap_validate(screened_model(), X, y, n_bootstraps=6, random_state=0)
    with joblib.parallel_config(backend="loky", n_jobs=2):
        processes = bootstrap_validate(screened_model(), X, y, n_bootstraps=6, random_state=0)
    with joblib.parallel_config(backend="threading"):
        threads = bootstrap_validate(screened_model(), X, y, n_bootstraps=6, random_state=0,
                                     n_jobs=2)
    for other in (processes, threads):
        assert other.table.equals(sequential.table)
        assert other.estimates_632plus.equals(sequential.estimates_632plus)


def test_same_numbers_on_a_dask_cluster():
    distributed = pytest.importorskip("distributed")
    X, y = simulated(2, n=80)
    sequential = bootstrap_validate(screened_model(), X, y, n_bootstraps=4, random_state=0)
    with (distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                   dashboard_address=None) as cluster,
          distributed.Client(cluster),
          joblib.parallel_config(backend="dask")):
        on_dask = bootstrap_validate(screened_model(), X, y, n_bootstraps=4, random_state=0)
    assert on_dask.table.equals(sequential.table)


class FailsOnFewDistinctPatients(LogisticRegression):
    """A head that refuses training sets with fewer than 64% distinct patients."""

    def fit(self, X, y, sample_weight=None):
        if np.unique(X, axis=0).shape[0] < 0.64 * X.shape[0]:
            raise ValueError("too many repeated patients")
        return super().fit(X, y, sample_weight=sample_weight)


def test_failing_resamples_are_skipped_and_counted():
    X, y = simulated(3, n=100)
    result = bootstrap_validate(FailsOnFewDistinctPatients(), X, y, n_bootstraps=30,
                                random_state=0)
    draws = np.random.RandomState(0).randint(0, 100, size=(30, 100))
    fails = [b for b in range(30) if np.unique(draws[b]).size < 64]
    assert 0 < len(fails) < 30
    assert [b for b, _ in result.failures] == fails
    assert all("ValueError: too many repeated patients" in reason for _, reason in result.failures)
    assert (result.n_failed, result.n_successful) == (len(fails), 30 - len(fails))
    assert list(result.resamples.index) == [b for b in range(30) if b not in fails]


def test_resamples_with_one_class_are_skipped():
    y = np.zeros(14, dtype=int)
    y[[2, 9]] = 1
    X = np.column_stack([np.arange(14.0), np.sin(np.arange(14.0))])
    result = bootstrap_validate(LogisticRegression(), X, y, n_bootstraps=60, random_state=0)
    draws = np.random.RandomState(0).randint(0, 14, size=(60, 14))
    one_class = [b for b in range(60) if y[draws[b]].sum() == 0]
    assert one_class
    assert [b for b, reason in result.failures if "one class" in reason] == one_class
    assert result.n_successful == 60 - len(one_class)


class FailsOnRepeatedPatients(LogisticRegression):
    """A head that refuses any repeated patient: it fits the original data, no resample."""

    def fit(self, X, y, sample_weight=None):
        if np.unique(X, axis=0).shape[0] < X.shape[0]:
            raise ValueError("a patient is repeated")
        return super().fit(X, y, sample_weight=sample_weight)


def test_every_resample_failing_is_an_error():
    X, y = simulated(4, n=60)
    with pytest.raises(ValueError, match="all 5 resamples failed; the first: ValueError: a "
                                         "patient is repeated"):
        bootstrap_validate(FailsOnRepeatedPatients(), X, y, n_bootstraps=5, random_state=0)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"metrics": ("auc", "c_index")}, "c_index"),
    ({"metrics": ()}, "non-empty"),
    ({"n_bootstraps": 0}, "positive integer"),
    ({"epsilon": None}, "epsilon"),
])
def test_bad_arguments_are_refused(kwargs, message):
    X, y = simulated(5, n=40)
    with pytest.raises(ValueError, match=message):
        bootstrap_validate(LogisticRegression(), X, y, **kwargs)


def test_rows_and_outcomes_must_match():
    X, y = simulated(6, n=40)
    with pytest.raises(ValueError, match="39 rows but y has 40"):
        bootstrap_validate(LogisticRegression(), X[:39], y)


def test_loess_metrics_and_string_labels():
    X, y = simulated(7, n=150)
    labels = np.where(y == 1, "OR", "NOR")
    result = bootstrap_validate(LogisticRegression(), X, labels, n_bootstraps=5, random_state=0,
                                metrics=("ici", "emax", "scaled_brier"), pos_label="OR")
    assert list(result.table.index) == ["ici", "emax", "scaled_brier"]
    numeric = bootstrap_validate(LogisticRegression(), X, y, n_bootstraps=5, random_state=0,
                                 metrics=("ici", "emax", "scaled_brier"))
    assert result.table.equals(numeric.table)
    assert (result.table["apparent"] >= 0).all()


def test_separating_refits_give_an_infinite_slope_without_warnings():
    rng = np.random.default_rng(8)
    X = rng.standard_normal((60, 2))
    y = (X[:, 0] > 0).astype(int)  # every refit separates its own patients
    result = bootstrap_validate(LogisticRegression(C=1e4), X, y, n_bootstraps=5,
                                random_state=0)
    assert result.table.loc["calibration_slope", "apparent"] == np.inf
    assert (result.resamples["calibration_slope_training"] == np.inf).all()
    assert np.isfinite(result.table.loc["auc", "corrected"])


class _Warns(BaseEstimator, ClassifierMixin):
    """A logistic regression that warns on every fit, as a library under strain would."""

    def fit(self, X, y):
        warnings.warn("the solver struggled", UserWarning, stacklevel=1)
        self.model_ = LogisticRegression().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_warnings_of_the_refits_reach_the_caller_once(n_jobs):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bootstrap_validate(_Warns(), X, y, n_bootstraps=6, random_state=0, n_jobs=n_jobs)
    messages = [str(w.message) for w in caught if str(w.message) == "the solver struggled"]
    assert len(messages) == 2  # the apparent fit, then once for all the resamples
