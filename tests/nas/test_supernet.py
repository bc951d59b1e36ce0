"""The macro supernet: extract equals the active path, BN recalibration, samplers, checkpoints."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raysearch.nas import ArchitectureError, cost, macro_chain, mlp_space  # noqa: E402
from raysearch.nas.sampling import (  # noqa: E402
    SuperNetTrainer,
    extreme_arch,
    make_sampler,
    sandwich_paths,
    uniform_paths,
)
from raysearch.nas.supernet import (  # noqa: E402
    SuperNet,
    accuracy,
    from_arrays,
    macro_limits,
    recalibrate_bn,
    to_arrays,
)
from tests.helpers.supernet_data import toy_data  # noqa: E402

SPACE = macro_chain(
    max_blocks=3, widths=(4, 8, 12), kernels=(3, 5), expansions=(1, 2), stem_width=6
)


def _data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return toy_data(n, seed)


def _trained(seed: int = 0, sampler: str = "uniform") -> SuperNetTrainer:
    trainer = SuperNetTrainer(
        SPACE, _data(), (16,), 4, sampler=sampler, batch_size=32, epochs=2, seed=seed
    )
    trainer.train_epoch()
    return trainer


def test_extract_equals_active_path_for_random_archs() -> None:
    net = _trained().model
    net.eval()
    x = torch.as_tensor(_data(40, seed=1)[0])
    rng = np.random.default_rng(0)
    archs = [SPACE.to_config(SPACE.sample(rng)) for _ in range(6)]
    archs += [extreme_arch(SPACE, "largest", rng), extreme_arch(SPACE, "smallest", rng)]
    for arch in archs:
        net.set_active(arch)
        sub = net.extract(arch).eval()
        assert torch.allclose(net(x), sub(x), rtol=1e-5, atol=1e-6), arch
        # the exported network is what the builder makes of the arch: same params and FLOPs
        expected = cost(arch, (16,), 4, latency=False)
        assert sum(p.numel() for p in sub.parameters()) == expected["params"]
    # extract does not move the supernet's statistics (it traces in eval mode)
    assert not net.training


def test_extract_copies_weights_and_leaves_the_supernet_alone() -> None:
    net = _trained().model
    arch = SPACE.to_config(SPACE.sample(np.random.default_rng(3)))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    sub = net.extract(arch)
    with torch.no_grad():
        for p in sub.parameters():
            p.add_(1.0)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_rejects_points_outside_the_space_and_other_kinds() -> None:
    net = SuperNet(SPACE, (16,), 4)
    arch = extreme_arch(SPACE, "largest", np.random.default_rng(0))
    arch["blocks"][0]["width"] = 64
    with pytest.raises(ArchitectureError):
        net.set_active(arch)
    with pytest.raises(ArchitectureError):
        net(torch.zeros(2, 16))  # nothing active yet
    with pytest.raises(ArchitectureError, match="macro"):
        SuperNet(mlp_space(), (16,), 4)  # a cell space gets the cell supernet (cellnet)
    with pytest.raises(ArchitectureError, match="ops"):
        macro_limits(macro_chain(ops=("conv", "nor_conv_3x3")))


def test_bn_recalibration_changes_running_stats_deterministically() -> None:
    net = _trained().model
    arch = SPACE.to_config(SPACE.sample(np.random.default_rng(5)))
    calib = _data(64, seed=2)[0]
    sub = net.extract(arch)
    stale = [m.running_mean.clone() for m in sub.modules() if hasattr(m, "running_mean")]
    weights = [p.clone() for p in sub.parameters()]
    recalibrate_bn(sub, calib, batch_size=16)
    fresh = [m.running_mean.clone() for m in sub.modules() if hasattr(m, "running_mean")]
    assert any(not torch.allclose(a, b) for a, b in zip(stale, fresh))
    assert all(torch.equal(a, b) for a, b in zip(weights, sub.parameters()))
    # the same calibration subset gives the same statistics, from whatever stats it starts
    again = net.extract(arch)
    for m in again.modules():
        if hasattr(m, "running_mean"):
            m.running_mean.add_(3.0)
    recalibrate_bn(again, calib, batch_size=16)
    for a, b in zip(sub.modules(), again.modules()):
        if hasattr(a, "running_var"):
            assert torch.allclose(a.running_mean, b.running_mean, atol=1e-6)
            assert torch.allclose(a.running_var, b.running_var, atol=1e-6)
            assert a.momentum == b.momentum == 0.1  # restored
    # whole-set statistics (cumulative average): the first BN's mean is the batch mean
    first = next(m for m in sub.modules() if isinstance(m, torch.nn.BatchNorm1d))
    with torch.no_grad():
        stem = sub[1](sub[0](torch.as_tensor(calib)))
    assert torch.allclose(first.running_mean, stem.mean(dim=(0, 2)), atol=1e-5)
    # recalibrating the supernet's own path gives the extracted subnet the same stats
    recalibrate_bn(net, calib, batch_size=16, arch=arch)
    third = net.extract(arch)
    for a, b in zip(sub.modules(), third.modules()):
        if hasattr(a, "running_var"):
            assert torch.allclose(a.running_mean, b.running_mean, atol=1e-5)
            assert torch.allclose(a.running_var, b.running_var, atol=1e-5)


def test_samplers() -> None:
    rng = np.random.default_rng(0)
    paths = uniform_paths(SPACE)(rng)
    assert len(paths) == 1 and SPACE.to_flat(paths[0])
    sandwich = sandwich_paths(SPACE, n_random=2)(rng)
    assert len(sandwich) == 4
    largest, smallest = sandwich[0], sandwich[1]
    assert largest["n_blocks"] == 3 and smallest["n_blocks"] == 1
    assert all(
        b["width"] == 12 and b["kernel"] == 5 and b["stride"] == 1 for b in largest["blocks"]
    )
    assert all(
        b["width"] == 4 and b["kernel"] == 3 and b["stride"] == 2 for b in smallest["blocks"]
    )
    for arch in sandwich:
        SPACE.to_flat(arch)  # points of the space
    # same seed, same paths
    a = make_sampler("sandwich", SPACE)(np.random.default_rng(7))
    b = make_sampler("sandwich", SPACE)(np.random.default_rng(7))
    assert a == b
    with pytest.raises(ValueError, match="sampler"):
        make_sampler("fairest", SPACE)
    with pytest.raises(ValueError, match="optimizer"):
        SuperNetTrainer(SPACE, _data(), (16,), 4, optimizer="rmsprop")
    # uniform sampling visits every depth
    depths = {uniform_paths(SPACE)(rng)[0]["n_blocks"] for _ in range(60)}
    assert depths == {1, 2, 3}


def test_sandwich_training_counts_every_path() -> None:
    uniform = _trained(sampler="uniform")
    sandwich = _trained(sampler="sandwich")
    assert uniform.sample_passes == 64
    assert sandwich.sample_passes == 4 * 64


def test_checkpoint_round_trip_continues_exactly(tmp_path) -> None:
    straight = _trained(seed=3)
    straight.train_epoch()
    resumed = _trained(seed=3)
    resumed.save(str(tmp_path))
    other = SuperNetTrainer(SPACE, _data(), (16,), 4, batch_size=32, epochs=2, seed=99)
    other.load(str(tmp_path))
    other.train_epoch()
    assert other.epoch == straight.epoch == 2
    assert other.sample_passes == straight.sample_passes
    for k, v in straight.model.state_dict().items():
        assert torch.allclose(v, other.model.state_dict()[k], atol=1e-6), k
    weights = SuperNetTrainer.load_weights(str(tmp_path))
    assert set(weights) == set(straight.model.state_dict())


def test_shared_arrays_are_used_without_a_copy() -> None:
    trainer = _trained()
    arrays = to_arrays(trainer.model)
    for v in arrays.values():
        v.setflags(write=False)  # as Ray's object store hands them out
    view = from_arrays(SuperNet(SPACE, (16,), 4, seed=5), arrays)
    name = "blocks.0.ops.conv.0.weight"
    assert view.get_parameter(name).data_ptr() == arrays[name].ctypes.data
    x, y = _data(64, seed=4)
    arch = SPACE.to_config(SPACE.sample(np.random.default_rng(1)))
    a = accuracy(recalibrate_bn(trainer.model.extract(arch), x), x, y)
    b = accuracy(recalibrate_bn(view.extract(arch), x), x, y)
    assert a == b
    # a supernet pickles by reference to its classes (for Ray)
    clone = pickle.loads(pickle.dumps(trainer.model))
    assert type(clone).__name__ == "MacroSuperNet"
