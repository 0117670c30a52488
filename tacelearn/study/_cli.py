"""The ``tacelearn`` command line: ``demo``, ``study``, ``predict`` and ``manifest``.

Only the standard library and the settings module are imported to build the parser, so that
``tacelearn --help`` answers at once; each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import signal
import sys
import traceback
import warnings
from contextlib import contextmanager

from .. import __version__
from ._settings import add_settings_arguments, settings_from_arguments

__all__ = ["main"]

#: Exit statuses of a run stopped by a signal, as a shell reports them (128 + signal number).
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class CommandError(Exception):
    """An error the command line reports in one line (no traceback unless --debug)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (what ``timeout``, Slurm and Kubernetes send): handled like Ctrl-C, so that
    every half-written output is removed on the way out."""


def _raise_terminated(signum, frame):
    raise Terminated()


@contextmanager
def _warnings_as_lines():
    """Warnings raised inside the block printed as one 'tacelearn: warning:' line each."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for message in dict.fromkeys(str(w.message) for w in caught):
        print(f"tacelearn: warning: {message}", file=sys.stderr)


def _radiogenomics_inputs(args):
    if args.expression is None and (args.gene_sets or args.signature):
        raise CommandError("--gene-sets and --signature need --expression")
    if args.expression is None:
        return {}
    if args.gene_sets is None:
        raise CommandError("--expression needs --gene-sets (a local GMT file)")
    from ..genomics import read_expression

    inputs = {"expression": read_expression(args.expression), "gene_sets": args.gene_sets}
    if args.signature:
        import pandas as pd

        inputs["signature"] = pd.read_csv(args.signature, index_col=0)
    return inputs


def _study(args):
    from pathlib import Path

    settings = settings_from_arguments(args)
    from ..datasets import read_cohort
    from ._runner import run_study

    cache = args.cache or str(Path(args.cohort).resolve().parent / ".tacelearn-cache")
    cohort = read_cohort(args.cohort)
    result = run_study(cohort, out_dir=args.out, settings=settings, overwrite=args.overwrite,
                       cache_dir=cache, verbose=not args.quiet, **_radiogenomics_inputs(args))
    print(f"report written to {result.out_dir / 'index.html'}")


def _demo(args):
    from ._demo import run_demo

    result = run_demo(args.out, quick=args.quick, device=args.device, n_jobs=args.n_jobs,
                      scheduler=args.scheduler, verbose=not args.quiet)
    print(f"report written to {result.out_dir / 'index.html'}")


def _predict(args):
    from ..datasets import read_cohort
    from ._predict import predict_cohort

    cohort = read_cohort(args.cohort)
    with _warnings_as_lines():
        scores = predict_cohort(args.model, cohort, out=args.out, overwrite=args.overwrite,
                                unknown_categories=args.unknown_categories,
                                cache_dir=args.cache)
    print(f"{len(scores)} scores written to {args.out}")


def _manifest(args):
    from ._manifest_command import make_manifest

    sequences = {f"{name}_path": getattr(args, name) for name in ("t1c", "t2", "mask")
                 if getattr(args, name)}
    report = make_manifest(args.root, clinical=args.clinical, out=args.out,
                           layout=args.layout, sequences=sequences or None,
                           tumour_pattern=args.tumour_pattern,
                           patient_pattern=args.patient_pattern, id_column=args.id_column,
                           complete_only=args.complete_only, report_path=args.report,
                           overwrite=args.overwrite)
    print(report)


def _common(parser):
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bars or messages (errors still print)")
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the full traceback of an error")


def _demo_parser(commands):
    demo = commands.add_parser(
        "demo", help="generate the synthetic multicentre cohort and run the whole study on it",
        description="Generate the synthetic multicentre cohort (NIfTI files with a known "
                    "response probability) into OUT/cohort and run the study into "
                    "OUT/report. Start with --quick for a first look. A second run reuses the "
                    "cohort and the cached patches and CNN weights in OUT/cache.")
    demo.add_argument("--out", default="tacelearn-demo",
                      help="output folder (default: tacelearn-demo)")
    demo.add_argument("--quick", action="store_true",
                      help="small images, ResNet18 and few epochs: a first look in minutes")
    demo.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    demo.add_argument("--n-jobs", type=int, default=-1,
                      help="parallel workers of the demo (default: all cores)")
    demo.add_argument("--scheduler", default=None, metavar="ADDRESS",
                      help="Dask scheduler (tcp://host:8786 or a scheduler file)")
    _common(demo)
    demo.set_defaults(handler=_demo)


def _study_parser(commands):
    study = commands.add_parser(
        "study", help="run the study on a cohort manifest and write an HTML report",
        description="Fit the models on the training split of a cohort manifest (CSV, see "
                    "docs/cohort.md), evaluate every other split and write a report folder: "
                    "index.html, tables/, figures/, models/ and summary.json. Every setting "
                    "is checked before anything is computed.")
    study.add_argument("--cohort", required=True, help="cohort manifest (CSV)")
    study.add_argument("--out", required=True, help="report folder to create")
    study.add_argument("--cache", default=None,
                       help="cache folder for patches, radiomics and CNN weights (default: "
                            ".tacelearn-cache beside the manifest)")
    study.add_argument("--overwrite", action="store_true",
                       help="replace an existing report (only a report tacelearn wrote)")
    _common(study)
    add_settings_arguments(study)
    genomics = study.add_argument_group("radiogenomics (optional)")
    genomics.add_argument("--expression", default=None,
                          help="expression CSV (samples x genes, log2) for part of the cohort")
    genomics.add_argument("--gene-sets", default=None, help="local GMT file of gene sets")
    genomics.add_argument("--signature", default=None,
                          help="signature matrix CSV (genes x cell types) for deconvolution")
    study.set_defaults(handler=_study)


def _predict_parser(commands):
    predict = commands.add_parser(
        "predict", help="score a cohort with a saved model",
        description="Load a model saved by the study (OUT/models/<name>) or by "
                    "tacelearn.estimators.save_model and write one score per patient.")
    predict.add_argument("--model", required=True, help="saved model folder")
    predict.add_argument("--cohort", required=True, help="cohort manifest (CSV)")
    predict.add_argument("--out", required=True, help="CSV file of scores to write")
    predict.add_argument("--overwrite", action="store_true",
                         help="replace an existing scores file")
    predict.add_argument("--unknown-categories", choices=("warn", "error", "ignore"),
                         default="warn",
                         help="what a categorical value never seen in training does: a warning "
                              "naming it (default), an error, or nothing")
    predict.add_argument("--cache", default=None,
                         help="cache folder for the patches (default: none)")
    _common(predict)
    predict.set_defaults(handler=_predict)


def _manifest_parser(commands):
    manifest = commands.add_parser(
        "manifest", help="build a cohort manifest from a folder of images and a clinical CSV",
        description="Walk ROOT (DICOM series or NIfTI files, one folder per patient by "
                    "default), recognise the T1C, T2 and mask of each patient, join the "
                    "clinical CSV on patient_id and write the manifest CSV with paths "
                    "relative to it. Prints what matched and what did not.")
    manifest.add_argument("root", help="folder of the images")
    manifest.add_argument("--clinical", required=True, help="clinical CSV (patient_id, ...)")
    manifest.add_argument("--out", required=True, help="manifest CSV to write")
    manifest.add_argument("--layout", choices=("patient_folders", "flat", "dicom_patient_id"),
                          default="patient_folders",
                          help="how images are grouped by patient (default: patient_folders)")
    for sequence in ("t1c", "t2", "mask"):
        manifest.add_argument(f"--{sequence}", default=None, metavar="REGEX",
                              help=f"pattern recognising the {sequence.upper()} series or file")
    manifest.add_argument("--tumour-pattern", default=None, metavar="REGEX",
                          help="pattern of the tumour segment in a DICOM-SEG")
    manifest.add_argument("--patient-pattern", default=None, metavar="REGEX",
                          help="pattern extracting the patient id from a file or folder name")
    manifest.add_argument("--id-column", default="patient_id",
                          help="patient id column of the clinical CSV (default: patient_id)")
    manifest.add_argument("--complete-only", action="store_true",
                          help="write only the patients with every image")
    manifest.add_argument("--report", default=None, metavar="JSON",
                          help="also write what matched and what did not as JSON")
    manifest.add_argument("--overwrite", action="store_true",
                          help="replace an existing manifest")
    _common(manifest)
    manifest.set_defaults(handler=_manifest)


def _parser():
    parser = argparse.ArgumentParser(
        prog="tacelearn",
        description="Predict HCC response to TACE from MRI and clinical data, and run the "
                    "multicentre validation study (Chen et al., BMC Cancer 2025). First look: "
                    "tacelearn demo --quick.")
    parser.add_argument("--version", action="version", version=f"tacelearn {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _demo_parser(commands)
    _study_parser(commands)
    _predict_parser(commands)
    _manifest_parser(commands)
    return parser


def _one_line(error, limit=800):
    """The error's cause on one line: multi-line messages are joined with '; '."""
    lines = [line.strip().removeprefix("- ") for line in str(error).splitlines()]
    text = "; ".join(line for line in lines if line) or type(error).__name__
    text = text.replace(":;", ":")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(error).__name__}: {text}"


def main(argv=None):
    """Entry point of the ``tacelearn`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        args.handler(args)
    except Terminated:
        print("tacelearn: terminated (SIGTERM); partial outputs removed", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("tacelearn: interrupted; partial outputs removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # one line for users, the traceback with --debug
        if getattr(args, "debug", False):
            traceback.print_exc()
        print(f"tacelearn: error: {_one_line(error)}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
