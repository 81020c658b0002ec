-- maison-forecast warehouse schema. Applied by forecast.warehouse; version in schema_version.
-- Documented for analysts in warehouse/README.md (grain, keys, columns).

CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER   NOT NULL,
    applied_at TIMESTAMP NOT NULL
);

-- One row per series per week. Key: (brand, region, product, ds).
CREATE TABLE IF NOT EXISTS sales (
    brand     VARCHAR   NOT NULL,
    region    VARCHAR   NOT NULL,
    product   VARCHAR   NOT NULL,
    ds        DATE      NOT NULL,   -- Monday that starts the week
    units     DOUBLE    NOT NULL,
    price     DOUBLE,
    promo     BOOLEAN,
    source    VARCHAR   NOT NULL,   -- 'synthetic:seed=<n>' or the ingested file
    loaded_at TIMESTAMP NOT NULL
);

-- Synthetic data only: the expected demand behind each generated value.
CREATE TABLE IF NOT EXISTS sales_truth (
    brand   VARCHAR NOT NULL,
    region  VARCHAR NOT NULL,
    product VARCHAR NOT NULL,
    ds      DATE    NOT NULL,
    mu      DOUBLE  NOT NULL
);

-- Rows refused by validation, raw values kept as text.
CREATE TABLE IF NOT EXISTS rejected_sales (
    source      VARCHAR   NOT NULL,
    row_number  BIGINT,
    brand       VARCHAR,
    region      VARCHAR,
    product     VARCHAR,
    ds          VARCHAR,
    units       VARCHAR,
    reason      VARCHAR   NOT NULL,
    rejected_at TIMESTAMP NOT NULL
);

-- One row per run attempt. Key: attempt_id. At most one published (succeeded | partial) row
-- per run_id: publishing an attempt replaces the key's earlier published one.
CREATE TABLE IF NOT EXISTS forecast_runs (
    run_id           VARCHAR   NOT NULL,
    attempt_id       VARCHAR,             -- <run_id>.<8 hex>; results are staged under it
    flow_run_id      VARCHAR,
    as_of            DATE      NOT NULL,
    status           VARCHAR   NOT NULL,  -- running | succeeded | partial | failed | abandoned
    started_at       TIMESTAMP NOT NULL,
    finished_at      TIMESTAMP,
    duration_s       DOUBLE,
    brands           VARCHAR[] NOT NULL,
    config_hash      VARCHAR   NOT NULL,
    parameters       JSON,
    package_versions JSON,
    host             VARCHAR,
    pid              INTEGER,
    n_series         BIGINT,
    n_rows           BIGINT,
    message          VARCHAR
);
-- v1 → v2: attempts. A v1 row is its run's only attempt.
ALTER TABLE forecast_runs ADD COLUMN IF NOT EXISTS attempt_id VARCHAR;
UPDATE forecast_runs SET attempt_id = run_id WHERE attempt_id IS NULL;

-- One row per run and brand: the brand's own status, lineage and timings. Key: (run_id, brand).
CREATE TABLE IF NOT EXISTS run_brands (
    run_id        VARCHAR NOT NULL,
    brand         VARCHAR NOT NULL,
    sector        VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,  -- succeeded | failed | skipped (launches after as_of)
    config_hash   VARCHAR NOT NULL,
    data_rows     BIGINT,
    data_max_ds   DATE,
    data_hash     VARCHAR,
    n_series      BIGINT,
    n_inactive    BIGINT,            -- series with no sale in the last 26 weeks: not forecast
    n_rows        BIGINT,
    selected_model VARCHAR,
    seconds       DOUBLE,
    error         VARCHAR
);

-- Key: (run_id, unique_id, ds, model).
CREATE TABLE IF NOT EXISTS forecasts (
    run_id      VARCHAR  NOT NULL,
    unique_id   VARCHAR  NOT NULL,   -- brand/region/product
    sector      VARCHAR  NOT NULL,
    brand       VARCHAR  NOT NULL,
    region      VARCHAR  NOT NULL,
    product     VARCHAR  NOT NULL,
    ds          DATE     NOT NULL,
    step        SMALLINT NOT NULL,   -- 1..horizon
    model       VARCHAR  NOT NULL,
    is_selected BOOLEAN  NOT NULL,   -- the model the backtest chose for this series
    demand_class VARCHAR NOT NULL,   -- smooth | intermittent
    history_weeks SMALLINT NOT NULL, -- weeks of history of the series at the as-of date
    yhat        DOUBLE   NOT NULL,
    lo_80       DOUBLE   NOT NULL,
    hi_80       DOUBLE   NOT NULL,
    lo_95       DOUBLE   NOT NULL,
    hi_95       DOUBLE   NOT NULL
);

-- Pooled profiles per run. Key: (run_id, level, pool, brand, kind, key).
CREATE TABLE IF NOT EXISTS priors (
    run_id  VARCHAR NOT NULL,
    level   VARCHAR NOT NULL,   -- group | sector | brand
    pool    VARCHAR NOT NULL,   -- sector id (or 'group') the row belongs to / borrows from
    brand   VARCHAR,            -- NULL for group and sector rows
    kind    VARCHAR NOT NULL,   -- season | event
    key     VARCHAR NOT NULL,   -- season position (0-based week of year) or event name
    own     DOUBLE,             -- own estimate (log scale); NULL without data
    pooled  DOUBLE  NOT NULL,   -- what the pool says
    shrunk  DOUBLE  NOT NULL    -- what the forecasts use
);

-- Shrinkage weights per run. Key: (run_id, level, name, kind).
CREATE TABLE IF NOT EXISTS prior_weights (
    run_id          VARCHAR NOT NULL,
    level           VARCHAR NOT NULL,   -- sector | brand
    name            VARCHAR NOT NULL,   -- sector id or brand id
    sector          VARCHAR NOT NULL,
    pool            VARCHAR NOT NULL,   -- pool borrowed from, 'none' when opted out
    kind            VARCHAR NOT NULL,   -- season | event
    own_weight      DOUBLE  NOT NULL,   -- 1 = keeps its own estimate, 0 = takes the pool's
    history_weeks   BIGINT  NOT NULL,
    n_series        BIGINT  NOT NULL,
    noise_var       DOUBLE,             -- sampling variance of its own estimate
    between_var     DOUBLE  NOT NULL,   -- spread between members of the pool
    series_weight_mean DOUBLE,          -- series inside the brand: mean own weight
    series_weight_min  DOUBLE,
    series_weight_max  DOUBLE
);

-- Key: (run_id, brand, segment, model, cutoff). Each backtest point is in one row per model.
CREATE TABLE IF NOT EXISTS backtest_metrics (
    run_id       VARCHAR NOT NULL,
    sector       VARCHAR NOT NULL,
    brand        VARCHAR NOT NULL,
    segment      VARCHAR,            -- model-choice segment: smooth, smooth/young, smooth/long, …
    demand_class VARCHAR NOT NULL,   -- smooth | intermittent
    model        VARCHAR NOT NULL,   -- a model, or 'selected' = the segment's chosen model
    is_selected  BOOLEAN NOT NULL,   -- the model chosen for this segment (always for 'selected')
    cutoff       DATE    NOT NULL,   -- forecast origin of the backtest window
    n_series     BIGINT  NOT NULL,
    n_points     BIGINT  NOT NULL,
    sum_actual   DOUBLE,             -- Σ |actual| over the points: WAPE's denominator
    mase         DOUBLE,
    rmsse        DOUBLE,
    smape        DOUBLE,
    wape         DOUBLE,
    coverage_80  DOUBLE,
    coverage_95  DOUBLE,
    scaled_crps  DOUBLE
);
-- Warehouses created before segments existed.
ALTER TABLE backtest_metrics ADD COLUMN IF NOT EXISTS segment VARCHAR;
ALTER TABLE backtest_metrics ADD COLUMN IF NOT EXISTS sum_actual DOUBLE;
