"""Planner overrides: validated, superseded when a later one covers the same key, spread down.

An override names a scope at one level — ``brand``, plus optionally ``market``, ``category``
and ``product`` (each finer column needs the coarser ones) — a period ``start`` … ``end``
(any dates; the weeks holding them) and either ``value`` (the scope's units *per week*
during the period) or ``percent_change`` (of the statistical forecast, ≥ −100). It is spread
over the scope's series in proportion to the statistical forecast (evenly where that is 0),
so every level stays coherent; the statistical forecast itself is never changed. Overrides
apply to every run whose forecast weeks meet their period, until the period has passed or
they are withdrawn. Two overrides on the same key with overlapping periods: the later one
wins and the earlier is marked ``superseded``, naming the winner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any

import numpy as np
import polars as pl

from forecast.inputs.refusals import Check, refusal_reasons
from forecast.vocabulary import Level

SCOPE = ("brand", "market", "category", "product")
SCOPE_LEVELS: dict[int, Level] = {
    1: "brand",
    2: "brand_market",
    3: "category_market",
    4: "product_market",
}
TEXT = (*SCOPE, "start", "end", "value", "percent_change", "reason", "author")


class OverrideFileError(ValueError):
    """An override file lacks a required column: nothing of it can be loaded."""


@dataclass(frozen=True)
class ValidatedOverrides:
    """New overrides (typed like ``overrides``), refused rows (text, with reasons) and the
    existing overrides they supersede (``override_id, status_reason``)."""

    accepted: pl.DataFrame
    rejected: pl.DataFrame
    superseded: pl.DataFrame


def validate_overrides(
    raw: pl.DataFrame,
    keys: pl.DataFrame,
    first_week: date,
    active: pl.DataFrame,
    source: str,
    taken: Sequence[str] = (),
) -> ValidatedOverrides:
    """Check an override file against the latest forecast.

    Args:
        raw: The file as text (see ``inputs.files.read_table``).
        keys: ``brand, market, category, product`` of every series of the latest forecast.
        first_week: Its first forecast week: a period ending before it is in the past.
        active: Active overrides (``override_id, level, brand, …, period_start, period_end,
            created_at``), which a new one on the same key and weeks supersedes.
        source: The file name; ids are ``<file stem>-<row>``.
        taken: Ids already used (a file loaded again gets ``<file stem>-<row>-<n>``).

    Raises:
        OverrideFileError: Naming the file and the missing columns.
    """
    missing = [c for c in ("brand", "start", "end", "reason", "author") if c not in raw.columns]
    if missing:
        raise OverrideFileError(f"{source}: missing column(s) {missing}; found {raw.columns}")
    text = _as_text(raw)
    typed = _typed(text, _ids(source, text.height, set(taken)))
    checked = typed.join(
        _known_scopes(keys), on=list(SCOPE), how="left", nulls_equal=True
    ).with_columns(reasons=_reasons(first_week))
    valid = checked.filter(pl.col("reasons").list.len() == 0).drop("known_scope", "reasons")
    accepted, superseded = _supersede(valid, active)
    refused = checked.filter(pl.col("reasons").list.len() > 0).select(
        "row_number",
        *[c for c in TEXT if c != "reason"],  # the planner's reason is not kept for a refusal
        reason=pl.col("reasons").list.join("; "),
    )
    return ValidatedOverrides(
        accepted.with_columns(period_start=pl.max_horizontal("period_start", pl.lit(first_week))),
        refused.rename({"start": "period_start", "end": "period_end"}),
        superseded,
    )


def _as_text(raw: pl.DataFrame) -> pl.DataFrame:
    """Every file column as stripped text (empty = null), absent optional ones null."""
    return raw.select(
        pl.col(c).cast(pl.String).str.strip_chars().replace("", None)
        if c in raw.columns
        else pl.lit(None, pl.String).alias(c)
        for c in TEXT
    ).with_row_index("row_number", offset=1)


def _known_scopes(keys: pl.DataFrame) -> pl.DataFrame:
    """Every scope the latest forecast has, at each depth (brand; brand, market; …)."""
    parts = [
        keys.select(SCOPE[:n]).unique().with_columns(known_scope=pl.lit(n)) for n in SCOPE_LEVELS
    ]
    return pl.concat(parts, how="diagonal")


def _ids(source: str, n: int, taken: set[str]) -> list[str]:
    """``<file stem>-<row>``, with ``-<k>`` added when the file was loaded before."""
    stem = source.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    k = 1
    while any(f"{stem}-{row}{_load(k)}" in taken for row in range(1, n + 1)):
        k += 1
    return [f"{stem}-{row}{_load(k)}" for row in range(1, n + 1)]


def _load(k: int) -> str:
    return "" if k == 1 else f"-{k}"


def _typed(text: pl.DataFrame, ids: list[str]) -> pl.DataFrame:
    """Parsed values beside the text; the override id; the scope's depth and level."""
    depth = pl.sum_horizontal(pl.col(c).is_not_null() for c in SCOPE)
    gap = pl.any_horizontal(
        pl.col(a).is_null() & pl.col(b).is_not_null() for a, b in pairwise(SCOPE)
    )
    return text.with_columns(
        override_id=pl.Series(ids, dtype=pl.String),
        start_date=pl.col("start").str.to_date(strict=False),
        end_date=pl.col("end").str.to_date(strict=False),
        value_num=pl.col("value").cast(pl.Float64, strict=False),
        percent_num=pl.col("percent_change").str.strip_suffix("%").cast(pl.Float64, strict=False),
        depth=depth,
        gap=gap,
        level=depth.replace_strict(SCOPE_LEVELS, default=None, return_dtype=pl.String),
    ).with_columns(
        # The weeks holding them (Mondays; see ``inputs.calendar.week_start``).
        period_start=pl.col("start_date").dt.truncate("1w"),
        period_end=pl.col("end_date").dt.truncate("1w"),
    )


def _reasons(first_week: date) -> pl.Expr:
    """Every reason an override row is refused (empty when it is valid)."""
    scope = pl.concat_str(
        [pl.format(f"{c}={{}}", c) for c in SCOPE], separator=" ", ignore_nulls=True
    )
    checks = [
        (pl.col("brand").is_null(), pl.lit("empty brand")),
        (
            pl.col("gap"),
            pl.lit("scope skips a level: product needs category, category needs market"),
        ),
        (
            pl.col("brand").is_not_null() & ~pl.col("gap") & pl.col("known_scope").is_null(),
            pl.format("unknown key {} (not in the latest forecast)", scope),
        ),
        (pl.col("start_date").is_null(), pl.format("start '{}' is not a date", "start")),
        (pl.col("end_date").is_null(), pl.format("end '{}' is not a date", "end")),
        (pl.col("end_date") < pl.col("start_date"), pl.lit("end is before start")),
        (
            pl.col("period_end") < first_week,
            pl.format(f"period ends {{}}, before the first forecast week {first_week}", "end_date"),
        ),
        *_change_checks(),
        (pl.col("reason").is_null(), pl.lit("empty reason: say why")),
        (pl.col("author").is_null(), pl.lit("empty author: say who")),
    ]
    return refusal_reasons(checks)


def _change_checks() -> list[Check]:
    """``(refused when, reason)`` for the change itself: one of value and percent, numbers."""
    number = "value_num", "percent_num"
    return [
        (
            pl.col("value").is_null() == pl.col("percent_change").is_null(),
            pl.lit("give exactly one of value and percent_change"),
        ),
        (
            pl.col("value").is_not_null() & ~pl.col(number[0]).is_finite().fill_null(False),
            pl.format("value '{}' is not a number", "value"),
        ),
        (pl.col(number[0]) < 0, pl.format("negative value {}", number[0])),
        (
            pl.col("percent_change").is_not_null()
            & ~pl.col(number[1]).is_finite().fill_null(False),
            pl.format("percent_change '{}' is not a number", "percent_change"),
        ),
        (pl.col(number[1]) < -100, pl.format("percent_change {} is below -100 %", number[1])),
    ]


def _supersede(valid: pl.DataFrame, active: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """New rows as ``overrides`` rows (a later row on the same key and weeks supersedes an
    earlier one), and the active overrides they supersede."""
    rows = valid.select(
        "override_id",
        "level",
        *SCOPE,
        "period_start",
        "period_end",
        value="value_num",
        percent_change="percent_num",
        reason="reason",
        author="author",
        row_number=pl.col("row_number").cast(pl.Int64),
        order=pl.col("row_number").cast(pl.Int64),
    )
    # Existing overrides come before the file's rows, oldest first.
    old = active.sort("created_at").select(
        *rows.columns[:-1], order=pl.int_range(pl.len(), dtype=pl.Int64) - active.height
    )
    both = pl.concat([old, rows], how="vertical_relaxed")
    pairs = both.join(both, on=list(SCOPE), nulls_equal=True, suffix="_later").filter(
        (pl.col("order_later") > pl.col("order"))
        & (pl.col("period_start_later") <= pl.col("period_end"))
        & (pl.col("period_end_later") >= pl.col("period_start"))
    )
    winner = pairs.group_by("override_id").agg(
        by=pl.col("override_id_later").sort_by("order_later").last()
    )
    reason = pl.format("superseded by {} (same key, overlapping weeks; the later wins)", "by")
    lost = winner.select("override_id", status_reason=reason)
    new = (
        rows.drop("order")
        .join(lost, on="override_id", how="left")
        .with_columns(
            status=pl.when(pl.col("status_reason").is_null())
            .then(pl.lit("active"))
            .otherwise(pl.lit("superseded"))
        )
    )
    return new, lost.join(active.select("override_id"), on="override_id")


def apply_overrides(weekly: pl.DataFrame, overrides: pl.DataFrame) -> pl.DataFrame:
    """Bottom weekly forecasts with each active override spread over its scope and weeks.

    Args:
        weekly: Bottom (``product_market``) weekly rows: ``sector, brand, market, category,
            product, ds, yhat`` (the statistical forecast).
        overrides: Active overrides, applied coarse level first, then in file order.

    Returns:
        ``weekly`` plus ``final`` (≥ 0) and ``overridden``.
    """
    final = weekly["yhat"].to_numpy().astype(np.float64).copy()
    touched = np.zeros(weekly.height, dtype=bool)
    order = overrides.with_columns(
        depth=pl.col("level").replace_strict(_DEPTH, return_dtype=pl.Int32)
    )
    for row in order.sort("depth", "created_at", "row_number").iter_rows(named=True):
        mask = _in_scope(weekly, row)
        if not mask.any():
            continue
        final[mask] = _spread(weekly["ds"].to_numpy()[mask], final[mask], row)
        touched |= mask
    return weekly.with_columns(
        final=pl.Series(np.maximum(final, 0.0)), overridden=pl.Series(touched)
    )


_DEPTH = {level: n for n, level in SCOPE_LEVELS.items()}


def _in_scope(weekly: pl.DataFrame, row: dict[str, Any]) -> np.ndarray:
    cond = pl.col("ds").is_between(row["period_start"], row["period_end"])
    for c in SCOPE:
        if row[c] is not None:
            cond &= pl.col(c) == row[c]
    return weekly.select(cond)["ds"].to_numpy()


def _spread(ds: np.ndarray, current: np.ndarray, row: dict[str, Any]) -> np.ndarray:
    """New values of one override's cells: a percent scales them; a weekly value is shared
    in proportion to the current values (evenly when a week's total is 0)."""
    if row["percent_change"] is not None:
        return current * (1 + float(row["percent_change"]) / 100)
    out = current.copy()
    target = float(row["value"])
    for week in np.unique(ds):
        cells = ds == week
        total = current[cells].sum()
        out[cells] = current[cells] * target / total if total > 0 else target / cells.sum()
    return out


def applications(final: pl.DataFrame, overrides: pl.DataFrame) -> pl.DataFrame:
    """Per override: weeks it shaped in this run, Σ statistical and Σ final over its cells."""
    rows = []
    for row in overrides.iter_rows(named=True):
        mask = _in_scope(final, row)
        cells = final.filter(pl.Series(mask))
        if cells.is_empty():
            continue
        rows.append(
            {
                "override_id": row["override_id"],
                "weeks": cells["ds"].n_unique(),
                "statistical": float(cells["yhat"].sum()),
                "final": float(cells["final"].sum()),
            }
        )
    schema = {
        "override_id": pl.String,
        "weeks": pl.Int64,
        "statistical": pl.Float64,
        "final": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema)


def empty_overrides(columns: Sequence[str] = ()) -> pl.DataFrame:
    """No overrides (the frame ``apply_overrides`` accepts)."""
    text = ("override_id", "level", *SCOPE, "reason", "author", "status", "status_reason")
    schema: dict[str, pl.DataType] = {c: pl.String() for c in text}
    schema.update(
        period_start=pl.Date(),
        period_end=pl.Date(),
        value=pl.Float64(),
        percent_change=pl.Float64(),
        row_number=pl.Int64(),
        created_at=pl.Datetime("us"),
    )
    return pl.DataFrame(schema={k: v for k, v in schema.items() if not columns or k in columns})
