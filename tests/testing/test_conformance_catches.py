"""The conformance suite fails for searchers that break its contracts (so it can fail)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from raysearch.core.searcher import Searcher, Suggestion
from raysearch.testing.conformance import SearcherConformance


class GlobalRNGSearch(Searcher):
    """Breaks the rules: draws from numpy's global generator."""

    def _suggest(self, trial_id: str) -> Suggestion:
        u = np.random.random(len(self.space.entries))  # noqa: NPY002 - deliberately wrong
        return self.space.from_unit(u)


class ForgetfulSearch(Searcher):
    """Breaks the rules: keeps state it does not save."""

    def __init__(self, space: Any = None, **kwargs: Any) -> None:
        self.calls = 0
        super().__init__(space, **kwargs)

    def _suggest(self, trial_id: str) -> Suggestion:
        self.calls += 1
        rng = np.random.default_rng(self.calls)
        return self.space.sample(rng)


class InvalidSearch(Searcher):
    """Breaks the rules: suggests values outside the space."""

    def _suggest(self, trial_id: str) -> Suggestion:
        params = self.space.sample(self.rng)
        name = self.space.names[0]
        params[name] = "not-a-value"
        return params


class _Global(SearcherConformance):
    searcher = f"{__name__}:GlobalRNGSearch"


class _Forgetful(SearcherConformance):
    searcher = f"{__name__}:ForgetfulSearch"


class _Invalid(SearcherConformance):
    searcher = f"{__name__}:InvalidSearch"


def test_global_rng_use_is_caught():
    with pytest.raises(AssertionError):
        _Global().test_global_rng_reseeding_does_not_matter()


def test_unsaved_state_is_caught():
    with pytest.raises(AssertionError, match="resumed run diverged"):
        _Forgetful().test_resume_equivalence()


def test_invalid_values_are_caught():
    with pytest.raises((AssertionError, RuntimeError), match="outside"):
        _Invalid().test_suggestions_are_valid("mixed")
