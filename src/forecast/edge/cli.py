"""Command line ``forecast``: the edge where settings are read and flows are started."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, cast

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from forecast import warehouse
from forecast.inputs.calendar import week_start
from forecast.inputs.config import ConfigError, brand_json_schema
from forecast.request import RequestError, RunRequest, Workspace, settings_for
from forecast.vocabulary import Pooling

app = typer.Typer(
    help="maison-forecast: multi-brand demand forecasts with pooled cross-brand priors.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True, soft_wrap=True)

WarehouseOpt = Annotated[
    Path | None, typer.Option("--warehouse", help="DuckDB file [env FORECAST_WAREHOUSE].")
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config-dir", help="Brand configs [env FORECAST_CONFIG_DIR].")
]
BrandOpt = Annotated[
    list[str] | None, typer.Option("--brand", "-b", help="Only this brand (repeatable).")
]


def _workspace(warehouse_path: Path | None, config_dir: Path | None) -> Workspace:
    """Settings and every brand config, or every config problem listed and exit code 2."""
    try:
        return Workspace.load(warehouse_path, config_dir)
    except ConfigError as exc:
        folder = settings_for(warehouse_path, config_dir).config_dir
        err.print(f"[bold red]Invalid brand configuration[/] in {folder}:")
        for problem in exc.problems:
            err.print(f"  • {problem}")
        raise typer.Exit(2) from exc


def _prefect_defaults() -> None:
    """Keep Prefect's state in the project and off the network unless told otherwise."""
    os.environ.setdefault("PREFECT_HOME", str(Path.cwd() / ".prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _run_flow(flow_fn: Any, failure: str, **params: Any) -> Any:
    """Run a flow in-process; a failed run prints ``failure`` and its error, exit code 1."""
    state = flow_fn(**params, return_state=True)
    summary = state.result(raise_on_failure=False)
    if isinstance(summary, BaseException):
        err.print(f"[bold red]{failure}[/]: {summary}")
        raise typer.Exit(1)
    return summary


def _read(fn: Any, *args: Any) -> pl.DataFrame:
    """A warehouse read; its error becomes one red line and exit code 1."""
    try:
        return fn(*args)
    except warehouse.WarehouseError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc


def _iso_date(value: str | None, option: str) -> date | None:
    """An ISO date option, or a usage error naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date like 2026-06-01", param_hint=option
        ) from None


def _last_complete_week() -> date:
    return week_start(date.today()) - timedelta(weeks=1)


def _print_frame(frame: pl.DataFrame, title: str | None = None) -> None:
    table = Table(title=title, show_lines=False)
    for col in frame.columns:
        table.add_column(col, overflow="fold")
    for row in frame.iter_rows():
        table.add_row(
            *("" if v is None else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row)
        )
    console.print(table)


@app.command()
def generate(
    end: Annotated[
        str | None, typer.Option(help="Last week (ISO date); default last complete week.")
    ] = None,
    start: Annotated[str, typer.Option(help="First week (ISO date).")] = "2023-01-02",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    scale: Annotated[float, typer.Option(help="Multiply every brand's SKU count.")] = 1.0,
    brand: BrandOpt = None,
    warehouse_path: WarehouseOpt = None,
    config_dir: ConfigOpt = None,
) -> None:
    """Generate synthetic sales for every brand config into the warehouse."""
    workspace = _workspace(warehouse_path, config_dir)
    _prefect_defaults()
    from flows.generate import generate_sales_flow

    last = _iso_date(end, "--end") or _last_complete_week()
    with console.status("Generating synthetic sales…"):
        summary = _run_flow(
            generate_sales_flow,
            "generation failed",
            warehouse_path=str(workspace.warehouse),
            config_dir=str(workspace.config_dir),
            end=last,
            start=_iso_date(start, "--start"),
            seed=seed,
            scale=scale,
            brands=brand,
        )
    console.print(
        f"[green]sales written[/]: {summary['rows']:,} rows, {summary['series']:,} series, "
        f"{summary['brands']} brands, {summary['start']} → {summary['end']} "
        f"in {workspace.warehouse}"
    )


@app.command()
def run(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Forecast origin (ISO date); default last sales week."),
    ] = None,
    brand: BrandOpt = None,
    pooling: Annotated[str, typer.Option(help="partial | none | full")] = "partial",
    n_jobs: Annotated[int, typer.Option(help="statsforecast processes per brand.")] = 1,
    warehouse_path: WarehouseOpt = None,
    config_dir: ConfigOpt = None,
) -> None:
    """Run the forecast flow: priors, backtests, fits; publish forecasts to the warehouse."""
    workspace = _workspace(warehouse_path, config_dir)
    try:
        request = RunRequest.resolve(
            workspace,
            _iso_date(as_of, "--as-of"),
            brand,
            cast(Pooling, pooling),  # checked by resolve
            n_jobs,
        )
    except RequestError as exc:
        err.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from exc
    _prefect_defaults()
    from flows.forecast import forecast_flow

    started = time.perf_counter()
    with console.status("Forecasting (estimate → pool → backtest → fit → publish)…"):
        summary = _run_flow(forecast_flow, "run failed", **request.parameters())
    colour = {"succeeded": "green", "partial": "yellow"}.get(summary.status, "red")
    console.print(
        f"[{colour}]run {summary.run_id} {summary.status}[/]: {summary.brands} brands, "
        f"{summary.n_series:,} series, {summary.rows['forecasts']:,} forecast rows "
        f"in {time.perf_counter() - started:.1f} s"
    )
    if summary.message:
        err.print(f"{summary.message} — see `forecast status`")
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
        str | None, typer.Option("--as-of", help="Refuse rows after this date.")
    ] = None,
    date_format: Annotated[
        str | None, typer.Option(help="strftime format of ds (ISO default).")
    ] = None,
    warehouse_path: WarehouseOpt = None,
    config_dir: ConfigOpt = None,
) -> None:
    """Load real weekly sales; refused rows go to rejected_sales with their reason."""
    workspace = _workspace(warehouse_path, config_dir)
    mapping = dict(item.split("=", 1) for item in map_ or [] if "=" in item)
    if len(mapping) != len(map_ or []):
        err.print("[red]--map takes ours=theirs, e.g. --map ds=week_start[/]")
        raise typer.Exit(2)
    _prefect_defaults()
    from flows.ingest import ingest_flow

    summary = _run_flow(
        ingest_flow,
        "nothing loaded",
        warehouse_path=str(workspace.warehouse),
        config_dir=str(workspace.config_dir),
        path=str(file),
        mapping=mapping,
        as_of=_iso_date(as_of, "--as-of"),
        date_format=date_format,
    )
    console.print(
        f"[green]{file}[/]: {summary['rows']:,} rows read — {summary['inserted']:,} new, "
        f"{summary['updated']:,} updated, {summary['unchanged']:,} unchanged, "
        f"[{'yellow' if summary['rejected'] else 'green'}]{summary['rejected']:,} refused[/]"
    )
    if summary["rejected"]:
        _print_frame(
            warehouse.query(
                workspace.warehouse,
                "SELECT reason, count(*) AS rows, min(row_number) AS first_row FROM rejected_sales "
                "WHERE source = ? GROUP BY 1 ORDER BY 2 DESC LIMIT 10",
                [str(file)],
            ),
            "refused rows (all of them are in rejected_sales)",
        )


@app.command()
def demo(
    warehouse_path: WarehouseOpt = None,
    config_dir: ConfigOpt = None,
) -> None:
    """Generate synthetic sales, then forecast every brand: the whole product in one go."""
    generate(
        end=None,
        start="2023-01-02",
        seed=0,
        scale=1.0,
        brand=None,
        warehouse_path=warehouse_path,
        config_dir=config_dir,
    )
    try:
        run(
            as_of=None,
            brand=None,
            pooling="partial",
            n_jobs=1,
            warehouse_path=warehouse_path,
            config_dir=config_dir,
        )
    except typer.Exit as done:
        if done.exit_code:
            raise
    db = settings_for(warehouse_path, config_dir).warehouse
    _print_frame(
        warehouse.query(
            db,
            "SELECT sector, count(DISTINCT brand) AS brands, "
            "count(DISTINCT unique_id) AS series, count(*) AS rows "
            "FROM latest_forecasts GROUP BY 1 ORDER BY 1",
        ),
        "latest_forecasts by sector",
    )
    console.print(f'Next: forecast sql "SELECT * FROM accuracy_by_sector"  (file: {db})')


@app.command()
def serve(
    api_url: Annotated[
        str | None,
        typer.Option(help="Prefect API [env PREFECT_API_URL, default http://127.0.0.1:4200/api]."),
    ] = None,
    every: Annotated[
        int | None, typer.Option(help="Also serve forecast/every-<n>s, an interval smoke test.")
    ] = None,
) -> None:
    """Start a local Prefect server if none answers, serve the deployments; Ctrl-C stops both."""
    _workspace(None, None)
    _prefect_defaults()
    from forecast.edge.serve import DEFAULT_API_URL
    from forecast.edge.serve import run as serve_deployments

    url = api_url or os.environ.get("PREFECT_API_URL") or DEFAULT_API_URL
    raise typer.Exit(serve_deployments(url, every))


@app.command()
def status(
    limit: Annotated[int, typer.Option(help="How many runs.")] = 10,
    warehouse_path: WarehouseOpt = None,
) -> None:
    """Recent runs, and the brands of the latest one."""
    db = settings_for(warehouse_path).warehouse
    runs = _read(warehouse.recent_runs, db, limit)
    _print_frame(runs, f"recent runs in {db}")
    if runs.height:
        latest = runs["run_id"][0]
        _print_frame(
            warehouse.query(
                db,
                "SELECT brand, status, n_series, n_rows, selected_model, "
                "round(seconds, 1) AS seconds, error FROM run_brands "
                "WHERE run_id = ? ORDER BY status, brand",
                [latest],
            ),
            f"brands of run {latest}",
        )


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="A read-only SQL query.")],
    fmt: Annotated[str, typer.Option("--format", help="table | csv | json")] = "table",
    warehouse_path: WarehouseOpt = None,
) -> None:
    """Run a read-only query on the warehouse and print the result."""
    db = settings_for(warehouse_path).warehouse
    frame = _read(warehouse.query, db, query)
    if fmt == "csv":
        sys.stdout.write(frame.write_csv())
    elif fmt == "json":
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, indent=1) + "\n")
    else:
        _print_frame(frame)


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
        err.print(f"[red]{exc}[/]")
        raise SystemExit(1) from exc
