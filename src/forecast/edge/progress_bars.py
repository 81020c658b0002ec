"""Progress bars on the terminal for a flow run in this process, one per phase of the run."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


@contextmanager
def phase_bars(console: Console) -> Iterator[None]:
    """Draw the steps the flows of this process report (see ``flows.progress``) as bars.

    Imports ``flows.progress`` (and so Prefect): call it once Prefect is configured.
    """
    from flows.progress import listening

    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[last]}"),
        console=console,
    )
    rows: dict[str, TaskID] = {}

    def show(phase: str, done: int, total: int, last: str) -> None:
        if phase not in rows:
            rows[phase] = bars.add_task(phase, total=total, last="")
        bars.update(rows[phase], completed=done, last=last)

    with bars, listening(show):
        yield
