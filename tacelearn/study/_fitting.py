"""Build and fit the study's models so that they share patches, features and CNN trainings."""

from __future__ import annotations

from pathlib import Path

from ..estimators import (
    make_clinical_model,
    make_dltr,
    make_dltr_lr,
    make_dltr_mlp,
    make_radiomics_model,
)
from ..transformers import source_column

__all__ = ["build_models", "image_settings", "screen_clinical_factors"]


def image_settings(settings, cache_dir, *, verbose=False):
    """Keyword arguments shared by every CNN model, with the caches switched on.

    The patch cache is keyed on files and parameters and the CNN cache on patches, labels and
    training parameters, so DLTR and the fusion models train each distinct CNN once: fitting
    them one after the other is all it takes to share the trainings.
    """
    extractor = {"n_jobs": settings.n_jobs, "verbose": int(bool(verbose)),
                 **settings.extractor_params}
    encoder = {"max_epochs": settings.max_epochs, "batch_size": settings.batch_size,
               "lr": settings.lr, "pretrained": settings.pretrained,
               "device": settings.device, "verbose": int(bool(verbose)),
               **settings.encoder_params}
    if cache_dir is not None:
        extractor.setdefault("memory", str(Path(cache_dir)))
        encoder.setdefault("memory", str(Path(cache_dir)))
    return {"backbone": settings.backbone, "patch_size": settings.patch_size,
            "extractor_params": extractor, "encoder_params": encoder,
            "lesion_aggregation": settings.lesion_aggregation,
            "random_state": settings.random_state}


def screen_clinical_factors(cohort, y, rows, alpha):
    """Factors kept by univariate screening (P < ``alpha``) on ``rows`` of the cohort.

    Returns
    -------
    factors : list of str
        The kept factors as screened (``alt_abnormal`` for ALT > 50 U/L, ``bclc``, ...).
    columns : list of str
        The cohort columns behind them (``alt``, ``bclc``, ...), to build models on.
    table : pandas.DataFrame
        Every factor tested: its test, statistic and P value, and whether it was kept.
    """
    import pandas as pd

    model = make_clinical_model(alpha=alpha)
    screening = model[: list(model.named_steps).index("screen") + 1]
    screening.fit(cohort[rows], y[rows].astype(int))
    selector = screening.named_steps["screen"]
    factors = list(screening.get_feature_names_out())
    table = pd.DataFrame({"factor": selector.feature_names_in_, "test": selector.tests_,
                          "statistic": selector.statistics_, "pvalue": selector.pvalues_,
                          "kept": selector.get_support()})
    return factors, [source_column(f) for f in factors], table


def build_models(settings, *, screened, cache_dir, verbose=False):
    """Unfitted pipelines of the requested models, in the order of ``settings.models``.

    Parameters
    ----------
    settings : StudySettings
    screened : list of str
        Clinical columns kept by the screening; the clinical model and DLTR_LR use them
        without screening again, as the paper fitted its models on pre-screened factors.
    cache_dir : path-like or None
        The patch, radiomics and CNN caches.
    verbose : bool, default=False
        Draw progress bars over the patients of the patch and radiomics extractions and over
        each CNN training's epochs.
    """
    image = image_settings(settings, cache_dir, verbose=verbose)
    radiomics_extractor = {"n_jobs": settings.n_jobs, "verbose": int(bool(verbose))}
    if cache_dir is not None:
        radiomics_extractor["memory"] = str(Path(cache_dir))
    factories = {
        "clinical": lambda: make_clinical_model(columns=screened, screen=False),
        "radiomics": lambda: make_radiomics_model(
            settings=settings.radiomics_settings, extractor_params=radiomics_extractor,
            random_state=settings.random_state),
        "dltr": lambda: make_dltr(**image),
        "dltr_lr": lambda: make_dltr_lr(columns=screened, screen=False,
                                        cv=settings.fusion_cv, **image),
        "dltr_mlp": lambda: make_dltr_mlp(image_output=settings.image_output,
                                          hidden_layer_sizes=settings.mlp_hidden_layer_sizes,
                                          mlp_alpha=settings.mlp_alpha,
                                          cv=settings.fusion_cv, **image),
    }
    return {name: factories[name]() for name in settings.models}
