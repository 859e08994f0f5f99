"""Drive the real dashboard in headless Chromium over the Chrome DevTools Protocol.

:func:`dashboard_server` starts ``make dashboard`` (or, when the Makefile has no such target, the
same ``streamlit run`` command line) on a free port of 127.0.0.1 and waits for Streamlit's health
endpoint; :class:`Browser` starts headless Chromium and talks CDP over a websocket (the
``websockets`` package already in the environment): navigate, wait for text, click like a
user (real mouse events at an element's centre), screenshot.

Screenshots for the docs (every page, a seeded store)::

    python -m tests.dashboards.seed /tmp/store --full
    python -m tests.dashboards.browser /tmp/store docs/dashboard
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "chromium", "chromium-browser",
                       "google-chrome")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--disable-dev-shm-usage", "--mute-audio")


def find_chromium() -> str | None:
    """Path of a Chromium binary, or None."""
    for c in CHROMIUM_CANDIDATES:
        p = shutil.which(c)
        if p:
            return p
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - localhost only
        return r.read().decode()


def _wait_http(url: str, deadline: float, proc: subprocess.Popen, what: str) -> str:
    last: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before answering {url}")
        try:
            return _get(url)
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
            time.sleep(0.3)
    raise TimeoutError(f"{what} did not answer {url} in time: {last}")


def dashboard_command(port: int) -> list[str]:
    """``make dashboard port=<port>`` when the Makefile has the target, else the same command line."""
    make = shutil.which("make")
    if make and (REPO / "Makefile").exists():
        dry = subprocess.run([make, "-n", "dashboard", f"port={port}"], cwd=REPO, capture_output=True, text=True)
        if dry.returncode == 0 and "streamlit" in dry.stdout:
            return [make, "--no-print-directory", "dashboard", f"port={port}"]
    return [str(REPO / ".venv" / "bin" / "streamlit"), "run", "dashboards/app.py", "--server.address", "127.0.0.1",
            "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false"]


@contextlib.contextmanager
def dashboard_server(env: dict[str, str], timeout: float = 120.0, log: Path | None = None) -> Iterator[str]:
    """Run the dashboard for the duration of the block; yields its base URL."""
    port = free_port()
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    proc = subprocess.Popen(dashboard_command(port), cwd=REPO, env={**os.environ, **env}, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{base}/_stcore/health", time.monotonic() + timeout, proc, "streamlit")
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the group we started (make + streamlit)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        if log:
            out.close()


class Browser:
    """Headless Chromium with one page, driven over CDP."""

    def __init__(self, width: int = 1500, height: int = 1100, timeout: float = 60.0):
        from websockets.sync.client import connect

        exe = find_chromium()
        if exe is None:
            raise FileNotFoundError("chromium not found (Debian: apt-get install -y chromium)")
        self.profile = tempfile.mkdtemp(prefix="syslab-chromium-")
        port = free_port()
        self.proc = subprocess.Popen([exe, *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}",
                                      f"--remote-debugging-port={port}", "--remote-debugging-address=127.0.0.1",
                                      f"--window-size={width},{height}", "about:blank"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + timeout
            _wait_http(f"http://127.0.0.1:{port}/json/version", deadline, self.proc, "chromium")
            target = None
            while target is None and time.monotonic() < deadline:
                target = next((t for t in json.loads(_get(f"http://127.0.0.1:{port}/json/list"))
                               if t.get("type") == "page"), None)
                time.sleep(0.2)
            if target is None:
                raise TimeoutError("chromium opened no page target")
            self.ws = connect(target["webSocketDebuggerUrl"], max_size=64 * 2**20, open_timeout=timeout)
        except BaseException:
            self.close()
            raise
        self.ids = itertools.count(1)
        self.timeout = timeout
        self.cmd("Page.enable")
        self.cmd("Runtime.enable")
        self.cmd("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                 mobile=False)

    # --- protocol ---------------------------------------------------------------------------------
    def cmd(self, method: str, **params: Any) -> dict:
        """Send one CDP command and return its result (events received meanwhile are dropped)."""
        mid = next(self.ids)
        self.ws.send(json.dumps({"id": mid, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"CDP {method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expr: str) -> Any:
        """Evaluate ``expr`` in the page and return its JSON value."""
        r = self.cmd("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"JS error in {expr[:80]!r}: {r['exceptionDetails'].get('text')}")
        return r.get("result", {}).get("value")

    # --- user-level actions -----------------------------------------------------------------------
    def goto(self, url: str) -> None:
        self.cmd("Page.navigate", url=url)

    def url(self) -> str:
        return self.js("location.href")

    def text(self) -> str:
        return self.js("document.body ? document.body.innerText : ''") or ""

    def idle(self) -> bool:
        """Streamlit finished running the script (no 'Running...' status widget, app rendered)."""
        return bool(self.js(
            "!!document.querySelector('[data-testid=\"stApp\"]') && "
            "!document.querySelector('[data-testid=\"stStatusWidget\"] [data-testid=\"stStatusWidgetRunningIcon\"]')"
            " && !document.querySelector('[data-testid=\"stSkeleton\"]')"
            " && document.querySelectorAll('[data-stale=\"true\"]').length === 0"))

    def wait_for(self, *texts: str, timeout: float | None = None, settle: float = 1.0) -> None:
        """Wait until every text is on the page and the script run is over."""
        deadline = time.monotonic() + (timeout or self.timeout)
        missing: list[str] = list(texts)
        while time.monotonic() < deadline:
            body = self.text()
            missing = [t for t in texts if t not in body]
            if not missing and self.idle():
                time.sleep(settle)
                if self.idle():
                    return
            time.sleep(0.3)
        raise TimeoutError(f"page {self.url()} never showed {missing!r}; it shows:\n{self.text()[:2000]}")

    def click(self, selector: str, text: str | None = None) -> None:
        """A real mouse click at the centre of the first element matching ``selector`` (and ``text``)."""
        find = (f"Array.from(document.querySelectorAll({json.dumps(selector)}))"
                f".filter(e => {json.dumps(text)} === null || e.innerText.trim() === {json.dumps(text)})[0]")
        self.js(f"(() => {{ const e = {find}; if (e) e.scrollIntoView({{block: 'center'}}); }})()")
        box = self.js(f"(() => {{ const e = {find}; if (!e) return null; const r = e.getBoundingClientRect();"
                      " return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        if box is None:
            raise LookupError(f"no element {selector!r} with text {text!r} on {self.url()}")
        x, y = box
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.cmd("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def exceptions(self) -> list[str]:
        """Texts of Streamlit exception elements on the page."""
        return self.js("Array.from(document.querySelectorAll('[data-testid=\"stException\"]'))"
                       ".map(e => e.innerText)") or []

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        """Save a PNG of the page (the whole scrollable app when ``full_page``)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            h = self.js("(() => { const m = document.querySelector('[data-testid=\"stMain\"]') || document.body;"
                        " return Math.max(m.scrollHeight, document.body.scrollHeight, window.innerHeight); })()")
            w = self.js("window.innerWidth")
            self.cmd("Emulation.setDeviceMetricsOverride", width=w, height=min(int(h), 8000), deviceScaleFactor=1,
                     mobile=False)
            time.sleep(1.0)
        data = self.cmd("Page.captureScreenshot", **params)["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        if full_page:
            self.cmd("Emulation.setDeviceMetricsOverride", width=w, height=1100, deviceScaleFactor=1, mobile=False)
        return path

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        if getattr(self, "proc", None) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def store_env(home: Path) -> dict[str, str]:
    """Environment of a dashboard reading the store seeded under ``home``."""
    return {"MLFLOW_TRACKING_URI": f"sqlite:///{Path(home) / 'mlflow.db'}", "SYSLAB_HOME": str(home),
            "SYSLAB_EXTRA_SYSTEMS": "tests.flows.toy_system", "PYTHONPATH": str(REPO)}


def _failed_flow(home: Path) -> str | None:
    """Run id of the newest flow run with failed jobs in the store at ``home`` (for the run-browser shot)."""
    from dashboards import store

    c, _ = store.open_store(f"sqlite:///{Path(home) / 'mlflow.db'}")
    flows = store.flows(c) if c is not None else None
    if flows is None or flows.empty:
        return None
    bad = flows[flows["n_failed"].fillna(0) > 0]
    return None if bad.empty else str(bad.iloc[0]["run_id"])


def docs_screenshots(home: Path, out: Path, systems: list[str]) -> list[Path]:
    """Every page of the dashboard over the store at ``home``, saved as PNGs under ``out``."""
    shots = []
    with dashboard_server(store_env(home)) as base, Browser() as b:
        b.goto(base + "/")
        b.wait_for("optimizers vs expert baselines", "· geomean", timeout=180)
        shots.append(b.screenshot(out / "overview.png"))
        failed = _failed_flow(home)
        b.goto(base + "/runs" + (f"?flow={failed}" if failed else ""))
        b.wait_for("Run browser", "Open a flow run", *(["jobs failed"] if failed else []), timeout=120)
        shots.append(b.screenshot(out / "run-browser.png"))
        for s in systems:
            b.goto(f"{base}/{s}")
            b.wait_for("Flow run", "Versus expert", timeout=180)
            shots.append(b.screenshot(out / f"{s}.png"))
            b.click('[role="tab"]', "Field plots")
            time.sleep(1.5)
            b.wait_for("Field plots", timeout=120)
            shots.append(b.screenshot(out / f"{s}-field-plots.png"))
            if b.exceptions():
                raise RuntimeError(f"{s}: exception on page: {b.exceptions()}")
    return shots


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: python -m tests.dashboards.browser STORE_DIR OUT_DIR [system ...]")
    home, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2])
    names = sys.argv[3:] or ["mapper", "precision", "hag", "layerwise", "moe"]
    for p in docs_screenshots(home, out, names):
        print(p)
