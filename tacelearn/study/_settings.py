"""The one description of a study's settings: run_study's keywords, the CLI's flags, summary.json.

:class:`StudySettings` is a frozen dataclass; each field carries its help text, its command-line
form and its check. :func:`tacelearn.study.run_study` takes its fields as keywords, the
``tacelearn study`` command line derives one flag per field (name, default, help) from it, and
the report records :meth:`StudySettings.to_dict`. Every setting is checked by
:meth:`StudySettings.check` before anything is computed, the CNN backbone, the device and a
pretrained-weights file included.

This module imports nothing heavy, so that ``tacelearn --help`` answers at once.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from dataclasses import dataclass, field
from numbers import Integral, Real

__all__ = [
    "MODEL_LABELS",
    "MODEL_NAMES",
    "StudySettings",
    "settings_from_options",
]

#: The models a study can fit, in the order the report lists them.
MODEL_NAMES = ("clinical", "radiomics", "dltr", "dltr_lr", "dltr_mlp")
#: How tables and figures name them.
MODEL_LABELS = {"clinical": "Clinical", "radiomics": "Radiomics", "dltr": "DLTR",
                "dltr_lr": "DLTR_LR", "dltr_mlp": "DLTR_MLP",
                "ceiling": "Ceiling (true probability)"}
#: Models that read images (and so need the image columns and, but radiomics, the CNN).
IMAGE_MODELS = ("radiomics", "dltr", "dltr_lr", "dltr_mlp")
CNN_MODELS = ("dltr", "dltr_lr", "dltr_mlp")
_SUBGROUP_CHOICES = ("center", "bclc", "child_pugh", "tumour_size", "tace_type",
                     "tumour_number", "portal_vein_invasion")
_CI_METHODS = ("wilson", "wilsoncc", "exact", "bootstrap")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.+\-]+$")


# ------------------------------------------------------------------------- field helpers
def _setting(default, help, *, kind, choices=None, aliases=(), metavar=None, factory=None):
    """A dataclass field with what the command line and the checks need to know."""
    metadata = {"help": help, "kind": kind, "choices": choices, "aliases": tuple(aliases),
                "metavar": metavar}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def _names(value):
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(value)


@dataclass(frozen=True)
class StudySettings:
    """Everything that shapes a study run; recorded in the report's ``summary.json``.

    Build it with keywords (every field below) or through :func:`tacelearn.study.run_study`'s
    keywords, which are the same names. ``tacelearn study --help`` lists the same settings as
    flags (``max_epochs`` is ``--max-epochs``).

    Parameters
    ----------
    models : tuple of str, default=("clinical", "radiomics", "dltr", "dltr_lr", "dltr_mlp")
        Models to fit.
    train_split : str, default="train"
        Split the models are fitted on; every other split is evaluated.
    internal_split : str, default="internal_validation"
        The internal validation split (same centre as training).
    screen_on : {"train", "train+internal"}, default="train"
        Patients on whom clinical factors are screened. The paper screened on training and
        internal validation together, which lets the internal validation patients choose the
        factors they are then scored on (the report flags it).
    screening_alpha : float, default=0.05
        Significance level of the univariate screening.
    backbone : str, default="densenet169"
        The timm backbone of the CNN, or ``"monai:<network>"`` for a 3D network of MONAI
        (with ``extractor_params={"mode": "3d"}``; see docs/lesions-3d.md).
    patch_size : int, default=128
        Patch side in pixels.
    max_epochs, batch_size, lr : int, int, float, default=20, 32, 5e-4
        CNN training (Adam, cosine schedule, as the paper's code).
    pretrained : str, optional
        Local weights file of the backbone (never downloaded).
    device : str, default="auto"
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    fusion_cv : int or None, default=5
        Folds of the out-of-fold CNN outputs that train the fusion heads; None for the
        paper's in-sample fusion.
    image_output : {"logit", "embedding"}, default="logit"
        What DLTR_MLP receives from the CNN.
    lesion_aggregation : {"largest", "max", "volume_mean", "attention"}, default="largest"
        How the CNN models turn lesions into a patient's score: the largest lesion's patch
        (the paper's), or every lesion scored and pooled (see docs/lesions-3d.md). The report
        then has a Lesions section with every lesion's score and weight.
    mlp_hidden_layer_sizes : tuple of int, default=(64,)
        DLTR_MLP's hidden layers (the paper's: 512,512).
    mlp_alpha : float, default=10.0
        DLTR_MLP's L2 penalty (see :func:`~tacelearn.estimators.make_dltr_mlp`).
    radiomics_settings : str, optional
        PyRadiomics parameter file (YAML) of the radiomics model; default tacelearn's.
    threshold : float, default=0.5
        Probability threshold of Table 2's accuracy, sensitivity, specificity, PPV, NPV.
    ci_method : {"wilson", "wilsoncc", "exact", "bootstrap"}, default="wilson"
        Intervals of Table 2's proportions.
    n_resamples : int, default=2000
        Bootstrap resamples of the bootstrap intervals (calibration, ``ci_method="bootstrap"``).
    score_cut : {"mean", "median"} or float, default="mean"
        High/low score split for survival, a statistic of the training split.
    n_bootstraps : int, default=200
        Resamples of the optimism-corrected internal validation (0: none).
    validated_models : tuple of str, default=("clinical", "radiomics")
        Models whose optimism is bootstrapped: each resample refits the whole model, which
        for a CNN model means training the CNN ``n_bootstraps`` times.
    recalibrate_on : str, optional
        A split on which every model is recalibrated (intercept and slope); the report then
        shows the recalibrated calibration of the other splits.
    subgroups : tuple of str, default=("center", "bclc", "child_pugh", "tumour_size", \
"tace_type")
        Table 2 by subgroup (``tumour_size``: diameter <= 5 cm or > 5 cm).
    gradcam_patients : int, default=4
        Patients per evaluation split shown with Grad-CAM maps (0: none).
    primary_model : str, optional
        Model behind survival, score plots and radiogenomics; default the last of ``models``.
    random_state : int, default=0
        Seed of every random step.
    n_jobs : int, optional
        Parallel workers (patches, radiomics, bootstraps); None means one.
    scheduler : str, optional
        A Dask scheduler (``tcp://host:8786`` or a scheduler file) to run the parallel steps
        on.
    extractor_params, encoder_params : dict
        Further :class:`~tacelearn.transformers.TumourPatchExtractor` and
        :class:`~tacelearn.transformers.CNNEncoder` parameters.

    Examples
    --------
    >>> from tacelearn.study import StudySettings
    >>> settings = StudySettings(models=("clinical",), n_bootstraps=50)
    >>> settings.primary, settings.uses_images
    ('clinical', False)
    >>> settings.to_dict()["n_bootstraps"]
    50
    """

    models: tuple = _setting(MODEL_NAMES, "models to fit, comma-separated, among "
                             f"{','.join(MODEL_NAMES)}", kind="names", choices=MODEL_NAMES)
    train_split: str = _setting("train", "split the models are fitted on", kind="name")
    internal_split: str = _setting("internal_validation", "the internal validation split",
                                   kind="name")
    screen_on: str = _setting("train", "patients on whom clinical factors are screened "
                              "(train+internal: the paper's choice, flagged in the report)",
                              kind="str", choices=("train", "train+internal"))
    screening_alpha: float = _setting(0.05, "significance level of the screening",
                                      kind="probability")
    backbone: str = _setting("densenet169", "timm backbone of the CNN, or monai:<network> for "
                             "a 3D one (with extractor params {\"mode\": \"3d\"})",
                             kind="str")
    patch_size: int = _setting(128, "patch side in pixels", kind="positive_int")
    max_epochs: int = _setting(20, "CNN training epochs", kind="positive_int",
                               aliases=("--epochs",))
    batch_size: int = _setting(32, "CNN batch size", kind="positive_int")
    lr: float = _setting(5e-4, "CNN learning rate (Adam)", kind="positive_float")
    pretrained: str | None = _setting(None, "local .pth/.safetensors weights of the backbone",
                                      kind="path", metavar="FILE")
    device: str = _setting("auto", "auto (CUDA when present), cpu, cuda or cuda:N", kind="str")
    fusion_cv: int | None = _setting(5, "folds of the out-of-fold CNN outputs of the fusion "
                                     "heads, or 'none' for in-sample fusion",
                                     kind="optional_int")
    image_output: str = _setting("logit", "what DLTR_MLP receives from the CNN", kind="str",
                                 choices=("logit", "embedding"))
    lesion_aggregation: str = _setting("largest", "lesions behind a patient's CNN score: the "
                                       "largest (the paper's) or all, pooled by max, "
                                       "volume_mean or attention", kind="str",
                                       choices=("largest", "max", "volume_mean", "attention"))
    mlp_hidden_layer_sizes: tuple = _setting((64,), "hidden layers of DLTR_MLP, e.g. "
                                             "512,512 (the paper's)", kind="ints",
                                             aliases=("--mlp-hidden",))
    mlp_alpha: float = _setting(10.0, "L2 penalty of DLTR_MLP", kind="positive_float")
    radiomics_settings: str | None = _setting(None, "PyRadiomics parameter file (YAML) of the "
                                              "radiomics model", kind="path", metavar="FILE")
    threshold: float = _setting(0.5, "probability threshold of Table 2's metrics",
                                kind="probability")
    ci_method: str = _setting("wilson", "intervals of Table 2's proportions", kind="str",
                              choices=_CI_METHODS)
    n_resamples: int = _setting(2000, "bootstrap resamples of the bootstrap intervals",
                                kind="positive_int")
    score_cut: str | float = _setting("mean", "high/low score split for survival: mean, "
                                      "median or a number", kind="score_cut")
    n_bootstraps: int = _setting(200, "resamples of the optimism-corrected validation "
                                 "(0: none)", kind="count")
    validated_models: tuple = _setting(("clinical", "radiomics"), "models whose optimism is "
                                       "bootstrapped (a CNN model retrains its CNN on every "
                                       "resample)", kind="names", choices=MODEL_NAMES)
    recalibrate_on: str | None = _setting(None, "split on which every model is recalibrated "
                                          "(intercept and slope)", kind="optional_name")
    subgroups: tuple = _setting(("center", "bclc", "child_pugh", "tumour_size", "tace_type"),
                                "Table 2 by subgroup, comma-separated", kind="names",
                                choices=_SUBGROUP_CHOICES)
    gradcam_patients: int = _setting(4, "patients per split shown with Grad-CAM maps",
                                     kind="count")
    primary_model: str | None = _setting(None, "model behind survival, score plots and "
                                         "radiogenomics (default: the last model)",
                                         kind="optional_name")
    random_state: int = _setting(0, "seed of every random step", kind="count",
                                 aliases=("--seed",))
    n_jobs: int | None = _setting(None, "parallel workers (-1: all cores; default one)",
                                  kind="optional_int")
    scheduler: str | None = _setting(None, "Dask scheduler address (tcp://host:8786) or "
                                     "scheduler file to run the parallel steps on",
                                     kind="optional_str", metavar="ADDRESS")
    extractor_params: dict = _setting(None, "further patch-extractor parameters (JSON)",
                                      kind="json", factory=dict)
    encoder_params: dict = _setting(None, "further CNN-encoder parameters (JSON)", kind="json",
                                    factory=dict)

    def __post_init__(self):
        problems = [problem for f in dataclasses.fields(self)
                    for problem in _check_field(f, getattr(self, f.name))]
        if problems:
            raise ValueError("invalid study settings:\n- " + "\n- ".join(problems))
        for name in ("models", "validated_models", "subgroups"):
            object.__setattr__(self, name, _names(getattr(self, name)))
        object.__setattr__(self, "mlp_hidden_layer_sizes",
                           tuple(int(v) for v in self.mlp_hidden_layer_sizes))
        for name in ("extractor_params", "encoder_params"):
            object.__setattr__(self, name, dict(getattr(self, name) or {}))
        problems = self._cross_checks()
        if problems:
            raise ValueError("invalid study settings:\n- " + "\n- ".join(problems))

    def _cross_checks(self):
        problems = []
        if self.primary_model is not None and self.primary_model not in self.models:
            problems.append(f"primary_model {self.primary_model!r} is not among the models "
                            f"{list(self.models)}")
        if self.train_split == self.recalibrate_on:
            problems.append("recalibrate_on must be another split than train_split")
        clashes = [k for k in ("backbone", "output", "random_state", "max_epochs", "lr",
                               "batch_size", "pretrained", "device") if k in self.encoder_params]
        if clashes:
            problems.append(f"encoder_params sets {clashes}: give them as settings of their "
                            "own")
        if "size" in self.extractor_params:
            problems.append("extractor_params sets 'size': give it as patch_size")
        return problems

    # ------------------------------------------------------------------ derived values
    @property
    def primary(self):
        """The model whose scores drive survival, score plots and radiogenomics."""
        return self.primary_model or self.models[-1]

    @property
    def uses_images(self):
        """Whether any model reads the images."""
        return any(m in IMAGE_MODELS for m in self.models)

    @property
    def uses_cnn(self):
        """Whether any model trains the CNN."""
        return any(m in CNN_MODELS for m in self.models)

    def to_dict(self):
        """JSON-ready settings, as ``summary.json`` records them.

        Returns
        -------
        settings : dict
            Every setting by name; tuples as lists.
        """
        return {f.name: (list(v) if isinstance(v, tuple) else v)
                for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}

    def replace(self, **changes):
        """A copy with some settings changed (checked like a new one).

        Parameters
        ----------
        **changes : dict
            New values by setting name.

        Returns
        -------
        settings : StudySettings
            The changed copy.
        """
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ deep checks
    def check(self):
        """Check what needs the libraries: the backbone, the device, the weights file.

        Called by :func:`~tacelearn.study.run_study` before anything is computed.

        Returns
        -------
        self : StudySettings
            The settings, unchanged.

        Raises
        ------
        ValueError
            Naming every setting that cannot work on this machine.
        """
        problems = []
        if self.uses_cnn:
            problems += _check_cnn(self)
        if "radiomics" in self.models and self.radiomics_settings is not None:
            problems += _check_file("radiomics_settings", self.radiomics_settings)
        if problems:
            raise ValueError("invalid study settings:\n- " + "\n- ".join(problems))
        return self


# ------------------------------------------------------------------------------- checks
def _check_cnn(settings):
    problems = []
    from ..transformers import check_backbone_name, resolve_device

    try:
        check_backbone_name(settings.backbone)
    except (TypeError, ValueError) as error:
        problems.append(f"backbone: {error}")
    try:
        resolve_device(settings.device)
    except (TypeError, ValueError) as error:
        problems.append(f"device: {error}")
    if settings.pretrained is not None:
        problems += _check_file("pretrained", settings.pretrained)
    return problems


def _check_file(name, path):
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as error:
        return [f"{name}: cannot read {path!r}: {error.strerror or error}"]
    return []


def _is_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool)


def _check_names(name, value, choices):
    try:
        names = _names(value)
    except TypeError:
        return [f"{name} must be names, got {value!r}"]
    if not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        return [f"{name} must be distinct names, got {value!r}"]
    if choices is not None:
        unknown = [n for n in names if n not in choices]
        if unknown:
            return [f"{name}: unknown {unknown}; choose among {list(choices)}"]
    if name == "models" and not names:
        return ["models: give at least one model"]
    return []


def _check_value(kind, value):
    """Whether ``value`` has the form ``kind`` asks for (beyond choices)."""
    checks = {
        "name": lambda v: isinstance(v, str) and bool(_SAFE_NAME.match(v)),
        "optional_name": lambda v: v is None or (isinstance(v, str) and bool(_SAFE_NAME.match(v))),
        "str": lambda v: isinstance(v, str) and bool(v),
        "optional_str": lambda v: v is None or (isinstance(v, str) and bool(v)),
        "path": lambda v: v is None or isinstance(v, (str, os.PathLike)),
        "positive_int": lambda v: _is_int(v) and v >= 1,
        "count": lambda v: _is_int(v) and v >= 0,
        "optional_int": lambda v: v is None or _is_int(v),
        "positive_float": lambda v: isinstance(v, Real) and not isinstance(v, bool)
        and math.isfinite(v) and v > 0,
        "probability": lambda v: isinstance(v, Real) and not isinstance(v, bool) and 0 < v < 1,
        "score_cut": lambda v: v in ("mean", "median") or (
            isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(v)),
        "ints": lambda v: not isinstance(v, str) and len(tuple(v)) > 0 and all(
            _is_int(i) and i >= 1 for i in v),
        "json": lambda v: v is None or isinstance(v, dict),
    }
    return checks[kind](value)


_EXPECTED = {
    "name": "a name of letters, digits, '_', '-', '.', '+'",
    "optional_name": "None or a name of letters, digits, '_', '-', '.', '+'",
    "str": "a non-empty text", "optional_str": "None or a non-empty text",
    "path": "None or a file path", "positive_int": "an integer >= 1",
    "count": "an integer >= 0", "optional_int": "None or an integer",
    "positive_float": "a finite number > 0", "probability": "a number in (0, 1)",
    "score_cut": "'mean', 'median' or a number", "ints": "positive integers",
    "json": "a dict",
}


def _check_field(f, value):
    kind, choices = f.metadata["kind"], f.metadata["choices"]
    if kind == "names":
        return _check_names(f.name, value, choices)
    if not _check_value(kind, value):
        return [f"{f.name} must be {_EXPECTED[kind]}, got {value!r}"]
    if choices is not None and value not in choices:
        return [f"{f.name} must be one of {list(choices)}, got {value!r}"]
    if f.name == "fusion_cv" and value is not None and value < 2:
        return [f"fusion_cv must be None or an integer >= 2, got {value!r}"]
    return []


def settings_from_options(settings=None, **options):
    """A :class:`StudySettings` from an optional base and keyword settings.

    Raises
    ------
    TypeError
        Naming the keywords that are not settings (and the closest one).
    """
    names = {f.name for f in dataclasses.fields(StudySettings)}
    unknown = sorted(set(options) - names)
    if unknown:
        import difflib

        hints = [f"{u} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(
            u, names, n=1)) else u for u in unknown]
        raise TypeError(f"unknown study setting(s): {', '.join(hints)}; the settings are the "
                        "fields of tacelearn.study.StudySettings")
    if settings is None:
        return StudySettings(**options)
    if not isinstance(settings, StudySettings):
        raise TypeError(f"settings must be a StudySettings, got {type(settings).__name__}")
    return settings.replace(**options) if options else settings


# --------------------------------------------------------------------- command line
def _parse_json(text):
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object such as '{\"n_jobs\": 2}'")
    return value


def _parse_optional_int(text):
    return None if text.strip().lower() in ("none", "") else int(text)


def _parse_score_cut(text):
    return text if text in ("mean", "median") else float(text)


_PARSERS = {
    "names": lambda text: _names(text), "ints": lambda text: tuple(int(v) for v in _names(text)),
    "positive_int": int, "count": int, "optional_int": _parse_optional_int,
    "positive_float": float, "probability": float, "score_cut": _parse_score_cut,
    "json": _parse_json, "name": str, "optional_name": str, "str": str, "optional_str": str,
    "path": str,
}


def _argument_type(kind):
    import argparse

    def parse(text):
        try:
            return _PARSERS[kind](text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None

    parse.__name__ = kind
    return parse


def _default_text(value):
    if isinstance(value, tuple):
        return ",".join(map(str, value)) or "none"
    if isinstance(value, dict):
        return json.dumps(value)
    return "none" if value is None else str(value)


def add_settings_arguments(parser, *, exclude=()):
    """Add one flag per setting to an argparse parser: ``--max-epochs``, with its help.

    The flags default to None (unset); :func:`settings_from_arguments` keeps the
    dataclass's defaults for them, so the defaults live in one place.
    """
    group = parser.add_argument_group("study settings (see tacelearn.study.StudySettings)")
    defaults = StudySettings()
    for f in dataclasses.fields(StudySettings):
        if f.name in exclude:
            continue
        flag = "--" + f.name.replace("_", "-")
        choices = f.metadata["choices"]
        help_text = f"{f.metadata['help']} (default: {_default_text(getattr(defaults, f.name))})"
        options = {"dest": f.name, "default": None, "help": help_text,
                   "type": _argument_type(f.metadata["kind"])}
        if choices is not None and f.metadata["kind"] != "names":
            options["choices"] = choices
            options.pop("type")
        if f.metadata["metavar"]:
            options["metavar"] = f.metadata["metavar"]
        group.add_argument(flag, *f.metadata["aliases"], **options)
    return parser


def settings_from_arguments(args, base=None, *, exclude=()):
    """The :class:`StudySettings` of parsed arguments: the flags given, defaults elsewhere."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(StudySettings)
             if f.name not in exclude and getattr(args, f.name, None) is not None}
    return settings_from_options(base, **given)
