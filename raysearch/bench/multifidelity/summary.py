"""The multifidelity bench's report: the table over seeds and the anytime plot.

Per task and method (mean over seeds): the final best validation loss, the compute used,
the trials started, the seeds whose final best beats FIFO + random's (``beats_fifo``) and
that found the grid's optimum (``found_opt``), the wins over the seeds where FIFO + random
itself missed the optimum (``beats_beatable``: where FIFO finds it, nothing can be strictly
better, so the denominator is the most seeds any method can beat it in), the regret area
relative to Ray's ASHA (``auc_vs_ray``, when ``ray-asha`` ran),
the fraction of FIFO's compute a method needs to reach FIFO's final best (``to_fifo``,
lower is better, ``-`` if never), and the area under the best-so-far regret curve over
FIFO's compute range (``regret_auc``, lower is better).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from raysearch.bench.multifidelity.grids import TASKS
from raysearch.bench.multifidelity.methods import METHODS

__all__ = ["best_at", "summarise", "plot"]


def best_at(trace: Sequence[tuple[int, float]], grid: np.ndarray) -> np.ndarray:
    """The best-so-far loss of a (compute, loss) trace at each compute of ``grid``
    (NaN before the first result)."""
    out = np.full(len(grid), np.nan)
    if not trace:
        return out
    xs = np.array([c for c, _ in trace])
    ys = np.array([v for _, v in trace])
    idx = np.searchsorted(xs, grid, side="right") - 1
    ok = idx >= 0
    out[ok] = ys[idx[ok]]
    return out


def summarise(runs: list[dict[str, Any]], optimum: dict[str, float]) -> list[dict[str, Any]]:
    """Table rows, mean over seeds, per task and method."""
    rows = []
    by = {(r["task"], r["method"], r["seed"]): r for r in runs}
    tasks = sorted({r["task"] for r in runs}, key=lambda t: TASKS.index(t) if t in TASKS else 99)
    methods = [m for m in METHODS if any(r["method"] == m for r in runs)]
    for task in tasks:
        seeds = sorted({r["seed"] for r in runs if r["task"] == task})
        for method in methods:
            bests, computes, to_fifo, aucs, trials = [], [], [], [], []
            wins, found, beatable = 0, 0, 0
            for seed in seeds:
                run, fifo = by.get((task, method, seed)), by.get((task, "fifo+random", seed))
                if run is None:
                    continue
                bests.append(run["best"])
                computes.append(run["compute"])
                trials.append(run.get("trials", math.nan))
                found += run["best"] <= optimum[task] + 1e-12
                if fifo is None:
                    continue
                wins += run["best"] < fifo["best"] - 1e-12
                beatable += fifo["best"] > optimum[task] + 1e-12
                budget = fifo["compute"]
                hit = next((c for c, v in run["trace"] if v <= fifo["best"] + 1e-12), None)
                to_fifo.append(math.nan if hit is None else hit / budget)
                grid = np.arange(1, budget + 1)
                regret = best_at(run["trace"], grid) - optimum[task]
                first = regret[~np.isnan(regret)][0] if np.any(~np.isnan(regret)) else 1.0
                regret = np.where(np.isnan(regret), first, regret)
                aucs.append(float(regret.mean()))
            fin = [x for x in to_fifo if not math.isnan(x)]
            rows.append(
                {
                    "task": task,
                    "method": method,
                    "best_loss": float(np.mean(bests)),
                    "regret": float(np.mean(bests)) - optimum[task],
                    "compute": float(np.mean(computes)),
                    "trials": float(np.mean(trials)),
                    "to_fifo": float(np.mean(fin))
                    if len(fin) == len(to_fifo) and fin
                    else math.nan,
                    "reached": f"{len(fin)}/{len(to_fifo)}",
                    "regret_auc": float(np.mean(aucs)) if aucs else math.nan,
                    "beats_fifo": f"{wins}/{len(aucs)}",
                    "found_opt": f"{found}/{len(bests)}",
                    "beats_beatable": f"{wins}/{beatable}",
                }
            )
    return _relative_to_ray(rows)


def _relative_to_ray(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adds ``auc_vs_ray``: the regret area relative to Ray's ASHA on the same task
    (-0.37: 37% below), where ``ray-asha`` ran."""
    ray = {r["task"]: r["regret_auc"] for r in rows if r["method"] == "ray-asha"}
    for r in rows:
        ref = ray.get(r["task"])
        ok = ref is not None and ref > 0 and not math.isnan(r["regret_auc"])
        r["auc_vs_ray"] = f"{r['regret_auc'] / ref - 1:+.0%}" if ok else "-"
    return rows


def plot(runs: list[dict[str, Any]], optimum: dict[str, float], path: str) -> None:
    """Writes the anytime plot (best-so-far regret against compute, per task) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in TASKS if any(r["task"] == t for r in runs)]
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        budget = max(r["compute"] for r in runs if r["task"] == task)
        grid = np.unique(np.geomspace(1, budget, 200).astype(int))
        for method in METHODS:
            mine = [r for r in runs if r["task"] == task and r["method"] == method]
            if not mine:
                continue
            curves = np.array([best_at(r["trace"], grid) for r in mine]) - optimum[task]
            mean = np.nanmean(np.where(np.isnan(curves), np.nan, curves), axis=0)
            ax.plot(grid, np.maximum(mean, 1e-6), label=method)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(task)
        ax.set_xlabel("compute (steps trained)")
        ax.set_ylabel("best validation loss - optimum")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
