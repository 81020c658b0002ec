"""Brand configs: every problem reported at once, with file and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forecast.inputs.config import ConfigError, brand_json_schema, load_brands
from forecast.vocabulary import SECTORS
from tests.conftest import brand_toml

REPO = Path(__file__).resolve().parents[1]


def test_repo_configs_cover_every_sector_with_three_brands() -> None:
    brands = load_brands(REPO / "config" / "brands")
    assert len(brands) >= 20
    per_sector = {s: sum(b.sector == s for b in brands.values()) for s in SECTORS}
    assert min(per_sector.values()) >= 3, per_sector
    assert any(b.launch_date.year >= 2026 for b in brands.values()), "no young brand"


def test_loads_valid_dir(config_dir: Path) -> None:
    brands = load_brands(config_dir)
    assert list(brands) == sorted(brands)
    assert brands["wines_a"].horizon == 13
    assert brands["wines_a"].pool == "wines_spirits"


def test_every_problem_is_listed_with_file_and_key(config_dir: Path) -> None:
    (config_dir / "bad_sector.toml").write_text(
        brand_toml("bad_sector", "wines_spirits").replace(
            'sector = "wines_spirits"', 'sector = "spirits"'
        )
    )
    (config_dir / "zero_h.toml").write_text(brand_toml("zero_h", "wines_spirits", horizon=0))
    (config_dir / "broken.toml").write_text("name = \n")
    (config_dir / "typo.toml").write_text(brand_toml("typo", "wines_spirits", horizn=13))
    (config_dir / "dup.toml").write_text('brand = "wines_a"\n' + brand_toml("dup", "wines_spirits"))
    with pytest.raises(ConfigError) as info:
        load_brands(config_dir)
    text = str(info.value)
    assert len(info.value.problems) == 5, text
    assert "bad_sector.toml: key 'sector'" in text
    assert "zero_h.toml: key 'horizon'" in text and "greater than 0" in text
    assert "broken.toml: not valid TOML" in text
    assert "typo.toml: key 'horizn'" in text
    assert (
        "dup.toml: key 'brand': duplicate brand id 'wines_a', already defined by wines_a.toml"
        in text
    )


def test_nested_keys_are_named(config_dir: Path) -> None:
    (config_dir / "nested.toml").write_text(
        brand_toml("nested", "wines_spirits", model={"candidates": ["ets", "prophet"]})
    )
    with pytest.raises(ConfigError, match=r"nested.toml: key 'model.candidates.1'"):
        load_brands(config_dir)


def test_sales_rules_are_checked_with_file_and_key(config_dir: Path) -> None:
    (config_dir / "gaps.toml").write_text(
        brand_toml("gaps", "wines_spirits", sales={"missing_weeks": "skip", "returns": "floor"})
    )
    (config_dir / "idle.toml").write_text(
        brand_toml("idle", "wines_spirits", sales={"inactive_after_weeks": 0})
    )
    with pytest.raises(ConfigError) as info:
        load_brands(config_dir)
    text = str(info.value)
    assert len(info.value.problems) == 2, text
    assert "gaps.toml: key 'sales.missing_weeks': Input should be 'zero', 'unknown' or 'auto'" in (
        text
    )
    assert "idle.toml: key 'sales.inactive_after_weeks'" in text


def test_empty_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no brand files"):
        load_brands(tmp_path)


def test_config_hash_changes_with_settings(config_dir: Path) -> None:
    before = load_brands(config_dir)["wines_a"].config_hash
    path = config_dir / "wines_a.toml"
    path.write_text(
        path.read_text().replace("launch_date = 2015-01-05", "launch_date = 2015-01-12")
    )
    assert load_brands(config_dir)["wines_a"].config_hash != before


def test_shipped_json_schema_is_current() -> None:
    shipped = json.loads((REPO / "config" / "brand.schema.json").read_text())
    assert shipped == brand_json_schema(), (
        "run `forecast schema` to refresh config/brand.schema.json"
    )


def test_a_folder_named_like_a_brand_file_is_one_problem(config_dir: Path) -> None:
    (config_dir / "x.toml").mkdir()
    with pytest.raises(ConfigError) as info:
        load_brands(config_dir)
    assert info.value.problems == ["x.toml: is a folder, not a brand file"]


def test_a_utf8_bom_loads(config_dir: Path) -> None:
    text = brand_toml("bom_a", "wines_spirits")
    (config_dir / "bom_a.toml").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    assert load_brands(config_dir)["bom_a"].sector == "wines_spirits"


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"horizon": "true"}, "key 'horizon': Input should be a valid integer"),
        ({"horizon": 13.0}, "key 'horizon': Input should be a valid integer"),
        ({"model": {"candidates": []}}, "key 'model.candidates': Tuple should have at least 1"),
        (
            {"model": {"intermittent_candidates": []}},
            "key 'model.intermittent_candidates': Tuple should have at least 1",
        ),
        ({"model": {"backtest_windows": "true"}}, "key 'model.backtest_windows': Input should be"),
    ],
)
def test_strict_types_refuse_booleans_and_empty_lists(
    config_dir: Path,
    extra: dict,
    problem: str,  # type: ignore[type-arg]
) -> None:
    text = brand_toml("strict", "wines_spirits", **extra).replace('"true"', "true")
    (config_dir / "strict.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_brands(config_dir)
    assert any(p.startswith(f"strict.toml: {problem}") for p in info.value.problems), info.value


@pytest.mark.parametrize("stem", ["Montres_Atlas", "montres-atlas"])
def test_file_names_say_what_a_brand_id_is(config_dir: Path, stem: str) -> None:
    (config_dir / f"{stem}.toml").write_text(brand_toml("x", "watches_jewelry"))
    with pytest.raises(ConfigError) as info:
        load_brands(config_dir)
    assert info.value.problems == [
        f"{stem}.toml: brand ids (file names) use lowercase letters, digits and _; "
        "rename it, e.g. montres_atlas.toml"
    ]


def test_a_boolean_is_not_a_number_in_synthetic_settings(config_dir: Path) -> None:
    path = config_dir / "wines_a.toml"
    path.write_text(path.read_text().replace("volume = 80", "volume = true"))
    with pytest.raises(ConfigError, match=r"wines_a.toml: key 'synthetic.volume': Input should"):
        load_brands(config_dir)


def _real_brand(**keys: str) -> str:
    """A brand of ingested sales only: no [[categories]], no [synthetic]."""
    lines = ['name = "Real"', 'sector = "perfumes_cosmetics"', "launch_date = 2020-01-06"]
    return "\n".join(lines + [f"{k} = {v}" for k, v in keys.items()]) + "\n"


def test_a_brand_of_real_sales_needs_no_demo_keys(tmp_path: Path) -> None:
    folder = tmp_path / "brands"
    folder.mkdir()
    (folder / "real.toml").write_text(
        _real_brand(markets='["FR", "AE", "CN"]', frequency='"monthly"')
    )
    brand = load_brands(folder)["real"]
    assert brand.markets == ("FR", "AE", "CN") and brand.categories == ()
    assert brand.frequency == "monthly" and brand.horizon == 12  # a year of months by default


def test_regions_is_read_as_markets_and_unknown_markets_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "brands"
    folder.mkdir()
    (folder / "legacy.toml").write_text(_real_brand(regions='["europe", "china"]'))
    assert load_brands(folder)["legacy"].markets == ("europe", "china")
    (folder / "both.toml").write_text(_real_brand(regions='["europe"]', markets='["FR"]'))
    (folder / "unknown.toml").write_text(_real_brand(markets='["FR", "XX", "emea", "fr"]'))
    (folder / "overlap.toml").write_text(_real_brand(regions='["europe", "FR"]'))
    with pytest.raises(ConfigError) as info:
        load_brands(folder)
    problems = info.value.problems
    assert len(problems) == 5, problems
    assert "both.toml: key '<file>': Value error, give 'markets' or its earlier name" in problems[0]
    iso = "is not an ISO 3166-1 alpha-2 country code or ISO 3166-2 subdivision"
    assert problems[2:] == [
        f"unknown.toml: key 'markets': 'XX' {iso}, nor a group or market of markets.toml",
        f"unknown.toml: key 'markets': 'emea' {iso}, nor a group or market of markets.toml",
        f"unknown.toml: key 'markets': 'fr' {iso} (codes are upper case: 'FR'), nor a group or "
        "market of markets.toml",
    ]
    assert problems[1] == "overlap.toml: key 'regions': 'FR' overlaps 'europe' on FR"


def test_a_markets_file_naming_an_unknown_country_stops_everything(
    tmp_path: Path, config_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forecast.inputs.markets import default_markets_file
    from forecast.request import Workspace

    bad = tmp_path / "markets.toml"
    text = default_markets_file().read_text(encoding="utf-8")
    bad.write_text(text.replace('countries = ["JP"]', 'countries = ["JP", "XK1"]'))
    monkeypatch.setenv("FORECAST_MARKETS_FILE", str(bad))
    with pytest.raises(ConfigError) as info:
        Workspace.load(tmp_path / "w.duckdb", config_dir)
    assert info.value.problems == [
        "markets.toml: groups.japan.countries: 'XK1' is not an ISO 3166-1 alpha-2 country code "
        "or ISO 3166-2 subdivision"
    ]
