"""Few-shot NAS: split supernets route, extract exactly, checkpoint and reload; the
depth-weighted sampler; a fixed path trained inside the supernet learns like stand-alone."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raysearch.nas import check_arch, macro_chain  # noqa: E402
from raysearch.nas.fewshot import (  # noqa: E402
    FewShotSuperNet,
    split_key,
    split_keys,
    supernet_for_state,
)
from raysearch.nas.sampling import SuperNetTrainer, make_sampler  # noqa: E402
from raysearch.nas.supernet import SuperNet, accuracy, from_arrays, to_arrays  # noqa: E402
from tests.helpers.supernet_data import toy_data  # noqa: E402

SPACE = macro_chain(
    max_blocks=3, widths=(4, 8, 12), kernels=(3, 5), expansions=(1, 2), stem_width=6
)


def _data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return toy_data(n, seed)


def _archs(n: int = 6) -> list[dict]:
    rng = np.random.default_rng(0)
    return [SPACE.to_config(SPACE.sample(rng)) for _ in range(n)]


def test_split_copies_the_parent_and_extract_is_the_active_path() -> None:
    parent = SuperNet(SPACE, (16,), 4, seed=0).eval()
    net = FewShotSuperNet(parent, "n_blocks").eval()
    assert (
        sorted(net.subnets)
        == split_keys(SPACE, "n_blocks")
        == [
            "n_blocks=1",
            "n_blocks=2",
            "n_blocks=3",
        ]
    )
    x = torch.as_tensor(_data(20, seed=1)[0])
    for arch in _archs():
        assert split_key(arch, "n_blocks") == f"n_blocks={arch['n_blocks']}"
        assert torch.equal(net(x, arch), parent(x, arch))  # starts as the parent
        net.set_active(arch)
        assert torch.allclose(net(x), net.extract(arch).eval()(x), rtol=1e-5, atol=1e-6)
    by_op = FewShotSuperNet(parent, "op")
    assert sorted(by_op.subnets) == sorted(f"op={o}" for o in ("conv", "sep_conv", "mbconv"))
    with pytest.raises(ValueError, match="split must be one of"):
        FewShotSuperNet(parent, "width")
    pickle.loads(pickle.dumps(net))  # Ray ships it by reference to its class


def test_split_trainer_checkpoint_continues_exactly(tmp_path) -> None:
    def trainer() -> SuperNetTrainer:
        return SuperNetTrainer(
            SPACE, _data(), (16,), 4, batch_size=32, epochs=3, split="n_blocks", split_epoch=1
        )

    straight = trainer()
    for _ in range(3):
        straight.train_epoch()
    assert straight.split_done and len(straight.model.subnets) == 3
    first = trainer()
    first.train_epoch()
    first.train_epoch()  # split before this epoch
    first.save(str(tmp_path))
    resumed = trainer()
    resumed.load(str(tmp_path))
    assert resumed.split_done and resumed.epoch == 2
    resumed.train_epoch()
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    # the sub-supernets were trained apart: they differ from each other now
    subnets = straight.model.subnets
    assert not torch.equal(
        subnets["n_blocks=1"].stem[0].weight, subnets["n_blocks=3"].stem[0].weight
    )


def test_supernet_for_state_rebuilds_plain_and_split_supernets() -> None:
    trainer = SuperNetTrainer(
        SPACE, _data(), (16,), 4, batch_size=32, epochs=2, split="op", split_epoch=1
    )
    trainer.train_epoch()
    trainer.train_epoch()
    arrays = to_arrays(trainer.model)
    net = from_arrays(supernet_for_state(SPACE, (16,), 4, arrays), arrays)
    x, y = _data(30, seed=2)
    for arch in _archs(4):
        assert accuracy(net, x, y, arch=arch) == accuracy(trainer.model, x, y, arch=arch)
    plain = supernet_for_state(SPACE, (16,), 4, to_arrays(SuperNet(SPACE, (16,), 4)))
    assert not hasattr(plain, "subnets")


def test_depth_weighted_sampler_favours_depth_and_stays_in_the_space() -> None:
    sample = make_sampler("depth_weighted", SPACE, power=2.0)
    rng = np.random.default_rng(0)
    depths = []
    for _ in range(700):
        (arch,) = sample(rng)
        check_arch(arch, SPACE)
        depths.append(arch["n_blocks"])
    share = np.bincount(depths, minlength=4)[1:] / len(depths)
    assert np.allclose(share, np.array([1, 4, 9]) / 14, atol=0.05), share
    again = make_sampler("depth_weighted", SPACE)(np.random.default_rng(0))
    assert again == make_sampler("depth_weighted", SPACE)(np.random.default_rng(0))


def test_a_fixed_path_trained_in_the_supernet_learns_like_stand_alone() -> None:
    """The check for slicing bugs: a supernet whose sampler always returns one
    architecture trains it about as well as the built network trained alone."""
    from raysearch.nas.trainable import NASTask, train_arch

    arch = {
        "kind": "macro",
        "stem_width": 6,
        "n_blocks": 2,
        "blocks": [
            {"op": "mbconv", "width": 8, "kernel": 3, "expansion": 2, "stride": 1, "skip": True},
            {"op": "conv", "width": 12, "kernel": 5, "expansion": 1, "stride": 2, "skip": False},
        ],
    }
    train, val = _data(384, seed=3), _data(256, seed=4)
    task = NASTask(train, val, (16,), 4, max_epochs=6, training={"batch_size": 32})
    task.latency_repeats = 0
    _, metrics = train_arch(arch, task, device="cpu")
    trainer = SuperNetTrainer(SPACE, train, (16,), 4, batch_size=32, epochs=10**6)
    trainer.sample = lambda rng: [arch]  # constant learning rate, as stand-alone
    for _ in range(6):
        trainer.train_epoch()
    inherited = accuracy(trainer.model.extract(arch), *val)
    assert metrics["val_acc"] > 0.6
    assert inherited > metrics["val_acc"] - 0.1, (inherited, metrics["val_acc"])
