"""Real sales in: every row of a sales file (read as text, see inputs.files) accepted or refused.

Input is long format ``brand, market, product, ds, units`` (optionally ``price``, ``revenue``
— the period's revenue, giving the price where none is given — and ``promo``;
``region``, the earlier name of ``market``, is still read), as text so nothing is lost to
type inference. A row's market may be one of its brand's markets or a country one of them
holds (``FR`` in a brand selling in ``europe``): rows of one series and period from several
countries of a group are summed. A row is refused when its brand is unknown, its market is
not a known code or none of the brand's markets holds it, a key is empty, ``ds`` is not a
date (ISO ``YYYY-MM-DD`` unless a date format is given: ``03/06/2024`` could be either day
or month first), not the start of one of the brand's periods (a Monday for weekly brands,
the first day of a month for monthly ones; a weekly brand whose dates are all first days of
months is refused as fed monthly data), before the brand's launch period, after the as-of
date or after the latest allowed date (today plus a week, given by the caller), or
``units`` is not a finite number of at most ``MAX_UNITS``. Units are net sales: a negative
period (returns beyond its sales) is accepted unless the brand's ``[sales] returns`` is
``refuse``, and refused when it is larger than everything the series sold in the
``RETURN_WINDOW_WEEKS`` weeks before it, net of earlier returns (in this file or already
loaded): nobody returns more than they bought, so such a number is a typo. When the same
key appears more than once, the *last* row in the file wins and the earlier ones are
refused as duplicates.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from forecast.inputs.calendar import labelled_week, month_start, week_start
from forecast.inputs.config import BrandConfig
from forecast.inputs.files import ISO, PROBE_DAYS, IngestError, check_path, mapped_columns
from forecast.inputs.markets import Markets, resolve_markets, shipped_markets
from forecast.inputs.refusals import Check, last_row_wins, refusal_reasons
from forecast.vocabulary import SERIES_KEYS, WeekLabel

REQUIRED = ("brand", "market", "product", "ds", "units")
OPTIONAL = ("price", "revenue", "promo")
_AMOUNTS = ("price", "revenue")  # optional: average selling price, or the week's revenue
EARLIER_NAMES = {"region": "market"}  # columns of earlier file layouts, still read
MAX_UNITS = 1e9  # one series, one week: more is a typo or an overflow, not a sale
RETURN_WINDOW_WEEKS = 52  # a return may not exceed what its series sold in this many weeks


@dataclass(frozen=True)
class ValidatedSales:
    """Rows that passed (typed like ``sales``) and rows refused (raw text, with reasons)."""

    accepted: pl.DataFrame
    rejected: pl.DataFrame


def check_file(path: Path, mapping: Mapping[str, str], encoding: str = "utf-8") -> None:
    """Cheap checks before a load starts: the file exists, reads, and has every column.

    Raises:
        IngestError: Naming the file and what is wrong with it.
    """
    check_path(path)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise IngestError(f"--encoding {encoding!r} is not a known text encoding") from None
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            columns = list(pl.read_parquet_schema(path))
        except (pl.exceptions.PolarsError, OSError) as exc:
            raise IngestError(f"{path}: cannot read as Parquet: {exc}") from exc
    else:
        with open(path, encoding=encoding, errors="replace", newline="") as fh:
            columns = next(csv.reader(fh), [])
        columns = [c.lstrip("\ufeff") for c in columns]
    rename_columns(pl.DataFrame(schema=dict.fromkeys(columns, pl.String)), mapping, str(path))


def rename_columns(raw: pl.DataFrame, mapping: Mapping[str, str], source: str) -> pl.DataFrame:
    """Map the file's column names onto ours (``mapping``: our name → file's name).

    Raises:
        IngestError: Naming the file and every required column it lacks.
    """
    renamed = mapped_columns(raw, mapping, source, REQUIRED, EARLIER_NAMES)
    absent = pl.lit(None, pl.String)  # an optional column the file lacks: empty on every row
    text = renamed.select(
        (pl.col(c).cast(pl.String) if c in renamed.columns else absent).alias(c)
        for c in (*REQUIRED, *OPTIONAL)
    )
    return text.with_row_index("row_number", offset=1)


def returned_series(raw: pl.DataFrame) -> pl.DataFrame:
    """``brand, market, product`` of the text rows with negative units: the series whose
    stored sales :func:`validate_sales` needs to bound their returns."""
    units = _number("units")
    keys = [pl.col(k).str.strip_chars() for k in SERIES_KEYS]
    return raw.filter(units < 0).select(keys).unique()


def validate_sales(
    raw: pl.DataFrame,
    brands: Mapping[str, BrandConfig],
    as_of: date | None = None,
    date_format: str | None = None,
    latest: date | None = None,
    markets: Markets | None = None,
    stored: pl.DataFrame | None = None,
    week_label: WeekLabel = "monday",
) -> ValidatedSales:
    """Split text rows (see :func:`rename_columns`) into accepted and refused.

    Args:
        raw: ``row_number`` plus the text columns.
        brands: Known brands; a row's market must be held by one of its brand's, its
            period not before the brand's launch, a negative period allowed by its ``[sales]``.
        as_of: Rows after it are refused (a run replaying the past must not see them).
        date_format: strftime format of ``ds``; ISO ``YYYY-MM-DD`` by default.
        latest: Rows after it are refused as future dates (the caller knows today).
        markets: The markets file (groups and their countries; default: the shipped one).
        stored: ``brand, market, product, ds, units`` already loaded for the series with
            returns (see :func:`returned_series`); a file row replaces a stored one.
        week_label: How weekly brands' dates stand for their weeks: ``monday`` (each is
            its week's Monday), ``start`` or ``end`` (its first or last day, any weekday,
            one weekday per brand in the file; see ``calendar.labelled_week``).

    Returns:
        Accepted rows keyed by the brand's market (rows of one group's countries summed),
        and the refused ones with every reason.
    """
    typed = raw.with_columns(
        brand=pl.col("brand").str.strip_chars(),
        market=pl.col("market").str.strip_chars(),
        product=pl.col("product").str.strip_chars(),
        ds_value=pl.col("ds").str.strip_chars().str.to_date(date_format or ISO, strict=False),
        units_value=_number("units"),
        **{f"{c}_value": _number(c) for c in _AMOUNTS},
    )
    held = {b: c.markets for b, c in brands.items()}
    resolved = resolve_markets(markets or shipped_markets(), held, typed)
    typed = typed.join(resolved, on=["brand", "market"], how="left")
    typed = typed.join(_file_dating(typed), on="brand", how="left").with_columns(
        file_day=pl.col("ds_value").dt.strftime("%A"),
        ds_value=pl.when(_is_weekly(brands))
        .then(labelled_week(pl.col("ds_value"), week_label))
        .otherwise(pl.col("ds_value")),
    )
    checks = _row_checks(brands, date_format) + _period_checks(brands, week_label)
    for limit, why in (
        (as_of, "is after the as-of date"),
        (latest, f"is in the future (after {latest})"),
    ):
        if limit is not None:
            checks.append((pl.col("ds_value") > limit, pl.format(f"ds {{}} {why}", "ds_value")))
    checked = typed.with_columns(reasons=refusal_reasons(checks))
    valid = checked.filter(pl.col("reasons").list.len() == 0)
    accepted, dup = last_row_wins(
        valid, ["brand", "market", "product", "ds_value"], "duplicate key: row {} of the file wins"
    )
    # Returns are bounded per series of the brand's market (a group's countries together).
    accepted = accepted.with_columns(market=pl.col("resolved"))
    oversized = _oversized_returns(accepted, stored)
    accepted = accepted.join(oversized.select("row_number"), on="row_number", how="anti")
    invalid = checked.filter(pl.col("reasons").list.len() > 0)
    rejected = pl.concat([invalid, dup, oversized], how="diagonal_relaxed").sort("row_number")
    return ValidatedSales(_summed(_typed(accepted)), _refused(rejected))


def _oversized_returns(accepted: pl.DataFrame, stored: pl.DataFrame | None) -> pl.DataFrame:
    """Accepted rows whose return exceeds what the series sold in the window before them,
    with that reason; the file's rows and the stored ones (file rows win) are the history."""
    returns = accepted.filter(pl.col("units_value") < 0)
    if returns.is_empty():
        return accepted.head(0).with_columns(reasons=pl.lit([], pl.List(pl.String)))
    keys = [*SERIES_KEYS, "ds"]
    file_rows = accepted.select(*SERIES_KEYS, ds="ds_value", units="units_value")
    history = file_rows
    if stored is not None and not stored.is_empty():
        kept = stored.select(*keys, pl.col("units").cast(pl.Float64))
        history = pl.concat([kept.join(file_rows, on=keys, how="anti"), file_rows])
    start = pl.col("ds_value") - pl.duration(weeks=RETURN_WINDOW_WEEKS)
    sold = (
        returns.select("row_number", *SERIES_KEYS, "ds_value")
        .join(history.rename({"ds": "past"}), on=list(SERIES_KEYS))
        .filter((pl.col("past") >= start) & (pl.col("past") < pl.col("ds_value")))
        .group_by("row_number")
        .agg(sold=pl.col("units").sum().clip(0.0))  # net: earlier returns are spent
    )
    reason = pl.format(
        f"units {{}}: a return larger than the {{}} units (net) the series sold in the "
        f"{RETURN_WINDOW_WEEKS} weeks before (a typo?)",
        "units_value",
        "sold",
    )
    return (
        returns.join(sold, on="row_number", how="left")
        .with_columns(pl.col("sold").fill_null(0.0))
        .filter(-pl.col("units_value") > pl.col("sold"))
        .with_columns(reasons=pl.concat_list(reason))
        .drop("sold")
    )


def _given(column: str) -> pl.Expr:
    """The row has a value in the optional ``column`` (a file without it has it empty)."""
    return pl.col(column).str.strip_chars().fill_null("") != ""


def _row_checks(brands: Mapping[str, BrandConfig], date_format: str | None) -> list[Check]:
    """(refused when, reason) pairs over the typed columns, in the order reasons are listed."""
    strict = [b for b, c in brands.items() if c.sales.returns == "refuse"]
    refuses_returns = pl.col("brand").is_in(strict)
    day_month = pl.col("ds").str.contains(r"^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\s*$")
    return [
        (pl.col("brand").is_null() | (pl.col("brand") == ""), pl.lit("empty brand")),
        (~pl.col("brand").is_in(list(brands)), pl.format("unknown brand '{}'", "brand")),
        (pl.col("market").is_null() | (pl.col("market") == ""), pl.lit("empty market")),
        (pl.col("market_problem").is_not_null(), pl.col("market_problem")),
        (pl.col("product").is_null() | (pl.col("product") == ""), pl.lit("empty product")),
        (
            pl.col("ds_value").is_null() & day_month & pl.lit(date_format is None),
            pl.format(
                "ds '{}' is ambiguous (day/month or month/day?): give --date-format, e.g. %d/%m/%Y",
                "ds",
            ),
        ),
        (
            pl.col("ds_value").is_null() & ~(day_month & pl.lit(date_format is None)),
            pl.format(
                f"ds '{{}}' is not a date like {PROBE_DAYS[0].strftime(date_format or ISO)}",
                "ds",
            ),
        ),
        (
            pl.col("units_value").is_null() | ~pl.col("units_value").is_finite(),
            pl.format("units '{}' is not a number", "units"),
        ),
        (
            (pl.col("units_value") < 0) & refuses_returns,
            pl.format(
                "negative units {} (brand '{}' refuses returns: [sales] returns = \"refuse\")",
                "units_value",
                "brand",
            ),
        ),
        *(
            (
                _given(c) & (pl.col(f"{c}_value").is_null() | ~(pl.col(f"{c}_value") >= 0)),
                pl.format(f"{c} '{{}}' is not a number ≥ 0", pl.col(c).fill_null("")),
            )
            for c in _AMOUNTS
        ),
        (
            pl.col("units_value").abs() > MAX_UNITS,
            pl.format(f"units {{}} is beyond the sanity bound ±{MAX_UNITS:.0e}", "units"),
        ),
    ]


# A weekly brand's file dated only by first days of months: monthly data sent by mistake.
_FED_MONTHLY = pl.format(
    "brand '{}' is weekly but all its dates in this file are first days of months "
    '(monthly data?): set frequency = "monthly" in its config, or send weeks dated by '
    "their Monday",
    "brand",
)


def _is_weekly(brands: Mapping[str, BrandConfig]) -> pl.Expr:
    return pl.col("brand").is_in([b for b, c in brands.items() if c.frequency == "weekly"])


def _period_checks(brands: Mapping[str, BrandConfig], week_label: WeekLabel) -> list[Check]:
    """A row is dated by the start of one of its brand's periods (or, with a ``week_label``,
    by the weekday its brand's other weeks in the file are), not before its launch."""
    frequency = pl.col("brand").replace_strict(
        {b: c.frequency for b, c in brands.items()}, default=None, return_dtype=pl.String
    )
    starts = {
        b: month_start(c.launch_date) if c.frequency == "monthly" else week_start(c.launch_date)
        for b, c in brands.items()
    }
    launch = pl.col("brand").replace_strict(starts, default=None, return_dtype=pl.Date)
    weekly, monthly = frequency == "weekly", frequency == "monthly"
    return [
        (weekly & pl.col("monthly_looking"), _FED_MONTHLY),
        (
            weekly & ~pl.col("monthly_looking") & (pl.col("ds_value").dt.weekday() != 1),
            pl.format(
                "ds {} is not a Monday (weeks start on Monday; a file that dates each week by "
                "its last or first day says so with --week-label end or start)",
                "ds_value",
            ),
        ),
        (
            weekly
            & ~pl.col("monthly_looking")
            & pl.lit(week_label != "monday")
            & (pl.col("file_day") != pl.col("usual_day")),
            pl.format(
                "ds {} is a {}; brand '{}' dates its other weeks in this file by {}s",
                pl.col("ds").str.strip_chars(),
                "file_day",
                "brand",
                "usual_day",
            ),
        ),
        (
            monthly & (pl.col("ds_value").dt.day() != 1),
            pl.format(
                "ds {} is not the first day of a month (brand '{}' is monthly: a month is "
                "dated by its first day)",
                "ds_value",
                "brand",
            ),
        ),
        (
            pl.col("ds_value") < launch,
            pl.format(
                "ds {} is before brand '{}' launch {} {}",
                "ds_value",
                "brand",
                pl.when(monthly).then(pl.lit("month")).otherwise(pl.lit("week")),
                launch,
            ),
        ),
    ]


def _file_dating(typed: pl.DataFrame) -> pl.DataFrame:
    """How each brand's dates in the file look: ``monthly_looking`` (at least three dates,
    all first days of months) and ``usual_day``, the weekday most of them fall on."""
    dated = pl.col("ds_value").drop_nulls()
    return typed.group_by("brand").agg(
        monthly_looking=(dated.n_unique() >= 3) & (dated.dt.day() == 1).all(),
        usual_day=dated.dt.strftime("%A").mode().sort().first(),
    )


def _number(column: str) -> pl.Expr:
    """A text column as a number: null where it is empty or not a number."""
    return pl.col(column).str.strip_chars().cast(pl.Float64, strict=False)


def _typed(rows: pl.DataFrame) -> pl.DataFrame:
    # A revenue column gives the average price where the file gives no price.
    from_revenue = pl.when(pl.col("units_value") > 0).then(
        pl.col("revenue_value") / pl.col("units_value")
    )
    cols = [
        "brand",
        pl.col("resolved").alias("market"),
        "product",
        pl.col("ds_value").alias("ds"),
        pl.col("units_value").alias("units"),
        pl.coalesce(pl.col("price_value"), from_revenue).alias("price"),
    ]
    flag = pl.col("promo").str.strip_chars().str.to_lowercase()
    on = flag.is_in(["1", "true", "yes", "y", "t"])
    cols.append(pl.when(_given("promo")).then(on).alias("promo"))
    return rows.select(cols)


def _summed(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows of one series and period (several countries of one group) summed into one:
    units added, price weighted by units, on promotion if any was."""
    units = pl.col("units")
    weighted = (pl.col("price") * units).sum() / units.filter(pl.col("price").is_not_null()).sum()
    return (
        rows.group_by("brand", "market", "product", "ds", maintain_order=True)
        .agg(
            units.sum(),
            price=pl.when(pl.len() == 1).then(pl.col("price").first()).otherwise(weighted),
            promo=pl.col("promo").max(),
        )
        .with_columns(pl.col("price").fill_nan(None))
    )


def _refused(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(
        "row_number",
        "brand",
        "market",
        "product",
        "ds",
        "units",
        reason=pl.col("reasons").list.join("; "),
    )
