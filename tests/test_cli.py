"""The ``forecast`` command line: clear errors, read-only queries, status."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from forecast import warehouse as wh
from forecast.edge.cli import app
from tests.conftest import brand_toml, replace_sales

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "forecast.duckdb"
    sales = pl.DataFrame(
        {
            "brand": ["a", "b"],
            "market": "europe",
            "product": "p",
            "ds": [date(2024, 6, 3)] * 2,
            "units": [1.0, 2.0],
        }
    )
    replace_sales(path, sales, None, "test")
    return path


def test_sql_prints_table_csv_and_json(db: Path) -> None:
    out = runner.invoke(
        app, ["sql", "SELECT brand, units FROM sales ORDER BY brand", "--warehouse", str(db)]
    )
    assert out.exit_code == 0 and "│ b     │ 2     │" in out.stdout
    csv = runner.invoke(
        app,
        ["sql", "SELECT brand FROM sales ORDER BY 1", "--format", "csv", "--warehouse", str(db)],
    )
    assert csv.stdout == "brand\na\nb\n"
    js = runner.invoke(
        app, ["sql", "SELECT count(*) AS n FROM sales", "--format", "json", "--warehouse", str(db)]
    )
    assert json.loads(js.stdout) == [{"n": 2}]


def test_sql_is_read_only(db: Path) -> None:
    out = runner.invoke(app, ["sql", "DELETE FROM sales", "--warehouse", str(db)])
    assert out.exit_code == 1
    assert wh.query(db, "SELECT count(*) AS n FROM sales")["n"][0] == 2


def test_env_var_selects_the_warehouse(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORECAST_WAREHOUSE", str(db))
    out = runner.invoke(app, ["sql", "SELECT count(*) AS n FROM sales", "--format", "csv"])
    assert out.stdout == "n\n2\n"


def test_status_without_runs(db: Path) -> None:
    out = runner.invoke(app, ["status", "--warehouse", str(db)])
    assert out.exit_code == 0 and "recent runs" in out.stdout


def test_invalid_config_exits_2_before_any_write(tmp_path: Path) -> None:
    configs = tmp_path / "brands"
    configs.mkdir()
    (configs / "x.toml").write_text(
        brand_toml("x", "wines_spirits").replace("wines_spirits", "wine")
    )
    (configs / "y.toml").write_text(brand_toml("y", "wines_spirits", horizon=0))
    db = tmp_path / "forecast.duckdb"
    out = runner.invoke(app, ["run", "--config-dir", str(configs), "--warehouse", str(db)])
    assert out.exit_code == 2
    assert "x.toml: key 'sector'" in out.stderr and "y.toml: key 'horizon'" in out.stderr
    assert not db.exists()


def test_missing_warehouse_is_one_clear_line(tmp_path: Path) -> None:
    out = runner.invoke(app, ["sql", "SELECT 1", "--warehouse", str(tmp_path / "none.duckdb")])
    assert out.exit_code == 1 and "no warehouse yet" in out.stderr


def test_ingest_reports_refusals_and_exit_code(
    tmp_path: Path, config_dir: Path, prefect_harness: None
) -> None:
    db = tmp_path / "forecast.duckdb"
    good = tmp_path / "good.csv"
    good.write_text(
        "maison,region,product,week,units\nwines_a,europe,c1,2024-06-03,5\nx,europe,c1,2024-06-03,1\n"
    )
    args = [
        "--warehouse",
        str(db),
        "--config-dir",
        str(config_dir),
        "--map",
        "brand=maison",
        "--map",
        "ds=week",
    ]
    out = runner.invoke(app, ["ingest", str(good), *args])
    assert out.exit_code == 0, out.output
    assert "1 new" in out.stdout and "1 refused" in out.stdout and "unknown brand 'x'" in out.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("maison,region,product,week,units\nx,europe,c1,2024-06-03,1\n")
    assert runner.invoke(app, ["ingest", str(bad), *args]).exit_code == 1
    assert (
        runner.invoke(
            app, ["ingest", str(good), "--map", "brand", "--warehouse", str(db)]
        ).exit_code
        == 2
    )


ATTACKS = [
    ("COPY sales TO '{victim}'", "COPY is not allowed"),
    ("COPY (SELECT 1) TO '{target}'", "COPY is not allowed"),
    ("EXPORT DATABASE '{target}'", "EXPORT is not allowed"),
    ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
    ("SELECT * FROM read_text('{victim}')", "file system operations are disabled"),
    ("SELECT * FROM glob('/root/**')", "file system operations are disabled"),
    ("SELECT * FROM read_parquet('{other}')", "file system operations are disabled"),
    ("ATTACH '{other}' AS o (READ_WRITE)", "ATTACH is not allowed"),
    ("SELECT 1; DELETE FROM sales", "runs exactly one statement; got 2"),
    ("SELECT 1; SELECT 2", "runs exactly one statement; got 2"),
    ("INSTALL httpfs", "INSTALL is not allowed"),
    ("LOAD httpfs", "LOAD is not allowed"),
    ("SET enable_external_access = true", "SET is not allowed"),
    ("DELETE FROM sales", "DELETE is not allowed"),
    ("CREATE TABLE t AS SELECT 1", "CREATE is not allowed"),
    ("PRAGMA enable_profiling", "PRAGMA is not allowed"),
    ("PRAGMA profile_output = '{target}'", "PRAGMA is not allowed"),
    ("CALL pragma_version()", "CALL is not allowed"),
    ("SELECT * FROM '{victim}'", "does not exist"),
]


@pytest.mark.parametrize(("attack", "refusal"), ATTACKS)
def test_sql_reads_the_warehouse_and_nothing_else(
    db: Path, tmp_path: Path, attack: str, refusal: str
) -> None:
    victim = tmp_path / "brand.toml"
    victim.write_text('name = "untouched"\n')
    other = tmp_path / "other.duckdb"
    replace_sales(
        other,
        pl.DataFrame(
            {
                "brand": ["o"],
                "market": "e",
                "product": "p",
                "ds": [date(2024, 6, 3)],
                "units": [1.0],
            }
        ),
        None,
        "t",
    )
    before = other.read_bytes()
    target = tmp_path / "dump"
    text = attack.format(victim=victim, target=target, other=other)
    out = runner.invoke(app, ["sql", text, "--warehouse", str(db)])
    assert out.exit_code == 1 and refusal in out.stderr, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 or refusal in out.stderr.splitlines()[0]
    assert victim.read_text() == 'name = "untouched"\n' and other.read_bytes() == before
    assert not target.exists()
    assert wh.query(db, "SELECT count(*) AS n FROM sales")["n"][0] == 2


def test_sql_allows_what_analysts_need(db: Path) -> None:
    for text in (
        "WITH s AS (SELECT * FROM sales) SELECT brand FROM s",
        "FROM sales SELECT brand",
        "DESCRIBE sales",
        "SHOW TABLES",
        "SUMMARIZE sales",
        "EXPLAIN SELECT * FROM sales",
        "SELECT * FROM duckdb_tables()",
    ):
        out = runner.invoke(app, ["sql", text, "--warehouse", str(db), "--format", "csv"])
        assert out.exit_code == 0, (text, out.stderr)


def test_a_cluster_that_does_not_answer_exits_2_before_any_write(tmp_path: Path) -> None:
    configs = tmp_path / "brands"
    configs.mkdir()
    (configs / "x.toml").write_text(brand_toml("x", "wines_spirits"))
    db = tmp_path / "forecast.duckdb"
    where = ["--config-dir", str(configs), "--warehouse", str(db), "--as-of", "2024-06-03"]
    out = runner.invoke(app, ["run", *where, "--cluster", "tcp://127.0.0.1:9"])
    assert out.exit_code == 2
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("cluster tcp://127.0.0.1:9: no Dask scheduler answers there")
    assert not db.exists()


def test_demo_generates_forecasts_and_plans_in_one_command(
    tmp_path: Path, prefect_harness: None
) -> None:
    from tests.conftest import write_brands

    configs, db = write_brands(tmp_path / "brands"), tmp_path / "forecast.duckdb"
    # A house founded long before any holiday rule (the shipped cognac brand: 1852).
    (configs / "wines_a.toml").write_text(brand_toml("wines_a", "wines_spirits", "1852-01-05"))
    out = runner.invoke(app, ["demo", "--config-dir", str(configs), "--warehouse", str(db)])
    assert out.exit_code == 0, out.output
    assert "sales written" in out.stdout and "latest_forecasts by sector" in out.stdout
    assert "succeeded: 6 brands" in out.stdout
    final = wh.query(db, "SELECT count(*) AS n FROM final_forecasts")["n"][0]
    overrides = wh.query(db, "SELECT count(*) AS n FROM overrides")["n"][0]
    assert final > 0 and overrides > 0


def test_a_partial_run_exits_3_and_names_the_failed_brand(
    tmp_path: Path, prefect_harness: None
) -> None:
    # A scheduler must tell a run whose brands partly failed from one that succeeded.
    configs, db = tmp_path / "brands", tmp_path / "forecast.duckdb"
    configs.mkdir()
    (configs / "wines_a.toml").write_text(brand_toml("wines_a", "wines_spirits"))
    (configs / "ghost_c.toml").write_text(brand_toml("ghost_c", "watches_jewelry"))  # no sales
    where = ["--config-dir", str(configs), "--warehouse", str(db)]
    span = ["--start", "2023-01-02", "--end", "2024-12-30"]
    assert runner.invoke(app, ["generate", "--brand", "wines_a", *span, *where]).exit_code == 0
    out = runner.invoke(app, ["run", "--as-of", "2024-12-30", *where])
    assert out.exit_code == 3, out.output
    assert "partial" in out.stdout and "ghost_c" in out.output
    published = wh.query(db, "SELECT DISTINCT brand FROM latest_forecasts")["brand"].to_list()
    assert published == ["wines_a"]
