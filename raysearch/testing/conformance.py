"""Conformance suites every raysearch searcher and scheduler must pass (pytest).

Like Optuna's ``pytest_samplers`` and scikit-learn's ``parametrize_with_checks``: a new
strategy joins by subclassing in a test module and naming itself::

    from raysearch.testing.conformance import SearcherConformance

    class TestSobol(SearcherConformance):
        searcher = "raysearch.searchers.random:RandomSearch"
        kwargs = {"sampler": "sobol"}

The strategy is named by import path plus keyword arguments (not an object) so that the
suite can rebuild it in a spawned subprocess. Every check can fail: each compares the
strategy against an independent expectation (bounds, a second run, a second process).

Every registered strategy is checked by construction: :func:`registered_suites` makes one
suite class per row of a table ``registry name -> [suite settings, ...]`` (the small
``kwargs`` that keep the run short, and ``spaces``/``n_trials`` where a strategy needs
them), with the registry's import path and default arguments::

    globals().update(registered_suites(SEARCHERS, {"tpe": [{"kwargs": {"n_startup": 4}}]}, __name__))

and :func:`unlisted` names the registered strategies a table forgets.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pytest

from raysearch.core.registry import Registry, import_object
from raysearch.core.scheduler import Scheduler
from raysearch.core.searcher import Searcher
from raysearch.core.state import StateMismatchError
from raysearch.core.types import FINISHED, Decision, Exploit, Finished, TrialStatus
from raysearch.space import Categorical, Float, Int, Normal, Space, repeat, when
from raysearch.testing.simulate import simulate, synthetic_curves

__all__ = [
    "SearcherConformance",
    "SchedulerConformance",
    "conformance_spaces",
    "registered_suites",
    "toy_objective",
    "unlisted",
]


def conformance_spaces() -> dict[str, Space]:
    """The spaces every searcher is checked on (``mixed``, ``conditional``, ``finite``),
    and ``training``: ordered, training-like hyperparameters for population-based
    schedulers (PB2 refuses unordered choices)."""
    return {
        "mixed": Space(
            {
                "x": Float(-5.0, 10.0),
                "lr": Float(1e-5, 1e-1, log=True),
                "q": Float(0.0, 1.0, step=0.25),
                "n": Int(1, 9),
                "width": Int(8, 512, log=True),
                "even": Int(0, 20, step=2),
                "z": Normal(1.0, 2.0),
                "act": Categorical(["relu", "gelu", "tanh"]),
                "batch": Categorical([16, 32, 64, 128], ordered=True),
                "flag": Categorical([True, False]),
                "epochs": 3,
            }
        ),
        "conditional": Space(
            {
                "optimizer": Categorical(["sgd", "adam"]),
                "lr": Float(1e-4, 1e-1, log=True),
                "momentum": when({"optimizer": "sgd"}, Float(0.0, 0.99)),
                "nesterov": when({"optimizer": "sgd"}, Categorical([True, False])),
                "n_layers": Int(1, 4),
                "layers": repeat(
                    {"width": Int(8, 128, log=True), "act": Categorical(["relu", "tanh"])},
                    count="n_layers",
                    max_count=4,
                ),
                "head": Categorical(
                    [
                        {"kind": "linear"},
                        {"kind": "mlp", "hidden": Int(4, 64), "dropout": Float(0.0, 0.5)},
                    ]
                ),
            }
        ),
        "finite": Space(
            {
                "a": Categorical(["x", "y", "z"]),
                "b": Int(0, 2),
                "c": when({"a": "x"}, Categorical([1, 2])),
            }
        ),
        "training": Space(
            {
                "lr": Float(1e-4, 1.0, log=True),
                "momentum": Float(0.0, 0.99),
                "weight_decay": Float(1e-6, 1e-2, log=True),
                "batch": Categorical([16, 32, 64, 128], ordered=True),
                "width": Int(8, 256, log=True),
            }
        ),
    }


def toy_objective(space: Space, params: dict[str, Any]) -> float:
    """A deterministic loss of a flat assignment: squared distance of every active
    parameter's unit position from 0.3 (so model-based searchers have something to learn)."""
    return float(sum((space.entry(n).param.to_unit(v) - 0.3) ** 2 for n, v in params.items()))


def _build(path: str, kwargs: dict[str, Any], space: Space | None, seed: Any) -> Searcher:
    factory = import_object(path)
    searcher = factory(space, seed=seed, **kwargs)
    if not isinstance(searcher, Searcher):
        raise TypeError(f"{path} did not build a raysearch Searcher")
    return searcher


def _drive(searcher: Searcher, n: int, start: int = 0, nan_every: int = 0) -> list[Any]:
    """Asks/tells ``n`` trials sequentially; returns the token form of each suggestion."""
    out: list[Any] = []
    space = searcher.space
    for i in range(start, start + n):
        params = searcher.ask(f"t{i}")
        if isinstance(params, Finished) or params is None:
            out.append(repr(params))
            continue
        out.append(space.to_tokens(params))
        value = toy_objective(space, params)
        if nan_every and i % nan_every == nan_every - 1:
            value = math.nan
        searcher.tell(f"t{i}", value)
    return out


def _sequence_in_process(
    path: str, kwargs: dict[str, Any], space_name: str, seed: int, n: int
) -> str:
    space = conformance_spaces()[space_name]
    return json.dumps(_drive(_build(path, kwargs, space, seed), n), sort_keys=True)


class SearcherConformance:
    """Checks for a :class:`~raysearch.core.Searcher`; subclass and set the attributes.

    Attributes:
        searcher: import path of the searcher class (or a factory taking
            ``(space, seed=..., **kwargs)``).
        kwargs: keyword arguments for it.
        n_trials: trials per determinism/resume check (model-based searchers should make
            sure their model-based phase starts before ``n_trials // 2``).
        spaces: which of :func:`conformance_spaces` the strategy supports.
    """

    searcher: ClassVar[str] = ""
    kwargs: ClassVar[dict[str, Any]] = {}
    n_trials: ClassVar[int] = 20
    spaces: ClassVar[tuple[str, ...]] = ("mixed", "conditional", "finite")

    def make(self, space: Space | None, seed: Any = 0) -> Searcher:
        if not self.searcher:
            pytest.skip("set the `searcher` import path on the conformance subclass")
        return _build(self.searcher, dict(self.kwargs), space, seed)

    def _space(self, name: str) -> Space:
        if name not in self.spaces:
            pytest.skip(f"{self.searcher} does not support the {name!r} space")
        return conformance_spaces()[name]

    @pytest.mark.parametrize("space_name", ["mixed", "conditional", "finite"])
    def test_suggestions_are_valid(self, space_name: str) -> None:
        space = self._space(space_name)
        searcher = self.make(space, seed=1)
        for i in range(self.n_trials):
            params = searcher.ask(f"t{i}")
            if isinstance(params, Finished):
                break
            assert params is not None, "ask() returned None with nothing pending"
            # exactly the active parameters, each a valid value
            assert sorted(params) == sorted(space.prune(params)), (
                "suggestion has inactive parameters"
            )
            assert sorted(params) == sorted(space.active_names(params)), (
                "suggestion lacks active parameters"
            )
            for name, value in params.items():
                assert space[name].contains(value), f"{name}={value!r} is outside {space[name]!r}"
            config = space.to_config(params)
            assert space.to_flat(config) == params, (
                "config does not read back to the same assignment"
            )
            searcher.tell(f"t{i}", toy_objective(space, params))

    def test_survives_nan_inf_and_failures(self) -> None:
        space = self._space("mixed")
        searcher = self.make(space, seed=2)
        bad_values: list[Any] = [math.nan, math.inf, -math.inf, None]
        for i in range(self.n_trials):
            params = searcher.ask(f"t{i}")
            assert isinstance(params, dict)
            if i % 3 == 0:
                searcher.tell(f"t{i}", bad_values[i % len(bad_values)])
                assert searcher.trials[f"t{i}"].status is TrialStatus.FAILED
            elif i % 3 == 1:
                searcher.tell(f"t{i}", None, status=TrialStatus.FAILED)
            else:
                searcher.report(f"t{i}", 1, math.nan)  # ignored, never raised
                searcher.report(f"t{i}", 2, toy_objective(space, params))
                searcher.tell(f"t{i}", None, status=TrialStatus.PRUNED)
                assert searcher.trials[f"t{i}"].status is TrialStatus.PRUNED
        assert isinstance(searcher.ask("after"), dict)

    def test_finite_space_exhaustion(self) -> None:
        space = self._space("finite")
        n = space.cardinality()
        assert n is not None
        searcher = self.make(space, seed=3)
        seen = []
        for i in range(3 * n):
            params = searcher.ask(f"t{i}")
            if isinstance(params, Finished):
                break
            assert params is not None
            seen.append(space.key(params))
            searcher.tell(f"t{i}", toy_objective(space, params))
        if searcher.exhausts_finite_space:
            assert len(seen) == n, (
                f"expected exactly {n} suggestions before FINISHED, got {len(seen)}"
            )
            assert len(set(seen)) == n, "a finite space was not covered without repeats"
            assert searcher.ask("again") is FINISHED

    def test_same_seed_same_sequence_other_seed_differs(self) -> None:
        for name in self.spaces:
            space = conformance_spaces()[name]
            a = _drive(self.make(space, seed=7), self.n_trials)
            b = _drive(self.make(space, seed=7), self.n_trials)
            assert a == b, f"same seed gave different suggestions on the {name!r} space"
        space = self._space("mixed")
        c = _drive(self.make(space, seed=8), self.n_trials)
        assert c != _drive(self.make(space, seed=7), self.n_trials), (
            "another seed gave the same suggestions"
        )

    def test_generator_seed_is_used(self) -> None:
        space = self._space("mixed")
        a = _drive(self.make(space, seed=np.random.default_rng(5)), 5)
        b = _drive(self.make(space, seed=np.random.default_rng(5)), 5)
        assert a == b

    def test_resume_equivalence(self) -> None:
        """20 steps straight == 10 steps, JSON state round trip into a new object, 10 steps."""
        half = self.n_trials // 2
        for name in self.spaces:
            space = conformance_spaces()[name]
            straight = _drive(self.make(space, seed=11), self.n_trials, nan_every=7)
            first = self.make(space, seed=11)
            part1 = _drive(first, half, nan_every=7)
            state = json.loads(json.dumps(first.get_state(), allow_nan=False))
            second = self.make(space, seed=999)  # the saved rng wins over the new seed
            second.set_state(state)
            part2 = _drive(second, self.n_trials - half, start=half, nan_every=7)
            assert part1 + part2 == straight, f"resumed run diverged on the {name!r} space"

    def test_state_restores_without_space(self) -> None:
        space = self._space("mixed")
        first = self.make(space, seed=4)
        _drive(first, 5)
        fresh = self.make(None, seed=4)
        fresh.set_state(first.get_state())
        assert fresh.space == space
        assert _drive(fresh, 3, start=5) == _drive(first, 3, start=5)

    def test_restore_into_other_recipe_raises(self) -> None:
        mixed = self._space("mixed")
        first = self.make(mixed, seed=4)
        _drive(first, 3)
        other = self.make(conformance_spaces()["finite"], seed=4)
        with pytest.raises(StateMismatchError):
            other.set_state(first.get_state())

    def test_global_rng_reseeding_does_not_matter(self) -> None:
        space = self._space("mixed")
        np.random.seed(0)  # noqa: NPY002 - the point is that library code ignores it
        random.seed(0)
        a = _drive(self.make(space, seed=21), self.n_trials)
        np.random.seed(12345)  # noqa: NPY002
        random.seed(12345)
        b = _drive(self.make(space, seed=21), self.n_trials)
        assert a == b

    def test_identical_in_spawned_subprocess(self) -> None:
        if not self.searcher:
            pytest.skip("set the `searcher` import path on the conformance subclass")
        space_name = self.spaces[0]
        here = _sequence_in_process(
            self.searcher, dict(self.kwargs), space_name, 31, self.n_trials
        )
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            there = pool.apply(
                _sequence_in_process,
                (self.searcher, dict(self.kwargs), space_name, 31, self.n_trials),
            )
        assert here == there, "a spawned process produced other suggestions"

    def test_pending_trials(self) -> None:
        """Several trials asked before any result: all valid, and none lost."""
        space = self._space("mixed")
        searcher = self.make(space, seed=6)
        _drive(searcher, self.n_trials // 2)
        asked = []
        for i in range(4):
            params = searcher.ask(f"p{i}")
            assert isinstance(params, dict)
            asked.append(params)
        assert len(searcher.pending) == 4
        for i, params in enumerate(asked):
            searcher.tell(f"p{i}", toy_objective(space, params))
        assert not searcher.pending

    def test_points_to_evaluate_come_first(self) -> None:
        space = self._space("mixed")
        factory = import_object(self.searcher) if self.searcher else None
        if factory is None:
            pytest.skip("no searcher")
        points = [{"x": 1.0, "act": "gelu"}, {"x": -2.0, "lr": 0.01, "n": 3}]
        searcher = factory(space, seed=0, points_to_evaluate=points, **self.kwargs)
        first, second = searcher.ask("a"), searcher.ask("b")
        assert isinstance(first, dict) and isinstance(second, dict)
        assert first["x"] == 1.0 and first["act"] == "gelu"
        assert second["x"] == -2.0 and second["lr"] == 0.01 and second["n"] == 3

    def test_max_trials_finishes(self) -> None:
        space = self._space("mixed")
        factory = import_object(self.searcher) if self.searcher else None
        if factory is None:
            pytest.skip("no searcher")
        searcher = factory(space, seed=0, max_trials=3, **self.kwargs)
        assert all(isinstance(searcher.ask(f"t{i}"), dict) for i in range(3))
        assert searcher.ask("t3") is FINISHED


def _curve_fn(seed: int) -> Callable[[str, dict[str, Any]], list[float]]:
    return synthetic_curves(seed=seed, max_steps=27)


class SchedulerConformance:
    """Checks for a :class:`~raysearch.core.Scheduler` on a simulated clock.

    Attributes:
        scheduler: import path of the scheduler class (built with ``seed=...``).
        kwargs: keyword arguments for it.
        n_trials, n_workers, max_steps: size of the simulated experiment.
    """

    scheduler: ClassVar[str] = ""
    kwargs: ClassVar[dict[str, Any]] = {}
    n_trials: ClassVar[int] = 24
    n_workers: ClassVar[int] = 4

    def make(self, seed: Any = 0) -> Scheduler:
        if not self.scheduler:
            pytest.skip("set the `scheduler` import path on the conformance subclass")
        factory = import_object(self.scheduler)
        scheduler = factory(seed=seed, **self.kwargs)
        if not isinstance(scheduler, Scheduler):
            raise TypeError(f"{self.scheduler} did not build a raysearch Scheduler")
        return scheduler

    def _run(
        self, scheduler: Scheduler, seed: int = 0, stop_after: int | None = None, state: Any = None
    ) -> Any:
        return simulate(
            scheduler,
            _curve_fn(seed),
            n_trials=self.n_trials,
            n_workers=self.n_workers,
            stop_after_events=stop_after,
            resume_from=state,
        )

    def test_decisions_are_valid(self) -> None:
        result = self._run(self.make(seed=0))
        assert result.events, "the scheduler made no decision"
        for event in result.events:
            assert isinstance(event.decision, Decision | Exploit)
            if isinstance(event.decision, Exploit):
                assert event.decision.donor != event.trial_id
        assert result.compute > 0

    def test_same_seed_same_decisions(self) -> None:
        a = self._run(self.make(seed=3)).decision_log()
        b = self._run(self.make(seed=3)).decision_log()
        assert a == b

    def test_survives_nan_and_errors(self) -> None:
        scheduler = self.make(seed=1)
        scheduler.on_add("a", {})
        scheduler.on_add("b", {})
        scheduler.on_add("a", {})  # re-added after a restore: idempotent
        for step in range(1, 4):
            scheduler.on_result("a", step, math.nan if step == 2 else None)
            scheduler.on_result("b", step, float(step))
        scheduler.on_error("a")
        scheduler.on_complete("b", None)
        scheduler.on_remove("a")
        json.dumps(scheduler.get_state(), allow_nan=False)

    def test_resume_equivalence(self) -> None:
        """Half the events, JSON state round trip into a new object, the rest == straight."""
        straight = self._run(self.make(seed=5))
        total = len(straight.events)
        first = self._run(self.make(seed=5), stop_after=total // 2)
        state = json.loads(json.dumps(first.state, allow_nan=False))
        fresh = self.make(seed=77)
        fresh.set_state(state["scheduler"])
        resumed = self._run(fresh, state=state)
        assert resumed.decision_log() == straight.decision_log()

    def test_restore_into_other_recipe_raises(self) -> None:
        scheduler = self.make(seed=0)
        state = scheduler.get_state()
        state["recipe"] = {**state.get("recipe", {}), "__other__": 1}
        with pytest.raises(StateMismatchError):
            self.make(seed=0).set_state(state)


#: registry kind -> its suite; the suite names the strategy in the attribute of that name
_SUITES: dict[str, type] = {"searcher": SearcherConformance, "scheduler": SchedulerConformance}


def registered_suites(
    registry: Registry,
    table: Mapping[str, Sequence[Mapping[str, Any]]],
    module: str | None = None,
) -> dict[str, type]:
    """One conformance suite class per row of ``table``, for the names ``registry`` has.

    Args:
        registry: :data:`~raysearch.core.registry.SEARCHERS`,
            :data:`~raysearch.core.registry.SCHEDULERS` or another registry of either kind.
        table: registry name -> rows; a row holds the suite's class attributes
            (``kwargs``, and ``spaces``, ``n_trials``... where needed). ``kwargs`` are laid
            over the arguments the name was registered with.
        module: the test module the classes belong to (their ``__module__``).
    Returns:
        ``{"Test<Kind>_<name>[_<row>]": suite class}``, to add to a test module's globals.
    """
    base = _SUITES.get(registry.kind)
    if base is None:
        raise ValueError(f"no conformance suite for a {registry.kind!r} registry")
    suites: dict[str, type] = {}
    for name in registry.names():
        for i, row in enumerate(table.get(name, ())):
            attributes = dict(row)
            attributes[registry.kind] = registry.path(name)
            attributes["kwargs"] = {**registry.defaults(name), **dict(row.get("kwargs", {}))}
            title = f"Test{registry.kind.title()}_{name}" + (f"_{i}" if i else "")
            if module is not None:
                attributes["__module__"] = module
            suites[title] = type(title, (base,), attributes)
    return suites


def unlisted(registry: Registry, table: Mapping[str, Any]) -> list[str]:
    """The names ``registry`` has and ``table`` has no row for (each needs one)."""
    return [name for name in registry.names() if not table.get(name)]
