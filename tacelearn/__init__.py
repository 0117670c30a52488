"""tacelearn: predict HCC response to TACE from MRI and clinical data, scikit-learn style.

Subpackages: :mod:`tacelearn.datasets` (cohort schema, synthetic cohort), ``transformers``
(tumour patches, CNN encoder, univariate screening), ``estimators`` (the paper's four models),
``metrics`` (DeLong, threshold metrics, decision curves), ``survival``, ``stats``, ``explain``,
``plotting``, ``genomics`` and ``study`` (the end-to-end runner and command line).
"""

__version__ = "0.2.0"
