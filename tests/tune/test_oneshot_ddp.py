"""One-shot phase 1 as a Ray Train trial with two gloo workers (real Ray)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mnist1d")
torch = pytest.importorskip("torch")

from raysearch.nas import macro_chain  # noqa: E402
from raysearch.nas.datasets import mnist1d_task  # noqa: E402
from raysearch.nas.sampling import extreme_arch  # noqa: E402
from raysearch.nas.supernet import SuperNet, accuracy  # noqa: E402
from raysearch.tune.oneshot import supernet_phase  # noqa: E402
from raysearch.tune.oneshot_ddp import supernet_phase_ddp, worker_resources  # noqa: E402

pytestmark = pytest.mark.ray

SPACE = macro_chain(max_blocks=2, widths=(4, 8), kernels=(3, 5), expansions=(1, 2), stem_width=4)


def test_supernet_trial_on_two_workers(ray_local, tmp_path) -> None:
    task = mnist1d_task(max_epochs=2, n_train=256, n_val=128, batch_size=64)
    # through phase 1's entry point, as presets.oneshot(supernet_workers=2) calls it
    folder, metrics, weights = supernet_phase(
        SPACE,
        task,
        epochs=2,
        workers=2,
        resources={"cpu": 0.5},
        batch_size=64,
        distill=True,
        storage_path=str(tmp_path),
        name="ddp",
        verbose=0,
    )
    assert metrics["epoch"] == 2 and metrics["workers"] == 2 and metrics["resumed_from"] == 0
    assert metrics["sample_passes"] == 2 * 2 * 256  # the whole batch, sampled path + teacher
    assert np.isfinite(metrics["train_loss"]) and folder.startswith(str(tmp_path))
    # rank 0's weights load into a supernet of the space (phase 2 reads them this way)
    net = SuperNet(SPACE, (40,), 10, seed=0)
    net.load_state_dict(weights)
    x, y = task.val_data
    arch = extreme_arch(SPACE, "largest", np.random.default_rng(0))
    assert 0.0 <= accuracy(net, np.asarray(x), np.asarray(y), arch=arch) <= 1.0


def test_worker_resources_in_ray_trains_spelling() -> None:
    assert worker_resources(None) == (None, False)
    assert worker_resources({"cpu": 2, "gpu": 1}) == ({"CPU": 2.0, "GPU": 1.0}, True)
    assert worker_resources({"CPU": 0.5}) == ({"CPU": 0.5}, False)


def test_bad_worker_counts_are_refused() -> None:
    task = mnist1d_task(max_epochs=1, n_train=64, n_val=32, batch_size=16)
    with pytest.raises(ValueError, match="num_workers"):
        supernet_phase_ddp(SPACE, task, epochs=1, num_workers=0)
    with pytest.raises(ValueError, match="fewer than 2 rows"):
        supernet_phase_ddp(SPACE, task, epochs=1, num_workers=4, batch_size=6)


_SCRIPT = """
import json, sys
from raysearch.nas import macro_chain
from raysearch.nas.datasets import mnist1d_task
from raysearch.tune.oneshot_ddp import supernet_phase_ddp
from raysearch.tune.resources import init_ray

init_ray(num_cpus=2, verbose=0)
space = macro_chain(max_blocks=2, widths=(4, 8), kernels=(3, 5), expansions=(1, 2), stem_width=4)
task = mnist1d_task(max_epochs=2, n_train=2000, n_val=128, batch_size=64)
_, m, _ = supernet_phase_ddp(space, task, epochs=6, num_workers=2, batch_size=64,
    resources_per_worker={"CPU": 0.5}, storage_path=sys.argv[1], name="ddp", verbose=0,
    resume=len(sys.argv) > 2)
print("RESULT", json.dumps({k: m[k] for k in ("epoch", "resumed_from", "sample_passes")}))
"""


@pytest.mark.slow
def test_an_interrupted_supernet_trial_resumes_from_its_train_checkpoint(tmp_path) -> None:
    """Ctrl-C after two epochs' checkpoints, then a new process (a new Ray instance) with
    resume=True: the workers continue from the Train run's checkpoint, not from epoch 0."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "phase.py"
    script.write_text(_SCRIPT)
    store = tmp_path / "store"
    first = subprocess.Popen([sys.executable, str(script), str(store)], start_new_session=True)
    deadline = time.time() + 300
    while len(list(store.glob("**/checkpoint_*"))) < 2 and time.time() < deadline:
        assert first.poll() is None, "the first run ended before it could be interrupted"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGINT)
    assert first.wait(120) != 0
    again = subprocess.run(
        [sys.executable, str(script), str(store), "resume"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    line = [x for x in again.stdout.splitlines() if x.startswith("RESULT ")]
    assert line, again.stderr[-3000:]
    metrics = json.loads(line[0].split(" ", 1)[1])
    assert metrics["epoch"] == 6 and metrics["resumed_from"] >= 1
    assert metrics["sample_passes"] == 6 * 2000  # counted across the interruption
