"""Conditions that make a parameter active only for some values of another one, and the
builders that attach them to a part of a space: :func:`when` (a subtree active while its
conditions hold) and :func:`repeat` (a list whose item ``i`` is active while a count
parameter exceeds ``i``). :class:`~raysearch.space.Space` reads both when it is built."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raysearch.space.params import Categorical, Param, SpaceError, loose_equal, same_value

__all__ = ["Condition", "Repeat", "When", "parse_when", "repeat", "when"]

_ORDER_OPS: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
OPS = ("in", "not in", "==", "!=", *_ORDER_OPS)


def _eq(a: Any, b: Any) -> bool:
    return same_value(a, b) or loose_equal(a, b)


@dataclass(frozen=True)
class Condition:
    """``parent <op> value``; the child is active only while this holds and the parent is active.

    Args:
        parent: the flat name of the parent parameter (``"a/b"`` for nested keys).
        op: one of ``in``, ``not in``, ``==``, ``!=``, ``>``, ``>=``, ``<``, ``<=``.
        value: a list for ``in``/``not in``, a single value otherwise.
    """

    parent: str
    op: str
    value: Any

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise SpaceError(f"condition operator must be one of {list(OPS)}, got {self.op!r}")
        if self.op in ("in", "not in"):
            if isinstance(self.value, str | bytes) or not isinstance(self.value, Iterable):
                raise SpaceError(
                    f"condition '{self.parent} {self.op} ...' needs a list of values, got {self.value!r}"
                )
            object.__setattr__(self, "value", tuple(self.value))
            if not self.value:
                raise SpaceError(f"condition '{self.parent} {self.op} []' has an empty list")

    def holds(self, parent_value: Any) -> bool:
        if self.op == "in":
            return any(_eq(parent_value, v) for v in self.value)
        if self.op == "not in":
            return not any(_eq(parent_value, v) for v in self.value)
        if self.op == "==":
            return _eq(parent_value, self.value)
        if self.op == "!=":
            return not _eq(parent_value, self.value)
        try:
            return bool(_ORDER_OPS[self.op](parent_value, self.value))
        except TypeError:
            return False

    def check_parent(self, child: str, parent: Param) -> None:
        """Raises SpaceError if this condition can never make sense for ``parent``."""
        if self.op in _ORDER_OPS:
            if not parent.numeric and not parent.ordered:
                raise SpaceError(
                    f"condition of {child!r} compares {self.parent!r} with {self.op!r}, "
                    f"but {self.parent!r} is {parent!r}, which has no order"
                )
            return
        if isinstance(parent, Categorical):
            wanted = self.value if self.op in ("in", "not in") else (self.value,)
            for v in wanted:
                if not parent.contains(v):
                    raise SpaceError(
                        f"condition of {child!r} names {self.parent}={v!r}, which is not one "
                        f"of its choices {parent.choices!r}"
                    )

    def to_spec(self) -> list[Any]:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        return [self.parent, self.op, value]

    def __str__(self) -> str:
        return f"{self.parent} {self.op} {self.value!r}"


def parse_when(when: Any, child: str = "parameter") -> tuple[Condition, ...]:
    """Normalises the ``when=`` forms into a tuple of conditions (all must hold).

    Accepted forms:
        ``{"optimizer": "sgd"}`` (equality), ``{"optimizer": ["sgd", "rmsprop"]}`` (membership),
        ``("n_layers", ">=", 3)``, a :class:`Condition`, or a list of any of these.
    """
    if when is None:
        return ()
    if isinstance(when, Condition):
        return (when,)
    if isinstance(when, Mapping):
        out = []
        for parent, value in when.items():
            if not isinstance(parent, str):
                raise SpaceError(
                    f"condition of {child!r}: parent names must be strings, got {parent!r}"
                )
            if isinstance(value, list | tuple | set | frozenset):
                out.append(Condition(parent, "in", list(value)))
            else:
                out.append(Condition(parent, "==", value))
        return tuple(out)
    if isinstance(when, Sequence) and not isinstance(when, str | bytes):
        if (
            len(when) == 3
            and isinstance(when[0], str)
            and isinstance(when[1], str)
            and when[1] in OPS
        ):
            return (Condition(when[0], when[1], when[2]),)
        conditions: list[Condition] = []
        for item in when:
            conditions.extend(parse_when(item, child))
        return tuple(conditions)
    raise SpaceError(
        f"cannot read the condition of {child!r}: {when!r}; use {{'parent': value}}, "
        "{'parent': [values]} or ('parent', '>=', value)"
    )


# ----------------------------------------------------------------------------- builders
@dataclass(frozen=True)
class When:
    """Marks a subtree as active only while ``conditions`` hold (see :func:`when`)."""

    conditions: tuple[Condition, ...]
    node: Any


@dataclass(frozen=True)
class Repeat:
    """``count`` copies of ``template``, item ``i`` active while ``count > i`` (see
    :func:`repeat`)."""

    template: Any
    count: str
    max_count: int
    min_count: int = 1


def when(condition: Any, node: Any) -> When:
    """Makes ``node`` (a parameter or any subtree) active only while ``condition`` holds.

    ``condition`` takes the forms of :func:`parse_when`: ``{"optimizer": "sgd"}``,
    ``{"optimizer": ["sgd", "nesterov"]}``, ``("depth", ">=", 3)``.
    """
    return When(parse_when(condition), node)


def repeat(template: Any, *, count: str, max_count: int, min_count: int = 1) -> Repeat:
    """A list of ``count`` copies of ``template``, where ``count`` names an int parameter.

    Item ``i`` (0-based) is active while ``count > i``; each item has its own parameters
    (``layers/0/width``, ``layers/1/width``, ...), so per-layer choices are independent.
    Items below ``min_count`` are always active when the count parameter has that floor.
    """
    if not isinstance(count, str):
        raise SpaceError(f"repeat count must name a parameter, got {count!r}")
    if int(max_count) != max_count or max_count < 1:
        raise SpaceError(f"repeat max_count must be an integer >= 1, got {max_count!r}")
    return Repeat(template, count, int(max_count), int(min_count))
