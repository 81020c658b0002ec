"""Writes the example's sales.csv: four years and five months of a perfume brand, by month.

Seeded, so the file in git is what this script writes. Demand per market follows its own
holidays on their real dates (``forecast.inputs.holidays``): Mother's Day and Christmas in
France, Eid al-Fitr (a month earlier every three years) in the Emirates, Chinese New Year and
Singles' Day in China; every September the brand ran a promotion in France (+40 %), listed
in events.csv with the promotion planned for September 2026.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from forecast.inputs.holidays import event_calendar
from forecast.inputs.markets import shipped_markets

HERE = Path(__file__).resolve().parent
MARKETS = {"FR": 220.0, "AE": 60.0, "CN": 140.0}
PRODUCTS = {"eau_de_parfum_50ml": 1.0, "eau_de_parfum_100ml": 0.6, "body_cream": 0.8, "candle": 0.4}
UPLIFT = {
    "mothers_day": 0.35,
    "christmas": 0.6,
    "eid_al_fitr": 0.5,
    "chinese_new_year": 0.45,
    "singles_day": 0.7,
    "valentines": 0.15,
}
PROMOTION = 0.4


def main() -> None:
    rng = np.random.default_rng(11)
    months = pl.date_range(date(2021, 1, 1), date(2026, 5, 1), "1mo", eager=True)
    holidays = event_calendar(shipped_markets(), list(MARKETS), 2021, 2026, "monthly")
    lifts = (
        holidays.join(pl.DataFrame({"event": list(UPLIFT), "u": list(UPLIFT.values())}), on="event")
        .group_by("market", "ds")
        .agg(lift=(pl.col("weight") * pl.col("u")).sum())
    )
    grid = (
        pl.DataFrame({"market": list(MARKETS)})
        .join(pl.DataFrame({"product": list(PRODUCTS)}), how="cross")
        .join(pl.DataFrame({"ds": months}), how="cross")
        .join(lifts, on=["market", "ds"], how="left")
    )
    t = (grid["ds"].dt.year() - 2021) * 12 + grid["ds"].dt.month()
    promo = (grid["market"] == "FR") & (grid["ds"].dt.month() == 9)
    log_mu = (
        np.log(grid["market"].replace_strict(MARKETS).cast(pl.Float64).to_numpy())
        + np.log(grid["product"].replace_strict(PRODUCTS).cast(pl.Float64).to_numpy())
        + 0.006 * t.to_numpy()
        + 0.15 * np.sin(2 * np.pi * (grid["ds"].dt.month().to_numpy() - 4) / 12)
        + grid["lift"].fill_null(0.0).to_numpy()
        + PROMOTION * promo.to_numpy()
    )
    units = rng.poisson(np.exp(log_mu) * rng.gamma(40.0, 1 / 40.0, grid.height))
    sales = grid.select(brand=pl.lit("maison_soleil"), market="market", product="product", ds="ds")
    sales.with_columns(units=pl.Series(units, dtype=pl.Int64)).write_csv(HERE / "sales.csv")


if __name__ == "__main__":
    main()
