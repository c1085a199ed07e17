--
-- observe: pictures (graph, gantt), stats views, failure impact
--
SET client_min_messages = error;
CREATE EXTENSION IF NOT EXISTS dagsched;
RESET client_min_messages;
\set VERBOSITY default

--
-- A DAG with awkward task names: quotes, spaces, a backslash, a newline,
-- unicode and Mermaid syntax characters.  No schedule: never runs by itself.
--
-- A newline in a name is refused since 0.2 (test/sql/task_input.sql), but
-- a 0.1 catalog may hold one: the tasks are written with the triggers off.
INSERT INTO dagsched.dag (dag_name) VALUES ('o_graph "pic"');
SET session_replication_role = replica;
INSERT INTO dagsched.task (dag_name, task_name, kind, command, depends_on) VALUES
	('o_graph "pic"', 'extract', 'sql', 'SELECT 1', '{}'),
	('o_graph "pic"', 'load "raw" data', 'shell', 'true', '{extract}'),
	('o_graph "pic"', 'back\slash', 'sql', 'SELECT 1', '{extract}'),
	('o_graph "pic"', E'two\nlines', 'sql', 'SELECT 1',
	 ARRAY['load "raw" data', 'back\slash']),
	('o_graph "pic"', 'zürich ✓ 東京', 'sql', 'SELECT 1', ARRAY[E'two\nlines']),
	('o_graph "pic"', 'a#b<c>&d;e:f|`g`', 'sql', 'SELECT 1', '{extract}');
RESET session_replication_role;

\pset tuples_only on
\pset format unaligned
SELECT dagsched.graph('o_graph "pic"');
SELECT dagsched.graph('o_graph "pic"', NULL, 'mermaid');
SELECT dagsched.graph('o_graph "pic"', format => 'Mermaid') =
	   dagsched.graph('o_graph "pic"', NULL, 'mermaid') AS case_insensitive;
\pset tuples_only off
\pset format aligned

-- helpers
SELECT dagsched.dot_quote(E'a"b\\c\nd') AS dot,
	   dagsched.mermaid_text(E'a"b#c\nd') AS mermaid,
	   dagsched.mermaid_text(E'a:b;c\r\nd', ' ') AS mermaid_line;
SELECT d, dagsched.format_duration(d)
  FROM (VALUES (interval '0'), (interval '0.0456 s'), (interval '0.9996 s'),
			   (interval '1.24 s'), (interval '59.96 s'),
			   (interval '65 s'), (interval '1 h 7 min 3 s'),
			   (interval '1 day 2 h')) v(d);

-- errors
SELECT dagsched.graph('o_graph "pic"', NULL, 'svg');
SELECT dagsched.graph('o_graph "pic"', NULL, NULL);
SELECT dagsched.graph('o_no_such_dag');
SELECT dagsched.graph(NULL);
SELECT dagsched.graph('o_graph "pic"', -1);
SELECT dagsched.gantt(-1);
SELECT * FROM dagsched.failure_impact(-1);

--
-- Runs: synthetic history with fixed timestamps, inside a transaction that
-- is rolled back, so that neither the live scheduler nor the history purge
-- ever sees it.
--
BEGIN;
INSERT INTO dagsched.dag_run (run_id, dag_name, logical_time, state, owner,
							  created_at, started_at, finished_at)
VALUES (-101, 'o_graph "pic"', '2001-02-03 04:00:00+00', 'failed', current_user,
		'2001-02-03 04:00:00+00', '2001-02-03 04:00:00+00',
		'2001-02-03 04:01:30+00');
INSERT INTO dagsched.task_run (run_id, task_name, kind, command, depends_on,
							   trigger_rule, retries, retry_delay, priority,
							   downstream, state, attempts, started_at,
							   finished_at, error, pid)
SELECT -101, t.task_name, t.kind, t.command, t.depends_on, t.trigger_rule,
	   t.retries, t.retry_delay, 0, '{}', s.state, s.attempts,
	   '2001-02-03 04:00:00+00'::timestamptz + s.start_s * interval '1 s',
	   '2001-02-03 04:00:00+00'::timestamptz + s.end_s * interval '1 s',
	   s.error, 4242
  FROM dagsched.task t
  JOIN (VALUES
	('extract', 'success', 1, 0.0, 1.2, NULL),
	('load "raw" data', 'failed', 2, 12.5, 15.0, 'exit status 3'),
	('back\slash', 'success', 1, 1.2, 66.2, NULL),
	(E'two\nlines', 'upstream_failed', 0, NULL, NULL, NULL),
	('zürich ✓ 東京', 'upstream_failed', 0, NULL, NULL, NULL),
	('a#b<c>&d;e:f|`g`', 'cancelled', 1, 1.2, 3.7, 'canceling statement due to user request'))
	AS s(task_name, state, attempts, start_s, end_s, error)
	ON s.task_name = t.task_name
 WHERE t.dag_name = 'o_graph "pic"';
INSERT INTO dagsched.task_attempt (run_id, task_name, attempt, state,
								   started_at, finished_at, error, pid)
SELECT -101, a.task_name, a.attempt, a.state,
	   '2001-02-03 04:00:00+00'::timestamptz + a.start_s * interval '1 s',
	   '2001-02-03 04:00:00+00'::timestamptz + a.end_s * interval '1 s',
	   a.error, 4242
  FROM (VALUES
	('extract', 1, 'success', 0.0, 1.2, NULL),
	('load "raw" data', 1, 'failed', 1.2, 2.5, 'exit status 3'),
	('load "raw" data', 2, 'failed', 12.5, 15.0, 'exit status 3'),
	('back\slash', 1, 'success', 1.2, 66.2, NULL),
	('a#b<c>&d;e:f|`g`', 1, 'cancelled', 1.2, 3.7, 'canceling statement due to user request'))
	AS a(task_name, attempt, state, start_s, end_s, error);

\pset tuples_only on
\pset format unaligned
SELECT dagsched.graph('o_graph "pic"', -101);
SELECT dagsched.graph(NULL, -101, 'mermaid');
SELECT dagsched.gantt(-101);
\pset tuples_only off
\pset format aligned

SELECT * FROM dagsched.failure_impact(-101);

-- a run of another DAG is not a run of this one
SAVEPOINT s;
INSERT INTO dagsched.dag (dag_name) VALUES ('o_other');
SELECT dagsched.graph('o_other', -101);
ROLLBACK TO SAVEPOINT s;

-- failure_impact walks through tasks that did not run, across several
-- failures: f1 -> u1 -> u2, f2 -> u2, f1 -> ok (all_done, ran) -> after
INSERT INTO dagsched.dag_run (run_id, dag_name, logical_time, state, owner)
VALUES (-102, 'o_graph "pic"', '2001-02-04 00:00:00+00', 'failed', current_user);
INSERT INTO dagsched.task_run (run_id, task_name, kind, command, depends_on,
							   trigger_rule, retries, retry_delay, priority,
							   state, error)
VALUES
	(-102, 'f1', 'sql', 'x', '{}', 'all_success', 0, '1 s', 0, 'failed', 'XX000: boom'),
	(-102, 'f2', 'sql', 'x', '{}', 'all_success', 0, '1 s', 0, 'failed', NULL),
	(-102, 'u1', 'sql', 'x', '{f1}', 'all_success', 0, '1 s', 0, 'upstream_failed', NULL),
	(-102, 'u2', 'sql', 'x', '{u1,f2}', 'all_success', 0, '1 s', 0, 'upstream_failed', NULL),
	(-102, 'ok', 'sql', 'x', '{f1}', 'all_done', 0, '1 s', 0, 'success', NULL),
	(-102, 'after', 'sql', 'x', '{ok}', 'all_success', 0, '1 s', 0, 'success', NULL),
	(-102, 'sk', 'sql', 'x', '{u2}', 'one_failed', 0, '1 s', 0, 'skipped', NULL);
SELECT * FROM dagsched.failure_impact(-102);

--
-- Stats: six runs of o_stats, 'steady' always about 10 s, 'slower' 30 s on
-- its last run, 'few' slower but with only two samples, 'flaky' failing
-- its first attempt every other run.
--
INSERT INTO dagsched.dag (dag_name) VALUES ('o_stats');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	('o_stats', 'steady', 'SELECT 1'), ('o_stats', 'slower', 'SELECT 1'),
	('o_stats', 'few', 'SELECT 1'), ('o_stats', 'flaky', 'SELECT 1');
INSERT INTO dagsched.dag_run (run_id, dag_name, logical_time, state, owner,
							  created_at, started_at, finished_at)
SELECT -200 - i, 'o_stats', t, CASE WHEN i = 3 THEN 'failed' ELSE 'success' END,
	   current_user, t, t, t + (40 + i) * interval '1 s'
  FROM generate_series(1, 6) i,
	   LATERAL (SELECT '2001-03-01 00:00:00+00'::timestamptz
					   + i * interval '1 hour' AS t) x;
INSERT INTO dagsched.task_run (run_id, task_name, kind, command, depends_on,
							   trigger_rule, retries, retry_delay, priority,
							   state, attempts)
SELECT r.run_id, t.task_name, 'sql', 'SELECT 1', '{}', 'all_success', 1,
	   '1 s', 0, 'success', 1
  FROM dagsched.dag_run r, dagsched.task t
 WHERE r.dag_name = 'o_stats' AND t.dag_name = 'o_stats';
INSERT INTO dagsched.task_attempt (run_id, task_name, attempt, state,
								   started_at, finished_at)
SELECT r.run_id, a.task, a.attempt, a.state, r.started_at,
	   r.started_at + a.secs * interval '1 s'
  FROM dagsched.dag_run r,
	   LATERAL (SELECT -r.run_id - 200 AS i) n,
	   LATERAL (VALUES
		('steady', 1, 'success', 10 + n.i % 3),
		('slower', 1, 'success', CASE WHEN n.i = 6 THEN 30 ELSE 10 + n.i % 2 END),
		('few', 1, 'success', CASE WHEN n.i = 6 THEN 40 WHEN n.i = 5 THEN 10 END),
		('flaky', 1, CASE WHEN n.i % 2 = 0 THEN 'failed' ELSE 'success' END, 2),
		('flaky', 2, CASE WHEN n.i % 2 = 0 THEN 'success' END, 3))
		AS a(task, attempt, state, secs)
 WHERE r.dag_name = 'o_stats' AND a.secs IS NOT NULL AND a.state IS NOT NULL;

SELECT task_name, runs, successes, failures, success_rate, p50, p95,
	   last_duration, last_state, last_finished_at, slowdown, slow
  FROM dagsched.task_stats WHERE dag_name = 'o_stats' ORDER BY task_name;
SELECT task_name, runs, failures, p50, last_duration, slowdown, slow
  FROM dagsched.task_stats WHERE dag_name = 'o_graph "pic"' ORDER BY task_name;
-- runs are runs, not attempts: 'flaky' needed two attempts in three of its
-- six runs (6 runs, 9 attempts); 'load "raw" data' failed twice in one run
SELECT dag_name, task_name, runs, successes, failures, attempts, failed_attempts
  FROM dagsched.task_stats WHERE dag_name IN ('o_stats', 'o_graph "pic"')
 ORDER BY dag_name, task_name;

-- one more run, created an hour ago, failed, and one running now
INSERT INTO dagsched.dag_run (run_id, dag_name, logical_time, state, owner,
							  created_at, started_at, finished_at)
VALUES (-210, 'o_stats', '2001-03-02 00:00:00+00', 'failed', current_user,
		now() - interval '1 hour', now() - interval '1 hour',
		now() - interval '59 min'),
	   (-211, 'o_stats', '2001-03-03 00:00:00+00', 'running', current_user,
		now() - interval '30 s', now() - interval '30 s', NULL);
INSERT INTO dagsched.task_run (run_id, task_name, kind, command, depends_on,
							   trigger_rule, retries, retry_delay, priority,
							   state, attempts, started_at, pid)
VALUES (-211, 'steady', 'sql', 'SELECT 1', '{}', 'all_success', 0, '1 s', 0,
		'running', 1, now() - interval '25 s', 4343),
	   (-211, 'flaky', 'sql', 'SELECT 1', '{}', 'all_success', 1, '1 s', 0,
		'queued', 0, NULL, NULL);

SELECT dag_name, schedule, paused, next_run_at, last_run_id, last_run_state,
	   last_logical_time, last_finished_at IS NULL AS unfinished, active_runs,
	   runs_last_day, failures_last_day, p50, p95
  FROM dagsched.dag_stats WHERE dag_name LIKE 'o\_%' ORDER BY dag_name;
SELECT dag_name, run_id, task_name, attempt, pid,
	   started_at = now() - interval '25 s' AS started, running_for, usual, ratio
  FROM dagsched.running WHERE dag_name LIKE 'o\_%';

\pset tuples_only on
\pset format unaligned
SELECT dagsched.gantt(-211) LIKE E'%section steady\n    steady :active, %' AS running_bar;
SELECT dagsched.graph('o_stats', -211, 'mermaid');
\pset tuples_only off
\pset format aligned

-- another role sees none of this (row-level security applies through the
-- views and functions)
CREATE ROLE regress_o_viewer;
SET ROLE regress_o_viewer;
SELECT (SELECT count(*) FROM dagsched.task_stats) AS task_stats,
	   (SELECT count(*) FROM dagsched.dag_stats) AS dag_stats,
	   (SELECT count(*) FROM dagsched.running) AS running;
SAVEPOINT s;
SELECT * FROM dagsched.failure_impact(-102);
ROLLBACK TO SAVEPOINT s;
SELECT dagsched.gantt(-101);
ROLLBACK;
SELECT current_user = session_user AS role_reset;

--
-- Clean up
--
DELETE FROM dagsched.dag WHERE dag_name LIKE 'o\_%';
SELECT count(*) FROM dagsched.dag_run WHERE run_id < 0;
