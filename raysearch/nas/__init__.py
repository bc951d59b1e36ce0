"""Neural architecture search: architecture spaces, a model builder, NAS searchers.

Ray-free and torch-free at import (torch is imported when a network is built). The Ray
Tune plugins are in :mod:`raysearch.tune.nas`.

* spaces (:mod:`.spaces`): :func:`nb201_cell`, :func:`macro_chain`, :func:`mlp_space`:
  ordinary :class:`raysearch.space.Space` objects whose configs are JSON architectures;
* networks (:mod:`.builder`, :mod:`.ops`): :func:`build`, :func:`cost`, :func:`register_op`;
* searchers: :class:`EvolutionSearch` (regularized evolution, single- or multi-objective
  with constraints, :mod:`.evolution`), :class:`ControllerSearch` (REINFORCE,
  :mod:`.controller`); Pareto tools in :mod:`.pareto`;
* training (:mod:`.trainable`, :mod:`.datasets`): :class:`NASTask`, :class:`NASTrainer`,
  :func:`train_arch` (the Tune trainable is :func:`raysearch.tune.nas.nas_trainable`).
* one-shot (:mod:`.supernet`, :mod:`.sampling`): :func:`SuperNet` (weight-sharing macro
  supernet, ``extract(arch)``), :func:`recalibrate_bn`, :class:`SuperNetTrainer` (uniform or
  sandwich sampling); the three-phase Ray search is :func:`raysearch.tune.presets.oneshot`.
* zero-cost proxies and DARTS: :func:`proxy_scores` (synflow, NASWOT, grad_norm, snip,
  params, FLOPs; :mod:`.proxies`), :class:`ProxyScreen` (any searcher's proxy-best of ``k``,
  :mod:`.screen`), :class:`DartsSearch` (first/second order with a collapse guard,
  :mod:`.darts`; the Tune trainable is :func:`raysearch.trainables.darts.darts_trainable`).
"""

from __future__ import annotations

from raysearch.nas.builder import ArchitectureError, build, check_arch, cost
from raysearch.nas.controller import ControllerSearch
from raysearch.nas.darts import DartsSearch
from raysearch.nas.evolution import EvolutionSearch
from raysearch.nas.objectives import MetricsError
from raysearch.nas.ops import UnknownOpError, register_op, registered_ops
from raysearch.nas.pareto import hypervolume, plot_pareto
from raysearch.nas.proxies import proxy_score, proxy_scores
from raysearch.nas.sampling import SuperNetTrainer
from raysearch.nas.screen import ProxyScreen
from raysearch.nas.spaces import (
    macro_chain,
    mlp_space,
    nb201_arch_str,
    nb201_cell,
    nb201_from_arch_str,
    nb201_index,
)
from raysearch.nas.supernet import SuperNet, recalibrate_bn
from raysearch.nas.trainable import NASTask, NASTrainer, train_arch

__all__ = [
    "ArchitectureError",
    "ControllerSearch",
    "DartsSearch",
    "EvolutionSearch",
    "MetricsError",
    "NASTask",
    "NASTrainer",
    "ProxyScreen",
    "SuperNet",
    "SuperNetTrainer",
    "UnknownOpError",
    "build",
    "check_arch",
    "cost",
    "hypervolume",
    "macro_chain",
    "mlp_space",
    "nb201_arch_str",
    "nb201_cell",
    "nb201_from_arch_str",
    "nb201_index",
    "plot_pareto",
    "proxy_score",
    "proxy_scores",
    "recalibrate_bn",
    "register_op",
    "registered_ops",
    "train_arch",
]
