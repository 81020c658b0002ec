"""Product master: validation with one reason per refused row, hierarchy, unknown products."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from forecast import warehouse as wh
from forecast.edge.cli import app
from forecast.inputs.config import load_brands
from forecast.inputs.files import read_table
from forecast.inputs.ingest import ValidatedSales
from forecast.planning.products import (
    ProductFileError,
    empty_master,
    hierarchy_of,
    refuse_unmastered,
    validate_products,
)

CSV = """brand,product,category,collection,launch_date,price_band
wines_a,cognac_001,cognac,permanent,2020-01-06,core
wines_a,cognac_002,cognac,,,
nobody,x_001,x,,,
wines_a,,cognac,,,
wines_a,cognac_003,Cognac XO,,,
wines_a,cognac_004,cognac,,someday,
wines_a,cognac_005,cognac,,,luxury
wines_a,cognac_002,cognac,limited,2021-01-04,entry
wines_a,cognac_009,armagnac,,,
"""


def _validate(tmp_path: Path, config_dir: Path, master: pl.DataFrame, sold: pl.DataFrame):  # type: ignore[no-untyped-def]
    path = tmp_path / "products.csv"
    path.write_text(CSV)
    return validate_products(read_table(path), load_brands(config_dir), master, sold, str(path))


def test_every_row_is_accepted_or_refused_with_its_reason(tmp_path: Path, config_dir: Path) -> None:
    sold = pl.DataFrame({"brand": ["wines_a"], "product": ["cognac_009"]})
    master = pl.DataFrame({"brand": ["wines_a"], "product": ["cognac_009"], "category": ["cognac"]})
    checked = _validate(tmp_path, config_dir, master, sold)
    reasons = dict(checked.rejected.select("row_number", "reason").iter_rows())
    assert reasons == {
        2: "duplicate product: row 8 wins",
        3: "unknown brand 'nobody'",
        4: "empty product",
        5: "category 'Cognac XO' is not snake_case (a-z, 0-9, _)",
        6: "launch_date 'someday' is not a date",
        7: "price_band 'luxury' is not one of entry, core, premium, prestige",
        9: "category 'armagnac' would move product 'cognac_009' out of 'cognac', "
        "where its sales already are",
    }
    assert checked.accepted.height + checked.rejected.height == 9
    row = checked.accepted.filter(pl.col("product") == "cognac_002").row(0, named=True)
    assert row["collection"] == "limited" and row["launch_date"] == date(2021, 1, 4)


def test_a_first_master_may_regroup_a_brand(tmp_path: Path, config_dir: Path) -> None:
    sold = pl.DataFrame({"brand": ["wines_a"], "product": ["cognac_009"]})
    checked = _validate(tmp_path, config_dir, empty_master(), sold)
    assert "cognac_009" in checked.accepted["product"].to_list()


def test_a_file_without_category_is_refused_whole(tmp_path: Path, config_dir: Path) -> None:
    path = tmp_path / "p.csv"
    path.write_text("brand,product\nwines_a,cognac_001\n")
    with pytest.raises(ProductFileError, match=r"p.csv: missing column\(s\) \['category'\]"):
        validate_products(
            read_table(path),
            load_brands(config_dir),
            empty_master(),
            sold=pl.DataFrame(schema={"brand": pl.String, "product": pl.String}),
            source=str(path),
        )


def test_hierarchy_takes_the_master_or_the_id_prefix() -> None:
    series = pl.DataFrame(
        {
            "brand": ["a", "a", "b"],
            "market": "europe",
            "product": ["x_001", "eau_de_parfum_002", "p_7"],
        }
    )
    master = pl.DataFrame({"brand": ["a"], "product": ["x_001"], "category": ["gifts"]})
    out = hierarchy_of(series, master, {"a": "wines_spirits", "b": "watches_jewelry"})
    assert out.select("product", "category", "category_source", "sector").rows() == [
        ("eau_de_parfum_002", "eau_de_parfum", "product id", "wines_spirits"),
        ("x_001", "gifts", "master", "wines_spirits"),
        ("p_7", "p", "product id", "watches_jewelry"),
    ]


def test_sales_of_a_mastered_brand_must_name_a_known_product() -> None:
    accepted = pl.DataFrame(
        {
            "brand": ["a", "a", "b"],
            "market": "europe",
            "product": ["x_001", "x_999", "free_1"],
            "ds": [date(2024, 6, 3)] * 3,
            "units": [1.0, 2.0, 3.0],
            "price": [None, None, None],
            "promo": [None, None, None],
        },
        schema_overrides={"price": pl.Float64, "promo": pl.Boolean},
    )
    rejected = pl.DataFrame(
        schema={c: pl.String for c in ("brand", "market", "product", "ds", "units", "reason")}
    ).with_columns(row_number=pl.lit(None, pl.UInt32))
    master = pl.DataFrame({"brand": ["a"], "product": ["x_001"], "category": ["x"]})
    out = refuse_unmastered(ValidatedSales(accepted, rejected), master)
    assert out.accepted["product"].to_list() == ["x_001", "free_1"]  # b has no master
    assert out.rejected["reason"].to_list() == [
        "product 'x_999' is not in brand 'a' product master "
        "(add it with `forecast ingest-products FILE`)"
    ]


def test_cli_loads_a_valid_master_and_refuses_a_file_with_one_bad_row(
    tmp_path: Path, config_dir: Path
) -> None:
    db = tmp_path / "forecast.duckdb"
    good = tmp_path / "good.csv"
    good.write_text("brand,product,category\nwines_a,cognac_001,cognac\nwines_a,cognac_002,xo\n")
    opts = ["--warehouse", str(db), "--config-dir", str(config_dir)]
    runner = CliRunner()
    out = runner.invoke(app, ["ingest-products", str(good), *opts])
    assert out.exit_code == 0, out.output
    assert wh.read_products(db)["category"].to_list() == ["cognac", "xo"]
    bad = tmp_path / "bad.csv"
    bad.write_text("brand,product,category\nwines_a,cognac_003,cognac\nghost,g_1,g\n")
    out = runner.invoke(app, ["ingest-products", str(bad), *opts])
    assert out.exit_code == 1 and "row 2: unknown brand 'ghost'" in out.output
    assert wh.read_products(db).height == 2  # nothing of the bad file was loaded
    refused = wh.query(db, "SELECT source, reason FROM rejected_products")
    assert refused.rows() == [(str(bad), "unknown brand 'ghost'")]


def test_the_generator_writes_the_master_it_used(config_dir: Path) -> None:
    from forecast.inputs.synthetic import generate_brand, weeks_between

    brand = load_brands(config_dir)["fashion_a"]
    data = generate_brand(brand, weeks_between(date(2023, 1, 2), date(2024, 6, 3)))
    sold = data.sales.select("product").unique()
    assert sorted(data.products["product"]) == sorted(sold["product"])
    assert (data.products["category"] == "handbags").all()
    assert data.products["collection"].str.contains(r"^(ss|fw)\d\d$").all()
    first = data.sales.group_by("product").agg(pl.col("ds").min())
    launch = data.products.join(first, on="product")
    assert (launch["launch_date"] == launch["ds"]).all()
