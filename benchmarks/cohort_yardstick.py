"""The synthetic cohort as a yardstick: the AUCs that tell good models from trivial ones.

Generates a synthetic cohort (or reads one with ``--cohort``) and prints, for every split, the
AUC of

* ``ceiling``: ``true_probability``, the probability of the recorded response;
* ``image ceiling``: the image part of the true log-odds (``beta_B * tumour_biology``), what a
  perfect reader of the images alone could reach;
* ``clinical``: a plain logistic regression on the clinical columns (laboratory values as
  abnormal flags at the schema's cut-offs, categories one-hot, missing values imputed);
* ``first-order + clinical``: the same plus eight first-order statistics of the largest
  lesion's largest axial slice: mean, SD, 10th and 90th percentile of T1C and of T2 inside the
  mask, each slice z-scored on the body (Otsu), as ``TumourPatchExtractor`` normalises;
* ``first-order``: the eight statistics alone;
* with ``--dltr``, a CNN: ``make_dltr(backbone="resnet18", patch_size=48)`` trained from random
  weights for ``--epochs`` epochs on train + internal validation, alone (``dltr``) and with the
  clinical columns (``dltr + clinical``: its in-sample log-odds beside the clinical design in
  the same logistic regression, as the paper fused them), each compared with the first-order
  models by DeLong's test on the external splits. CPU-heavy: minutes at 64 x 64 x 16.

The models are fitted on train + internal validation and scored on every split (internal
validation included, so its row is in-sample for the models). Targets of the default cohort
(seed 0): ceiling 0.82-0.90 on each external split, image ceiling 0.70-0.80, clinical
0.60-0.70, first-order + clinical at least 0.08 below the ceiling on both external splits.

    .venv/bin/python benchmarks/cohort_yardstick.py                      # default cohort, seed 0
    .venv/bin/python benchmarks/cohort_yardstick.py --seed 3 --image-shape 64 64 16
    .venv/bin/python benchmarks/cohort_yardstick.py --cohort synthetic_study/cohort.csv
    nice -n 10 .venv/bin/python benchmarks/cohort_yardstick.py --image-shape 64 64 16 --dltr
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import stats
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tacelearn.datasets import (
    CLINICAL_COLUMNS,
    COHORT_SCHEMA,
    dichotomise,
    make_tace_cohort,
    read_cohort,
)
from tacelearn.transformers import (
    label_lesions,
    largest_area_slice,
    load_nifti,
    normalize_intensity,
    otsu_threshold,
    reorient_to_ras,
)

TRAINING = ("train", "internal_validation")
FIRST_ORDER_NAMES = [f"{sequence}_{statistic}" for sequence in ("t1c", "t2")
                     for statistic in ("mean", "sd", "p10", "p90")]


def first_order_statistics(t1c_path, t2_path, mask_path):
    """The eight first-order statistics of the largest lesion's largest axial slice."""
    mask, affine = load_nifti(mask_path)
    mask, _ = reorient_to_ras(mask, affine)
    labels, _ = label_lesions(mask)
    lesion = labels == 1
    index = largest_area_slice(lesion)
    inside = lesion[:, :, index]
    values = []
    for path in (t1c_path, t2_path):
        volume, volume_affine = load_nifti(path)
        axial = reorient_to_ras(volume, volume_affine)[0][:, :, index]
        body = axial[axial >= otsu_threshold(axial)]
        tumour = normalize_intensity(axial[inside], body)
        values += [tumour.mean(), tumour.std(), *np.percentile(tumour, [10, 90])]
    return values


def first_order_table(cohort, n_jobs=None):
    """:func:`first_order_statistics` of every patient, one row each."""
    rows = Parallel(n_jobs=n_jobs)(
        delayed(first_order_statistics)(row.t1c_path, row.t2_path, row.mask_path)
        for row in cohort.itertuples()
    )
    return pd.DataFrame(rows, columns=FIRST_ORDER_NAMES, index=cohort.index)


def clinical_design(cohort):
    """Clinical columns with laboratory values as abnormal flags (missing stays missing)."""
    flags = dichotomise(cohort).astype(float)
    labs = [name.removesuffix("_abnormal") for name in flags.columns]
    others = cohort[[c for c in CLINICAL_COLUMNS if c in cohort.columns and c not in labs]]
    return pd.concat([others, flags], axis=1)


def logistic_model(design):
    """Impute, one-hot encode the categories, standardise, and fit a logistic regression."""
    categorical = [c for c in design.columns if c in COHORT_SCHEMA
                   and COHORT_SCHEMA[c].kind == "categorical"]
    numeric = [c for c in design.columns if c not in categorical]
    return make_pipeline(
        make_column_transformer(
            (make_pipeline(SimpleImputer(strategy="most_frequent"),
                           OneHotEncoder(handle_unknown="ignore")), categorical),
            (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ),
        LogisticRegression(max_iter=5000),
    )


def _as_object(frame):
    """Categorical columns as plain strings (missing as NaN) for scikit-learn's imputers."""
    frame = frame.copy()
    for column in frame.columns:
        if column in COHORT_SCHEMA and COHORT_SCHEMA[column].kind == "categorical":
            frame[column] = frame[column].astype(object).where(frame[column].notna(), np.nan)
        elif frame[column].dtype.name in ("Int64", "boolean"):
            frame[column] = frame[column].astype(float)
    return frame


def yardstick_scores(cohort, first_order):
    """Scores of every yardstick model for every patient (models fitted on the training splits)."""
    y = cohort["objective_response"].astype(int)
    training = cohort["split"].isin(TRAINING)
    clinical = _as_object(clinical_design(cohort))
    designs = {
        "clinical": clinical,
        "first-order + clinical": pd.concat([clinical, first_order], axis=1),
        "first-order": first_order,
    }
    scores = {
        "ceiling": cohort["true_probability"].to_numpy(dtype=float),
        # the image part of the log-odds is a positive multiple of the biology: same AUC
        "image ceiling": cohort["tumour_biology"].to_numpy(dtype=float),
    }
    for name, design in designs.items():
        model = logistic_model(design).fit(design[training], y[training])
        scores[name] = model.predict_proba(design)[:, 1]
    return pd.DataFrame(scores, index=cohort.index)


def add_dltr_scores(cohort, scores, *, epochs, seed):
    """Train the CNN check on the training splits and add its scores (alone and + clinical)."""
    from tacelearn.estimators import make_dltr

    y = cohort["objective_response"].astype(int)
    training = cohort["split"].isin(TRAINING)
    model = make_dltr(backbone="resnet18", patch_size=48, random_state=seed,
                      encoder_params={"max_epochs": epochs, "batch_size": 32})
    model.fit(cohort[training], y[training])
    probability = np.clip(model.predict_proba(cohort)[:, 1], 1e-6, 1 - 1e-6)
    scores["dltr"] = probability
    design = pd.concat([_as_object(clinical_design(cohort)),
                        pd.DataFrame({"cnn_logit": np.log(probability / (1 - probability))},
                                     index=cohort.index)], axis=1)
    fusion = logistic_model(design).fit(design[training], y[training])
    scores["dltr + clinical"] = fusion.predict_proba(design)[:, 1]
    return scores


def print_delong(cohort, scores, pairs):
    """DeLong's paired test of each pair of scores on every external split."""
    from tacelearn.metrics import delong_roc_test

    y = cohort["objective_response"].astype(int)
    print("\nDeLong tests (two-sided):")
    for first, second in pairs:
        for split in sorted(s for s in cohort["split"].unique() if s.startswith("external")):
            rows = cohort["split"] == split
            result = delong_roc_test(y[rows], scores.loc[rows, first], scores.loc[rows, second])
            print(f"  {split}: {first} {result.auc_1:.3f} vs {second} {result.auc_2:.3f}, "
                  f"P = {result.pvalue:.3f}")


def auc_table(cohort, scores):
    """AUC of every score on every split (rows: models, columns: splits)."""
    y = cohort["objective_response"].astype(int)
    table = {}
    for split, rows in cohort.groupby("split", sort=False).groups.items():
        if y[rows].nunique() < 2:   # a tiny split with one class has no AUC
            table[split] = dict.fromkeys(scores.columns, np.nan)
            continue
        table[split] = {name: roc_auc_score(y[rows], scores.loc[rows, name])
                        for name in scores.columns}
    return pd.DataFrame(table)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-per-center", type=int, nargs="+", default=None)
    parser.add_argument("--image-shape", type=int, nargs=3, default=None)
    parser.add_argument("--cohort", type=Path, default=None,
                        help="an existing cohort.csv instead of generating one")
    parser.add_argument("--n-jobs", type=int, default=-1)
    parser.add_argument("--dltr", action="store_true", help="also train the CNN check")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of the CNN check")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="yardstick_") as folder:
        if args.cohort is None:
            cohort = make_tace_cohort(folder, n_per_center=args.n_per_center,
                                      image_shape=args.image_shape, random_state=args.seed,
                                      n_jobs=args.n_jobs)
            print(f"cohort: seed {args.seed}, {len(cohort)} patients, image shape "
                  f"{args.image_shape or 'default'}")
        else:
            cohort = read_cohort(args.cohort)
            print(f"cohort: {args.cohort}, {len(cohort)} patients")
        first_order = first_order_table(cohort, n_jobs=args.n_jobs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=RuntimeWarning)
            scores = yardstick_scores(cohort, first_order)
            if args.dltr:
                scores = add_dltr_scores(cohort, scores, epochs=args.epochs, seed=args.seed)
    table = auc_table(cohort, scores)
    order = [s for s in ("train", "internal_validation") if s in table.columns]
    table = table[order + sorted(c for c in table.columns if c not in order)]
    print("\nAUC by split (models fitted on train + internal validation):")
    print(table.round(3).to_string())
    external = [c for c in table.columns if c.startswith("external")]
    gap = table.loc["ceiling", external] - table.loc["first-order + clinical", external]
    print("\nceiling - (first-order + clinical): "
          + ", ".join(f"{c} {g:.3f}" for c, g in gap.items()) + " (target >= 0.08)")
    rho = stats.spearmanr(first_order["t1c_mean"], cohort["tumour_biology"]).statistic
    print(f"Spearman of the mean z-scored T1C inside the mask with tumour_biology: {rho:.3f}")
    missing = cohort[["alt", "afp", "albumin"]].isna().groupby(cohort["center"]).mean()
    print("\nshare of missing values by centre:\n" + missing.round(3).to_string())
    rates = cohort.groupby("center")["objective_response"].mean()
    print("\nresponse rate by centre: " + ", ".join(f"{c} {r:.2f}" for c, r in rates.items()))
    if args.dltr:
        print_delong(cohort, scores, [("dltr", "first-order + clinical"),
                                      ("dltr", "first-order"),
                                      ("dltr + clinical", "first-order + clinical")])


if __name__ == "__main__":
    main()
