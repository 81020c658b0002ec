"""Real sales in: read a file as text, validate every row, accept it or refuse it with a reason.

Input is long format ``brand, region, product, ds, units`` (optionally ``price, promo``),
read as text so nothing is lost to type inference. A row is refused when its brand is
unknown, its region is not one of the brand's, a key is empty, ``ds`` is not a date or not
a Monday (weeks start on Monday), ``ds`` is after the as-of date, or ``units`` is not a
finite number ≥ 0. When the same key appears more than once, the *last* row in the file
wins and the earlier ones are refused as duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from forecast.inputs.config import BrandConfig

REQUIRED = ("brand", "region", "product", "ds", "units")
OPTIONAL = ("price", "promo")


class IngestError(ValueError):
    """The file cannot be read as sales at all (missing column, unreadable format)."""


@dataclass(frozen=True)
class ValidatedSales:
    """Rows that passed (typed like ``sales``) and rows refused (raw text, with reasons)."""

    accepted: pl.DataFrame
    rejected: pl.DataFrame


def read_table(path: Path) -> pl.DataFrame:
    """A CSV or Parquet file as text columns (nothing lost to type inference).

    Raises:
        IngestError: Naming the file when it is missing or not CSV/Parquet.
    """
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
            return frame.select(pl.all().cast(pl.String))
        return pl.read_csv(path, infer_schema=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise IngestError(f"{path}: cannot read as {path.suffix or 'CSV'}: {exc}") from exc


def rename_columns(raw: pl.DataFrame, mapping: Mapping[str, str], source: str) -> pl.DataFrame:
    """Map the file's column names onto ours (``mapping``: our name → file's name).

    Raises:
        IngestError: Naming the file and every required column it lacks.
    """
    renamed = raw.rename({src: ours for ours, src in mapping.items() if src in raw.columns})
    missing = [c for c in REQUIRED if c not in renamed.columns]
    if missing:
        hint = ", ".join(f"--map {c}=<column>" for c in missing)
        raise IngestError(
            f"{source}: missing column(s) {missing}; found {raw.columns}. Map them with {hint}"
        )
    keep = [c for c in (*REQUIRED, *OPTIONAL) if c in renamed.columns]
    text = renamed.select(pl.col(c).cast(pl.String) for c in keep)
    return text.with_row_index("row_number", offset=1)


def validate_sales(
    raw: pl.DataFrame,
    brands: Mapping[str, BrandConfig],
    as_of: date | None = None,
    date_format: str | None = None,
) -> ValidatedSales:
    """Split text rows (see :func:`rename_columns`) into accepted and refused.

    Args:
        raw: ``row_number`` plus the text columns.
        brands: Known brands; a row's region must be one of its brand's.
        as_of: Rows after it are refused (a run replaying the past must not see them).
        date_format: strftime format of ``ds``; ISO dates by default.
    """
    regions = {b: list(c.regions) for b, c in brands.items()}
    typed = raw.with_columns(
        brand=pl.col("brand").str.strip_chars(),
        region=pl.col("region").str.strip_chars(),
        product=pl.col("product").str.strip_chars(),
        ds_value=pl.col("ds").str.strip_chars().str.to_date(date_format, strict=False),
        units_value=pl.col("units").str.strip_chars().cast(pl.Float64, strict=False),
    )
    known_regions = pl.col("brand").replace_strict(
        regions, default=None, return_dtype=pl.List(pl.String)
    )
    checks = [
        (pl.col("brand").is_null() | (pl.col("brand") == ""), pl.lit("empty brand")),
        (~pl.col("brand").is_in(list(brands)), pl.format("unknown brand '{}'", "brand")),
        (
            pl.col("brand").is_in(list(brands)) & ~known_regions.list.contains(pl.col("region")),
            pl.format("region '{}' is not one of brand '{}' regions", "region", "brand"),
        ),
        (pl.col("product").is_null() | (pl.col("product") == ""), pl.lit("empty product")),
        (pl.col("ds_value").is_null(), pl.format("ds '{}' is not a date", "ds")),
        (
            pl.col("ds_value").dt.weekday() != 1,
            pl.format("ds {} is not a Monday (weeks start on Monday)", "ds_value"),
        ),
        (
            pl.col("units_value").is_null() | ~pl.col("units_value").is_finite(),
            pl.format("units '{}' is not a number", "units"),
        ),
        (pl.col("units_value") < 0, pl.format("negative units {}", "units_value")),
    ]
    if as_of is not None:
        checks.append(
            (pl.col("ds_value") > as_of, pl.format("ds {} is after the as-of date", "ds_value"))
        )
    reasons = pl.concat_list(
        [pl.when(cond.fill_null(False)).then(text) for cond, text in checks]
    ).list.drop_nulls()
    checked = typed.with_columns(reasons=reasons)
    valid = checked.filter(pl.col("reasons").list.len() == 0)
    last = valid.group_by("brand", "region", "product", "ds_value").agg(
        keep=pl.col("row_number").max()
    )
    dup = valid.join(last, on=["brand", "region", "product", "ds_value"]).filter(
        pl.col("row_number") != pl.col("keep")
    )
    dup = dup.with_columns(
        reasons=pl.concat_list(pl.format("duplicate key: row {} of the file wins", "keep"))
    ).drop("keep")
    accepted = valid.join(dup.select("row_number"), on="row_number", how="anti")
    invalid = checked.filter(pl.col("reasons").list.len() > 0)
    rejected = pl.concat([invalid, dup], how="diagonal_relaxed").sort("row_number")
    return ValidatedSales(_typed(accepted), _refused(rejected))


def _typed(rows: pl.DataFrame) -> pl.DataFrame:
    cols = [
        "brand",
        "region",
        "product",
        pl.col("ds_value").alias("ds"),
        pl.col("units_value").alias("units"),
    ]
    if "price" in rows.columns:
        cols.append(pl.col("price").str.strip_chars().cast(pl.Float64, strict=False))
    else:
        cols.append(pl.lit(None, pl.Float64).alias("price"))
    if "promo" in rows.columns:
        flag = pl.col("promo").str.strip_chars().str.to_lowercase()
        cols.append(flag.is_in(["1", "true", "yes", "y", "t"]).alias("promo"))
    else:
        cols.append(pl.lit(None, pl.Boolean).alias("promo"))
    return rows.select(cols)


def _refused(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(
        "row_number",
        "brand",
        "region",
        "product",
        "ds",
        "units",
        reason=pl.col("reasons").list.join("; "),
    )
