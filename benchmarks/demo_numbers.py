"""Every number the docs quote from the demo, printed as Markdown from a demo's report folder.

    .venv/bin/python benchmarks/demo_numbers.py --run --quick    # run the quick demo, then print
    .venv/bin/python benchmarks/demo_numbers.py --run            # the full demo (minutes to hours)
    .venv/bin/python benchmarks/demo_numbers.py tacelearn-demo/report   # an existing report

Prints the machine (cores, load), the wall time of the run when it ran it, the AUC table with
DeLong CIs, the comparisons in words, calibration (intercept, slope, Brier) per model and
split, the optimism-corrected validation and the stage timings: docs/study.md copies them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from tacelearn.study import MODEL_LABELS
from tacelearn.utils import format_estimate_ci, format_number

SPLITS = ("train", "internal_validation", "external_1", "external_2")


def machine():
    """One line on the machine: platform, cores, load."""
    return (f"{platform.platform()}, {os.cpu_count()} cores, load average "
            f"{os.getloadavg()[0]:.1f} / {os.getloadavg()[1]:.1f} / {os.getloadavg()[2]:.1f} "
            "(1 / 5 / 15 min)")


def auc_table(summary):
    lines = ["| model | " + " | ".join(SPLITS) + " |", "|---" * (len(SPLITS) + 1) + "|"]
    for model, by_split in summary["auc"].items():
        cells = [format_estimate_ci(by_split[s]["auc"], by_split[s]["ci_low"],
                                    by_split[s]["ci_high"]) if s in by_split else ""
                 for s in SPLITS]
        lines.append(f"| {MODEL_LABELS.get(model, model)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def calibration_table(report):
    table = pd.read_csv(report / "tables" / "calibration.csv")
    wanted = ("calibration_intercept", "calibration_slope", "brier")
    table = table[table["metric"].isin(wanted)]
    lines = ["| model | split | intercept | slope | Brier |", "|---|---|---|---|---|"]
    for (model, split), rows in table.groupby(["model", "split"], sort=False):
        values = rows.set_index("metric")["estimate"]
        lines.append(f"| {MODEL_LABELS.get(model, model)} | {split} | "
                     + " | ".join(format_number(values.get(m)) for m in wanted) + " |")
    return "\n".join(lines)


def optimism_table(report):
    path = report / "tables" / "validation_optimism.csv"
    table = pd.read_csv(path) if path.stat().st_size > 1 else pd.DataFrame()
    if table.empty:
        return "(no optimism bootstrap in this run)"
    lines = ["| model | metric | apparent | optimism | corrected |", "|---|---|---|---|---|"]
    for row in table.itertuples():
        lines.append(f"| {MODEL_LABELS.get(row.model, row.model)} | {row.metric} | "
                     f"{format_number(row.apparent)} | {format_number(row.optimism)} | "
                     f"{format_number(row.corrected)} |")
    return "\n".join(lines)


def print_report(report, seconds=None):
    summary = json.loads((report / "summary.json").read_text())
    print(f"machine: {machine()}")
    shown = ("backbone", "patch_size", "max_epochs", "fusion_cv", "n_bootstraps")
    settings = {k: summary["settings"][k] for k in shown}
    print(f"tacelearn {summary['tacelearn_version']}, settings: {json.dumps(settings)}")
    if seconds is not None:
        print(f"wall time of the run: {seconds:.0f} s ({seconds / 60:.1f} min)")
    print(f"\npatients: {summary['patients']}")
    print(f"screened factors: {', '.join(summary['screened_factors'])}\n")
    print("AUC (95% DeLong CI)\n")
    print(auc_table(summary))
    print("\ncomparisons\n")
    for statement in summary["comparisons"]:
        print(f"- {statement}")
    print("\ncalibration\n")
    print(calibration_table(report))
    print("\noptimism-corrected internal validation\n")
    print(optimism_table(report))
    print("\nstage timings (s)\n")
    print("| stage | seconds |\n|---|---|")
    for stage, value in summary["timings_seconds"].items():
        print(f"| {stage} | {value:.1f} |")
    print(f"| **total** | {sum(summary['timings_seconds'].values()):.1f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, help="a demo's report folder")
    parser.add_argument("--run", action="store_true", help="run the demo first")
    parser.add_argument("--quick", action="store_true", help="with --run: the quick demo")
    parser.add_argument("--out", type=Path, default=None,
                        help="with --run: the demo folder (default: a temporary one)")
    args = parser.parse_args()
    if not args.run:
        if args.report is None:
            parser.error("give a report folder, or --run")
        print_report(args.report)
        return
    from tacelearn.study import run_demo

    out = args.out or Path(tempfile.mkdtemp(prefix="tacelearn-demo-"))
    print(f"machine before the run: {machine()}", file=sys.stderr)
    start = time.perf_counter()
    result = run_demo(out, quick=args.quick, verbose=True)
    print_report(result.out_dir, time.perf_counter() - start)


if __name__ == "__main__":
    main()
