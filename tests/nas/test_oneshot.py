"""One-shot NAS through Ray Tune: supernet, inherited-weight search, retraining (real Ray)."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("mnist1d")
torch = pytest.importorskip("torch")

from raysearch.nas import cost, macro_chain  # noqa: E402
from raysearch.nas.datasets import mnist1d_task  # noqa: E402
from raysearch.nas.trainable import split_arch  # noqa: E402
from raysearch.tune import presets  # noqa: E402

pytestmark = pytest.mark.ray

SPACE = macro_chain(max_blocks=2, widths=(4, 8), kernels=(3, 5), expansions=(1, 2), stem_width=4)


def _run(tmp_path, **options):
    task = mnist1d_task(max_epochs=2, n_train=256, n_val=128, batch_size=64)
    sizes = {"search_samples": 6, "top_k": 2, "retrain_epochs": 2}
    return task, presets.oneshot(
        SPACE,
        task,
        supernet_epochs=2,
        batch_size=64,
        calib_size=128,
        max_concurrent=2,
        storage_path=str(tmp_path),
        name="os",
        seed=0,
        **{**sizes, **options},
    )


LEGACY = {"distill": False, "search_metric": "inherited_acc"}  # before #18's distillation


def test_three_phases_and_resume(ray_local, tmp_path) -> None:
    task, out = _run(tmp_path, **LEGACY)
    assert out.supernet_metrics["epoch"] == 2 and out.supernet_metrics["sample_passes"] == 512
    # the search evaluated distinct subnets with inherited weights, in reused actors that
    # all mapped the same single copy of the weights
    assert len(out.search.results) == 6 and not out.search.num_errors
    assert 1 <= len(out.candidates) <= 6 and len(out.top_k) == 2
    accs = [row["inherited_acc"] for row in out.candidates]
    assert accs == sorted(accs, reverse=True) and all(0.0 <= a <= 1.0 for a in accs)
    pids = {r.metrics["pid"] for r in out.search.results}
    assert len(pids) <= 2  # actors reused
    assert all(r.metrics["zero_copy"] for r in out.search.results)  # object-store views
    # the retrained winner is exactly a searched architecture: JSON, params and FLOPs
    assert out.winner in [row["arch"] for row in out.top_k]
    assert json.loads(json.dumps(out.winner)) == out.winner
    searched = next(row for row in out.top_k if row["arch"] == out.winner)
    expected = cost(out.winner, (40,), 10, latency=False)
    assert out.winner_metrics["params"] == expected["params"] == searched["params"]
    assert out.winner_metrics["flops"] == expected["flops"]
    assert out.compute["supernet"] == 512 and out.compute["retrain"] >= 2 * 256
    # a second call with resume=True reads every finished phase back: same outcome
    _, again = _run(tmp_path, resume=True, **LEGACY)
    assert len(again.search.results) == 6 and len(again.retrain.results) == 2
    assert again.candidates == out.candidates and again.winner == out.winner
    assert again.supernet_metrics["sample_passes"] == 512


def test_distilled_supernet_and_loss_search(ray_local, tmp_path) -> None:
    """The defaults on a macro space: distillation reaches the supernet trainer (one teacher
    path more per step, counted in the compute) and the inherited loss drives the search
    and the top k."""
    task = mnist1d_task(max_epochs=1, n_train=256, n_val=128, batch_size=64)
    with pytest.raises(ValueError, match="search metric"):  # before any training
        presets.oneshot(SPACE, task, search_metric="val_acc", storage_path=str(tmp_path))
    _, out = _run(tmp_path, search_samples=4, retrain_epochs=1)  # the defaults: distill, loss
    # 2 epochs of 256 rows, each batch through the sampled path and the teacher
    assert out.supernet_metrics["sample_passes"] == 2 * 512 == out.compute["supernet"]
    losses = [row["inherited_loss"] for row in out.candidates]
    assert losses == sorted(losses) and all(loss > 0 for loss in losses)
    assert out.top_k == out.candidates[:2] and out.winner in [row["arch"] for row in out.top_k]
    assert all(r.metrics["inherited_loss"] > 0 for r in out.search.results)
    # compute in FLOPs too; the search skips the pass without BN recalibration
    c = out.compute
    assert c["search_forward"] == 4 * (128 + 128)  # 4 evaluations: calibration, validation
    archs = [split_arch(r.config)[0] for r in out.search.results]
    assert c["search_flops"] == 256 * sum(
        cost(a, (40,), 10, latency=False)["flops"] for a in archs
    )
    assert c["flops"] == c["supernet_flops"] + c["search_flops"] + c["retrain_flops"] > 0
    assert all(np.isnan(r.metrics["inherited_acc_raw"]) for r in out.search.results)


def test_sparse_teacher_reaches_the_supernet_trial(ray_local, tmp_path) -> None:
    """``distill_every=2``: the teacher trains on every other step (4 batches per epoch of
    256 rows, 2 epochs: 8 steps, 4 with the teacher): fewer sample-passes than the
    2 * 512 of a teacher every step."""
    _, out = _run(tmp_path, search_samples=2, top_k=1, retrain_epochs=1, distill_every=2)
    assert out.supernet_metrics["sample_passes"] == 2 * 256 + 4 * 64
    assert out.compute["supernet_flops"] > 0 and out.winner_metrics["epoch"] == 1


@pytest.mark.slow
def test_bench_oneshot_quick_runs(ray_local, tmp_path) -> None:
    from raysearch.bench.oneshot import main

    out = tmp_path / "bench.json"
    args = ["--quick", "--out", str(tmp_path), "--json", str(out), "--sections", "ranking"]
    assert main(args + ["search", "scaling"]) == 0
    report = json.loads(out.read_text())
    assert report["ranking"]["rows"] and "compute_ratio" in report["compare"]
    assert report["compare"]["flops_ratio"] > 0 and report["compare"]["oneshot_flops"] > 0
    # both winners trained again with a fresh training seed (--quick: one)
    assert report["compare"]["fresh_seeds"] == 1
    assert 0 < report["compare"]["evolution_fresh_mean"] <= 1
    # ranking's ground truth: the mean of two stand-alone training seeds (seed 0 reported too)
    per_seed = report["ranking"]["standalone_per_seed"]
    assert len(per_seed) == 2 and per_seed[0] != per_seed[1]
    assert {"tau_recal", "tau_recal_s0"} <= set(report["ranking"]["rows"][0])
    assert all(row["zero_copy"] for row in report["scaling"]["rows"])


def test_standalone_cache_keeps_one_result_per_training_seed(tmp_path) -> None:
    from raysearch.bench.oneshot import StandaloneCache

    task = mnist1d_task(max_epochs=1, n_train=128, n_val=64, batch_size=64)
    task.latency_repeats = 0
    arch = SPACE.to_config(SPACE.sample(np.random.default_rng(0)))
    cache = StandaloneCache(str(tmp_path), task, 1)
    first, other = cache(arch), cache(arch, seed=1)
    assert cache.trained == 2 and len(cache.data) == 2  # another training seed, another run
    # seed 0 is keyed by the bare architecture (caches written before seeds existed) ...
    assert json.dumps(arch, sort_keys=True) in cache.data
    # ... and a fresh cache on the same folder trains nothing again
    again = StandaloneCache(str(tmp_path), task, 1)
    assert (again(arch), again(arch, seed=1), again.trained) == (first, other, 0)


def test_confirm_trains_each_winner_with_fresh_seeds(tmp_path) -> None:
    from raysearch.bench.standalone import StandaloneCache, confirm

    task = mnist1d_task(max_epochs=1, n_train=128, n_val=64, batch_size=64)
    task.latency_repeats = 0
    rng = np.random.default_rng(0)
    a, b = (SPACE.to_config(SPACE.sample(rng)) for _ in range(2))
    cache = StandaloneCache(str(tmp_path), task, 1)
    seen = cache(a)  # the training a search saw (seed 0) is not one of the fresh ones
    got = confirm(cache, {"a": a, "b": b}, 2)
    assert cache.trained == 1 + 4
    assert got["a"]["accs"] == [cache(a, 1), cache(a, 2)] and cache.trained == 5
    assert got["a"]["mean"] == pytest.approx(np.mean(got["a"]["accs"]))
    assert got["b"]["sd"] == pytest.approx(np.std(got["b"]["accs"], ddof=1))
    assert seen == cache(a) and len(cache.data) == 5


def _ordered_search(tmp_path, name: str, eval_batch: int) -> list:
    """The search phase's architectures in suggestion order, with their results."""
    from raysearch.nas.evolution import EvolutionSearch
    from raysearch.nas.supernet import SuperNet
    from raysearch.tune.oneshot import search_phase

    task = mnist1d_task(max_epochs=1, n_train=256, n_val=128, batch_size=64)
    core = EvolutionSearch(SPACE, seed=3, population_size=4, sample_size=2)
    search_phase(
        SPACE,
        task,
        SuperNet(SPACE, (40,), 10, seed=0).state_dict(),
        samples=8,
        searcher=core,
        calib_size=64,
        max_concurrent=2,
        eval_batch=eval_batch,
        storage_path=str(tmp_path),
        name=name,
        verbose=0,
    )
    assert len(core.trials) == 8
    return [(t.params, t.value) for t in core.trials.values()]


@pytest.mark.slow  # 49 s for both variants (150 s for one at load 25); tests/tune has a Ray test
@pytest.mark.parametrize("eval_batch", [1, 2], ids=["single", "batched"])
def test_ordered_search_phase_is_reproducible(ray_local, tmp_path, eval_batch) -> None:
    """The default ordered search: two runs with the same seed evaluate the same
    architectures in the same order (the evolution bred from results told in order)."""
    first = _ordered_search(tmp_path, "a", eval_batch)
    second = _ordered_search(tmp_path, "b", eval_batch)
    assert first == second
    assert all(value is not None for _, value in first)
