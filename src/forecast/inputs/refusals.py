"""Rows refused with reasons: the checks every input file (sales, events, products,
overrides) applies, and the rule that the last row of a key wins."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import polars as pl

Check = tuple[pl.Expr, pl.Expr]  # (refused when, reason)


def refusal_reasons(checks: Iterable[Check]) -> pl.Expr:
    """Every reason whose condition holds for the row, in the order given (a null condition
    does not hold); an empty list when the row is valid."""
    return pl.concat_list(
        [pl.when(cond.fill_null(False)).then(text) for cond, text in checks]
    ).list.drop_nulls()


def last_row_wins(
    valid: pl.DataFrame, key: Sequence[str], reason: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(accepted, duplicates)`` of valid rows (with ``row_number``): of the rows of one
    ``key`` (nulls equal) the last in the file is accepted; the earlier ones get ``reasons``
    ``[reason]``, whose ``{}`` is the winning row's number."""
    last = valid.group_by(key).agg(keep=pl.col("row_number").max())
    dup = (
        valid.join(last, on=list(key), nulls_equal=True)
        .filter(pl.col("row_number") != pl.col("keep"))
        .with_columns(reasons=pl.concat_list(pl.format(reason, "keep")))
        .drop("keep")
    )
    return valid.join(dup.select("row_number"), on="row_number", how="anti"), dup
