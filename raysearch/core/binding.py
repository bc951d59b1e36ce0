"""A search space bound once: shared by searchers and by schedulers that mutate a space (PBT).

The Ray adapters bind a strategy's space late (from Tune's ``param_space``), so both kinds
start unbound, raise a helpful error when used too early, and accept binding the same
space again as a no-op.
"""

from __future__ import annotations

from typing import ClassVar

from raysearch.space import Space

__all__ = ["BindsSpace"]


class BindsSpace:
    """Mixin holding ``_space``: the :attr:`space` property, :attr:`is_setup`, and the
    check a ``setup`` makes before it binds.

    Attributes:
        unbound_message: what follows the class name when the space is asked for too early.
        bound_as: what follows the class name when another space is already bound.
    """

    unbound_message: ClassVar[str] = "has no search space yet: pass space=... or call setup()"
    bound_as: ClassVar[str] = "already has a search space"
    _space: Space | None = None

    @property
    def space(self) -> Space:
        if self._space is None:
            raise RuntimeError(f"{type(self).__name__} {self.unbound_message}")
        return self._space

    @property
    def is_setup(self) -> bool:
        return self._space is not None

    def already_bound(self, new: Space) -> bool:
        """True if ``new`` is the space bound already (then ``setup`` has nothing to do).

        Raises:
            ValueError: another space is bound.
        """
        if self._space is None:
            return False
        if new != self._space:
            raise ValueError(
                f"{type(self).__name__} {self.bound_as} {self._space!r}; cannot switch to {new!r}"
            )
        return True
