"""Property-based checks of the space core: any valid parameter, any value."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from raysearch.space import Categorical, Encoding, Float, Int, Space
from raysearch.space.mutation import neighbour

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@st.composite
def floats(draw):
    log = draw(st.booleans())
    if log:
        low = draw(st.floats(min_value=1e-8, max_value=1e3))
        high = low * draw(st.floats(min_value=1.01, max_value=1e6))
    else:
        low = draw(finite)
        high = low + draw(st.floats(min_value=1e-3, max_value=1e6))
    step = None
    if draw(st.booleans()):
        step = (high - low) / draw(st.integers(min_value=1, max_value=50))
    return Float(low, high, log=log, step=step)


@st.composite
def ints(draw):
    log = draw(st.booleans())
    low = draw(st.integers(min_value=1 if log else -1000, max_value=1000))
    high = low + draw(st.integers(min_value=1, max_value=100000))
    step = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=max(1, (high - low)))))
    return Int(low, high, log=log, step=step)


categoricals = st.builds(
    lambda n, ordered: Categorical([f"c{i}" for i in range(n)], ordered=ordered),
    st.integers(min_value=1, max_value=12),
    st.booleans(),
)
params = st.one_of(floats(), ints(), categoricals)


@settings(max_examples=200, deadline=None)
@given(params, st.floats(min_value=0.0, max_value=1.0), st.integers(0, 2**32 - 1))
def test_every_unit_position_is_a_valid_value(param, u, seed):
    value = param.from_unit(u)
    assert param.contains(value)
    back = param.from_unit(param.to_unit(value))
    if param.cardinality is None:
        assert math.isclose(back, value, rel_tol=1e-9, abs_tol=1e-9)
    else:
        assert back == value
    assert param.contains(neighbour(param, value, np.random.default_rng(seed), 0.5))


@settings(max_examples=60, deadline=None)
@given(st.lists(params, min_size=1, max_size=6), st.integers(0, 2**32 - 1))
def test_space_config_and_encoding_round_trip(param_list, seed):
    space = Space({f"p{i}": p for i, p in enumerate(param_list)})
    rng = np.random.default_rng(seed)
    enc = Encoding(space)
    for _ in range(5):
        flat = space.sample(rng)
        assert space.to_flat(space.to_config(flat)) == flat
        decoded = enc.decode(enc.encode(flat))
        for name, value in flat.items():
            if space[name].cardinality is None:
                assert math.isclose(decoded[name], value, rel_tol=1e-9, abs_tol=1e-9)
            else:
                assert decoded[name] == value
    assert Space.from_dict(space.to_dict()) == space
