"""Verbs of the pipeline: generate, run, ingest, demo, serve, status, sql, schema."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from rich.markup import escape

from forecast import warehouse
from forecast.edge import prefect_env
from forecast.edge.app import (
    ISO,
    BrandOpt,
    ConfigOpt,
    Format,
    MapOpt,
    Pooling,
    VerboseOpt,
    WarehouseOpt,
    WeekLabel,
    app,
    console,
    day,
    err,
    fail,
    last_complete_week,
    load_workspace,
    mapping_of,
    one_api,
    print_frame,
    read,
    run_flow,
)
from forecast.edge.checks import InputProblem, check_launches, check_something_to_forecast
from forecast.edge.planning_verbs import demo_planner
from forecast.inputs.config import brand_json_schema
from forecast.inputs.files import IngestError, check_date_format
from forecast.inputs.ingest import check_file
from forecast.request import RequestError, RunRequest, settings_for, synthetic_brands

GENERATE_FLOW = "flows.generate:generate_sales_flow"
FORECAST_FLOW = "flows.forecast:forecast_flow"
# A scheduler sees a partial run (some brands failed, the others published) as its own code.
RUN_EXIT_CODES = {"succeeded": 0, "partial": 3}


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
    workspace = load_workspace(warehouse_path, config_dir)
    try:
        chosen = synthetic_brands(workspace, brand)
    except RequestError as exc:
        fail(str(exc), 2)
    last = day(end) or last_complete_week()
    if last < start.date():
        fail(f"--end {last} is before --start {start.date()}", 2)
    real = read(warehouse.real_sales, workspace.warehouse, list(chosen))
    if real and not replace_real:
        fail(f"{workspace.warehouse}: {warehouse.real_sales_message(real)}", 2)
    with console.status("Generating synthetic sales…"):
        summary = run_flow(
            GENERATE_FLOW,
            "generation failed",
            workspace.warehouse,
            verbose,
            {
                **workspace.flow_paths(),
                "end": last,
                "start": start.date(),
                "seed": seed,
                "scale": scale,
                "brands": brand,
                "replace_real": replace_real,
            },
        )
    console.print(
        f"[green]sales written[/]: {summary['rows']:,} rows, {summary['series']:,} series, "
        f"{summary['brands']} brands, {summary['start']} → {summary['end']}, "
        f"{summary['events']:,} simulated events in {workspace.warehouse}"
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
        int,
        typer.Option(
            min=-1, max=64, help="Processes brands are fitted in (-1: every core; 1: this one)."
        ),
    ] = -1,
    cluster: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler whose workers fit the brands, e.g. tcp://host:8786 "
            "(default FORECAST_CLUSTER; unset: this machine, --n-jobs processes)."
        ),
    ] = None,
    warehouse_path: WarehouseOpt = None,
    config_dir: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Run the forecast flow: priors, backtests, fits; publish forecasts to the warehouse."""
    workspace = load_workspace(warehouse_path, config_dir)
    try:
        request = RunRequest.resolve(workspace, day(as_of), brand, pooling.value, n_jobs, cluster)
        check_launches(request.brands, warehouse.first_sales(workspace.warehouse))
        check_something_to_forecast(request.brands, request.as_of)
    except (RequestError, InputProblem) as exc:
        fail(str(exc), getattr(exc, "code", 2))
    except warehouse.WarehouseError as exc:
        fail(str(exc))
    summary = run_flow(
        FORECAST_FLOW,
        "run failed",
        workspace.warehouse,
        verbose,
        request.parameters(),
        bars=True,
    )
    colour = {"succeeded": "green", "partial": "yellow"}.get(summary.status, "red")
    console.print(
        f"[{colour}]run {summary.run_id} {summary.status}[/]: {summary.brands} brands, "
        f"{summary.n_series:,} series, {summary.rows['forecasts']:,} forecast rows "
        f"published in {summary.seconds:.1f} s"
    )
    if summary.message:
        err.print(f"{escape(summary.message)} — see `forecast status`")
    raise typer.Exit(RUN_EXIT_CODES.get(summary.status, 1))


@app.command()
def ingest(
    file: Annotated[
        Path, typer.Argument(help="CSV or Parquet: brand, market, product, ds, units.")
    ],
    map_: MapOpt = None,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", formats=ISO, help="Refuse rows after this date.")
    ] = None,
    date_format: Annotated[
        str | None, typer.Option(help="strftime format of ds, e.g. %d/%m/%Y (default ISO).")
    ] = None,
    encoding: Annotated[
        str, typer.Option(help="Text encoding of a CSV file, e.g. latin-1.")
    ] = "utf-8",
    week_label: Annotated[
        WeekLabel,
        typer.Option(
            help="How ds dates a week: its Monday, or its first or last day (any weekday: "
            "weeks ending on Sunday or Saturday, weeks starting on Sunday)."
        ),
    ] = WeekLabel.monday,
    warehouse_path: WarehouseOpt = None,
    config_dir: ConfigOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Load real weekly or monthly sales; refused rows go to rejected_sales with their reason."""
    workspace = load_workspace(warehouse_path, config_dir)
    mapping = mapping_of(map_)
    try:
        check_date_format(date_format)
        check_file(file, mapping, encoding)
    except IngestError as exc:
        fail(str(exc), 2)
    summary = run_flow(
        "flows.ingest:ingest_flow",
        "nothing loaded",
        workspace.warehouse,
        verbose,
        {
            **workspace.flow_paths(),
            "path": str(file),
            "mapping": mapping,
            "as_of": day(as_of),
            "date_format": date_format,
            "encoding": encoding,
            "week_label": week_label.value,
        },
    )
    console.print(
        f"[green]{escape(str(file))}[/]: {summary['rows']:,} rows read — "
        f"{summary['inserted']:,} new, {summary['updated']:,} updated, "
        f"{summary['unchanged']:,} unchanged, "
        f"[{'yellow' if summary['rejected'] else 'green'}]{summary['rejected']:,} refused[/]"
        + (f", {summary['returns']:,} returns (negative net weeks)" if summary["returns"] else "")
    )
    if summary["rejected"]:
        print_frame(
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
    db = settings_for(warehouse_path, config_dir).warehouse
    paths = {"warehouse_path": warehouse_path, "config_dir": config_dir}
    with one_api(db, [GENERATE_FLOW, FORECAST_FLOW]):
        generate(
            end=None,
            start=datetime(2023, 1, 2),
            seed=0,
            scale=1.0,
            brand=None,
            replace_real=False,
            verbose=verbose,
            **paths,
        )
        try:
            run(
                as_of=None,
                brand=None,
                pooling=Pooling.partial,
                n_jobs=-1,
                cluster=None,
                verbose=verbose,
                **paths,
            )
        except typer.Exit as done:
            if done.exit_code:
                raise
    demo_planner(load_workspace(warehouse_path, config_dir))
    print_frame(warehouse.latest_by_sector(db), "latest_forecasts by sector")
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
    prefect_env.configure(load_workspace(None, None).warehouse)
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
    runs = read(warehouse.recent_runs, db, limit)
    print_frame(runs, f"recent runs in {db}")
    if runs.height:
        latest = runs["run_id"][0]
        print_frame(read(warehouse.brand_statuses, db, latest), f"brands of run {latest}")


@app.command()
def sql(
    query: Annotated[str, typer.Argument(help="One read-only SELECT on the warehouse.")],
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
    warehouse_path: WarehouseOpt = None,
) -> None:
    """One read-only query on the warehouse's tables and views (no files, no other database)."""
    db = settings_for(warehouse_path).warehouse
    frame = read(warehouse.analyst_query, db, query)
    if fmt is Format.csv:
        sys.stdout.write(_flat(frame).write_csv())
    elif fmt is Format.json:
        sys.stdout.write(json.dumps(frame.to_dicts(), default=str, indent=1) + "\n")
    else:
        print_frame(frame)


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
