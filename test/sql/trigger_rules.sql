--
-- Trigger rules: the decision of every rule (Airflow's semantics for the
-- rules added in 0.2) for every outcome of its upstreams, through
-- dagsched.rule_state(rule, upstreams, succeeded, failed, skipped,
-- upstream_failed), the function the engine itself calls.  "failed"
-- counts upstreams that ended failed or upstream_failed; the last argument
-- says how many of them ended upstream_failed.
--
-- quiet: another test may have created the extension already
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dagsched;

CREATE TEMP TABLE rules (n int, rule text);
INSERT INTO rules VALUES
	(1, 'all_success'), (2, 'all_done'), (3, 'all_failed'),
	(4, 'one_success'), (5, 'one_failed'), (6, 'none_failed'),
	(7, 'none_failed_min_one_success'), (8, 'one_done'),
	(9, 'none_skipped'), (10, 'all_skipped'), (11, 'always');

-- One upstream: still running, or ended success, failed, upstream_failed
-- or skipped; and a task without upstreams
SELECT rule,
	   dagsched.rule_state(rule, 1, 0, 0, 0, 0) AS running,
	   dagsched.rule_state(rule, 1, 1, 0, 0, 0) AS success,
	   dagsched.rule_state(rule, 1, 0, 1, 0, 0) AS failed,
	   dagsched.rule_state(rule, 1, 0, 1, 0, 1) AS upstream_failed,
	   dagsched.rule_state(rule, 1, 0, 0, 1, 0) AS skipped,
	   dagsched.rule_state(rule, 0, 0, 0, 0, 0) AS no_upstreams
FROM rules ORDER BY n;

-- Two upstreams, one still running: what the first one's end decides at once
SELECT rule,
	   dagsched.rule_state(rule, 2, 1, 0, 0, 0) AS "success+running",
	   dagsched.rule_state(rule, 2, 0, 1, 0, 0) AS "failed+running",
	   dagsched.rule_state(rule, 2, 0, 1, 0, 1) AS "upstream_failed+running",
	   dagsched.rule_state(rule, 2, 0, 0, 1, 0) AS "skipped+running"
FROM rules ORDER BY n;

-- Two upstreams, both ended
SELECT rule,
	   dagsched.rule_state(rule, 2, 2, 0, 0, 0) AS "success+success",
	   dagsched.rule_state(rule, 2, 1, 1, 0, 0) AS "success+failed",
	   dagsched.rule_state(rule, 2, 1, 0, 1, 0) AS "success+skipped",
	   dagsched.rule_state(rule, 2, 0, 2, 0, 0) AS "failed+failed",
	   dagsched.rule_state(rule, 2, 0, 1, 1, 0) AS "failed+skipped",
	   dagsched.rule_state(rule, 2, 0, 1, 1, 1) AS "upstream_failed+skipped",
	   dagsched.rule_state(rule, 2, 0, 2, 0, 1) AS "failed+upstream_failed",
	   dagsched.rule_state(rule, 2, 0, 0, 2, 0) AS "skipped+skipped"
FROM rules ORDER BY n;

-- The five-argument form (0.1) is the same with no upstream_failed apart
SELECT count(*) AS differ
FROM rules, generate_series(0, 3) s, generate_series(0, 3) f,
	 generate_series(0, 3) k
WHERE s + f + k <= 3
  AND dagsched.rule_state(rule, 3, s, f, k) <>
	  dagsched.rule_state(rule, 3, s, f, k, 0);

-- Every rule is accepted for a task; an unknown one is refused, naming all
BEGIN;
INSERT INTO dagsched.dag (dag_name) VALUES ('tr_rules');
INSERT INTO dagsched.task (dag_name, task_name, command, trigger_rule)
SELECT 'tr_rules', 't' || n, 'SELECT 1', rule FROM rules;
SET CONSTRAINTS ALL IMMEDIATE;
SELECT count(*) AS tasks FROM dagsched.task WHERE dag_name = 'tr_rules';
ROLLBACK;
INSERT INTO dagsched.dag (dag_name) VALUES ('tr_bad');
INSERT INTO dagsched.task (dag_name, task_name, command, trigger_rule)
VALUES ('tr_bad', 't', 'SELECT 1', 'none_failed_or_skipped');
SELECT dagsched.rule_state('sometimes', 1, 0, 0, 0, 0);
DELETE FROM dagsched.dag WHERE dag_name = 'tr_bad';
