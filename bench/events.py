"""Events and monthly brands, measured: ``python bench/events.py [--part synthetic|tourism]``.

* ``synthetic``: the synthetic group (``config/brands``) through ``run_brand`` at origins
  13 weeks apart, with and without the promotions and SKU launches the generator simulated
  supplied as ``events`` (future promotions are then planned ones, as a planner knows
  them). MASE (one-step naive scale, as the backtests) of the selected forecasts on the
  promoted series-weeks, the launch series-weeks and all of them, beside the same run
  without events.
* ``moving``: one perfume brand in the Emirates and China over ten years of weeks, whose
  demand follows Eid al-Fitr and Chinese New Year on their real dates: the next year's
  event weeks forecast (h = 52) with the markets' holiday calendars and without any.
* ``tourism``: the tourism competition's monthly series (h = 24) through the real path —
  a brand config per end month (``frequency = "monthly"``, market ``AU``), ``ingest_flow``
  of the training months, ``forecast_flow`` per end month — MASE scaled by the in-sample
  seasonal naive (m = 12), beside the published figures.

Writes ``bench/out/events.json``; the tables are in ``bench/RESULTS.md`` §7.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import group as grp  # noqa: E402

from forecast import warehouse  # noqa: E402
from forecast.engine.metrics import score_series  # noqa: E402

END = date(2026, 11, 16)
DATA = Path("/work/shared/data/tourism_competition/monthly_long.csv")
PUBLISHED = {
    "ARIMA": 1.38,
    "ETS": 1.49,
    "SNaive": 1.54,
    "R re-run ETS": 1.54,
    "R re-run SNaive": 1.63,
}


def synthetic(n_origins: int) -> dict[str, Any]:
    """MASE on promoted, launch and all series-weeks, with and without events."""
    config = ROOT / "config" / "brands"
    last = END - timedelta(weeks=grp.HORIZON)
    evaluation = [last - timedelta(weeks=grp.HORIZON * k) for k in range(n_origins - 1, -1, -1)]
    rows = []
    for variant, with_events in (("without events", False), ("with events", True)):
        group = grp.load(config, END, with_events=with_events)
        kinds = _event_weeks(group)
        for origin in evaluation:
            fc, cpu = grp.product(group, origin, "partial")
            print(f"{variant} {origin}: {cpu:.0f} cpu s", flush=True)
            rows.append(_scores(group, fc, origin, kinds).with_columns(variant=pl.lit(variant)))
    scored = pl.concat(rows)
    table = scored.group_by("variant", "weeks").agg(
        mase=pl.col("mase").mean(), series=pl.len(), points=pl.col("n").sum()
    )
    return {"origins": [str(o) for o in evaluation], "table": table.sort("weeks", "variant").rows()}


def _event_weeks(group: grp.Group) -> pl.DataFrame:
    """``unique_id, ds, weeks``: series-weeks the simulated promotions and launches touch
    (from the events, whether or not the variant's calendar holds them)."""
    from forecast.engine.events import calendar_of

    none = pl.DataFrame(
        schema={"event": pl.String, "market": pl.String, "ds": pl.Date, "weight": pl.Float64}
    )
    parts = [
        calendar_of(group.sales[b], none, group.events.filter(pl.col("brand") == b))
        for b in group.brands
    ]
    touched = pl.concat(parts).filter(pl.col("event").is_in(["promotion", "launch"]))
    return touched.select("unique_id", "ds", weeks="event").unique()


def _scores(group: grp.Group, fc: pl.DataFrame, origin: date, kinds: pl.DataFrame) -> pl.DataFrame:
    """Per series and kind of week (promotion, launch, all): MASE of the selected forecasts."""
    history = pl.concat([grp.prepare_series(s, origin)[0] for s in group.sales.values()])
    train = history.select("unique_id", "ds", "y")
    cv = fc.join(group.actual, on=["unique_id", "ds"]).with_columns(
        cutoff=pl.lit(origin), model=pl.lit("selected")
    )
    subsets = {"all": cv}
    for kind in ("promotion", "launch"):
        keys = kinds.filter(pl.col("weeks") == kind).select("unique_id", "ds")
        subsets[kind] = cv.join(keys, on=["unique_id", "ds"], how="semi")
    out = [
        score_series(part, train)
        .filter(pl.col("mase").is_finite())
        .select("unique_id", "mase", "n", weeks=pl.lit(name))
        for name, part in subsets.items()
        if not part.is_empty()
    ]
    return pl.concat(out)


def moving() -> dict[str, Any]:
    """MASE on the next year's Eid al-Fitr (AE) and Chinese New Year (CN) weeks, with and
    without the holiday calendars."""
    from forecast.engine.backtest import origins
    from forecast.engine.events import calendar_of
    from forecast.engine.pipeline import estimate_brand, run_brand, series_profiles
    from forecast.engine.pooling import pool_priors
    from forecast.inputs.holidays import event_calendar
    from forecast.inputs.markets import shipped_markets
    from forecast.inputs.synthetic import generate_brand, weeks_between
    from forecast.vocabulary import SECTORS

    brand = _moving_brand()
    weeks = weeks_between(date(2016, 1, 4), END)
    sales = generate_brand(brand, weeks, seed=5).sales
    origin = weeks[-53]
    holidays = event_calendar(shipped_markets(), ["AE", "CN"], 2014, END.year + 1)
    key = calendar_of(sales, holidays).filter(
        pl.col("event").is_in(["eid_al_fitr", "chinese_new_year"]), pl.col("weight") >= 0.5
    )
    rows = []
    for variant, placed in (("with holidays", holidays), ("without holidays", holidays.clear())):
        cal = calendar_of(sales, placed)
        cutoffs = origins(origin, brand.horizon, brand.model.backtest_windows)
        own = estimate_brand(brand, sales, cutoffs, cal)
        pools = {brand.brand: brand.pool}
        priors = {c: pool_priors([own[c]], pools, list(SECTORS)) for c in cutoffs}
        known = series_profiles(own)
        result = run_brand(brand, sales, origin, priors, cal, known=known)
        fc = result.forecasts.filter(pl.col("is_selected"))
        rows += _week_scores(fc, sales, origin, key.select("unique_id", "ds"), variant)
    return {"origin": str(origin), "table": rows}


def _moving_brand() -> Any:
    """A perfume brand of ten SKUs in AE and CN, no young SKUs, forecast a year ahead."""
    from forecast.inputs.config import Category, ModelSettings, load_brands

    base = load_brands(ROOT / "config" / "brands")["rouge_absolu"]
    return base.model_copy(
        update={
            "markets": ("AE", "CN"),
            "categories": (Category(name="fragrance", skus=10),),
            "horizon": 52,
            "model": ModelSettings(candidates=("ets", "theta"), backtest_windows=1),
            "synthetic": base.synthetic.model_copy(update={"young_sku_share": 0.0}),
        }
    )


def _week_scores(
    fc: pl.DataFrame, sales: pl.DataFrame, origin: date, keys: pl.DataFrame, variant: str
) -> list[tuple[str, str, float, int]]:
    """``(variant, weeks, MASE, points)`` on the event weeks and on every week."""
    train = grp.prepare_series(sales, origin)[0].select("unique_id", "ds", "y")
    actual = sales.with_columns(grp.series_id()).select("unique_id", "ds", y="units")
    cv = fc.join(actual, on=["unique_id", "ds"]).with_columns(
        cutoff=pl.lit(origin), model=pl.lit(variant)
    )
    rows = []
    for name, part in (
        ("event weeks", cv.join(keys, on=["unique_id", "ds"], how="semi")),
        ("all weeks", cv),
    ):
        mase = score_series(part, train)["mase"].mean()
        rows.append((variant, name, round(float(mase), 3), part.height))
    return rows


def tourism() -> dict[str, Any]:
    """The monthly tourism series through config → ingest → run, one brand per end month."""
    raw = pl.read_csv(DATA)
    ds = pl.date(
        pl.col("period").str.slice(0, 4).cast(pl.Int32),
        pl.col("period").str.slice(5, 2).cast(pl.Int32),
        1,
    )
    frame = raw.with_columns(ds=ds)
    train, test = (frame.filter(pl.col("split") == s).drop("split") for s in ("train", "test"))
    ends = train.group_by("unique_id").agg(end=pl.col("ds").max())
    brand_of = ends.with_columns(brand=pl.format("tourism_{}", pl.col("end").dt.strftime("%Y_%m")))
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        fc, ingested, statuses = _tourism_runs(train, brand_of, Path(tmp))
    seconds = time.perf_counter() - started
    return {
        "ingested": {k: ingested[k] for k in ("inserted", "rejected")},
        "runs": statuses,
        "seconds": seconds,
        "mase": _tourism_mase(fc, train, test),
        "published": PUBLISHED,
    }


def _tourism_runs(
    train: pl.DataFrame, brand_of: pl.DataFrame, root: Path
) -> tuple[pl.DataFrame, dict[str, Any], dict[str, str]]:
    """Configs, ingest and one forecast run per end month, as the CLI runs them (Prefect's
    home and its embedded API beside the warehouse); the published forecasts."""
    from forecast.edge import prefect_env

    configs, db = root / "brands", root / "forecast.duckdb"
    home = prefect_env.configure(db)
    from flows.forecast import forecast_flow
    from flows.ingest import ingest_flow

    with prefect_env.flow_api(home):
        configs.mkdir()
        for brand in brand_of["brand"].unique():
            (configs / f"{brand}.toml").write_text(_tourism_config(brand))
        _tourism_export(train, brand_of).write_csv(root / "tourism.csv")
        kwargs = {"warehouse_path": str(db), "config_dir": str(configs)}
        ingested = ingest_flow(path=str(root / "tourism.csv"), **kwargs)
        statuses: dict[str, str] = {}
        for brand, end in brand_of.select("brand", "end").unique().sort("end").iter_rows():
            run = forecast_flow(as_of=end + timedelta(days=40), brands=[brand], **kwargs)
            statuses[brand] = run.status
    fc = warehouse.query(db, "SELECT product, ds, yhat, model, is_selected FROM latest_forecasts")
    return fc, ingested, statuses


def _tourism_export(train: pl.DataFrame, brand_of: pl.DataFrame) -> pl.DataFrame:
    """The training months as a sales export: one brand per end month, market AU."""
    return train.join(brand_of, on="unique_id").select(
        "brand", market=pl.lit("AU"), product="unique_id", ds="ds", units="y"
    )


def _tourism_config(brand: str) -> str:
    return (
        f'name = "{brand}"\nsector = "selective_retailing"\nmarkets = ["AU"]\n'
        'frequency = "monthly"\nlaunch_date = 1979-01-01\nhorizon = 24\n'
        '[sales]\nmissing_weeks = "zero"\n'
    )


def _tourism_mase(fc: pl.DataFrame, train: pl.DataFrame, test: pl.DataFrame) -> dict[str, Any]:
    """Mean MASE over the forecast series (seasonal-naive scale, m = 12) per model, and for
    the model each series was chosen with (``selected``)."""
    chosen = fc.filter(pl.col("is_selected")).with_columns(model=pl.lit("selected"))
    cv = (
        pl.concat([fc, chosen])
        .drop("is_selected")
        .rename({"product": "unique_id"})
        .join(test.select("unique_id", "ds", "y"), on=["unique_id", "ds"])
        .with_columns(cutoff=pl.lit(date(2010, 1, 1)))  # after every training end
    )
    scores = score_series(cv, train.select("unique_id", "ds", "y"), 12)
    table = scores.group_by("model").agg(mase=pl.col("mase").mean(), series=pl.len())
    return {m: (round(v, 3), n) for m, v, n in table.sort("mase").rows()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=["synthetic", "moving", "tourism", "all"], default="all")
    parser.add_argument("--origins", type=int, default=2)
    args = parser.parse_args()
    out: dict[str, Any] = {}
    if args.part in ("synthetic", "all"):
        out["synthetic"] = synthetic(args.origins)
    if args.part in ("moving", "all"):
        out["moving"] = moving()
    if args.part in ("tourism", "all"):
        out["tourism"] = tourism()
    folder = ROOT / "bench" / "out"
    folder.mkdir(exist_ok=True)
    (folder / f"events-{args.part}.json").write_text(json.dumps(out, indent=1, default=str))
    print(json.dumps(out, indent=1, default=str))


if __name__ == "__main__":
    main()
