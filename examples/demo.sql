-- examples/demo.sql -- a nightly in-database ELT as a dagsched DAG.
--
-- Run by `make demo` on a throwaway cluster; you can also run it yourself on
-- any database where dagsched is preloaded (shared_preload_libraries) and
-- dagsched.database_name points at that database:
--
--     psql -X -v ON_ERROR_STOP=1 -f examples/demo.sql
--
-- It drops and recreates schema `shop` and the DAG 'nightly_sales', so it
-- can be run again and again.
--
--   load_orders ─────┐
--                    ├─> transform ──> aggregate ──> report
--   load_customers ──┘

\set ON_ERROR_STOP on
\set QUIET on
\pset null '-'
SET client_min_messages = warning;

CREATE EXTENSION IF NOT EXISTS dagsched;

\echo
\echo '== 1. the "source systems": raw tables filled from generate_series'

DELETE FROM dagsched.dag WHERE dag_name = 'nightly_sales';  -- tasks and runs cascade
DROP SCHEMA IF EXISTS shop CASCADE;
CREATE SCHEMA shop;

-- 200 000 orders over one week (busier towards the weekend), as an upstream
-- application writes them: amounts as text, mixed-case statuses, a few
-- orders of customers that do not exist.
CREATE TABLE shop.raw_orders AS
SELECT g                                                    AS order_id,
       CASE WHEN g % 997 = 0 THEN 999999
            ELSE 1 + abs(hashint8(g)) % 5000 END            AS customer_id,
       timestamptz '2024-06-03 00:00:00+02'
         + (ARRAY[0, 1, 2, 3, 4, 4, 5, 5, 5, 6])[1 + abs(hashint8(g + 1000000)) % 10]
           * interval '1 day'
         + (abs(hashint8(g + 2000000)) % 86400) * interval '1 second' AS ordered_at,
       to_char(5 + (abs(hashint8(g + 3000000)) % 40000) / 100.0, 'FM99990.00') AS amount_text,
       (ARRAY['PAID', 'paid', 'Paid', 'refunded', 'cancelled'])[1 + abs(hashint8(g + 4000000)) % 5]
                                                            AS status
FROM generate_series(1::bigint, 200000) AS g;

-- 5 000 customers; some without e-mail, names with stray blanks
CREATE TABLE shop.raw_customers AS
SELECT c                                                    AS customer_id,
       '  Customer ' || c || ' '                            AS full_name,
       (ARRAY['PL', 'DE', 'CZ', 'SK', 'LT', 'pl', 'de'])[1 + c % 7] AS country,
       CASE WHEN c % 40 = 0 THEN NULL
            ELSE 'customer' || c || '@example.com' END      AS email
FROM generate_series(1::bigint, 5000) AS c;

-- the warehouse side: staging, clean, aggregate, report
CREATE TABLE shop.stg_orders (
	order_id    bigint PRIMARY KEY,
	customer_id bigint NOT NULL,
	ordered_at  timestamptz NOT NULL,
	amount      numeric(12,2) NOT NULL,
	status      text NOT NULL
);
CREATE TABLE shop.stg_customers (
	customer_id bigint PRIMARY KEY,
	full_name   text NOT NULL,
	country     char(2) NOT NULL,
	email       text
);
CREATE TABLE shop.orders_clean (
	order_id    bigint PRIMARY KEY,
	order_day   date NOT NULL,
	customer_id bigint NOT NULL,
	country     char(2) NOT NULL,
	amount      numeric(12,2) NOT NULL
);
CREATE TABLE shop.daily_sales (
	order_day   date,
	country     char(2),
	orders      bigint NOT NULL,
	customers   bigint NOT NULL,
	revenue     numeric(14,2) NOT NULL,
	PRIMARY KEY (order_day, country)
);
CREATE TABLE shop.report (
	run_id       bigint NOT NULL,
	logical_time timestamptz NOT NULL,
	order_day    date NOT NULL,
	orders       bigint NOT NULL,
	revenue      numeric(6,2) NOT NULL,   -- a bug: too narrow (fixed in step 6)
	top_country  char(2) NOT NULL,
	generated_at timestamptz NOT NULL DEFAULT clock_timestamp(),
	PRIMARY KEY (run_id, order_day)
);

SELECT (SELECT count(*) FROM shop.raw_orders)    AS raw_orders,
       (SELECT count(*) FROM shop.raw_customers) AS raw_customers;

\echo
\echo '== 2. the DAG: plain INSERTs, checked (dependencies, cycles) at COMMIT'

BEGIN;

INSERT INTO dagsched.dag (dag_name, schedule, timezone, description)
VALUES ('nightly_sales', '0 2 * * *', 'Europe/Warsaw',
        'Nightly sales ELT: load, clean, aggregate per day and country, report');

INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
('nightly_sales', 'load_orders', $sql$
	TRUNCATE shop.stg_orders;
	INSERT INTO shop.stg_orders (order_id, customer_id, ordered_at, amount, status)
	SELECT order_id, customer_id, ordered_at,
	       amount_text::numeric(12,2), lower(status)
	FROM shop.raw_orders;
$sql$, '{}'),

('nightly_sales', 'load_customers', $sql$
	TRUNCATE shop.stg_customers;
	INSERT INTO shop.stg_customers (customer_id, full_name, country, email)
	SELECT customer_id, btrim(full_name), upper(country), lower(email)
	FROM shop.raw_customers;
$sql$, '{}'),

-- paid orders of known customers, day in the shop's local time
('nightly_sales', 'transform', $sql$
	TRUNCATE shop.orders_clean;
	INSERT INTO shop.orders_clean (order_id, order_day, customer_id, country, amount)
	SELECT o.order_id, (o.ordered_at AT TIME ZONE 'Europe/Warsaw')::date,
	       o.customer_id, c.country, o.amount
	FROM shop.stg_orders o
	JOIN shop.stg_customers c USING (customer_id)
	WHERE o.status = 'paid' AND o.amount > 0;
$sql$, '{load_orders,load_customers}'),

('nightly_sales', 'aggregate', $sql$
	TRUNCATE shop.daily_sales;
	INSERT INTO shop.daily_sales (order_day, country, orders, customers, revenue)
	SELECT order_day, country, count(*), count(DISTINCT customer_id), sum(amount)
	FROM shop.orders_clean
	GROUP BY order_day, country;
$sql$, '{transform}'),

-- the run's own context comes in through settings, never spliced into SQL
('nightly_sales', 'report', $sql$
	INSERT INTO shop.report (run_id, logical_time, order_day, orders, revenue, top_country)
	SELECT current_setting('dagsched.run_id')::bigint,
	       current_setting('dagsched.logical_time')::timestamptz,
	       d.order_day, sum(d.orders), sum(d.revenue),
	       (SELECT t.country FROM shop.daily_sales t
	         WHERE t.order_day = d.order_day
	         ORDER BY t.revenue DESC, t.country LIMIT 1)
	FROM shop.daily_sales d
	GROUP BY d.order_day;
$sql$, '{aggregate}');

-- a shell task: runs /bin/sh as the server's OS user, in its own working
-- directory, with the run's context in DAGSCHED_* environment variables
INSERT INTO dagsched.task (dag_name, task_name, kind, command, depends_on) VALUES
('nightly_sales', 'publish', 'shell',
 'printf "run %s for %s: report published\n" "$DAGSCHED_RUN_ID" "$DAGSCHED_LOGICAL_TIME" | tee -a published.log',
 '{report}');

COMMIT;

\echo
\echo '== 3. what is defined'

SELECT dag_name, schedule, timezone, paused, owner, description
FROM dagsched.dag
WHERE dag_name = 'nightly_sales';

-- tasks in dependency order (level = longest path from a root task)
WITH RECURSIVE level AS (
	SELECT task_name, 0 AS level
	FROM dagsched.task
	WHERE dag_name = 'nightly_sales' AND depends_on = '{}'
	UNION ALL
	SELECT t.task_name, l.level + 1
	FROM dagsched.task t
	JOIN level l ON l.task_name = ANY (t.depends_on)
	WHERE t.dag_name = 'nightly_sales'
)
SELECT max(l.level) AS level, t.task_name, t.depends_on, t.trigger_rule,
       regexp_replace(btrim(t.command, E' \t\n'), '\s+', ' ', 'g')::varchar(56) AS command
FROM dagsched.task t
JOIN level l USING (task_name)
WHERE t.dag_name = 'nightly_sales'
GROUP BY t.task_name, t.depends_on, t.trigger_rule, t.command
ORDER BY level, t.task_name;

\echo
\echo '== 4. when it fires: 02:00 in Warsaw is 00:00 UTC in summer, 01:00 UTC in winter'

SELECT dag_name,
       next_run_at,
       dagsched.next_fire(schedule, now(), timezone)              AS next_fire,
       dagsched.next_fire(schedule, now(), timezone)
         AT TIME ZONE timezone                                    AS next_fire_local
FROM dagsched.dag
WHERE dag_name = 'nightly_sales';

-- the days of the 2025 DST changes in Warsaw: on 30 March 02:00 does not
-- exist (clocks jump to 03:00), so it fires once, at the jump; on 26 October
-- 02:00 happens twice, and it fires once.
SELECT after AT TIME ZONE 'Europe/Warsaw'                            AS after_local,
       dagsched.next_fire('0 2 * * *', after, 'Europe/Warsaw')
         AT TIME ZONE 'UTC'                                          AS fires_utc,
       dagsched.next_fire('0 2 * * *', after, 'Europe/Warsaw')
         AT TIME ZONE 'Europe/Warsaw'                                AS fires_local
FROM (VALUES (timestamptz '2025-03-29 12:00 Europe/Warsaw'),
             (timestamptz '2025-10-25 12:00 Europe/Warsaw')) AS v(after);

\echo
\echo '== 5. run it now (a manual run), wait for it'

SELECT dagsched.trigger('nightly_sales') AS run_id \gset
\echo 'triggered run' :run_id
SELECT dagsched.wait(:run_id, '60 seconds') AS state;

SELECT run_id, dag_name, trigger, state,
       finished_at - started_at AS took
FROM dagsched.dag_run
WHERE run_id = :run_id;

\echo
\echo '== 6. it failed: what failed, and what it held up'

SELECT * FROM dagsched.failure_impact(:run_id);

\echo
\echo 'fix the bug (shop.report.revenue is too narrow), then resume the SAME run:'
\echo 'the tasks that succeeded are kept, only report and publish run again'

ALTER TABLE shop.report ALTER COLUMN revenue TYPE numeric(14,2);
SELECT dagsched.retry(:run_id) AS tasks_requeued;
SELECT dagsched.wait(:run_id, '60 seconds') AS state;

\echo
\echo '== 7. the run, task by task (load_orders and load_customers ran in parallel;'
\echo '   report took two attempts, the first one''s error is in task_attempt)'

SELECT task_name, state, attempts,
       started_at::time(3)      AS started,
       finished_at::time(3)     AS finished,
       finished_at - started_at AS took,
       output
FROM dagsched.task_run
WHERE run_id = :run_id
ORDER BY started_at NULLS LAST, task_name;

-- every attempt, failures included
SELECT task_name, attempt, state, error
FROM dagsched.task_attempt
WHERE run_id = :run_id AND (state <> 'success' OR attempt > 1)
ORDER BY task_name, attempt;

\echo
\echo '== 8. the report it published'

SELECT order_day, to_char(order_day, 'Dy') AS dow, orders, revenue, top_country
FROM shop.report
WHERE run_id = :run_id
ORDER BY order_day;
