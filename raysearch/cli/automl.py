"""The AutoML commands of the ``raysearch`` CLI::

raysearch automl train.csv --label y --time-budget 300 --out model_dir
raysearch predict model_dir test.csv --out predictions.csv
raysearch demo                       # AutoML on a data set bundled with scikit-learn
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_commands", "add_verbosity", "check_model_dir", "verbosity"]


def add_verbosity(p: argparse.ArgumentParser, quiet_help: str | None = None) -> None:
    """The ``--quiet`` and ``-v/--verbose`` options that :func:`verbosity` reads."""
    p.add_argument("--quiet", action="store_true", help=quiet_help)
    p.add_argument(
        "-v", "--verbose", action="store_true", help="also Ray's and Tune's own messages"
    )


def verbosity(args: argparse.Namespace) -> int:
    """0 with --quiet, 2 with -v (Ray's and Tune's own messages too), else 1."""
    if getattr(args, "quiet", False):
        return 0
    return 2 if getattr(args, "verbose", False) else 1


def check_model_dir(out: str) -> None:
    """Refuses, before any fitting, a model directory ``out`` that cannot be written: an
    existing file, or a path under one, or one in a directory without write permission."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {out!r} is an existing file; a model is saved to a directory")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise ValueError(f"--out {out!r}: {str(parent)!r} is a file, not a directory")
    if not os.access(parent, os.W_OK):
        raise ValueError(f"--out {out!r}: cannot write in {str(parent.resolve())!r}")


def cmd_automl(args: argparse.Namespace) -> int:
    import pandas as pd

    from raysearch.automl import AutoML

    check_model_dir(args.out)
    families = args.families.split(",") if args.families else None
    model = AutoML(
        args.label,
        metric=args.metric,
        problem_type=args.problem_type,
        time_budget_s=args.time_budget,
        seed=args.seed,
        families=families,
        resources={"cpu": args.cpus_per_trial, "gpu": args.gpus_per_trial},
        verbose=verbosity(args),
    ).fit(args.data, infer_limit=args.infer_limit)
    if args.refit_full:
        model.refit_full()
    model.save(args.out)
    with pd.option_context("display.width", 160, "display.max_columns", 10):
        print(model.leaderboard().head(args.top).to_string(index=False))
    print(
        f"\nvalidation: {model.validation_}; fit took {model.fit_time_s_:.1f} s; model saved to {args.out}"
    )
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import pandas as pd

    from raysearch.automl import AutoML, load_table

    try:
        model = AutoML.load(args.model_dir)
    except FileNotFoundError as err:  # not a saved model: one line, exit status 2
        raise ValueError(str(err)) from None
    except (OSError, EOFError, TypeError, pickle.UnpicklingError) as err:  # a damaged one
        raise ValueError(f"cannot load a model from {args.model_dir!r}: {err}") from None
    if args.proba and model.task_ == "regression":
        raise ValueError(
            f"--proba is for classification models; the model in {args.model_dir!r} is a "
            "regression model (its predictions are the values)"
        )
    frame = load_table(args.data)
    if args.proba:  # one pass: values unseen in training are reported once, not twice
        proba = model.predict_proba(frame)
        labels = model.labels_from(proba)
    else:
        labels = model.predict(frame)
    out = pd.DataFrame({model.label: labels}, index=frame.index)
    if args.proba:
        for j, cls in enumerate(model.classes_ or []):
            out[f"proba_{cls}"] = proba[:, j]
    if args.out:
        if str(args.out).endswith(".parquet"):  # keeps the label's dtype exactly
            out.to_parquet(args.out, index=False)
        else:
            out.to_csv(args.out, index=False)
        print(f"wrote {len(out)} predictions to {args.out}")
    else:
        out.to_csv(sys.stdout, index=False)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from sklearn.datasets import load_digits
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import train_test_split

    from raysearch.automl import AutoML

    if args.out:
        check_model_dir(args.out)
    frame = load_digits(as_frame=True).frame
    train, test = train_test_split(
        frame, test_size=0.25, random_state=args.seed, stratify=frame["target"]
    )
    print(
        f"raysearch demo: AutoML on scikit-learn's digits (8x8 images as 64 columns, 10 classes), "
        f"{len(train)} training rows, {args.time_budget:.0f} s budget, local Ray"
    )
    model = AutoML(
        "target", time_budget_s=args.time_budget, seed=args.seed, verbose=verbosity(args)
    )
    model.fit(train)
    print(model.leaderboard().head(args.top).to_string(index=False))
    accuracy = float(accuracy_score(test["target"], model.predict(test)))
    print(
        f"\nheld-out test ({len(test)} rows): log_loss {model.score(test):.4f}, accuracy {accuracy:.4f}; "
        f"fit took {model.fit_time_s_:.1f} s"
    )
    if args.out:
        model.save(args.out)
        print(f"model saved to {args.out}  (raysearch predict {args.out} new.csv)")
    return 0


def add_commands(sub: Any) -> None:
    """Adds ``automl``, ``predict`` and ``demo`` to the CLI's subparsers."""
    p = sub.add_parser("automl", help="fit AutoML on a table (CSV/Parquet) within a time budget")
    p.add_argument("data", help="training table: .csv or .parquet")
    p.add_argument("--label", required=True, help="the column to predict")
    p.add_argument(
        "--time-budget",
        type=float,
        default=300.0,
        help="seconds, everything included (default 300)",
    )
    p.add_argument("--out", required=True, help="directory to save the model to")
    p.add_argument(
        "--metric", help="roc_auc, log_loss, accuracy, f1, rmse, mae, r2 (default by task)"
    )
    p.add_argument("--problem-type", choices=("binary", "multiclass", "regression"))
    p.add_argument("--families", help="comma-separated model families (default all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--gpus-per-trial", type=float, default=0.0)
    p.add_argument(
        "--infer-limit",
        type=float,
        help="the most seconds per row the final ensemble may take to predict (e.g. 0.0001)",
    )
    p.add_argument(
        "--refit-full",
        action="store_true",
        help="refit the ensemble's configurations on all rows after fit (one model per "
        "member instead of one per fold: faster predictions; takes extra time)",
    )
    p.add_argument("--top", type=int, default=10)
    add_verbosity(p)
    p.set_defaults(func=cmd_automl)

    p = sub.add_parser("predict", help="predict with a model saved by `raysearch automl`")
    p.add_argument("model_dir")
    p.add_argument("data", help="table to predict: .csv or .parquet")
    p.add_argument(
        "--out",
        help="file to write: .parquet keeps the label's dtype (category too), anything else "
        "is CSV (default: CSV on standard output)",
    )
    p.add_argument("--proba", action="store_true", help="add one probability column per class")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("demo", help="AutoML on a data set bundled with scikit-learn, on local Ray")
    p.add_argument("--time-budget", type=float, default=30.0, help="seconds (default 30)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="also save the model to this directory")
    p.add_argument("--top", type=int, default=8)
    add_verbosity(p)
    p.set_defaults(func=cmd_demo)
