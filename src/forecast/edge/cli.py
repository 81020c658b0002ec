"""Command line ``forecast``: the edge where settings are read, inputs checked and flows started.

Every problem ends in one line on stderr naming the file, brand, option or URL to fix
(exit code 2: fix the command or a config; 1: the data or the warehouse said no). Prefect's
own log goes to ``<PREFECT_HOME>/forecast.log`` unless ``--verbose``.
"""

from __future__ import annotations

import importlib
import json
import sys
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
from forecast.edge.checks import InputProblem, check_launches, check_something_to_forecast
from forecast.inputs.calendar import week_start
from forecast.inputs.config import ConfigError, brand_json_schema
from forecast.inputs.ingest import IngestError, check_date_format, check_file
from forecast.request import RequestError, RunRequest, Workspace, settings_for

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
VerboseOpt = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show Prefect's log (else in PREFECT_HOME).")
]


def _fail(message: str, code: int = 1) -> NoReturn:
    """One red line on stderr, then exit with ``code``."""
    err.print(f"[red]{escape(message)}[/]")
    raise typer.Exit(code)


def _workspace(warehouse_path: Path | None, config_dir: Path | None) -> Workspace:
    """Settings and every brand config, or every config problem listed and exit code 2."""
    try:
        return Workspace.load(warehouse_path, config_dir)
    except ConfigError as exc:
        folder = settings_for(warehouse_path, config_dir).config_dir
        err.print(f"[bold red]Invalid brand configuration[/] in {escape(str(folder))}:")
        for problem in exc.problems:
            err.print(f"  • {escape(problem)}")
        raise typer.Exit(2) from exc


def _run_flow(target: str, failure: str, db: Path, verbose: bool, **params: Any) -> Any:
    """Run ``module:flow`` in-process with ``params``; returns what the flow returned.

    Prefect is configured (its home beside the warehouse ``db``) and imported only here,
    after every input was checked. A failed run prints ``failure`` and its error as one
    line (exit code 1).
    """
    home = prefect_env.configure(db)
    log = home / "forecast.log"
    module, name = target.split(":")
    flow_fn = getattr(importlib.import_module(module), name)
    try:
        # Logs stay in the file until the API is stopped: draining Prefect's queues logs too.
        with prefect_env.flow_logs(log, verbose), prefect_env.flow_api(home):
            state = flow_fn(**params, return_state=True)
    except prefect_env.PrefectUnavailable as exc:
        _fail(str(exc))
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        known = (warehouse.WarehouseError, IngestError, ConfigError, ValueError)
        reason = str(summary) if isinstance(summary, known) else repr(summary)
        _fail(f"{failure}: {reason}" + ("" if verbose else f" (Prefect log: {log})"))
    return summary


def _read(fn: Any, *args: Any) -> Any:
    """A warehouse read; its error becomes one red line and exit code 1."""
    try:
        return fn(*args)
    except warehouse.WarehouseError as exc:
        _fail(str(exc))


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _last_complete_week() -> date:
    return week_start(date.today()) - timedelta(weeks=1)


def _print_frame(frame: pl.DataFrame, title: str | None = None) -> None:
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


@app.command()
def generate(
    end: Annotated[
        datetime | None, typer.Option(formats=ISO, help="Last week; default last complete week.")
    ] = None,
    start: Annotated[datetime, typer.Option(formats=ISO, help="First week.")] = datetime(
        2023, 1, 2
    ),
    seed: Annotated[int, typer.Option(min=0, help="Random seed.")] = 0,
    scale: Annotated[
        float, typer.Option(min=0.01, max=1000, help="Multiply every brand's SKU count.")
    ] = 1.0,
    brand: BrandOpt = None,
    replace_real: Annotated[
        bool,
        typer.Option(
            "--replace-real", help="Delete the chosen brands' ingested (real) sales to do it."
        ),
    ] = False,
    warehouse_path: WarehouseOpt = None,
    config_dir: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Generate synthetic sales for every brand config (or --brand) into the warehouse.

    A brand that holds ingested sales is refused, unless --replace-real.
    """
    workspace = _workspace(warehouse_path, config_dir)
    try:
        chosen = workspace.select(brand)
    except RequestError as exc:
        _fail(str(exc), 2)
    last = _day(end) or _last_complete_week()
    if last < start.date():
        _fail(f"--end {last} is before --start {start.date()}", 2)
    real = _read(warehouse.real_sales, workspace.warehouse, list(chosen))
    if real and not replace_real:
        _fail(f"{workspace.warehouse}: {warehouse.real_sales_message(real)}", 2)
    with console.status("Generating synthetic sales…"):
        summary = _run_flow(
            "flows.generate:generate_sales_flow",
            "generation failed",
            workspace.warehouse,
            verbose,
            warehouse_path=str(workspace.warehouse),
            config_dir=str(workspace.config_dir),
            end=last,
            start=start.date(),
            seed=seed,
            scale=scale,
            brands=brand,
            replace_real=replace_real,
        )
    console.print(
        f"[green]sales written[/]: {summary['rows']:,} rows, {summary['series']:,} series, "
        f"{summary['brands']} brands, {summary['start']} → {summary['end']} "
        f"in {workspace.warehouse}"
    )


@app.command()
def run(
    as_of: Annotated[
        datetime | None,
        typer.Option("--as-of", formats=ISO, help="Forecast origin; default last sales week."),
    ] = None,
    brand: BrandOpt = None,
    pooling: Annotated[Pooling, typer.Option(help="Partial pooling, or an extreme.")] = (
        Pooling.partial
    ),
    n_jobs: Annotated[
        int, typer.Option(min=1, max=64, help="statsforecast processes per brand.")
    ] = 1,
    warehouse_path: WarehouseOpt = None,
    config_dir: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run the forecast flow: priors, backtests, fits; publish forecasts to the warehouse."""
    workspace = _workspace(warehouse_path, config_dir)
    try:
        request = RunRequest.resolve(workspace, _day(as_of), brand, pooling.value, n_jobs)
        check_launches(request.brands, warehouse.first_sales(workspace.warehouse))
        check_something_to_forecast(request.brands, request.as_of)
    except (RequestError, InputProblem) as exc:
        _fail(str(exc), getattr(exc, "code", 2))
    except warehouse.WarehouseError as exc:
        _fail(str(exc))
    with console.status("Forecasting (estimate → pool → backtest → fit → publish)…"):
        summary = _run_flow(
            "flows.forecast:forecast_flow",
            "run failed",
            workspace.warehouse,
            verbose,
            **request.parameters(),
        )
    colour = {"succeeded": "green", "partial": "yellow"}.get(summary.status, "red")
    console.print(
        f"[{colour}]run {summary.run_id} {summary.status}[/]: {summary.brands} brands, "
        f"{summary.n_series:,} series, {summary.rows['forecasts']:,} forecast rows "
        f"in {summary.seconds:.1f} s"
    )
    if summary.message:
        err.print(f"{escape(summary.message)} — see `forecast status`")
    raise typer.Exit(0 if summary.status != "failed" else 1)


@app.command()
def ingest(
    file: Annotated[
        Path, typer.Argument(help="CSV or Parquet: brand, region, product, ds, units.")
    ],
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="ours=theirs column mapping, e.g. --map ds=week (repeatable)."),
    ] = None,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", formats=ISO, help="Refuse rows after this date.")
    ] = None,
    date_format: Annotated[
        str | None, typer.Option(help="strftime format of ds, e.g. %d/%m/%Y (default ISO).")
    ] = None,
    encoding: Annotated[
        str, typer.Option(help="Text encoding of a CSV file, e.g. latin-1.")
    ] = "utf-8",
    warehouse_path: WarehouseOpt = None,
    config_dir: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Load real weekly sales; refused rows go to rejected_sales with their reason."""
    workspace = _workspace(warehouse_path, config_dir)
    mapping = dict(item.split("=", 1) for item in map_ or [] if "=" in item)
    if len(mapping) != len(map_ or []):
        _fail("--map takes ours=theirs, e.g. --map ds=week_start", 2)
    try:
        check_date_format(date_format)
        check_file(file, mapping, encoding)
    except IngestError as exc:
        _fail(str(exc), 2)
    summary = _run_flow(
        "flows.ingest:ingest_flow",
        "nothing loaded",
        workspace.warehouse,
        verbose,
        warehouse_path=str(workspace.warehouse),
        config_dir=str(workspace.config_dir),
        path=str(file),
        mapping=mapping,
        as_of=_day(as_of),
        date_format=date_format,
        encoding=encoding,
    )
    console.print(
        f"[green]{escape(str(file))}[/]: {summary['rows']:,} rows read — "
        f"{summary['inserted']:,} new, {summary['updated']:,} updated, "
        f"{summary['unchanged']:,} unchanged, "
        f"[{'yellow' if summary['rejected'] else 'green'}]{summary['rejected']:,} refused[/]"
    )
    if summary["rejected"]:
        _print_frame(
            warehouse.refusal_summary(workspace.warehouse, summary["source"]),
            "refused rows (all of them are in rejected_sales)",
        )


@app.command()
def demo(
    warehouse_path: WarehouseOpt = None,
    config_dir: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Generate synthetic sales, then forecast every brand: the whole product in one go."""
    generate(
        end=None,
        start=datetime(2023, 1, 2),
        seed=0,
        scale=1.0,
        brand=None,
        replace_real=False,
        warehouse_path=warehouse_path,
        config_dir=config_dir,
        verbose=verbose,
    )
    try:
        run(
            as_of=None,
            brand=None,
            pooling=Pooling.partial,
            n_jobs=1,
            warehouse_path=warehouse_path,
            config_dir=config_dir,
            verbose=verbose,
        )
    except typer.Exit as done:
        if done.exit_code:
            raise
    db = settings_for(warehouse_path, config_dir).warehouse
    _print_frame(warehouse.latest_by_sector(db), "latest_forecasts by sector")
    console.print(f'Next: forecast sql "SELECT * FROM accuracy_by_sector"  (file: {db})')


@app.command()
def serve(
    api_url: Annotated[
        str | None,
        typer.Option(help="Prefect API [env PREFECT_API_URL, default http://127.0.0.1:4200/api]."),
    ] = None,
    every: Annotated[
        int | None,
        typer.Option(min=5, help="Also serve forecast/every-<n>s, an interval smoke test."),
    ] = None,
) -> None:
    """Start a local Prefect server if none answers, serve the deployments; Ctrl-C stops both."""
    prefect_env.configure(_workspace(None, None).warehouse)
    from forecast.edge.serve import DEFAULT_API_URL, exposure_warning
    from forecast.edge.serve import run as serve_deployments

    url = api_url or prefect_env.configured_api_url() or DEFAULT_API_URL
    warning = exposure_warning(url)
    if warning:
        err.print(f"[bold red]WARNING[/] {escape(warning)}")
    raise typer.Exit(serve_deployments(url, every))


@app.command("serve-deployments", hidden=True)
def serve_deployments_verb(
    every: Annotated[int | None, typer.Option(min=5)] = None,
) -> None:
    """The serving process `forecast serve` starts (against its PREFECT_API_URL)."""
    from flows.deployments import serve_all

    serve_all(every)


@app.command()
def status(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many runs.")] = 10,
    warehouse_path: WarehouseOpt = None,
) -> None:
    """Recent runs, and the brands of the latest one."""
    db = settings_for(warehouse_path).warehouse
    runs = _read(warehouse.recent_runs, db, limit)
    _print_frame(runs, f"recent runs in {db}")
    if runs.height:
        latest = runs["run_id"][0]
        _print_frame(_read(warehouse.brand_statuses, db, latest), f"brands of run {latest}")


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One read-only SELECT on the warehouse.")],
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    warehouse_path: WarehouseOpt = None,
) -> None:
    """One read-only query on the warehouse's tables and views (no files, no other database)."""
    db = settings_for(warehouse_path).warehouse
    frame = _read(warehouse.analyst_query, db, query)
    if fmt is Format.csv:
        sys.stdout.write(_flat(frame).write_csv())
    elif fmt is Format.json:
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, indent=1) + "\n")
    else:
        _print_frame(frame)


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """Nested columns (lists, structs, maps) as JSON text: CSV holds flat values only."""
    nested = [c for c, t in frame.schema.items() if t.is_nested()]
    return frame.with_columns(
        pl.Series(c, [json.dumps(v, default=str) for v in frame[c].to_list()], pl.String)
        for c in nested
    )


@app.command()
def schema(
    out: Annotated[Path, typer.Option(help="Where to write the JSON Schema.")] = Path(
        "config/brand.schema.json"
    ),
) -> None:
    """Write the JSON Schema of a brand file (for editor validation)."""
    out.write_text(json.dumps(brand_json_schema(), indent=2) + "\n")
    console.print(f"wrote {out}")


def main() -> None:
    """Console entry point: project errors become one clear line and exit code 1."""
    try:
        app()
    except warehouse.WarehouseError as exc:
        err.print(f"[red]{escape(str(exc))}[/]")
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
