"""Settings of a study run, checked before anything is computed or written."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from numbers import Integral, Real

__all__ = ["MODEL_NAMES", "StudyOptions"]

#: The paper's four models, in the order the report lists them.
MODEL_NAMES = ("clinical", "dltr", "dltr_lr", "dltr_mlp")
#: Display names used in tables and figures.
MODEL_LABELS = {"clinical": "Clinical", "dltr": "DLTR", "dltr_lr": "DLTR_LR",
                "dltr_mlp": "DLTR_MLP", "ceiling": "Ceiling (true probability)"}
_SCREEN_ON = ("train+internal", "train")


@dataclass(frozen=True)
class StudyOptions:
    """Everything that shapes a study run; recorded in the report's ``summary.json``.

    Parameters
    ----------
    models : tuple of str
        Models to fit, among ``"clinical"``, ``"dltr"``, ``"dltr_lr"``, ``"dltr_mlp"``.
    train_split : str
        Split the models are fitted on.
    screen_on : {"train+internal", "train"}
        Patients on whom clinical factors are screened: the training and internal validation
        splits together, as the paper did, or the training split alone (stricter).
    backbone, patch_size, max_epochs, batch_size, learning_rate, pretrained, device
        The CNN: timm backbone, patch side in pixels, epochs, batch size, Adam learning rate,
        optional local weights file, and ``"auto"``/``"cpu"``/``"cuda"``.
    fusion_cv : int or None
        Folds of the out-of-fold CNN outputs that train the fusion heads; ``None`` for the
        paper's in-sample fusion.
    image_output : {"logit", "embedding"}
        What DLTR_MLP receives from the CNN.
    mlp_hidden_layer_sizes : tuple of int
        Hidden layers of DLTR_MLP's head.
    threshold : float
        Probability threshold of the threshold metrics (Table 2).
    score_cut : {"mean", "median"} or float
        Where scores split into high and low groups for survival; a statistic is computed on
        the training split and applied to every split.
    n_resamples : int
        Bootstrap resamples of the threshold-metric intervals.
    gradcam_patients : int
        Patients per evaluation split shown with Grad-CAM maps.
    primary_model : str or None
        Model whose scores drive survival, waterfall and radiogenomics; default the last of
        ``models``.
    random_state : int
        Seed of every random step.
    n_jobs : int or None
        Parallel patch extraction.
    extractor_params, encoder_params : dict
        Further :class:`~tacelearn.transformers.TumourPatchExtractor` and
        :class:`~tacelearn.transformers.CNNEncoder` parameters.
    """

    models: tuple = MODEL_NAMES
    train_split: str = "train"
    screen_on: str = "train+internal"
    backbone: str = "densenet169"
    patch_size: int = 128
    max_epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 5e-4
    pretrained: str | None = None
    device: str = "auto"
    fusion_cv: int | None = 5
    image_output: str = "logit"
    mlp_hidden_layer_sizes: tuple = (512, 512)
    threshold: float = 0.5
    score_cut: str | float = "mean"
    n_resamples: int = 2000
    gradcam_patients: int = 4
    primary_model: str | None = None
    random_state: int = 0
    n_jobs: int | None = None
    extractor_params: dict = field(default_factory=dict)
    encoder_params: dict = field(default_factory=dict)

    def __post_init__(self):
        models = tuple(self.models)
        object.__setattr__(self, "models", models)
        unknown = [m for m in models if m not in MODEL_NAMES]
        if unknown or not models or len(set(models)) != len(models):
            raise ValueError(f"models must be distinct names among {MODEL_NAMES}, got {models}")
        if self.screen_on not in _SCREEN_ON:
            raise ValueError(f"screen_on must be one of {_SCREEN_ON}, got {self.screen_on!r}")
        for name in ("patch_size", "max_epochs", "batch_size", "n_resamples"):
            value = getattr(self, name)
            if not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.fusion_cv is not None and (not isinstance(self.fusion_cv, Integral)
                                           or self.fusion_cv < 2):
            raise ValueError(f"fusion_cv must be None or an integer >= 2, got {self.fusion_cv!r}")
        if not isinstance(self.threshold, Real) or not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {self.threshold!r}")
        if not (self.score_cut in ("mean", "median") or isinstance(self.score_cut, Real)):
            raise ValueError(f"score_cut must be 'mean', 'median' or a number, got "
                             f"{self.score_cut!r}")
        if self.image_output not in ("logit", "embedding"):
            raise ValueError(f"image_output must be 'logit' or 'embedding', got "
                             f"{self.image_output!r}")
        if self.primary_model is not None and self.primary_model not in models:
            raise ValueError(f"primary_model {self.primary_model!r} is not among {models}")
        if self.device not in ("auto", "cpu", "cuda") and not str(self.device).startswith(
                "cuda:"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")

    @property
    def primary(self):
        """The model whose scores drive survival, score plots and radiogenomics."""
        return self.primary_model or self.models[-1]

    @property
    def uses_images(self):
        return any(m != "clinical" for m in self.models)

    def to_dict(self):
        """JSON-ready settings."""
        return {k: (list(v) if isinstance(v, tuple) else v)
                for k, v in dataclasses.asdict(self).items()}
