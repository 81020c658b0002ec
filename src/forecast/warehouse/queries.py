"""Named read queries: what the CLI and analysts ask of the warehouse, and `forecast sql`."""

from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from forecast.warehouse.store import WarehouseError, query, reader

ANALYST_STATEMENTS = ("SELECT", "EXPLAIN")


def analyst_query(path: Path, sql: str) -> pl.DataFrame:
    """``forecast sql``: one SELECT (or EXPLAIN) over the warehouse's own tables and views.

    The connection is read-only with DuckDB's external access off and its configuration
    locked, so no statement can read or write another file (``COPY``, ``EXPORT``,
    ``read_csv``, ``glob``), attach another database, install or load an extension, or
    change a setting; text with more than one statement is refused before it runs.

    Raises:
        WarehouseError: The text is not one allowed statement, or DuckDB refuses it.
    """
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise WarehouseError(f"{path}: {exc}") from exc
    if len(statements) != 1:
        raise WarehouseError(f"forecast sql runs exactly one statement; got {len(statements)}")
    if statements[0].type.name not in ANALYST_STATEMENTS:
        # The user's own keyword (INSTALL, not DuckDB's LOAD), unless the text opens otherwise.
        word = statements[0].query.split(maxsplit=1)[0].upper()
        word = word if word.isalpha() else statements[0].type.name
        raise WarehouseError(
            f"forecast sql runs read-only queries (SELECT, EXPLAIN); {word} is not allowed"
        )
    with reader(path, locked=True) as con:
        return con.sql(sql).pl()


def refusal_summary(path: Path, source: str, limit: int = 10) -> pl.DataFrame:
    """Why rows of ``source`` were refused: reason, rows, first row number."""
    return query(
        path,
        "SELECT reason, count(*) AS rows, min(row_number) AS first_row FROM rejected_sales "
        "WHERE source = ? GROUP BY 1 ORDER BY 2 DESC, 3 LIMIT ?",
        [source, limit],
    )


def brand_statuses(path: Path, run_id: str) -> pl.DataFrame:
    """Each brand of a run: status, series, rows, chosen model, seconds, error."""
    return query(
        path,
        "SELECT brand, status, n_series, n_rows, selected_model, round(seconds, 1) AS seconds, "
        "error FROM run_brands WHERE run_id = ? ORDER BY status, brand",
        [run_id],
    )


def latest_by_sector(path: Path) -> pl.DataFrame:
    """What analysts see now, per sector: brands, series and rows of ``latest_forecasts``."""
    return query(
        path,
        "SELECT sector, count(DISTINCT brand) AS brands, count(DISTINCT unique_id) AS series, "
        "count(*) AS rows FROM latest_forecasts GROUP BY 1 ORDER BY 1",
    )


def first_sales(path: Path) -> dict[str, date]:
    """The first week with sales of every brand in the warehouse."""
    if not Path(path).exists():
        return {}
    frame = query(path, "SELECT brand, min(ds) AS first FROM sales GROUP BY 1")
    return dict(frame.iter_rows())


def recent_runs(path: Path, limit: int = 10) -> pl.DataFrame:
    """The most recent runs, newest first."""
    return query(
        path,
        "SELECT run_id, as_of, status, started_at, round(duration_s, 1) AS seconds, "
        "len(brands) AS brands, n_series, n_rows, message "
        "FROM forecast_runs ORDER BY started_at DESC LIMIT ?",
        [limit],
    )


def as_of_default(path: Path) -> date:
    """The latest week with sales: the natural as-of date of a run."""
    frame = query(path, "SELECT max(ds) AS ds FROM sales")
    value = frame["ds"][0]
    if value is None:
        raise WarehouseError(f"{path}: table sales is empty — generate or ingest sales first")
    return value if isinstance(value, date) else datetime.fromisoformat(str(value)).date()
