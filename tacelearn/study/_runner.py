"""The whole study in one call: fit the models, evaluate every split, write a report."""

from __future__ import annotations

import json
import platform
import tempfile
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..datasets import validate_cohort
from ..estimators import save_model
from ..stats import baseline_table
from ..transformers import WEIGHTS_CACHE_NAMESPACE as WEIGHTS_NAMESPACE
from ..utils import atomic_directory, atomic_write_text
from ._analysis import (
    LABEL,
    decision_curve_table,
    delong_tables,
    evaluation_splits,
    performance_tables,
    subgroup_table,
)
from ._calibration_section import calibration_table, recalibrated_scores
from ._figures import draw_figures
from ._fitting import build_models, screen_clinical_factors
from ._lesion_section import lesion_model, study_lesion_table
from ._progress import Notes, Progress
from ._report import write_report
from ._settings import CNN_MODELS, MODEL_LABELS, settings_from_options
from ._statements import comparison_statements
from ._survival_section import survival_table
from ._tripod import tripod_checklist
from ._validation_section import (
    centre_heterogeneity,
    leave_one_center_out_table,
    optimism_table,
)

__all__ = ["REPORT_MARKER", "StudyResult", "is_report_folder", "run_study"]

#: The file that marks a folder as a report written by tacelearn: ``--overwrite`` replaces
#: only such folders.
REPORT_MARKER = ".tacelearn-report"
_IMAGE_COLUMNS = ("t1c_path", "t2_path", "mask_path")


@dataclass
class StudyResult:
    """What :func:`run_study` produced.

    Parameters
    ----------
    out_dir : pathlib.Path
        The report folder.
    summary : dict
        The content of ``summary.json``.
    tables : dict of str to pandas.DataFrame, optional
        Every table written to ``tables/``.
    models : dict of str to sklearn.pipeline.Pipeline, optional
        The fitted models.
    scores : pandas.DataFrame, optional
        The long table of scores.

    Attributes
    ----------
    out_dir : pathlib.Path
        The report folder.
    summary : dict
        The content of ``summary.json``: settings, cohort sizes, screened factors, AUCs with
        DeLong CIs per model and split (full precision), comparisons, stage timings, notes.
    tables : dict of str to pandas.DataFrame
        Every table written to ``tables/`` (by file stem).
    models : dict of str to sklearn.pipeline.Pipeline
        The fitted models.
    scores : pandas.DataFrame
        One row per patient and model: ``patient_id, split, model, score,
        objective_response``.

    See Also
    --------
    run_study : What makes it.

    Examples
    --------
    >>> from pathlib import Path
    >>> from tacelearn.study import StudyResult
    >>> StudyResult(out_dir=Path("report"), summary={"auc": {}}).models
    {}
    """

    out_dir: Path
    summary: dict
    tables: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    scores: pd.DataFrame | None = None


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


def _check_out_dir(out_dir, overwrite):
    occupied = out_dir.exists() and not (out_dir.is_dir() and not any(out_dir.iterdir()))
    if not occupied:
        return
    if not overwrite:
        raise FileExistsError(f"output folder already exists: {out_dir} (use --overwrite to "
                              "replace a report)")
    if not out_dir.is_dir() or not is_report_folder(out_dir):
        raise FileExistsError(f"refusing to replace {out_dir}: it is not a report written by "
                              f"tacelearn (no {REPORT_MARKER} file); choose another output "
                              "folder")


def _check_splits(cohort, settings):
    splits = cohort["split"].unique().tolist()
    named = {"train_split": settings.train_split, "recalibrate_on": settings.recalibrate_on}
    unknown = [f"{name} {value!r}" for name, value in named.items()
               if value is not None and value not in splits]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not a split of the cohort; its splits are "
                         f"{splits}")
    train = cohort[(cohort["split"] == settings.train_split) & cohort[LABEL].notna()]
    counts = train[LABEL].astype(int).value_counts()
    if len(counts) < 2 or counts.min() < 5:
        raise ValueError(f"the training split {settings.train_split!r} needs at least 5 "
                         f"responders and 5 non-responders, has {counts.to_dict()}")


def _check_images(cohort, settings):
    if not settings.uses_images:
        return
    problems = []
    for column in _IMAGE_COLUMNS:
        if column not in cohort.columns:
            problems.append(f"column '{column}' is absent")
        elif cohort[column].isna().any():
            missing = cohort.loc[cohort[column].isna(), "patient_id"].tolist()
            problems.append(f"'{column}' is empty for patient(s) {sorted(missing)[:8]}")
    if problems:
        raise ValueError("the image models (" + ", ".join(
            MODEL_LABELS[m] for m in settings.models if m != "clinical") + ") need every "
            "patient's T1C, T2 and mask: " + "; ".join(problems) + ". Leave them out with "
            "models=('clinical',) or complete the manifest")


def _check_inputs(cohort, settings, out_dir, overwrite, radiogenomics):
    """Everything that can be checked before the first computation."""
    settings.check()
    cohort = validate_cohort(cohort)
    if LABEL not in cohort.columns:
        raise ValueError(f"the cohort has no '{LABEL}' column (or 'mrecist' to derive it)")
    _check_splits(cohort, settings)
    _check_images(cohort, settings)
    _check_out_dir(Path(out_dir), overwrite)
    if radiogenomics.get("expression") is not None and not radiogenomics.get("gene_sets"):
        raise ValueError("radiogenomics needs gene_sets (a local GMT file or a dict)")
    return cohort


def _score_frame(models, cohort):
    frames = []
    response = cohort[LABEL].to_numpy(dtype=float, na_value=np.nan)
    for name, model in models.items():
        scores = model.predict_proba(cohort)[:, list(model.classes_).index(1)]
        frames.append(pd.DataFrame({
            "patient_id": cohort["patient_id"].to_numpy(), "split": cohort["split"].to_numpy(),
            "model": name, "score": scores, LABEL: response}))
    if "true_probability" in cohort.columns and cohort["true_probability"].notna().all():
        frames.append(pd.DataFrame({
            "patient_id": cohort["patient_id"].to_numpy(), "split": cohort["split"].to_numpy(),
            "model": "ceiling", "score": cohort["true_probability"].to_numpy(dtype=float),
            LABEL: response}))
    return pd.concat(frames, ignore_index=True)


def _auc_summary(performance):
    """AUCs with DeLong CIs at full precision: formatting rounds them once, where shown."""
    auc = performance[performance["metric"] == "auc"]
    summary = {}
    for row in auc.itertuples():
        summary.setdefault(row.model, {})[row.cohort] = {
            "auc": float(row.estimate), "ci_low": float(row.low), "ci_high": float(row.high)}
    return summary


@contextmanager
def _cache(cache_dir):
    """The user's cache folder, or a temporary one that lives as long as the run."""
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        yield Path(cache_dir)
        return
    with tempfile.TemporaryDirectory(prefix="tacelearn-cache-") as folder:
        yield Path(folder)


def _parallel(settings):
    if settings.scheduler is None:
        return nullcontext()
    from ..utils import parallel_backend

    return parallel_backend(scheduler=settings.scheduler)


def run_study(cohort, *, out_dir, settings=None, expression=None, gene_sets=None,
              signature=None, cache_dir=None, overwrite=False, verbose=True,
              stage_seconds=None, **options):
    """Run the study of Chen et al. on a cohort and write a report folder.

    Fits the models (clinical, radiomics, DLTR, DLTR_LR, DLTR_MLP by default) on the training
    split, scores every patient, and writes into ``out_dir``: ``index.html`` (self-contained:
    tables and figures readable offline), ``tables/*.csv`` (Table 1, Table 2 overall and by
    subgroup, DeLong tests with Holm-adjusted P values, calibration, optimism-corrected
    validation, per-centre pooling, decision curves, survival, scores, TRIPOD+AI checklist),
    ``figures/*.png``, ``models/`` (each fitted model saved without pickles, see
    :func:`tacelearn.estimators.save_model`) and ``summary.json``. The folder is built under a
    temporary name and moved into place at the end, so a failed or interrupted run leaves
    nothing behind.

    Parameters
    ----------
    cohort : pandas.DataFrame
        The cohort (see :func:`tacelearn.datasets.read_cohort`); validated first.
    out_dir : path-like
        Report folder to create.
    settings : StudySettings, optional
        The study's settings; default :class:`StudySettings` ().
    expression : pandas.DataFrame, optional
        Samples x genes (log2) for part of the cohort, indexed by patient id: adds a
        radiogenomics section (differential expression, GSEA, deconvolution) by DLTR score
        group, on patients outside the training split.
    gene_sets : path-like or dict, optional
        Local GMT file or dict of gene sets for GSEA; required with ``expression``.
    signature : pandas.DataFrame, optional
        Genes x cell types (linear scale) for immune deconvolution.
    cache_dir : path-like, optional
        Cache of patches, radiomics features and CNN weights, reused by later runs; default
        a temporary folder removed at the end (the models still share patches and CNN
        trainings within the run).
    overwrite : bool, default=False
        Replace an existing ``out_dir`` if it is a report written by tacelearn.
    verbose : bool, default=True
        Progress messages and bars on stderr.
    stage_seconds : dict of str to float, optional
        Seconds of stages run before the study (the demo's cohort generation), recorded with
        the study's own stage timings.
    **options
        Settings by name, overriding ``settings`` (``max_epochs=5``, ``models=("clinical",)``,
        ...): every field of :class:`StudySettings`.

    Returns
    -------
    result : StudyResult
        The report folder, summary, tables, fitted models and scores.

    Raises
    ------
    TypeError
        For a keyword that is not a setting (the message suggests the closest one).
    ValueError
        For an invalid cohort or settings (backbone, device and weights file included),
        before anything is computed or written.
    FileExistsError
        If ``out_dir`` exists and ``overwrite`` is false; if it exists and is not a report
        written by tacelearn (its ``.tacelearn-report`` marker), or holds the manifest, an
        image or the cache, whatever ``overwrite`` says; or if another run created it while
        this one was working (nothing is then replaced).

    See Also
    --------
    StudySettings : Every setting, checked before anything is computed.
    run_demo : The same study on the synthetic cohort.

    Examples
    --------
    The clinical model alone, on a small synthetic cohort:

    >>> import tempfile
    >>> from pathlib import Path
    >>> from tacelearn.datasets import make_tace_cohort
    >>> from tacelearn.study import run_study
    >>> folder = Path(tempfile.mkdtemp())
    >>> cohort = make_tace_cohort(folder / "cohort", n_per_center=(60, 20, 20),
    ...                           image_shape=(32, 32, 8))
    >>> result = run_study(cohort, out_dir=folder / "report", models=("clinical",),
    ...                    n_bootstraps=20, n_resamples=100, verbose=False)
    >>> sorted(result.summary["auc"])
    ['ceiling', 'clinical']
    >>> (result.out_dir / "index.html").is_file()
    True
    """
    settings = settings_from_options(settings, **options)
    radiogenomics = {"expression": expression, "gene_sets": gene_sets, "signature": signature}
    out_dir = Path(out_dir)
    cohort = _check_inputs(cohort, settings, out_dir, overwrite, radiogenomics)
    progress, notes = Progress(verbose), Notes()
    for name, seconds in (stage_seconds or {}).items():
        progress.add_seconds(name, seconds)
    protect = protected_paths(cohort, cache_dir)
    with _parallel(settings), atomic_directory(
            out_dir, overwrite=overwrite, replaceable=is_report_folder,
            protect=protect) as folder, _cache(cache_dir) as cache:
        for sub in ("tables", "figures", "models"):
            (folder / sub).mkdir()
        atomic_write_text(folder / REPORT_MARKER, json.dumps(
            {"written_by": f"tacelearn {__version__}"}) + "\n")
        fitted, context = _fit(cohort, settings, cache, progress, notes)
        tables, figures, summary = _evaluate(cohort, settings, fitted, context, folder,
                                             radiogenomics, progress, notes)
        with progress.stage("report", "writing the report"):
            _write(folder, tables, fitted, summary, figures, settings, notes, progress)
        # Written last, so that its timings include the report's own.
        summary["timings_seconds"] = progress.timings()
        atomic_write_text(folder / "summary.json", json.dumps(_json_ready(summary), indent=2,
                                                              allow_nan=False) + "\n")
    progress.say(f"report written to {out_dir}")
    return StudyResult(out_dir=out_dir, summary=summary, tables=tables, models=fitted,
                       scores=tables["scores"])


def _fit(cohort, settings, cache, progress, notes):
    """Table 1, screening and the fitted models (sharing patches and CNN trainings)."""
    labelled = cohort[LABEL].notna().to_numpy()
    y = cohort[LABEL].astype(float).to_numpy()
    train = labelled & (cohort["split"] == settings.train_split).to_numpy()
    screen_splits = [settings.train_split] + (
        [settings.internal_split] if settings.screen_on == "train+internal" else [])
    screen_rows = labelled & cohort["split"].isin(screen_splits).to_numpy()
    with progress.stage("baseline", "baseline table (Table 1)"), notes.collect("Table 1"):
        table1 = baseline_table(cohort, by="split")
    with progress.stage("screening", "univariate screening of clinical factors"), \
            notes.collect("screening"):
        screened, columns, screening = screen_clinical_factors(
            cohort, y, screen_rows, settings.screening_alpha)
    progress.say(f"screened factors: {', '.join(screened) or 'none'}")
    models = build_models(settings, screened=columns, cache_dir=cache,
                          verbose=progress.verbose)
    X_train, y_train = cohort[train], y[train].astype(int)
    for name, model in models.items():
        trained_before = _trained_networks(cache)
        with progress.stage(f"fit {name}", f"fitting {MODEL_LABELS[name]}"), \
                notes.collect(f"fitting {MODEL_LABELS[name]}"):
            model.fit(X_train, y_train)
        if name in CNN_MODELS:
            trained = _trained_networks(cache) - trained_before
            progress.say(f"{MODEL_LABELS[name]}: {trained} CNN(s) trained" if trained
                         else f"{MODEL_LABELS[name]}: CNN weights from the cache")
    return models, {"table1": table1, "screened": screened, "screening": screening}


def _trained_networks(cache):
    """How many trained CNNs the cache holds (a fit that trains one adds an entry)."""
    return sum(1 for _ in (Path(cache) / WEIGHTS_NAMESPACE).rglob("entry.json"))


def _evaluate(cohort, settings, fitted, context, folder, radiogenomics, progress, notes):
    """Every table and figure of the report, and the summary."""
    with progress.stage("scoring", "scoring every patient"), notes.collect("scoring"):
        scores = _score_frame(fitted, cohort)
    splits = evaluation_splits(scores, settings)
    models = list(settings.models)
    with progress.stage("discrimination", "Table 2, subgroups, DeLong, decision curves"), \
            notes.collect("discrimination"):
        performance = performance_tables(scores, settings)
        delong = delong_tables(scores, splits, models)
        tables = {
            "table1_baseline": context["table1"].reset_index(),
            "table2_performance": performance,
            "table2_subgroups": subgroup_table(scores, cohort, splits, settings, models),
            "delong_tests": delong,
            "comparisons": comparison_statements(
                performance, delong, [s for s in splits if s != settings.internal_split],
                models),
            "decision_curves": decision_curve_table(scores, splits, models),
            "screening": context["screening"],
            "scores": scores,
        }
    with progress.stage("calibration", "calibration of every model"), \
            notes.collect("calibration"):
        tables["calibration"] = calibration_table(scores, splits, settings, models)
        recalibrated = recalibrated_scores(fitted, cohort, settings)
        if not recalibrated.empty:
            others = [s for s in splits if s != settings.recalibrate_on]
            tables["calibration_recalibrated"] = calibration_table(recalibrated, others,
                                                                   settings, models)
    with progress.stage("validation", f"optimism bootstrap (B = {settings.n_bootstraps}) and "
                                      "centre heterogeneity"), notes.collect("validation"):
        tables["validation_optimism"] = optimism_table(fitted, cohort, settings)
        loco, loco_pooled = leave_one_center_out_table(fitted, cohort, settings)
        tables["validation_leave_one_center_out"] = loco
        tables["validation_leave_one_center_out_pooled"] = loco_pooled
        centres, pooled = centre_heterogeneity(scores, cohort, settings, models)
        tables["validation_centres"] = centres
        tables["validation_centres_pooled"] = pooled
    with progress.stage("survival", "survival by score group"), notes.collect("survival"):
        tables["survival"] = survival_table(scores, cohort, settings, models)
    if lesion_model(fitted) is not None:
        with progress.stage("lesions", "every lesion's CNN score"), notes.collect("lesions"):
            tables["lesions"] = study_lesion_table(fitted, cohort, settings)
    tables["tripod_ai"] = tripod_checklist(cohort, settings, screened=context["screened"],
                                           label=LABEL)
    with progress.stage("figures", "figures"), notes.collect("figures"):
        figures = draw_figures(scores, cohort, settings, folder / "figures", splits)
        if "dltr" in fitted and settings.gradcam_patients > 0:
            from ._gradcam import draw_gradcam_figures

            figures += draw_gradcam_figures(fitted["dltr"], cohort, settings,
                                            folder / "figures")
    genomics = None
    if radiogenomics["expression"] is not None:
        with progress.stage("radiogenomics", "radiogenomics"), notes.collect("radiogenomics"):
            from ._genomics_section import radiogenomics_section

            genomics = radiogenomics_section(scores, settings, radiogenomics,
                                             folder / "figures")
        tables.update(genomics["tables"])
        figures += genomics["figures"]
    summary = _summary(cohort, settings, tables, context, genomics)
    return tables, figures, summary


def _summary(cohort, settings, tables, context, genomics):
    labelled = cohort[LABEL].notna()
    summary = {
        "tacelearn_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "settings": settings.to_dict(),
        "patients": _by_split_order(cohort["split"], settings),
        "labelled_patients": _by_split_order(cohort.loc[labelled, "split"], settings),
        "screened_factors": context["screened"],
        "auc": _auc_summary(tables["table2_performance"]),
        "comparisons": tables["comparisons"]["statement"].tolist(),
        "model_labels": {m: MODEL_LABELS[m] for m in (*settings.models, "ceiling")},
    }
    if genomics is not None:
        summary["radiogenomics"] = _json_ready(genomics["summary"])
    return summary


def _write(folder, tables, fitted, summary, figures, settings, notes, progress):
    for name, table in tables.items():
        atomic_write_text(folder / "tables" / f"{name}.csv", table.to_csv(index=False))
    for name, model in fitted.items():
        save_model(model, folder / "models" / name)
    summary["notes"] = notes.table()
    summary["timings_seconds"] = progress.timings()
    write_report(folder, summary, tables, figures, settings)


def _by_split_order(splits, settings):
    """Patients per split: training, internal validation, then the others as they come."""
    counts = splits.value_counts(sort=False)
    first = [s for s in (settings.train_split, settings.internal_split) if s in counts.index]
    order = first + [s for s in counts.index if s not in first]
    return {split: int(counts[split]) for split in order}


def _json_ready(value):
    """Plain Python values for strict JSON: NumPy scalars and arrays become numbers and
    lists, NaN and infinities become null."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray, pd.Index)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
