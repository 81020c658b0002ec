"""A brand's own events in and out: ingested files merged by key, the generator's replaced."""

from pathlib import Path

import polars as pl

from forecast.engine.events import BRAND_EVENT_SCHEMA
from forecast.warehouse.store import publish, query, replace_refusals, scalar

# An event is known by its scope, type and first day: re-loading a file replaces, never adds.
_KEY = (
    "e.brand = i.brand AND e.market IS NOT DISTINCT FROM i.market "
    "AND e.category IS NOT DISTINCT FROM i.category AND e.product IS NOT DISTINCT FROM i.product "
    "AND e.type = i.type AND e.start_date = i.start_date"
)
_COLUMNS = "brand, market, category, product, start_date, end_date, type, magnitude, name"


def _stored(events: pl.DataFrame) -> pl.DataFrame:
    """Engine frames say ``start`` / ``end``; the table says ``start_date`` / ``end_date``
    (``end`` is an SQL keyword)."""
    return events.rename({"start": "start_date", "end": "end_date"})


def upsert_events(
    path: Path, accepted: pl.DataFrame, rejected: pl.DataFrame, source: str
) -> dict[str, int]:
    """Merge validated events (same key: the new row replaces the old) and record the
    refusals of ``source`` in ``rejected_events``, in one atomic publish.

    Returns:
        Counts: ``inserted``, ``replaced``, ``rejected``.
    """
    with publish(path) as con:
        con.register("incoming", _stored(accepted))
        replaced = int(scalar(con, f"SELECT count(*) FROM events e JOIN incoming i ON {_KEY}"))
        con.execute(f"DELETE FROM events e USING incoming i WHERE {_KEY}")
        con.execute(
            f"INSERT INTO events BY NAME SELECT {_COLUMNS}, ? AS source, now() AS loaded_at "
            "FROM incoming",
            [source],
        )
        con.unregister("incoming")
        replace_refusals(con, "rejected_events", _stored(rejected), source)
    return {
        "inserted": accepted.height - replaced,
        "replaced": replaced,
        "rejected": rejected.height,
    }


def replace_generated_events(path: Path, events: pl.DataFrame, source: str) -> int:
    """The generator's events replace the synthetic events of the brands it generated;
    ingested events of those brands stay."""
    with publish(path) as con:
        con.register("incoming", _stored(events))
        con.execute(
            "DELETE FROM events WHERE source LIKE 'synthetic:%' "
            "AND brand IN (SELECT DISTINCT brand FROM incoming)"
        )
        con.execute(
            f"INSERT INTO events BY NAME SELECT {_COLUMNS}, ? AS source, now() AS loaded_at "
            "FROM incoming",
            [source],
        )
        con.unregister("incoming")
    return events.height


def read_events(path: Path, brands: list[str]) -> pl.DataFrame:
    """Events of the given brands (``start``, ``end`` as in ``engine.events``)."""
    if not Path(path).exists():
        return pl.DataFrame(schema=BRAND_EVENT_SCHEMA)
    return query(
        path,
        'SELECT brand, market, category, product, start_date AS "start", end_date AS "end", '
        "type, magnitude, name FROM events WHERE brand IN (SELECT unnest(?)) "
        "ORDER BY brand, start_date, type",
        [brands],
    )
