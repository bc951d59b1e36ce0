"""One way to make and carry randomness.

Every component takes ``seed: int | numpy.random.Generator | None`` and turns it into a
``numpy.random.Generator`` with :func:`make_rng`. Library code never touches the global
``numpy.random``/``random``/``torch`` generators, so suggestions do not change when user
code reseeds them, and a component's random stream can be saved and restored exactly
(:func:`rng_state`, :func:`restore_rng`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

SeedLike = int | np.random.Generator | None

__all__ = ["SeedLike", "make_rng", "spawn", "rng_state", "restore_rng", "torch_generator"]


def make_rng(seed: SeedLike = None) -> np.random.Generator:
    """Returns a Generator for ``seed``; a Generator is passed through unchanged.

    Raises:
        TypeError: if ``seed`` is a float, a string or a legacy ``RandomState``.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(
            f"seed must be an int, a numpy.random.Generator or None, got {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return np.random.default_rng(int(seed))


def spawn(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """``n`` independent child generators derived from ``rng``.

    Children are derived by drawing seeds from ``rng`` (not ``Generator.spawn``), so the
    result depends only on ``rng``'s current state, which :func:`restore_rng` recovers.
    """
    seeds = rng.integers(0, 2**63 - 1, size=n)
    return [np.random.default_rng(int(s)) for s in seeds]


def rng_state(rng: np.random.Generator) -> dict[str, Any]:
    """The JSON-able state of ``rng``'s bit generator."""
    state: dict[str, Any] = dict(rng.bit_generator.state)
    return state


def restore_rng(state: dict[str, Any]) -> np.random.Generator:
    """A Generator that continues exactly where the one that gave ``state`` stopped."""
    name = state.get("bit_generator")
    bit_generator_cls = getattr(np.random, str(name), None)
    if bit_generator_cls is None:
        raise ValueError(f"unknown bit generator {name!r} in saved random state")
    bit_generator = bit_generator_cls()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def torch_generator(
    rng: np.random.Generator, device: str | torch.device = "cpu"
) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded from ``rng`` (torch is imported lazily)."""
    import torch

    generator = torch.Generator(device=device)
    generator.manual_seed(int(rng.integers(0, 2**63 - 1)))
    return generator
