"""Real multi-node Ray clusters on this machine for the job tests (`ray start`, no mocks).

Each node is a `ray start --block` process in its own process group, so a node can be
killed on its own (SIGKILL to the group kills its raylet and workers) and everything is
torn down even when a test fails. Token authentication is off for these throw-away
clusters only; node failure detection is shortened so a lost node is noticed in seconds.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BIN = Path(sys.executable).parent
ENV = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _node_ports() -> list[str]:
    """Free ports for one node's agents. The defaults (dashboard agent 52365, ...) are one per
    machine: a second node here, or the test session's own local Ray, would fail to bind them
    and leave the node without a job agent ("No available agent to submit job")."""
    return [
        f"--dashboard-agent-listen-port={free_port()}",
        f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}",
        f"--metrics-export-port={free_port()}",
    ]


def _env() -> dict[str, str]:
    env = {**os.environ, **ENV}
    env.pop("RAY_ADDRESS", None)
    return env


def _kill_group(proc: subprocess.Popen) -> None:
    # Throwaway test clusters: a short grace, then SIGKILL (`ray start --block` takes over
    # 10 s to act on SIGTERM, which would add that much to every test).
    for sig, wait in ((signal.SIGTERM, 2), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            pass
    try:  # members that outlive the leader (gcs_server ignores SIGTERM for a while)
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@dataclass
class LocalCluster:
    gcs_address: str
    dashboard: str
    temp_dir: str
    head: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)
    extra_dirs: list[str] = field(default_factory=list)

    def add_worker(self, num_cpus: int, resources: str = "{}") -> subprocess.Popen:
        before = self.alive_nodes()
        # Its own temp dir: nodes sharing one would share (and garbage-collect) each other's
        # unpacked job working dirs, which separate machines never do.
        temp_dir = tempfile.mkdtemp(prefix="rsw", dir="/tmp")
        self.extra_dirs.append(temp_dir)
        proc = subprocess.Popen(
            [
                str(BIN / "ray"),
                "start",
                "--block",
                f"--address={self.gcs_address}",
                f"--num-cpus={num_cpus}",
                f"--temp-dir={temp_dir}",
                f"--resources={resources}",
                "--disable-usage-stats",
                *_node_ports(),
            ],
            env=_env(),
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.workers.append(proc)
        self.wait_for_nodes(before + 1)
        return proc

    def kill_worker(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def alive_nodes(self) -> int:
        out = subprocess.run(
            [
                str(BIN / "python"),
                "-c",
                f"import ray; ray.init(address={self.gcs_address!r}, logging_level='ERROR'); "
                "print(sum(1 for n in ray.nodes() if n['Alive']))",
            ],
            env=_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        return int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else 0

    def wait_for_nodes(self, n: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while self.alive_nodes() != n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cluster never had {n} alive nodes")
            time.sleep(1)

    def shutdown(self) -> None:
        for proc in self.workers:
            _kill_group(proc)
        _kill_group(self.head)
        for directory in [self.temp_dir, *self.extra_dirs]:
            shutil.rmtree(directory, ignore_errors=True)


def start_cluster(
    head_cpus: int = 1, head_resources: str = "{}", attempts: int = 3
) -> LocalCluster:
    """A head node on free ports. A port picked free can be taken by another process before
    Ray binds it (the test session's own Ray workers start and stop meanwhile), and the head
    then exits: such a start is retried on fresh ports, up to ``attempts`` times."""
    errors: list[str] = []
    for _ in range(attempts):
        cluster, error = _start_head(head_cpus, head_resources)
        if cluster is not None:
            return cluster
        errors.append(error)
    raise RuntimeError(
        f"ray start --head did not come up in {attempts} tries:\n" + "\n".join(errors)
    )


def _start_head(head_cpus: int, head_resources: str) -> tuple[LocalCluster | None, str]:
    temp_dir = tempfile.mkdtemp(prefix="rsc", dir="/tmp")  # Ray's socket paths must be short
    port, dashboard = free_port(), free_port()
    log_path = Path(tempfile.mkstemp(prefix="rsc-head-", suffix=".log")[1])
    with open(log_path, "w") as log:
        head = subprocess.Popen(
            [
                str(BIN / "ray"),
                "start",
                "--head",
                "--block",
                f"--port={port}",
                f"--dashboard-port={dashboard}",
                f"--num-cpus={head_cpus}",
                f"--resources={head_resources}",
                "--include-dashboard=true",
                "--disable-usage-stats",
                f"--temp-dir={temp_dir}",
                f"--ray-client-server-port={free_port()}",
                *_node_ports(),
            ],
            env=_env(),
            start_new_session=True,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    cluster = LocalCluster(f"127.0.0.1:{port}", f"http://127.0.0.1:{dashboard}", temp_dir, head)

    def failed(why: str) -> tuple[None, str]:
        cluster.shutdown()
        tail = log_path.read_text(errors="replace")[-3000:]
        log_path.unlink(missing_ok=True)
        return None, f"{why} (exit code {head.poll()}); its output ended:\n{tail}"

    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{cluster.dashboard}/api/version", timeout=2):
                break
        except OSError:
            if head.poll() is not None or time.monotonic() > deadline:
                return failed("the head's dashboard never answered")
            time.sleep(0.5)
    # The dashboard answers before the head's job agent has registered; jobs need the agent.
    from ray._raylet import GcsClient

    gcs = GcsClient(address=cluster.gcs_address)
    while not gcs.internal_kv_keys(
        b"DASHBOARD_AGENT_ADDR_NODE_ID_PREFIX:", namespace=b"dashboard"
    ):
        if head.poll() is not None or time.monotonic() > deadline:
            return failed(
                f"the head node's job agent did not register (see {temp_dir}/session_latest/"
                "logs/dashboard_agent.log)"
            )
        time.sleep(0.5)
    log_path.unlink(missing_ok=True)
    return cluster, ""


def job_env(cluster: LocalCluster) -> dict[str, str]:
    return {**_env(), "RAY_ADDRESS": cluster.dashboard}
