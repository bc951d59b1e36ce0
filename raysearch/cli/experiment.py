"""Experiment files: the YAML ``raysearch run`` executes (no Ray needed to read one, but
for checking a ``budget``).

::

    name: lgbm-breast-cancer         # directory under storage_path; required for --resume
    trainable: raysearch.examples.demo:train_lightgbm   # import path of a Tune trainable
    metric: auc
    mode: max
    space:                           # see raysearch.space.spec for every parameter form
      learning_rate: {float: [0.01, 0.3], log: true}
      num_leaves: {int: [4, 128], log: true}
    searcher: sobol                  # or {name: sobol, seed: 0, ...constructor kwargs};
                                     # default auto (raysearch.searchers.auto)
    scheduler: fifo                  # or {name: ..., ...kwargs}
    num_samples: 40
    time_budget_s: 600               # wall clock
    budget: 500                      # total compute: 500 time_attr steps over all trials,
                                     # or trial time: 30m, 90s, 2h (then num_samples may go)
    resources: {cpu: 1, gpu: 0}
    max_concurrent: 4
    storage_path: results            # relative paths are relative to the current directory
    seed: 0
    max_failures: 1
    fail_fast: 3                     # stop when the first 3 trials all fail (0: never)
    stop: {training_iteration: 100}
    loggers: json                    # json | all | none

Files are read with ``yaml.safe_load`` and nothing in them is ever evaluated: Tune's
``{"eval": "..."}`` form is refused anywhere in the file.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from raysearch.core.budget import parse_budget
from raysearch.core.registry import SCHEDULERS, SEARCHERS
from raysearch.space import Space, SpaceError, space_from_dict

__all__ = ["Experiment", "ExperimentError", "load_experiment", "parse_experiment"]


class ExperimentError(ValueError):
    """An experiment file that cannot be run, with the key at fault in the message."""


#: key -> (required, accepted types, description)
_SCHEMA: dict[str, tuple[bool, tuple[type, ...], str]] = {
    "name": (False, (str,), "experiment name (directory under storage_path)"),
    "trainable": (True, (str,), "import path 'package.module:function'"),
    "metric": (True, (str,), "reported metric to optimise"),
    "mode": (True, (str,), "'min' or 'max'"),
    "space": (True, (dict,), "the search space"),
    "searcher": (False, (str, dict), "searcher name or {name: ..., kwargs}"),
    "scheduler": (False, (str, dict), "scheduler name or {name: ..., kwargs}"),
    "num_samples": (False, (int,), "number of trials"),
    "time_budget_s": (False, (int, float), "time budget in seconds"),
    "budget": (False, (int, float, str), "total compute: steps (500) or trial time (30m)"),
    "resources": (False, (dict,), "per-trial resources {cpu: 1, gpu: 0}"),
    "max_concurrent": (False, (int,), "maximum concurrent trials"),
    "storage_path": (False, (str,), "where experiments are stored"),
    "seed": (False, (int,), "seed of the searcher/scheduler"),
    "max_failures": (False, (int,), "retries of a failed trial"),
    "fail_fast": (False, (int,), "stop when the first N trials all fail (0: never)"),
    "stop": (False, (dict,), "Tune stopping criteria"),
    "loggers": (False, (str,), "json | all | none"),
}


#: the fields of an :class:`Experiment` that :func:`raysearch.run` takes under the same names
_RUN_KEYS = (
    "metric",
    "mode",
    "num_samples",
    "time_budget_s",
    "budget",
    "resources",
    "max_concurrent",
    "storage_path",
    "name",
    "seed",
    "max_failures",
    "fail_fast",
    "stop",
    "loggers",
)


@dataclass
class Experiment:
    """A validated experiment file."""

    trainable: str
    metric: str
    mode: str
    space: Space
    name: str | None = None
    searcher: str = "auto"
    searcher_kwargs: dict[str, Any] = field(default_factory=dict)
    scheduler: str | None = None
    scheduler_kwargs: dict[str, Any] = field(default_factory=dict)
    num_samples: int | None = None
    time_budget_s: float | None = None
    budget: float | str | None = None
    resources: dict[str, float] = field(default_factory=lambda: {"cpu": 1.0})
    max_concurrent: int | None = None
    storage_path: str | None = None
    seed: int | None = None
    max_failures: int = 0
    fail_fast: int = 3
    stop: dict[str, Any] | None = None
    loggers: str = "json"
    source: str | None = None

    def build_searcher(self) -> Any:
        """The core searcher this file names, bound to its space (None for ``auto``:
        :func:`raysearch.run` picks one)."""
        if self.searcher == "auto":
            return None
        kwargs = {"seed": self.seed, **self.searcher_kwargs}  # the searcher's own seed wins
        return self._build(
            "searcher",
            self.searcher,
            lambda: SEARCHERS.create(self.searcher, space=self.space, **kwargs),
        )

    def build_scheduler(self) -> Any:
        """The core scheduler this file names (None for Tune's default FIFO)."""
        if self.scheduler is None:
            return None
        kwargs = dict(self.scheduler_kwargs)
        factory = SCHEDULERS.get(self.scheduler)
        import inspect

        if self.seed is not None and "seed" in inspect.signature(factory).parameters:
            kwargs.setdefault("seed", self.seed)
        name = self.scheduler
        return self._build("scheduler", name, lambda: SCHEDULERS.create(name, **kwargs))

    def _build(self, kind: str, name: str, create: Callable[[], Any]) -> Any:
        """``create()``, its argument errors reported as an :class:`ExperimentError`."""
        try:
            return create()
        except (TypeError, ValueError) as err:
            raise ExperimentError(
                f"{self.source or 'experiment'}: {kind} {name!r}: {err}"
            ) from None

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`raysearch.run` (besides trainable and searcher objects)."""
        return {key: getattr(self, key) for key in _RUN_KEYS}


def _reject_eval(obj: Any, where: str) -> None:
    if isinstance(obj, Mapping):
        if "eval" in obj:
            raise ExperimentError(
                f"{where}: {{'eval': ...}} is code that Ray Tune would evaluate; experiment files "
                "are data only (use a parameter spec such as {float: [low, high]})"
            )
        for k, v in obj.items():
            _reject_eval(v, f"{where}.{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _reject_eval(v, f"{where}[{i}]")


def _named(value: Any, key: str, registry_names: list[str]) -> tuple[str, dict[str, Any]]:
    if isinstance(value, str):
        name, kwargs = value, {}
    else:
        if "name" not in value:
            raise ExperimentError(
                f"'{key}' needs a 'name' (one of {registry_names}), got {value!r}"
            )
        kwargs = {k: v for k, v in value.items() if k != "name"}
        name = value["name"]
    if not isinstance(name, str):
        raise ExperimentError(f"'{key}' name must be a string, got {name!r}")
    if name.lower() not in registry_names:
        hint = difflib.get_close_matches(name.lower(), registry_names, n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        raise ExperimentError(
            f"unknown {key} {name!r}{extra} (known: {', '.join(registry_names)})"
        )
    return name.lower(), kwargs


def _check_keys(data: Mapping[str, Any], where: str) -> None:
    """Unknown keys, missing required keys and values of the wrong type fail here."""
    for key in data:
        if key not in _SCHEMA:
            hint = difflib.get_close_matches(str(key), list(_SCHEMA), n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ExperimentError(
                f"{where}: unknown key {key!r}{extra}; allowed keys: {', '.join(_SCHEMA)}"
            )
    for key, (required, types, description) in _SCHEMA.items():
        if key not in data or data[key] is None:
            if required:
                raise ExperimentError(f"{where}: missing required key {key!r} ({description})")
            continue
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, types):
            if float in types and isinstance(value, int) and not isinstance(value, bool):
                continue
            names = " or ".join(t.__name__ for t in types)
            raise ExperimentError(
                f"{where}: {key!r} must be a {names} ({description}), got {value!r}"
            )


def _check_target(data: Mapping[str, Any], where: str) -> None:
    """The ``mode`` and the ``trainable``'s import path."""
    if data["mode"] not in ("min", "max"):
        raise ExperimentError(f"{where}: 'mode' must be 'min' or 'max', got {data['mode']!r}")
    if ":" not in data["trainable"] and "." not in data["trainable"]:
        raise ExperimentError(
            f"{where}: 'trainable' must be an import path like 'package.module:function', got {data['trainable']!r}"
        )


def _parse_space(data: Mapping[str, Any], where: str) -> Space:
    try:
        space = space_from_dict(data["space"])
    except SpaceError as err:
        raise ExperimentError(f"{where}: bad 'space': {err}") from None
    if len(space) == 0:
        raise ExperimentError(f"{where}: 'space' has no parameter to search")
    return space


def _parse_strategies(data: Mapping[str, Any]) -> dict[str, Any]:
    """The searcher's and the scheduler's registry names and keyword arguments."""
    searcher, searcher_kwargs = _named(
        data.get("searcher") or "auto", "searcher", [*SEARCHERS.names(), "auto"]
    )
    if searcher == "auto" and searcher_kwargs:
        raise ExperimentError(
            f"searcher 'auto' takes no arguments (it picks the searcher and its defaults), got "
            f"{', '.join(searcher_kwargs)}; name a searcher to pass arguments to it"
        )
    scheduler: str | None = None
    scheduler_kwargs: dict[str, Any] = {}
    if data.get("scheduler") is not None:
        scheduler, scheduler_kwargs = _named(data["scheduler"], "scheduler", SCHEDULERS.names())
    return {
        "searcher": searcher,
        "searcher_kwargs": searcher_kwargs,
        "scheduler": scheduler,
        "scheduler_kwargs": scheduler_kwargs,
    }


def _parse_resources(resources: Mapping[Any, Any], where: str) -> dict[str, float]:
    """``resources``, each amount a number >= 0 (an error names the key and the value)."""
    out = {}
    for key, value in resources.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (0 <= value < float("inf"))
        ):
            raise ExperimentError(
                f"{where}: 'resources.{key}' must be a number >= 0 (a count of {key} per "
                f"trial), got {value!r}"
            )
        out[str(key)] = float(value)
    return out


def _parse_run_options(
    data: Mapping[str, Any], where: str, base_dir: str | None
) -> dict[str, Any]:
    """``num_samples``, ``loggers``, ``resources`` and ``storage_path``, checked and
    normalised (a relative storage path is resolved against ``base_dir``)."""
    num_samples = data.get("num_samples")
    if num_samples is not None and num_samples < 1 and num_samples != -1:
        raise ExperimentError(f"{where}: 'num_samples' must be >= 1 or -1, got {num_samples}")
    loggers = data.get("loggers", "json")
    if loggers not in ("json", "all", "none"):
        raise ExperimentError(f"{where}: 'loggers' must be json, all or none, got {loggers!r}")
    resources = _parse_resources(data.get("resources") or {"cpu": 1}, where)
    storage_path = data.get("storage_path")
    if storage_path and "://" not in storage_path and not os.path.isabs(storage_path):
        storage_path = str(Path(base_dir or os.getcwd(), storage_path).resolve())
    return {
        "num_samples": num_samples,
        "loggers": loggers,
        "resources": resources,
        "storage_path": storage_path,
    }


def _budget(data: Mapping[str, Any], where: str) -> float | str | None:
    value = data.get("budget")
    if value is None:
        return None
    try:
        parse_budget(value)
    except ValueError as err:
        raise ExperimentError(f"{where}: 'budget': {err}") from None
    return value


def _fail_fast(data: Mapping[str, Any], where: str) -> int:
    value = data.get("fail_fast")
    if value is None:
        return 3
    if value < 0:
        raise ExperimentError(f"{where}: 'fail_fast' must be >= 0 (0: never), got {value}")
    return int(value)


def parse_experiment(
    data: Any, *, source: str | None = None, base_dir: str | None = None
) -> Experiment:
    """Validates a loaded experiment mapping.

    Raises:
        ExperimentError: naming the key at fault (unknown keys, wrong types, a bad space,
            an unknown searcher/scheduler, an ``eval`` dict).
    """
    where = source or "experiment"
    if not isinstance(data, Mapping):
        raise ExperimentError(
            f"{where}: an experiment file holds a mapping of keys, got {type(data).__name__}"
        )
    _check_keys(data, where)
    _reject_eval(dict(data), where)
    _check_target(data, where)
    space = _parse_space(data, where)
    strategies = _parse_strategies(data)
    options = _parse_run_options(data, where, base_dir)
    experiment = Experiment(
        trainable=data["trainable"],
        metric=data["metric"],
        mode=data["mode"],
        space=space,
        name=data.get("name"),
        time_budget_s=data.get("time_budget_s"),
        budget=_budget(data, where),
        max_concurrent=data.get("max_concurrent"),
        seed=data.get("seed"),
        max_failures=int(data.get("max_failures", 0)),
        fail_fast=_fail_fast(data, where),
        stop=data.get("stop"),
        source=source,
        **strategies,
        **options,
    )
    experiment.build_searcher()  # unknown or mistyped searcher arguments fail here, not in Ray
    experiment.build_scheduler()
    return experiment


def load_experiment(path: str | os.PathLike[str]) -> Experiment:
    """Reads and validates an experiment YAML file (safe loader only)."""
    path = Path(path)
    if not path.exists():
        raise ExperimentError(f"experiment file {str(path)!r} does not exist")
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except yaml.YAMLError as err:
        raise ExperimentError(f"{path}: not valid YAML: {err}") from None
    return parse_experiment(data, source=str(path), base_dir=os.getcwd())
