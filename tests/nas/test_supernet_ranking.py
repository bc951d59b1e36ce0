"""Supernet options for ranking quality: in-place distillation, ranking by inherited loss."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from raysearch.nas import ArchitectureError, macro_chain, nb201_cell  # noqa: E402
from raysearch.nas.sampling import SuperNetTrainer, extreme_arch  # noqa: E402
from raysearch.nas.supernet import accuracy, accuracy_and_loss, recalibrate_bn  # noqa: E402
from tests.helpers.supernet_data import toy_data  # noqa: E402

SPACE = macro_chain(
    max_blocks=3, widths=(4, 8, 12), kernels=(3, 5), expansions=(1, 2), stem_width=6
)


def _data(n: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return toy_data(n, seed)


def _trainer(**options: Any) -> SuperNetTrainer:
    return SuperNetTrainer(
        SPACE, _data(), (16,), 4, sampler="uniform", batch_size=32, epochs=2, seed=0, **options
    )


def _smallest_only(trainer: SuperNetTrainer) -> None:
    """Every step trains the one-block smallest path only."""
    smallest = extreme_arch(SPACE, "smallest", np.random.default_rng(0))
    trainer.sample = lambda rng: [smallest]


@pytest.mark.parametrize("distill", [False, True])
def test_distillation_also_trains_the_largest_subnet(distill: bool) -> None:
    trainer = _trainer(distill=distill)
    _smallest_only(trainer)
    deep = [p.detach().clone() for p in trainer.model.blocks[2].parameters()]
    metrics = trainer.train_epoch()
    after = list(trainer.model.blocks[2].parameters())
    changed = any(not torch.equal(a, b) for a, b in zip(deep, after))
    # the third block position is used only by the (3-block) largest subnet, the teacher
    assert changed is distill
    assert metrics["paths"] == 2 * (2 if distill else 1)  # 2 batches, teacher + student


def test_distilled_student_learns_the_teachers_outputs() -> None:
    """The student's loss is the cross-entropy against the teacher's soft outputs (the
    teacher's on the labels): with the student's path equal to the teacher's, the epoch's
    loss is the mean of the cross-entropy and the entropy of the teacher's softmax."""
    trainer = SuperNetTrainer(
        SPACE,
        _data(),
        (16,),
        4,
        sampler="uniform",
        batch_size=64,
        epochs=1,
        seed=0,
        distill=True,
    )
    # the teacher draws its ops from the trainer's generator: replay them for the student
    state = trainer.rng.bit_generator.state
    teacher = extreme_arch(SPACE, "largest", trainer.rng)
    trainer.rng.bit_generator.state = state
    trainer.sample = lambda rng: [teacher]
    x, y = (torch.as_tensor(a) for a in _data())
    with torch.no_grad():
        out = trainer.model(x, teacher)  # train mode: batch statistics, as in the step
    metrics = trainer.train_epoch()  # one batch: the whole data set
    f = torch.nn.functional
    expected = (f.cross_entropy(out, y) + f.cross_entropy(out, torch.softmax(out, 1))) / 2
    assert metrics["paths"] == 2
    assert metrics["train_loss"] == pytest.approx(float(expected), rel=1e-5)
    assert trainer.epoch == 1


def test_distillation_needs_a_macro_space() -> None:
    with pytest.raises(ArchitectureError):
        SuperNetTrainer(nb201_cell(channels=4, cells_per_stage=1), _data(), (16,), 4, distill=True)


def test_distillation_checkpoint_continues_exactly(tmp_path: Path) -> None:
    a = _trainer(distill=True)
    a.train_epoch()
    a.save(str(tmp_path))
    a.train_epoch()
    b = _trainer(distill=True)
    b.load(str(tmp_path))
    b.train_epoch()
    for (name, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(p, q), name


def test_accuracy_and_loss_match_one_pass() -> None:
    trainer = _trainer()
    trainer.train_epoch()
    arch = extreme_arch(SPACE, "largest", np.random.default_rng(1))
    sub = trainer.model.extract(arch)
    x, y = _data(100, seed=3)
    acc, loss = accuracy_and_loss(sub, x, y, batch_size=32)  # several batches
    sub.eval()
    with torch.no_grad():
        out = sub(torch.as_tensor(x))
    assert acc == accuracy(sub, x, y)
    assert loss == pytest.approx(float(torch.nn.functional.cross_entropy(out, torch.as_tensor(y))))


def test_evaluate_arch_reports_the_recalibrated_loss() -> None:
    from raysearch.tune.oneshot import evaluate_arch

    trainer = _trainer()
    trainer.train_epoch()
    x, y = _data(80, seed=5)
    spec = SimpleNamespace(calib_x=_data()[0], val_x=x, val_y=y)
    arch = extreme_arch(SPACE, "smallest", np.random.default_rng(2))
    metrics = evaluate_arch(trainer.model, arch, spec)
    sub = recalibrate_bn(trainer.model.extract(arch), spec.calib_x)
    assert (metrics["inherited_acc"], metrics["inherited_loss"]) == accuracy_and_loss(sub, x, y)
    assert 0.0 < metrics["inherited_loss"] < 10.0


def test_path_flops_equal_the_built_networks() -> None:
    from raysearch.nas import cost
    from raysearch.nas.supernet import path_flops

    rng = np.random.default_rng(3)
    image = macro_chain(max_blocks=2, widths=(4, 8), kernels=(3, 5), expansions=(1, 2))
    for space, shape in ((SPACE, (16,)), (image, (1, 8, 8))):
        for _ in range(12):
            arch = space.to_config(space.sample(rng))
            assert path_flops(arch, shape, 4) == cost(arch, shape, 4, latency=False)["flops"]


def test_sparse_teacher_caches_its_soft_outputs() -> None:
    """``distill_every=2``: the teacher runs on every other step; in between, the student
    trains on the cached soft outputs of its rows; FLOPs count every path trained."""
    from raysearch.nas.supernet import path_flops

    trainer = SuperNetTrainer(
        SPACE, _data(), (16,), 4, sampler="uniform", batch_size=64, epochs=3, seed=0,
        distill=True, distill_every=2,
    )  # fmt: skip
    _smallest_only(trainer)
    smallest = trainer.sample(trainer.rng)[0]
    first = trainer.train_epoch()  # one batch: the whole data set; the teacher's step
    assert first["paths"] == 2 and bool(trainer.has_soft.all())
    cached = trainer.soft.clone()
    x, _ = (torch.as_tensor(a) for a in _data())
    with torch.no_grad():
        out = trainer.model(x, smallest)  # train mode: batch statistics, as in the step
    second = trainer.train_epoch()  # no teacher: the student on the cached outputs
    expected = torch.nn.functional.cross_entropy(out, cached)
    assert second["paths"] == 1 and torch.equal(trainer.soft, cached)
    assert second["train_loss"] == pytest.approx(float(expected), rel=1e-5)
    assert trainer.train_epoch()["paths"] == 2  # the third step: the teacher again
    student = 3 * 64 * path_flops(smallest, (16,), 4)
    assert trainer.flops > 3 * student  # three student paths and two (larger) teachers
    with pytest.raises(ValueError, match="distill_every"):
        _trainer(distill=True, distill_every=0)


def test_sparse_teacher_checkpoint_continues_exactly(tmp_path: Path) -> None:
    a = _trainer(distill=True, distill_every=3)
    a.train_epoch()
    a.save(str(tmp_path))
    a.train_epoch()
    b = _trainer(distill=True, distill_every=3)
    b.load(str(tmp_path))
    b.train_epoch()
    assert (a.steps, a.flops) == (b.steps, b.flops) and torch.equal(a.soft, b.soft)
    for (name, p), q in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(p, q), name
