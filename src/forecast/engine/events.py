"""Which events touch which series in which periods: moving holidays and the brand's own events.

A brand's *calendar* is one frame of rows ``unique_id, ds, event, weight, planned, label``:

* moving holidays of the series' market (``event`` = the holiday, weight its share of the
  market's calendars, half for a gifting lead week — see ``inputs.holidays``);
* the brand's events (``forecast ingest-events``) over every period they overlap, for every
  series in their scope (brand, and optionally market, category, product); ``event`` is
  the event's type, so uplifts are learned per type and pooled across brands; weight is
  the share of the period's days the event covers; ``planned`` is the planner's expected
  uplift on the log scale (``log1p(magnitude)``), used for forecast periods.

Stockouts are not uplifts: their periods are unknown (:func:`mark_stockouts`), so they
leave every estimate and every score, and the fits see the series' level there instead of
the censored sales.
"""

from __future__ import annotations

import polars as pl

from forecast.engine.series import series_id
from forecast.vocabulary import POLARS_INTERVAL, STOCKOUT, Frequency

CALENDAR_SCHEMA = {
    "unique_id": pl.String,
    "ds": pl.Date,
    "event": pl.String,
    "weight": pl.Float64,
    "planned": pl.Float64,
    "label": pl.String,
}
BRAND_EVENT_SCHEMA = {
    "brand": pl.String,
    "market": pl.String,
    "category": pl.String,
    "product": pl.String,
    "start": pl.Date,
    "end": pl.Date,
    "type": pl.String,
    "magnitude": pl.Float64,
    "name": pl.String,
}


def empty_calendar() -> pl.DataFrame:
    """A calendar without events (the product's behaviour with no holidays and no events)."""
    return pl.DataFrame(schema=CALENDAR_SCHEMA)


def empty_brand_events() -> pl.DataFrame:
    """An ``events`` frame with no rows."""
    return pl.DataFrame(schema=BRAND_EVENT_SCHEMA)


def calendar_of(
    sales: pl.DataFrame,
    holidays: pl.DataFrame,
    brand_events: pl.DataFrame | None = None,
    frequency: Frequency = "weekly",
    categories: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The calendar of the series in ``sales`` (``brand, market, product`` rows).

    Args:
        categories: ``brand, product, category`` placing category-scoped events (None:
            such events touch no series).

    See :func:`series_calendar` for the rest.
    """
    keys = sales.select("brand", "market", "product").unique().sort("brand", "market", "product")
    keys = keys.with_columns(series_id())
    if categories is not None:
        keys = keys.join(categories, on=["brand", "product"], how="left")
    events = empty_brand_events() if brand_events is None else brand_events
    return series_calendar(keys, holidays, events, frequency)


def series_calendar(
    keys: pl.DataFrame,
    holidays: pl.DataFrame,
    brand_events: pl.DataFrame,
    frequency: Frequency = "weekly",
) -> pl.DataFrame:
    """Every (series, period) an event touches, holidays and brand events together.

    Args:
        keys: ``unique_id, brand, market, product`` and optionally ``category`` (None: an
            event scoped to a category touches no series).
        holidays: ``event, market, ds, weight`` placed in the brand's periods.
        brand_events: Rows of ``events`` (see :data:`BRAND_EVENT_SCHEMA`).
        frequency: Periods of the series (``ds`` of weeks or months).

    Returns:
        Rows of :data:`CALENDAR_SCHEMA`.
    """
    on_holidays = keys.select("unique_id", "market").join(holidays, on="market")
    parts = [
        on_holidays.select(
            "unique_id", "ds", "event", "weight", planned=pl.lit(None, pl.Float64), label="event"
        ),
        _brand_rows(keys, brand_events, frequency),
    ]
    # Every column sorts: rows tied on the first three would follow the random order of
    # the keys, and the event uplifts sum over these rows in order.
    calendar = pl.concat(parts).select(list(CALENDAR_SCHEMA))
    return calendar.sort(list(CALENDAR_SCHEMA), nulls_last=True)


def _brand_rows(keys: pl.DataFrame, events: pl.DataFrame, frequency: Frequency) -> pl.DataFrame:
    """Brand events spread over the periods they overlap, for the series in their scope."""
    if events.is_empty():
        return empty_calendar()
    keyed = keys if "category" in keys.columns else keys.with_columns(category=pl.lit(None))
    scoped = _in_scope(events, keyed).with_columns(period=_period_start(pl.col("start"), frequency))
    periods = scoped.with_columns(
        ds=pl.date_ranges(
            "period", _period_start(pl.col("end"), frequency), interval=POLARS_INTERVAL[frequency]
        )
    ).explode("ds")
    ends = _period_end(pl.col("ds"), frequency)
    covered = pl.min_horizontal("end", ends) - pl.max_horizontal("start", "ds")
    days = ends - pl.col("ds")
    label = pl.concat_str("type", pl.lit(":"), pl.coalesce("name", pl.col("start").cast(pl.String)))
    return periods.select(
        "unique_id",
        "ds",
        event="type",
        weight=(covered.dt.total_days() + 1) / (days.dt.total_days() + 1),
        planned=pl.col("magnitude").log1p(),
        label=label,
    )


_SCOPE = ("market", "category", "product")


def _in_scope(events: pl.DataFrame, keys: pl.DataFrame) -> pl.DataFrame:
    """Each event with the ``unique_id`` of every series in its scope: the brand's series
    whose market, category and product equal the event's where it names one (an empty
    scope column spans all). Joined on the columns each event names, never event × series
    of the brand: a large brand with years of events would hold billions of rows."""
    named = [pl.col(c).is_not_null().alias(f"named_{c}") for c in _SCOPE]
    parts = []
    for pattern, group in events.with_columns(named).group_by(
        [f"named_{c}" for c in _SCOPE], maintain_order=True
    ):
        on = ["brand", *(c for c, used in zip(_SCOPE, pattern, strict=True) if used)]
        series = keys.select(*on, "unique_id")
        parts.append(group.select(list(BRAND_EVENT_SCHEMA)).join(series, on=on))
    return pl.concat(parts)  # events is not empty: one part at least


def _period_start(day: pl.Expr, frequency: Frequency) -> pl.Expr:
    return day.dt.month_start() if frequency == "monthly" else day.dt.truncate("1w")


def _period_end(start: pl.Expr, frequency: Frequency) -> pl.Expr:
    return start.dt.month_end() if frequency == "monthly" else start + pl.duration(days=6)


def mark_stockouts(series: pl.DataFrame, calendar: pl.DataFrame) -> pl.DataFrame:
    """Periods of a stockout are unknown, not demand: ``y`` null and ``gap = "stockout"``.

    Censored sales are not what customers wanted, so neither a profile nor a score reads
    them; the models see the series' level and offsets there instead (see
    :mod:`forecast.engine.imputation`), as for every unknown period.
    """
    out = calendar.filter(pl.col("event") == STOCKOUT).select("unique_id", "ds").unique()
    if out.is_empty():
        return series
    marked = series.join(out.with_columns(out=pl.lit(True)), on=["unique_id", "ds"], how="left")
    hit = pl.col("out").fill_null(False)
    gap = pl.col("gap") if "gap" in series.columns else pl.lit(None, pl.String)
    return marked.with_columns(
        y=pl.when(hit).then(None).otherwise(pl.col("y")),
        gap=pl.when(hit).then(pl.lit(STOCKOUT)).otherwise(gap),
    ).drop("out")


def applied_events(calendar: pl.DataFrame) -> pl.DataFrame:
    """``unique_id, ds, events``: the labels of every event touching a row, comma-separated."""
    return calendar.group_by("unique_id", "ds").agg(
        events=pl.col("label").unique().sort().str.join(", ")
    )
