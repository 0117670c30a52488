"""The ``tacelearn`` command line: ``demo``, ``study`` and ``predict``."""

from __future__ import annotations

import argparse
import signal
import sys
import traceback

__all__ = ["main"]


class CommandError(Exception):
    """An error the command line reports in one line (no traceback unless --debug)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (what ``timeout``, Slurm and Kubernetes send): handled like Ctrl-C, so that
    every half-written output is removed on the way out."""


#: Exit statuses of a run stopped by a signal, as a shell reports them (128 + signal number).
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


def _raise_terminated(signum, frame):
    raise Terminated()


def _tuple_of_ints(text):
    try:
        return tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}"
                                         ) from None


def _cv(text):
    if text.lower() in ("none", "0"):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'none', got {text!r}") from None


def _add_model_options(parser, *, defaults):
    group = parser.add_argument_group("models")
    group.add_argument("--models", type=lambda s: tuple(s.split(",")),
                       default=defaults["models"],
                       help="comma-separated models among clinical,dltr,dltr_lr,dltr_mlp "
                            "(default: all four)")
    group.add_argument("--train-split", default="train",
                       help="split the models are fitted on (default: train)")
    group.add_argument("--screen-on", choices=("train+internal", "train"),
                       default="train+internal",
                       help="patients on whom clinical factors are screened (default: "
                            "train+internal, as the paper did)")
    group.add_argument("--backbone", default=defaults["backbone"],
                       help=f"timm backbone of the CNN (default: {defaults['backbone']})")
    group.add_argument("--patch-size", type=int, default=defaults["patch_size"],
                       help=f"patch side in pixels (default: {defaults['patch_size']})")
    group.add_argument("--epochs", type=int, default=defaults["max_epochs"],
                       help=f"CNN training epochs (default: {defaults['max_epochs']})")
    group.add_argument("--batch-size", type=int, default=32, help="CNN batch size (default 32)")
    group.add_argument("--pretrained", default=None,
                       help="local .pth/.safetensors weights file for the backbone")
    group.add_argument("--device", default="auto",
                       help="auto (CUDA when present), cpu, cuda or cuda:N (default: auto)")
    group.add_argument("--fusion-cv", type=_cv, default=defaults["fusion_cv"],
                       help="folds of the out-of-fold CNN outputs that train the fusion heads, "
                            "or 'none' for the paper's in-sample fusion "
                            f"(default: {defaults['fusion_cv']})")
    group.add_argument("--mlp-hidden", type=_tuple_of_ints,
                       default=defaults["mlp_hidden_layer_sizes"],
                       help="hidden layers of DLTR_MLP, e.g. 512,512")
    group.add_argument("--threshold", type=float, default=0.5,
                       help="probability threshold of Table 2's metrics (default: 0.5)")
    group.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    group.add_argument("--n-jobs", type=int, default=-1,
                       help="parallel patch extraction (default: all cores)")
    genomics = parser.add_argument_group("radiogenomics (optional)")
    genomics.add_argument("--expression", default=None,
                          help="expression CSV (samples x genes, log2) for part of the cohort")
    genomics.add_argument("--gene-sets", default=None, help="local GMT file of gene sets")
    genomics.add_argument("--signature", default=None,
                          help="signature matrix CSV (genes x cell types) for deconvolution")


def _options_from(args):
    from ._options import StudyOptions

    return dict(
        models=args.models, train_split=args.train_split, screen_on=args.screen_on,
        backbone=args.backbone, patch_size=args.patch_size, max_epochs=args.epochs,
        batch_size=args.batch_size, pretrained=args.pretrained, device=args.device,
        fusion_cv=args.fusion_cv, mlp_hidden_layer_sizes=args.mlp_hidden,
        threshold=args.threshold, random_state=args.seed, n_jobs=args.n_jobs,
    ), StudyOptions


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
    from ..datasets import read_cohort
    from ._runner import run_study

    settings, _ = _options_from(args)
    cohort = read_cohort(args.cohort)
    result = run_study(cohort, out_dir=args.out, overwrite=args.overwrite,
                       cache_dir=args.cache, verbose=not args.quiet,
                       **_radiogenomics_inputs(args), **settings)
    print(f"report written to {result.out_dir / 'index.html'}")


def _demo(args):
    from ._demo import run_demo

    result = run_demo(args.out, quick=args.quick, device=args.device, n_jobs=args.n_jobs,
                      verbose=not args.quiet)
    print(f"report written to {result.out_dir / 'index.html'}")


def _predict(args):
    from ..datasets import read_cohort
    from ._predict import predict_cohort

    cohort = read_cohort(args.cohort)
    scores = predict_cohort(args.model, cohort, out=args.out, overwrite=args.overwrite,
                            unknown_categories=args.unknown_categories, cache_dir=args.cache)
    print(f"{len(scores)} scores written to {args.out}")


def _parser():
    parser = argparse.ArgumentParser(
        prog="tacelearn",
        description="Predict HCC response to TACE from MRI and clinical data, and run the "
                    "multicentre validation study (Chen et al., BMC Cancer 2025).",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo", help="generate the synthetic multicentre cohort and run the whole study on it",
        description="Generate the synthetic multicentre cohort (NIfTI files with a known "
                    "response probability) into OUT/cohort and run the study into "
                    "OUT/report. A second run reuses the cohort and the cached patches and "
                    "CNN weights in OUT/cache.")
    demo.add_argument("--out", default="tacelearn-demo", help="output folder (default: "
                                                               "tacelearn-demo)")
    demo.add_argument("--quick", action="store_true",
                      help="small images, ResNet18 and few epochs: a few minutes on a CPU")
    demo.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    demo.add_argument("--n-jobs", type=int, default=-1, help="parallel workers (default: all)")
    demo.add_argument("--quiet", action="store_true", help="no progress messages")
    demo.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                      help=argparse.SUPPRESS)
    demo.set_defaults(handler=_demo)

    from ._options import StudyOptions

    defaults = StudyOptions().to_dict()
    study = commands.add_parser(
        "study", help="run the study on a cohort manifest and write an HTML report",
        description="Fit the clinical, DLTR, DLTR_LR and DLTR_MLP models on the training "
                    "split of a cohort manifest (CSV, see docs/cohort.md), evaluate every "
                    "other split and write a report folder: index.html, tables/, figures/, "
                    "models/ and summary.json.")
    study.add_argument("--cohort", required=True, help="cohort manifest (CSV)")
    study.add_argument("--out", required=True, help="report folder to create")
    study.add_argument("--cache", default=None,
                       help="cache folder for patches and CNN weights (default: "
                            ".tacelearn-cache beside the manifest)")
    study.add_argument("--overwrite", action="store_true", help="replace an existing report")
    study.add_argument("--quiet", action="store_true", help="no progress messages")
    study.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help=argparse.SUPPRESS)
    _add_model_options(study, defaults=defaults)
    study.set_defaults(handler=_study)

    predict = commands.add_parser(
        "predict", help="score a cohort with a saved model",
        description="Load a model saved by the study (OUT/models/<name>) or by "
                    "tacelearn.estimators.save_model and write one score per patient.")
    predict.add_argument("--model", required=True, help="saved model folder")
    predict.add_argument("--cohort", required=True, help="cohort manifest (CSV)")
    predict.add_argument("--out", required=True, help="CSV file of scores to write")
    predict.add_argument("--overwrite", action="store_true", help="replace an existing file")
    predict.add_argument("--unknown-categories", choices=("warn", "error", "ignore"),
                         default="warn",
                         help="what a categorical value never seen in training does: a warning "
                              "naming it (default), an error, or nothing")
    predict.add_argument("--cache", default=None,
                         help="cache folder for the patches (default: none)")
    predict.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help=argparse.SUPPRESS)
    predict.set_defaults(handler=_predict)
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
    parser = _parser()
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        if args.command == "study" and args.cache is None:
            from pathlib import Path

            args.cache = str(Path(args.cohort).resolve().parent / ".tacelearn-cache")
        args.handler(args)
    except Terminated:
        print("tacelearn: terminated (SIGTERM); partial outputs removed", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("tacelearn: interrupted; partial outputs removed", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as error:  # one line for users, the traceback with --debug
        if args.debug:
            traceback.print_exc()
        print(f"tacelearn: error: {_one_line(error)}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
