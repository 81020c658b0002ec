"""The ``forecast`` Typer app: its consoles, shared option types and helpers for every verb.

Every problem ends in one line on stderr naming the file, brand, option or URL to fix
(exit code 2: fix the command or a config; 1: the data or the warehouse said no). Prefect's
own log goes to ``<PREFECT_HOME>/forecast.log`` unless ``--verbose``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import polars as pl
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from forecast import warehouse
from forecast.edge import prefect_env
from forecast.edge.progress_bars import phase_bars
from forecast.inputs.calendar import week_start
from forecast.inputs.config import ConfigError
from forecast.inputs.files import IngestError
from forecast.request import Workspace, settings_for

app = typer.Typer(
    help="maison-forecast: multi-brand demand forecasts with pooled cross-brand priors.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console(soft_wrap=True)  # one result, one line: scripts grep it
err = Console(stderr=True, soft_wrap=True)


class Pooling(StrEnum):
    """``--pooling``: the vocabulary's pooling modes (a test keeps the two equal)."""

    partial = "partial"
    none = "none"
    full = "full"


class WeekLabel(StrEnum):
    """``--week-label``: the vocabulary's ways a file dates its weeks (a test keeps them equal)."""

    monday = "monday"
    start = "start"
    end = "end"


class Format(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


ISO = ["%Y-%m-%d"]
WarehouseOpt = Annotated[
    Path | None, typer.Option("--warehouse", help="DuckDB file [env FORECAST_WAREHOUSE].")
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config-dir", help="Brand configs [env FORECAST_CONFIG_DIR].")
]
BrandOpt = Annotated[
    list[str] | None, typer.Option("--brand", "-b", help="Only this brand (repeatable).")
]
MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", help="ours=theirs column mapping, e.g. --map ds=week (repeatable)."),
]
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show Prefect's log (else in PREFECT_HOME).")
]


def fail(message: str, code: int = 1) -> NoReturn:
    """One red line on stderr, then exit with ``code``."""
    err.print(f"[red]{escape(message)}[/]")
    raise typer.Exit(code)


def mapping_of(items: list[str] | None) -> dict[str, str]:
    """``--map ours=theirs`` options as a dict; a malformed one fails (exit code 2)."""
    mapping = dict(item.split("=", 1) for item in items or [] if "=" in item)
    if len(mapping) != len(items or []):
        fail("--map takes ours=theirs, e.g. --map ds=week_start", 2)
    return mapping


def load_workspace(warehouse_path: Path | None, config_dir: Path | None) -> Workspace:
    """Settings and every brand config, or every config problem listed and exit code 2."""
    try:
        return Workspace.load(warehouse_path, config_dir)
    except ConfigError as exc:
        folder = settings_for(warehouse_path, config_dir).config_dir
        err.print(f"[bold red]Invalid brand configuration[/] in {escape(str(folder))}:")
        for problem in exc.problems:
            err.print(f"  • {escape(problem)}")
        raise typer.Exit(2) from exc


def run_flow(
    target: str,
    failure: str,
    db: Path,
    verbose: bool,
    params: dict[str, Any],
    bars: bool = False,
) -> Any:
    """Run ``module:flow`` in-process with ``params``; returns what the flow returned.

    Prefect is configured (its home beside the warehouse ``db``) and imported only here,
    after every input was checked. ``bars``: draw the flow's progress as bars. A failed
    run prints ``failure`` and its error as one line (exit code 1).
    """
    try:
        home = prefect_env.configure(db)
    except prefect_env.PrefectUnavailable as exc:
        fail(str(exc))
    log = home / "forecast.log"
    module, name = target.split(":")
    try:
        # Logs stay in the file until the API is stopped: draining Prefect's queues logs too.
        # The flow's module (the engine, Prefect) is imported while the API starts.
        with prefect_env.flow_logs(log, verbose), prefect_env.flow_api(home, [module]):
            flow_fn = getattr(importlib.import_module(module), name)
            with phase_bars(console) if bars else nullcontext():
                state = flow_fn(**params, return_state=True)
    except prefect_env.PrefectUnavailable as exc:
        fail(str(exc))
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        known = (warehouse.WarehouseError, IngestError, ConfigError, ValueError)
        reason = str(summary) if isinstance(summary, known) else repr(summary)
        fail(f"{failure}: {reason}" + ("" if verbose else f" (Prefect log: {log})"))
    return summary


@contextmanager
def one_api(db: Path, flows: Sequence[str] = ()) -> Iterator[None]:
    """One Prefect API for every flow the block runs (alone, each flow starts its own);
    ``flows`` (``module:flow``) are imported while it starts."""
    modules = [target.split(":")[0] for target in flows]
    try:
        with prefect_env.flow_api(prefect_env.configure(db), modules):
            yield
    except prefect_env.PrefectUnavailable as exc:
        fail(str(exc))


def read(fn: Any, *args: Any) -> Any:
    """A warehouse read; its error becomes one red line and exit code 1."""
    try:
        return fn(*args)
    except warehouse.WarehouseError as exc:
        fail(str(exc))


def day(value: datetime | None) -> date | None:
    return value.date() if value else None


def last_complete_week() -> date:
    return week_start(date.today()) - timedelta(weeks=1)


def print_frame(frame: pl.DataFrame, title: str | None = None) -> None:
    table = Table(title=title, show_lines=False)
    for col in frame.columns:
        table.add_column(col, overflow="fold")
    for row in frame.iter_rows():
        table.add_row(
            *(
                "" if v is None else f"{v:.4g}" if isinstance(v, float) else escape(str(v))
                for v in row
            )
        )
    console.print(table)
