"""Verbs of the planner's loop: ingest-products, ingest-events, monitor, override, plot."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, NoReturn

import polars as pl
import typer
from rich.markup import escape

from forecast import warehouse
from forecast.edge import prefect_env
from forecast.edge.app import (
    ConfigOpt,
    MapOpt,
    WarehouseOpt,
    app,
    console,
    err,
    fail,
    load_workspace,
    mapping_of,
    print_frame,
)
from forecast.inputs.events import event_columns, validate_events
from forecast.inputs.files import IngestError, check_date_format, read_table
from forecast.planning.monitoring import movers, series_label
from forecast.planning.overrides import OverrideFileError, validate_overrides
from forecast.planning.products import ProductFileError, known_products, validate_products
from forecast.planning.value_added import expected_brand_demand, simulate_planner
from forecast.request import Workspace, settings_for
from forecast.vocabulary import LEVELS


@app.command("ingest-products")
def ingest_products(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV or Parquet: brand, product, category [, collection, launch_date, price_band]."
        ),
    ],
    warehouse_path: WarehouseOpt = None,
    config_dir: ConfigOpt = None,
) -> None:
    """Load a product master; one refused row refuses the file (see rejected_products)."""
    workspace = load_workspace(warehouse_path, config_dir)
    db, source = workspace.warehouse, str(file)
    try:
        raw = read_table(file)
        checked = validate_products(
            raw,
            workspace.brands,
            warehouse.read_products(db),
            warehouse.read_sold_products(db),
            source,
        )
    except (IngestError, ProductFileError) as exc:
        fail(str(exc), 2)
    valid = checked.rejected.is_empty()
    accepted = checked.accepted if valid else checked.accepted.clear()
    warehouse.write_products(db, accepted, checked.rejected, source, replace=False)
    if valid:
        console.print(f"[green]{file}[/]: {accepted.height:,} products loaded into `product`")
        return
    _refuse_file(file, checked.rejected, "rejected_products")


@app.command("ingest-events")
def ingest_events(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV or Parquet: brand [, market, category, product], start, end, type "
            "[, magnitude, name]."
        ),
    ],
    map_: MapOpt = None,
    date_format: Annotated[
        str | None, typer.Option(help="strftime format of start and end (default ISO).")
    ] = None,
    warehouse_path: WarehouseOpt = None,
    config_dir: ConfigOpt = None,
) -> None:
    """Load a brand's events (launch, promotion, price_change, store_opening, stockout,
    custom); refused rows go to rejected_events with their reason."""
    workspace = load_workspace(warehouse_path, config_dir)
    db, source = workspace.warehouse, str(file)
    known = known_products(warehouse.read_sold_products(db), warehouse.read_products(db))
    try:
        check_date_format(date_format)
        raw = event_columns(read_table(file), mapping_of(map_), source)
    except IngestError as exc:
        fail(str(exc), 2)
    checked = validate_events(raw, workspace.brands, workspace.markets, known, date_format)
    counts = warehouse.upsert_events(db, checked.accepted, checked.rejected, source)
    colour = "yellow" if counts["rejected"] else "green"
    console.print(
        f"[green]{escape(source)}[/]: {raw.height:,} rows read — {counts['inserted']:,} new, "
        f"{counts['replaced']:,} replaced, [{colour}]{counts['rejected']:,} refused[/]"
    )
    if counts["rejected"]:
        print_frame(
            warehouse.refusal_summary(db, source, "rejected_events"),
            "refused rows (all in rejected_events)",
        )
    if checked.accepted.is_empty():
        raise typer.Exit(1)


@app.command()
def monitor(
    limit: Annotated[int, typer.Option(help="How many alarms and brands to show.")] = 15,
    warehouse_path: WarehouseOpt = None,
) -> None:
    """Tracking-signal alarms and the brands whose accuracy moved most since the last run."""
    db = settings_for(warehouse_path).warehouse
    frames = warehouse.monitor_frames(db)  # a WarehouseError becomes one line in main()
    alarms = frames["alarms"]
    if alarms.is_empty():
        console.print("[green]no tracking-signal alarm[/] (|Σ error / MAD| ≤ 4 everywhere)")
    else:
        shown = alarms.head(limit).select(
            "level",
            series=pl.struct(alarms.columns).map_elements(series_label, return_dtype=pl.String),
            weeks="n_weeks",
            signal=pl.col("tracking_signal").round(1),
        )
        print_frame(shown, f"{alarms.height} tracking-signal alarms (|signal| > 4)")
    moved = movers(frames["brand_runs"], frames["backtest"])
    if moved.is_empty():
        console.print("no published forecast has actuals yet")
        return
    print_frame(moved.head(limit).drop("run_id"), "brands whose WAPE moved most")


@app.command()
def override(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="CSV/Parquet: brand [, market, category, product], start, end, "
            "value | percent_change, reason, author."
        ),
    ] = None,
    withdraw: Annotated[
        list[str] | None, typer.Option("--withdraw", help="Withdraw this override id (repeatable).")
    ] = None,
    warehouse_path: WarehouseOpt = None,
) -> None:
    """Planner overrides on the latest forecast; one refused row refuses the file."""
    db = settings_for(warehouse_path).warehouse
    latest = warehouse.latest_reconciled_run(db)
    if latest is None:
        fail(f"{db}: no reconciled forecast yet — run `forecast run` first")
    prefect_env.configure(db)  # flows.planning imports Prefect
    from flows.planning import refresh_final

    if withdraw:
        done = warehouse.withdraw_overrides(db, list(withdraw), "withdrawn from the command line")
        console.print(f"withdrawn: {', '.join(done) or 'none (no active override has that id)'}")
    if file is not None:
        _load_overrides(db, file, *latest)
    written = refresh_final(db, latest[0])
    console.print(f"final_forecasts of run {latest[0]}: {written['final_level_forecasts']:,} rows")


def _refuse_file(file: Path, rejected: pl.DataFrame, table: str) -> NoReturn:
    """One line per refused row (the first ten), then exit code 1: nothing was loaded."""
    err.print(
        f"[red]{file}: {rejected.height} row(s) refused, nothing loaded[/] "
        f"(all of them are in {table}):"
    )
    for row, reason in rejected.select("row_number", "reason").head(10).iter_rows():
        err.print(f"  • row {row}: {reason}")
    raise typer.Exit(1)


def _load_overrides(db: Path, file: Path, run_id: str, as_of: date) -> None:
    """Validate an override file against the latest forecast and store it, or refuse it."""
    keys = warehouse.read_level_weeks(db, run_id, "product_market")
    existing = warehouse.read_overrides(db)
    try:
        checked = validate_overrides(
            read_table(file),
            keys,
            as_of + timedelta(weeks=1),
            existing.filter(pl.col("status") == "active"),
            str(file),
            existing["override_id"].to_list(),
        )
    except (IngestError, OverrideFileError) as exc:
        fail(str(exc), 2)
    if not checked.rejected.is_empty():
        nothing = checked.accepted.clear(), checked.superseded.clear()
        warehouse.write_overrides(db, *nothing, checked.rejected, str(file))
        _refuse_file(file, checked.rejected, "rejected_overrides")
    warehouse.write_overrides(db, checked.accepted, checked.superseded, checked.rejected, str(file))
    lost = checked.accepted.filter(pl.col("status") == "superseded").height
    console.print(
        f"[green]{file}[/]: {checked.accepted.height} override(s) stored, "
        f"{lost + checked.superseded.height} superseded by a later one on the same key"
    )


def demo_planner(workspace: Workspace) -> None:
    """The demo's simulated planner: overrides written to a file and loaded like any other."""
    db = workspace.warehouse
    latest = warehouse.latest_reconciled_run(db)
    if latest is None:
        return
    run_id, as_of = latest
    statistical = warehouse.read_level_weeks(db, run_id, "brand").select("brand", "ds", "yhat")
    horizon = int(statistical["ds"].n_unique())
    expected = expected_brand_demand(
        workspace.brands, date(2023, 1, 2), as_of + timedelta(weeks=horizon)
    )
    planned = simulate_planner(statistical, expected.filter(pl.col("ds") > as_of))
    path = db.parent / f"demo_overrides_{as_of}.csv"
    planned.write_csv(path)
    _load_overrides(db, path, run_id, as_of)
    prefect_env.configure(db)
    from flows.planning import refresh_final

    refresh_final(db, run_id)


@app.command()
def plot(
    level: Annotated[str, typer.Option(help="group | sector | brand | brand_market | …")] = "brand",
    key: Annotated[
        list[str] | None,
        typer.Option("--key", "-k", help="column=value, e.g. -k brand=parfums_iris (repeatable)."),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="PNG file (default warehouse/plots/…).")] = None,
    warehouse_path: WarehouseOpt = None,
) -> None:
    """Fan chart of one series of the latest forecast: history, bands, overrides, actuals."""
    db = settings_for(warehouse_path).warehouse
    if level not in LEVELS:
        raise typer.BadParameter(
            f"{level!r} is not one of {', '.join(LEVELS)}", param_hint="--level"
        )
    keys = dict(item.split("=", 1) for item in key or [] if "=" in item)
    if len(keys) != len(key or []):
        raise typer.BadParameter(
            "takes column=value, e.g. -k brand=parfums_iris", param_hint="--key"
        )
    data = warehouse.read_fan(db, level, keys)
    if data["series"].height != 1:
        err.print(escape(f"{level} {keys or ''}: {data['series'].height} series match; name one"))
        print_frame(data["series"].head(10), "matching series (first 10)")
        raise typer.Exit(2)
    label = series_label(data["series"].row(0, named=True))
    from forecast.report import fan_chart  # matplotlib: half a second no other verb needs

    png = fan_chart(
        data["history"], data["forecast"], data["overrides"], f"{level}: {label}", data["as_of"]
    )
    path = out or db.parent / "plots" / f"fan-{level}-{label.replace('/', '_')}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    console.print(f"wrote {path}")
