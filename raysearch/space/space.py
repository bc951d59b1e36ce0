"""The search space: nested configs, conditional parameters, and the flat view strategies use.

A :class:`Space` is built from a nested structure of dicts, lists and tuples whose leaves
are parameters (:mod:`raysearch.space.params`) or plain constants::

    space = Space({
        "lr": Float(1e-4, 1e-1, log=True),
        "optimizer": Categorical(["sgd", "adam"]),
        "momentum": when({"optimizer": "sgd"}, Float(0.0, 0.99)),
        "n_layers": Int(1, 6),
        "layers": repeat({"width": Int(16, 256, log=True),
                          "activation": Categorical(["relu", "gelu"])},
                         count="n_layers", max_count=6),
        "epochs": 10,
    })

Strategies never see the nesting. They work on the *flat assignment*: a dict from each
active parameter's flat name (``"lr"``, ``"layers/2/width"``, ``"opt[1]/beta"`` for the
options of a choice whose values contain parameters) to its value. ``to_config`` builds the
nested config a trainable receives; ``to_flat`` reads one back. Inactive parameters are
absent from both: ``layers`` above is a list of exactly ``n_layers`` dicts.

The builders ``when`` and ``repeat`` live in :mod:`raysearch.space.conditions`, the moves
of :meth:`Space.mutate` in :mod:`raysearch.space.mutation`, the JSON/YAML form
(:meth:`Space.to_dict`, :func:`space_from_dict`) in :mod:`raysearch.space.spec`;
:class:`~raysearch.space.encoding.Encoding` turns flat assignments into vectors for
model-based searchers.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from raysearch.space.conditions import Condition, Repeat, When, repeat, when
from raysearch.space.mutation import mutate
from raysearch.space.params import Categorical, Constant, Param, SpaceError, canonical, same_value
from raysearch.space.spec import obj_from_spec, obj_to_spec

__all__ = ["Space", "Entry", "when", "repeat", "Flat", "space_from_dict"]

#: A flat assignment: flat parameter name -> value, active parameters only.
Flat = dict[str, Any]


# ----------------------------------------------------------------------------- tree nodes
@dataclass
class _Node:
    conds: tuple[Condition, ...]


@dataclass
class _Dict(_Node):
    items: list[tuple[str, _Node]]


@dataclass
class _Seq(_Node):
    items: list[_Node]
    is_tuple: bool


@dataclass
class _Leaf(_Node):
    name: str


@dataclass
class _Const(_Node):
    value: Any


@dataclass
class _Branch(_Node):
    name: str
    options: list[_Node]
    labels: list[Any]  # what the options look like in specs/reprs


@dataclass(frozen=True)
class Entry:
    """One searchable parameter in the flat view.

    Attributes:
        name: flat name, unique in the space.
        param: its distribution.
        conditions: all must hold (parents active) for the parameter to be active;
            inherited from enclosing ``when``/``repeat``/choice options.
        path: where the value sits in the nested config.
    """

    name: str
    param: Param
    conditions: tuple[Condition, ...] = ()
    path: tuple[str | int, ...] = field(default=())


def _contains_params(obj: Any) -> bool:
    if isinstance(obj, Param) and not isinstance(obj, Constant):
        return True
    if isinstance(obj, When | Repeat):
        return True
    if isinstance(obj, Mapping):
        return any(_contains_params(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return any(_contains_params(v) for v in obj)
    return False


class Space:
    """A search space over nested configs with conditional parameters.

    Args:
        spec: a mapping whose values are parameters, constants, ``when(...)``,
            ``repeat(...)``, or nested mappings/lists/tuples of those.

    Raises:
        SpaceError: for a malformed space (empty choices, bad bounds, a condition that
            names a missing parent, cyclic conditions, duplicate names ...).
    """

    _spec: Mapping[str, Any]

    def __init__(self, spec: Mapping[str, Any] | None = None) -> None:
        if spec is None:
            spec = {}
        if isinstance(spec, Space):
            spec = spec._spec
        if not isinstance(spec, Mapping):
            raise SpaceError(
                f"a space is built from a dict of parameters, got {type(spec).__name__}"
            )
        self._spec = spec
        self._entries: dict[str, Entry] = {}
        self._root = self._build(spec, (), "", ())
        self._order = self._topological_order()
        self._check_conditions()

    # ------------------------------------------------------------------ construction
    def _build(
        self, obj: Any, path: tuple[str | int, ...], name: str, conds: tuple[Condition, ...]
    ) -> _Node:
        if isinstance(obj, When):
            inner = self._build(obj.node, path, name, conds + obj.conditions)
            inner.conds = obj.conditions + inner.conds
            return inner
        if isinstance(obj, Repeat):
            items: list[_Node] = []
            for i in range(obj.max_count):
                item_conds = () if i < obj.min_count else (Condition(obj.count, ">", i),)
                sub = f"{name}/{i}" if name else str(i)
                node = self._build(obj.template, (*path, i), sub, conds + item_conds)
                node.conds = item_conds + node.conds
                items.append(node)
            return _Seq((), items, False)
        if isinstance(obj, Constant):
            return _Const((), obj.value)
        if isinstance(obj, Categorical) and any(_contains_params(c) for c in obj.choices):
            return self._build_branch(obj, path, name, conds)
        if isinstance(obj, Param):
            if not name:
                raise SpaceError("a space needs a dict at the top, got a single parameter")
            self._add_entry(Entry(name, obj, conds, path))
            return _Leaf((), name)
        if isinstance(obj, Mapping):
            dict_items = []
            for key, value in obj.items():
                if not isinstance(key, str):
                    raise SpaceError(
                        f"config keys must be strings, got {key!r} at {name or '<root>'}"
                    )
                if "/" in key or "[" in key:
                    raise SpaceError(
                        f"config key {key!r} at {name or '<root>'} may not contain '/' or '['"
                    )
                sub = f"{name}/{key}" if name else key
                dict_items.append((key, self._build(value, (*path, key), sub, conds)))
            return _Dict((), dict_items)
        if isinstance(obj, list | tuple):
            seq = [
                self._build(v, (*path, i), f"{name}/{i}" if name else str(i), conds)
                for i, v in enumerate(obj)
            ]
            return _Seq((), seq, isinstance(obj, tuple))
        if callable(obj) and not isinstance(obj, type):
            raise SpaceError(
                f"{name or '<root>'}: cannot search over a function ({obj!r}); "
                "sample_from lambdas are only supported through Ray Tune's param_space"
            )
        return _Const((), obj)

    def _build_branch(
        self,
        param: Categorical,
        path: tuple[str | int, ...],
        name: str,
        conds: tuple[Condition, ...],
    ) -> _Branch:
        if not name:
            raise SpaceError("a space needs a dict at the top, got a single parameter")
        n = len(param.choices)
        selector = Categorical(list(range(n)), grid=param.is_grid)
        self._add_entry(Entry(name, selector, conds, path))
        options = []
        for i, choice in enumerate(param.choices):
            cond = (Condition(name, "==", i),)
            options.append(self._build(choice, path, f"{name}[{i}]", conds + cond))
        return _Branch((), name, options, list(param.choices))

    def _add_entry(self, entry: Entry) -> None:
        if entry.name in self._entries:
            raise SpaceError(f"two parameters share the flat name {entry.name!r}")
        self._entries[entry.name] = entry

    def _topological_order(self) -> list[Entry]:
        """Entries with every condition's parent before its children (declaration order kept)."""
        names = list(self._entries)
        for e in self._entries.values():
            for c in e.conditions:
                if c.parent not in self._entries:
                    hint = difflib.get_close_matches(c.parent, names, n=1)
                    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
                    raise SpaceError(
                        f"condition of {e.name!r} names {c.parent!r}, which is not a parameter "
                        f"of this space{extra}"
                    )
                if c.parent == e.name:
                    raise SpaceError(f"the condition of {e.name!r} names the parameter itself")
        order: list[Entry] = []
        state: dict[str, int] = {}  # 1 = on the stack, 2 = done

        def visit(name: str, stack: list[str]) -> None:
            if state.get(name) == 2:
                return
            if state.get(name) == 1:
                cycle = stack[stack.index(name) :] + [name]
                raise SpaceError(f"conditions form a cycle: {' -> '.join(cycle)}")
            state[name] = 1
            for c in self._entries[name].conditions:
                visit(c.parent, [*stack, name])
            state[name] = 2
            order.append(self._entries[name])

        for name in names:
            visit(name, [])
        return order

    def _check_conditions(self) -> None:
        for e in self._order:
            for c in e.conditions:
                c.check_parent(e.name, self._entries[c.parent].param)

    # ------------------------------------------------------------------ introspection
    @property
    def entries(self) -> list[Entry]:
        """Parameters in an order where parents come before the parameters they condition."""
        return list(self._order)

    @property
    def names(self) -> list[str]:
        return [e.name for e in self._order]

    def __getitem__(self, name: str) -> Param:
        try:
            return self._entries[name].param
        except KeyError:
            raise KeyError(self._unknown(name)) from None

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(self._unknown(name)) from None

    def _unknown(self, name: str) -> str:
        hint = difflib.get_close_matches(name, list(self._entries), n=1)
        extra = f"; did you mean {hint[0]!r}?" if hint else ""
        return f"{name!r} is not a parameter of this space{extra}"

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    @property
    def is_conditional(self) -> bool:
        return any(e.conditions for e in self._order)

    @property
    def grid_names(self) -> list[str]:
        """Parameters marked for grid search (Tune's ``grid_search``)."""
        return [
            e.name for e in self._order if isinstance(e.param, Categorical) and e.param.is_grid
        ]

    def __repr__(self) -> str:
        inner = ", ".join(f"{e.name}={e.param!r}" for e in self._order)
        return f"Space({inner})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Space) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    # ------------------------------------------------------------------ activeness
    def is_active(self, entry: Entry, flat: Mapping[str, Any]) -> bool:
        """Whether ``entry`` is active given the values of its parents in ``flat``."""
        return all(c.parent in flat and c.holds(flat[c.parent]) for c in entry.conditions)

    def active_names(self, flat: Mapping[str, Any]) -> list[str]:
        """Names active under the assignment ``flat`` (inactive parents deactivate children;
        an active parameter missing from ``flat`` is listed but activates nothing)."""
        values: dict[str, Any] = {}
        names = []
        for e in self._order:
            if self.is_active(e, values):
                names.append(e.name)
                if e.name in flat:
                    values[e.name] = flat[e.name]
        return names

    def prune(self, flat: Mapping[str, Any]) -> Flat:
        """``flat`` without the parameters that its own values make inactive."""
        out: Flat = {}
        for e in self._order:
            if e.name in flat and self.is_active(e, out):
                out[e.name] = flat[e.name]
        return out

    # ------------------------------------------------------------------ sampling and moves
    def sample(self, rng: np.random.Generator) -> Flat:
        """A random flat assignment (active parameters only) drawn with ``rng``."""
        out: Flat = {}
        for e in self._order:
            if self.is_active(e, out):
                out[e.name] = e.param.sample(rng)
        return out

    def from_unit(self, u: Sequence[float] | np.ndarray) -> Flat:
        """The assignment at position ``u`` of the unit cube, one coordinate per entry in
        :attr:`entries` order (coordinates of inactive parameters are ignored)."""
        if len(u) != len(self._order):
            raise SpaceError(f"expected {len(self._order)} unit coordinates, got {len(u)}")
        out: Flat = {}
        for e, x in zip(self._order, u):
            if self.is_active(e, out):
                out[e.name] = e.param.from_unit(float(x))
        return out

    def complete(self, flat: Mapping[str, Any], rng: np.random.Generator) -> Flat:
        """Keeps the valid values of ``flat``, samples active parameters it lacks, drops
        the ones its values deactivate."""
        return self._settle(flat, rng)

    def _settle(
        self, flat: Mapping[str, Any], rng: np.random.Generator | None, *, partial: bool = False
    ) -> Flat:
        """Validated, canonical values of the active parameters of ``flat``; a missing active
        parameter is sampled with ``rng``, skipped if ``partial``, an error otherwise."""
        out: Flat = {}
        for e in self._order:
            if not self.is_active(e, out):
                continue
            if e.name in flat:
                e.param.validate(flat[e.name], e.name)
                out[e.name] = canonical(e.param, flat[e.name])
            elif rng is not None:
                out[e.name] = e.param.sample(rng)
            elif not partial:
                raise SpaceError(f"config lacks the active parameter {e.name!r}")
        return out

    #: ``space.mutate(flat, rng, *, n_params=1, scale=0.2, resample_prob=0.0)``: a neighbour
    #: of ``flat`` (:func:`raysearch.space.mutation.mutate`, bound as a method).
    mutate = mutate

    def cardinality(self, limit: int = 10**6) -> int | None:
        """Number of distinct assignments if the space is finite and has at most ``limit``;
        None if it has a continuous parameter or more than ``limit`` assignments."""
        if any(e.param.cardinality is None for e in self._order):
            return None
        count = 0
        for _ in self.enumerate(limit=limit + 1):
            count += 1
            if count > limit:
                return None
        return count

    def enumerate(self, limit: int | None = None) -> Iterator[Flat]:
        """Every distinct assignment of a finite space (conditional ones counted once)."""
        if any(e.param.cardinality is None for e in self._order):
            raise SpaceError(
                "enumerate() needs a finite space; this one has continuous parameters"
            )
        order = self._order
        produced = 0

        def rec(i: int, acc: Flat) -> Iterator[Flat]:
            nonlocal produced
            if limit is not None and produced >= limit:
                return
            if i == len(order):
                produced += 1
                yield dict(acc)
                return
            e = order[i]
            if not self.is_active(e, acc):
                yield from rec(i + 1, acc)
                return
            for v in e.param.values():
                acc[e.name] = v
                yield from rec(i + 1, acc)
                del acc[e.name]

        yield from rec(0, {})

    # ------------------------------------------------------------------ nested <-> flat
    def to_config(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """The nested config for a flat assignment (inactive parts left out)."""
        active = self.prune(flat)
        missing = [
            e.name for e in self._order if e.name not in active and self.is_active(e, active)
        ]
        if missing:
            raise SpaceError(f"assignment lacks active parameters {missing}")
        out = self._emit(self._root, active)
        assert isinstance(out, dict)
        return out

    def _node_active(self, node: _Node, flat: Mapping[str, Any]) -> bool:
        return all(c.parent in flat and c.holds(flat[c.parent]) for c in node.conds)

    def _emit(self, node: _Node, flat: Mapping[str, Any]) -> Any:
        if isinstance(node, _Leaf):
            return flat[node.name]
        if isinstance(node, _Const):
            return node.value
        if isinstance(node, _Branch):
            return self._emit(node.options[int(flat[node.name])], flat)
        if isinstance(node, _Dict):
            return {k: self._emit(v, flat) for k, v in node.items if self._present(v, flat)}
        if isinstance(node, _Seq):
            items = [self._emit(v, flat) for v in node.items if self._present(v, flat)]
            return tuple(items) if node.is_tuple else items
        raise AssertionError(f"unknown node {node!r}")

    def _present(self, node: _Node, flat: Mapping[str, Any]) -> bool:
        if not self._node_active(node, flat):
            return False
        return not isinstance(node, _Leaf) or node.name in flat

    def to_flat(self, config: Mapping[str, Any], *, partial: bool = False) -> Flat:
        """Reads a nested config back into a flat assignment and validates it.

        Args:
            config: a config as :meth:`to_config` makes them; extra keys that are not in the
                space are an error, values of inactive parameters are dropped.
            partial: allow active parameters to be missing (e.g. ``points_to_evaluate``
                that fix only some parameters; complete them with :meth:`complete`).

        Raises:
            SpaceError: for a value outside its parameter, an unknown key, or (unless
                ``partial``) a missing active parameter.
        """
        if not isinstance(config, Mapping):
            raise SpaceError(f"a config must be a dict, got {type(config).__name__}")
        flat: Flat = {}
        self._read(self._root, config, flat, "")
        return self._settle(flat, None, partial=partial)

    def _read(self, node: _Node, value: Any, flat: Flat, where: str) -> None:
        if isinstance(node, _Leaf):
            flat[node.name] = value
        elif isinstance(node, _Const):
            return
        elif isinstance(node, _Branch):
            index = self._match_option(node, value, where)
            if index is not None:
                flat[node.name] = index
                self._read(node.options[index], value, flat, where)
        elif isinstance(node, _Dict):
            if not isinstance(value, Mapping):
                raise SpaceError(f"{where or '<root>'}: expected a dict, got {value!r}")
            known = {k for k, _ in node.items}
            extra = [k for k in value if k not in known]
            if extra:
                hint = difflib.get_close_matches(str(extra[0]), sorted(known), n=1)
                extra_hint = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise SpaceError(
                    f"{where or '<root>'}: unknown key {extra[0]!r} in config{extra_hint}"
                )
            for k, sub in node.items:
                if k in value:
                    self._read(sub, value[k], flat, f"{where}/{k}" if where else k)
        elif isinstance(node, _Seq):
            if not isinstance(value, list | tuple):
                raise SpaceError(f"{where}: expected a list, got {value!r}")
            for i, (sub, v) in enumerate(zip(node.items, value)):
                self._read(sub, v, flat, f"{where}/{i}")

    def _match_option(self, node: _Branch, value: Any, where: str) -> int | None:
        """Which option of a choice-with-parameters ``value`` came from."""
        for i, option in enumerate(node.options):
            if _shape_matches(option, value):
                return i
        raise SpaceError(f"{where}: {value!r} matches none of the options {node.labels!r}")

    # ------------------------------------------------------------------ tokens for state files
    def key(self, flat: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
        """A hashable canonical key of an assignment (for de-duplication)."""
        return tuple(sorted(self.to_tokens(flat).items()))

    def to_tokens(self, flat: Mapping[str, Any]) -> dict[str, Any]:
        """JSON-able form of ``flat``: categorical values by index, numbers as numbers."""
        out: dict[str, Any] = {}
        for name, value in flat.items():
            param = self[name]
            if isinstance(param, Categorical):
                out[name] = param.index(value)
            elif isinstance(value, bool):
                out[name] = value
            elif isinstance(value, int | np.integer):
                out[name] = int(value)
            else:
                out[name] = float(value)
        return out

    def from_tokens(self, tokens: Mapping[str, Any]) -> Flat:
        """Inverse of :meth:`to_tokens`."""
        out: Flat = {}
        for name, token in tokens.items():
            param = self[name]
            out[name] = param.choices[int(token)] if isinstance(param, Categorical) else token
        return out

    # ------------------------------------------------------------------ specs
    def to_dict(self) -> dict[str, Any]:
        """A JSON-like spec of the space (the format of experiment files, read back by
        :func:`space_from_dict`; see :mod:`raysearch.space.spec`)."""
        out = obj_to_spec(self._spec)
        assert isinstance(out, dict)
        return out

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Space:
        return space_from_dict(spec)


def space_from_dict(spec: Mapping[str, Any]) -> Space:
    """A :class:`Space` from its JSON/YAML spec (:mod:`raysearch.space.spec`)."""
    if not isinstance(spec, Mapping):
        raise SpaceError(f"a space spec must be a dict, got {type(spec).__name__}")
    return Space(obj_from_spec(spec))


def _shape_matches(node: _Node, value: Any) -> bool:
    """Whether ``value`` could have been emitted by ``node`` (constants must agree)."""
    if isinstance(node, _Const):
        return same_value(node.value, value) or (
            isinstance(node.value, float | int)
            and isinstance(value, float | int)
            and not isinstance(value, bool)
            and math.isclose(float(node.value), float(value))
        )
    if isinstance(node, _Dict):
        if not isinstance(value, Mapping):
            return False
        keys = {k for k, _ in node.items}
        if any(k not in keys for k in value):
            return False
        return all(_shape_matches(sub, value[k]) for k, sub in node.items if k in value)
    if isinstance(node, _Seq):
        return isinstance(value, list | tuple) and all(
            _shape_matches(sub, v) for sub, v in zip(node.items, value)
        )
    if isinstance(node, _Branch):
        return any(_shape_matches(o, value) for o in node.options)
    return True  # a leaf accepts anything here; validation comes later
