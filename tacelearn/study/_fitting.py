"""Build and fit the study's models so that they share patches and CNN trainings."""

from __future__ import annotations

from pathlib import Path

from ..estimators import (
    image_branch,
    make_clinical_model,
    make_dltr,
    make_dltr_lr,
    make_dltr_mlp,
)
from ..transformers import TumourPatchExtractor, source_column

__all__ = [
    "build_models",
    "fusion_image_branch",
    "image_settings",
    "patch_extractor",
    "screen_clinical_factors",
]

_SCREENING_ALPHA = 0.05


def image_settings(options, cache_dir):
    """Keyword arguments shared by every image model, with the caches switched on.

    The patch cache is keyed on files and parameters and the CNN cache on patches, labels and
    training parameters, so DLTR and the fusion models train each distinct CNN once.
    """
    extractor = {"n_jobs": options.n_jobs, **options.extractor_params}
    encoder = {
        "max_epochs": options.max_epochs,
        "batch_size": options.batch_size,
        "lr": options.learning_rate,
        "pretrained": options.pretrained,
        "device": options.device,
        **options.encoder_params,
    }
    if cache_dir is not None:
        extractor.setdefault("memory", str(Path(cache_dir) / "patches"))
        encoder.setdefault("memory", str(Path(cache_dir) / "cnn"))
    return {
        "backbone": options.backbone,
        "patch_size": options.patch_size,
        "extractor_params": extractor,
        "encoder_params": encoder,
        "random_state": options.random_state,
    }


def screen_clinical_factors(cohort, y, rows):
    """Factors kept by univariate screening (P < 0.05) on ``rows`` of the cohort.

    Returns
    -------
    factors : list of str
        The kept factors as screened (``alt_abnormal`` for ALT > 50 U/L, ``bclc``, ...).
    columns : list of str
        The cohort columns behind them (``alt``, ``bclc``, ...), to build models on.
    """
    model = make_clinical_model(alpha=_SCREENING_ALPHA)
    screening = model[: list(model.named_steps).index("screen") + 1]
    screening.fit(cohort[rows], y[rows].astype(int))
    factors = list(screening.get_feature_names_out())
    return factors, [source_column(f) for f in factors]


def patch_extractor(options, cache_dir):
    """The patch extractor every image model uses (same parameters, same cache)."""
    image = image_settings(options, cache_dir)
    return TumourPatchExtractor(size=image["patch_size"], **image["extractor_params"])


def build_models(options, *, screened, cache_dir):
    """Unfitted pipelines of the requested models.

    Parameters
    ----------
    options : StudyOptions
    screened : list of str
        Clinical factors kept by the screening; the clinical model and DLTR_LR use them
        without screening again, as the paper fitted its models on pre-screened factors.
    cache_dir : path-like or None
        Patch and CNN caches.
    """
    image = image_settings(options, cache_dir)
    factories = {
        "clinical": lambda: make_clinical_model(columns=screened, screen=False),
        "dltr": lambda: make_dltr(**image),
        "dltr_lr": lambda: make_dltr_lr(columns=screened, screen=False,
                                        cv=options.fusion_cv, **image),
        "dltr_mlp": lambda: make_dltr_mlp(image_output=options.image_output,
                                          hidden_layer_sizes=options.mlp_hidden_layer_sizes,
                                          cv=options.fusion_cv, **image),
    }
    return {name: factories[name]() for name in options.models}


def fusion_image_branch(options, cache_dir):
    """The image branch the fusion models share, to train its CNNs ahead of the heads."""
    return image_branch(output=options.image_output, cv=options.fusion_cv,
                        **image_settings(options, cache_dir))
