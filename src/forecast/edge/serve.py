"""``forecast serve``: a local Prefect server if none answers, the deployments, an orderly stop.

Prefect 3 runs schedules and ``prefect deployment run`` only against a long-running server
with a process serving the deployments. This starts both (the server only when nothing
answers at the API URL), keeps their state under the project's ``.prefect/``, and on Ctrl-C
or SIGTERM stops the serving process *before* the server — the other order leaves the
serving process hanging on shutdown. Children run in their own sessions so a terminal's
Ctrl-C reaches this process only, which then stops them in that order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType
from urllib.parse import urlparse

DEFAULT_API_URL = "http://127.0.0.1:4200/api"
_STOP_TIMEOUT_S = 30.0


def api_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """True when a Prefect API answers its health check at ``api_url``."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as r:
            return bool(r.status == 200)
    except OSError:
        return False


def _wait_healthy(api_url: str, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not api_healthy(api_url):
        if server.poll() is not None:
            raise RuntimeError(f"Prefect server exited with code {server.returncode}; see its log")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Prefect server did not answer at {api_url} within {timeout:.0f} s")
        time.sleep(0.5)


def start_server(api_url: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``prefect server start`` bound to the URL's host and port, logging to ``log``."""
    url = urlparse(api_url)
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "prefect",
        "server",
        "start",
        "--host",
        url.hostname or "127.0.0.1",
        "--port",
        str(url.port or 4200),
    ]
    with open(log, "ab") as out:
        return subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(proc: subprocess.Popen[bytes] | None, sig: int, name: str) -> None:
    if proc is None or proc.poll() is not None:
        return
    print(f"stopping {name}…", flush=True)
    proc.send_signal(sig)
    try:
        proc.wait(_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(
    api_url: str = DEFAULT_API_URL, every: int | None = None, startup_timeout: float = 120
) -> int:
    """Serve until interrupted; returns the serving process's exit code (0 on a clean stop)."""
    home = Path(os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect")))
    env = {**os.environ, "PREFECT_API_URL": api_url}
    server = None
    if api_healthy(api_url):
        print(f"using the Prefect server already answering at {api_url}", flush=True)
    else:
        print(f"starting a Prefect server at {api_url} (log: {home / 'server.log'})…", flush=True)
        server = start_server(api_url, env, home / "server.log")
        _wait_healthy(api_url, server, startup_timeout)
    stop = False

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    cmd = [sys.executable, "-m", "flows.deployments", *(["--every", str(every)] if every else [])]
    serving = subprocess.Popen(cmd, env=env, start_new_session=True)
    print(
        f"serving deployments against {api_url}; in another shell:\n"
        f"  export PREFECT_API_URL={api_url}\n"
        "  prefect deployment run 'forecast/refresh' -p as_of=2026-06-01 --watch",
        flush=True,
    )
    try:
        while not stop and serving.poll() is None:
            time.sleep(0.2)
    finally:
        _stop(serving, signal.SIGINT, "serving deployments")
        _stop(server, signal.SIGTERM, "Prefect server")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if stop else (serving.returncode or 0)
