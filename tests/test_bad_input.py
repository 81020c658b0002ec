"""Every bad input is one clear line (exit 2: fix the command or config; 1: the data said no).

In-process through the CLI; the cases that need Prefect or real processes are in
tests/test_safety.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from forecast import warehouse as wh
from forecast.edge import app as cli_app
from forecast.edge import cli, pipeline_verbs
from forecast.edge.serve import exposure_warning
from tests.conftest import brand_toml, ensure_schema

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "wh" / "forecast.duckdb"
    sales = pl.DataFrame(
        {
            "brand": ["wines_a", "watches_a"],
            "market": "europe",
            "product": "p",
            "ds": [date(2024, 6, 3)] * 2,
            "units": [1.0, 2.0],
        }
    )
    wh.upsert_sales(path, sales.with_columns(price=None, promo=None), _no_refusals(), "real.csv")
    return path


def _no_refusals() -> pl.DataFrame:
    columns = ["row_number", "brand", "market", "product", "ds", "units", "reason"]
    return pl.DataFrame(schema={c: pl.Int64 if c == "row_number" else pl.String for c in columns})


@pytest.fixture
def no_prefect(monkeypatch: pytest.MonkeyPatch) -> None:
    """Prove a check happens before Prefect: reaching a flow fails the test."""

    def _never(*args: object, **kwargs: object) -> None:
        raise AssertionError("Prefect was started before the input was checked")

    monkeypatch.setattr(pipeline_verbs, "run_flow", _never)


def _cli(*args: str | Path) -> tuple[int, str]:
    out = runner.invoke(cli.app, [str(a) for a in args])
    return out.exit_code, out.stderr.strip()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sql", "SELECT 1", "--format", "yaml"], "'yaml' is not one of 'table', 'csv', 'json'"),
        (["run", "--n-jobs", "0"], "n_jobs must be at least 1 (or -1 for every core), not 0"),
        (["run", "--pooling", "some"], "'some' is not one of 'partial', 'none', 'full'"),
        (["run", "--as-of", "2026-13-01"], "'2026-13-01' does not match the formats '%Y-%m-%d'"),
        (["status", "--limit", "0"], "Invalid value for '--limit'"),
        (["generate", "--scale", "0"], "Invalid value for '--scale'"),
    ],
)
def test_options_are_typed(args: list[str], message: str, no_prefect: None) -> None:
    code, text = _cli(*args)
    assert code == 2 and message in " ".join(text.replace("│", " ").split()), text


def _configs(tmp_path: Path, **files: str) -> Path:
    folder = tmp_path / "brands"
    folder.mkdir(exist_ok=True)
    (folder / "wines_a.toml").write_text(brand_toml("wines_a", "wines_spirits"))
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("Montres_Atlas.toml", brand_toml("x", "watches_jewelry"), "brand ids (file names) use"),
        (
            "montres-atlas.toml",
            brand_toml("x", "watches_jewelry"),
            "lowercase letters, digits and _",
        ),
        (
            "empty_c.toml",
            brand_toml("empty_c", "wines_spirits", model={"candidates": []}),
            "empty_c.toml: key 'model.candidates': Tuple should have at least 1 item",
        ),
        (
            "bool_h.toml",
            brand_toml("bool_h", "wines_spirits").replace(
                "[[categories]]", "horizon = true\n[[categories]]"
            ),
            "bool_h.toml: key 'horizon': Input should be a valid integer",
        ),
    ],
)
def test_config_problems_are_listed_before_anything_runs(
    tmp_path: Path, name: str, text: str, problem: str, no_prefect: None
) -> None:
    configs = _configs(tmp_path, **{name: text})
    code, out = _cli("run", "--config-dir", configs, "--warehouse", tmp_path / "w.duckdb")
    assert code == 2 and problem in out, out
    assert "pattern" not in out


def test_a_folder_named_x_toml_is_one_line(tmp_path: Path, no_prefect: None) -> None:
    configs = _configs(tmp_path)
    (configs / "x.toml").mkdir()
    code, out = _cli("run", "--config-dir", configs, "--warehouse", tmp_path / "w.duckdb")
    assert code == 2 and [line.strip() for line in out.splitlines()[1:]] == [
        "• x.toml: is a folder, not a brand file"
    ]


def test_a_run_where_every_brand_is_skipped_says_why(
    tmp_path: Path, db: Path, no_prefect: None
) -> None:
    configs = _configs(
        tmp_path, **{"late_a.toml": brand_toml("late_a", "wines_spirits", launch="2025-01-06")}
    )
    code, out = _cli(
        "run",
        "--as-of",
        "2024-12-02",
        "--config-dir",
        configs,
        "--warehouse",
        db,
        "--brand",
        "late_a",
    )
    assert code == 2
    assert out == (
        "nothing to forecast at as-of 2024-12-02: every brand launches after it (late_a 2025-01-06)"
    )


def test_a_launch_date_after_the_brands_sales_is_refused(
    tmp_path: Path, db: Path, no_prefect: None
) -> None:
    configs = _configs(
        tmp_path, **{"wines_a.toml": brand_toml("wines_a", "wines_spirits", launch="2024-07-01")}
    )
    code, out = _cli("run", "--config-dir", configs, "--warehouse", db)
    assert code == 2
    assert out == (
        "wines_a: launch_date 2024-07-01 is after its first sales period 2024-06-03 — set "
        "launch_date on or before it in the brand file"
    )


def test_unknown_brands_are_named(tmp_path: Path, db: Path, no_prefect: None) -> None:
    code, out = _cli(
        "run", "--brand", "nobody", "--config-dir", _configs(tmp_path), "--warehouse", db
    )
    assert (code, out) == (2, "unknown brand(s) ['nobody']; known brands: ['wines_a']")


@pytest.mark.parametrize(
    ("body", "extra", "message"),
    [
        (None, [], "no such file"),
        ("brand,units\n", [], "missing column(s) ['market', 'product', 'ds']"),
        ("brand,region,product,ds,units\n", ["--date-format", "%Q"], "--date-format '%Q' does not"),
        ("brand,region,product,ds,units\n", ["--encoding", "klingon"], "not a known text encoding"),
    ],
)
def test_ingest_checks_the_file_before_prefect(
    tmp_path: Path, body: str | None, extra: list[str], message: str, no_prefect: None
) -> None:
    path = tmp_path / "sales.csv"
    if body is not None:
        path.write_text(body)
    code, out = _cli(
        "ingest",
        path,
        *extra,
        "--config-dir",
        _configs(tmp_path),
        "--warehouse",
        tmp_path / "w.duckdb",
    )
    assert code == 2 and message in out and len(out.splitlines()) == 1, out


def test_a_prefect_home_that_cannot_be_created_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    monkeypatch.setenv("PREFECT_HOME", str(blocked / "prefect"))  # a folder under a file
    path = tmp_path / "sales.csv"
    path.write_text("brand,region,product,ds,units\nwines_a,europe,p,2024-06-03,1\n")
    code, out = _cli(
        "ingest", path, "--config-dir", _configs(tmp_path), "--warehouse", tmp_path / "w.duckdb"
    )
    assert code == 1 and len(out.splitlines()) == 1, out
    assert f"cannot create Prefect's home {blocked / 'prefect'}" in out and "PREFECT_HOME" in out
    assert not (tmp_path / "w.duckdb").exists()


def test_generate_refuses_to_delete_ingested_sales(
    tmp_path: Path, db: Path, no_prefect: None
) -> None:
    code, out = _cli(
        "generate", "--brand", "wines_a", "--config-dir", _configs(tmp_path), "--warehouse", db
    )
    assert code == 2
    assert out == (
        f"{db}: generating would delete ingested sales of wines_a (1 rows); nothing was "
        "changed — pick other brands, another warehouse, or pass --replace-real to delete them"
    )
    assert wh.query(db, "SELECT count(*) AS n FROM sales")["n"][0] == 2


def test_warehouse_errors_name_the_users_file_not_private_ones(tmp_path: Path) -> None:
    bad = tmp_path / "forecast.duckdb"
    bad.write_text("this is not a database")
    with pytest.raises(wh.WarehouseError) as info:
        ensure_schema(bad)
    assert str(info.value).startswith(f"{bad}: ") and ".tmp" not in str(info.value)
    folder = tmp_path / "dir.duckdb"
    folder.mkdir()
    code, out = _cli("sql", "SELECT 1", "--warehouse", folder)
    assert (code, out) == (1, f"{folder}: is a folder; the warehouse is a DuckDB file")


@pytest.mark.parametrize(
    ("url", "warns"),
    [
        ("http://0.0.0.0:4200/api", True),
        ("http://[::]:4200/api", True),
        ("http://192.0.2.7:4200/api", True),
        ("http://prefect.example:4200/api", True),
        ("http://127.0.0.1:4200/api", False),
        ("http://localhost:4200/api", False),
        ("http://[::1]:4200/api", False),
    ],
)
def test_serving_beyond_loopback_warns(url: str, warns: bool) -> None:
    warning = exposure_warning(url)
    assert (warning is not None) == warns
    if warning:
        assert "reachable from the network" in warning and "no authentication" in warning


def test_the_pooling_and_week_label_options_list_the_vocabulary() -> None:
    from forecast.vocabulary import POOLINGS, WEEK_LABELS

    assert tuple(p.value for p in cli_app.Pooling) == POOLINGS
    assert tuple(w.value for w in cli_app.WeekLabel) == WEEK_LABELS
