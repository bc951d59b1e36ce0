"""The one ``ray.tune.search.Searcher`` every raysearch searcher plugs into.

It translates Tune's calls into the ask/tell core (:class:`raysearch.core.Searcher`):

* ``set_search_properties`` converts the Tune ``param_space`` (or keeps the raysearch
  space given to the constructor) and settles metric/mode (Tune's default metric
  ``_metric`` when only ``mode`` is set);
* ``suggest`` -> ``ask`` (nested config out, ``Searcher.FINISHED`` when the core's budget
  or a finite space is spent), with a live-trial limit;
* ``on_trial_result`` -> ``report``; ``on_trial_complete`` -> ``tell`` (errors, results
  without the metric and NaN/inf are recorded as failed trials, never raised; trials
  removed while paused count as pruned at their last value);
* ``save``/``restore`` -> the core's JSON state plus this adapter's bookkeeping, written
  atomically, so ``Tuner.restore`` resumes the search exactly.

Ordered (reproducible) asynchronous search, ``TuneSearcher(core, ordered=True)`` (on a
plugin such as ``EvolutionSearch``: set ``plugin.ordered = True``): with
``max_concurrent=c``, trial ``j`` (in suggestion order) is suggested only once the results
of trials ``0..j-c`` have been told to the core, in suggestion order, and no later one:
results that arrive early are held (in the saved state, so a resume keeps them) and
``suggest`` returns None ("try later") meanwhile; errors and missing results are told in
their turn too. The sequence of suggestions then depends only on the core's seed and
``c``, not on which trial finishes first; the cost is idle slots while the oldest trial
runs. After the last suggestion (Tune's ``num_samples``, or the core finished) the
results are told as they come, in order. Intermediate results are held likewise and
reported just before the trial's final one (a scheduler that stops trials by timing
still changes what they report). ``c`` must be fixed for the same search on another
machine: ``raysearch.run`` sets it to ``max_concurrent`` or the cluster's size. A trial
that Tune restarts after a crash and the restored state does not know is told out of
order. A scheduler that pauses trials until new ones arrive (synchronous HyperBand, BOHB)
stalls an ordered search whose ``c`` is smaller than what it holds paused.

Pending trials: Tune lets a custom searcher have only one PENDING trial unless a
``ConcurrencyLimiter`` wraps it (``_get_max_pending_trials``, ray-project/ray#14835), so a
search on 8 slots trickles trials out one controller step at a time. With
``TuneConfig(max_concurrent_trials=N)`` Tune wraps this adapter, calls
``set_max_concurrency(N)`` and the adapter limits itself. Without it, the adapter sets
Tune's own ``TUNE_MAX_PENDING_TRIALS_PG`` to ``max_concurrent`` (or the cluster's CPU
count) between ``set_search_properties`` and the first ``suggest``, the window in which
Tune's controller reads it, and removes it again; a value the user set is left alone.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from ray.tune.result import DEFAULT_METRIC
from ray.tune.search import Searcher as _RaySearcher

from raysearch.core.searcher import Searcher as CoreSearcher
from raysearch.core.state import atomic_write_json, read_json, to_jsonable
from raysearch.core.types import Finished, TrialStatus
from raysearch.core.values import finite_float
from raysearch.space import Space, SpaceError
from raysearch.tune.space import from_tune, has_domains

__all__ = ["TuneSearcher", "sign_for_mode"]

logger = logging.getLogger(__name__)

_STATE_FORMAT = "raysearch.tune-searcher/1"


def sign_for_mode(mode: str | None) -> float:
    """Multiplier that turns a metric into a loss (lower is better)."""
    if mode == "min":
        return 1.0
    if mode == "max":
        return -1.0
    raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")


_PENDING_ENV = "TUNE_MAX_PENDING_TRIALS_PG"


def _metric_value(result: Mapping[str, Any] | None, metric: str) -> float | None:
    return finite_float(result.get(metric)) if result else None


class TuneSearcher(_RaySearcher):
    """Adapts a raysearch ask/tell searcher to Ray Tune.

    Args:
        searcher: the core searcher (its space may be unset; Tune's ``param_space`` then
            defines it).
        metric, mode: as in Tune; may come from ``TuneConfig`` instead.
        max_concurrent: at most this many live trials (and as many pending ones); None lets
            Tune's ``max_concurrent_trials`` or the cluster size decide.
        time_attr: result key used as the step of intermediate results.
        ordered: reproducible asynchronous search (module docstring); needs
            ``max_concurrent`` (or Tune's ``max_concurrent_trials``; :func:`raysearch.run`
            always sets it). A public attribute: set it on a plugin before the run.
    """

    _metric: str | None
    _mode: str | None

    def __init__(
        self,
        searcher: CoreSearcher,
        metric: str | None = None,
        mode: str | None = None,
        *,
        max_concurrent: int | None = None,
        time_attr: str = "training_iteration",
        ordered: bool = False,
    ) -> None:
        if not isinstance(searcher, CoreSearcher):
            raise TypeError(
                f"searcher must be a raysearch core Searcher, got {type(searcher).__name__}"
            )
        if mode is not None:
            sign_for_mode(mode)
        if max_concurrent is not None and (
            int(max_concurrent) != max_concurrent or max_concurrent < 1
        ):
            raise ValueError(
                f"max_concurrent must be a positive integer or None, got {max_concurrent!r}"
            )
        super().__init__(metric=metric, mode=mode)
        self.core = searcher
        self.max_concurrent = None if max_concurrent is None else int(max_concurrent)
        self.time_attr = time_attr
        self._live: set[str] = set()
        self._pruned: set[str] = set()
        self._spec: dict[str, Any] = {}
        self._set_pending_env = False
        self.ordered = bool(ordered)
        self._order: list[str] = []  # ordered: trial ids in suggestion order
        self._told = 0  # ordered: _order[:_told] are told to the core
        self._held: dict[str, dict[str, Any]] = {}  # ordered: results not told yet
        self._final = False  # ordered: the core is finished

    # ------------------------------------------------------------------ set-up
    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        if metric and self._metric and metric != self._metric:
            raise ValueError(
                f"{type(self).__name__} was built with metric={self._metric!r} but TuneConfig "
                f"says metric={metric!r}; set it in one place"
            )
        if mode and self._mode and mode != self._mode:
            raise ValueError(
                f"{type(self).__name__} was built with mode={self._mode!r} but TuneConfig "
                f"says mode={mode!r}; set it in one place"
            )
        if mode is not None:
            sign_for_mode(mode)
        config = config or {}
        if self.core.is_setup:
            if has_domains(config):
                raise ValueError(
                    f"{type(self).__name__} already has a search space (given to its constructor); "
                    "Tune's param_space must then hold constants only, but it has search domains"
                )
        else:
            try:
                space = from_tune(config)
            except SpaceError as err:
                raise ValueError(f"cannot convert the Tune param_space: {err}") from None
            if len(space) == 0:
                raise ValueError(
                    f"{type(self).__name__} has nothing to search: the param_space has no search "
                    "domains and no space was given to the searcher"
                )
            self.core.setup(space)
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        if self._metric is None and self._mode is not None:
            self._metric = DEFAULT_METRIC
        self._spec = {
            k: v for k, v in spec.items() if isinstance(v, int | float | str | type(None))
        }
        pending = self.max_concurrent or _cluster_slots()
        if pending and _PENDING_ENV not in os.environ:
            os.environ[_PENDING_ENV] = str(pending)
            self._set_pending_env = True
        return True

    def _clear_pending_env(self) -> None:
        if self._set_pending_env:
            os.environ.pop(_PENDING_ENV, None)
            self._set_pending_env = False

    @property
    def space(self) -> Space:
        return self.core.space

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        """Called by Tune's ConcurrencyLimiter: this searcher limits itself."""
        if max_concurrent and max_concurrent > 0:
            self.max_concurrent = int(max_concurrent)
        return True

    def set_num_samples(self, num_samples: int | None) -> None:
        """How many trials the driver will ask for (-1 or None: unknown). Tune passes it
        through ``set_search_properties`` only with a non-empty param_space; the ordered
        mode needs it to tell the results after the last suggestion."""
        self._spec["num_samples"] = -1 if num_samples is None else int(num_samples)

    # ------------------------------------------------------------------ suggest / observe
    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        self._clear_pending_env()
        if not self.core.is_setup:
            raise RuntimeError(
                f"{type(self).__name__} has no search space: pass one to the constructor or "
                "give Tune a param_space with search domains"
            )
        if self._mode is None:
            raise ValueError(
                f"{type(self).__name__} needs mode='min' or 'max': give metric and mode to the "
                "searcher (Tune passes TuneConfig's metric/mode to it only when param_space is non-empty)"
            )
        if self.max_concurrent is not None and len(self._live) >= self.max_concurrent:
            return None
        if self.ordered and not self._ordered_turn():
            return None
        params = self.core.ask(trial_id)
        if isinstance(params, Finished):
            self._final = True
            self._flush()
            return _RaySearcher.FINISHED
        if params is None:
            return None
        self._live.add(trial_id)
        if self.ordered:
            self._order.append(trial_id)
            self._flush()
        return self.core.space.to_config(params)

    # ------------------------------------------------------------------ ordered mode
    def _ordered_turn(self) -> bool:
        """Whether the next suggestion may be made: every trial but the last ``c - 1``
        suggested is told (and no more, :meth:`_flush`)."""
        if self.max_concurrent is None:
            raise ValueError(
                f"{type(self).__name__}(ordered=True) needs max_concurrent (or Tune's "
                "max_concurrent_trials): the suggestions depend on it"
            )
        self._flush()
        return self._told >= len(self._order) - self.max_concurrent + 1

    def _flush(self) -> None:
        """Tells the held results in suggestion order, up to the first one still running,
        and (until the last suggestion) only those the next suggestion waits for."""
        limit = len(self._order)
        expected = int(self._spec.get("num_samples") or -1)
        if not (self._final or 0 < expected <= limit):
            limit -= (self.max_concurrent or 1) - 1
        while self._told < limit and self._held.get(self._order[self._told], {}).get("done"):
            trial_id = self._order[self._told]
            held = self._held.pop(trial_id)
            self._told += 1
            for step, loss in held["reports"]:
                self.core.report(trial_id, float(step), float(loss))
            self._complete(trial_id, held["result"], bool(held["error"]))

    def _hold(self, trial_id: str) -> dict[str, Any]:
        return self._held.setdefault(
            trial_id, {"reports": [], "done": False, "result": None, "error": False}
        )

    def _loss(self, result: Mapping[str, Any] | None) -> float | None:
        value = _metric_value(result, self._metric or DEFAULT_METRIC)
        return None if value is None else sign_for_mode(self._mode) * value

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if trial_id not in self.core.trials:
            return
        step = result.get(self.time_attr, result.get("training_iteration"))
        loss = self._loss(result)
        if step is not None and loss is not None:
            if self.ordered and trial_id in self._order[self._told :]:
                self._hold(trial_id)["reports"].append([float(step), loss])
            else:
                self.core.report(trial_id, float(step), loss)

    def mark_pruned(self, trial_id: str) -> None:
        """A scheduler stopped this trial early: its final value is a lower-fidelity one."""
        self._pruned.add(trial_id)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        self._live.discard(trial_id)
        if self.ordered and trial_id in self._order[self._told :]:
            held = self._hold(trial_id)
            held.update(done=True, result=_plain(result), error=bool(error))
            self._flush()
            return
        self._complete(trial_id, result, error)

    def _complete(self, trial_id: str, result: dict[str, Any] | None, error: bool) -> None:
        pruned = trial_id in self._pruned
        self._pruned.discard(trial_id)
        if trial_id not in self.core.trials:
            self._observe_unknown(trial_id, result, error)
            return
        trial = self.core.trials[trial_id]
        if trial.status is not TrialStatus.PENDING:
            return
        if error:
            self.core.tell(trial_id, None, status=TrialStatus.FAILED)
            return
        if result is None:
            # Removed while pending or paused (e.g. a Hyperband bracket closed): what it
            # reached so far is a pruned result; nothing at all is a failure.
            status = TrialStatus.PRUNED if trial.intermediate else TrialStatus.FAILED
            self.core.tell(trial_id, None, status=status)
            return
        loss = self._loss(result)
        if loss is None:
            metric = self._metric or DEFAULT_METRIC
            if metric not in result:
                # once per experiment: the run's summary counts the trials without a value
                first = not getattr(self, "_warned_unreported", False)
                self._warned_unreported = True
                logger.log(
                    logging.WARNING if first else logging.DEBUG,
                    "trial %s finished without reporting %r (it reported %s); recorded as "
                    "failed%s",
                    trial_id,
                    metric,
                    sorted(k for k in result if not k.startswith("config/"))[:20],
                    "; other trials like it are counted in the summary" if first else "",
                )
            self.core.tell(trial_id, None, status=TrialStatus.FAILED)
            return
        self.core.tell(
            trial_id, loss, status=TrialStatus.PRUNED if pruned else TrialStatus.COMPLETE
        )

    def _observe_unknown(self, trial_id: str, result: dict[str, Any] | None, error: bool) -> None:
        """A trial this searcher did not suggest (restarted by Tune after a restore)."""
        if not result:
            return
        config = _config_from_result(result)
        if config is None:
            return
        try:
            self.core.add_observation(
                config, None if error else self._loss(result), trial_id=trial_id
            )
        except (SpaceError, ValueError) as err:
            logger.debug("could not record foreign trial %s: %s", trial_id, err)

    def add_evaluated_point(
        self,
        parameters: dict[str, Any],
        value: float,
        error: bool = False,
        pruned: bool = False,
        intermediate_values: list[float] | None = None,
    ) -> None:
        """Warm start: a config evaluated elsewhere (Tune's API)."""
        status = (
            TrialStatus.FAILED
            if error
            else (TrialStatus.PRUNED if pruned else TrialStatus.COMPLETE)
        )
        loss = None if error else sign_for_mode(self._mode) * float(value)
        self.core.add_observation(parameters, loss, status=status)

    # ------------------------------------------------------------------ state
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_set_pending_env"] = False
        return state

    def get_state(self) -> dict[str, Any]:
        return {
            "format": _STATE_FORMAT,
            "metric": self._metric,
            "mode": self._mode,
            "max_concurrent": self.max_concurrent,
            "live": sorted(self._live),
            "pruned": sorted(self._pruned),
            "core": self.core.get_state(),
            "ordered": {
                "on": self.ordered,
                "order": list(self._order),
                "told": self._told,
                "held": self._held,
                "final": self._final,
            },
        }

    def set_state(self, state: dict[str, Any]) -> None:
        if state.get("format") != _STATE_FORMAT:
            raise ValueError(
                f"not a raysearch Tune searcher state: format {state.get('format')!r}"
            )
        self.core.set_state(state["core"])
        self._metric = state.get("metric") or self._metric
        self._mode = state.get("mode") or self._mode
        self._live = set(state.get("live", []))
        self._pruned = set(state.get("pruned", []))
        ordered = state.get("ordered") or {}
        self.ordered = bool(ordered.get("on", self.ordered))
        self._order = list(ordered.get("order", []))
        self._told = int(ordered.get("told", 0))
        self._held = dict(ordered.get("held", {}))
        self._final = bool(ordered.get("final", False))
        if self.max_concurrent is None and state.get("max_concurrent") is not None:
            self.max_concurrent = int(state["max_concurrent"])

    def save(self, checkpoint_path: str) -> None:
        atomic_write_json(checkpoint_path, self.get_state())

    def restore(self, checkpoint_path: str) -> None:
        self.set_state(read_json(checkpoint_path))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.core!r}, metric={self._metric!r}, mode={self._mode!r})"
        )


def _plain(result: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A held result as JSON (it is part of the saved state): the config left out, the
    rest through :func:`raysearch.core.state.to_jsonable` (NaN becomes ``"nan"``, which
    reads back as no value, as NaN does)."""
    if result is None:
        return None
    return {str(k): to_jsonable(v) for k, v in result.items() if not str(k).startswith("config")}


def _config_from_result(result: Mapping[str, Any]) -> dict[str, Any] | None:
    if isinstance(result.get("config"), Mapping):
        return dict(result["config"])
    flat = {k[len("config/") :]: v for k, v in result.items() if k.startswith("config/")}
    if not flat:
        return None
    from raysearch.core.values import unflatten

    return unflatten(flat)


def _cluster_slots() -> int | None:
    """CPUs in the connected Ray cluster (a sane default pending-trial count)."""
    try:
        import ray

        if ray.is_initialized():
            return max(1, int(ray.cluster_resources().get("CPU", 1)))
    except Exception:  # a dashboard-less or shutting-down cluster: fall back to Tune's rule
        return None
    return None
