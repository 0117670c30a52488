"""The whole study in one call: fit the four models, evaluate every split, write a report."""

from __future__ import annotations

import json
import platform
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..datasets import validate_cohort
from ..estimators import save_model
from ..stats import baseline_table
from ..utils import atomic_directory, atomic_write_text
from ._analysis import evaluation_tables
from ._figures import draw_figures
from ._fitting import (
    build_models,
    fusion_image_branch,
    patch_extractor,
    screen_clinical_factors,
)
from ._gradcam import draw_gradcam_figures
from ._options import MODEL_LABELS, MODEL_NAMES, StudyOptions
from ._report import write_report

__all__ = ["REPORT_MARKER", "StudyResult", "is_report_folder", "run_study"]

#: The file that marks a folder as a report written by tacelearn: ``--overwrite`` replaces
#: only such folders.
REPORT_MARKER = ".tacelearn-report"
_IMAGE_COLUMNS = ("t1c_path", "t2_path", "mask_path")

LABEL = "objective_response"
INTERNAL_SPLIT = "internal_validation"


@dataclass
class StudyResult:
    """What :func:`run_study` produced.

    Attributes
    ----------
    out_dir : pathlib.Path
        The report folder.
    summary : dict
        The content of ``summary.json``: settings, cohort sizes, screened factors, AUCs with
        DeLong CIs per model and split, stage timings.
    tables : dict of str to pandas.DataFrame
        Every table written to ``tables/`` (by file stem).
    models : dict of str to sklearn.pipeline.Pipeline
        The fitted models.
    scores : pandas.DataFrame
        One row per patient and model: ``patient_id, split, model, score,
        objective_response``.
    """

    out_dir: Path
    summary: dict
    tables: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    scores: pd.DataFrame | None = None


class _Stages:
    """Wall time per stage, and progress lines on stderr."""

    def __init__(self, verbose):
        self.verbose = verbose
        self.start = time.perf_counter()
        self.seconds = {}

    def say(self, message):
        if self.verbose:
            print(f"[tacelearn {time.perf_counter() - self.start:7.1f} s] {message}",
                  file=sys.stderr, flush=True)

    @contextmanager
    def stage(self, name, message):
        self.say(message)
        begin = time.perf_counter()
        yield
        self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - begin


def is_report_folder(folder):
    """Whether ``folder`` holds a report written by :func:`run_study` (its marker file)."""
    return (Path(folder) / REPORT_MARKER).is_file()


def protected_paths(cohort, cache_dir):
    """Inputs a report must never replace: the manifest, every image file, the cache."""
    paths = [cohort.attrs.get("manifest"), cache_dir]
    for column in _IMAGE_COLUMNS:
        if column in cohort.columns:
            paths.extend(p for p in cohort[column].dropna().unique() if isinstance(p, str))
    return [Path(p) for p in paths if p is not None]


def _check_inputs(cohort, options, out_dir, overwrite, radiogenomics):
    cohort = validate_cohort(cohort)
    if LABEL not in cohort.columns:
        raise ValueError(f"the cohort has no '{LABEL}' column (or 'mrecist' to derive it)")
    splits = cohort["split"].unique().tolist()
    if options.train_split not in splits:
        raise ValueError(f"train_split {options.train_split!r} is not a split of the cohort; "
                         f"splits: {splits}")
    train = cohort[(cohort["split"] == options.train_split) & cohort[LABEL].notna()]
    counts = train[LABEL].astype(int).value_counts()
    if len(counts) < 2 or counts.min() < 5:
        raise ValueError(f"the training split {options.train_split!r} needs at least 5 "
                         f"responders and 5 non-responders, has {counts.to_dict()}")
    if options.uses_images:
        for column in ("t1c_path", "t2_path", "mask_path"):
            if column not in cohort.columns or cohort[column].isna().any():
                missing = (cohort.loc[cohort[column].isna(), "patient_id"].tolist()
                           if column in cohort.columns else "all")
                raise ValueError(f"image models need '{column}' for every patient; missing "
                                 f"for {missing if isinstance(missing, str) else missing[:8]}")
    out_dir = Path(out_dir)
    occupied = out_dir.exists() and not (out_dir.is_dir() and not any(out_dir.iterdir()))
    if occupied:
        if not overwrite:
            raise FileExistsError(f"output folder already exists: {out_dir} (use --overwrite "
                                  "to replace a report)")
        if not out_dir.is_dir() or not is_report_folder(out_dir):
            raise FileExistsError(f"refusing to replace {out_dir}: it is not a report written "
                                  f"by tacelearn (no {REPORT_MARKER} file); choose another "
                                  "output folder")
    if radiogenomics.get("expression") is not None and not radiogenomics.get("gene_sets"):
        raise ValueError("radiogenomics needs gene_sets (a local GMT file or a dict)")
    return cohort


def _score_frame(models, cohort):
    frames = []
    for name, model in models.items():
        scores = model.predict_proba(cohort)[:, list(model.classes_).index(1)]
        frames.append(pd.DataFrame({
            "patient_id": cohort["patient_id"].to_numpy(), "split": cohort["split"].to_numpy(),
            "model": name, "score": scores, LABEL: cohort[LABEL].to_numpy(dtype=float,
                                                                          na_value=np.nan),
        }))
    if "true_probability" in cohort.columns and cohort["true_probability"].notna().all():
        frames.append(pd.DataFrame({
            "patient_id": cohort["patient_id"].to_numpy(), "split": cohort["split"].to_numpy(),
            "model": "ceiling", "score": cohort["true_probability"].to_numpy(dtype=float),
            LABEL: cohort[LABEL].to_numpy(dtype=float, na_value=np.nan),
        }))
    return pd.concat(frames, ignore_index=True)


def _auc_summary(performance):
    auc = performance[performance["metric"] == "auc"]
    summary = {}
    for row in auc.itertuples():
        summary.setdefault(row.model, {})[row.cohort] = {
            "auc": round(float(row.estimate), 4), "ci_low": round(float(row.low), 4),
            "ci_high": round(float(row.high), 4)}
    return summary


def run_study(cohort, *, out_dir, models=MODEL_NAMES, train_split="train",
              screen_on="train+internal", backbone="densenet169", patch_size=128,
              max_epochs=20, batch_size=32, learning_rate=5e-4, pretrained=None,
              device="auto", fusion_cv=5, image_output="logit",
              mlp_hidden_layer_sizes=(512, 512), threshold=0.5, score_cut="mean",
              n_resamples=2000, gradcam_patients=4, primary_model=None, random_state=0,
              n_jobs=None, extractor_params=None, encoder_params=None, expression=None,
              gene_sets=None, signature=None, cache_dir=None, overwrite=False, verbose=True):
    """Run the study of Chen et al. on a cohort and write a report folder.

    Fits the clinical model, DLTR, DLTR_LR and DLTR_MLP on the training split, scores every
    patient, and writes into ``out_dir``: ``index.html`` (self-contained: tables and figures
    readable offline), ``tables/*.csv`` (Table 1, Table 2, DeLong matrices, decision curves,
    survival, scores), ``figures/*.png``, ``models/`` (each fitted model saved without pickles,
    see :func:`tacelearn.estimators.save_model`) and ``summary.json`` (settings, headline AUCs
    per model and split, stage timings). The folder is built under a temporary name and moved
    into place at the end, so a failed run leaves nothing behind.

    Parameters
    ----------
    cohort : pandas.DataFrame
        The cohort (see :func:`tacelearn.datasets.read_cohort`); validated first.
    out_dir : path-like
        Report folder to create.
    models : sequence of str, default=("clinical", "dltr", "dltr_lr", "dltr_mlp")
        Models to fit.
    train_split : str, default="train"
        Split the models are fitted on; every other split is evaluated.
    screen_on : {"train+internal", "train"}, default="train+internal"
        Patients on whom clinical factors are screened (P < 0.05): the training and internal
        validation splits, as the paper did, or the training split only.
    backbone, patch_size, max_epochs, batch_size, learning_rate, pretrained, device
        The CNN (see :class:`~tacelearn.transformers.CNNEncoder`).
    fusion_cv : int or None, default=5
        Out-of-fold CNN outputs for the fusion heads, or ``None`` for in-sample fusion.
    image_output : {"logit", "embedding"}, default="logit"
        What DLTR_MLP receives from the CNN.
    mlp_hidden_layer_sizes : tuple of int, default=(512, 512)
        DLTR_MLP's hidden layers.
    threshold : float, default=0.5
        Threshold of accuracy, sensitivity, specificity, PPV and NPV.
    score_cut : {"mean", "median"} or float, default="mean"
        High/low score split for survival, computed on the training split.
    n_resamples : int, default=2000
        Bootstrap resamples of the threshold-metric intervals.
    gradcam_patients : int, default=4
        Patients per evaluation split shown with Grad-CAM maps (0: none).
    primary_model : str, optional
        Model behind survival, score plots and radiogenomics; default the last of ``models``.
    random_state : int, default=0
        Seed of every random step.
    n_jobs : int, optional
        Parallel patch extraction.
    extractor_params, encoder_params : dict, optional
        Further patch-extractor and CNN parameters.
    expression : pandas.DataFrame, optional
        Samples x genes (log2) for part of the cohort, indexed by patient id: adds a
        radiogenomics section (differential expression, GSEA, deconvolution) by
        ``primary_model`` score group.
    gene_sets : path-like or dict, optional
        Local GMT file or dict of gene sets for GSEA; required with ``expression``.
    signature : pandas.DataFrame, optional
        Genes x cell types (linear scale) for immune deconvolution.
    cache_dir : path-like, optional
        Cache of patches and CNN weights, reused by later runs; default a temporary folder
        removed at the end (the models still share patches and CNN trainings within the run).
    overwrite : bool, default=False
        Replace an existing ``out_dir``.
    verbose : bool, default=True
        Progress lines on stderr.

    Returns
    -------
    result : StudyResult
        The report folder, summary, tables, fitted models and scores.

    Raises
    ------
    ValueError
        For an invalid cohort or settings, before anything is written.
    FileExistsError
        If ``out_dir`` exists and ``overwrite`` is false; if it exists and is not a report
        written by tacelearn (its ``.tacelearn-report`` marker), or holds the manifest, an
        image or the cache, whatever ``overwrite`` says; or if another run created it while
        this one was working (nothing is then replaced).
    """
    options = StudyOptions(
        models=tuple(models), train_split=train_split, screen_on=screen_on, backbone=backbone,
        patch_size=patch_size, max_epochs=max_epochs, batch_size=batch_size,
        learning_rate=learning_rate, pretrained=None if pretrained is None else str(pretrained),
        device=device, fusion_cv=fusion_cv, image_output=image_output,
        mlp_hidden_layer_sizes=tuple(mlp_hidden_layer_sizes), threshold=threshold,
        score_cut=score_cut, n_resamples=n_resamples, gradcam_patients=gradcam_patients,
        primary_model=primary_model, random_state=random_state, n_jobs=n_jobs,
        extractor_params=dict(extractor_params or {}), encoder_params=dict(encoder_params or {}),
    )
    radiogenomics = {"expression": expression, "gene_sets": gene_sets, "signature": signature}
    out_dir = Path(out_dir)
    cohort = _check_inputs(cohort, options, out_dir, overwrite, radiogenomics)
    stages = _Stages(verbose)

    labelled = cohort[LABEL].notna().to_numpy()
    y = cohort[LABEL].astype(float).to_numpy()
    train = labelled & (cohort["split"] == options.train_split).to_numpy()
    screen_splits = [options.train_split]
    if options.screen_on == "train+internal":
        screen_splits.append(INTERNAL_SPLIT)
    screen_rows = labelled & cohort["split"].isin(screen_splits).to_numpy()

    protect = protected_paths(cohort, cache_dir)
    with atomic_directory(out_dir, overwrite=overwrite, replaceable=is_report_folder,
                          protect=protect) as folder, _cache(cache_dir) as cache:
        for sub in ("tables", "figures", "models"):
            (folder / sub).mkdir()
        atomic_write_text(folder / REPORT_MARKER, json.dumps(
            {"written_by": f"tacelearn {__version__}"}) + "\n")
        with stages.stage("baseline", "baseline table (Table 1)"):
            table1 = baseline_table(cohort, by="split")
        with stages.stage("screening", "univariate screening of clinical factors"):
            screened, screened_columns = screen_clinical_factors(cohort, y, screen_rows)
        stages.say(f"screened factors: {', '.join(screened)}")
        fitted = build_models(options, screened=screened_columns, cache_dir=cache)
        X_train, y_train = cohort[train], y[train].astype(int)
        if options.uses_images:
            with stages.stage("patches", f"tumour patches for {len(cohort)} patients"):
                extractor = patch_extractor(options, cache)
                extractor.fit(cohort).transform(cohort)
            with stages.stage("encoder", f"training the CNN ({options.backbone}, "
                                         f"{options.max_epochs} epochs)"):
                if "dltr" in fitted:
                    fitted["dltr"].fit(X_train, y_train)
                if {"dltr_lr", "dltr_mlp"} & set(fitted):
                    # Trains the fusion models' CNNs once; their heads then hit the cache.
                    columns = ["patient_id", *extractor.image_columns, extractor.mask_column]
                    fusion_image_branch(options, cache).fit_transform(X_train[columns], y_train)
        with stages.stage("heads", "fitting the clinical model and fusion heads"):
            for name, model in fitted.items():
                if name != "dltr" or not options.uses_images:
                    model.fit(X_train, y_train)
        with stages.stage("scoring", "scoring every patient"):
            scores = _score_frame(fitted, cohort)
        with stages.stage("analyses", "Table 2, DeLong, decision curves, survival"):
            tables = {"table1_baseline": table1.reset_index(), **evaluation_tables(
                scores, cohort, options)}
            tables["scores"] = scores
            tables["screened_factors"] = pd.DataFrame({"factor": screened})
            figures = draw_figures(scores, cohort, options, folder / "figures")
            if "dltr" in fitted and options.gradcam_patients > 0:
                figures += draw_gradcam_figures(fitted["dltr"], cohort, options,
                                                folder / "figures")
            genomics = None
            if expression is not None:
                genomics = _radiogenomics(scores, options, radiogenomics, folder / "figures")
                tables.update(genomics["tables"])
                figures += genomics["figures"]
        with stages.stage("report", "writing the report"):
            for name, table in tables.items():
                atomic_write_text(folder / "tables" / f"{name}.csv", table.to_csv(index=False))
            for name, model in fitted.items():
                save_model(model, folder / "models" / name)
            summary = {
                "tacelearn_version": __version__,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "python": platform.python_version(),
                "options": options.to_dict(),
                "patients": cohort["split"].value_counts().to_dict(),
                "labelled_patients": cohort.loc[labelled, "split"].value_counts().to_dict(),
                "screened_factors": screened,
                "auc": _auc_summary(tables["table2_performance"]),
                "model_labels": {m: MODEL_LABELS[m] for m in (*options.models, "ceiling")},
                "timings_seconds": {k: round(v, 2) for k, v in stages.seconds.items()},
            }
            if genomics is not None:
                summary["radiogenomics"] = _json_ready(genomics["summary"])
            atomic_write_text(folder / "summary.json", json.dumps(summary, indent=2) + "\n")
            write_report(folder, summary, tables, figures, options)
        summary["timings_seconds"] = {k: round(v, 2) for k, v in stages.seconds.items()}
        atomic_write_text(folder / "summary.json", json.dumps(summary, indent=2) + "\n")
    stages.say(f"report written to {out_dir}")
    return StudyResult(out_dir=out_dir, summary=summary, tables=tables, models=fitted,
                       scores=scores)


@contextmanager
def _cache(cache_dir):
    """The user's cache folder, or a temporary one that lives as long as the run."""
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        yield Path(cache_dir)
        return
    with tempfile.TemporaryDirectory(prefix="tacelearn-cache-") as folder:
        yield Path(folder)


def _json_ready(value):
    """Plain Python values for json.dumps (NumPy scalars and arrays become numbers/lists)."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Index)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _radiogenomics(scores, options, inputs, figures_folder):
    from ._genomics_section import radiogenomics_section

    return radiogenomics_section(scores, options, inputs, figures_folder)
