-- Analyst views, recreated on every schema check. Documented in warehouse/README.md.

-- For each brand: the most recent finished run (latest as_of, then latest finish) in which
-- that brand succeeded. A running, failed or abandoned run is never visible.
CREATE OR REPLACE VIEW latest_brand_runs AS
SELECT rb.brand, rb.run_id, r.as_of, r.finished_at
FROM run_brands rb JOIN forecast_runs r USING (run_id)
WHERE rb.status = 'succeeded' AND r.status IN ('succeeded', 'partial')
QUALIFY row_number() OVER (PARTITION BY rb.brand ORDER BY r.as_of DESC, r.finished_at DESC) = 1;

CREATE OR REPLACE VIEW latest_forecasts AS
SELECT f.*, l.as_of
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

-- Every forecast of every finished run next to the actual, once the actual has arrived.
CREATE OR REPLACE VIEW forecast_vs_actual AS
SELECT f.run_id, r.as_of, f.sector, f.brand, f.region, f.product, f.ds, f.step, f.model,
       f.is_selected, f.yhat, f.lo_80, f.hi_80, f.lo_95, f.hi_95, s.units AS actual,
       s.units - f.yhat AS error,
       s.units BETWEEN f.lo_80 AND f.hi_80 AS in_80,
       s.units BETWEEN f.lo_95 AND f.hi_95 AS in_95
FROM forecasts f
JOIN forecast_runs r USING (run_id)
JOIN sales s USING (brand, region, product, ds)
WHERE r.status IN ('succeeded', 'partial');

-- How much each brand borrowed from its pool in the latest run that fitted it.
CREATE OR REPLACE VIEW brand_borrowing AS
SELECT w.name AS brand, w.sector, w.pool, w.kind, w.own_weight, 1 - w.own_weight AS borrowed,
       w.history_weeks, w.n_series, w.noise_var, w.between_var,
       w.series_weight_mean, w.series_weight_min, w.series_weight_max, w.run_id
FROM prior_weights w JOIN latest_brand_runs l ON l.run_id = w.run_id AND l.brand = w.name
WHERE w.level = 'brand';
