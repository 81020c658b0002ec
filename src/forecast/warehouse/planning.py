"""Planning tables: product master, level forecasts, overrides, final forecasts, monitoring."""

from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from forecast.warehouse.store import WarehouseError, publish, query

PLANNING_TABLES = (
    "series_hierarchy",
    "level_forecasts",
    "level_scales",
    "reconciliations",
    "level_backtest_metrics",
)


def read_products(path: Path) -> pl.DataFrame:
    """The product master (empty when there is no warehouse yet)."""
    if not Path(path).exists():
        return pl.DataFrame(
            schema={"brand": pl.String, "product": pl.String, "category": pl.String}
        )
    return query(
        path,
        "SELECT brand, product, category, collection, launch_date, price_band FROM product "
        "ORDER BY brand, product",
    )


def read_sold_products(path: Path) -> pl.DataFrame:
    """``brand, product`` pairs that have sales."""
    if not Path(path).exists():
        return pl.DataFrame(schema={"brand": pl.String, "product": pl.String})
    return query(path, "SELECT DISTINCT brand, product FROM sales ORDER BY ALL")


def write_products(
    path: Path, accepted: pl.DataFrame, rejected: pl.DataFrame, source: str, replace: bool
) -> int:
    """Upsert master rows (or, ``replace``, replace the brands present) and record refusals.

    The refusals of ``source`` replace its earlier ones. Returns the rows written.
    """
    with publish(path) as con:
        con.register("incoming", accepted)
        if replace:
            con.execute("DELETE FROM product WHERE brand IN (SELECT DISTINCT brand FROM incoming)")
        else:
            con.execute(
                "DELETE FROM product p USING incoming i WHERE p.brand = i.brand "
                "AND p.product = i.product"
            )
        con.execute(
            "INSERT INTO product BY NAME SELECT *, ? AS source, now() AS loaded_at FROM incoming",
            [source],
        )
        _replace_refusals(con, "rejected_products", rejected, source)
    return accepted.height


def _replace_refusals(
    con: duckdb.DuckDBPyConnection, table: str, rejected: pl.DataFrame, source: str
) -> None:
    """The refusals of ``source`` in ``table`` (a ``rejected_*`` table) replace its earlier ones."""
    con.execute(f"DELETE FROM {table} WHERE source = ?", [source])
    con.register("refused", rejected)
    con.execute(
        f"INSERT INTO {table} BY NAME SELECT *, ? AS source, now() AS rejected_at FROM refused",
        [source],
    )
    con.unregister("refused")


def read_run_forecasts(path: Path, run_id: str) -> pl.DataFrame:
    """A run's statistical forecast (``is_selected``) and seasonal-naive rows."""
    return query(
        path,
        "SELECT sector, brand, region, product, ds, step, model, is_selected, yhat, "
        "lo_80, hi_80, lo_95, hi_95 FROM forecasts "
        "WHERE run_id = ? AND (is_selected OR model = 'snaive') ORDER BY ALL",
        [run_id],
    )


def write_levels(path: Path, run_id: str, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Replace a run's rows of the planning tables given, in one atomic publish.

    Args:
        tables: Table name (one of ``PLANNING_TABLES``) → rows without ``run_id``.

    Returns:
        Rows written per table.
    """
    unknown = set(tables) - set(PLANNING_TABLES)
    if unknown:
        raise WarehouseError(f"not planning tables: {sorted(unknown)}")
    with publish(path) as con:
        for table, frame in tables.items():
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
            con.register("incoming", frame.with_columns(run_id=pl.lit(run_id)))
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            con.unregister("incoming")
    return {t: f.height for t, f in tables.items()}


def monitor_frames(path: Path) -> dict[str, pl.DataFrame]:
    """What ``forecast monitor`` shows: tracking-signal alarms, each brand's accuracy per run
    and each run's backtest WAPE of its chosen models — both over the brand's series
    (Σ|error| / Σ actual at product × market), so the two compare."""
    return {
        "alarms": query(
            path, "SELECT * FROM tracking_signals WHERE alarm ORDER BY abs(tracking_signal) DESC"
        ),
        "brand_runs": query(
            path,
            "SELECT run_id, as_of, brand, sum(abs(error)) / nullif(sum(abs(actual)), 0) AS wape, "
            "sum(error) / nullif(sum(abs(actual)), 0) AS bias, count(*) AS n_points "
            "FROM level_forecast_vs_actual WHERE level = 'product_market' GROUP BY ALL",
        ),
        "backtest": query(
            path,
            "SELECT run_id, brand, sum(wape * sum_actual) / nullif(sum(sum_actual), 0) AS wape "
            "FROM backtest_metrics WHERE model = 'selected' GROUP BY ALL",
        ),
    }


def latest_reconciled_run(path: Path) -> tuple[str, date] | None:
    """``(run_id, as_of)`` of the run ``forecasts_by_level`` shows, or None."""
    rows = query(path, "SELECT run_id, as_of FROM latest_reconciliation")
    return (rows["run_id"][0], rows["as_of"][0]) if rows.height else None


def read_level_weeks(path: Path, run_id: str, level: str | None = None) -> pl.DataFrame:
    """A run's weekly ``level_forecasts`` rows (one level, or all)."""
    return query(
        path,
        "SELECT * EXCLUDE (run_id) FROM level_forecasts WHERE run_id = ? AND granularity = 'week' "
        "AND (? IS NULL OR level = ?) ORDER BY level, sector, brand, market, category, product, ds",
        [run_id, level, level],
    )


def read_overrides(path: Path, status: str | None = None) -> pl.DataFrame:
    """Overrides (all, or those of one status), oldest first."""
    return query(
        path,
        "SELECT * FROM overrides WHERE ? IS NULL OR status = ? ORDER BY created_at, row_number",
        [status, status],
    )


def write_overrides(
    path: Path,
    accepted: pl.DataFrame,
    superseded: pl.DataFrame,
    rejected: pl.DataFrame,
    source: str,
) -> None:
    """Store new overrides, mark the ones they supersede, record refusals of ``source``."""
    with publish(path) as con:
        con.register("incoming", accepted)
        con.execute(
            "INSERT INTO overrides BY NAME "
            "SELECT *, ? AS source, now() AS created_at FROM incoming",
            [source],
        )
        con.register("lost", superseded)
        con.execute(
            "UPDATE overrides o SET status = 'superseded', status_reason = l.status_reason, "
            "changed_at = now() FROM lost l WHERE o.override_id = l.override_id"
        )
        _replace_refusals(con, "rejected_overrides", rejected, source)


def withdraw_overrides(path: Path, ids: list[str], reason: str) -> list[str]:
    """Mark active overrides withdrawn; returns the ids that were active."""
    with publish(path) as con:
        rows = con.execute(
            "UPDATE overrides SET status = 'withdrawn', status_reason = ?, changed_at = now() "
            "WHERE status = 'active' AND override_id IN (SELECT unnest(?)) RETURNING override_id",
            [reason, ids],
        ).fetchall()
    return sorted(r[0] for r in rows)


def write_final(
    path: Path, run_id: str, final: pl.DataFrame, applied: pl.DataFrame
) -> dict[str, int]:
    """Replace a run's ``final_level_forecasts`` and ``override_applications``, atomically."""
    with publish(path) as con:
        for table, frame in (("final_level_forecasts", final), ("override_applications", applied)):
            con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
            con.register("incoming", frame.with_columns(run_id=pl.lit(run_id)))
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            con.unregister("incoming")
    return {"final_level_forecasts": final.height, "override_applications": applied.height}


_KEY_COLUMNS = ("sector", "brand", "market", "category", "product")


def read_fan(path: Path, level: str, keys: dict[str, str]) -> dict[str, Any]:
    """What a fan chart of one series of the latest reconciled run draws.

    Args:
        level: A level name (``vocabulary.LEVELS``).
        keys: Key column → value; a key column of the level left out matches any value.

    Returns:
        ``as_of``, ``series`` (the matching key combinations: exactly one to draw),
        ``forecast`` (``ds, yhat, lo_80 … hi_95, final``), ``history`` (``ds, actual``) and
        ``overrides`` (``override_id, period_start, period_end, label``).
    """
    unknown = set(keys) - set(_KEY_COLUMNS)
    if unknown:
        raise WarehouseError(f"unknown key column(s) {sorted(unknown)}; use {_KEY_COLUMNS}")
    match = " AND ".join(f"(?::VARCHAR IS NULL OR f.{c} = ?)" for c in _KEY_COLUMNS)
    params: list[Any] = [level]
    for c in _KEY_COLUMNS:
        params += [keys.get(c), keys.get(c)]
    where = f"f.level = ? AND {match}"
    series = query(
        path,
        f"SELECT DISTINCT sector, brand, market, category, product FROM forecasts_by_level f "
        f"WHERE {where}",
        params,
    )
    if series.height != 1:
        return {"series": series}
    return {
        "series": series,
        "as_of": query(path, "SELECT as_of FROM latest_reconciliation")["as_of"][0],
        "forecast": _fan_forecast(path, where, params),
        "history": query(
            path, f"SELECT ds, actual FROM level_actuals f WHERE {where} ORDER BY ds", params
        ),
        "overrides": _fan_overrides(path, series.row(0, named=True)),
    }


def _fan_forecast(path: Path, where: str, params: list[Any]) -> pl.DataFrame:
    """The weekly reconciled forecast of the matched series with the planner's final value."""
    return query(
        path,
        "SELECT f.ds, f.yhat, f.lo_80, f.hi_80, f.lo_95, f.hi_95, "
        "coalesce(x.yhat, f.yhat) AS final "
        "FROM forecasts_by_level f LEFT JOIN final_forecasts x ON x.granularity = 'week' "
        "AND x.level = f.level AND x.ds = f.ds "
        + "".join(f"AND x.{c} IS NOT DISTINCT FROM f.{c} " for c in _KEY_COLUMNS)
        + f"WHERE f.granularity = 'week' AND {where} ORDER BY f.ds",
        params,
    )


def _fan_overrides(path: Path, row: dict[str, Any]) -> pl.DataFrame:
    """The overrides applied by the latest reconciled run that cover the series ``row``."""
    scoped = ("market", "category", "product")
    return query(
        path,
        "SELECT DISTINCT o.override_id, o.period_start, o.period_end, "
        "coalesce(printf('%+.1f %%', o.percent_change), printf('%.0f/wk', o.value)) "
        "|| ' ' || o.author AS label "
        "FROM overrides o JOIN override_applications a USING (override_id) "
        "JOIN latest_reconciliation l ON l.run_id = a.run_id "
        "WHERE (?::VARCHAR IS NULL OR o.brand = ?) "
        "AND (?::VARCHAR IS NULL OR o.brand IN "
        "(SELECT brand FROM current_hierarchy WHERE sector = ?)) "
        + "".join(f"AND (o.{c} IS NULL OR ?::VARCHAR IS NULL OR o.{c} = ?) " for c in scoped)
        + "ORDER BY o.period_start",
        [row["brand"], row["brand"], row["sector"], row["sector"]]
        + [v for c in scoped for v in (row[c], row[c])],
    )


def read_sector_fva(path: Path) -> pl.DataFrame:
    """Brand-level forecast value added over every lead time: one row per brand."""
    return query(
        path,
        "SELECT sector, brand, count(*) AS n_points, "
        "sum(abs(snaive - actual)) / nullif(sum(abs(actual)), 0) AS naive_wape, "
        "sum(abs(statistical - actual)) / nullif(sum(abs(actual)), 0) AS statistical_wape, "
        "sum(abs(final - actual)) / nullif(sum(abs(actual)), 0) AS final_wape "
        "FROM level_forecast_vs_actual WHERE level = 'brand' AND snaive IS NOT NULL "
        "GROUP BY ALL ORDER BY sector, brand",
    )


def largest_brands(path: Path, run_id: str) -> pl.DataFrame:
    """``sector, brand``: each sector's brand with the largest forecast in a run."""
    return query(
        path,
        "SELECT sector, arg_max(brand, total) AS brand FROM ("
        "SELECT sector, brand, sum(yhat) AS total FROM level_forecasts "
        "WHERE run_id = ? AND level = 'brand' AND granularity = 'week' GROUP BY ALL) "
        "GROUP BY sector ORDER BY sector",
        [run_id],
    )
