"""The Ray cluster a run uses: joining it, and what its nodes can hold.

* :func:`init_ray` joins the cluster in ``RAY_ADDRESS`` (``ray job submit``) or starts local
  Ray, whose processes all end with this one, even on ``kill -9``
  (:mod:`raysearch.tune.reaper`);
* :func:`check_resources` refuses per-trial requests no node can ever satisfy (more GPUs
  than any node has, zero CPUs), counting the nodes an autoscaler may add, instead of
  leaving trials pending forever;
* :func:`concurrency_for` and :func:`cluster_concurrency`: how many trials of a request run
  at once, packed per node.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping

from raysearch.tune.reaper import watch_local_ray

__all__ = [
    "ResourceError",
    "init_ray",
    "check_resources",
    "unfit_message",
    "concurrency_for",
    "cluster_concurrency",
    "tune_resources",
]

logger = logging.getLogger("raysearch")

#: Ray's logger of the "Token authentication is enabled" notice
_TOKEN_LOGGER = "ray._private.authentication.authentication_token_setup"
_RAY_NAMES = {"cpu": "CPU", "gpu": "GPU", "memory": "memory"}
#: concurrency when an autoscaling node group has no upper bound
_UNBOUNDED_SLOTS = 64


class ResourceError(ValueError):
    """A trial asks for resources the cluster can never give it."""


def init_ray(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    verbose: int = 2,
) -> None:
    """Connects to ``address`` or ``RAY_ADDRESS`` if set, else starts a local Ray instance.

    Does nothing if Ray is already initialized in this process. ``verbose`` is the caller's
    verbosity (0 quiet, 1 progress, 2 also Ray's and Tune's own messages, i.e. ``-v``):
    below 2, Ray's start-up lines (the token-authentication notice, "Started a local Ray
    instance") stay off the console.
    """
    import ray

    if ray.is_initialized():
        return
    quiet = verbose < 2
    os.environ.setdefault("RAY_DEDUP_LOGS", "1")
    address = address or os.environ.get("RAY_ADDRESS")
    level = {"logging_level": logging.WARNING} if quiet else {}
    token_logger = logging.getLogger(_TOKEN_LOGGER)
    previous = token_logger.level
    if quiet:
        token_logger.setLevel(logging.ERROR)
        # a failed trial's error is kept in its error.txt and summarised by raysearch; Ray's
        # "Unhandled error" dump of the same traceback (printed when the failed task's result
        # is garbage-collected, so only in some runs) is noise under --quiet
        os.environ.setdefault("RAY_IGNORE_UNHANDLED_ERRORS", "1")
    try:
        if address:
            logger.info("joining the Ray cluster at %s", address)
            ray.init(address=address, **level)
        else:
            ray.init(include_dashboard=False, num_cpus=num_cpus, num_gpus=num_gpus, **level)
            # its agents go with this process, even when it is killed (see tune/reaper.py)
            watch_local_ray(ray.get_runtime_context().get_node_id())
    finally:
        token_logger.setLevel(previous)


def _alive_nodes() -> list[dict[str, float]]:
    import ray

    return [dict(n.get("Resources", {})) for n in ray.nodes() if n.get("Alive")]


def _autoscaler_groups() -> list[tuple[dict[str, float], int]]:
    """Node groups an autoscaler may add: (resources per node, max nodes; -1 = unbounded).

    Read from the cluster config Ray's autoscaler (``ray up``, KubeRay) publishes in the GCS;
    empty for a fixed cluster or local Ray.
    """
    try:
        from ray._private import state

        config = state.state.get_cluster_config()
    except Exception:  # no autoscaler, an older GCS: judge by the alive nodes alone
        return []
    if config is None:
        return []
    return [
        ({str(k): float(v) for k, v in group.resources.items()}, int(group.max_count))
        for group in config.node_group_configs
        if group.max_count != 0
    ]


def _fits(request: Mapping[str, float], node: Mapping[str, float]) -> bool:
    return all(node.get(_RAY_NAMES.get(k, k), 0.0) >= v for k, v in request.items() if v > 0)


def unfit_message(request: Mapping[str, float], nodes: list[dict[str, float]]) -> str | None:
    """Why no node (alive or addable) can ever run one trial, or None if one can."""
    if not nodes or any(_fits(request, n) for n in nodes):
        return None
    wanted = ", ".join(f"{v:g} {_RAY_NAMES.get(k, k)}" for k, v in request.items() if v > 0)
    have = "; ".join(
        ", ".join(
            f"{n.get(_RAY_NAMES.get(k, k), 0.0):g} {_RAY_NAMES.get(k, k)}"
            for k in request
            if request[k] > 0
        )
        for n in nodes
    )
    return (
        f"each trial asks for {wanted}, but no node of the Ray cluster (nor any node its "
        f"autoscaler can add) has that much (per node: {have}); trials would stay pending forever"
    )


def concurrency_for(
    request: Mapping[str, float],
    alive: list[dict[str, float]],
    groups: list[tuple[dict[str, float], int]],
) -> int:
    """How many trials of ``request`` the cluster runs at once: packed per node, over the
    alive nodes or, if larger, over what the autoscaler can grow to."""

    def per_node(node: Mapping[str, float]) -> int:
        counts = [
            int(node.get(_RAY_NAMES.get(k, k), 0.0) // v + 1e-9)
            for k, v in request.items()
            if v > 0
        ]
        return max(0, min(counts)) if counts else 1

    now = sum(per_node(n) for n in alive)
    if not groups:
        return max(1, now)
    if any(max_count < 0 for _, max_count in groups):
        return max(1, now, _UNBOUNDED_SLOTS)
    # An upper bound: alive worker nodes may already be members of these groups.
    grown = sum(per_node(node) * max_count for node, max_count in groups)
    return max(1, now + grown)


def cluster_concurrency(request: Mapping[str, float]) -> int:
    """:func:`concurrency_for` on the connected cluster (its alive nodes and autoscaler)."""
    return concurrency_for(request, _alive_nodes(), _autoscaler_groups())


def check_resources(resources: Mapping[str, float]) -> dict[str, float]:
    """Validates per-trial ``resources`` against the connected cluster (alive nodes and the
    node groups its autoscaler can add).

    Returns:
        The normalised request (keys ``cpu``, ``gpu``, ``memory`` and custom resources).
    Raises:
        ResourceError: for a request no node can ever satisfy.
    """
    request = {}
    for key, value in resources.items():
        k = str(key).lower() if str(key).lower() in _RAY_NAMES else str(key)
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = math.nan
        if not math.isfinite(v) or v < 0:
            raise ResourceError(f"resources[{k!r}] must be a number >= 0, got {value!r}")
        request[k] = v
    if request.get("cpu", 1.0) <= 0:
        raise ResourceError(
            "resources['cpu'] must be > 0: a trial runs in a process that needs some CPU "
            "(use a fraction like 0.5 to pack several trials per core)"
        )
    request.setdefault("cpu", 1.0)
    nodes = _alive_nodes() + [node for node, _ in _autoscaler_groups()]
    message = unfit_message(request, nodes)
    if message is not None:
        raise ResourceError(message)
    return request


def tune_resources(request: Mapping[str, float]) -> dict[str, float]:
    """A normalised request as ``tune.with_resources`` takes it (zero amounts dropped)."""
    out = {k: v for k, v in request.items() if v > 0 or k == "cpu"}
    out.setdefault("gpu", 0.0)
    return out
