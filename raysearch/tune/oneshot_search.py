"""Searcher helpers of the one-shot NAS phases (:mod:`raysearch.tune.oneshot`).

* :func:`batched_searcher`: trials of several architectures each (the search phase with
  ``eval_batch > 1``), the inner searcher told each architecture's result;
* :func:`fixed_configs`: a Ray Tune searcher of a fixed list of configs (the retrain phase);
* :func:`ranked_candidates`: the search phase's evaluations, one per distinct network, best
  first, and the top ``k``.
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping
from typing import Any

from raysearch.core.state import atomic_write_json, read_json
from raysearch.nas.builder import network_key
from raysearch.nas.trainable import split_arch

__all__ = [
    "ORDERED_CONCURRENCY",
    "SEARCH_METRICS",
    "search_mode",
    "search_plan",
    "batched_searcher",
    "fixed_configs",
    "ranked_candidates",
]

logger = logging.getLogger(__name__)

#: The ordered search's trials in flight when ``max_concurrent`` is not given: a constant,
#: not the cluster's size, so that the same seed searches the same way on any machine.
ORDERED_CONCURRENCY = 4

#: The search phase's metrics and their modes: the inherited-weight accuracy (BN
#: recalibrated) or validation cross-entropy (a finer score: it ranks better, bench oneshot).
SEARCH_METRICS = {"inherited_acc": "max", "inherited_loss": "min"}


def search_mode(metric: str) -> str:
    """The mode of a search metric (:data:`SEARCH_METRICS`).

    Raises:
        ValueError: another metric.
    """
    if metric not in SEARCH_METRICS:
        raise ValueError(f"search metric must be one of {sorted(SEARCH_METRICS)}, got {metric!r}")
    return SEARCH_METRICS[metric]


def search_plan(
    searcher: Any,
    samples: int,
    eval_batch: int,
    max_concurrent: int | None,
    ordered: bool,
    *,
    metric: str = "inherited_acc",
) -> tuple[Any, int, int | None]:
    """``(Tune searcher, trials, max_concurrent)`` for :func:`raysearch.run` in the search
    phase: ``eval_batch > 1`` batches the suggestions (:func:`batched_searcher`,
    ordered inside); ``ordered`` (reproducible asynchronous search,
    :class:`raysearch.tune.searcher.TuneSearcher`) needs a raysearch searcher and runs
    ``max_concurrent`` (default :data:`ORDERED_CONCURRENCY`) trials at a time; ``metric``:
    the search metric (:data:`SEARCH_METRICS`)."""
    from ray.tune.search import ConcurrencyLimiter

    from raysearch.core.searcher import Searcher as CoreSearcher
    from raysearch.tune.searcher import TuneSearcher

    if ordered and not isinstance(searcher, CoreSearcher | TuneSearcher):
        logger.warning(
            "the ordered search needs a raysearch searcher; %s runs unordered (the search "
            "then depends on which evaluation finishes first)",
            type(searcher).__name__,
        )
        ordered = False
    concurrency = (max_concurrent or ORDERED_CONCURRENCY) if ordered else max_concurrent
    trials, size = int(samples), int(eval_batch)
    if size > 1:  # Tune limits a Ray searcher's trials only when told to
        batched = batched_searcher(
            searcher,
            size,
            trials,
            ordered_concurrency=concurrency if ordered else None,
            metric=metric,
        )
        return ConcurrencyLimiter(batched, concurrency or 1024), -(-trials // size), concurrency
    if ordered:
        if isinstance(searcher, CoreSearcher):
            searcher = TuneSearcher(searcher)
        searcher.ordered = True
    return searcher, trials, concurrency


def batched_searcher(
    inner: Any,
    size: int,
    samples: int,
    *,
    ordered_concurrency: int | None = None,
    metric: str = "inherited_acc",
) -> Any:
    """Trials of up to ``size`` of ``inner``'s suggestions (told back as ``<id>-b<i>``): an
    evaluation takes ~0.1 s, Tune ~0.15-0.3 s of driver time per trial.

    ``inner``: a core searcher (wrapped in a :class:`raysearch.tune.searcher.TuneSearcher`)
    or a Ray searcher. ``ordered_concurrency=c``: the inner TuneSearcher runs ordered with
    ``c * size`` architectures in flight (``c`` trials), so its sequence of suggestions
    depends only on its seed and ``c``; a batch then waits whole for the batch ``c`` before
    it (results come back a batch at a time). ``metric``: the search metric
    (:data:`SEARCH_METRICS`)."""
    from ray.tune.search import Searcher as RaySearcher

    from raysearch.core.searcher import Searcher as CoreSearcher
    from raysearch.tune.searcher import TuneSearcher

    mode = search_mode(metric)

    class BatchedSearcher(RaySearcher):
        def __init__(self) -> None:
            super().__init__(metric=metric, mode=mode)
            core = isinstance(inner, CoreSearcher)
            self.inner = TuneSearcher(inner, metric, mode) if core else inner
            self.size, self.left, self.live = int(size), int(samples), dict[str, int]()
            if ordered_concurrency is not None:
                if not isinstance(self.inner, TuneSearcher):
                    raise TypeError("ordered batches need a raysearch searcher")
                self.inner.ordered = True
                self.inner.max_concurrent = int(ordered_concurrency) * self.size
                self.inner.set_num_samples(int(samples))  # it counts architectures

        def set_search_properties(self, metric: Any, mode: Any, config: Any, **spec: Any) -> bool:
            self._metric, self._mode = metric, mode
            spec["num_samples"] = int(samples)  # the inner searcher counts architectures
            return bool(self.inner.set_search_properties(metric, mode, config, **spec))

        def suggest(self, trial_id: str) -> Any:
            configs: list[Any] = []
            while len(configs) < min(self.size, self.left):
                got = self.inner.suggest(f"{trial_id}-b{len(configs)}")
                if got is None or got == RaySearcher.FINISHED:
                    break
                configs.append(got)
            if not configs:
                return RaySearcher.FINISHED if self.left <= 0 or got is not None else None
            self.left -= len(configs)
            self.live[trial_id] = len(configs)
            return {"batch": configs}

        def on_trial_complete(self, trial_id: str, result: Any = None, error: Any = False) -> None:
            rows = list((result or {}).get("batch_results") or [])
            for i in range(self.live.pop(trial_id, 0)):
                row = rows[i] if i < len(rows) else None
                self.inner.on_trial_complete(f"{trial_id}-b{i}", row, error or row is None)

        def save(self, checkpoint_path: str) -> None:
            self.inner.save(checkpoint_path + ".inner")
            atomic_write_json(checkpoint_path, {"left": self.left, "live": self.live})

        def restore(self, checkpoint_path: str) -> None:
            self.inner.restore(checkpoint_path + ".inner")
            state = read_json(checkpoint_path)
            self.left, self.live = int(state["left"]), dict(state["live"])

    return BatchedSearcher()


def fixed_configs(configs: list[dict[str, Any]]) -> Any:
    """A Ray Tune searcher that suggests ``configs`` in order, once each (its position
    survives ``Tuner.restore``)."""
    from ray.tune.search import Searcher as RaySearcher

    class FixedConfigs(RaySearcher):
        def __init__(self) -> None:
            super().__init__()
            self.configs = [copy.deepcopy(dict(c)) for c in configs]
            self.next = 0

        def set_search_properties(
            self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
        ) -> bool:
            self._metric, self._mode = metric, mode
            return True

        def suggest(self, trial_id: str) -> dict[str, Any] | None:
            if self.next >= len(self.configs):
                return RaySearcher.FINISHED
            self.next += 1
            return copy.deepcopy(self.configs[self.next - 1])

        def on_trial_complete(
            self, trial_id: str, result: Any = None, error: bool = False
        ) -> None:
            return None

        def save(self, checkpoint_path: str) -> None:
            atomic_write_json(checkpoint_path, {"configs": self.configs, "next": self.next})

        def restore(self, checkpoint_path: str) -> None:
            state = read_json(checkpoint_path)
            self.configs, self.next = state["configs"], int(state["next"])

    return FixedConfigs()


def _row(config: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, Any]:
    arch, _ = split_arch(config)
    row: dict[str, Any] = {
        "arch": arch,
        "inherited_acc": float(metrics["inherited_acc"]),
        "inherited_loss": float(metrics.get("inherited_loss", math.nan)),
        "params": float(metrics["params"]),
    }
    raw = float(metrics.get("inherited_acc_raw", math.nan))
    if not math.isnan(raw):  # NaN: the search skipped it (presets.oneshot)
        row["inherited_acc_raw"] = raw
    return row


def ranked_candidates(
    search: Any, k: int, metric: str = "inherited_acc"
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(rows, top k)`` of a search phase's RunResult: one row per distinct network (its
    first evaluation), best ``metric`` first (:data:`SEARCH_METRICS`: the highest inherited
    accuracy or the lowest inherited loss; ties: raw accuracy if any, then the network key,
    so the order does not depend on when trials finished)."""
    sign = 1.0 if search_mode(metric) == "min" else -1.0
    pairs: list[Any] = []
    for r in search.results:
        if not r.metrics or metric not in r.metrics:
            continue
        batch = r.config.get("batch")  # eval_batch > 1: one row per architecture
        pairs += list(zip(batch, r.metrics["batch_results"])) if batch else [(r.config, r.metrics)]
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for config, metrics in pairs:
        row = _row(config, metrics)
        key = network_key(row["arch"])  # one retrain per distinct network, not per config
        if key not in seen:
            seen.add(key)
            rows.append(row)
    rows.sort(
        key=lambda row: (
            sign * row[metric],
            -row.get("inherited_acc_raw", 0.0),
            network_key(row["arch"]),
        )
    )
    return rows, rows[: int(k)]
