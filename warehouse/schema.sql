-- maison-forecast warehouse schema. Applied by forecast.warehouse; version in schema_version.
-- Documented for analysts in warehouse/README.md (grain, keys, columns).
-- v2 → v3: the series key's `region` is `market` (renamed in place by
-- forecast.warehouse.store before this file runs; views keep a `region` alias).

CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER   NOT NULL,
    applied_at TIMESTAMP NOT NULL
);

-- One row per series per period. Key: (brand, market, product, ds).
CREATE TABLE IF NOT EXISTS sales (
    brand     VARCHAR   NOT NULL,
    market    VARCHAR   NOT NULL,   -- one of the brand's markets (a country code or a group)
    product   VARCHAR   NOT NULL,
    ds        DATE      NOT NULL,   -- Monday that starts the week (monthly brands: 1st of month)
    units     DOUBLE    NOT NULL,
    price     DOUBLE,
    promo     BOOLEAN,
    source    VARCHAR   NOT NULL,   -- 'synthetic:seed=<n>' or the ingested file
    loaded_at TIMESTAMP NOT NULL
);

-- Synthetic data only: the expected demand behind each generated value.
CREATE TABLE IF NOT EXISTS sales_truth (
    brand   VARCHAR NOT NULL,
    market  VARCHAR NOT NULL,
    product VARCHAR NOT NULL,
    ds      DATE    NOT NULL,
    mu      DOUBLE  NOT NULL
);

-- Rows refused by validation, raw values kept as text.
CREATE TABLE IF NOT EXISTS rejected_sales (
    source      VARCHAR   NOT NULL,
    row_number  BIGINT,
    brand       VARCHAR,
    market      VARCHAR,            -- as written in the file (may be a country of a group)
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
    n_inactive    BIGINT,            -- series discontinued (26 observed weeks without a sale): not forecast
    n_imputed     BIGINT,            -- unknown weeks of the forecast series, imputed for the models
    unknown_share DOUBLE,            -- share of the forecast series' weeks that are unknown
    n_returns     BIGINT,            -- weeks with negative net units in the brand's sales
    n_rows        BIGINT,
    selected_model VARCHAR,
    seconds       DOUBLE,
    error         VARCHAR
);
-- Warehouses created before unknown weeks existed.
ALTER TABLE run_brands ADD COLUMN IF NOT EXISTS n_imputed BIGINT;
ALTER TABLE run_brands ADD COLUMN IF NOT EXISTS unknown_share DOUBLE;
ALTER TABLE run_brands ADD COLUMN IF NOT EXISTS n_returns BIGINT;

-- Every unknown series-week a run did not take as demand, per run (its forecast series, up to
-- its as-of). Key: (run_id, brand, market, product, ds).
CREATE TABLE IF NOT EXISTS gap_weeks (
    run_id   VARCHAR NOT NULL,
    brand    VARCHAR NOT NULL,
    market   VARCHAR NOT NULL,
    product  VARCHAR NOT NULL,
    ds       DATE    NOT NULL,
    reason   VARCHAR NOT NULL,  -- outage (no row for any product of the brand x market) | missing | return | stockout
    units    DOUBLE,            -- as given in sales (a negative net week), NULL without a row
    imputed  DOUBLE  NOT NULL   -- the value the models saw (never scored, never a profile point)
);

-- Key: (run_id, unique_id, ds, model).
CREATE TABLE IF NOT EXISTS forecasts (
    run_id      VARCHAR  NOT NULL,
    unique_id   VARCHAR  NOT NULL,   -- brand/market/product
    sector      VARCHAR  NOT NULL,
    brand       VARCHAR  NOT NULL,
    market      VARCHAR  NOT NULL,
    product     VARCHAR  NOT NULL,
    ds          DATE     NOT NULL,   -- Monday of the week, or 1st of the month (monthly brands)
    step        SMALLINT NOT NULL,   -- 1..horizon, in the brand's periods
    model       VARCHAR  NOT NULL,
    is_selected BOOLEAN  NOT NULL,   -- the model the backtest chose for this series
    demand_class VARCHAR NOT NULL,   -- smooth | intermittent
    history_weeks SMALLINT NOT NULL, -- weeks of history of the series at the as-of date
    yhat        DOUBLE   NOT NULL,
    lo_80       DOUBLE   NOT NULL,
    hi_80       DOUBLE   NOT NULL,
    lo_95       DOUBLE   NOT NULL,
    hi_95       DOUBLE   NOT NULL,
    events      VARCHAR              -- events applied to the row: holidays, type:name of brand events
);
ALTER TABLE forecasts ADD COLUMN IF NOT EXISTS events VARCHAR;

-- Pooled profiles per run. Key: (run_id, frequency, level, pool, brand, kind, key).
CREATE TABLE IF NOT EXISTS priors (
    run_id  VARCHAR NOT NULL,
    level   VARCHAR NOT NULL,   -- group | sector | brand
    pool    VARCHAR NOT NULL,   -- sector id (or 'group') the row belongs to / borrows from
    brand   VARCHAR,            -- NULL for group and sector rows
    kind    VARCHAR NOT NULL,   -- season | event
    key     VARCHAR NOT NULL,   -- season position (0-based week or month) or event name / type
    own     DOUBLE,             -- own estimate (log scale); NULL without data
    pooled  DOUBLE  NOT NULL,   -- what the pool says
    shrunk  DOUBLE  NOT NULL,   -- what the forecasts use
    frequency VARCHAR DEFAULT 'weekly'  -- weekly | monthly: brands pool with their own kind
);
ALTER TABLE priors ADD COLUMN IF NOT EXISTS frequency VARCHAR DEFAULT 'weekly';

-- Shrinkage weights per run. Key: (run_id, frequency, level, name, kind).
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
    series_weight_max  DOUBLE,
    frequency       VARCHAR DEFAULT 'weekly'
);
ALTER TABLE prior_weights ADD COLUMN IF NOT EXISTS frequency VARCHAR DEFAULT 'weekly';

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

-- A brand's own events: launches, promotions, price changes, store openings, stockouts.
-- Key: (brand, market, category, product, type, start_date) — NULL scope = every series.
CREATE TABLE IF NOT EXISTS events (
    brand      VARCHAR   NOT NULL,
    market     VARCHAR,            -- NULL: every market of the brand
    category   VARCHAR,            -- NULL: every category
    product    VARCHAR,            -- NULL: every product (of the category)
    start_date DATE      NOT NULL,
    end_date   DATE      NOT NULL, -- inclusive
    type       VARCHAR   NOT NULL, -- launch | promotion | price_change | store_opening | stockout | custom
    magnitude  DOUBLE,             -- planner's expected uplift as a fraction (0.3 = +30 %)
    name       VARCHAR,
    source     VARCHAR   NOT NULL, -- 'synthetic:seed=<n>' or the ingested file
    loaded_at  TIMESTAMP NOT NULL
);

-- Event rows refused by validation, raw values kept as text.
CREATE TABLE IF NOT EXISTS rejected_events (
    source      VARCHAR   NOT NULL,
    row_number  BIGINT,
    brand       VARCHAR,
    market      VARCHAR,
    category    VARCHAR,
    product     VARCHAR,
    start_date  VARCHAR,
    end_date    VARCHAR,
    type        VARCHAR,
    magnitude   VARCHAR,
    name        VARCHAR,
    reason      VARCHAR   NOT NULL,
    rejected_at TIMESTAMP NOT NULL
);

-- ---------------------------------------------------------------------------------------
-- Planning: product master, coherent levels, overrides, accuracy as actuals arrive.
-- Documented in warehouse/README.md ("Planning tables").

-- The product master. Key: (brand, product). A brand with rows here is "mastered".
CREATE TABLE IF NOT EXISTS product (
    brand       VARCHAR   NOT NULL,
    product     VARCHAR   NOT NULL,
    category    VARCHAR   NOT NULL,
    collection  VARCHAR,            -- collection or line (fashion: launch season, e.g. ss25)
    launch_date DATE,
    price_band  VARCHAR,            -- entry | core | premium | prestige
    source      VARCHAR   NOT NULL, -- 'synthetic:seed=<n>' or the ingested file
    loaded_at   TIMESTAMP NOT NULL
);

-- Product master rows refused by validation, raw values kept as text.
CREATE TABLE IF NOT EXISTS rejected_products (
    source      VARCHAR   NOT NULL,
    row_number  BIGINT,
    brand       VARCHAR,
    product     VARCHAR,
    category    VARCHAR,
    collection  VARCHAR,
    launch_date VARCHAR,
    price_band  VARCHAR,
    reason      VARCHAR   NOT NULL,
    rejected_at TIMESTAMP NOT NULL
);

-- Where each forecast series sat in the hierarchy of a run. Key: (run_id, brand, market, product).
CREATE TABLE IF NOT EXISTS series_hierarchy (
    run_id          VARCHAR NOT NULL,
    brand           VARCHAR NOT NULL,
    market          VARCHAR NOT NULL,
    product         VARCHAR NOT NULL,
    sector          VARCHAR NOT NULL,
    category        VARCHAR NOT NULL,
    category_source VARCHAR NOT NULL    -- master | product id
);

-- Reconciled forecasts at every level and granularity, per run.
-- Key: (run_id, level, granularity, sector, brand, market, category, product, ds).
CREATE TABLE IF NOT EXISTS level_forecasts (
    run_id      VARCHAR  NOT NULL,
    level       VARCHAR  NOT NULL,   -- group | sector | brand | brand_market | category_market | product_market
    granularity VARCHAR  NOT NULL,   -- week | month | quarter (retail 4-4-5 calendar)
    sector      VARCHAR,             -- hierarchy columns: NULL above their level
    brand       VARCHAR,
    market      VARCHAR,
    category    VARCHAR,
    product     VARCHAR,
    ds          DATE     NOT NULL,   -- Monday that starts the week / retail month / quarter
    step        SMALLINT NOT NULL,   -- weeks ahead of as_of of the period's first forecast week
    weeks       SMALLINT NOT NULL,   -- forecast weeks inside the period
    period_weeks SMALLINT NOT NULL,  -- weeks of the whole period (1, 4, 5, 13, 14)
    yhat        DOUBLE   NOT NULL,   -- reconciled: every parent = Σ children, ≥ 0
    lo_80       DOUBLE   NOT NULL,
    hi_80       DOUBLE   NOT NULL,
    lo_95       DOUBLE   NOT NULL,
    hi_95       DOUBLE   NOT NULL,
    base        DOUBLE,              -- the base forecast before reconciliation
    snaive      DOUBLE               -- seasonal naive of the same cell (Σ of its series)
);

-- Scale of MASE per run and level series: in-sample mean |y_t − y_{t−1}| (weekly).
CREATE TABLE IF NOT EXISTS level_scales (
    run_id   VARCHAR NOT NULL,
    level    VARCHAR NOT NULL,
    sector   VARCHAR,
    brand    VARCHAR,
    market   VARCHAR,
    category VARCHAR,
    product  VARCHAR,
    scale    DOUBLE
);

-- One row per reconciled run: which path it took and why. Key: run_id.
CREATE TABLE IF NOT EXISTS reconciliations (
    run_id        VARCHAR   NOT NULL,
    as_of         DATE      NOT NULL,
    path          VARCHAR   NOT NULL,  -- mint_shrink | mint_shrink+clip | bottom_up
    reason        VARCHAR   NOT NULL,
    n_series      BIGINT    NOT NULL,  -- series at every level
    n_bottom      BIGINT    NOT NULL,
    n_clipped     BIGINT    NOT NULL,  -- bottom cells below 0 set to 0 (then levels re-summed)
    seconds       DOUBLE,
    reconciled_at TIMESTAMP NOT NULL
);

-- Backtest by level: base, bottom-up and MinT forecasts from one origin, scored per level.
-- Key: (run_id, cutoff, level, method). Each point of a level is in one row per method.
CREATE TABLE IF NOT EXISTS level_backtest_metrics (
    run_id      VARCHAR NOT NULL,
    cutoff      DATE    NOT NULL,
    level       VARCHAR NOT NULL,
    method      VARCHAR NOT NULL,   -- base | bottom_up | mint_shrink
    n_series    BIGINT  NOT NULL,
    n_points    BIGINT  NOT NULL,
    sum_actual  DOUBLE,
    mase        DOUBLE,
    wape        DOUBLE,
    bias        DOUBLE,
    coverage_80 DOUBLE,
    coverage_95 DOUBLE
);

-- Planner overrides. Key: override_id.
CREATE TABLE IF NOT EXISTS overrides (
    override_id    VARCHAR   NOT NULL,  -- <file stem>-<row> (-<n> when reloaded)
    level          VARCHAR   NOT NULL,  -- brand | brand_market | category_market | product_market
    brand          VARCHAR   NOT NULL,
    market         VARCHAR,
    category       VARCHAR,
    product        VARCHAR,
    period_start   DATE      NOT NULL,  -- Monday of the first week
    period_end     DATE      NOT NULL,  -- Monday of the last week
    value          DOUBLE,              -- units over the whole period, at the scope
    percent_change DOUBLE,              -- or a change of the statistical forecast, in %
    reason         VARCHAR   NOT NULL,
    author         VARCHAR   NOT NULL,
    source         VARCHAR   NOT NULL,
    row_number     BIGINT,
    status         VARCHAR   NOT NULL,  -- active | superseded | withdrawn
    status_reason  VARCHAR,
    created_at     TIMESTAMP NOT NULL,
    changed_at     TIMESTAMP
);

-- Override rows refused by validation, raw values kept as text.
CREATE TABLE IF NOT EXISTS rejected_overrides (
    source         VARCHAR   NOT NULL,
    row_number     BIGINT,
    brand          VARCHAR,
    market         VARCHAR,
    category       VARCHAR,
    product        VARCHAR,
    period_start   VARCHAR,
    period_end     VARCHAR,
    value          VARCHAR,
    percent_change VARCHAR,
    author         VARCHAR,
    reason         VARCHAR   NOT NULL,
    rejected_at    TIMESTAMP NOT NULL
);

-- The statistical forecast plus active overrides, per run (same keys as level_forecasts).
CREATE TABLE IF NOT EXISTS final_level_forecasts (
    run_id      VARCHAR  NOT NULL,
    level       VARCHAR  NOT NULL,
    granularity VARCHAR  NOT NULL,
    sector      VARCHAR,
    brand       VARCHAR,
    market      VARCHAR,
    category    VARCHAR,
    product     VARCHAR,
    ds          DATE     NOT NULL,
    step        SMALLINT NOT NULL,
    weeks       SMALLINT NOT NULL,
    statistical DOUBLE   NOT NULL,   -- level_forecasts.yhat of the same cell
    yhat        DOUBLE   NOT NULL,   -- what planners export
    lo_80       DOUBLE   NOT NULL,
    hi_80       DOUBLE   NOT NULL,
    lo_95       DOUBLE   NOT NULL,
    hi_95       DOUBLE   NOT NULL,
    overridden  BOOLEAN  NOT NULL
);

-- Which overrides shaped which run's final forecast, at the override's own level and weeks.
-- Key: (run_id, override_id).
CREATE TABLE IF NOT EXISTS override_applications (
    run_id      VARCHAR NOT NULL,
    override_id VARCHAR NOT NULL,
    weeks       BIGINT  NOT NULL,   -- forecast weeks of the run inside the override's period
    statistical DOUBLE  NOT NULL,   -- Σ statistical forecast over the scope and those weeks
    final       DOUBLE  NOT NULL    -- Σ final forecast over the same cells
);
