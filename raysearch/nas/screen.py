"""A free first look: any searcher proposes ``k`` candidates, a zero-cost proxy picks one.

:class:`ProxyScreen` wraps a :class:`~raysearch.core.Searcher` (a registered name or an
instance). For each trial it asks the inner searcher for up to ``k`` candidates, scores
each untrained network with a zero-cost proxy (:mod:`raysearch.nas.proxies`) on one fixed
minibatch, and sends only the best-scoring one to be trained. The inner searcher is told
the trained candidate's result; the ``k - 1`` screened-out candidates are told as
*failed* (they were never evaluated): every searcher marks them seen, so they are not
proposed again, and model-based ones (TPE) count them with the bad configurations.
The proxy costs a forward/backward pass of one batch per candidate, a fraction of an
epoch; it never stops a running trial (proxies are not on accuracy's scale, so they have
no place on an ASHA rung).

The default proxy is the parameter count: on MNIST-1D (``python -m raysearch.bench
zerocost``, 50 random NAS-Bench-201 cells trained 3 epochs, 5 proxy seeds) no zero-cost
proxy beat it in Spearman correlation with stand-alone accuracy: params 0.586, NASWOT
0.582 (0.571 to 0.600 over the seeds), FLOPs 0.579, synflow 0.566, snip 0.343,
grad_norm 0.337. NASWOT and synflow put better architectures in their top 5 (mean
stand-alone accuracy 0.885 and 0.886 against 0.863 for params), so ``proxy="naswot"`` is
worth a try when the top of the ranking matters more than the whole of it.

Example::

    from raysearch.nas import nb201_cell
    from raysearch.nas.datasets import mnist1d_task
    from raysearch.nas.screen import ProxyScreen
    from raysearch.tune.nas import MetricsTuneSearcher

    task = mnist1d_task()
    screen = ProxyScreen("evolution", task=task, k=8, seed=0, space=nb201_cell(channels=8))
    search_alg = MetricsTuneSearcher(screen, metric="val_acc", mode="max")
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from raysearch.core.registry import SEARCHERS
from raysearch.core.rng import make_rng
from raysearch.core.searcher import Searcher, Suggestion
from raysearch.core.state import class_path, to_jsonable
from raysearch.core.types import FINISHED, Finished, Trial, TrialStatus
from raysearch.nas.proxies import PROXIES, proxy_score
from raysearch.nas.trainable import ARCH_KEYS, NASTask
from raysearch.space import Flat, Space

__all__ = ["ProxyScreen", "DEFAULT_PROXY"]

#: the proxy :class:`ProxyScreen` uses unless told otherwise: no zero-cost proxy beat the
#: parameter count on ``bench zerocost`` (see the module docstring)
DEFAULT_PROXY = "params"


class ProxyScreen(Searcher):
    """Screens ``k`` candidates of ``searcher`` by a zero-cost proxy; suggests the best.

    Args:
        searcher: the inner searcher: a registered name (``"evolution"``, ``"tpe"``, ...;
            seeded from this searcher's generator) or a :class:`~raysearch.core.Searcher`
            (its space is used when ``space`` is not given).
        proxy: a name of :data:`raysearch.nas.proxies.PROXIES` (higher is better).
        k: candidates asked for per suggestion (1: no screening).
        task: the :class:`~raysearch.nas.trainable.NASTask` whose training data, input
            shape and class count the proxy uses; or give ``data``, ``input_shape`` and
            ``num_classes``.
        batch_size: rows of the proxy's minibatch (drawn once, with ``batch_seed``).
        weight_seed: the seed the candidate networks are built with for scoring.
        scorer: a function ``config -> float`` (higher is better) used instead of a proxy
            (e.g. a proxy of a space :func:`raysearch.nas.build` does not know).
        space, seed, points_to_evaluate, max_trials: see :class:`~raysearch.core.Searcher`
            (``points_to_evaluate`` are sent as they are, unscreened).
    """

    parallel_aware: ClassVar[bool] = True

    def __init__(
        self,
        searcher: Searcher | str = "evolution",
        *,
        proxy: str = DEFAULT_PROXY,
        k: int = 8,
        task: NASTask | None = None,
        data: Any = None,
        input_shape: Sequence[int] | None = None,
        num_classes: int | None = None,
        batch_size: int = 64,
        batch_seed: int = 0,
        weight_seed: int = 0,
        scorer: Callable[[Mapping[str, Any]], float] | None = None,
        space: Space | Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if isinstance(k, bool) or int(k) != k or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if scorer is None and proxy not in PROXIES:
            raise ValueError(f"unknown proxy {proxy!r}; known: {', '.join(PROXIES)}")
        if int(batch_size) != batch_size or batch_size < 2:
            raise ValueError(f"batch_size must be an integer >= 2, got {batch_size!r}")
        if not isinstance(searcher, Searcher | str):
            raise TypeError(f"searcher must be a name or a raysearch Searcher, got {searcher!r}")
        if isinstance(searcher, str):
            SEARCHERS.get(searcher)  # raises, listing the known names
        if task is not None:
            data, input_shape, num_classes = task.train_data, task.input_shape, task.num_classes
        if scorer is None and (data is None or input_shape is None or num_classes is None):
            raise ValueError("ProxyScreen needs task=... (or data, input_shape, num_classes)")
        self.proxy = "custom" if scorer is not None else str(proxy)
        self.k = int(k)
        self.batch_size = int(batch_size)
        self.batch_seed = int(batch_seed)
        self.weight_seed = int(weight_seed)
        self._scorer = scorer
        self._data = data
        self._shape = None if input_shape is None else tuple(int(s) for s in input_shape)
        self._n_classes = None if num_classes is None else int(num_classes)
        self._batch: tuple[Any, Any] | None = None
        self._inner_spec = searcher
        self._inner: Searcher | None = None
        self._inner_ids: dict[str, str] = {}
        self._cache: dict[Any, float] = {}
        #: trial id -> the proxy scores of its candidates (the chosen one first)
        self.screened: dict[str, list[float]] = {}
        if space is None and isinstance(searcher, Searcher) and searcher.is_setup:
            space = searcher.space
        super().__init__(space, **kwargs)

    # ------------------------------------------------------------------ set-up
    @property
    def inner(self) -> Searcher:
        """The wrapped searcher."""
        if self._inner is None:
            raise RuntimeError("ProxyScreen has no search space yet: pass space=... or setup()")
        return self._inner

    def _recipe(self) -> dict[str, Any]:
        spec = self._inner_spec
        inner: Any = spec
        if isinstance(spec, Searcher):
            inner = {"class": class_path(spec), "recipe": to_jsonable(spec.recipe())}
        return {
            "searcher": inner,
            "proxy": self.proxy,
            "k": self.k,
            "batch_size": self.batch_size,
            "batch_seed": self.batch_seed,
            "weight_seed": self.weight_seed,
        }

    def _on_setup(self) -> None:
        spec = self._inner_spec
        if isinstance(spec, str):
            self._inner = SEARCHERS.create(spec, seed=int(self.rng.integers(0, 2**63 - 1)))
        else:
            self._inner = spec
        self._inner.setup(self.space)

    # ------------------------------------------------------------------ scoring
    def _minibatch(self) -> tuple[Any, Any]:
        if self._batch is None:
            data = self._data
            pair = isinstance(data, Sequence) and len(data) == 2
            n = len(data[0]) if pair else len(data)
            rows = make_rng(self.batch_seed).choice(n, size=min(self.batch_size, n), replace=False)
            rows = np.sort(rows)
            if pair:  # (X, y) arrays or tensors
                x, y = np.asarray(data[0])[rows], np.asarray(data[1])[rows]
            else:  # a torch Dataset of (x, y) items
                items = [data[int(i)] for i in rows]
                x = np.stack([np.asarray(item[0]) for item in items])
                y = np.asarray([int(item[1]) for item in items])
            self._batch = (x, y)
        return self._batch

    def score(self, config: Mapping[str, Any]) -> float:
        """The proxy of a (nested) config; higher is better, -inf when not finite."""
        if self._scorer is not None:
            value = float(self._scorer(config))
        else:
            keys = ARCH_KEYS.get(str(config.get("kind")))
            arch = {k: v for k, v in config.items() if keys is None or k in keys}
            assert self._shape is not None and self._n_classes is not None
            value = proxy_score(
                self.proxy,
                arch,
                self._minibatch(),
                input_shape=self._shape,
                num_classes=self._n_classes,
                seed=self.weight_seed,
            )
        return value if math.isfinite(value) else -math.inf

    def _cached_score(self, params: Flat) -> float:
        key = self.space.key(params)
        if key not in self._cache:
            self._cache[key] = self.score(self.space.to_config(params))
        return self._cache[key]

    # ------------------------------------------------------------------ ask / tell
    def _suggest(self, trial_id: str) -> Suggestion:
        inner = self.inner
        candidates: list[tuple[str, Flat]] = []
        finished = False
        for i in range(self.k):
            params = inner.ask(f"{trial_id}~{i}")
            if isinstance(params, Finished):
                finished = True
                break
            if params is None:
                break
            candidates.append((f"{trial_id}~{i}", params))
        if not candidates:
            return FINISHED if finished else None
        scores = [self._cached_score(p) for _, p in candidates]
        best = int(np.argmax(scores))  # the first of equal scores
        for j, (inner_id, _) in enumerate(candidates):
            if j != best:
                inner.tell(inner_id, None, status=TrialStatus.FAILED)
        self._inner_ids[trial_id] = candidates[best][0]
        self.screened[trial_id] = [scores[best]] + [s for j, s in enumerate(scores) if j != best]
        return dict(candidates[best][1])

    def _on_tell(self, trial: Trial) -> None:
        inner_id = self._inner_ids.get(trial.trial_id)
        if inner_id is None:  # an observation or a points_to_evaluate config
            self.inner.add_observation(
                trial.params, trial.value, status=trial.status, trial_id=trial.trial_id, flat=True
            )
        else:
            self.inner.tell(inner_id, trial.value, status=trial.status)

    def _on_report(self, trial: Trial, step: float, value: float) -> None:
        inner_id = self._inner_ids.get(trial.trial_id)
        if inner_id is not None:
            self.inner.report(inner_id, step, value)

    # ------------------------------------------------------------------ state
    def _strategy_state(self) -> dict[str, Any]:
        return {
            "inner": self.inner.get_state(),
            "inner_ids": dict(self._inner_ids),
            "screened": {
                k: [x if math.isfinite(x) else None for x in v] for k, v in self.screened.items()
            },
        }

    def _load_strategy_state(self, data: dict[str, Any]) -> None:
        self.inner.set_state(data["inner"])
        self._inner_ids = {str(k): str(v) for k, v in data.get("inner_ids", {}).items()}
        self.screened = {
            str(k): [-math.inf if x is None else float(x) for x in v]
            for k, v in data.get("screened", {}).items()
        }
