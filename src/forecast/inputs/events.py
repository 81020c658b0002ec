"""A brand's own events in: read a file as text, validate every row, accept or refuse it.

Columns ``brand, start, end, type`` and optionally ``market, category, product`` (a
narrower scope; empty = every series of the brand), ``magnitude`` (the planner's expected
uplift as a fraction: 0.3 = +30 %) and ``name``. A row is refused when its brand is
unknown, its market is not held by one of the brand's, its category or product is not the
brand's (no sales and no product-master row), a date is not a date, ``end`` is before
``start``, its type is not one of :data:`~forecast.vocabulary.BRAND_EVENT_TYPES`, or its
magnitude is not a number in ``(-1, 10]``. The same key (scope, type, start) twice: the
last row wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from forecast.inputs.config import BrandConfig
from forecast.inputs.files import mapped_columns
from forecast.inputs.markets import Markets, resolve_markets
from forecast.inputs.refusals import Check, last_row_wins, refusal_reasons
from forecast.vocabulary import BRAND_EVENT_TYPES

REQUIRED = ("brand", "start", "end", "type")
OPTIONAL = ("market", "category", "product", "magnitude", "name")
COLUMNS = (*REQUIRED, *OPTIONAL)
KEY = ("brand", "market", "category", "product", "type", "start")
MAX_MAGNITUDE = 10.0  # +1000 %: more is a percentage typed as a fraction
_ISO = "%Y-%m-%d"
# Accepted rows, typed like the ``events`` table: the parsed values under their own names.
_TYPED = [
    pl.col(f"{c}_value").alias(c) if c in ("start", "end", "magnitude") else pl.col(c)
    for c in ("brand", "market", "category", "product", "start", "end", "type", "magnitude", "name")
]


@dataclass(frozen=True)
class ValidatedEvents:
    """Rows that passed (typed like ``events``) and rows refused (raw text, with reasons)."""

    accepted: pl.DataFrame
    rejected: pl.DataFrame


def event_columns(raw: pl.DataFrame, mapping: Mapping[str, str], source: str) -> pl.DataFrame:
    """The file's columns mapped onto ours (``mapping``: ours → theirs), as text.

    Raises:
        forecast.inputs.files.IngestError: Naming the file and every required column it lacks.
    """
    renamed = mapped_columns(raw, mapping, source, REQUIRED)
    text = renamed.select(
        pl.col(c).cast(pl.String) if c in renamed.columns else pl.lit(None, pl.String).alias(c)
        for c in COLUMNS
    )
    return text.with_row_index("row_number", offset=1)


def validate_events(
    raw: pl.DataFrame,
    brands: Mapping[str, BrandConfig],
    markets: Markets,
    known: pl.DataFrame,
    date_format: str | None = None,
) -> ValidatedEvents:
    """Split text rows (see :func:`event_columns`) into accepted and refused.

    Args:
        raw: ``row_number`` plus the text columns.
        brands: Known brands.
        markets: The markets file (a row's market may be a country of a brand's group).
        known: ``brand, product, category`` of every product with sales or a master row.
        date_format: strftime format of ``start`` and ``end``; ISO by default.
    """
    blank = {c: pl.col(c).str.strip_chars().replace("", None) for c in COLUMNS}
    typed = raw.with_columns(**blank).with_columns(
        start_value=pl.col("start").str.to_date(date_format or _ISO, strict=False),
        end_value=pl.col("end").str.to_date(date_format or _ISO, strict=False),
        magnitude_value=pl.col("magnitude").cast(pl.Float64, strict=False),
    )
    held = {b: c.markets for b, c in brands.items()}
    scoped = typed.filter(pl.col("market").is_not_null())
    typed = typed.join(resolve_markets(markets, held, scoped), on=["brand", "market"], how="left")
    checked = typed.with_columns(reasons=refusal_reasons(_checks(brands, known, date_format)))
    valid = checked.filter(pl.col("reasons").list.len() == 0).with_columns(
        market=pl.coalesce("resolved", "market")
    )
    accepted, dup = last_row_wins(valid, KEY, "duplicate event: row {} of the file wins")
    rejected = pl.concat(
        [checked.filter(pl.col("reasons").list.len() > 0), dup], how="diagonal_relaxed"
    ).sort("row_number")
    return ValidatedEvents(
        accepted.select(_TYPED).sort("brand", "start"),
        rejected.select("row_number", *COLUMNS, reason=pl.col("reasons").list.join("; ")),
    )


def _checks(
    brands: Mapping[str, BrandConfig], known: pl.DataFrame, date_format: str | None
) -> list[Check]:
    """(refused when, reason) pairs over the typed columns, in the order reasons are listed."""
    products = {b: g["product"].to_list() for (b,), g in known.group_by("brand")}
    categories = {b: g["category"].unique().to_list() for (b,), g in known.group_by("brand")}
    of_brand = pl.col("brand").is_in(list(brands))
    example = "2026-06-01" if date_format is None else "a date in " + date_format
    return [
        (pl.col("brand").is_null(), pl.lit("empty brand")),
        (~of_brand, pl.format("unknown brand '{}'", "brand")),
        (pl.col("market_problem").is_not_null(), pl.col("market_problem")),
        (
            of_brand & pl.col("category").is_not_null() & ~_listed("category", categories),
            pl.format("category '{}' is not one of brand '{}' categories", "category", "brand"),
        ),
        (
            of_brand & pl.col("product").is_not_null() & ~_listed("product", products),
            pl.format(
                "product '{}' is not a product of brand '{}' (no sales and no product master row)",
                "product",
                "brand",
            ),
        ),
        *_value_checks(example),
    ]


def _value_checks(example: str) -> list[Check]:
    """Dates, their order, the type and the magnitude of a row."""
    return [
        *[
            (
                pl.col(f"{c}_value").is_null(),
                pl.format(f"{c} '{{}}' is not a date like {example}", c),
            )
            for c in ("start", "end")
        ],
        (
            pl.col("end_value") < pl.col("start_value"),
            pl.format("end {} is before start {}", "end_value", "start_value"),
        ),
        (
            ~pl.col("type").is_in(list(BRAND_EVENT_TYPES)) | pl.col("type").is_null(),
            pl.format(f"type '{{}}' is not one of {', '.join(BRAND_EVENT_TYPES)}", "type"),
        ),
        (
            pl.col("magnitude").is_not_null()
            & ~(
                pl.col("magnitude_value").is_finite()
                & (pl.col("magnitude_value") > -1)
                & (pl.col("magnitude_value") <= MAX_MAGNITUDE)
            ).fill_null(False),
            pl.format(
                "magnitude '{}' is not an uplift fraction above -1 and at most 10 (0.3 = +30 %)",
                "magnitude",
            ),
        ),
    ]


def _listed(column: str, allowed: dict[str, list[str]]) -> pl.Expr:
    """The row's value is among its brand's ``allowed`` values."""
    of_brand = pl.col("brand").replace_strict(allowed, default=[], return_dtype=pl.List(pl.String))
    return of_brand.list.contains(pl.col(column))
