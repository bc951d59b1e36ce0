"""The NB201 cell supernet: extract equals the active path bit for bit, costs, BN
recalibration, training, checkpoints."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raysearch.nas import ArchitectureError, build, cost, nb201_cell  # noqa: E402
from raysearch.nas.builder import count_flops  # noqa: E402
from raysearch.nas.cellnet import CellSuperNet, cell_limits  # noqa: E402
from raysearch.nas.sampling import SuperNetTrainer  # noqa: E402
from raysearch.nas.spaces import NB201_OPS  # noqa: E402
from raysearch.nas.supernet import SuperNet, accuracy, recalibrate_bn  # noqa: E402

SPACE = nb201_cell(channels=4, cells_per_stage=1)
SHAPE = (16,)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: threads only add contention
    yield
    torch.set_num_threads(threads)


def _data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 16)).astype(np.float32)
    y = (x[:, :8].sum(1) > 0).astype(np.int64) + 2 * (x[:, 8:].sum(1) > 0)
    return x, y


def _archs(n: int = 3) -> list[dict]:
    rng = np.random.default_rng(0)
    archs = [SPACE.to_config(SPACE.sample(rng)) for _ in range(n)]
    base = {"kind": "cell", "channels": 4, "cells_per_stage": 1}
    archs.append({**base, "edges": ["none"] * 6})  # every node zero
    archs.append({**base, "edges": ["nor_conv_3x3"] * 6})  # the largest
    archs.append({**base, "edges": list(NB201_OPS) + ["skip_connect"]})  # each op once
    return archs


def _trained(seed: int = 0, epochs: int = 1) -> SuperNetTrainer:
    trainer = SuperNetTrainer(SPACE, _data(), SHAPE, 4, batch_size=16, epochs=3, seed=seed)
    for _ in range(epochs):
        trainer.train_epoch()
    return trainer


def test_dispatch_and_limits() -> None:
    net = SuperNet(SPACE, SHAPE, 4, seed=0)
    assert type(net).__name__ == "NB201SuperNet"
    assert cell_limits(SPACE) == {"ops": list(NB201_OPS), "channels": 4, "cells_per_stage": 1}
    # every edge of every cell holds one module per op but none
    cell = net.blocks[0]
    assert all(sorted(edge) == sorted(NB201_OPS[1:]) for edge in cell.edges.values())
    with pytest.raises(ArchitectureError):
        net(torch.zeros(2, 16))  # nothing active
    with pytest.raises(ArchitectureError):
        net.set_active(
            {"kind": "cell", "edges": ["conv"] * 6, "channels": 4, "cells_per_stage": 1}
        )
    with pytest.raises(ArchitectureError, match="cell"):
        CellSuperNet(SPACE.__class__({"kind": "macro"}), SHAPE, 4)


def test_extract_equals_the_active_path_exactly() -> None:
    net = _trained().model
    x = torch.as_tensor(_data(40, seed=1)[0])
    for arch in _archs():
        net.set_active(arch)
        for train in (False, True):  # eval (running stats) and train (batch stats) mode
            net.train(train)
            sub = net.extract(arch)
            assert sub.training == train
            with torch.no_grad():
                diff = (net(x) - sub(x)).abs().max().item()
            assert diff == 0.0, (arch, train, diff)
        # the exported network is build(arch): the same parameters and FLOPs
        expected = cost(arch, SHAPE, 4, latency=False)
        assert sum(p.numel() for p in sub.parameters()) == expected["params"]
        assert net.path_params(arch) == expected["params"]
        assert count_flops(sub, SHAPE) == expected["flops"]
        assert str(sub) == str(build(arch, SHAPE, 4))


def test_extract_copies_and_leaves_the_supernet_alone() -> None:
    net = _trained().model
    arch = _archs()[0]
    before = {k: v.clone() for k, v in net.state_dict().items()}
    sub = net.extract(arch)
    with torch.no_grad():
        for p in sub.parameters():
            p.add_(1.0)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    # two architectures sharing an edge op share that edge's weights in the supernet
    a, b = dict(arch), dict(arch)
    a["edges"] = ["nor_conv_3x3"] + ["none"] * 5
    b["edges"] = ["nor_conv_3x3", "skip_connect"] + ["none"] * 4
    sa, sb = net.extract(a), net.extract(b)
    wa = sa[3].edges["1<-0"][1].weight
    assert torch.equal(wa, sb[3].edges["1<-0"][1].weight)


def test_recalibration_on_supernet_path_and_subnet_agree() -> None:
    net = _trained().model
    calib, y = _data(64, seed=2)
    arch = _archs()[1]
    sub = net.extract(arch)
    weights = [p.clone() for p in sub.parameters()]
    recalibrate_bn(sub, calib, batch_size=16)
    assert all(torch.equal(a, b) for a, b in zip(weights, sub.parameters()))
    recalibrate_bn(net, calib, batch_size=16, arch=arch)  # the supernet's own path
    again = net.extract(arch)
    for a, b in zip(sub.modules(), again.modules()):
        if isinstance(a, torch.nn.BatchNorm1d):
            assert torch.allclose(a.running_mean, b.running_mean, atol=1e-6)
            assert torch.allclose(a.running_var, b.running_var, atol=1e-6)
            assert a.momentum == 0.1
    # whole-set statistics: the stem BN's mean is the calibration set's conv output mean
    with torch.no_grad():
        stem = sub[1](sub[0](torch.as_tensor(calib)))
    assert torch.allclose(sub[2].running_mean, stem.mean(dim=(0, 2)), atol=1e-5)
    assert 0.0 <= accuracy(sub, calib, y) <= 1.0


def _loss(net, arch) -> float:
    """Training loss of ``arch`` with batch statistics, on a copy (state untouched)."""
    x, y = (torch.as_tensor(a) for a in _data())
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(copy.deepcopy(net)(x, arch), y))


def test_training_lowers_loss_and_checkpoint_continues_exactly(tmp_path) -> None:
    full = _trained(seed=3, epochs=0)
    fixed = [_archs()[0], _archs()[-2]]
    before = [_loss(full.model.train(), arch) for arch in fixed]
    losses = [full.train_epoch()["train_loss"] for _ in range(3)]
    after = [_loss(full.model.train(), arch) for arch in fixed]
    assert all(a < b for a, b in zip(after, before)), (before, after)
    half = _trained(seed=3, epochs=2)
    half.save(str(tmp_path))
    resumed = SuperNetTrainer(SPACE, _data(), SHAPE, 4, batch_size=16, epochs=3, seed=99)
    resumed.load(str(tmp_path))
    assert resumed.train_epoch()["train_loss"] == losses[-1]
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    # weights round-trip through a plain state_dict and pickling
    net = pickle.loads(pickle.dumps(full.model))
    arch = _archs()[2]
    x = torch.as_tensor(_data(8, seed=4)[0])
    net.eval(), full.model.eval()
    assert torch.equal(net(x, arch), full.model(x, arch))


def test_same_seed_same_weights_and_two_dim_inputs() -> None:
    a, b = CellSuperNet(SPACE, SHAPE, 4, seed=5), CellSuperNet(SPACE, SHAPE, 4, seed=5)
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    net = CellSuperNet(SPACE, (1, 6, 6), 3, seed=0).eval()
    arch = _archs()[3]
    x = torch.randn(5, 1, 6, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (net(x, arch) - net.extract(arch).eval()(x)).abs().max().item() == 0.0
