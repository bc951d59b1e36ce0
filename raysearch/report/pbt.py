"""PBT/PB2 plots: the population's exploit edges, and the best member's schedule.

Both read the lineage log (:mod:`raysearch.schedulers.pbt.lineage`); the schedule is that
module's own :func:`~raysearch.schedulers.pbt.lineage.plot_lineage`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from raysearch.report.figures import DENSE, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["exploit_graph", "schedule"]


def exploit_graph(lineage: Any) -> Figure | None:
    """One row per member along its steps, and an arrow from the donor to the member at each
    exploit (the member continued from the donor's checkpoint); the best member's ancestry
    in red."""
    from matplotlib.collections import LineCollection

    members = lineage.members()
    if not members:
        return None
    row = {tid: i for i, tid in enumerate(members)}
    best = lineage.best()
    ancestry = {(step, donor) for step, donor in lineage.exploits(best)} if best else set()
    fig = new_figure(8.0, min(8.0, 1.2 + 0.22 * len(members)))
    ax = fig.subplots()
    spans = [[(0.0, row[tid]), (max(lineage.end_step(tid), 1e-9), row[tid])] for tid in members]
    ax.add_collection(LineCollection(spans, colors="0.75", linewidths=2.5))
    edges = [
        ev
        for ev in lineage.events
        if ev.get("event") == "exploit" and ev.get("trial_id") in row and ev.get("donor") in row
    ]
    dense = len(edges) > DENSE
    for ev in edges:
        step = float(ev.get("step") or 0.0)
        mine = (step, ev["donor"]) in ancestry and _leads_to_best(lineage, ev, best)
        ax.annotate(
            "",
            xy=(step, row[ev["trial_id"]]),
            xytext=(step, row[ev["donor"]]),
            arrowprops={
                "arrowstyle": "->",
                "color": "C3" if mine else "C0",
                "lw": 1.6 if mine else 0.7,
                "alpha": 1.0 if mine else 0.6,
                "shrinkA": 0,
                "shrinkB": 0,
            },
        )
    if best is not None:
        ax.plot([0, lineage.end_step(best)], [row[best]] * 2, color="C3", lw=3)
    ax.set_yticks(range(len(members)), members if len(members) <= 40 else [""] * len(members))
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel(lineage.time_attr)
    ax.set_ylim(-0.7, len(members) - 0.3)
    ax.autoscale(axis="x")
    ax.set_title(
        f"{len(members)} members, {lineage.n_exploits()} exploits (arrow: donor -> member); "
        f"best member {best} in red" + (" (arrows drawn as one image)" if dense else ""),
        fontsize=9,
    )
    if dense:
        for artist in [*ax.patches, *ax.texts]:
            artist.set_rasterized(True)
    return fig


def _leads_to_best(lineage: Any, event: dict[str, Any], best: str | None) -> bool:
    """Whether an exploit is one of the best member's ancestry (a donor chain to it)."""
    if best is None:
        return False
    chain = {best, *(donor for _, donor in lineage.exploits(best))}
    return event["trial_id"] in chain


def schedule(lineage: Any) -> Figure | None:
    """The best member's hyperparameter schedule over the population's, with its score."""
    from raysearch.schedulers.pbt.lineage import plot_lineage

    if not lineage.members() or not lineage.parameter_names():
        return None
    fig: Figure = plot_lineage(lineage)
    return fig
