"""Local Ray's agents end with a driver killed with SIGKILL (tune/reaper.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from raysearch.tune.reaper import WATCHER

REPO = Path(__file__).resolve().parents[2]
NODE = "f" * 56  # a made-up Ray node id

DRIVER = """
import sys, time
import ray
from raysearch.tune.resources import init_ray

init_ray(num_cpus=1, verbose=0)
print(ray.get_runtime_context().get_node_id(), flush=True)
time.sleep(600)
"""


def started_by(node_id: str) -> list[psutil.Process]:
    """The processes whose environment names the Ray node ``node_id``."""
    found = []
    for proc in psutil.process_iter():
        try:
            with open(f"/proc/{proc.pid}/environ", "rb") as f:
                if f"RAY_NODE_ID={node_id}".encode() in f.read().split(b"\0"):
                    found.append(proc)
        except OSError:
            pass
    return found


def wait_until(predicate, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


def sleeper(**env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"], env={**os.environ, **env}
    )


def watcher_for(raylet: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    started = repr(psutil.Process(raylet.pid).create_time())
    return subprocess.Popen(
        [sys.executable, "-c", WATCHER, str(raylet.pid), started, NODE], stdin=subprocess.PIPE
    )


def test_the_watcher_stops_what_outlived_a_dead_raylet_and_spares_the_rest():
    raylet = sleeper()
    agent = sleeper(RAY_NODE_ID=NODE)
    bystander = sleeper(RAY_NODE_ID="e" * 56)  # another Ray node's process
    watcher = watcher_for(raylet)
    try:
        raylet.kill()
        raylet.wait()
        assert watcher.stdin is not None
        watcher.stdin.close()  # the driver's end
        assert watcher.wait(timeout=15) == 0
        assert agent.wait(timeout=5) == -signal.SIGTERM
        assert bystander.poll() is None
    finally:
        for proc in (agent, bystander):
            proc.kill()
            proc.wait()


def test_the_watcher_stops_nothing_while_the_raylet_lives():
    raylet = sleeper()
    agent = sleeper(RAY_NODE_ID=NODE)
    watcher = watcher_for(raylet)
    try:
        assert watcher.stdin is not None
        watcher.stdin.close()
        time.sleep(3)
        assert agent.poll() is None
    finally:
        for proc in (watcher, agent, raylet):
            proc.kill()
            proc.wait()


# slow: with another local Ray instance alive in the same test session (the suite's
# ray_local fixture) it failed to find the driver's processes (seen once in a sequential
# run, 2026-12-05); the watcher's logic is covered by the two tests above in the default run.
@pytest.mark.ray
@pytest.mark.slow
def test_kill_9_of_the_driver_leaves_no_ray_process(tmp_path):
    env = {**os.environ, "RAY_ADDRESS": "", "PYTHONPATH": str(REPO)}
    with open(tmp_path / "stderr", "w") as stderr:
        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert driver.stdout is not None
        node_id = driver.stdout.readline().strip()
        assert node_id, (tmp_path / "stderr").read_text()[-3000:]
        names = lambda: {p.name() for p in started_by(node_id)}  # noqa: E731
        # the agents that used to outlive the driver by one to two minutes
        assert wait_until(
            lambda: {"ray::DashboardAgent", "ray::RuntimeEnvAgent"} <= names(), 60
        ), names()
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    assert wait_until(lambda: not started_by(node_id), 20), [
        (p.pid, p.name()) for p in started_by(node_id)
    ]
