"""Data-parallel supernet training (raysearch.nas.sharded) on two real gloo processes."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raysearch.nas import macro_chain  # noqa: E402
from raysearch.nas.sampling import SuperNetTrainer  # noqa: E402
from raysearch.nas.sharded import ShardedSuperNetTrainer, average_gradients  # noqa: E402
from tests.helpers.supernet_data import toy_data  # noqa: E402

SPACE = macro_chain(max_blocks=3, widths=(4, 8), kernels=(3, 5), expansions=(1, 2), stem_width=6)


def _data(n: int = 97, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """97 rows: batches of 32, 32, 32 and a last one of 1 row (every rank takes it whole)."""
    return toy_data(n, seed)


#: the teacher every 2nd step: teacher steps and steps on cached soft outputs both run
DISTILL = {"distill": True, "distill_every": 2}


def _options(**extra: object) -> dict:
    return dict(sampler="uniform", batch_size=32, epochs=2, seed=3, **extra)


def _worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=world)  # fmt: skip
    try:
        trainer = ShardedSuperNetTrainer(
            SPACE, _data(), (16,), 4, rank=rank, world_size=world, **_options(**DISTILL)
        )
        first = next(trainer.model.parameters())
        first.grad = torch.full_like(first, float(rank + 1))
        average_gradients(trainer.optimizer, world)
        assert torch.all(first.grad == 1.5), "the gradients are the ranks' mean"
        first.grad = None
        metrics = [trainer.train_epoch() for _ in range(2)]
        params = {k: v.detach().clone() for k, v in trainer.model.named_parameters()}
        torch.save({"params": params, "metrics": metrics}, Path(out) / f"rank{rank}.pt")
        if rank == 0:
            (Path(out) / "ck").mkdir()
            trainer.save(str(Path(out) / "ck"))
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_workers_apply_the_same_update_and_rank_0s_checkpoint_resumes(tmp_path):
    torch.multiprocessing.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    p0, p1 = ranks[0]["params"], ranks[1]["params"]
    assert p0.keys() == p1.keys()
    assert all(torch.equal(p0[k], p1[k]) for k in p0), "the ranks' weights drifted apart"
    fresh = SuperNetTrainer(SPACE, _data(), (16,), 4, **_options(**DISTILL))
    initial = {k: v.detach().clone() for k, v in fresh.model.named_parameters()}
    assert any(not torch.equal(p0[k], initial[k]) for k in p0), "no training happened"
    # the ranks report the same (averaged) loss and count the whole batch's sample passes
    m0, m1 = ranks[0]["metrics"][-1], ranks[1]["metrics"][-1]
    assert m0["train_loss"] == pytest.approx(m1["train_loss"]) and m0["workers"] == 2
    # the workers count the whole batch's sample passes and FLOPs, as one process does
    plain = SuperNetTrainer(SPACE, _data(), (16,), 4, **_options(**DISTILL))
    last = [plain.train_epoch() for _ in range(2)][-1]
    assert m0["sample_passes"] == last["sample_passes"] and m0["flops"] == last["flops"] > 0
    # rank 0's checkpoint is an ordinary SuperNetTrainer checkpoint
    fresh.load(str(tmp_path / "ck"))
    assert fresh.epoch == 2
    assert all(torch.equal(p0[k], v) for k, v in fresh.model.named_parameters())


def test_one_worker_is_the_plain_trainer_exactly():
    plain = SuperNetTrainer(SPACE, _data(), (16,), 4, **_options())
    sharded = ShardedSuperNetTrainer(SPACE, _data(), (16,), 4, device="cpu", **_options())
    a, b = plain.train_epoch(), sharded.train_epoch()
    assert a["train_loss"] == b["train_loss"] and b["workers"] == 1
    pairs = zip(plain.model.state_dict().items(), sharded.model.state_dict().items())
    assert all(ka == kb and torch.equal(va, vb) for (ka, va), (kb, vb) in pairs)


def test_bad_rank_is_refused():
    with pytest.raises(ValueError, match="rank must be in"):
        ShardedSuperNetTrainer(SPACE, _data(), (16,), 4, rank=2, world_size=2, **_options())
