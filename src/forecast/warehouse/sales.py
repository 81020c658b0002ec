"""Sales in and out: synthetic batches, ingested rows merged idempotently, reads per brand."""

import os
import shutil
import time
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from forecast.warehouse.store import (
    WarehouseError,
    drop_staged,
    scalar,
    publish,
    query,
    staging_dir,
)


def stage_sales(
    path: Path, batch: str, part: str, sales: pl.DataFrame, truth: pl.DataFrame | None
) -> None:
    """Stage one part (e.g. a brand) of a sales batch as Parquet; see :func:`publish_sales`."""
    folder = staging_dir(path, batch)
    for name, frame in (("sales", sales), ("sales_truth", truth)):
        if frame is not None:
            (folder / name).mkdir(parents=True, exist_ok=True)
            tmp = folder / name / f".{part}.parquet.tmp"
            frame.write_parquet(tmp)
            os.replace(tmp, folder / name / f"{part}.parquet")


def publish_sales(path: Path, batch: str, source: str, replace_real: bool = False) -> int:
    """Replace all sales (and truth) of the brands in a staged batch, in one publish.

    Args:
        replace_real: Also replace brands that hold ingested (real) sales; without it such
            a batch is refused and nothing changes.

    Returns:
        Sales rows written.

    Raises:
        WarehouseError: Nothing staged, or the batch would delete ingested sales.
    """
    folder = staging_dir(path, batch)
    files = {
        t: sorted(str(f) for f in (folder / t).glob("*.parquet")) for t in ("sales", "sales_truth")
    }
    if not files["sales"]:
        raise WarehouseError(f"{path}: sales batch {batch!r} has nothing staged")
    with publish(path) as con:
        con.read_parquet(files["sales"]).create_view("new_sales")
        brands = "SELECT DISTINCT brand FROM new_sales"
        if not replace_real:
            _refuse_real(con, path, brands, folder)
        con.execute(f"DELETE FROM sales WHERE brand IN ({brands})")
        con.execute(f"DELETE FROM sales_truth WHERE brand IN ({brands})")
        con.execute(
            "INSERT INTO sales BY NAME SELECT *, ? AS source, now() AS loaded_at FROM new_sales",
            [source],
        )
        if files["sales_truth"]:
            con.execute(
                "INSERT INTO sales_truth BY NAME SELECT * FROM read_parquet(?)",
                [files["sales_truth"]],
            )
        rows = int(scalar(con, "SELECT count(*) FROM new_sales"))
    drop_staged(folder)
    return rows


_REAL = "source NOT LIKE 'synthetic:%'"


def _refuse_real(con: duckdb.DuckDBPyConnection, path: Path, brands: str, batch: Path) -> None:
    found = con.execute(
        f"SELECT brand, count(*) FROM sales WHERE {_REAL} AND brand IN ({brands}) "
        "GROUP BY 1 ORDER BY 1"
    ).fetchall()
    if found:
        shutil.rmtree(batch, ignore_errors=True)
        raise WarehouseError(f"{path}: {real_sales_message(found)}")


def real_sales(path: Path, brands: list[str]) -> list[tuple[str, int]]:
    """``(brand, rows)`` of ingested (not synthetic) sales among ``brands``."""
    if not Path(path).exists():
        return []
    frame = query(
        path,
        f"SELECT brand, count(*) AS n FROM sales WHERE {_REAL} "
        "AND brand IN (SELECT unnest(?)) GROUP BY 1 ORDER BY 1",
        [brands],
    )
    return [(b, int(n)) for b, n in frame.iter_rows()]


def real_sales_message(found: list[tuple[str, int]]) -> str:
    """One line: which brands hold ingested sales that synthetic generation would delete."""
    held = ", ".join(f"{b} ({n:,} rows)" for b, n in found)
    return (
        f"generating would delete ingested sales of {held}; nothing was changed — pick other "
        "brands, another warehouse, or pass --replace-real to delete them"
    )


def upsert_sales(
    path: Path, accepted: pl.DataFrame, rejected: pl.DataFrame, source: str
) -> dict[str, int]:
    """Merge validated rows into ``sales`` and record refusals, in one atomic publish.

    A key already present with the same values is left alone, with different values it is
    replaced, and a new key is appended: re-ingesting a file changes nothing. The refusals
    of ``source`` replace its earlier ones.

    Returns:
        Counts: ``inserted``, ``updated``, ``unchanged``, ``rejected``.
    """
    keys = "i.brand = s.brand AND i.market = s.market AND i.product = s.product AND i.ds = s.ds"
    differs = (
        "(s.units IS DISTINCT FROM i.units OR s.price IS DISTINCT FROM i.price "
        "OR s.promo IS DISTINCT FROM i.promo)"
    )
    with publish(path) as con:
        con.register("incoming", accepted)
        updated = scalar(
            con, f"SELECT count(*) FROM incoming i JOIN sales s ON {keys} WHERE {differs}"
        )
        unchanged = (
            scalar(con, f"SELECT count(*) FROM incoming i JOIN sales s ON {keys}") - updated
        )
        con.execute(f"DELETE FROM sales s USING incoming i WHERE {keys} AND {differs}")
        con.execute(
            "INSERT INTO sales BY NAME SELECT i.*, ? AS source, now() AS loaded_at "
            f"FROM incoming i WHERE NOT EXISTS (SELECT 1 FROM sales s WHERE {keys})",
            [source],
        )
        con.execute("DELETE FROM rejected_sales WHERE source = ?", [source])
        con.register("refused", rejected)
        con.execute(
            "INSERT INTO rejected_sales BY NAME "
            "SELECT *, ? AS source, now() AS rejected_at FROM refused",
            [source],
        )
    inserted = accepted.height - updated - unchanged
    return {
        "inserted": inserted,
        "updated": updated,
        "unchanged": unchanged,
        "rejected": rejected.height,
    }


def read_sales(path: Path, brands: list[str], as_of: date) -> pl.DataFrame:
    """Sales of the given brands up to and including the week of ``as_of``."""
    return query(
        path,
        "SELECT brand, market, product, ds, units FROM sales "
        "WHERE brand IN (SELECT unnest(?)) AND ds <= ? ORDER BY brand, market, product, ds",
        [brands, as_of],
    )


def read_series_sales(path: Path, series: pl.DataFrame) -> pl.DataFrame:
    """``brand, market, product, ds, units`` already stored for the given series (``brand,
    market, product`` rows); empty when the warehouse does not exist yet."""
    schema = {"brand": pl.String, "market": pl.String, "product": pl.String}
    empty = pl.DataFrame(schema={**schema, "ds": pl.Date, "units": pl.Float64})
    if series.is_empty() or not Path(path).exists():
        return empty
    keys = [series[k].to_list() for k in ("brand", "market", "product")]
    return query(
        path,
        "SELECT s.brand, s.market, s.product, s.ds, s.units FROM sales s JOIN ("
        "SELECT unnest(?) AS brand, unnest(?) AS market, unnest(?) AS product"
        ") k USING (brand, market, product)",
        keys,
    )
