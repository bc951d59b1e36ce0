"""The ``raysearch`` command line.

::

    raysearch run EXPERIMENT.yaml [--resume]    # run (or resume) an experiment file
    raysearch demo                              # AutoML on a bundled data set, local Ray
    raysearch demo-tune                         # tune LightGBM with raysearch.run on local Ray
    raysearch automl train.csv --label y --out model_dir   # AutoML within a time budget
    raysearch predict model_dir test.csv --out predictions.csv
    raysearch leaderboard EXPERIMENT_DIR        # the trials of an experiment, best first
    raysearch pbt-lineage EXPERIMENT_DIR        # plot a PBT/PB2 population's schedules (PNG)
    raysearch report EXPERIMENT_DIR             # one self-contained HTML page of the experiment
    raysearch submit EXPERIMENT.yaml --address http://HEAD:8265   # run it on a cluster as a Ray job
    raysearch validate-cluster cluster/*.yaml   # check launcher YAMLs / KubeRay manifests offline
    raysearch list                              # registered searchers and schedulers

``raysearch run`` joins the cluster named by ``RAY_ADDRESS`` (as under ``ray job submit``)
and starts a local Ray instance otherwise.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from raysearch.cli.automl import add_commands, add_verbosity, verbosity
from raysearch.cli.report import add_report_command, add_run_report_options, live_report_callbacks

__all__ = ["main"]

logger = logging.getLogger("raysearch")

T = TypeVar("T")


class CLIError(Exception):
    """An error to report as one line, exit status 2."""


def _print_board(board: Any, metric: str, top: int) -> None:
    import pandas as pd

    if board is None or len(board) == 0:
        print("no trials")
        return
    columns = [c for c in board.columns if c not in ("error",)]
    shown = board[columns].head(top)
    with pd.option_context(
        "display.max_columns", 30, "display.width", 160, "display.max_colwidth", 40
    ):
        print(shown.to_string(index=False))
    failed = int((board["status"] != "TERMINATED").sum())
    no_value = int(((board["status"] == "TERMINATED") & board[metric].isna()).sum())
    summary = f"{len(board)} trials, {failed} failed"
    if no_value:
        summary += f", {no_value} without a value of {metric} (NaN or never reported)"
    if failed + no_value < len(board):  # failures and missing values sort last
        summary += f"; best {metric} = {board.iloc[0][metric]}"
    else:
        summary += f"; no best {metric}"
    print(f"\n{summary}")


def _load_trainable(path: str) -> Any:
    from raysearch.core.registry import import_object

    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        trainable = import_object(path)
    except ImportError as err:
        raise CLIError(f"cannot load the trainable: {err}") from None
    if not callable(trainable):
        raise CLIError(f"trainable {path!r} is not a function or class")
    module = sys.modules.get(getattr(trainable, "__module__", ""), None)
    module_file = getattr(module, "__file__", None)
    if module is not None and module_file and _is_local(module_file):
        # A module from the working directory is not importable on other nodes unless the
        # job ships the directory; pickling it by value works either way.
        import ray.cloudpickle

        ray.cloudpickle.register_pickle_by_value(module)
    return trainable


def _is_local(module_file: str) -> bool:
    path = Path(module_file).resolve()
    if "site-packages" in path.parts or "dist-packages" in path.parts:
        return False
    try:
        path.relative_to(Path.cwd().resolve())
    except ValueError:
        return False
    return True


def cmd_run(args: argparse.Namespace) -> int:
    from raysearch.cli.experiment import load_experiment

    experiment = load_experiment(args.experiment)
    if args.name:
        experiment.name = args.name
    if args.storage_path:
        experiment.storage_path = (
            str(Path(args.storage_path).resolve())
            if "://" not in args.storage_path
            else args.storage_path
        )
    if args.num_samples is not None:
        experiment.num_samples = args.num_samples
    if args.budget is not None:
        experiment.budget = args.budget
    if args.resume and not experiment.name:
        raise CLIError(
            "--resume needs the experiment's name: set 'name' in the file or pass --name"
        )
    trainable = _load_trainable(experiment.trainable)

    import raysearch
    from raysearch.tune.run import Interrupted, TrialsFailedError

    try:
        result = raysearch.run(
            trainable,
            experiment.space,
            searcher=experiment.build_searcher(),
            scheduler=experiment.build_scheduler(),
            resume=args.resume,
            callbacks=live_report_callbacks(args),
            verbose=verbosity(args),
            **experiment.run_kwargs(),
        )
    except Interrupted as err:
        print(f"raysearch: {_resume_hint(args, experiment, err)}", file=sys.stderr)
        return 130
    except TrialsFailedError as err:
        print(
            f"raysearch: error: {err.reason}. Fix the trainable and run again (or set "
            f"'fail_fast: 0' in the file to run every trial anyway); the trials are in "
            f"{err.experiment_path}",
            file=sys.stderr,
        )
        return 1
    _print_board(result.leaderboard, experiment.metric, args.top)
    print(f"experiment: {result.experiment_path}")
    if result.best_config is None:
        errors = result.num_errors
        print(
            "every trial failed"
            if errors == result.num_trials
            else f"no trial reported a value of {experiment.metric!r} "
            f"({result.num_trials - errors} reported NaN or nothing, {errors} failed)",
            file=sys.stderr,
        )
        return 1
    return 0


def _resume_hint(args: argparse.Namespace, experiment: Any, err: Any) -> str:
    """Where an interrupted run's state is and the ``raysearch run --resume`` that goes on."""
    parts = ["raysearch", "run", args.experiment, "--resume"]
    if experiment.name != err.name:  # Tune named it
        parts += ["--name", err.name]
    if experiment.storage_path != err.storage_path:
        parts += ["--storage-path", err.storage_path]
    if args.num_samples is not None:
        parts += ["--num-samples", str(args.num_samples)]
    if args.budget is not None:
        parts += ["--budget", str(args.budget)]
    return (
        f"interrupted; the experiment's state is saved in {err.experiment_path}; continue it "
        f"with: {' '.join(shlex.quote(p) for p in parts)}"
    )


def cmd_demo_tune(args: argparse.Namespace) -> int:
    import raysearch
    from raysearch.core.registry import SEARCHERS
    from raysearch.examples.demo import demo_space, train_lightgbm
    from raysearch.space import space_from_dict

    space = space_from_dict({**demo_space(), "seed": args.seed})
    print(
        f"raysearch demo: tuning LightGBM on breast-cancer data (569 rows, 3-fold CV ROC AUC), "
        f"{args.num_samples} trials, Sobol search, local Ray"
    )
    result = raysearch.run(
        train_lightgbm,
        space,
        metric="auc",
        mode="max",
        searcher=SEARCHERS.create("sobol", seed=args.seed),
        num_samples=args.num_samples,
        storage_path=args.storage_path,
        name=args.name,
        verbose=verbosity(args),
    )
    _print_board(result.leaderboard, "auc", args.top)
    print(f"\nbest config: {result.best_config}")
    print(
        f"experiment: {result.experiment_path}  (raysearch leaderboard {result.experiment_path})"
    )
    return 0 if result.best_config is not None else 1


def _read_experiment_dir(directory: Path, read: Callable[[Path], T]) -> T:
    """``read(directory)``, with a missing directory or file reported as a :class:`CLIError`."""
    if not directory.is_dir():
        raise CLIError(f"{str(directory)!r} is not a directory")
    try:
        return read(directory)
    except FileNotFoundError as err:
        raise CLIError(str(err)) from None


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from raysearch.tune.callbacks import read_experiment_info, read_trial_log
    from raysearch.tune.results import leaderboard_frame, reported_metrics

    directory = Path(args.experiment_dir)
    records = _read_experiment_dir(directory, read_trial_log)
    info = read_experiment_info(directory)
    metric = args.metric or info.get("metric")
    mode = args.mode or info.get("mode")
    if not metric or mode not in ("min", "max"):
        raise CLIError("the experiment does not record its metric/mode: pass --metric and --mode")
    known = reported_metrics(records)
    if args.metric and records and metric not in known and metric != info.get("metric"):
        raise CLIError(
            f"--metric {metric!r}: no trial reported it; the metrics reported: "
            f"{', '.join(known) or 'none'}"
        )
    board = leaderboard_frame(records, metric, mode)
    if args.csv:
        board.to_csv(args.csv, index=False)
        print(f"wrote {len(board)} rows to {args.csv}")
    _print_board(board, metric, args.top)
    return 0


def _format_params(params: dict[str, Any]) -> str:
    parts = []
    for k, v in params.items():
        parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    return ", ".join(parts)


def cmd_pbt_lineage(args: argparse.Namespace) -> int:
    from raysearch.schedulers.pbt.lineage import LINEAGE_FILE, plot_lineage, read_lineage

    directory = Path(args.experiment_dir)
    lineage = _read_experiment_dir(directory, read_lineage)
    best = args.member or lineage.best()
    if best is None:
        raise CLIError(f"{directory / LINEAGE_FILE} has no member with a score yet")
    if best not in lineage.members():
        raise CLIError(
            f"no member {best!r} in the lineage (members: {', '.join(lineage.members())})"
        )
    out = Path(args.out) if args.out else directory / "pbt_lineage.png"
    plot_lineage(lineage, out, member=best)
    score = lineage.last_score(best)
    print(
        f"{len(lineage.members())} members, {lineage.n_exploits()} exploits; best member {best} "
        f"({lineage.metric}={score:.6g} at {lineage.time_attr} {lineage.end_step(best):g})"
        if score is not None
        else f"{len(lineage.members())} members; member {best}"
    )
    print(f"schedule of {best} (inherited from its donors):")
    for step, params in lineage.schedule(best):
        print(f"  from {lineage.time_attr} {step:g}: {_format_params(params)}")
    print(f"wrote {out}")
    return 0


#: Kept out of a submitted job's working directory on top of .rayignore/.gitignore: data
#: belongs in shared storage, results in the experiment's storage_path (Ray caps a working
#: directory at 512 MiB and uploads it to every node).
DEFAULT_EXCLUDES = [
    "data/",
    "raysearch_results/",
    "ray_results/",
    ".venv/",
    ".git/",
    "__pycache__/",
    "*.parquet",
    "*.feather",
    "*.npy",
    "*.npz",
    "*.pt",
    "*.ckpt",
    "*.h5",
]
_TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
#: How long ``raysearch submit`` waits for a freshly started head node's job agent.
AGENT_WAIT_S = 60.0


def _job_entrypoint(args: argparse.Namespace, relative: Path) -> list[str]:
    """The ``raysearch run`` command line the job runs on the cluster."""
    parts = ["raysearch", "run", str(relative), "--quiet"]
    if args.resume:
        parts.append("--resume")
    for flag, value in (
        ("--name", args.name),
        ("--storage-path", args.storage_path),
        ("--num-samples", args.num_samples),
        ("--budget", args.budget),
    ):
        if value is not None:
            parts += [flag, str(value)]
    return parts


def _submit_job(
    client: Any, entrypoint: str, runtime_env: dict[str, Any], submission_id: str | None
) -> Any:
    """Submits the job and returns its id; waits for a head node's job agent that is not up."""
    # A head node that has just started answers before its job agent is up ("No available
    # agent to submit job, please try again later"): wait for it rather than fail.
    deadline = time.monotonic() + AGENT_WAIT_S
    while True:
        try:
            return client.submit_job(
                entrypoint=entrypoint, runtime_env=runtime_env, submission_id=submission_id
            )
        except RuntimeError as err:
            if "No available agent" not in str(err) or time.monotonic() > deadline:
                raise
            logger.warning("the head node's job agent is not up yet; retrying: %s", err)
            time.sleep(2.0)


def _follow_job(client: Any, job_id: Any) -> int:
    """Prints the job's logs as they come until it ends; 0 if it succeeded, else 1."""
    printed = 0
    while True:
        raw = client.get_job_status(job_id)
        status = str(getattr(raw, "value", raw))
        logs = client.get_job_logs(job_id)
        if len(logs) > printed:
            print(logs[printed:], end="", flush=True)
            printed = len(logs)
        if status in _TERMINAL:
            print(f"job {job_id}: {status}")
            return 0 if status == "SUCCEEDED" else 1
        time.sleep(1.0)


def cmd_submit(args: argparse.Namespace) -> int:
    working_dir = Path(args.working_dir).resolve()
    experiment = Path(args.experiment).resolve()
    try:
        relative = experiment.relative_to(working_dir)
    except ValueError:
        raise CLIError(
            f"the experiment file {str(experiment)!r} must be inside the working dir {str(working_dir)!r}"
        ) from None
    if not experiment.exists():
        raise CLIError(f"experiment file {str(experiment)!r} does not exist")
    from raysearch.cli.experiment import load_experiment

    load_experiment(experiment)  # a bad file fails here, not minutes later on the cluster
    address = args.address or os.environ.get("RAY_ADDRESS")
    if not address:
        raise CLIError("no cluster address: pass --address http://HEAD:8265 or set RAY_ADDRESS")
    parts = _job_entrypoint(args, relative)
    from ray.job_submission import JobSubmissionClient

    excludes = [*DEFAULT_EXCLUDES, *args.exclude]
    client = JobSubmissionClient(address)
    job_id = _submit_job(
        client,
        " ".join(shlex.quote(p) for p in parts),
        {"working_dir": str(working_dir), "excludes": excludes},
        args.submission_id,
    )
    print(f"submitted {job_id} to {address}: {' '.join(parts)}")
    if args.no_wait:
        return 0
    return _follow_job(client, job_id)


def cmd_validate_cluster(args: argparse.Namespace) -> int:
    import warnings

    from raysearch.cli.clusters import (
        POD_CHECK_SKIPPED,
        ClusterConfigError,
        pod_check_available,
        validate_cluster_file,
    )

    failed = 0
    skipped_pods = False
    for path in args.files:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the skipped pod check: one note below
                kind = validate_cluster_file(path)
            print(f"ok     {path} ({kind})")
            skipped_pods |= kind in ("RayCluster", "RayJob") and not pod_check_available()
        except (ClusterConfigError, OSError) as err:
            failed += 1
            print(f"error  {err}", file=sys.stderr)
    if skipped_pods:
        print(f"note: {POD_CHECK_SKIPPED}", file=sys.stderr)
    return 1 if failed else 0


def cmd_list(args: argparse.Namespace) -> int:
    from raysearch.core.registry import SCHEDULERS, SEARCHERS

    print("searchers: auto (the default: picks one of these), " + ", ".join(SEARCHERS.names()))
    print("schedulers: " + ", ".join(SCHEDULERS.names()))
    return 0


def _add_overrides(p: argparse.ArgumentParser, storage_help: str) -> None:
    """The options that override an experiment file's name, storage path and trials."""
    p.add_argument("--name", help="override the experiment name")
    p.add_argument("--storage-path", help=storage_help)
    p.add_argument("--num-samples", type=int, help="override num_samples")
    p.add_argument(
        "--budget",
        help="override budget: total compute over all trials, in the scheduler's time_attr "
        "(500) or trial time (30m, 90s, 2h); trials keep starting until it is spent",
    )


def _add_run(sub: Any) -> None:
    p = sub.add_parser("run", help="run (or resume) an experiment file")
    p.add_argument("experiment", help="experiment YAML file")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the experiment storage_path/name if it exists",
    )
    _add_overrides(p, "override storage_path")
    p.add_argument("--top", type=int, default=10, help="leaderboard rows to print (default 10)")
    add_verbosity(p, "no progress lines")
    add_run_report_options(p)  # --report [SECONDS], --report-out
    p.set_defaults(func=cmd_run)


def _add_demo_tune(sub: Any) -> None:
    p = sub.add_parser(
        "demo-tune", help="tune LightGBM with raysearch.run on a bundled data set on local Ray"
    )
    p.add_argument("--num-samples", type=int, default=40, help="trials (default 40)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--storage-path", default=None, help="default ~/ray_results")
    p.add_argument("--name", default=None)
    p.add_argument("--top", type=int, default=10)
    add_verbosity(p)
    p.set_defaults(func=cmd_demo_tune)


def _add_experiment_dir_commands(sub: Any) -> None:
    """``leaderboard`` and ``pbt-lineage``: commands that read a finished experiment."""
    p = sub.add_parser("leaderboard", help="print the trials of an experiment, best first")
    p.add_argument("experiment_dir")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--metric", help="default: the metric recorded with the experiment")
    p.add_argument("--mode", choices=("min", "max"))
    p.add_argument("--csv", help="also write the whole leaderboard to this CSV file")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser(
        "pbt-lineage", help="plot the hyperparameter schedules of a PBT/PB2 experiment (PNG)"
    )
    p.add_argument("experiment_dir")
    p.add_argument("--out", help="PNG file (default EXPERIMENT_DIR/pbt_lineage.png)")
    p.add_argument("--member", help="the member to highlight (default: the best one)")
    p.set_defaults(func=cmd_pbt_lineage)


def _add_submit(sub: Any) -> None:
    p = sub.add_parser("submit", help="submit an experiment file to a Ray cluster as a job")
    p.add_argument("experiment", help="experiment YAML file, inside the working dir")
    p.add_argument("--address", help="the cluster's dashboard address (default RAY_ADDRESS)")
    p.add_argument(
        "--working-dir", default=".", help="project directory shipped with the job (default .)"
    )
    p.add_argument(
        "--resume", action="store_true", help="continue the experiment (raysearch run --resume)"
    )
    _add_overrides(p, "override storage_path (must be reachable from every node)")
    p.add_argument(
        "--exclude", action="append", default=[], help="more paths/globs to keep out of the job"
    )
    p.add_argument("--submission-id", help="job id to use (default: generated)")
    p.add_argument("--no-wait", action="store_true", help="return after submitting")
    p.set_defaults(func=cmd_submit)


def build_parser() -> argparse.ArgumentParser:
    """The ``raysearch`` parser: one subcommand per ``cmd_*`` function."""
    from raysearch import __version__

    parser = argparse.ArgumentParser(
        prog="raysearch", description="Ray-native hyperparameter search and AutoML."
    )
    parser.add_argument("--version", action="version", version=f"raysearch {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_run(sub)
    add_commands(sub)  # automl, predict, demo (AutoML on a bundled data set)
    _add_demo_tune(sub)
    _add_experiment_dir_commands(sub)
    add_report_command(sub)  # raysearch report DIR
    _add_submit(sub)

    p = sub.add_parser(
        "validate-cluster", help="check cluster-launcher YAMLs and KubeRay manifests offline"
    )
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_validate_cluster)

    p = sub.add_parser("list", help="registered searchers and schedulers")
    p.set_defaults(func=cmd_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from raysearch.cli.experiment import ExperimentError
    from raysearch.space import SpaceError

    try:
        code: int = args.func(args)
    # ValueError: ResourceError and argument errors from raysearch.run
    except (CLIError, ExperimentError, SpaceError, ValueError) as err:
        print(f"raysearch: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = "; resume with --resume (needs a name)" if args.command == "run" else ""
        print(f"raysearch: interrupted{hint}", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
