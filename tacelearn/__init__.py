"""tacelearn: predict HCC response to TACE from MRI and clinical data, scikit-learn style.

Subpackages: :mod:`tacelearn.datasets` (cohort schema, synthetic cohort), ``transformers``
(tumour patches, CNN encoder, univariate screening), ``estimators`` (the paper's four models),
``metrics`` (DeLong, threshold metrics, calibration, decision curves), ``validation``
(optimism-corrected bootstrap, recalibration, per-centre performance, leave-one-centre-out,
random-effects pooling), ``survival``, ``stats`` (shared tests, loess, logistic recalibration,
Table 1), ``explain``, ``plotting``, ``genomics``, ``study`` (the end-to-end runner and command
line) and ``utils`` (shared checks, messages, cache store, formatting).

Layers, lowest first: utils <- datasets, metrics, survival, stats, genomics <- transformers,
validation <- estimators, explain, plotting <- study. No subpackage imports a higher layer, the
import graph between subpackages has no cycle, and a subpackage reaches another only through
its public names (tests/test_architecture.py checks all three).
"""

__version__ = "0.2.0"
