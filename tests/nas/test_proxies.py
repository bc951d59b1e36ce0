"""Zero-cost proxies (raysearch.nas.proxies) and the ProxyScreen wrapper."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raysearch.core.types import TrialStatus  # noqa: E402
from raysearch.nas import nb201_cell  # noqa: E402
from raysearch.nas.proxies import PROXIES, proxy_score, proxy_scores  # noqa: E402
from raysearch.nas.screen import ProxyScreen  # noqa: E402
from raysearch.nas.trainable import NASTask  # noqa: E402
from raysearch.searchers.random import RandomSearch  # noqa: E402


def _cell(op: str | list[str]) -> dict:
    edges = [op] * 6 if isinstance(op, str) else op
    return {"kind": "cell", "edges": edges, "channels": 4, "cells_per_stage": 1}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # several torch threads on a shared 2-core machine are 100x slower, not faster
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 96)
    x = rng.normal(size=(96, 24)).astype(np.float32) + y[:, None].astype(np.float32)
    return x, y


@pytest.fixture(scope="module")
def batch(data: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return data[0][:32], data[1][:32]


@pytest.fixture(scope="module")
def working(batch: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    return proxy_scores(_cell("nor_conv_3x3"), batch, input_shape=(24,), num_classes=4)


def test_every_proxy_is_finite_and_deterministic(batch, working) -> None:
    assert set(working) == set(PROXIES)
    assert all(math.isfinite(v) for v in working.values()), working
    again = proxy_scores(_cell("nor_conv_3x3"), batch, input_shape=(24,), num_classes=4)
    assert again == working
    other = proxy_scores(_cell("nor_conv_3x3"), batch, input_shape=(24,), num_classes=4, seed=1)
    # another seed draws other weights: the weight-dependent proxies change, the counts do not
    assert other["synflow"] != working["synflow"] and other["snip"] != working["snip"]
    assert other["params"] == working["params"] and other["flops"] == working["flops"]


@pytest.mark.parametrize("proxy", ["synflow", "naswot", "grad_norm", "snip"])
def test_a_broken_all_none_cell_ranks_below_a_working_one(proxy, batch, working) -> None:
    broken = proxy_score(proxy, _cell("none"), batch, input_shape=(24,), num_classes=4)
    assert math.isfinite(broken)
    assert broken < working[proxy]


def test_unknown_proxy_and_bad_batch_are_named(batch) -> None:
    with pytest.raises(ValueError, match="unknown proxy 'synflo'"):
        proxy_score("synflo", _cell("none"), batch, input_shape=(24,), num_classes=4)
    with pytest.raises(ValueError, match="at least 2 samples"):
        proxy_score(
            "snip", _cell("none"), (batch[0][:1], batch[1][:1]), input_shape=(24,), num_classes=4
        )


# ----------------------------------------------------------------------------- ProxyScreen
def _screen(data, **kwargs) -> ProxyScreen:
    task = NASTask(data, data, (24,), 4)
    space = nb201_cell(channels=2, cells_per_stage=1)
    args = {"proxy": "params", "k": 4, "seed": 3, "batch_size": 16}
    inner = kwargs.pop("searcher", None) or RandomSearch(space, seed=1)
    return ProxyScreen(inner, task=task, space=space, **{**args, **kwargs})


def test_screen_sends_the_proxy_best_of_k(data) -> None:
    screen = _screen(data)
    inner = screen.inner
    for i in range(4):
        params = screen.ask(f"t{i}")
        assert isinstance(params, dict)
        ids = [f"t{i}~{j}" for j in range(4)]
        # the inner searcher proposed 4; the sent one has the highest parameter count
        candidates = [inner.trials[t] for t in ids]
        scores = [screen.score(screen.space.to_config(t.params)) for t in candidates]
        assert params == candidates[int(np.argmax(scores))].params
        assert screen.screened[f"t{i}"][0] == max(scores)
        rejected = [t for t in candidates if t.params != params]
        assert all(t.status is TrialStatus.FAILED for t in rejected)
        screen.tell(f"t{i}", float(i))
    chosen = [inner.trials[screen._inner_ids[f"t{i}"]] for i in range(4)]
    assert [t.value for t in chosen] == [0.0, 1.0, 2.0, 3.0]


def test_screen_with_k1_is_the_inner_searcher(data) -> None:
    screen = _screen(data, k=1)
    plain = RandomSearch(nb201_cell(channels=2, cells_per_stage=1), seed=1)
    for i in range(3):
        assert screen.ask(f"t{i}") == plain.ask(f"t{i}~0")


def test_screen_state_round_trip_and_determinism(data) -> None:
    a = _screen(data, proxy="params", searcher="evolution", k=3)
    for i in range(3):
        a.ask(f"t{i}")
        a.tell(f"t{i}", float(i))
    state = json.loads(json.dumps(a.get_state()))
    b = _screen(data, proxy="params", searcher="evolution", k=3)
    b.set_state(state)
    c = _screen(data, proxy="params", searcher="evolution", k=3)
    for i in range(3):
        c.ask(f"t{i}")
        c.tell(f"t{i}", float(i))
    for i in range(3, 6):
        pa, pb, pc = a.ask(f"t{i}"), b.ask(f"t{i}"), c.ask(f"t{i}")
        assert pa == pb == pc
        for s in (a, b, c):
            s.tell(f"t{i}", -float(i))
    assert a.inner.get_state() == b.inner.get_state()
    with pytest.raises(ValueError, match="other arguments"):
        _screen(data, proxy="snip", searcher="evolution", k=3).set_state(state)


def test_screen_arguments_are_checked(data) -> None:
    with pytest.raises(ValueError, match="k must be"):
        _screen(data, k=0)
    with pytest.raises(ValueError, match="unknown proxy"):
        _screen(data, proxy="zen")
    with pytest.raises(ValueError, match="needs task"):
        ProxyScreen("random", space=nb201_cell())


@pytest.mark.slow
def test_bench_proxy_rows_quick_run_is_cached(tmp_path) -> None:
    from raysearch.bench.zerocost import PROXY_NAMES, proxy_rows

    rows = proxy_rows(quick=True, out_dir=str(tmp_path))
    assert [r["proxy"] for r in rows] == list(PROXY_NAMES)
    assert all(r["n_archs"] == 8 and -1 <= r["spearman"] <= 1 for r in rows)
    cached = sorted((tmp_path / "standalone").glob("*.json"))
    assert len(cached) == 8
    mtimes = [p.stat().st_mtime for p in cached]
    again = proxy_rows(quick=True, out_dir=str(tmp_path))
    assert [p.stat().st_mtime for p in cached] == mtimes  # nothing retrained
    assert [r["spearman"] for r in again] == [r["spearman"] for r in rows]
