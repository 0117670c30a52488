"""Grid search over a model's fusion head that trains its CNN once per fold."""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from numbers import Integral

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, ParameterGrid, check_cv
from sklearn.pipeline import Pipeline

from ..transformers import CNNEncoder, TumourPatchExtractor
from ..utils import ContentStore, as_store

__all__ = ["make_cached_grid_search"]

#: In-memory share of the cache store of a search: the 128 px T1C/T2 patches of 4,000 patients.
RECENT_ENTRIES_BYTES = 512 * 2**20


class FittedStepMemory:
    """An in-memory stand-in for ``joblib.Memory`` as a Pipeline's ``memory``.

    ``Pipeline(memory=...)`` caches the fitted steps before the last, with their outputs, keyed
    on the unfitted step and its training data. ``joblib.Memory`` stores them as pickles on disk,
    and loading a fitted CNN back costs as much as what a grid-search candidate has left to do.
    This keeps the most recent ``max_entries`` results in this process's memory instead and
    hands them back as they are: the candidates of a fold share one fitted feature step, which
    they only read. Clones and deep copies share the entries (every candidate of a search is a
    clone); pickled copies (joblib workers, saved models) carry none.

    Parameters
    ----------
    max_entries : int, optional
        Results kept, least recently used dropped first; ``None`` keeps all.
    """

    def __init__(self, max_entries=None):
        self.max_entries = max_entries
        self._entries = OrderedDict()

    def cache(self, func, ignore=None, **kwargs):
        """Wrap ``func`` so that a call with arguments seen before returns the stored result.

        ``ignore`` names arguments left out of the key, as in ``joblib.Memory.cache``; other
        keyword arguments of that method are accepted and have no effect here.
        """
        signature = inspect.signature(func)
        ignored = set(ignore or ())

        @functools.wraps(func)
        def cached(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            key = joblib.hash((func.__module__, func.__qualname__,
                               {name: value for name, value in bound.arguments.items()
                                if name not in ignored}))
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
            result = func(*args, **kwargs)
            self._entries[key] = result
            if self.max_entries is not None and len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
            return result

        return cached

    def clear(self):
        """Drop every stored result."""
        self._entries.clear()

    def __len__(self):
        return len(self._entries)

    def __deepcopy__(self, memo):
        return self

    def __getstate__(self):
        return {"max_entries": self.max_entries}

    def __setstate__(self, state):
        self.__init__(**state)

    def __repr__(self):
        return f"FittedStepMemory(max_entries={self.max_entries})"


def _n_splits(cv):
    """The number of folds of ``cv`` when it can tell without the data, else None."""
    if cv is None or isinstance(cv, Integral):
        return check_cv(cv).get_n_splits()
    if hasattr(cv, "get_n_splits"):
        try:
            return cv.get_n_splits()
        except (TypeError, ValueError):  # the splitter needs the groups
            return None
    # A list of (train, test) pairs has a length; a generator must not be consumed here.
    return len(cv) if hasattr(cv, "__len__") else None


def _n_feature_settings(pipeline, param_grid):
    """How many distinct settings ``param_grid`` gives the steps before ``pipeline``'s last."""
    head = pipeline.steps[-1][0]
    settings = {
        joblib.hash(sorted((name, value) for name, value in candidate.items()
                           if name != head and not name.startswith(f"{head}__")))
        for candidate in ParameterGrid(param_grid)
    }
    return max(len(settings), 1)


def _steps_of_type(estimator, types):
    """``(parameter prefix, step)`` of ``estimator`` and of every estimator nested in it."""
    found = [("", estimator)] if isinstance(estimator, types) else []
    found += [(f"{name}__", value) for name, value in estimator.get_params(deep=True).items()
              if isinstance(value, types)]
    return found


def make_cached_grid_search(estimator, param_grid, *, memory, cache_patches=True,
                            cache_features=True, scoring=None, n_jobs=None, refit=True, cv=None,
                            verbose=0, pre_dispatch="2*n_jobs", error_score=np.nan,
                            return_train_score=False):
    """A :class:`~sklearn.model_selection.GridSearchCV` whose CNNs train once per fold.

    A grid search over the head of a fusion model (``classifier__C``, ``classifier__alpha``,
    ``classifier__hidden_layer_sizes``...) fits the whole pipeline for every candidate on every
    fold, CNN included, although the CNN's training data and settings are the same for every
    candidate of a fold. This returns the search over a clone of ``estimator`` with three
    caches:

    - CNN weights: every :class:`~tacelearn.transformers.CNNEncoder` stores its trained
      weights in the folder ``memory``; the first candidate of a fold trains the CNN, the
      others (and any later fit on the same patients with the same settings) load it;
    - patches (``cache_patches``): every :class:`~tacelearn.transformers.TumourPatchExtractor`
      reads each patient's files once;
    - fitted feature steps (``cache_features``): the pipeline keeps, in this process's memory,
      its steps before the head fitted on each fold with their outputs, so the other
      candidates of a fold skip the CNN's pass over the training patients and the clinical
      preprocessing too, and only fit the head and score the test patients.

    A search over ``n_candidates`` x ``n_folds`` trains the CNN ``n_folds + 1`` times (the
    ``+ 1`` is the refit on all the data) instead of ``n_candidates x n_folds + 1`` times, and
    gives the same scores. The weights cache alone is what building the model with
    ``encoder_params={"memory": memory}`` gives; on ``benchmarks/bench_gridsearch.py`` it makes
    the search about 4 times faster, all three caches about 10 times.

    Parameters
    ----------
    estimator : estimator
        A model holding at least one :class:`~tacelearn.transformers.CNNEncoder` (any model of
        :func:`make_dltr`, :func:`make_dltr_lr` or :func:`make_dltr_mlp`). It is not modified.
    param_grid : dict or list of dict
        The grid, as in :class:`~sklearn.model_selection.GridSearchCV`. Candidates that differ
        only outside the CNN share its training; a grid over a CNN setting (``max_epochs``,
        ``lr``...) trains it once per fold for each of that setting's values.
    memory : str, path-like or tacelearn.utils.ContentStore
        The cache folder. Entries are keyed on the training patches, labels and CNN settings,
        so one folder serves any number of searches and models; a later search on the same
        data loads what an earlier one trained. Delete the folder to reclaim the space. The
        search's steps get a :class:`~tacelearn.utils.ContentStore` of this folder that also
        keeps the entries last used (up to 512 MiB) in this process's memory.
    cache_patches : bool, default=True
        Also cache the patch extractors' per-patient patches in ``memory``, so that the NIfTI
        files are read once rather than once per candidate and fold.
    cache_features : bool, default=True
        When ``estimator`` is a :class:`~sklearn.pipeline.Pipeline`, set its ``memory`` (which
        caches every step but the last) to an in-memory cache of ``(n_folds + 1)`` entries per
        setting of those steps in the grid. Each entry holds a fitted CNN, in RAM while the
        search exists; nothing is written to disk. Candidates that differ in a parameter of
        the feature steps (the screening level, say) fit them again but still load the CNN
        weights. Worker processes (``n_jobs > 1``) start with an empty cache for each task.
    scoring : str, callable, list, tuple or dict, default=None
        How candidates are scored, as in :class:`~sklearn.model_selection.GridSearchCV`;
        None uses the estimator's ``score``.
    n_jobs : int, default=None
        Candidates and folds fitted in parallel; None means 1. With ``n_jobs > 1`` (or on
        Dask), a candidate whose fold's CNN another worker is training waits for the
        cache's lock and then loads the weights; on file systems without working locks both
        train, with the same result.
    refit : bool, str or callable, default=True
        Refit the best candidate on all the data, as in
        :class:`~sklearn.model_selection.GridSearchCV`.
    cv : int, cross-validation generator or iterable, default=None
        The splitter; None is 5-fold (stratified for a classifier).
    verbose : int, default=0
        Verbosity of the search.
    pre_dispatch : int or str, default="2*n_jobs"
        Jobs dispatched ahead of the workers.
    error_score : "raise" or float, default=np.nan
        Score of a failed fit, or ``"raise"`` to raise its error.
    return_train_score : bool, default=False
        Also score the candidates on their training folds.

    Returns
    -------
    search : sklearn.model_selection.GridSearchCV
        Unfitted. ``fit(cohort, y)`` accepts ``groups=`` for a grouped splitter
        (:class:`~sklearn.model_selection.StratifiedGroupKFold` by centre), with or without
        scikit-learn's metadata routing.

    See Also
    --------
    tacelearn.transformers.CNNEncoder : Its ``memory`` parameter is the cache.
    compare_backbones : Cross-validated comparison of CNN backbones.

    Notes
    -----
    Each fold still trains its own CNN on that fold's training patients only, so the scores are
    as free of leakage as the uncached search. Give the CNN an int ``random_state``: the cache
    key holds the seed, and with ``None`` every later fit on the same data loads the first
    training instead of drawing a new one.

    Examples
    --------
    Two candidates on two folds: ``search.fit(cohort, cohort["objective_response"])``
    trains the CNN three times (once per fold, once for the refit) instead of five.

    >>> import tempfile
    >>> from tacelearn.estimators import make_cached_grid_search, make_dltr_lr
    >>> model = make_dltr_lr(cv=None, backbone="resnet18", patch_size=32, random_state=0,
    ...                      encoder_params={"max_epochs": 1, "batch_size": 8})
    >>> search = make_cached_grid_search(model, {"classifier__C": [0.1, 10.0]},
    ...                                  memory=tempfile.mkdtemp(), cv=2, scoring="roc_auc")
    >>> search.estimator.memory  # the fitted features of each fold and of the refit
    FittedStepMemory(max_entries=3)
    >>> search.estimator.get_params()["features__image__encoder__memory"]  # weights, on disk
    ContentStore('...', memory_bytes=536870912)
    """
    store = as_store(memory)
    if store is None:
        raise ValueError("memory must name the cache folder (a path or a ContentStore); "
                         "without a cache, use GridSearchCV directly")
    # The candidates of a search read the same patches again and again: keep the entries
    # last used in memory too (shared by the clones of this search, not by worker processes).
    store = ContentStore(store.location, memory_bytes=max(store.memory_bytes,
                                                           RECENT_ENTRIES_BYTES))
    estimator = clone(estimator)
    encoders = _steps_of_type(estimator, CNNEncoder)
    if not encoders:
        raise ValueError(f"{type(estimator).__name__} holds no CNNEncoder, so there is no CNN "
                         "training to cache; use GridSearchCV directly")
    cached = encoders + (_steps_of_type(estimator, TumourPatchExtractor) if cache_patches else [])
    for prefix, step in cached:
        if prefix:
            estimator.set_params(**{f"{prefix}memory": store})
        else:
            step.set_params(memory=store)
    if cache_features and isinstance(estimator, Pipeline):
        n_splits = _n_splits(cv)
        # Room for every fold and the refit, for each setting of the steps before the head.
        estimator.set_params(memory=FittedStepMemory(
            None if n_splits is None
            else (n_splits + 1) * _n_feature_settings(estimator, param_grid)))
    return GridSearchCV(estimator, param_grid, scoring=scoring, n_jobs=n_jobs, refit=refit,
                        cv=cv, verbose=verbose, pre_dispatch=pre_dispatch,
                        error_score=error_score, return_train_score=return_train_score)
