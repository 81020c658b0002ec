"""Markets by ISO 3166 code, named groups of countries, and whose calendars each follows."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import polars as pl
import pycountry
from pydantic import BaseModel, ConfigDict, Field, ValidationError

EVERY_COUNTRY = "*"
_NAME = r"[a-z][a-z0-9_]*"
_SHARE_TOLERANCE = 1e-6


class MarketError(ValueError):
    """Raised on unknown markets or a bad markets file; one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _OwnMarket(_Frozen):
    description: str = ""
    follows: dict[str, float] = Field(min_length=1)


class _Group(_Frozen):
    description: str = ""
    countries: tuple[str, ...] = Field(min_length=1)
    follows: dict[str, float] | None = None


class _MarketsFile(_Frozen):
    markets: dict[str, _OwnMarket] = {}
    groups: dict[str, _Group] = {}
    events: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True)
class Markets:
    """The validated markets file.

    Attributes:
        source: File name, quoted in every message.
        groups: Group name → its country (or subdivision) codes.
        follows: Group or market of its own → calendar code → share (shares sum to 1).
        adoption: Event → the country codes, markets of their own or ``"*"`` it moves.
    """

    source: str
    groups: Mapping[str, tuple[str, ...]]
    follows: Mapping[str, Mapping[str, float]]
    adoption: Mapping[str, frozenset[str]]

    @property
    def own_markets(self) -> frozenset[str]:
        """Markets that are neither a country nor a group (travel retail)."""
        return frozenset(self.follows) - frozenset(self.groups)


def default_markets_file() -> Path:
    """config/markets.toml of the repo, or its packaged copy in an installed wheel."""
    repo_copy = Path(__file__).resolve().parents[3] / "config" / "markets.toml"
    if repo_copy.is_file():
        return repo_copy
    return Path(str(resources.files("forecast").joinpath("markets.toml")))


def iso_code_problem(code: str) -> str | None:
    """Why ``code`` is not an ISO 3166-1 alpha-2 country or ISO 3166-2 subdivision, or None."""
    # pycountry matches case-insensitively; codes in our files are upper case only.
    if code == code.upper():
        if len(code) == 2 and pycountry.countries.get(alpha_2=code) is not None:
            return None
        if "-" in code and pycountry.subdivisions.get(code=code) is not None:
            return None
    hint = f" (codes are upper case: {code.upper()!r})" if code != code.upper() else ""
    return f"{code!r} is not an ISO 3166-1 alpha-2 country code or ISO 3166-2 subdivision{hint}"


def load_markets(path: Path) -> Markets:
    """Read and validate a markets file (see config/markets.toml for its layout).

    Raises:
        MarketError: Every problem found, one line each naming the file, key and value.
    """
    try:
        raw = _MarketsFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MarketError([f"{path.name}: not valid TOML ({exc})"]) from exc
    except ValidationError as exc:
        raise MarketError(
            [f"{path.name}: key '{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in exc.errors()]
        ) from exc
    follows = {name: m.follows for name, m in raw.markets.items()}
    follows |= {name: g.follows or _equal_shares(g.countries) for name, g in raw.groups.items()}
    markets = Markets(
        source=path.name,
        groups={name: g.countries for name, g in raw.groups.items()},
        follows=follows,
        adoption={event: frozenset(where) for event, where in raw.events.items()},
    )
    problems = _file_problems(markets, raw)
    if problems:
        raise MarketError(problems)
    return markets


def _equal_shares(countries: tuple[str, ...]) -> dict[str, float]:
    unique = dict.fromkeys(countries)
    return {code: 1.0 / len(unique) for code in unique}


def _file_problems(markets: Markets, raw: _MarketsFile) -> list[str]:
    """Names, codes, shares and event entries of a parsed markets file."""
    src, problems = markets.source, []
    for name in [*raw.markets, *raw.groups]:
        if re.fullmatch(_NAME, name) is None:
            problems.append(f"{src}: key '{name}': market and group names are snake_case")
    for name in set(raw.markets) & set(raw.groups):
        problems.append(f"{src}: key '{name}': defined both under [markets] and [groups]")
    for name, group in raw.groups.items():
        for code in group.countries:
            if (why := iso_code_problem(code)) is not None:
                problems.append(f"{src}: groups.{name}.countries: {why}")
        if len(set(group.countries)) < len(group.countries):
            problems.append(f"{src}: groups.{name}.countries: a country is listed twice")
    explicit = {name: m.follows for name, m in raw.markets.items()}
    explicit |= {name: g.follows for name, g in raw.groups.items() if g.follows is not None}
    for name, shares in explicit.items():
        problems.extend(_share_problems(markets, name, shares))
    for event, where in raw.events.items():
        problems.extend(_adoption_problems(markets, event, where))
    return problems


def _share_problems(markets: Markets, name: str, shares: Mapping[str, float]) -> list[str]:
    """A ``follows`` table names known calendars (in the group) with shares summing to 1."""
    section = "groups" if name in markets.groups else "markets"
    key, problems = f"{markets.source}: {section}.{name}.follows", []
    for code, share in shares.items():
        if (why := iso_code_problem(code)) is not None:
            problems.append(f"{key}: {why}")
        elif section == "groups" and code not in markets.groups[name]:
            problems.append(f"{key}: {code!r} is not one of the group's countries")
        if share <= 0:
            problems.append(f"{key}: share of {code!r} must be positive, got {share}")
    if abs(sum(shares.values()) - 1.0) > _SHARE_TOLERANCE:
        problems.append(f"{key}: shares sum to {sum(shares.values()):.4g}, not 1")
    return problems


def _adoption_problems(markets: Markets, event: str, where: Sequence[str]) -> list[str]:
    key = f"{markets.source}: events.{event}"
    known = set(markets.groups) | markets.own_markets | {EVERY_COUNTRY}
    return [
        f"{key}: {why}"
        for entry in where
        if entry not in known and (why := iso_code_problem(entry)) is not None
    ]


def validate_markets(markets: Markets, names: Sequence[str], where: str) -> tuple[str, ...]:
    """Check a brand's market list: every name known, no country held by two of them.

    Args:
        markets: The markets file.
        names: The brand's markets (codes, groups or markets of their own).
        where: Prefix of each message, e.g. ``"maison_x.toml: key 'markets'"``.

    Returns:
        ``names`` as a tuple, unchanged.

    Raises:
        MarketError: One line per unknown, repeated or overlapping market.
    """
    problems: list[str] = []
    holder: dict[str, str] = {}
    known = set(markets.groups) | markets.own_markets
    for name in names:
        if name not in known and (why := iso_code_problem(name)) is not None:
            problems.append(f"{where}: {why}, nor a group or market of {markets.source}")
            continue
        for country in expand_market(markets, name):
            if country in holder:
                problems.append(f"{where}: {name!r} overlaps {holder[country]!r} on {country}")
                break
            holder[country] = name
    if problems:
        raise MarketError(problems)
    return tuple(names)


def expand_market(markets: Markets, name: str) -> tuple[str, ...]:
    """The country (or subdivision) codes a market holds; a market of its own holds itself."""
    return markets.groups.get(name, (name,))


def calendars_of(markets: Markets, name: str) -> dict[str, float]:
    """Whose holiday calendars a market follows: calendar code → share (summing to 1)."""
    return dict(markets.follows.get(name, {name: 1.0}))


def membership(markets: Markets, names: Sequence[str]) -> pl.DataFrame:
    """Which of a brand's markets holds each code: ``code, market`` (for mapping sales rows).

    A subdivision market (``US-CA``) holds its own code only; a country holds itself.
    """
    rows = [(code, name) for name in names for code in expand_market(markets, name)]
    return pl.DataFrame(rows, schema={"code": pl.String, "market": pl.String}, orient="row")
