"""Prefect as the product needs it, from any folder: settings, home, an API that dies with us.

Prefect reads ``prefect.toml`` only from the current directory and puts its home in
``~/.prefect``; its temporary API server is a child process that outlives a killed parent.
So the edge sets the settings itself (before Prefect is imported), keeps Prefect's home
beside the warehouse file, and starts the embedded API as a child that the kernel kills
when this process dies (``PR_SET_PDEATHSIG``), however it dies.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from forecast.engine import workers

STARTUP_TIMEOUT_S = 120  # the API needs more than Prefect's default 20 s on two loaded cores


class PrefectUnavailable(RuntimeError):
    """No Prefect API to run flows against; the message says which URL and what to do."""


def configure(warehouse: Path) -> Path:
    """Default Prefect's settings for the product (the user's environment still wins).

    Returns:
        Prefect's home: ``$PREFECT_HOME``, else ``.prefect`` beside the warehouse file.

    Raises:
        PrefectUnavailable: The home cannot be created (a read-only folder), saying where
            and how to point it elsewhere.
    """
    home = os.environ.setdefault("PREFECT_HOME", str(Path(warehouse).resolve().parent / ".prefect"))
    os.environ.setdefault(
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", str(STARTUP_TIMEOUT_S)
    )
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    try:
        Path(home).mkdir(parents=True, exist_ok=True)  # Prefect warns at import when it cannot
    except OSError as exc:
        raise PrefectUnavailable(
            f"cannot create Prefect's home {home}: {exc.strerror or exc}; set PREFECT_HOME "
            "to a writable folder (the warehouse folder must be writable to run or ingest)"
        ) from exc
    return Path(home)


def die_with_parent() -> None:
    """``preexec_fn`` of every child we start: SIGKILL it when its parent dies (Linux)."""
    os.setsid()  # a terminal's Ctrl-C reaches the parent only, which stops children in order
    workers.die_with_parent()


def api_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """True when a Prefect API answers its health check at ``api_url``."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout) as r:
            return bool(r.status == 200)
    except (OSError, ValueError):
        return False


def wait_healthy(api_url: str, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    """Wait until the API started as ``proc`` answers.

    Raises:
        PrefectUnavailable: The process exited or did not answer within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    while not api_healthy(api_url):
        if proc.poll() is not None:
            raise PrefectUnavailable(f"Prefect API exited with code {proc.returncode}; see {log}")
        if time.monotonic() > deadline:
            raise PrefectUnavailable(f"Prefect API gave no answer at {api_url} in {timeout:.0f} s")
        time.sleep(0.2)


def configured_api_url() -> str | None:
    """The API URL Prefect would use: its live settings once imported, else the environment."""
    if "prefect" in sys.modules:
        from prefect.settings import get_current_settings

        return get_current_settings().api.url
    return os.environ.get("PREFECT_API_URL") or None


@contextmanager
def flow_api(home: Path, preload: Sequence[str] = ()) -> Iterator[str]:
    """The Prefect API flows run against while the block runs.

    A configured ``PREFECT_API_URL`` must answer; otherwise an embedded API is started
    for the block (state in ``home``) and stopped after it — or killed with this process.
    ``preload``: modules to import before the block (the flows it runs); an embedded API
    boots meanwhile, in its own process (seconds each on two cores).

    Raises:
        PrefectUnavailable: The configured URL does not answer, or the embedded API
            does not start.
    """
    configured = configured_api_url()
    if configured:
        if not api_healthy(configured, timeout=5.0):
            raise PrefectUnavailable(
                f"PREFECT_API_URL={configured}: no Prefect API answers there — unset "
                "PREFECT_API_URL to use the embedded API, or start one with `forecast serve`"
            )
        _import(preload)
        yield configured
        return
    with _embedded_api(home, preload) as url:
        yield url


def _import(modules: Sequence[str]) -> None:
    for module in modules:
        importlib.import_module(module)


@contextmanager
def _embedded_api(home: Path, preload: Sequence[str]) -> Iterator[str]:
    """A private Prefect API on a free loopback port, for this process only; ``preload``
    is imported while it starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    home.mkdir(parents=True, exist_ok=True)
    log = home / "api.log"
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"]
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1"}
    env["PREFECT__SERVER_FINAL"] = "1"  # as Prefect's own temporary server: no other app here
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent
        )
    try:
        _import(preload)
        wait_healthy(url, proc, STARTUP_TIMEOUT_S, log)
        with _api_url_set(url):
            try:
                yield url
            finally:
                _drain_prefect_workers()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _drain_prefect_workers() -> None:
    """Send Prefect's queued logs and events while the API still answers."""
    if "prefect" not in sys.modules:
        return
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=10)


@contextmanager
def _api_url_set(url: str) -> Iterator[None]:
    """Point Prefect at ``url``: the environment before import, its settings after."""
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        if "prefect" in sys.modules:
            from prefect.settings import PREFECT_API_URL, temporary_settings

            with temporary_settings(updates={PREFECT_API_URL: url}):
                yield
        else:
            yield
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


@contextmanager
def flow_logs(log_file: Path, verbose: bool) -> Iterator[None]:
    """Send Prefect's (and Python warnings') console log to ``log_file`` unless ``verbose``."""
    if verbose:
        yield
        return
    import prefect.main  # noqa: F401  (sets up Prefect's console handlers, swapped below)

    log_file.parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(log_file, encoding="utf-8")
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    swapped = []
    for logger in [
        logging.getLogger(),
        *map(logging.getLogger, list(logging.root.manager.loggerDict)),
    ]:
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and not isinstance(
                handler, logging.FileHandler
            ):
                logger.removeHandler(handler)
                logger.addHandler(to_file)
                swapped.append((logger, handler))
    logging.captureWarnings(True)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        for logger, handler in swapped:
            logger.removeHandler(to_file)
            logger.addHandler(handler)
        to_file.close()
