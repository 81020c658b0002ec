"""How far a run is: a Prefect progress artifact, a log line per brand, and local listeners.

A listener is what the CLI draws its progress bars with when it runs a flow in its own
process; a deployment's run (no CLI in front of it) shows the artifact in Prefect's UI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact

# (phase, steps done, steps in the phase, the step just done and how it ended)
Listener = Callable[[str, int, int, str], None]
# Process-wide on purpose: a flow's parameters must be data, so a caller in this process
# cannot hand the flow a callback; it registers one here for the block (``listening``).
_listeners: list[Listener] = []


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call ``listener`` on every step of the runs of this process while the block runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


class Progress:
    """One phase of a run over its brands (e.g. ``weekly: backtests and fits``) or other
    steps (``unit``)."""

    def __init__(
        self, phase: str, total: int, artifact: str | None = None, unit: str = "brands"
    ) -> None:
        """Announce the phase (0 done); ``artifact``: key of a progress artifact to keep."""
        self.phase, self.total, self.done, self.unit = phase, total, 0, unit
        self.artifact: UUID | None = None
        if artifact:
            made = create_progress_artifact(0.0, key=artifact, description=phase)
            assert isinstance(made, UUID)  # a sync flow gets the id, not a coroutine
            self.artifact = made
        self._tell("")

    def advance(self, brand: str, status: str) -> None:
        """One more brand (or step) done, ``status`` saying how (``succeeded``, ``failed`` …)."""
        self.done += 1
        if self.artifact:
            update_progress_artifact(self.artifact, 100.0 * self.done / max(self.total, 1))
        print(f"{self.phase}: {self.done}/{self.total} {self.unit}, {brand} {status}")
        self._tell(f"{brand} {status}")

    def _tell(self, last: str) -> None:
        for listener in list(_listeners):
            listener(self.phase, self.done, self.total, last)
