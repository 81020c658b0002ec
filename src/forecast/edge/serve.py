"""``forecast serve``: a local Prefect server if none answers, the deployments, an orderly stop.

Prefect 3 runs schedules and ``prefect deployment run`` only against a long-running server
with a process serving the deployments. This starts both (the server only when nothing
answers at the API URL), keeps their state in Prefect's home (beside the warehouse), and on
Ctrl-C or SIGTERM stops the serving process *before* the server — the other order leaves
the serving process hanging on shutdown. Children run in their own sessions so a
terminal's Ctrl-C reaches this process only, which then stops them in that order; the
kernel kills them if this process dies without stopping them.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from urllib.parse import urlparse

from forecast.edge.prefect_env import api_healthy, die_with_parent, wait_healthy

DEFAULT_API_URL = "http://127.0.0.1:4200/api"
_STOP_TIMEOUT_S = 30.0


def exposure_warning(api_url: str) -> str | None:
    """A warning when the API would listen beyond this machine (it has no authentication)."""
    host = urlparse(api_url).hostname or "127.0.0.1"
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: it may resolve to a public address
    return (
        f"the Prefect server at {api_url} listens on {host}, reachable from the network, and "
        "has no authentication: anyone who reaches it can start, change or delete runs. Use "
        "127.0.0.1 unless that is what you want."
    )


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
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
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
    home = Path(os.environ["PREFECT_HOME"])  # set by prefect_env.configure
    env = {**os.environ, "PREFECT_API_URL": api_url}
    server = None
    if api_healthy(api_url):
        print(f"using the Prefect server already answering at {api_url}", flush=True)
    else:
        print(f"starting a Prefect server at {api_url} (log: {home / 'server.log'})…", flush=True)
        server = start_server(api_url, env, home / "server.log")
        wait_healthy(api_url, server, startup_timeout, home / "server.log")
    stop = False

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stop
        stop = True

    previous = {s: signal.signal(s, _on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    cmd = [sys.executable, "-m", "forecast.edge.cli", "serve-deployments"]
    serving = subprocess.Popen(
        [*cmd, *(["--every", str(every)] if every else [])], env=env, preexec_fn=die_with_parent
    )
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
