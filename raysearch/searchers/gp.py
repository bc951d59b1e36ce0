"""Gaussian-process Bayesian optimisation: LogEI, mixed and conditional spaces, parallel-aware.

Each suggestion:

1. **Initial design.** Until ``n_init`` trials exist (default ``clip(n_params // 2 + 4, 10, 20)``,
   so it grows with the dimension) and two have finished, points come from a scrambled
   Sobol sequence (:func:`raysearch.searchers.random.sobol_block`).
2. **Data.** Finished trials (complete and pruned, with their values) are the training set;
   failed trials count as the worst finished value (so crashing regions are avoided). Above
   ``max_train`` (250) observations the set keeps the best 30% and the most recent rest, so
   suggestion time stays bounded. Outputs are standardised and then warped by a
   Yeo-Johnson power transform (:func:`raysearch.surrogates.gp.warp_outputs`, as HEBO does;
   ``output_warp="none"`` turns it off).
3. **Inputs.** The shared :class:`~raysearch.space.Encoding` (unit cube: log scales,
   integer cells, one-hot categoricals). An inactive conditional parameter's columns are
   set to 0.5 and every group of parameters with the same conditions gets an extra
   "active" indicator column (1 active, 0 inactive), so two configs that both lack a
   sub-space are equal there, and a config that has it differs from one that lacks it by
   a learned amount (the indicator's own lengthscale).
4. **Model.** :class:`raysearch.surrogates.gp.GaussianProcess`: Matern-5/2 ARD with MAP
   hyperparameters (dimension-scaled lengthscale prior, noise prior), warm-started from the
   previous fit and refitted every step up to 50 observations, then every
   ``refit_every`` (default: every ``n // 40`` steps, so at most ~5% of suggestions pay the
   fit).
5. **Pending trials.** Up to ``exploit_share`` of the trials in flight (counting the new
   one; half by default, so 2 of 4 workers) are *exploitation* trials: the minimiser of
   the posterior mean, provided it is not (within 1e-3 lengthscales) a point already
   observed or in flight. Near an optimum, refinement is a chain of steps that each need
   the previous result; with 4 workers and only LogEI, each link waits for 3 other trials,
   and this is where most of the parallel loss came from (Branin). The other suggestions
   use the kriging believer: trials still running are added to the GP with their
   posterior mean as a fantasy value, the posterior variance collapses there, LogEI drops,
   and concurrent workers spread out instead of piling onto one point. A sequential run
   (nothing pending) is unaffected. The greedy share follows De Ath et al. ("Greed is good:
   exploration and exploitation trade-offs in Bayesian optimisation", ACM TELO 2021).
6. **Acquisition.** LogEI (Ament et al. 2023) below the best observed value, maximised by
   scoring ``n_candidates`` random points (plus neighbours of the best trials), then
   multi-start L-BFGS-B over the continuous and integer columns of the ``n_restarts`` best
   (all starts in one vectorised problem, 40 iterations; other columns held fixed),
   snapping to valid values, then a greedy local search over integer/ordered cells and
   categorical choices (one-parameter neighbour moves, re-completing activated
   sub-spaces). In a space without conditions the random candidates are encoded straight
   from the unit cube in numpy and only the rows that are looked at are decoded.

Speed: median suggestion 35-38 ms at 200 observations on Hartmann6 (2-core machine; Optuna's
GPSampler 225-256 ms), from ``python -m raysearch.bench hpo --suggest-time-at 200 --functions
hartmann6 --methods gp optuna-gp``. Every ``n // 40`` steps a hyperparameter refit adds
about 0.3 s.

Above ``tr_dims`` (20) model columns, TuRBO's trust region (Eriksson et al., "Scalable
Global Optimization via Local Bayesian Optimization", NeurIPS 2019) restricts candidates
and the gradient search to a box around the incumbent, with side ``tr_length`` scaled by
the GP's lengthscales; it doubles after 3 consecutive improvements, halves after
``max(4, d/4)`` failures and restarts at 0.8 below 2^-7. This is the documented
fall-back for high dimensions: a global GP in 20+ dims explores the box edges.

The hyperparameters, the trust region and the Sobol counter are part of the JSON state, so
a restored searcher continues identically. All randomness comes from ``self.rng``.

Example::

    from ray import tune
    from raysearch.tune import GPSearch

    tuner = tune.Tuner(train, param_space={"lr": tune.loguniform(1e-4, 1e-1),
                                           "layers": tune.randint(1, 6)},
                       tune_config=tune.TuneConfig(search_alg=GPSearch(seed=0), metric="loss",
                                                   mode="min", num_samples=60,
                                                   max_concurrent_trials=4))
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any

import numpy as np
from scipy import linalg, optimize

from raysearch.core.searcher import Searcher, Suggestion
from raysearch.core.types import FINISHED, Trial, TrialStatus
from raysearch.searchers.random import sobol_block
from raysearch.searchers.tpe import column_spec
from raysearch.space import Categorical, Encoding, Float, Normal
from raysearch.space.space import Flat
from raysearch.surrogates.gp import WARPS, GaussianProcess, fit_theta, log_ei, warp_outputs

__all__ = ["GPSearch", "select_training"]

logger = logging.getLogger(__name__)

_SOBOL_BLOCK = 64
_MAX_SOBOL_SEED = 1 << 30
_INACTIVE = 0.5
_TR_MIN, _TR_MAX, _TR_INIT = 2.0**-7, 1.6, 0.8
_TR_SUCCESS = 3
#: L-BFGS-B iterations of the acquisition search. All starts share one problem, so at 200
#: observations 100 iterations always ran to the cap (LogEI is rugged there) and took half
#: a suggestion's time. Measured, seeds 0-9, mean log10 regret over the 9 functions of
#: ``python -m raysearch.bench hpo``, 100 against 40 iterations: 50 trials -1.57 against
#: -1.55 (25 iterations: -1.58), 100 trials -2.77 against -2.82, 50 trials with 4
#: pending -1.35 against -1.36; median suggest time at 200 observations 77 ms against 36.
_GRAD_MAXITER = 40


_CONTROLLER: Any = None


def _single_threaded_blas() -> Any:
    """A context limiting BLAS to one thread: the GP's matrices are small, and multithreaded
    BLAS on them was 5x slower on a loaded 2-core machine (13.4 s against 2.7 s for 30
    Branin suggestions). A no-op without ``threadpoolctl``."""
    global _CONTROLLER
    try:
        if _CONTROLLER is None:
            from threadpoolctl import ThreadpoolController  # type: ignore[import-untyped]

            _CONTROLLER = ThreadpoolController()
        return _CONTROLLER.limit(limits=1, user_api="blas")
    except Exception:
        return contextlib.nullcontext()


def select_training(values: np.ndarray, cap: int, best_fraction: float = 0.3) -> np.ndarray:
    """Indices (sorted) of at most ``cap`` of ``values`` (oldest first): the best
    ``best_fraction * cap`` and the most recent others."""
    n = len(values)
    if n <= cap:
        return np.arange(n)
    n_best = int(best_fraction * cap)
    order = np.argsort(values, kind="stable")
    keep = set(int(i) for i in order[:n_best])
    for i in range(n - 1, -1, -1):
        if len(keep) >= cap:
            break
        keep.add(i)
    return np.array(sorted(keep))


class GPSearch(Searcher):
    """GP-based Bayesian optimisation (see the module docstring).

    Args:
        space, seed, points_to_evaluate, max_trials: see :class:`~raysearch.core.Searcher`.
        n_init: initial Sobol trials; default ``clip(n_params // 2 + 4, 10, 20)``, so 10 up
            to 13 parameters and 20 from 32. Measured with 10 seeds (mean log10 regret at 50 /
            100 trials): 10 rather than 6 for 2-6 params (Hartmann6 -2.11 vs -1.86 at 50;
            Branin -5.47 vs -5.22); 10 rather than ``n_params + 4`` for 7-10 params (Levy10
            0.93 / 0.36 vs 1.23 / 0.54, Styblinski-Tang8 1.99 / 1.93 vs 2.04 / 1.99, hpo_mlp
            -1.70 / -5.47 vs -1.40 / -5.02, hpo_tree -3.71 / -6.47 vs -2.81 / -6.16).
        n_candidates: random points scored per suggestion before the gradient search.
        n_restarts: starts of the L-BFGS-B search.
        max_train: most observations the GP is fitted on.
        refit_every: refit hyperparameters every this many new observations (beyond 50);
            default ``max(1, n // 40)``.
        tr_dims: model columns above which the trust region is used; None never.
        output_warp: ``"yeo-johnson"`` (default) or ``"none"``: the transform of the
            standardised outputs (:func:`~raysearch.surrogates.gp.warp_outputs`). Measured,
            seeds 0-9, 50 trials, sequential (mean log10 regret over the 9 functions of
            ``python -m raysearch.bench hpo``): -1.59 with it against -1.34 without
            (Hartmann6 -2.47 against -1.97, Rosenbrock4 1.93 against 2.22, hpo_tree -4.52
            against -3.81); none of the 9 got worse.
        exploit_share: the largest share of the trials in flight that are posterior-mean
            minimisers (see the module docstring); 0 gives pure kriging believer.
            Measured with 4 pending, 50 trials, seeds 0-9 (with an unclipped warp): mean
            log10 regret -1.41 with 0.5, -1.41 with 0.75, -1.30 with 0.
    """

    parallel_aware = True
    exhausts_finite_space = True

    def __init__(
        self,
        space: Any = None,
        *,
        n_init: int | None = None,
        n_candidates: int = 512,
        n_restarts: int = 4,
        max_train: int = 250,
        refit_every: int | None = None,
        tr_dims: int | None = 20,
        output_warp: str = "yeo-johnson",
        exploit_share: float = 0.5,
        **kwargs: Any,
    ) -> None:
        if n_init is not None and (int(n_init) != n_init or n_init < 0):
            raise ValueError(f"n_init must be an integer >= 0 or None, got {n_init!r}")
        if int(n_candidates) != n_candidates or n_candidates < 1:
            raise ValueError(f"n_candidates must be an integer >= 1, got {n_candidates!r}")
        if int(n_restarts) != n_restarts or n_restarts < 0:
            raise ValueError(f"n_restarts must be an integer >= 0, got {n_restarts!r}")
        if int(max_train) != max_train or max_train < 10:
            raise ValueError(f"max_train must be an integer >= 10, got {max_train!r}")
        if refit_every is not None and (int(refit_every) != refit_every or refit_every < 1):
            raise ValueError(
                f"refit_every must be a positive integer or None, got {refit_every!r}"
            )
        if tr_dims is not None and (int(tr_dims) != tr_dims or tr_dims < 1):
            raise ValueError(f"tr_dims must be a positive integer or None, got {tr_dims!r}")
        if output_warp not in WARPS:
            raise ValueError(f"output_warp must be one of {WARPS}, got {output_warp!r}")
        if not 0.0 <= float(exploit_share) <= 1.0:
            raise ValueError(f"exploit_share must be in [0, 1], got {exploit_share!r}")
        self.output_warp = output_warp
        self.exploit_share = float(exploit_share)
        self.n_init_arg = None if n_init is None else int(n_init)
        self.n_candidates = int(n_candidates)
        self.n_restarts = int(n_restarts)
        self.max_train = int(max_train)
        self.refit_every = None if refit_every is None else int(refit_every)
        self.tr_dims = None if tr_dims is None else int(tr_dims)
        self.n_init = 0
        self._sobol_seed = 0
        self._sobol_index = 0
        self._sobol_cache: tuple[int, np.ndarray] | None = None
        self._theta: np.ndarray | None = None
        self._theta_n = 0  # observations at the last hyperparameter fit
        self._tr_length = _TR_INIT
        self._tr_success = 0
        self._tr_failure = 0
        self._tr_best: float | None = None
        self._rows: dict[str, np.ndarray] = {}
        self.last_train_size = 0
        self._n_local = 0
        self._exploit: set[str] = set()  # pending exploitation trials
        super().__init__(space, **kwargs)

    def _recipe(self) -> dict[str, Any]:
        return {
            "n_init": self.n_init_arg,
            "n_candidates": self.n_candidates,
            "n_restarts": self.n_restarts,
            "max_train": self.max_train,
            "refit_every": self.refit_every,
            "tr_dims": self.tr_dims,
            "output_warp": self.output_warp,
            "exploit_share": self.exploit_share,
        }

    # ------------------------------------------------------------------ set-up
    def _on_setup(self) -> None:
        space = self.space
        self._sobol_seed = int(self.rng.integers(0, _MAX_SOBOL_SEED))
        self.encoding = Encoding(space)
        n_params = sum(1 for e in space.entries if e.param.cardinality != 1)
        default_init = min(20, max(10, n_params // 2 + 4))
        self.n_init = default_init if self.n_init_arg is None else self.n_init_arg
        self._cardinality = space.cardinality(limit=100_000)
        # Activity groups: parameters with the same (non-empty) conditions.
        groups: dict[tuple[str, ...], list[int]] = {}
        for e in space.entries:
            if e.conditions:
                s = self.encoding.slices[e.name]
                groups.setdefault(tuple(str(c) for c in e.conditions), []).append(s.start)
        self._group_cols = [cols[0] for cols in groups.values()]
        cols = self.encoding.columns
        # Columns the gradient search moves: continuous and ordered discrete ones.
        self._move = np.array([c.kind in ("continuous", "discrete") for c in cols], dtype=bool)
        self._discrete: list[tuple[int, np.ndarray, np.ndarray]] = []  # col, edges, centres
        for e in space.entries:
            spec = column_spec(e.param)
            s = self.encoding.slices[e.name]
            if cols[s.start].kind == "discrete" and spec.kind == "discrete":
                assert spec.edges is not None and spec.centres is not None
                self._discrete.append((s.start, spec.edges, spec.centres))
        self._onehot_blocks = [
            (s.start, s.stop)
            for name, s in self.encoding.slices.items()
            if cols[s.start].kind == "onehot"
        ]
        self._d_model = self.encoding.dim + len(self._group_cols)
        # How a unit-cube coordinate becomes encoding columns, per entry (the encoding of
        # ``space.from_unit(u)`` without building the assignment; see :meth:`_encode_unit`).
        cells = {col: (edges, centres) for col, edges, centres in self._discrete}
        self._unit_maps: list[tuple[int, Any, Any]] = []
        for e in space.entries:
            s = self.encoding.slices[e.name]
            p = e.param
            kind = cols[s.start].kind
            if kind == "onehot":
                self._unit_maps.append((s.start, "onehot", s.stop - s.start))
            elif s.start in cells:
                self._unit_maps.append((s.start, "cells", cells[s.start]))
            elif isinstance(p, Float | Normal) and p.step is None:
                self._unit_maps.append((s.start, "unit", None))
            else:
                self._unit_maps.append((s.start, "scalar", p))

    @property
    def uses_trust_region(self) -> bool:
        return self.tr_dims is not None and self.is_setup and self.encoding.dim > self.tr_dims

    def _features(self, E: np.ndarray) -> np.ndarray:
        """Model inputs of encoded rows (NaN inactive): imputed plus indicator columns."""
        E = np.atleast_2d(E)
        ind = (~np.isnan(E[:, self._group_cols])).astype(float)
        return np.hstack([np.where(np.isnan(E), _INACTIVE, E), ind])

    def _encode(self, trial: Trial) -> np.ndarray:
        row = self._rows.get(trial.trial_id)
        if row is None:
            row = self.encoding.encode(trial.params)
            self._rows[trial.trial_id] = row
        return row

    # ------------------------------------------------------------------ suggest
    def _suggest(self, trial_id: str) -> Suggestion:
        if self._cardinality is not None and len(self._seen) >= self._cardinality:
            return FINISHED
        finished = self.finished_trials
        if len(self.trials) < self.n_init or len(finished) < 2:
            return self._startup()
        try:
            with _single_threaded_blas():
                return self._model_suggest(trial_id)
        except (linalg.LinAlgError, ValueError, FloatingPointError) as err:
            logger.warning("GP suggestion failed (%s); falling back to a random point", err)
            return self._unseen()

    def _startup(self) -> Suggestion:
        for _ in range(100):
            block, offset = divmod(self._sobol_index, _SOBOL_BLOCK)
            if self._sobol_cache is None or self._sobol_cache[0] != block:
                dim = len(self.space.entries)
                self._sobol_cache = (block, sobol_block(dim, self._sobol_seed, block))
            self._sobol_index += 1
            params = self.space.from_unit(self._sobol_cache[1][offset, : len(self.space.entries)])
            if self._cardinality is None or not self.seen(params):
                return params
        return self._unseen()

    def _unseen(self) -> Suggestion:
        for _ in range(100):
            params = self.space.sample(self.rng)
            if self._cardinality is None or not self.seen(params):
                return params
        unseen = [p for p in self.space.enumerate() if not self.seen(p)]
        if not unseen:
            return FINISHED
        return unseen[int(self.rng.integers(0, len(unseen)))]

    def _training_data(self) -> tuple[list[Trial], np.ndarray, list[Trial]]:
        obs: list[Trial] = []
        values: list[float] = []
        failed: list[Trial] = []
        pending: list[Trial] = []
        for t in self.trials.values():
            if t.status is TrialStatus.PENDING:
                pending.append(t)
            elif t.value is not None and t.status in (TrialStatus.COMPLETE, TrialStatus.PRUNED):
                obs.append(t)
                values.append(t.value)
            else:
                failed.append(t)
        worst = max(values)
        obs_all = obs + failed
        vals = np.array(values + [worst] * len(failed))
        # keep trial order (oldest first) for the recency rule
        order = {t.trial_id: i for i, t in enumerate(self.trials.values())}
        idx = sorted(range(len(obs_all)), key=lambda i: order[obs_all[i].trial_id])
        obs_all = [obs_all[i] for i in idx]
        vals = vals[idx]
        keep = select_training(vals, self.max_train)
        return [obs_all[i] for i in keep], vals[keep], pending

    def _fit(self, X: np.ndarray, y: np.ndarray) -> GaussianProcess:
        n = len(y)
        every = self.refit_every if self.refit_every is not None else max(1, n // 40)
        if n <= 50:
            every = 1
        n_obs = len(self.finished_trials)
        if (
            self._theta is None
            or len(self._theta) != X.shape[1] + 2
            or n_obs >= self._theta_n + every
        ):
            self._theta = fit_theta(X, y, self._theta, maxiter=200 if self._theta is None else 60)
            self._theta_n = n_obs
        return GaussianProcess(X, y, self._theta)

    def _model_suggest(self, trial_id: str) -> Suggestion:
        train, values, pending = self._training_data()
        self.last_train_size = len(train)
        E = np.array([self._encode(t) for t in train])
        X = self._features(E)
        y = warp_outputs(values, self.output_warp)
        gp = self._fit(X, y)
        best = float(y.min())
        incumbent = train[int(np.argmin(values))]
        box = self._tr_box(gp, incumbent) if self.uses_trust_region else None
        if pending:
            Xp = self._features(np.array([self._encode(t) for t in pending]))
            n_exploit = sum(t.trial_id in self._exploit for t in pending)
            if n_exploit + 1 <= self.exploit_share * (len(pending) + 1):
                flat = self._exploit_suggest(gp, best, train, values, box, incumbent, X, Xp)
                if flat is not None:
                    self._exploit.add(trial_id)
                    return flat
            believed = gp.predict(Xp).mean  # kriging believer: pending = posterior mean,
            gp = gp.condition(Xp, believed)  # as exact data, and part of the incumbent too
            best = min(best, float(believed.min()))
        return self._maximise(gp, best, train, values, box, incumbent)

    def _exploit_suggest(
        self,
        gp: GaussianProcess,
        best: float,
        train: list[Trial],
        values: np.ndarray,
        box: tuple[np.ndarray, np.ndarray] | None,
        incumbent: Trial,
        X: np.ndarray,
        Xp: np.ndarray,
    ) -> Flat | None:
        """The posterior-mean minimiser, or None if it is (within 1e-3 lengthscales) a point
        already observed or in flight."""
        flat = self._maximise(gp, best, train, values, box, incumbent, greedy=True)
        if not isinstance(flat, dict):
            return None
        x = self._features(self.encoding.encode(flat)[None])
        known = np.vstack([X, Xp])
        dist = np.sqrt((((known - x) / gp.lengthscales) ** 2).sum(axis=1)).min()
        return flat if dist > 1e-3 else None

    # ------------------------------------------------------------------ acquisition
    def _acq(
        self, gp: GaussianProcess, best: float, E: np.ndarray, greedy: bool = False
    ) -> np.ndarray:
        """LogEI below ``best`` or, if ``greedy``, the negated posterior mean."""
        p = gp.predict(self._features(E))
        if greedy:
            return -p.mean
        return log_ei(p.mean, p.var, best)[0]

    def _tr_box(self, gp: GaussianProcess, incumbent: Trial) -> tuple[np.ndarray, np.ndarray]:
        d = self.encoding.dim
        ls = gp.lengthscales[:d]
        w = ls / math.exp(float(np.mean(np.log(ls))))
        w = np.clip(w, 0.1, 10.0)
        half = 0.5 * self._tr_length * w
        centre = np.where(np.isnan(self._encode(incumbent)), 0.5, self._encode(incumbent))
        return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)

    def _encode_unit(self, U: np.ndarray) -> np.ndarray:
        """``(n, d)`` encodings of ``space.from_unit(u)`` for the rows of ``U`` (one column per
        entry) of a space without conditions, in numpy: discrete cells by their edges
        (:func:`~raysearch.searchers.tpe.column_spec`), one-hot blocks by the choice's
        cell, continuous floats and normals as ``u`` itself (``to_unit(from_unit(u))`` up to
        rounding, so decoding a row gives exactly ``space.from_unit(u)``).
        The per-assignment route (``from_unit``, then ``encode``) took 21 ms of a 90 ms
        suggestion for 512 Hartmann6 candidates."""
        n = len(U)
        E = np.empty((n, self.encoding.dim))
        for j, (col, how, data) in enumerate(self._unit_maps):
            u = np.clip(U[:, j], 0.0, 1.0)
            if how == "onehot":
                idx = np.minimum((u * data).astype(int), data - 1)
                E[:, col : col + data] = 0.0
                E[np.arange(n), col + idx] = 1.0
            elif how == "cells":
                edges, centres = data
                k = np.clip(np.searchsorted(edges, u, side="right") - 1, 0, len(centres) - 1)
                E[:, col] = centres[k]
            elif how == "unit":
                E[:, col] = u
            else:
                E[:, col] = [data.to_unit(data.from_unit(float(v))) for v in u]
        return E

    def _candidates(
        self,
        train: list[Trial],
        values: np.ndarray,
        box: tuple[np.ndarray, np.ndarray] | None,
        incumbent: Trial,
    ) -> tuple[np.ndarray, list[Flat | None]]:
        """Encoded candidates and their assignments; None stands for "decode the row" (the
        random candidates of an unconditional space, most of which are never looked at)."""
        space = self.space
        n = self.n_candidates
        built: list[Flat] = []  # assignments built one by one, encoded below
        E_unit = np.empty((0, self.encoding.dim))  # rows encoded straight from the cube
        if box is None:
            if not space.is_conditional and len(space.entries) > 0:
                E_unit = self._encode_unit(self.rng.random((n, len(space.entries))))
            else:
                built = [space.sample(self.rng) for _ in range(n // 2)]
        else:
            lo, hi = box
            p_move = min(1.0, 20.0 / max(len(space.entries), 1))
            for _ in range(n // 2):
                flat = dict(incumbent.params)
                for e in space.entries:
                    if e.name not in flat or self.rng.random() >= p_move:
                        continue
                    s = self.encoding.slices[e.name]
                    if isinstance(e.param, Categorical) and not e.param.ordered:
                        flat[e.name] = e.param.sample(self.rng)
                    else:
                        u = self.rng.uniform(lo[s.start], hi[s.start])
                        flat[e.name] = e.param.from_unit(float(u))
                built.append(space.complete(space.prune(flat), self.rng))
        # neighbours of the best trials (local exploitation), last in the list
        top = np.argsort(values, kind="stable")[:5]
        self._n_local = 8 * len(top)
        for i in top:
            for _ in range(8):
                built.append(space.mutate(train[int(i)].params, self.rng, scale=0.05))
        E = np.vstack([E_unit, self.encoding.encode_many(built)])
        flats: list[Flat | None] = [None] * len(E_unit)
        flats += built
        return E, flats

    def _maximise(
        self,
        gp: GaussianProcess,
        best: float,
        train: list[Trial],
        values: np.ndarray,
        box: tuple[np.ndarray, np.ndarray] | None,
        incumbent: Trial,
        greedy: bool = False,
    ) -> Suggestion:
        """The unseen point that maximises the acquisition (see :meth:`_acq`)."""
        E, flats = self._candidates(train, values, box, incumbent)

        def flat_at(i: int) -> Flat:
            flat = flats[i]
            if flat is None:
                flat = flats[i] = self.encoding.decode(E[i])
            return flat

        scores = self._acq(gp, best, E, greedy)
        order = np.argsort(-scores, kind="stable")
        # Half the starts from the global (random) candidates, so the gradient search does
        # not only polish the incumbent's neighbourhood; the rest are the overall best.
        n_global = len(flats) - self._n_local
        g_order = [int(i) for i in order if i < n_global]
        starts = g_order[: self.n_restarts // 2]
        starts += [int(i) for i in order if int(i) not in starts][: self.n_restarts - len(starts)]
        results: list[tuple[float, Flat]] = []
        if starts and self._move.any():
            for flat in self._gradient_search(gp, best, E[starts], box, greedy):
                results.append(
                    (float(self._acq(gp, best, self.encoding.encode(flat)[None], greedy)[0]), flat)
                )
        for i in order[: max(self.n_restarts, 1)]:
            results.append((float(scores[i]), flat_at(int(i))))
        # local search over discrete and categorical values from the best few
        results.sort(key=lambda r: -r[0])
        polished = [self._local_search(gp, best, f, v, greedy) for v, f in results[:2]]
        # every candidate, by score; an int is a candidate's row, decoded when reached
        pool: list[tuple[float, Flat | int]] = [*polished, *results]
        pool += [(float(scores[i]), int(i)) for i in order]
        pool.sort(key=lambda r: -r[0])
        for _, item in pool:
            flat = flat_at(item) if isinstance(item, int) else item
            if self._cardinality is None or not self.seen(flat):
                return flat
        return self._unseen()

    def _gradient_search(
        self,
        gp: GaussianProcess,
        best: float,
        E0: np.ndarray,
        box: tuple[np.ndarray, np.ndarray] | None,
        greedy: bool = False,
    ) -> list[Flat]:
        k, d = E0.shape
        active = ~np.isnan(E0)
        X0 = np.where(active, E0, _INACTIVE)
        ind = self._features(E0)[:, d:]
        movable = active & self._move[None, :]
        lo = np.zeros((k, d))
        hi = np.ones((k, d))
        if box is not None:
            lo = np.broadcast_to(box[0], (k, d)).copy()
            hi = np.broadcast_to(box[1], (k, d)).copy()
            X0 = np.clip(X0, lo, hi)
        lo = np.where(movable, lo, X0)
        hi = np.where(movable, hi, X0)

        def f(v: np.ndarray) -> tuple[float, np.ndarray]:
            Xk = v.reshape(k, d)
            p = gp.predict(np.hstack([Xk, ind]) if ind.shape[1] else Xk, grad=True)
            g: np.ndarray | None
            if greedy:
                val, g = -p.mean, None if p.dmean is None else -p.dmean
            else:
                val, g = log_ei(p.mean, p.var, best, p.dmean, p.dvar)
            assert g is not None
            grad = -g[:, :d] * movable
            return -float(val.sum()), grad.ravel()

        res = optimize.minimize(
            f,
            X0.ravel(),
            jac=True,
            method="L-BFGS-B",
            bounds=list(zip(lo.ravel(), hi.ravel())),
            options={"maxiter": _GRAD_MAXITER},
        )
        Xk = np.asarray(res.x).reshape(k, d)
        Xk = np.where(active, Xk, np.nan)
        out: list[Flat] = []
        for row in Xk:
            try:
                out.append(self.encoding.decode(np.where(np.isnan(row), 0.5, row)))
            except Exception:
                continue
        return out

    def _neighbours(self, flat: Flat) -> list[Flat]:
        space = self.space
        out: list[Flat] = []
        for e in space.entries:
            if e.name not in flat:
                continue
            p = e.param
            n = p.cardinality
            if n is None or n == 1:
                continue
            if isinstance(p, Categorical) and not p.ordered:
                options = [c for c in p.choices if c != flat[e.name]]
                if len(options) > 8:
                    pick = self.rng.choice(len(options), size=8, replace=False)
                    options = [options[int(i)] for i in pick]
            elif n <= 4096:
                vals = p.values()
                u = p.to_unit(flat[e.name])
                j = int(np.argmin([abs(p.to_unit(v) - u) for v in vals])) if n <= 256 else None
                if j is None:
                    options = [
                        p.from_unit(min(1.0, u + 1.0 / n)),
                        p.from_unit(max(0.0, u - 1.0 / n)),
                    ]
                else:
                    options = [vals[i] for i in (j - 1, j + 1) if 0 <= i < n]
            else:
                continue
            for v in options:
                new = dict(flat)
                new[e.name] = v
                out.append(space.complete(space.prune(new), self.rng))
        return out

    def _local_search(
        self, gp: GaussianProcess, best: float, flat: Flat, value: float, greedy: bool = False
    ) -> tuple[float, Flat]:
        for _ in range(5):
            nbrs = [
                n for n in self._neighbours(flat) if self._cardinality is None or not self.seen(n)
            ]
            if not nbrs:
                break
            scores = self._acq(gp, best, self.encoding.encode_many(nbrs), greedy)
            i = int(np.argmax(scores))
            if scores[i] <= value + 1e-9:
                break
            flat, value = nbrs[i], float(scores[i])
        return value, flat

    # ------------------------------------------------------------------ trust region
    def _on_tell(self, trial: Trial) -> None:
        self._exploit.discard(trial.trial_id)
        if not self.uses_trust_region or trial.value is None:
            return
        if trial.status is not TrialStatus.COMPLETE:
            return
        if len(self.finished_trials) <= self.n_init:
            self._tr_best = (
                trial.value if self._tr_best is None else min(self._tr_best, trial.value)
            )
            return
        if self._tr_best is None or trial.value < self._tr_best - 1e-3 * abs(self._tr_best):
            self._tr_success += 1
            self._tr_failure = 0
        else:
            self._tr_failure += 1
            self._tr_success = 0
        if self._tr_best is None or trial.value < self._tr_best:
            self._tr_best = trial.value
        fail_tol = max(4, self.encoding.dim // 4)
        if self._tr_success >= _TR_SUCCESS:
            self._tr_length = min(2.0 * self._tr_length, _TR_MAX)
            self._tr_success = 0
        elif self._tr_failure >= fail_tol:
            self._tr_length /= 2.0
            self._tr_failure = 0
        if self._tr_length < _TR_MIN:
            self._tr_length = _TR_INIT

    # ------------------------------------------------------------------ state
    def _strategy_state(self) -> dict[str, Any]:
        return {
            "sobol_seed": self._sobol_seed,
            "sobol_index": self._sobol_index,
            "theta": None if self._theta is None else [float(v) for v in self._theta],
            "theta_n": self._theta_n,
            "tr": [self._tr_length, self._tr_success, self._tr_failure, self._tr_best],
            "exploit": sorted(self._exploit),
        }

    def _load_strategy_state(self, data: dict[str, Any]) -> None:
        self._sobol_seed = int(data.get("sobol_seed", self._sobol_seed))
        self._sobol_index = int(data.get("sobol_index", 0))
        self._sobol_cache = None
        theta = data.get("theta")
        self._theta = None if theta is None else np.array(theta, dtype=float)
        self._theta_n = int(data.get("theta_n", 0))
        tr = data.get("tr") or [_TR_INIT, 0, 0, None]
        self._tr_length, self._tr_success, self._tr_failure = float(tr[0]), int(tr[1]), int(tr[2])
        self._tr_best = None if tr[3] is None else float(tr[3])
        self._exploit = {str(t) for t in data.get("exploit", [])}
        self._rows = {}
