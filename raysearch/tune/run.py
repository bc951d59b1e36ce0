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

This module is the orchestration: :func:`run` checks its arguments (:class:`RunSettings`),
builds the searcher, scheduler and Tune configs and fits the ``Tuner``. Joining Ray and the
resource checks live in :mod:`raysearch.tune.resources`, the :class:`RunResult` and its
leaderboard in :mod:`raysearch.tune.results` (both re-exported here), Tune's logs, interrupts
and errors said clearly in :mod:`raysearch.tune.outcomes`, the trial log and the fail-fast
stop in :mod:`raysearch.tune.callbacks`.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raysearch.core.registry import SCHEDULERS, SEARCHERS
from raysearch.core.scheduler import Scheduler as CoreScheduler
from raysearch.core.searcher import Searcher as CoreSearcher
from raysearch.space import Space
from raysearch.tune.budget import BudgetStop, parse_budget, scheduler_time_attr
from raysearch.tune.callbacks import FailFast, TrialsFailedError, stop_criteria
from raysearch.tune.outcomes import Interrupted, TuneLogs, reraise_clearly
from raysearch.tune.resources import (
    ResourceError,
    check_resources,
    cluster_concurrency,
    init_ray,
    tune_resources,
)
from raysearch.tune.results import RunResult, leaderboard_frame, run_result

if TYPE_CHECKING:
    from ray.tune import ResultGrid

__all__ = [
    "run",
    "RunResult",
    "ResourceError",
    "TrialsFailedError",
    "Interrupted",
    "init_ray",
    "check_resources",
    "leaderboard_frame",
]

logger = logging.getLogger("raysearch")


@dataclass(frozen=True)
class RunSettings:
    """Every argument of :func:`run` but the trainable (see there), checked when made.

    Raises:
        ValueError: for an argument out of its range.
    """

    param_space: Mapping[str, Any] | Space | None
    metric: str
    mode: str
    searcher: Any
    scheduler: Any
    num_samples: int | None
    time_budget_s: float | None
    budget: float | str | None
    resources: Mapping[str, float] | None
    max_concurrent: int | None
    storage_path: str | None
    name: str | None
    seed: int | None
    resume: bool
    reuse_actors: bool | str
    max_failures: int
    fail_fast: int | None
    stop: Mapping[str, Any] | Callable[..., bool] | None
    callbacks: Sequence[Any]
    loggers: str
    checkpoint_every_s: float | None
    verbose: int
    ray_address: str | None

    def __post_init__(self) -> None:
        mode, metric, loggers = self.mode, self.metric, self.loggers
        num_samples, max_concurrent = self.num_samples, self.max_concurrent
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
        if self.time_budget_s is not None and not (self.time_budget_s > 0):
            raise ValueError(f"time_budget_s must be > 0, got {self.time_budget_s!r}")
        if self.budget is not None:
            parse_budget(self.budget)
        if self.resume and self.name is None:
            raise ValueError("resume=True needs the experiment's name (storage_path/name)")
        if self.checkpoint_every_s is not None and not self.checkpoint_every_s >= 0:
            raise ValueError(
                f"checkpoint_every_s must be >= 0 or None, got {self.checkpoint_every_s!r}"
            )
        if max_concurrent is not None and (
            int(max_concurrent) != max_concurrent or max_concurrent < 1
        ):
            raise ValueError(f"max_concurrent must be a positive integer, got {max_concurrent!r}")
        if self.fail_fast is not None and (
            isinstance(self.fail_fast, bool)
            or int(self.fail_fast) != self.fail_fast
            or self.fail_fast < 0
        ):
            raise ValueError(
                f"fail_fast must be an integer >= 0 (0: never stop early) or None, "
                f"got {self.fail_fast!r}"
            )


@dataclass
class _Search:
    """The search side of a run: Tune's param_space, search algorithm and scheduler."""

    tune_space: dict[str, Any]
    search_alg: Any
    scheduler: Any
    num_samples: int


def setup_logging(verbose: int) -> None:
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


def run(
    trainable: Callable[..., Any] | type,
    param_space: Mapping[str, Any] | Space | None = None,
    *,
    metric: str,
    mode: str,
    searcher: Any = "auto",
    scheduler: Any = None,
    num_samples: int | None = None,
    time_budget_s: float | None = None,
    budget: float | str | None = None,
    resources: Mapping[str, float] | None = None,
    max_concurrent: int | None = None,
    storage_path: str | None = None,
    name: str | None = None,
    seed: int | None = None,
    resume: bool = False,
    reuse_actors: bool | str = "auto",
    max_failures: int = 0,
    fail_fast: int | None = 3,
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
        searcher: ``"auto"`` (GP, TPE, evolution or grid, see :mod:`raysearch.searchers.auto`),
            a registered name, a raysearch searcher (core or Tune plugin) or a Ray Tune one.
        scheduler: a registered name, a raysearch scheduler or a Ray Tune scheduler.
        num_samples: number of trials; None means until the searcher is finished (grid,
            exhausted finite space), ``time_budget_s`` runs out or ``budget`` is spent.
        time_budget_s: stop starting trials after this many seconds (wall clock).
        budget: total compute of all trials: ``time_attr`` steps (500) or trial time ("30m").
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
        fail_fast: when the first ``fail_fast`` trials to end all failed (none reported),
            stop the experiment and raise :class:`TrialsFailedError` naming the error, rather
            than run every trial into it; 0 or None never stops early.
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
        TrialsFailedError: the first ``fail_fast`` trials all failed (the experiment is
            stopped; its trials are in ``storage_path/name``).
        Interrupted: Ctrl-C (a ``KeyboardInterrupt``; the experiment is saved, continue it
            with ``resume=True``).
    """
    # every argument but the trainable, by name (here locals() holds exactly the arguments)
    settings = RunSettings(**{k: v for k, v in locals().items() if k != "trainable"})
    return _run(trainable, settings)


def _run(trainable: Callable[..., Any] | type, settings: RunSettings) -> RunResult:
    """:func:`run`'s steps, in order, after its arguments were checked."""
    if not callable(trainable):
        raise TypeError(
            f"trainable must be a function or a tune.Trainable class, got {trainable!r}"
        )
    setup_logging(settings.verbose)
    init_ray(settings.ray_address, verbose=settings.verbose)
    request = check_resources(settings.resources or {"cpu": 1.0})
    concurrency = (
        int(settings.max_concurrent) if settings.max_concurrent else cluster_concurrency(request)
    )
    search = _make_search(settings, concurrency)
    wrapped, tune_config, run_config = _tune_configs(
        trainable, settings, search, request, concurrency
    )
    FailFast.stopped = None
    BudgetStop.start(settings.budget)
    grid, elapsed = _fit_quietly(settings, wrapped, search.tune_space, tune_config, run_config)
    FailFast.raise_if_stopped(str(grid.experiment_path))
    BudgetStop.log_summary()
    result = run_result(grid, settings.metric, settings.mode, elapsed)
    logger.info("results in %s", result.experiment_path)
    return result


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


def _auto_searcher(
    settings: RunSettings, space: Space | Mapping[str, Any], concurrency: int
) -> str:
    """``searcher="auto"``: what :func:`raysearch.searchers.auto.choose` picks, logged."""
    from raysearch.searchers.auto import choose
    from raysearch.tune.space import from_tune

    target = space if isinstance(space, Space) else from_tune(dict(space))
    n = settings.num_samples if settings.num_samples and settings.num_samples > 0 else None
    choice = choose(target, n_trials=n, parallelism=concurrency)
    logger.info("%s", choice.line())
    return choice.name


def _make_scheduler(scheduler: Any, seed: int | None) -> Any:
    from ray.tune.schedulers import TrialScheduler

    from raysearch.tune.exploit import wrap

    if scheduler is None:
        # raysearch's FIFO rather than Tune's default: it snapshots the experiment whenever
        # a trial ends, so a resume after a crash never reruns a finished trial.
        scheduler = "fifo"
    if isinstance(scheduler, str):
        kwargs = (
            {"seed": seed}
            if "seed" in inspect.signature(SCHEDULERS.get(scheduler)).parameters
            else {}
        )
        return wrap(SCHEDULERS.create(scheduler, **kwargs))
    if isinstance(scheduler, CoreScheduler):
        return wrap(scheduler)
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


def _make_search(settings: RunSettings, concurrency: int) -> _Search:
    """The searcher and scheduler of ``settings``, and the number of trials to start."""
    from raysearch.tune.searcher import TuneSearcher

    param_space = settings.param_space
    space = param_space if isinstance(param_space, Space) else None
    tune_space: dict[str, Any] = {}
    if space is None and param_space is not None:
        if not isinstance(param_space, Mapping):
            raise TypeError(
                f"param_space must be a dict or a raysearch Space, got {type(param_space).__name__}"
            )
        tune_space = dict(param_space)
    searcher = settings.searcher
    if searcher is None or (isinstance(searcher, str) and searcher.lower() == "auto"):
        searcher = _auto_searcher(settings, space or tune_space, concurrency)
    search_alg = _make_search_alg(searcher, space, settings.seed, None)
    trial_scheduler = _make_scheduler(settings.scheduler, settings.seed)
    if isinstance(search_alg, TuneSearcher):
        search_alg.max_concurrent = concurrency
        if not tune_space:
            # Tune passes metric/mode to the searcher only with a non-empty param_space.
            search_alg.set_search_properties(settings.metric, settings.mode, {})
    num_samples = settings.num_samples
    if num_samples is None:
        finite = isinstance(search_alg, TuneSearcher) and search_alg.core.is_finite()
        if settings.time_budget_s is None and settings.budget is None and not finite:
            raise ValueError(
                "give num_samples or time_budget_s (or a compute budget): this searcher never "
                "runs out of trials by itself"
            )
        num_samples = -1
    if isinstance(search_alg, TuneSearcher):
        search_alg.set_num_samples(num_samples)
    return _Search(tune_space, search_alg, trial_scheduler, num_samples)


def _callbacks(settings: RunSettings, search: _Search) -> list[Any]:
    """raysearch's trial log and progress line, Tune's JSON logger, the scheduler state
    persistence, then the user's callbacks."""
    from ray.tune.logger import JsonLoggerCallback

    from raysearch.tune.callbacks import Progress, TrialLog
    from raysearch.tune.outcomes import SilentTrialProgress
    from raysearch.tune.scheduler import SchedulerStateCallback, TuneScheduler

    info = {
        "metric": settings.metric,
        "mode": settings.mode,
        "searcher": repr(search.search_alg),
        "scheduler": repr(search.scheduler),
    }
    run_callbacks: list[Any] = [TrialLog(info)]
    if settings.verbose < 2:
        run_callbacks.append(SilentTrialProgress())
    if settings.fail_fast:
        run_callbacks.append(FailFast(settings.fail_fast))
    budget = None
    if settings.budget is not None:
        given = parse_budget(settings.budget)
        budget = BudgetStop(given.amount, given.attr or scheduler_time_attr(search.scheduler))
        run_callbacks.append(budget)
    if settings.verbose > 0:
        num_samples = search.num_samples
        total = num_samples if num_samples > 0 else None
        run_callbacks.append(Progress(settings.metric, settings.mode, total, budget=budget))
    if settings.loggers == "json":
        run_callbacks.append(JsonLoggerCallback())
    if isinstance(search.scheduler, TuneScheduler):
        run_callbacks.append(SchedulerStateCallback(search.scheduler))
    run_callbacks.extend(settings.callbacks)
    return run_callbacks


def _tune_configs(
    trainable: Any,
    settings: RunSettings,
    search: _Search,
    request: Mapping[str, float],
    concurrency: int,
) -> tuple[Any, Any, Any]:
    """The trainable with its resources, Tune's ``TuneConfig`` and ``RunConfig``."""
    from ray import tune

    from raysearch.tune.searcher import TuneSearcher

    function_trainable = _is_function_trainable(trainable)
    if settings.reuse_actors == "auto":
        reuse = function_trainable and request.get("gpu", 0.0) == 0
    else:
        reuse = bool(settings.reuse_actors)
    run_callbacks = _callbacks(settings, search)
    wrapped = tune.with_resources(trainable, tune_resources(request))
    own_searcher = isinstance(search.search_alg, TuneSearcher)
    tune_config = tune.TuneConfig(
        metric=settings.metric,
        mode=settings.mode,
        search_alg=search.search_alg,
        scheduler=search.scheduler,
        num_samples=search.num_samples,
        time_budget_s=settings.time_budget_s,
        max_concurrent_trials=concurrency if own_searcher else None,
        reuse_actors=reuse,
    )
    run_config = tune.RunConfig(
        name=settings.name,
        storage_path=settings.storage_path,
        stop=stop_criteria(settings.stop, run_callbacks),
        callbacks=run_callbacks,
        failure_config=tune.FailureConfig(max_failures=settings.max_failures),
        verbose=0,
        progress_reporter=None if settings.verbose >= 2 else _silent_reporter(),
    )
    return wrapped, tune_config, run_config


def _tune_environ(settings: RunSettings) -> dict[str, str | None]:
    """The environment variables Tune reads during the fit (None: unset)."""
    env: dict[str, str | None] = {
        # Tune's default per-trial loggers (CSV, TensorBoard, JSON) cost a third of the trial
        # rate of short trials; "json" adds back JsonLoggerCallback explicitly.
        "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": None if settings.loggers == "all" else "1",
        # Tune's console tables: raysearch logs its own progress line instead.
        "RAY_AIR_NEW_OUTPUT": None if settings.verbose >= 2 else "0",
        # Tune's full traceback of every failed trial: raysearch logs one line per failure
        # (the traceback stays in the trial's error.txt).
        "TUNE_PRINT_ALL_TRIAL_ERRORS": None if settings.verbose >= 2 else "0",
        # raysearch's schedulers ask for a snapshot whenever a trial ends (so a resume never
        # reruns a finished trial): not the "snapshotting triggered multiple times" warning.
        "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
    }
    if settings.checkpoint_every_s is not None:
        env["TUNE_GLOBAL_CHECKPOINT_S"] = str(settings.checkpoint_every_s)
    return env


def _fit_quietly(
    settings: RunSettings,
    trainable: Any,
    tune_space: dict[str, Any],
    tune_config: Any,
    run_config: Any,
) -> tuple[ResultGrid, float]:
    """Fits the Tuner with Tune's logging turned down; returns the grid and its wall time.

    Raises:
        Interrupted: Ctrl-C ended the fit (Tune saved the experiment and returned).
    """
    start = time.monotonic()
    logs = TuneLogs(settings.verbose, settings.loggers)
    try:
        with logs, _environ(_tune_environ(settings)):
            grid = _fit(trainable, tune_space, tune_config, run_config, settings)
    except Exception as err:
        reraise_clearly(err, settings.metric)
        raise
    if logs.interrupted:
        raise Interrupted(str(grid.experiment_path))
    return grid, time.monotonic() - start


def _set_environ(values: Mapping[str, str | None]) -> None:
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@contextlib.contextmanager
def _environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Sets (value) or removes (None) environment variables, restoring them afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    try:
        _set_environ(values)
        yield
    finally:
        _set_environ(saved)


def _fit(
    trainable: Any,
    tune_space: dict[str, Any],
    tune_config: Any,
    run_config: Any,
    settings: RunSettings,
) -> ResultGrid:
    from ray import tune

    experiment_dir = _experiment_dir(settings.storage_path, settings.name)
    if settings.resume and experiment_dir and tune.Tuner.can_restore(experiment_dir):
        logger.info("resuming the experiment in %s", experiment_dir)
        tuner = tune.Tuner.restore(
            experiment_dir,
            trainable=trainable,
            param_space=tune_space or None,
            resume_unfinished=True,
            resume_errored=True,
        )
    else:
        if settings.resume:
            logger.info("no experiment to resume at %s; starting it", experiment_dir)
        elif experiment_dir and tune.Tuner.can_restore(experiment_dir):
            logger.warning(
                "%s holds an earlier run of this experiment: this run adds its trials to it "
                "(resume=True, or --resume, continues it instead)",
                experiment_dir,
            )
        tuner = tune.Tuner(
            trainable, param_space=tune_space, tune_config=tune_config, run_config=run_config
        )
    return tuner.fit()
