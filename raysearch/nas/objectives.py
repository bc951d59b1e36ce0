"""Several objectives and constraints: parsing, checking reported metrics, violations.

``objectives=[("val_acc", "max"), ("latency_ms", "min")]`` names metrics a trial reports
and their directions; ``constraints={"latency_ms": ("<=", 5.0)}`` bounds metrics (objectives
or others). Internally every objective is a loss: ``sign * value`` with ``sign = -1`` for
``"max"``. A constraint's violation is how far the value lies beyond its bound, relative
to the bound's magnitude (1 when the bound is 0), summed over the constraints (Deb 2000).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raysearch.core.values import finite_float

__all__ = ["Objectives", "MetricsError", "parse_objectives"]

_OPS = ("<=", ">=", "<", ">")


class MetricsError(ValueError):
    """Objectives or constraints that name metrics the trials do not report."""


@dataclass(frozen=True)
class Objectives:
    """Parsed objectives and constraints.

    Attributes:
        names: objective metric names, in order.
        signs: +1 for ``"min"``, -1 for ``"max"`` (loss = sign * value).
        constraints: ``(metric, op, bound)`` triples.
    """

    names: tuple[str, ...]
    signs: tuple[float, ...]
    constraints: tuple[tuple[str, str, float], ...] = ()

    @property
    def metrics(self) -> list[str]:
        """Every metric a result must hold: objectives, then constrained metrics."""
        out = list(self.names)
        out += [c[0] for c in self.constraints if c[0] not in out]
        return out

    def spec(self) -> dict[str, Any]:
        """The JSON form (for recipes)."""
        return {
            "objectives": [[n, "min" if s > 0 else "max"] for n, s in zip(self.names, self.signs)],
            "constraints": {name: [op, bound] for name, op, bound in self.constraints},
        }

    def missing(self, metrics: Mapping[str, Any]) -> list[str]:
        """Metrics of :attr:`metrics` that ``metrics`` lacks."""
        return [m for m in self.metrics if m not in metrics]

    def unknown_error(self, metrics: Mapping[str, Any]) -> MetricsError:
        """The error for a first result that lacks some objective/constraint metric."""
        lines = []
        reported = sorted(str(k) for k in metrics)
        for name in self.missing(metrics):
            role = "objective" if name in self.names else "constraint"
            hint = difflib.get_close_matches(name, reported, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            lines.append(f"{role} metric {name!r} is not reported{extra}")
        shown = ", ".join(reported[:30])
        return MetricsError("; ".join(lines) + f". The trial reported: {shown}")

    def values(self, metrics: Mapping[str, Any]) -> dict[str, float] | None:
        """The finite values of :attr:`metrics` in ``metrics``; None if one is missing or
        not a finite number."""
        out: dict[str, float] = {}
        for name in self.metrics:
            v = finite_float(metrics.get(name))
            if v is None:
                return None
            out[name] = v
        return out

    def losses(self, values: Mapping[str, float]) -> list[float]:
        """The objective vector (losses) of a trial's metric values."""
        return [s * float(values[n]) for n, s in zip(self.names, self.signs)]

    def violation(self, values: Mapping[str, float]) -> float:
        """Total relative constraint violation (0: feasible)."""
        total = 0.0
        for name, op, bound in self.constraints:
            v = float(values[name])
            excess = v - bound if op in ("<=", "<") else bound - v
            if excess > 0 or (excess == 0 and op in ("<", ">")):
                total += max(excess, 1e-12) / max(abs(bound), 1.0)
        return total

    def to_losses(self, metrics: Mapping[str, float] | Sequence[float]) -> list[float]:
        """A reference point in the metrics' own units (a dict by name, or a sequence in
        objective order) as losses."""
        if isinstance(metrics, Mapping):
            missing = [n for n in self.names if n not in metrics]
            if missing:
                raise ValueError(f"reference lacks the objectives {missing}")
            vals = [float(metrics[n]) for n in self.names]
        else:
            vals = [float(v) for v in metrics]
            if len(vals) != len(self.names):
                raise ValueError(
                    f"reference needs {len(self.names)} values ({list(self.names)}), got {vals}"
                )
        return [s * v for s, v in zip(self.signs, vals)]


def parse_objectives(
    objectives: Sequence[Sequence[str]] | None,
    constraints: Mapping[str, Sequence[Any]] | None,
) -> Objectives | None:
    """Validates ``objectives`` and ``constraints`` (see the module docstring).

    Raises:
        ValueError: naming the argument and the bad value.
    """
    if objectives is None:
        if constraints:
            raise ValueError(
                f"constraints={dict(constraints)!r} need objectives=[(metric, 'min'|'max'), ...] "
                "(constraints are read from the same reported metrics)"
            )
        return None
    if isinstance(objectives, str | Mapping) or not len(objectives):
        raise ValueError(
            f"objectives must be a non-empty list of (metric, 'min'|'max') pairs, got {objectives!r}"
        )
    names: list[str] = []
    signs: list[float] = []
    for item in objectives:
        if isinstance(item, str) or len(item) != 2 or item[1] not in ("min", "max"):
            raise ValueError(f"objectives items must be (metric, 'min'|'max') pairs, got {item!r}")
        name = str(item[0])
        if not name or name in names:
            raise ValueError(
                f"objective metric names must be distinct and non-empty, got {name!r}"
            )
        names.append(name)
        signs.append(1.0 if item[1] == "min" else -1.0)
    parsed: list[tuple[str, str, float]] = []
    for name, rule in dict(constraints or {}).items():
        if isinstance(rule, str) or len(rule) != 2 or rule[0] not in _OPS:
            raise ValueError(
                f"constraints[{name!r}] must be (op, bound) with op in {list(_OPS)}, got {rule!r}"
            )
        bound = finite_float(rule[1])
        if bound is None or math.isnan(bound):
            raise ValueError(f"constraints[{name!r}] needs a finite bound, got {rule[1]!r}")
        parsed.append((str(name), str(rule[0]), bound))
    return Objectives(tuple(names), tuple(signs), tuple(parsed))
