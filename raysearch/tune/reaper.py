"""Local Ray's processes go with the driver that started them, however it ends.

When a driver that started local Ray dies without running its exit handlers (``kill -9``,
the OOM killer), Ray's GCS, raylet, dashboard and monitors die with it (Ray starts them
bound to the driver's life), but two children of the raylet do not: ``ray::DashboardAgent``
and ``ray::RuntimeEnvAgent`` notice that the raylet is gone, then hang for a minute or two
trying to report it to the GCS, which is gone too (Ray 2.60 waits 60 s per report, and has
no setting for it). :func:`watch_local_ray` starts a small watcher process that waits for
the driver's end (the end of a pipe only the driver holds: any way it ends closes it), then
stops the processes that the raylet started and that outlived it.

The watcher stops nothing while the raylet lives, and only processes whose environment names
this Ray node (``RAY_NODE_ID``, a random id Ray gives every process the raylet starts): never
a process of another Ray instance. Linux only (it reads ``/proc``); elsewhere it stops
nothing.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from typing import Any

__all__ = ["watch_local_ray", "WATCHER"]

logger = logging.getLogger("raysearch")

#: the watcher's program (run with ``python -c``: it needs psutil only, not raysearch or Ray)
WATCHER = r"""
import sys, time
import psutil

raylet_pid, raylet_started, node_id = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
sys.stdin.buffer.read()  # returns at the driver's end, however it ends
time.sleep(0.5)  # the processes bound to the driver's life go first


def raylet_alive():
    try:
        return abs(psutil.Process(raylet_pid).create_time() - raylet_started) < 0.01
    except psutil.Error:
        return False


for _ in range(20):  # the raylet stops within seconds of its driver's end
    if not raylet_alive():
        break
    time.sleep(0.5)
else:
    sys.exit(0)  # a raylet that lives on is not this watcher's to stop
# Ray's processes retitle themselves (ray::DashboardAgent), which zeroes the start of their
# environment's memory: look for the variable among all of it (psutil stops at the zeros)
needle = ("RAY_NODE_ID=" + node_id).encode()
left = []
for proc in psutil.process_iter():
    try:
        with open(f"/proc/{proc.pid}/environ", "rb") as f:
            if needle in f.read().split(b"\0"):
                left.append(proc)
    except OSError:  # gone, another user's, or no /proc
        pass
for proc in left:
    try:
        proc.terminate()
    except psutil.Error:
        pass
_, alive = psutil.wait_procs(left, timeout=3)
for proc in alive:
    try:
        proc.kill()
    except psutil.Error:
        pass
"""

#: the running watchers (their pipes stay open while this process lives)
_WATCHERS: list[Any] = []


def watch_local_ray(node_id: str) -> int | None:
    """Starts the watcher for the local Ray node ``node_id`` this process has just started
    (see the module docstring); returns the raylet's pid, or None where there is nothing to
    watch (no raylet child: Ray joined elsewhere, or no psutil)."""
    try:
        import psutil

        raylets = [c for c in psutil.Process().children() if c.name() == "raylet"]
    except Exception as err:  # no psutil, no /proc: Ray's own clean-up only
        logger.debug("not watching local Ray: %s", err)
        return None
    if not raylets:
        return None
    raylet = raylets[-1]
    watcher = subprocess.Popen(
        [sys.executable, "-c", WATCHER, str(raylet.pid), repr(raylet.create_time()), node_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in the terminal reaches the driver, not the watcher
    )
    _WATCHERS.append(watcher)
    return int(raylet.pid)
