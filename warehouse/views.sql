-- Analyst views, recreated on every schema check. Documented in warehouse/README.md.

-- For each brand: the most recent finished run (latest as_of, then latest finish) in which
-- that brand succeeded. A running, failed or abandoned run is never visible.
CREATE OR REPLACE VIEW latest_brand_runs AS
SELECT rb.brand, rb.run_id, r.as_of, r.finished_at
FROM run_brands rb JOIN forecast_runs r USING (run_id)
WHERE rb.status = 'succeeded' AND r.status IN ('succeeded', 'partial')
QUALIFY row_number() OVER (PARTITION BY rb.brand ORDER BY r.as_of DESC, r.finished_at DESC) = 1;

-- `region`: the earlier name of `market`, kept for existing queries (to be removed later).
CREATE OR REPLACE VIEW latest_forecasts AS
SELECT f.*, l.as_of, f.market AS region
FROM forecasts f JOIN latest_brand_runs l USING (run_id, brand);

-- Backtest scores of the latest runs, one row per brand (or sector) and model. Rows of
-- backtest_metrics are per cutoff and segment: means over series are weighted by series,
-- WAPE by actuals and coverage by points, so each backtest point counts once.
CREATE OR REPLACE MACRO series_mean(score, n) AS
    sum(score * n) FILTER (WHERE score IS NOT NULL) / sum(n) FILTER (WHERE score IS NOT NULL);

CREATE OR REPLACE VIEW accuracy_by_brand AS
SELECT m.sector, m.brand, m.model, bool_or(m.is_selected) AS is_selected, m.run_id, l.as_of,
       series_mean(m.mase, m.n_series) AS mase, series_mean(m.rmsse, m.n_series) AS rmsse,
       series_mean(m.smape, m.n_series) AS smape, series_mean(m.wape, m.sum_actual) AS wape,
       series_mean(m.coverage_80, m.n_points) AS coverage_80,
       series_mean(m.coverage_95, m.n_points) AS coverage_95,
       series_mean(m.scaled_crps, m.n_series) AS scaled_crps,
       sum(m.n_points)::BIGINT AS n_points
FROM backtest_metrics m JOIN latest_brand_runs l USING (run_id, brand)
GROUP BY m.sector, m.brand, m.model, m.run_id, l.as_of;

CREATE OR REPLACE VIEW accuracy_by_sector AS
SELECT m.sector, m.model,
       series_mean(m.mase, m.n_series) AS mase, series_mean(m.wape, m.sum_actual) AS wape,
       series_mean(m.coverage_80, m.n_points) AS coverage_80,
       series_mean(m.coverage_95, m.n_points) AS coverage_95,
       count(DISTINCT m.brand) AS n_brands, sum(m.n_points)::BIGINT AS n_points
FROM backtest_metrics m JOIN latest_brand_runs l USING (run_id, brand)
GROUP BY m.sector, m.model;

-- Unknown series-weeks (not demand, never scored) as the latest run of each brand saw them:
-- an outage of the brand x market, a missing row, a negative net week, or a stockout.
CREATE OR REPLACE VIEW sales_gaps AS
SELECT g.brand, g.market, g.product, g.ds, g.reason, g.units, g.imputed, g.run_id, l.as_of,
       g.market AS region
FROM gap_weeks g JOIN latest_brand_runs l USING (run_id, brand);

-- Every forecast of every finished run next to the actual, once the actual has arrived;
-- weeks that are unknown (sales_gaps) are not actuals and are left out.
CREATE OR REPLACE VIEW forecast_vs_actual AS
SELECT f.run_id, r.as_of, f.sector, f.brand, f.market, f.product, f.ds, f.step, f.model,
       f.is_selected, f.yhat, f.lo_80, f.hi_80, f.lo_95, f.hi_95, s.units AS actual,
       s.units - f.yhat AS error,
       s.units BETWEEN f.lo_80 AND f.hi_80 AS in_80,
       s.units BETWEEN f.lo_95 AND f.hi_95 AS in_95,
       f.events, f.market AS region
FROM forecasts f
JOIN forecast_runs r USING (run_id)
JOIN sales s USING (brand, market, product, ds)
ANTI JOIN sales_gaps g USING (brand, market, product, ds)
WHERE r.status IN ('succeeded', 'partial');

-- How much each brand borrowed from its pool in the latest run that fitted it.
CREATE OR REPLACE VIEW brand_borrowing AS
SELECT w.name AS brand, w.sector, w.pool, w.kind, w.own_weight, 1 - w.own_weight AS borrowed,
       w.history_weeks, w.n_series, w.noise_var, w.between_var,
       w.series_weight_mean, w.series_weight_min, w.series_weight_max, w.run_id
FROM prior_weights w JOIN latest_brand_runs l ON l.run_id = w.run_id AND l.brand = w.name
WHERE w.level = 'brand';

-- ---------------------------------------------------------------------------------------
-- Planning views. Documented in warehouse/README.md ("Planning views").

-- The latest reconciled run: latest as_of, then latest reconciliation, of a finished run.
CREATE OR REPLACE VIEW latest_reconciliation AS
SELECT c.*
FROM reconciliations c JOIN forecast_runs r USING (run_id)
WHERE r.status IN ('succeeded', 'partial')
QUALIFY row_number() OVER (ORDER BY c.as_of DESC, c.reconciled_at DESC) = 1;

-- Coherent forecasts of the latest reconciled run at every level, week / month / quarter.
CREATE OR REPLACE VIEW forecasts_by_level AS
SELECT f.level, f.granularity, f.sector, f.brand, f.market, f.category, f.product, f.ds,
       f.step, f.weeks, f.period_weeks, f.yhat, f.lo_80, f.hi_80, f.lo_95, f.hi_95,
       f.base, f.snaive, f.run_id, l.as_of, l.path AS reconciliation
FROM level_forecasts f JOIN latest_reconciliation l USING (run_id);

-- Each series' place in the hierarchy, from the latest run that forecast it.
CREATE OR REPLACE VIEW current_hierarchy AS
SELECT h.brand, h.market, h.product, h.sector, h.category, h.category_source,
       h.market AS region
FROM series_hierarchy h JOIN forecast_runs r USING (run_id)
QUALIFY row_number() OVER (
    PARTITION BY h.brand, h.market, h.product ORDER BY r.as_of DESC, r.started_at DESC) = 1;

-- Weekly actuals at every level (sales summed through current_hierarchy).
CREATE OR REPLACE VIEW level_actuals AS
SELECT CASE grouping(h.sector, h.brand, h.market, h.category, h.product)
           WHEN 31 THEN 'group' WHEN 15 THEN 'sector' WHEN 7 THEN 'brand'
           WHEN 3 THEN 'brand_market' WHEN 1 THEN 'category_market' ELSE 'product_market'
       END AS level,
       h.sector, h.brand, h.market, h.category, h.product, s.ds, sum(s.units) AS actual
FROM sales s JOIN current_hierarchy h USING (brand, market, product)
GROUP BY GROUPING SETS (
    (s.ds), (s.ds, h.sector), (s.ds, h.sector, h.brand), (s.ds, h.sector, h.brand, h.market),
    (s.ds, h.sector, h.brand, h.market, h.category),
    (s.ds, h.sector, h.brand, h.market, h.category, h.product));

-- Every finished run's weekly level forecasts next to the actual once its week has passed
-- (a series without a sales row in a passed week sold 0). statistical = reconciled forecast,
-- final = with overrides, snaive = seasonal naive; scale = the series' MASE denominator.
CREATE OR REPLACE VIEW level_forecast_vs_actual AS
SELECT f.run_id, r.as_of, f.level, f.sector, f.brand, f.market, f.category, f.product, f.ds,
       f.step, f.yhat AS statistical, coalesce(x.yhat, f.yhat) AS final, f.snaive,
       f.lo_80, f.hi_80, f.lo_95, f.hi_95, coalesce(a.actual, 0) AS actual,
       f.yhat - coalesce(a.actual, 0) AS error, sc.scale
FROM level_forecasts f
JOIN forecast_runs r USING (run_id)
LEFT JOIN final_level_forecasts x
  ON x.run_id = f.run_id AND x.granularity = 'week' AND x.level = f.level AND x.ds = f.ds
 AND x.sector IS NOT DISTINCT FROM f.sector AND x.brand IS NOT DISTINCT FROM f.brand
 AND x.market IS NOT DISTINCT FROM f.market AND x.category IS NOT DISTINCT FROM f.category
 AND x.product IS NOT DISTINCT FROM f.product
LEFT JOIN level_actuals a
  ON a.level = f.level AND a.ds = f.ds
 AND a.sector IS NOT DISTINCT FROM f.sector AND a.brand IS NOT DISTINCT FROM f.brand
 AND a.market IS NOT DISTINCT FROM f.market AND a.category IS NOT DISTINCT FROM f.category
 AND a.product IS NOT DISTINCT FROM f.product
LEFT JOIN level_scales sc
  ON sc.run_id = f.run_id AND sc.level = f.level
 AND sc.sector IS NOT DISTINCT FROM f.sector AND sc.brand IS NOT DISTINCT FROM f.brand
 AND sc.market IS NOT DISTINCT FROM f.market AND sc.category IS NOT DISTINCT FROM f.category
 AND sc.product IS NOT DISTINCT FROM f.product
WHERE f.granularity = 'week' AND r.status IN ('succeeded', 'partial')
  AND f.ds <= (SELECT max(ds) FROM sales);

-- Accuracy of published forecasts as actuals arrive: per run, level, brand (NULL for group
-- and sector rows) and lead time (step, weeks ahead).
CREATE OR REPLACE VIEW accuracy_by_level AS
SELECT run_id, as_of, level, sector, brand, step, count(*) AS n_points,
       count(DISTINCT (market, category, product)) AS n_series,
       sum(abs(error)) / nullif(sum(abs(actual)), 0) AS wape,
       sum(error) / nullif(sum(abs(actual)), 0) AS bias,
       avg(abs(error) / scale) FILTER (WHERE scale > 0) AS mase,
       avg((actual BETWEEN lo_80 AND hi_80)::INT) AS coverage_80,
       avg((actual BETWEEN lo_95 AND hi_95)::INT) AS coverage_95,
       sum(abs(final - actual)) / nullif(sum(abs(actual)), 0) AS final_wape,
       sum(abs(actual)) AS sum_actual
FROM level_forecast_vs_actual
GROUP BY ALL;

-- Tracking signal per series: over its last 13 passed weeks, each scored with the most
-- recent forecast made before it, Σ error / mean |error|. Beyond ±4: a biased forecast.
CREATE OR REPLACE VIEW tracking_signals AS
WITH latest AS (
    SELECT * FROM level_forecast_vs_actual
    QUALIFY row_number() OVER (
        PARTITION BY level, sector, brand, market, category, product, ds ORDER BY as_of DESC) = 1
), recent AS (
    SELECT * FROM latest
    QUALIFY row_number() OVER (
        PARTITION BY level, sector, brand, market, category, product ORDER BY ds DESC) <= 13
)
SELECT level, sector, brand, market, category, product, count(*) AS n_weeks,
       max(ds) AS last_week, sum(error) AS sum_error, avg(abs(error)) AS mad,
       sum(error) / nullif(avg(abs(error)), 0) AS tracking_signal,
       coalesce(abs(sum(error) / nullif(avg(abs(error)), 0)) > 4, false) AS alarm
FROM recent GROUP BY ALL;

-- What planners export: the latest reconciled run's statistical forecast plus the active
-- overrides, at every level and granularity (coherent, ≥ 0).
CREATE OR REPLACE VIEW final_forecasts AS
SELECT f.level, f.granularity, f.sector, f.brand, f.market, f.category, f.product, f.ds,
       f.step, f.weeks, f.statistical, f.yhat, f.lo_80, f.hi_80, f.lo_95, f.hi_95,
       f.overridden, f.run_id, l.as_of
FROM final_level_forecasts f JOIN latest_reconciliation l USING (run_id);

-- Forecast value added, per level, brand (NULL for group and sector rows) and lead time,
-- over every run's forecasts whose weeks have passed: seasonal naive → statistical → final.
-- fva_statistical = naive WAPE − statistical WAPE (> 0: the models add value);
-- fva_overrides = statistical WAPE − final WAPE (> 0: the overrides add value).
CREATE OR REPLACE VIEW fva AS
SELECT level, sector, brand, step, count(*) AS n_points, count(DISTINCT run_id) AS n_runs,
       sum(abs(snaive - actual)) / nullif(sum(abs(actual)), 0) AS naive_wape,
       sum(abs(statistical - actual)) / nullif(sum(abs(actual)), 0) AS statistical_wape,
       sum(abs(final - actual)) / nullif(sum(abs(actual)), 0) AS final_wape,
       avg(abs(snaive - actual) / scale) FILTER (WHERE scale > 0) AS naive_mase,
       avg(abs(statistical - actual) / scale) FILTER (WHERE scale > 0) AS statistical_mase,
       avg(abs(final - actual) / scale) FILTER (WHERE scale > 0) AS final_mase,
       sum(snaive - actual) / nullif(sum(abs(actual)), 0) AS naive_bias,
       sum(statistical - actual) / nullif(sum(abs(actual)), 0) AS statistical_bias,
       sum(final - actual) / nullif(sum(abs(actual)), 0) AS final_bias,
       (sum(abs(snaive - actual)) - sum(abs(statistical - actual)))
           / nullif(sum(abs(actual)), 0) AS fva_statistical,
       (sum(abs(statistical - actual)) - sum(abs(final - actual)))
           / nullif(sum(abs(actual)), 0) AS fva_overrides
FROM level_forecast_vs_actual
WHERE snaive IS NOT NULL
GROUP BY ALL;

-- Each override in each run it shaped, scored on its own level, scope and passed weeks:
-- did it bring the forecast closer to the actual? direction: up / down; size: small when
-- it moved the statistical forecast by less than 10 %.
CREATE OR REPLACE VIEW override_outcomes AS
SELECT o.override_id, o.level, o.brand, o.market, o.category, o.product, o.author, o.reason,
       a.run_id, count(*) AS n_weeks,
       CASE WHEN a.final >= a.statistical THEN 'up' ELSE 'down' END AS direction,
       CASE WHEN abs(a.final - a.statistical) < 0.1 * a.statistical THEN 'small' ELSE 'large' END
           AS size,
       (a.final - a.statistical) / nullif(a.statistical, 0) AS adjustment,
       sum(abs(f.statistical - f.actual)) AS statistical_abs_error,
       sum(abs(f.final - f.actual)) AS final_abs_error,
       sum(abs(f.final - f.actual)) < sum(abs(f.statistical - f.actual)) AS helped
FROM override_applications a
JOIN overrides o USING (override_id)
JOIN level_forecast_vs_actual f
  ON f.run_id = a.run_id AND f.level = o.level AND f.brand = o.brand
 AND f.market IS NOT DISTINCT FROM o.market AND f.category IS NOT DISTINCT FROM o.category
 AND f.product IS NOT DISTINCT FROM o.product
 AND f.ds BETWEEN o.period_start AND o.period_end
GROUP BY ALL;

-- Share of overrides that helped, by direction and size.
CREATE OR REPLACE VIEW fva_overrides AS
SELECT direction, size, count(*) AS n_overrides, avg(helped::INT) AS share_helped,
       avg(adjustment) AS mean_adjustment,
       sum(statistical_abs_error - final_abs_error) AS units_error_removed
FROM override_outcomes GROUP BY ALL;
