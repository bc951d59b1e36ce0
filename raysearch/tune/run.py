"""``raysearch.run``: a ``tune.Tuner`` with fast, safe defaults, and a leaderboard.

What it does for you (each can be overridden):
    * starts local Ray, or joins the cluster in ``RAY_ADDRESS`` (``ray job submit``);
    * refuses impossible resource requests before anything is queued (more GPUs per trial
      than any node has, zero CPUs) instead of leaving trials pending forever;
    * limits concurrency to what the resources fit, and lets the searcher queue that many
      trials (Tune allows custom searchers only one pending trial otherwise);
    * reuses actors for CPU trials (about 30x the trial rate of Tune's defaults for short
      trials), keeps only Tune's JSON logger, logs a compact progress line;
    * persists raysearch scheduler state with the experiment, so ``resume=True`` continues
      an interrupted experiment with its searcher and scheduler state;
    * returns the Tune ``ResultGrid`` plus a leaderboard ``pandas.DataFrame``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raysearch.core.registry import SCHEDULERS, SEARCHERS
from raysearch.core.scheduler import Scheduler as CoreScheduler
from raysearch.core.searcher import Searcher as CoreSearcher
from raysearch.core.values import flatten
from raysearch.space import Space

if TYPE_CHECKING:
    import pandas as pd
    from ray.tune import ResultGrid

__all__ = ["run", "RunResult", "ResourceError", "init_ray", "check_resources", "leaderboard_frame"]

logger = logging.getLogger("raysearch")


class ResourceError(ValueError):
    """A trial asks for resources the cluster can never give it."""


@dataclass
class RunResult:
    """What :func:`run` returns.

    Attributes:
        results: Tune's ``ResultGrid``.
        leaderboard: one row per trial, best first (see :func:`leaderboard_frame`).
        best_config: the config of the best trial (None if every trial failed).
        best_metrics: the last reported metrics of the best trial.
        experiment_path: where Tune wrote the experiment (pass it to ``resume`` or
            ``raysearch leaderboard``).
        elapsed_s: wall time of the run.
    """

    results: ResultGrid
    leaderboard: pd.DataFrame
    best_config: dict[str, Any] | None
    best_metrics: dict[str, Any] | None
    experiment_path: str
    elapsed_s: float
    metric: str
    mode: str

    @property
    def num_trials(self) -> int:
        return len(self.leaderboard)

    @property
    def num_errors(self) -> int:
        return int((self.leaderboard["status"] == "ERROR").sum()) if len(self.leaderboard) else 0


def _setup_logging(verbose: int) -> None:
    """raysearch logs progress at INFO; show it on stderr unless the user configured logging."""
    root = logging.getLogger("raysearch")
    if verbose <= 0:
        root.setLevel(logging.WARNING)
        return
    root.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)
    if not root.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[raysearch] %(message)s"))
        root.addHandler(handler)
        root.propagate = False


def init_ray(
    address: str | None = None, *, num_cpus: int | None = None, num_gpus: int | None = None
) -> None:
    """Connects to ``address`` or ``RAY_ADDRESS`` if set, else starts a local Ray instance.

    Does nothing if Ray is already initialized in this process.
    """
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        logger.info("joining the Ray cluster at %s", address)
        ray.init(address=address)
    else:
        ray.init(include_dashboard=False, num_cpus=num_cpus, num_gpus=num_gpus)


_RAY_NAMES = {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}
#: concurrency when an autoscaling node group has no upper bound
_UNBOUNDED_SLOTS = 64


def _alive_nodes() -> list[dict[str, float]]:
    import ray

    return [dict(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")]


def _autoscaler_groups() -> list[tuple[dict[str, float], int]]:
    """Node groups an autoscaler may add: (resources per node, max nodes; -1 = unbounded).

    Read from the cluster config Ray's autoscaler (``ray up``, KubeRay) publishes in the GCS;
    empty for a fixed cluster or local Ray.
    """
    try:
        from ray._private import state

        config = state.state.get_cluster_config()
    except Exception:  # no autoscaler, an older GCS: judge by the alive nodes alone
        return []
    if config is None:
        return []
    return [
        ({str(k): float(v) for k, v in group.resources.items()}, int(group.max_count))
        for group in config.node_group_configs
        if group.max_count != 0
    ]


def _fits(request: Mapping[str, float], node: Mapping[str, float]) -> bool:
    return all(node.get(_RAY_NAMES.get(k, k), 0.0) >= v for k, v in request.items() if v > 0)


def unfit_message(request: Mapping[str, float], nodes: list[dict[str, float]]) -> str | None:
    """Why no node (alive or addable) can ever run one trial, or None if one can."""
    if not nodes or any(_fits(request, n) for n in nodes):
        return None
    wanted = ", ".join(f"{v:g} {_RAY_NAMES.get(k, k)}" for k, v in request.items() if v > 0)
    have = "; ".join(
        ", ".join(
            f"{n.get(_RAY_NAMES.get(k, k), 0.0):g} {_RAY_NAMES.get(k, k)}"
            for k in request
            if request[k] > 0
        )
        for n in nodes
    )
    return (
        f"each trial asks for {wanted}, but no node of the Ray cluster (nor any node its "
        f"autoscaler can add) has that much (per node: {have}); trials would stay pending forever"
    )


def concurrency_for(
    request: Mapping[str, float],
    alive: list[dict[str, float]],
    groups: list[tuple[dict[str, float], int]],
) -> int:
    """How many trials of ``request`` the cluster runs at once: packed per node, over the
    alive nodes or, if larger, over what the autoscaler can grow to."""

    def per_node(node: Mapping[str, float]) -> int:
        counts = [
            int(node.get(_RAY_NAMES.get(k, k), 0.0) // v + 1e-9)
            for k, v in request.items()
            if v > 0
        ]
        return max(0, min(counts)) if counts else 1

    now = sum(per_node(n) for n in alive)
    if not groups:
        return max(1, now)
    if any(max_count < 0 for _, max_count in groups):
        return max(1, now, _UNBOUNDED_SLOTS)
    # An upper bound: alive worker nodes may already be members of these groups.
    grown = sum(per_node(node) * max_count for node, max_count in groups)
    return max(1, now + grown)


def check_resources(resources: Mapping[str, float]) -> dict[str, float]:
    """Validates per-trial ``resources`` against the connected cluster (alive nodes and the
    node groups its autoscaler can add).

    Returns:
        The normalised request (keys ``cpu``, ``gpu``, ``memory`` and custom resources).
    Raises:
        ResourceError: for a request no node can ever satisfy.
    """
    request = {
        str(k).lower() if str(k).lower() in _RAY_NAMES else str(k): float(v)
        for k, v in resources.items()
    }
    for k, v in request.items():
        if not math.isfinite(v) or v < 0:
            raise ResourceError(f"resources[{k!r}] must be a number >= 0, got {v}")
    if request.get("cpu", 1.0) <= 0:
        raise ResourceError(
            "resources['cpu'] must be > 0: a trial runs in a process that needs some CPU "
            "(use a fraction like 0.5 to pack several trials per core)"
        )
    request.setdefault("cpu", 1.0)
    nodes = _alive_nodes() + [node for node, _ in _autoscaler_groups()]
    message = unfit_message(request, nodes)
    if message is not None:
        raise ResourceError(message)
    return request


def _max_concurrent(request: Mapping[str, float]) -> int:
    return concurrency_for(request, _alive_nodes(), _autoscaler_groups())


def _tune_resources(request: Mapping[str, float]) -> dict[str, float]:
    out = {k: v for k, v in request.items() if v > 0 or k == "cpu"}
    out.setdefault("gpu", 0.0)
    return out


def _make_search_alg(
    searcher: Any, space: Space | None, seed: int | None, max_trials: int | None
) -> Any:
    from ray.tune.search import SearchAlgorithm
    from ray.tune.search import Searcher as RaySearcher

    from raysearch.tune.searcher import TuneSearcher

    if searcher is None:
        searcher = "random"
    if isinstance(searcher, str):
        core = SEARCHERS.create(searcher, seed=seed, max_trials=max_trials)
        alg = TuneSearcher(core)
    elif isinstance(searcher, CoreSearcher):
        alg = TuneSearcher(searcher)
    elif isinstance(searcher, RaySearcher | SearchAlgorithm):
        alg = searcher
    else:
        raise TypeError(
            f"searcher must be a name ({', '.join(SEARCHERS.names())}), a raysearch searcher or a "
            f"Ray Tune Searcher, got {type(searcher).__name__}"
        )
    if space is not None:
        if not isinstance(alg, TuneSearcher):
            raise TypeError(
                "a raysearch Space (conditional/nested) needs a raysearch searcher; Ray's own "
                "searchers only understand Tune param_space dicts"
            )
        if not alg.core.is_setup:
            alg.core.setup(space)
    return alg


def _make_scheduler(scheduler: Any, seed: int | None) -> Any:
    from ray.tune.schedulers import TrialScheduler

    from raysearch.tune.scheduler import TuneScheduler

    if scheduler is None:
        return None
    if isinstance(scheduler, str):
        kwargs = (
            {"seed": seed}
            if "seed" in inspect.signature(SCHEDULERS.get(scheduler)).parameters
            else {}
        )
        return TuneScheduler(SCHEDULERS.create(scheduler, **kwargs))
    if isinstance(scheduler, CoreScheduler):
        return TuneScheduler(scheduler)
    if isinstance(scheduler, TrialScheduler):
        return scheduler
    raise TypeError(
        f"scheduler must be a name ({', '.join(SCHEDULERS.names())}), a raysearch scheduler or a "
        f"Ray Tune TrialScheduler, got {type(scheduler).__name__}"
    )


def _silent_reporter() -> Any:
    """Tune's console/Jupyter status tables, switched off (raysearch logs its own line)."""
    from ray.tune import ProgressReporter

    class _Silent(ProgressReporter):
        def should_report(self, trials: list[Any], done: bool = False) -> bool:
            return False

        def report(self, trials: list[Any], done: bool, *sys_info: Any) -> None:
            return None

    return _Silent()


def _is_function_trainable(trainable: Any) -> bool:
    from ray.tune import Trainable

    target = trainable
    while hasattr(target, "__wrapped__"):
        target = target.__wrapped__
    return not (inspect.isclass(target) and issubclass(target, Trainable))


def _experiment_dir(storage_path: str | None, name: str | None) -> str | None:
    if name is None:
        return None
    base = storage_path or os.path.join(os.path.expanduser("~"), "ray_results")
    if "://" in base:
        return f"{base.rstrip('/')}/{name}"
    return str(Path(base).expanduser().resolve() / name)


def run(
    trainable: Callable[..., Any] | type,
    param_space: Mapping[str, Any] | Space | None = None,
    *,
    metric: str,
    mode: str,
    searcher: Any = None,
    scheduler: Any = None,
    num_samples: int | None = None,
    time_budget_s: float | None = None,
    resources: Mapping[str, float] | None = None,
    max_concurrent: int | None = None,
    storage_path: str | None = None,
    name: str | None = None,
    seed: int | None = None,
    resume: bool = False,
    reuse_actors: bool | str = "auto",
    max_failures: int = 0,
    stop: Mapping[str, Any] | Callable[..., bool] | None = None,
    callbacks: Sequence[Any] = (),
    loggers: str = "json",
    checkpoint_every_s: float | None = 5.0,
    verbose: int = 1,
    ray_address: str | None = None,
) -> RunResult:
    """Runs a hyperparameter search on Ray Tune with fast, safe defaults.

    Args:
        trainable: a Tune function trainable (``config -> dict | None``, may call
            ``tune.report``) or a ``tune.Trainable`` class.
        param_space: a Tune ``param_space`` (domains, ``grid_search``, constants) or a
            :class:`raysearch.space.Space` (conditional/nested spaces).
        metric, mode: the reported metric to optimise and ``"min"``/``"max"``.
        searcher: a registered name (``random``, ``sobol``, ``grid``, ...), a raysearch
            searcher (core or Tune plugin) or any Ray Tune searcher. Default random.
        scheduler: a registered name, a raysearch scheduler or a Ray Tune scheduler.
        num_samples: number of trials; None means until the searcher is finished (grid,
            exhausted finite space) or ``time_budget_s`` runs out.
        time_budget_s: stop starting trials after this many seconds.
        resources: per trial, e.g. ``{"cpu": 1, "gpu": 0.25}`` (default one CPU).
        max_concurrent: concurrent trials; default: as many as the cluster fits.
        storage_path, name: where the experiment lives (``storage_path/name``); Tune's
            default ``~/ray_results`` and a generated name if unset.
        seed: seeds the searcher (and a scheduler that takes one) when given by name.
        resume: continue the experiment at ``storage_path/name`` if it exists
            (``Tuner.restore``: finished trials kept, unfinished ones resumed, errored
            ones retried); start it otherwise. Needs ``name``.
        reuse_actors: ``"auto"`` reuses actors for CPU-only function trainables.
        max_failures: retries of a failed trial (from its last checkpoint).
        stop: Tune's stopping criteria (per-trial dict or function).
        callbacks: extra Tune callbacks.
        loggers: ``"json"`` (Tune's result.json per trial), ``"all"`` (Tune's defaults:
            JSON, CSV, TensorBoard) or ``"none"`` (fastest).
        checkpoint_every_s: how often the experiment snapshot (trials, searcher and
            scheduler state) is written; a hard crash loses at most the trials finished
            since. None keeps Tune's "auto" (at least every 10 s, at most 5% overhead).
        verbose: 0 silent, 1 a progress line every few seconds, 2 debug.
        ray_address: cluster to join (default ``RAY_ADDRESS`` or a local instance).

    Returns:
        :class:`RunResult` with the ResultGrid and a leaderboard DataFrame.

    Raises:
        ValueError: bad arguments, an unknown searcher/scheduler name, a metric the
            trainable never reports.
        ResourceError: resources no node can provide.
    """
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"metric must be the name of a reported metric, got {metric!r}")
    if loggers not in ("json", "all", "none"):
        raise ValueError(f"loggers must be 'json', 'all' or 'none', got {loggers!r}")
    if num_samples is not None and (
        int(num_samples) != num_samples or num_samples == 0 or num_samples < -1
    ):
        raise ValueError(
            f"num_samples must be a positive integer, -1 or None, got {num_samples!r}"
        )
    if time_budget_s is not None and not (time_budget_s > 0):
        raise ValueError(f"time_budget_s must be > 0, got {time_budget_s!r}")
    if resume and name is None:
        raise ValueError("resume=True needs the experiment's name (storage_path/name)")
    if checkpoint_every_s is not None and not checkpoint_every_s >= 0:
        raise ValueError(f"checkpoint_every_s must be >= 0 or None, got {checkpoint_every_s!r}")
    if max_concurrent is not None and (
        int(max_concurrent) != max_concurrent or max_concurrent < 1
    ):
        raise ValueError(f"max_concurrent must be a positive integer, got {max_concurrent!r}")
    if not callable(trainable):
        raise TypeError(
            f"trainable must be a function or a tune.Trainable class, got {trainable!r}"
        )

    _setup_logging(verbose)
    init_ray(ray_address)

    from ray import tune
    from ray.tune.logger import JsonLoggerCallback

    from raysearch.tune.callbacks import Progress, TrialLog
    from raysearch.tune.scheduler import SchedulerStateCallback, TuneScheduler
    from raysearch.tune.searcher import TuneSearcher

    request = check_resources(resources or {"cpu": 1.0})
    concurrency = int(max_concurrent) if max_concurrent else _max_concurrent(request)

    space = param_space if isinstance(param_space, Space) else None
    tune_space: dict[str, Any] = {}
    if space is None and param_space is not None:
        if not isinstance(param_space, Mapping):
            raise TypeError(
                f"param_space must be a dict or a raysearch Space, got {type(param_space).__name__}"
            )
        tune_space = dict(param_space)
    search_alg = _make_search_alg(searcher, space, seed, None)
    trial_scheduler = _make_scheduler(scheduler, seed)
    if isinstance(search_alg, TuneSearcher):
        search_alg.max_concurrent = concurrency
        if not tune_space:
            # Tune passes metric/mode to the searcher only with a non-empty param_space.
            search_alg.set_search_properties(metric, mode, {})

    if num_samples is None:
        finite = isinstance(search_alg, TuneSearcher) and search_alg.core.is_finite()
        if time_budget_s is None and not finite:
            raise ValueError(
                "give num_samples or time_budget_s: this searcher never runs out of trials by itself"
            )
        num_samples = -1

    function_trainable = _is_function_trainable(trainable)
    if reuse_actors == "auto":
        reuse = function_trainable and request.get("gpu", 0.0) == 0
    else:
        reuse = bool(reuse_actors)

    info = {
        "metric": metric,
        "mode": mode,
        "searcher": repr(search_alg),
        "scheduler": repr(trial_scheduler),
    }
    run_callbacks: list[Any] = [TrialLog(info)]
    if verbose > 0:
        run_callbacks.append(Progress(metric, mode, num_samples if num_samples > 0 else None))
    if loggers == "json":
        run_callbacks.append(JsonLoggerCallback())
    if isinstance(trial_scheduler, TuneScheduler):
        run_callbacks.append(SchedulerStateCallback(trial_scheduler))
    run_callbacks.extend(callbacks)

    wrapped = tune.with_resources(trainable, _tune_resources(request))
    tune_config = tune.TuneConfig(
        metric=metric,
        mode=mode,
        search_alg=search_alg,
        scheduler=trial_scheduler,
        num_samples=num_samples,
        time_budget_s=time_budget_s,
        max_concurrent_trials=concurrency if isinstance(search_alg, TuneSearcher) else None,
        reuse_actors=reuse,
    )
    run_config = tune.RunConfig(
        name=name,
        storage_path=storage_path,
        stop=stop,
        callbacks=run_callbacks,
        failure_config=tune.FailureConfig(max_failures=max_failures),
        verbose=0,
        progress_reporter=None if verbose >= 2 else _silent_reporter(),
    )

    tune_logger = logging.getLogger("ray.tune")
    previous_level = tune_logger.level
    if verbose <= 1:
        tune_logger.setLevel(logging.WARNING)
    env: dict[str, str | None] = {
        # Tune's default per-trial loggers (CSV, TensorBoard, JSON) cost a third of the trial
        # rate of short trials; "json" adds back JsonLoggerCallback explicitly.
        "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": None if loggers == "all" else "1",
        # Tune's console tables: raysearch logs its own progress line instead.
        "RAY_AIR_NEW_OUTPUT": None if verbose >= 2 else "0",
    }
    if checkpoint_every_s is not None:
        env["TUNE_GLOBAL_CHECKPOINT_S"] = str(checkpoint_every_s)
    start = time.monotonic()
    analysis_logger = logging.getLogger("ray.tune.analysis.experiment_analysis")
    # With no per-trial loggers there is no result.json to read back: the results come from
    # raysearch's own trial log, so Tune's "Failed to fetch metrics" warning is noise.
    quiet = _DropMissingMetrics() if loggers == "none" else None
    if quiet is not None:
        analysis_logger.addFilter(quiet)
    try:
        with _environ(env):
            grid = _fit(
                tune, wrapped, tune_space, tune_config, run_config, storage_path, name, resume
            )
    except Exception as err:
        _reraise_clearly(err, metric)
        raise
    finally:
        tune_logger.setLevel(previous_level)
        if quiet is not None:
            analysis_logger.removeFilter(quiet)
    elapsed = time.monotonic() - start

    board = leaderboard_frame(_records_from_grid(grid), metric, mode)
    best_config = best_metrics = None
    ok = board[board["status"] == "TERMINATED"].dropna(subset=[metric]) if len(board) else board
    if len(ok):
        best_id = ok.iloc[0]["trial_id"]
        for r in grid:
            if (r.metrics or {}).get("trial_id") == best_id:
                best_config, best_metrics = dict(r.config or {}), dict(r.metrics or {})
                break
    result = RunResult(
        results=grid,
        leaderboard=board,
        best_config=best_config,
        best_metrics=best_metrics,
        experiment_path=str(grid.experiment_path),
        elapsed_s=elapsed,
        metric=metric,
        mode=mode,
    )
    logger.info("results in %s", result.experiment_path)
    return result


@contextlib.contextmanager
def _environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Sets (value) or removes (None) environment variables, restoring them afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        for k, v in values.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _DropMissingMetrics(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to fetch metrics")


def _fit(
    tune: Any,
    trainable: Any,
    tune_space: dict[str, Any],
    tune_config: Any,
    run_config: Any,
    storage_path: str | None,
    name: str | None,
    resume: bool,
) -> ResultGrid:
    experiment_dir = _experiment_dir(storage_path, name)
    if resume and experiment_dir and tune.Tuner.can_restore(experiment_dir):
        logger.info("resuming the experiment in %s", experiment_dir)
        tuner = tune.Tuner.restore(
            experiment_dir,
            trainable=trainable,
            param_space=tune_space or None,
            resume_unfinished=True,
            resume_errored=True,
        )
    else:
        if resume:
            logger.info("no experiment to resume at %s; starting it", experiment_dir)
        tuner = tune.Tuner(
            trainable, param_space=tune_space, tune_config=tune_config, run_config=run_config
        )
    return tuner.fit()


_AUTO_KEYS = {
    "timestamp",
    "checkpoint_dir_name",
    "done",
    "training_iteration",
    "trial_id",
    "date",
    "time_this_iter_s",
    "time_total_s",
    "pid",
    "hostname",
    "node_ip",
    "config",
    "time_since_restore",
    "iterations_since_restore",
    "experiment_tag",
    "should_checkpoint",
}


def _reraise_clearly(err: Exception, metric: str) -> None:
    text = str(err)
    if "did not include the specified metric" in text:
        reported = ""
        if "Result:" in text:
            keys = re.findall(r"'([^']+)':", text.split("Result:", 1)[1])
            user_keys = [k for k in dict.fromkeys(keys) if k not in _AUTO_KEYS and "/" not in k]
            reported = f" It reported: {', '.join(user_keys) or 'nothing but Tune bookkeeping'}."
        raise ValueError(
            f"the trainable never reported the metric {metric!r}; report it with "
            f"tune.report({{{metric!r}: value}}) or return {{{metric!r}: value}}.{reported}"
        ) from None


def _records_from_grid(grid: ResultGrid) -> list[dict[str, Any]]:
    records = []
    for r in grid:
        metrics = dict(r.metrics or {})
        records.append(
            {
                "trial_id": metrics.get("trial_id") or (r.path or "").rsplit("/", 1)[-1],
                "status": "ERROR" if r.error is not None else "TERMINATED",
                "config": dict(r.config or {}),
                "metrics": metrics,
                "error": None if r.error is None else str(r.error).strip().splitlines()[-1][:300],
            }
        )
    return records


_METRIC_COLUMNS = ("training_iteration", "time_total_s")


def leaderboard_frame(
    records: Sequence[Mapping[str, Any]], metric: str, mode: str
) -> pd.DataFrame:
    """One row per trial: id, status, the metric, config columns (flattened ``a/b``), the
    iterations and seconds it ran, the error if any; best first, failures last."""
    import pandas as pd

    rows = []
    for rec in records:
        metrics = rec.get("metrics") or {}
        value = metrics.get(metric)
        try:
            value = float(value) if value is not None else math.nan
        except (TypeError, ValueError):
            value = math.nan
        row: dict[str, Any] = {
            "trial_id": rec.get("trial_id"),
            "status": rec.get("status"),
            metric: value,
        }
        for k, v in flatten(rec.get("config") or {}).items():
            row[f"config/{k}"] = v if not isinstance(v, list | tuple | dict) else repr(v)
        for k in _METRIC_COLUMNS:
            row[k] = metrics.get(k)
        row["error"] = rec.get("error")
        rows.append(row)
    columns = ["trial_id", "status", metric]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=[*columns, "error"])
    frame["_failed"] = frame[metric].isna() | (frame["status"] != "TERMINATED")
    frame = frame.sort_values(["_failed", metric], ascending=[True, mode == "min"], kind="stable")
    frame = frame.drop(columns="_failed").reset_index(drop=True)
    return frame
