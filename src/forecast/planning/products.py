"""The product master: each SKU's category, collection, launch date and price band, validated.

A brand with a master row for any product is *mastered*: its sales must name products of
the master, and its hierarchy's category comes from the master. A brand without one keeps
working as before: a product's category is its id without the trailing ``_<number>``
(``cognac_xo_007`` → ``cognac_xo``), the convention of every synthetic and legacy id.
A master row is refused when it would move a product that already has sales to another
category than the master gave it before: that would change the hierarchy under forecasts
already published.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from forecast.inputs.config import BrandConfig
from forecast.inputs.ingest import ValidatedSales
from forecast.inputs.refusals import last_row_wins, refusal_reasons
from forecast.vocabulary import PRICE_BANDS

REQUIRED = ("brand", "product", "category")
OPTIONAL = ("collection", "launch_date", "price_band")
COLUMNS = (*REQUIRED, *OPTIONAL)
SCHEMA: dict[str, pl.DataType] = {
    "brand": pl.String(),
    "product": pl.String(),
    "category": pl.String(),
    "collection": pl.String(),
    "launch_date": pl.Date(),
    "price_band": pl.String(),
}
_ID = r"^[a-z0-9_]+$"


class ProductFileError(ValueError):
    """A product file lacks a required column: nothing of it can be loaded."""


@dataclass(frozen=True)
class ValidatedProducts:
    """Master rows that passed (typed like ``product``) and refused rows (text, with reasons)."""

    accepted: pl.DataFrame
    rejected: pl.DataFrame


def category_from_id(product: pl.Expr) -> pl.Expr:
    """The category of an unmastered product: its id without the trailing ``_<number>``."""
    return product.str.replace(r"_[0-9]+$", "")


def known_products(sold: pl.DataFrame, master: pl.DataFrame) -> pl.DataFrame:
    """``brand, product, category`` of every product with a master row or with sales (those
    without a master row in the category of their id, see :func:`category_from_id`)."""
    mastered = master.select("brand", "product", "category")
    rest = sold.join(mastered, on=["brand", "product"], how="anti").with_columns(
        category=category_from_id(pl.col("product"))
    )
    return pl.concat([mastered, rest.select(mastered.columns)]).unique()


def validate_products(
    raw: pl.DataFrame,
    brands: Mapping[str, BrandConfig],
    master: pl.DataFrame,
    sold: pl.DataFrame,
    source: str,
) -> ValidatedProducts:
    """Split a product file (text columns, see ``inputs.files.read_table``) into rows.

    Args:
        raw: The file as text; ``brand, product, category`` required.
        brands: Known brands.
        master: The current ``product`` table (``brand, product, category``).
        sold: ``brand, product`` pairs that have sales.
        source: The file name, for messages.

    Raises:
        ProductFileError: A required column is missing (naming the file and the columns).
    """
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise ProductFileError(f"{source}: missing column(s) {missing}; found {raw.columns}")
    text = raw.select(
        pl.col(c).cast(pl.String).str.strip_chars()
        if c in raw.columns
        else pl.lit(None, pl.String).alias(c)
        for c in COLUMNS
    ).with_row_index("row_number", offset=1)
    typed = text.with_columns(launch_value=pl.col("launch_date").str.to_date(strict=False))
    previous = master.select("brand", "product", old_category="category").join(
        sold.select("brand", "product").unique(), on=["brand", "product"]
    )
    checked = typed.join(previous, on=["brand", "product"], how="left").with_columns(
        reasons=_reasons(list(brands))
    )
    valid = checked.filter(pl.col("reasons").list.len() == 0)
    accepted, dup = last_row_wins(valid, ["brand", "product"], "duplicate product: row {} wins")
    refused = pl.concat([checked.filter(pl.col("reasons").list.len() > 0), dup])
    return ValidatedProducts(_typed(accepted), _refused(refused.sort("row_number")))


def _reasons(brands: list[str]) -> pl.Expr:
    """Every reason a master row is refused (an empty list when it is valid)."""
    empty = {c: pl.col(c).is_null() | (pl.col(c) == "") for c in ("brand", "product", "category")}
    checks = [
        (empty["brand"], pl.lit("empty brand")),
        (
            ~empty["brand"] & ~pl.col("brand").is_in(brands),
            pl.format("unknown brand '{}'", "brand"),
        ),
        (empty["product"], pl.lit("empty product")),
        (empty["category"], pl.lit("empty category")),
        (
            ~empty["category"] & ~pl.col("category").str.contains(_ID),
            pl.format("category '{}' is not snake_case (a-z, 0-9, _)", "category"),
        ),
        (
            pl.col("launch_date").is_not_null() & pl.col("launch_value").is_null(),
            pl.format("launch_date '{}' is not a date", "launch_date"),
        ),
        (
            pl.col("price_band").is_not_null() & ~pl.col("price_band").is_in(PRICE_BANDS),
            pl.format(f"price_band '{{}}' is not one of {', '.join(PRICE_BANDS)}", "price_band"),
        ),
        (
            pl.col("old_category").is_not_null() & (pl.col("old_category") != pl.col("category")),
            pl.format(
                "category '{}' would move product '{}' out of '{}', where its sales already are",
                "category",
                "product",
                "old_category",
            ),
        ),
    ]
    return refusal_reasons(checks)


def _typed(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(
        "brand", "product", "category", "collection", "price_band", launch_date="launch_value"
    ).select(*SCHEMA)


def _refused(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select("row_number", *COLUMNS, reason=pl.col("reasons").list.join("; "))


def refuse_unmastered(checked: ValidatedSales, master: pl.DataFrame) -> ValidatedSales:
    """Move sales rows of mastered brands whose product is not in the master to the refused.

    Args:
        checked: Validated sales (see ``inputs.ingest.validate_sales``).
        master: The ``product`` table.
    """
    mastered = checked.accepted.join(master.select("brand").unique(), on="brand")
    unknown = mastered.join(master.select("brand", "product"), on=["brand", "product"], how="anti")
    if unknown.is_empty():
        return checked
    reason = pl.format(
        "product '{}' is not in brand '{}' product master "
        "(add it with `forecast ingest-products FILE`)",
        "product",
        "brand",
    )
    refused = unknown.select(
        row_number=pl.lit(None, checked.rejected.schema["row_number"]),
        brand="brand",
        market="market",
        product="product",
        ds=pl.col("ds").cast(pl.String),
        units=pl.col("units").cast(pl.String),
        reason=reason,
    )
    keys = ["brand", "market", "product", "ds"]
    accepted = checked.accepted.join(unknown.select(keys), on=keys, how="anti")
    both = [checked.rejected, refused.select(checked.rejected.columns)]
    return ValidatedSales(accepted, pl.concat(both, how="vertical_relaxed"))


def hierarchy_of(
    series: pl.DataFrame, master: pl.DataFrame, sectors: Mapping[str, str]
) -> pl.DataFrame:
    """Every series' place in the hierarchy: ``brand, market, product, sector, category``.

    The category is the master's, or (unmastered brand) the product id's prefix;
    ``category_source`` says which.
    """
    keys = series.select("brand", "market", "product").unique()
    return (
        keys.join(
            master.select("brand", "product", "category"), on=["brand", "product"], how="left"
        )
        .with_columns(
            category_source=pl.when(pl.col("category").is_null())
            .then(pl.lit("product id"))
            .otherwise(pl.lit("master")),
            category=pl.coalesce("category", category_from_id(pl.col("product"))),
            sector=pl.col("brand").replace_strict(dict(sectors), return_dtype=pl.String),
        )
        .sort("brand", "market", "product")
    )


def empty_master() -> pl.DataFrame:
    """A ``product`` table with no rows."""
    return pl.DataFrame(schema=SCHEMA)


def empty_rejections() -> pl.DataFrame:
    """A ``rejected_products`` frame with no rows."""
    text = {c: pl.String() for c in COLUMNS}
    return pl.DataFrame(schema={"row_number": pl.UInt32(), **text, "reason": pl.String()})
