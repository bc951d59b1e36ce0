"""Everything GPU-side the project claims, measured by one command in under 8 minutes.

``python -m raysearch.bench gpu`` on a machine with a CUDA GPU measures:

1. **packing**: ``k`` = 1, 2, 4, 8 small torch trials at once on one GPU (each a Tune trial
   with ``{"gpu": 1/k}``): aggregate and per-trial samples/s, peak memory, wall time; and
   the packing ``gpu="auto"`` picks from these rows
   (:func:`raysearch.trainables.resources.choose_packing`, the rule ``gpu_resources``
   applies to its probe);
2. **ddp**: one Tune trial that is a Ray Train ``TorchTrainer``
   (:func:`raysearch.trainables.ddp_trainable`; one worker per GPU, NCCL);
3. **supernet**: training samples/s of :func:`raysearch.nas.supernet.SuperNet` on its
   largest subnet against plain PyTorch on the same architecture built stand-alone, and
   subnet evaluation throughput (random subnets of the supernet, eval mode);
4. **supernet_ddp**: one-shot NAS's supernet trial as a Ray Train trial with one worker per
   GPU (:func:`raysearch.tune.oneshot_ddp.supernet_phase_ddp`): samples/s and the loss;
5. **xgboost**: ``device="cuda"`` against the CPU on the same synthetic table.

``--dry-run`` runs every part at toy sizes on the CPU (no GPU needed, under a minute on
an idle 2-core machine), so the command cannot rot: CI runs it
(``tests/bench/test_gpu_dry_run.py``). A part that fails is reported with its error and
the others still run; the exit status is 1 then.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from raysearch.bench.common import add_json_option, bench_parser, init_local_ray
from raysearch.bench.report import format_table, write_json

__all__ = [
    "main",
    "packing_rows",
    "ddp_rows",
    "supernet_rows",
    "supernet_ddp_rows",
    "xgboost_rows",
    "mlp_model",
]

logger = logging.getLogger(__name__)


def mlp_model(config: dict[str, Any]) -> Any:
    """A small MLP (the "small trial" of the packing and DDP parts)."""
    from torch import nn

    d, h = int(config.get("d_in", 32)), int(config.get("hidden", 256))
    return nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 10))


def _table(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    y = (x[:, : min(d, 10)].argmax(axis=1)).astype(np.int64)
    return x, y


def _tune_fit(trainable: Any, resources: dict[str, float], n: int, config: dict[str, Any]) -> Any:
    from ray import tune

    with tempfile.TemporaryDirectory(prefix="raysearch-bench-gpu-") as folder:
        tuner = tune.Tuner(
            tune.with_resources(trainable, resources),
            param_space={**config, "seed": tune.grid_search(list(range(n)))},
            run_config=tune.RunConfig(storage_path=folder, verbose=0),
        )
        return tuner.fit()


def packing_rows(*, dry: bool) -> list[dict[str, Any]]:
    """One row per ``k`` trials sharing a GPU (dry: CPU trials, ``k`` = 1, 2)."""
    import torch

    from raysearch.trainables.resources import choose_packing
    from raysearch.trainables.torch import torch_trainable

    n, epochs = (2_000, 2) if dry else (200_000, 4)
    trainable = torch_trainable(mlp_model, _table(n, 32), max_epochs=epochs)
    config = {"lr": 1e-3, "batch_size": 256 if dry else 1024}
    rows = []
    for k in (1, 2) if dry else (1, 2, 4, 8):
        resources = {"cpu": 1.0} if dry else {"cpu": 1.0, "gpu": 1.0 / k}
        t0 = time.perf_counter()
        grid = _tune_fit(trainable, resources, k, config)
        wall = time.perf_counter() - t0
        frames = [r.metrics_dataframe for r in grid if r.metrics_dataframe is not None]
        rates = [
            float(f["samples_per_s"].iloc[1:].mean() if len(f) > 1 else f["samples_per_s"].iloc[0])
            for f in frames
        ]
        rows.append(
            {
                "trials": k,
                "aggregate_samples_per_s": float(sum(rates)),
                "per_trial_samples_per_s": float(np.mean(rates)) if rates else float("nan"),
                "peak_mb": max(float(f["gpu_mem_mb"].max()) for f in frames) if frames else 0.0,
                "wall_s": wall,
                "errors": sum(1 for r in grid if r.error is not None),
            }
        )
    if not dry and torch.cuda.is_available():
        total = torch.cuda.get_device_properties(0).total_memory / 2**20
        pick = choose_packing(rows, total_mb=total)
        for row in rows:
            row["auto_pick"] = row["trials"] == pick
    return rows


def ddp_rows(*, dry: bool) -> list[dict[str, Any]]:
    """One DDP trial: wall time and its last epoch (dry: 2 CPU workers, gloo)."""
    import torch

    from raysearch.trainables.ddp import ddp_trainable

    gpus = 0 if dry else torch.cuda.device_count()
    workers = 2 if dry else max(1, gpus)
    n, epochs = (1_000, 1) if dry else (400_000, 3)
    trainable = ddp_trainable(
        mlp_model,
        _table(n, 32),
        _table(n // 10, 32, seed=1),
        num_workers=workers,
        use_gpu=gpus > 0,
        # Train V2's controller needs a CPU too: 2 workers of 0.5 CPU fit a 2-CPU dry run
        resources_per_worker={"CPU": 1, "GPU": 1} if gpus else {"CPU": 0.5},
        max_epochs=epochs,
    )
    t0 = time.perf_counter()
    grid = _tune_fit(trainable, {"cpu": 0.01}, 1, {"lr": 1e-3, "batch_size": 256})
    wall = time.perf_counter() - t0
    result = grid[0]
    metrics = result.metrics or {}
    return [
        {
            "workers": workers,
            "backend": "nccl" if gpus else "gloo",
            "epochs": int(metrics.get("epoch", 0)),
            "val_loss": float(metrics.get("val_loss", float("nan"))),
            "samples_per_s": float(metrics.get("samples_per_s", float("nan"))),
            "wall_s": wall,
            "trial_error": "" if result.error is None else repr(result.error)[:200],
        }
    ]


def _train_rate(forward: Callable[[Any], Any], params: Any, x: Any, y: Any, steps: int) -> float:
    import torch
    from torch import nn

    opt = torch.optim.SGD(params, lr=0.01)
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    for i in range(steps + 2):  # two warm-up steps
        if i == 2:
            sync()
            t0 = time.perf_counter()
        opt.zero_grad()
        nn.functional.cross_entropy(forward(x), y).backward()
        opt.step()
    sync()
    return steps * len(x) / (time.perf_counter() - t0)


def supernet_rows(*, dry: bool) -> list[dict[str, Any]]:
    """Supernet training on its largest subnet vs the same network built plainly, and
    subnet evaluation throughput (MNIST-1D-shaped synthetic data)."""
    import torch

    from raysearch.nas import build, macro_chain

    device = torch.device("cuda" if torch.cuda.is_available() and not dry else "cpu")
    space = macro_chain(max_blocks=3 if dry else 6, widths=(8, 16) if dry else (32, 64, 128))
    batch, steps, n_subnets = (32, 3, 4) if dry else (512, 50, 200)
    x_np, y_np = _table(batch, 40)
    x, y = torch.as_tensor(x_np, device=device), torch.as_tensor(y_np, device=device)
    rng = np.random.default_rng(0)
    make_supernet: Any = None
    try:  # the supernet of NAS II (raysearch.nas.supernet), when it is in place
        from raysearch.nas.sampling import extreme_arch
        from raysearch.nas.supernet import SuperNet as make_supernet
    except ImportError as err:
        logger.warning("no supernet (%s): plain PyTorch only", err)
    rows: list[dict[str, Any]] = []
    if make_supernet is None:
        largest = space.to_config(space.sample(rng))
    else:
        largest = extreme_arch(space, "largest", rng)
    plain = build(largest, (40,), 10).to(device).train()
    rate = _train_rate(plain, plain.parameters(), x, y, steps)
    rows.append({"what": "plain PyTorch, largest subnet", "samples_per_s": rate})
    if make_supernet is not None:
        net = make_supernet(space, (40,), 10).to(device).train()
        net.set_active(largest)
        s_rate = _train_rate(net, net.parameters(), x, y, steps)
        rows.append({"what": "supernet, largest subnet", "samples_per_s": s_rate})
        rows[-1]["vs_plain"] = s_rate / rate
        archs = [space.to_config(space.sample(rng)) for _ in range(n_subnets)]
        net.eval()
        sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        with torch.no_grad():
            sync()
            t0 = time.perf_counter()
            for arch in archs:
                net(x, arch)
            sync()
        elapsed = time.perf_counter() - t0
        rows.append(
            {
                "what": f"subnet evaluation ({n_subnets} random subnets, batch {batch})",
                "samples_per_s": n_subnets * batch / elapsed,
                "subnets_per_s": n_subnets / elapsed,
            }
        )
    for row in rows:
        row["device"] = device.type
    return rows


def supernet_ddp_rows(*, dry: bool) -> list[dict[str, Any]]:
    """One-shot phase 1 as a Ray Train trial (:func:`raysearch.tune.oneshot_ddp.
    supernet_phase_ddp`): one worker per GPU (NCCL; dry: 2 CPU workers, gloo), supernet
    training samples/s (sample passes over the epochs' wall time) and the last loss."""
    import torch

    from raysearch.nas import macro_chain
    from raysearch.nas.trainable import NASTask
    from raysearch.tune.oneshot_ddp import supernet_phase_ddp

    gpus = 0 if dry else torch.cuda.device_count()
    workers = 2 if dry else max(1, gpus)
    n, epochs = (512, 1) if dry else (100_000, 2)
    space = macro_chain(max_blocks=3 if dry else 6, widths=(8, 16) if dry else (32, 64, 128))
    x, y = _table(n, 40)
    task = NASTask((x, y), (x[:64], y[:64]), (40,), num_classes=10)
    with tempfile.TemporaryDirectory(prefix="raysearch-bench-") as folder:
        t0 = time.perf_counter()
        _, metrics, _ = supernet_phase_ddp(
            space,
            task,
            epochs=epochs,
            num_workers=workers,
            use_gpu=gpus > 0,
            resources_per_worker={"CPU": 1, "GPU": 1} if gpus else {"CPU": 0.5},
            batch_size=64 if dry else 1024,
            distill=True,
            storage_path=folder,
            name="supernet-ddp",
            verbose=0,
        )
        wall = time.perf_counter() - t0
    return [
        {
            "workers": workers,
            "backend": "nccl" if gpus else "gloo",
            "epochs": int(metrics["epoch"]),
            "train_loss": float(metrics["train_loss"]),
            "samples_per_s": float(metrics["sample_passes"]) / max(wall, 1e-9),
            "wall_s": wall,
        }
    ]


def xgboost_rows(*, dry: bool) -> list[dict[str, Any]]:
    """XGBoost ``hist`` on the CPU and (with a GPU) ``device="cuda"``, same table."""
    import torch
    import xgboost as xgb

    n, d, rounds = (2_000, 10, 10) if dry else (500_000, 50, 200)
    x, y = _table(n, d)
    dtrain = xgb.DMatrix(x, label=y)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() and not dry else [])
    rows: list[dict[str, Any]] = []
    for device in devices:
        params = {
            "objective": "multi:softprob",
            "num_class": 10,
            "tree_method": "hist",
            "device": device,
            "max_depth": 6,
        }
        t0 = time.perf_counter()
        booster = xgb.train(params, dtrain, num_boost_round=rounds)
        seconds = time.perf_counter() - t0
        acc = float((booster.predict(dtrain).argmax(axis=1) == y).mean())
        rows.append(
            {"device": device, "rows": n, "rounds": rounds, "seconds": seconds, "train_acc": acc}
        )
    if len(rows) == 2:
        rows[1]["speedup"] = rows[0]["seconds"] / rows[1]["seconds"]
    return rows


PARTS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "packing": packing_rows,
    "ddp": ddp_rows,
    "supernet": supernet_rows,
    "supernet_ddp": supernet_ddp_rows,
    "xgboost": xgboost_rows,
}
_NEEDS_RAY = ("packing", "ddp", "supernet_ddp")


def main(argv: list[str] | None = None) -> int:
    import torch

    ap = bench_parser("gpu", __doc__)
    ap.add_argument("--dry-run", action="store_true", help="toy sizes on the CPU (CI)")
    ap.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    ap.add_argument("--cpus", type=int, default=None, help="CPUs for local Ray")
    add_json_option(ap)
    a = ap.parse_args(argv)
    if not a.dry_run and not torch.cuda.is_available():
        print("no CUDA GPU here: run with --dry-run (toy sizes on the CPU) or on a GPU machine")
        return 2
    if a.dry_run:
        torch.set_num_threads(1)
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    t_start = time.perf_counter()
    payload: dict[str, Any] = {"dry_run": a.dry_run, "device": _device_name()}
    failed = False
    if any(p in _NEEDS_RAY for p in a.parts):
        import ray

        init_local_ray(a.cpus if a.cpus is not None else (2 if a.dry_run else None))
    try:
        for part in a.parts:
            t0 = time.perf_counter()
            try:
                rows = PARTS[part](dry=a.dry_run)
            except Exception as err:  # one part failing must not hide the others
                failed = True
                rows = [{"error": f"{type(err).__name__}: {err}"}]
                logger.error("part %s failed:\n%s", part, traceback.format_exc())
            payload[part] = rows
            print(f"== {part} ({time.perf_counter() - t0:.1f} s)")
            columns = list(dict.fromkeys(k for r in rows for k in r))  # every row's keys
            print(format_table(rows, columns, digits=4))
            print()
    finally:
        if any(p in _NEEDS_RAY for p in a.parts):
            ray.shutdown()
    payload["total_s"] = time.perf_counter() - t_start
    print(f"total {payload['total_s']:.1f} s on {payload['device']}")
    if a.json:
        write_json(a.json, payload)
    return 1 if failed else 0


def _device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return str(torch.cuda.get_device_name(0))
    return "cpu"
