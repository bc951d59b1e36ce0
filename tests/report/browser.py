"""Opens a report page in headless Chromium through the DevTools protocol (over aiohttp's
websocket client, which Ray's dashboard already installs) and says what the browser saw:
console errors and uncaught exceptions, requests that left the file, the ``data-plot``
elements in the DOM, the time until the first frame was painted, and a screenshot.

Chromium is Debian's ``chromium`` (``/usr/bin/chromium``; ``.ci/run`` installs it). Tests
skip without it unless ``RAYSEARCH_REQUIRE_CHROMIUM=1``, which makes them fail instead.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("RAYSEARCH_CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1280,900",
    "--remote-debugging-port=0",
]


def require_chromium() -> None:
    """Skips the calling test without Chromium (fails under RAYSEARCH_REQUIRE_CHROMIUM=1)."""
    if os.path.exists(CHROMIUM):
        return
    message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if os.environ.get("RAYSEARCH_REQUIRE_CHROMIUM") == "1":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class PageView:
    """What the browser saw of a page."""

    errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    paint_ms: float = float("nan")
    load_ms: float = float("nan")
    #: how long the full-page screenshot took (it paints every plot, not just the first screen)
    screenshot_ms: float = float("nan")
    title: str = ""
    screenshot: Path | None = None


class _DevTools:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        await self.ws.send_str(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads((await self.ws.receive()).data)
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            self.events.append(msg)

    async def wait_for(self, method: str, timeout: float) -> None:
        if any(e.get("method") == method for e in self.events):
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads((await self.ws.receive(timeout=deadline - time.monotonic())).data)
            self.events.append(msg)
            if msg.get("method") == method:
                return
        raise TimeoutError(method)


_PAINTED = (
    "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r({"
    "paint: performance.now(),"
    "load: performance.getEntriesByType('navigation')[0].loadEventEnd,"
    "plots: [...document.querySelectorAll('[data-plot]')].map(e => e.dataset.plot),"
    "title: document.title}))))"
)


async def _view(port: int, url: str, shot: Path | None, timeout: float) -> PageView:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
            targets = await response.json(content_type=None)
        page = next(t for t in targets if t.get("type") == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            dt = _DevTools(ws)
            for domain in ("Page", "Runtime", "Log", "Network"):
                await dt.call(f"{domain}.enable")
            await dt.call("Page.navigate", url=url)
            await dt.wait_for("Page.loadEventFired", timeout)
            done = await dt.call(
                "Runtime.evaluate", expression=_PAINTED, awaitPromise=True, returnByValue=True
            )
            info = done["result"]["value"]
            view = PageView(
                plots=list(info["plots"]),
                paint_ms=float(info["paint"]),
                load_ms=float(info["load"]),
                title=str(info["title"]),
            )
            if shot is not None:
                size = (await dt.call("Page.getLayoutMetrics"))["cssContentSize"]
                clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"]}
                started = time.perf_counter()
                data = await dt.call(
                    "Page.captureScreenshot",
                    format="png",
                    captureBeyondViewport=True,
                    clip={**clip, "scale": 1},
                )
                view.screenshot_ms = 1000 * (time.perf_counter() - started)
                shot.write_bytes(base64.b64decode(data["data"]))
                view.screenshot = shot
            _collect(dt.events, view)
            return view


def _collect(events: list[dict[str, Any]], view: PageView) -> None:
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            view.errors.append(str(params.get("exceptionDetails", {}).get("text")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            view.errors.append(str([a.get("value") for a in params.get("args", [])]))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            view.errors.append(str(params["entry"].get("text")))
        elif method == "Network.requestWillBeSent":
            url = str(params.get("request", {}).get("url", ""))
            if not url.startswith(("file:", "data:", "about:")):
                view.external_requests.append(url)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ends the browser this module started and its helper processes (its own session)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(10)
            return
        except subprocess.TimeoutExpired:
            continue


def open_page(path: Path, screenshot: Path | None = None, timeout: float = 60.0) -> PageView:
    """Loads ``path`` in a fresh headless Chromium and returns what it saw."""
    require_chromium()
    profile = tempfile.mkdtemp(prefix="raysearch-chromium-")
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its helper processes end with it (see _stop)
    )
    try:
        port_file = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start (exit {proc.poll()})")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        url = Path(path).resolve().as_uri()
        return asyncio.run(_view(port, url, screenshot, timeout))
    finally:
        _stop(proc)
        for _ in range(20):  # a helper may still be writing to the profile for a moment
            try:
                shutil.rmtree(profile)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)
        shutil.rmtree(profile, ignore_errors=True)
