"""``python -m raysearch.bench multifidelity``: early stopping on real learning curves.

Real learning curves are computed once and cached (a *tabular* benchmark, as HPOBench and
LCBench do): LightGBM validation loss after every 5 boosting rounds (27 steps) on diamonds
(RMSE of log price) and health_insurance (log loss), and a torch MLP's validation
cross-entropy after each of 27 epochs on digits, for every configuration of a grid. Then
every scheduler x searcher pair is simulated on the recorded curves with
:func:`raysearch.testing.simulate.simulate` (``--workers`` trials at once, one step per tick,
no Ray), many seeds in seconds. Compute is the number of steps trained (the sum of the
resources used).

Compared: FIFO + random search, Ray's ``ASHAScheduler`` and ``HyperBandScheduler`` (their
own code, driven through a shim that plays Tune's controller on the simulated clock: pause,
resume, stop of waiting trials through ``on_trial_remove``, and up to 16 trials added ahead
of a free worker, as Tune does with random search; Ray's Hyperband fills its brackets with
the trials added so far, and with trials added only as workers free up, its first
(``max_t``) bracket is refilled as its trials finish, so all trials would run to
``max_t``), raysearch ASHA (stopping and promotion variants), Hyperband, the BOHB preset
(TPE on the highest well-sampled rung + ASHA, with the stopping and the promotion variant)
and the ASHA+GP preset (a GP over configuration and fidelity, trained on every rung:
:mod:`raysearch.surrogates.fidelity`), and the ``-corr`` methods (``asha-corr``,
``bohb-corr``, ``bohb-promote-corr``, ``asha+gp-corr``): the same with
``min_rank_corr=0.3``, rungs that stop trials only once the rank correlation between a
rung and the final step, measured on trials the rung did not select, is shown to be high
(:mod:`raysearch.schedulers.rankcorr`; an adaptive grace period).

**Equal compute** (``--compute equal``, the default): every method gets FIFO + random's
compute, ``--trials`` full trainings (64 x 27 steps), and starts as many trials as it
affords; once the budget is spent no trial starts or resumes and running ones stop at their
next result (at most one step per worker past it). ``--compute trials``: every method starts
``--trials`` trials (the earlier protocol). Reported per task (mean over seeds): the final
best validation loss, the compute used, the trials started, the fraction of FIFO's compute a
method needs to reach FIFO's final best (``to_fifo``, lower is better, ``-`` if never), the
area under the best-so-far regret curve over FIFO's compute range (``regret_auc``, lower is
better), the seeds whose final best is strictly below FIFO's (``beats_fifo``) and the seeds
that reached the grid's optimum (``found_opt``), the wins over the seeds where FIFO +
random missed the optimum (``beats_beatable``) and the regret area relative to Ray's ASHA
(``auc_vs_ray``). ``--plot`` writes the anytime plot.

Tasks: diamonds, health_insurance and digits on the default grids (120, 120 and 108
configurations), where FIFO + random's 64 trials see about half of the grid and find its
optimum themselves in 2-3 of 5 seeds; and ``diamonds_wide``, ``health_insurance_wide``,
``digits_wide``: the same data on the wide grids (504 LightGBM, 384 MLP configurations,
fixed whatever ``--grid`` says), where 64 trials see an eighth (a sixth) of the grid.

``--grid wide`` records and uses finer grids of the same hyperparameters (504 LightGBM and
384 MLP configurations instead of 120 and 108), so that the trials cover less of the grid
and FIFO + random's final best is further from the grid's optimum. ``--max-t 81`` records
81-step curves (405 boosting rounds, 81 epochs; cached apart): the grace period stays one
step, so the fidelity range max_t / grace grows from 27 to 81, the range the ASHA and
Hyperband papers work with.

The modules:

* :mod:`.grids`: the tasks, their configuration grids and the search space over a grid;
* :mod:`.curves`: recording and caching the learning curves;
* :mod:`.ray_shim`: Ray's own schedulers driven on the simulated clock;
* :mod:`.methods`: the method table and one simulated experiment (:func:`run_method`);
* :mod:`.summary`: the table over seeds and the anytime plot;
* :mod:`.cli`: the options and the printed report (:func:`main`).
"""

from __future__ import annotations

from raysearch.bench.multifidelity.cli import main
from raysearch.bench.multifidelity.curves import load_curves
from raysearch.bench.multifidelity.grids import (
    GRID_SETS,
    MAX_T,
    TASKS,
    config_key,
    grid_points,
    task_space,
)
from raysearch.bench.multifidelity.methods import METHODS, run_method
from raysearch.bench.multifidelity.ray_shim import RayShim, ray_asha, ray_hyperband
from raysearch.bench.multifidelity.summary import summarise

__all__ = [
    "main",
    "TASKS",
    "METHODS",
    "MAX_T",
    "GRID_SETS",
    "load_curves",
    "run_method",
    "summarise",
    "grid_points",
    "config_key",
    "task_space",
    "RayShim",
    "ray_asha",
    "ray_hyperband",
]
