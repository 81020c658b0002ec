"""Input files read as text: CSV (any encoding) or Parquet, columns mapped onto ours.

Every input file (sales, events, the product master, overrides) is read here as text
columns, so nothing is lost to type inference and each reader validates its own rows.
A file that cannot be read at all raises :class:`IngestError` naming the file, the line
or the option at fault.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date, time
from pathlib import Path

import polars as pl

ISO = "%Y-%m-%d"
PROBE_DAYS = (date(2024, 6, 3), date(2025, 11, 17))  # day ≠ month, both > 12 apart


class IngestError(ValueError):
    """An input file cannot be read at all (missing, not text, ragged, a column missing)."""


def read_table(path: Path, encoding: str = "utf-8") -> pl.DataFrame:
    """A CSV or Parquet file as text columns (nothing lost to type inference).

    Raises:
        IngestError: Naming the file (and the line, when one is at fault) when it is
            missing, not CSV/Parquet, not text in ``encoding``, or ragged.
    """
    check_path(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return _parquet_as_text(pl.read_parquet(path))
        return pl.read_csv(io.BytesIO(_csv_bytes(path, encoding)), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        raise IngestError(f"{path}: {_csv_problem(path, encoding, exc)}") from exc
    except OSError as exc:
        raise IngestError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def check_date_format(date_format: str | None) -> None:
    """A ``--date-format`` must read back the dates it writes (year, month and day).

    Raises:
        IngestError: Naming the format and giving an example of a valid one.
    """
    if date_format is None:
        return
    written = [d.strftime(date_format) for d in PROBE_DAYS]
    read = pl.Series(written).str.to_date(date_format, strict=False).to_list()
    if read != list(PROBE_DAYS):
        raise IngestError(
            f"--date-format {date_format!r} does not give year, month and day of a date "
            "(e.g. %d/%m/%Y or %m/%d/%Y)"
        )


def check_path(path: Path) -> None:
    """Raise :class:`IngestError` unless ``path`` is a file."""
    if path.is_dir():
        raise IngestError(f"{path}: is a folder, not a CSV or Parquet file")
    if not path.is_file():
        raise IngestError(f"{path}: no such file")


def _csv_bytes(path: Path, encoding: str) -> bytes:
    """The file as UTF-8 bytes; a byte that is not ``encoding`` text names its line."""
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise IngestError(
            f"{path}: line {line} is not {encoding} text (byte {data[exc.start]:#04x}); "
            "give the file's encoding, e.g. --encoding latin-1"
        ) from None
    except LookupError:
        raise IngestError(f"--encoding {encoding!r} is not a known text encoding") from None
    return text.lstrip("\ufeff").encode("utf-8")


def _csv_problem(path: Path, encoding: str, exc: Exception) -> str:
    """What is wrong with a CSV polars refused, in the user's terms (line, fields)."""
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        rows = csv.reader(fh)
        width = len(next(rows, []))
        for line, row in enumerate(rows, start=2):
            if row and len(row) != width:
                return f"line {line} has {len(row)} fields, the header has {width}"
    return f"cannot read as CSV: {str(exc).splitlines()[0]}"


def _parquet_as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text; a timestamp at midnight is its date (how many tools store dates)."""
    out = []
    for name, dtype in frame.schema.items():
        col = pl.col(name)
        if dtype.is_temporal() and isinstance(dtype, pl.Datetime):
            at_midnight = col.dt.time() == time(0)
            col = (
                pl.when(at_midnight)
                .then(col.dt.date().cast(pl.String))
                .otherwise(col.cast(pl.String))
            )
        out.append(col.cast(pl.String).alias(name))
    return frame.select(out)


def mapped_columns(
    raw: pl.DataFrame,
    mapping: Mapping[str, str],
    source: str,
    required: Sequence[str],
    earlier: Mapping[str, str] | None = None,
) -> pl.DataFrame:
    """``raw`` with the file's column names mapped onto ours (``mapping``: ours → file's),
    and ``earlier`` names (earlier name → ours) read as ours when ours is absent.

    Raises:
        IngestError: Naming the file and every ``required`` column it lacks.
    """
    renamed = raw.rename({src: ours for ours, src in mapping.items() if src in raw.columns})
    if earlier and not set(earlier.values()) & set(renamed.columns):
        renamed = renamed.rename(
            {old: new for old, new in earlier.items() if old in renamed.columns}
        )
    missing = [c for c in required if c not in renamed.columns]
    if missing:
        hint = ", ".join(f"--map {c}=<column>" for c in missing)
        raise IngestError(
            f"{source}: missing column(s) {missing}; found {raw.columns}. Map them with {hint}"
        )
    return renamed
