--
-- validate: DAG definitions are checked when written, graphs at commit
--
SET client_min_messages = error;
CREATE EXTENSION IF NOT EXISTS dagsched;
\set VERBOSITY default

--
-- dagsched.dag row checks
--
INSERT INTO dagsched.dag (dag_name) VALUES ('');
INSERT INTO dagsched.dag (dag_name) VALUES (repeat('x', 129));
INSERT INTO dagsched.dag (dag_name) VALUES (repeat('x', 128));
DELETE FROM dagsched.dag WHERE dag_name = repeat('x', 128);
INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('v_bad', '0 8 * * 8');
INSERT INTO dagsched.dag (dag_name, timezone) VALUES ('v_bad', 'Mars/Olympus_Mons');
INSERT INTO dagsched.dag (dag_name, max_active_runs) VALUES ('v_bad', 0);
INSERT INTO dagsched.dag (dag_name, owner) VALUES ('v_bad', 'v_no_such_role');
SELECT count(*) FROM dagsched.dag WHERE dag_name LIKE 'v\_%';

--
-- next_run_at: set on INSERT, recomputed when schedule, timezone or paused
-- change, left alone otherwise
--
INSERT INTO dagsched.dag (dag_name, schedule) VALUES
	('v_sched', '0 0 1 1 *'),
	('v_never', '0 0 30 2 *');
INSERT INTO dagsched.dag (dag_name, schedule, paused) VALUES
	('v_paused', '0 0 1 1 *', true);
INSERT INTO dagsched.dag (dag_name) VALUES ('v_manual');
SELECT dag_name, next_run_at > now() AS in_future,
	   next_run_at = dagsched.next_fire(schedule, now(), timezone) AS next_fire
FROM dagsched.dag WHERE dag_name LIKE 'v\_%' ORDER BY dag_name;
-- the scheduler advances next_run_at with plain UPDATEs (a tick far in the
-- future, so that the live scheduler does not fire it meanwhile)
UPDATE dagsched.dag SET next_run_at = '2101-02-03 04:05:06+00'
WHERE dag_name = 'v_sched';
UPDATE dagsched.dag SET description = 'still the same tick', catchup = true
WHERE dag_name = 'v_sched';
SELECT next_run_at = '2101-02-03 04:05:06+00' AS kept
FROM dagsched.dag WHERE dag_name = 'v_sched';
UPDATE dagsched.dag SET schedule = '0 0 1 7 *' WHERE dag_name = 'v_sched';
SELECT next_run_at > now() AS in_future,
	   next_run_at = dagsched.next_fire('0 0 1 7 *', now(), 'UTC') AS next_fire
FROM dagsched.dag WHERE dag_name = 'v_sched';
CREATE TEMP TABLE v_tick AS
	SELECT next_run_at FROM dagsched.dag WHERE dag_name = 'v_sched';
UPDATE dagsched.dag SET timezone = 'Asia/Tokyo' WHERE dag_name = 'v_sched';
SELECT d.next_run_at <> t.next_run_at AS moved,
	   d.next_run_at = dagsched.next_fire('0 0 1 7 *', now(), 'Asia/Tokyo') AS next_fire
FROM dagsched.dag d, v_tick t WHERE d.dag_name = 'v_sched';
UPDATE dagsched.dag SET paused = true WHERE dag_name = 'v_sched';
SELECT next_run_at IS NULL AS cleared FROM dagsched.dag WHERE dag_name = 'v_sched';
UPDATE dagsched.dag SET paused = false WHERE dag_name = 'v_sched';
SELECT next_run_at > now() AS in_future FROM dagsched.dag WHERE dag_name = 'v_sched';
UPDATE dagsched.dag SET schedule = NULL WHERE dag_name = 'v_sched';
SELECT next_run_at IS NULL AS cleared FROM dagsched.dag WHERE dag_name = 'v_sched';
UPDATE dagsched.dag SET schedule = 'nonsense' WHERE dag_name = 'v_sched';
DELETE FROM dagsched.dag WHERE dag_name IN ('v_sched', 'v_never', 'v_paused');
DROP TABLE v_tick;

--
-- dagsched.task row checks
--
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('v_manual', '', 'SELECT 1');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('v_manual', repeat('t', 200), 'SELECT 1');
INSERT INTO dagsched.task (dag_name, task_name, command, kind) VALUES ('v_manual', 'a', 'SELECT 1', 'python');
-- (terse: the failing row's detail would list every column of the table)
\set VERBOSITY terse
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('v_manual', 'a', NULL);
\set VERBOSITY default
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('v_manual', 'a', '');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('v_manual', 'a', E' \t\n ');
INSERT INTO dagsched.task (dag_name, task_name, command, trigger_rule) VALUES ('v_manual', 'a', 'SELECT 1', 'any_success');
INSERT INTO dagsched.task (dag_name, task_name, command, retries) VALUES ('v_manual', 'a', 'SELECT 1', -1);
INSERT INTO dagsched.task (dag_name, task_name, command, retry_delay) VALUES ('v_manual', 'a', 'SELECT 1', '0');
INSERT INTO dagsched.task (dag_name, task_name, command, retry_delay) VALUES ('v_manual', 'a', 'SELECT 1', '-5 seconds');
INSERT INTO dagsched.task (dag_name, task_name, command, timeout) VALUES ('v_manual', 'a', 'SELECT 1', '0 seconds');
-- sensors: a positive poke_interval (every task has one), one query, poked
-- in a short transaction of this database
INSERT INTO dagsched.task (dag_name, task_name, command, poke_interval) VALUES ('v_manual', 'a', 'SELECT 1', '0');
INSERT INTO dagsched.task (dag_name, task_name, kind, command, poke_interval) VALUES ('v_manual', 'a', 'sensor', 'SELECT true', '-30 seconds');
INSERT INTO dagsched.task (dag_name, task_name, kind, command) VALUES ('v_manual', 'a', 'sensor', 'SELECT true; SELECT false');
INSERT INTO dagsched.task (dag_name, task_name, kind, command) VALUES ('v_manual', 'a', 'sensor', 'UPDATE t SET x = 1');
INSERT INTO dagsched.task (dag_name, task_name, kind, command, autocommit) VALUES ('v_manual', 'a', 'sensor', 'SELECT true', true);
INSERT INTO dagsched.task (dag_name, task_name, kind, command, conninfo) VALUES ('v_manual', 'a', 'sensor', 'SELECT true', 'host=elsewhere');
INSERT INTO dagsched.task (dag_name, task_name, kind, command, database) VALUES ('v_manual', 'a', 'sensor', 'SELECT true', 'template1');
INSERT INTO dagsched.task (dag_name, task_name, kind, command, database) VALUES ('v_manual', 's', 'sensor', 'SELECT EXISTS (SELECT 1)', current_database());
SELECT kind, poke_interval FROM dagsched.task WHERE dag_name = 'v_manual' AND task_name = 's';
UPDATE dagsched.task SET poke_interval = '-1 s' WHERE dag_name = 'v_manual' AND task_name = 's';
UPDATE dagsched.task SET command = 'SELECT 1; SELECT 2' WHERE dag_name = 'v_manual' AND task_name = 's';
UPDATE dagsched.task SET poke_interval = '1 min' WHERE dag_name = 'v_manual' AND task_name = 's';
DELETE FROM dagsched.task WHERE dag_name = 'v_manual' AND task_name = 's';
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES ('v_manual', 'a', 'SELECT 1', '{b,NULL}');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES ('v_manual', 'a', 'SELECT 1', '{b,c,b}');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES ('v_manual', 'a', 'SELECT 1', '{b,a}');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES ('v_manual', 'a', 'SELECT 1', '{{b},{c}}');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
	SELECT 'v_manual', 'a', 'SELECT 1', array_agg('t' || i) FROM generate_series(1, 10001) AS i;
INSERT INTO dagsched.task (dag_name, task_name, command, database) VALUES ('v_manual', 'a', 'SELECT 1', 'v_no_such_db');
-- accepted: any priority, NULL timeout, an existing database
INSERT INTO dagsched.task (dag_name, task_name, command, priority, timeout, database)
	VALUES ('v_manual', 'a', 'SELECT 1', -7, NULL, current_database());
UPDATE dagsched.task SET timeout = '5 minutes', retries = 3, retry_delay = '1 second'
WHERE dag_name = 'v_manual' AND task_name = 'a';
SELECT task_name, kind, depends_on, trigger_rule, retries, retry_delay, timeout, priority
FROM dagsched.task WHERE dag_name LIKE 'v\_%' ORDER BY 1;

--
-- the graph, checked at commit
--
INSERT INTO dagsched.dag (dag_name) VALUES ('v_etl');
-- dependencies may come before the tasks they name, within one transaction
BEGIN;
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	('v_etl', 'report', 'SELECT 3', '{load}');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	('v_etl', 'load', 'SELECT 2', '{extract,clean}');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	('v_etl', 'clean', 'SELECT 2', '{extract}');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	('v_etl', 'extract', 'SELECT 1');
COMMIT;
SELECT task_name, depends_on FROM dagsched.task WHERE dag_name = 'v_etl' ORDER BY 1;
-- a dependency on a task that does not exist
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	('v_etl', 'publish', 'SELECT 4', '{reprot}');
-- deleting, renaming or moving a task others depend on
DELETE FROM dagsched.task WHERE dag_name = 'v_etl' AND task_name = 'clean';
UPDATE dagsched.task SET task_name = 'extract_all' WHERE dag_name = 'v_etl' AND task_name = 'extract';
UPDATE dagsched.task SET dag_name = 'v_manual' WHERE dag_name = 'v_etl' AND task_name = 'load';
-- ... is fine when the dependents go too
BEGIN;
DELETE FROM dagsched.task WHERE dag_name = 'v_etl' AND task_name = 'report';
DELETE FROM dagsched.task WHERE dag_name = 'v_etl' AND task_name = 'load';
ROLLBACK;
-- a cycle built across statements is rejected at COMMIT, and the
-- transaction leaves the stored DAG as it was
SELECT task_name, depends_on FROM dagsched.task WHERE dag_name = 'v_etl' ORDER BY 1;
BEGIN;
UPDATE dagsched.task SET depends_on = '{report}' WHERE dag_name = 'v_etl' AND task_name = 'extract';
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	('v_etl', 'archive', 'SELECT 5', '{report}');
SELECT count(*) FROM dagsched.task WHERE dag_name = 'v_etl';
COMMIT;
SELECT task_name, depends_on FROM dagsched.task WHERE dag_name = 'v_etl' ORDER BY 1;
-- a two-task cycle
BEGIN;
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	('v_manual', 'ping', 'SELECT 1', '{pong}'),
	('v_manual', 'pong', 'SELECT 1', '{ping}');
COMMIT;
-- SET CONSTRAINTS ... IMMEDIATE checks at once; later changes are checked again
BEGIN;
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	('v_manual', 'b', 'SELECT 1', '{c}'),
	('v_manual', 'c', 'SELECT 1', '{}');
SET CONSTRAINTS dagsched.task_graph_check IMMEDIATE;
SET CONSTRAINTS dagsched.task_graph_check DEFERRED;
UPDATE dagsched.task SET depends_on = '{b}' WHERE dag_name = 'v_manual' AND task_name = 'c';
COMMIT;
BEGIN;
SET CONSTRAINTS ALL IMMEDIATE;
-- rows of one statement see each other
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	('v_manual', 'b', 'SELECT 1', '{c}'),
	('v_manual', 'c', 'SELECT 1', '{}');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	('v_manual', 'd', 'SELECT 1', '{e}');
COMMIT;
SELECT task_name, depends_on FROM dagsched.task WHERE dag_name = 'v_manual' ORDER BY 1;
-- a rejected savepoint leaves the rest of the transaction alone
BEGIN;
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('v_manual', 'd', 'SELECT 1');
SAVEPOINT s;
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	('v_manual', 'e', 'SELECT 1', '{f}');
SET CONSTRAINTS ALL IMMEDIATE;
ROLLBACK TO s;
COMMIT;
SELECT task_name, depends_on FROM dagsched.task WHERE dag_name = 'v_manual' ORDER BY 1;
-- an edit of a command needs no graph check, and passes
UPDATE dagsched.task SET command = 'SELECT 2' WHERE dag_name = 'v_etl';

--
-- a 10,000-task chain and a 10,000-task fan-in, each in one transaction
--
INSERT INTO dagsched.dag (dag_name) VALUES ('v_big');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
	SELECT 'v_big', 't' || i, 'SELECT 1',
		   CASE WHEN i = 1 THEN '{}'::text[] ELSE ARRAY['t' || (i - 1)] END
	FROM generate_series(1, 10000) AS i;
SELECT count(*) FROM dagsched.task WHERE dag_name = 'v_big';
-- closing the chain into a loop shows the loop, shortened
UPDATE dagsched.task SET depends_on = '{t10000}' WHERE dag_name = 'v_big' AND task_name = 't1';
DELETE FROM dagsched.task WHERE dag_name = 'v_big';
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
	SELECT 'v_big', 't' || i, 'SELECT 1',
		   CASE WHEN i < 10000 THEN '{}'::text[]
				ELSE ARRAY(SELECT 't' || j FROM generate_series(1, 9999) AS j) END
	FROM generate_series(1, 10000) AS i;
SELECT cardinality(depends_on) FROM dagsched.task WHERE dag_name = 'v_big' AND task_name = 't10000';

--
-- cascades from dagsched.dag
--
UPDATE dagsched.dag SET dag_name = 'v_etl2' WHERE dag_name = 'v_etl';
SELECT dag_name, task_name, depends_on FROM dagsched.task WHERE dag_name LIKE 'v\_etl%' ORDER BY 2;
DELETE FROM dagsched.dag WHERE dag_name IN ('v_etl2', 'v_big');
SELECT count(*) FROM dagsched.task WHERE dag_name IN ('v_etl', 'v_etl2', 'v_big');

--
-- owners
--
CREATE ROLE v_alice;
CREATE ROLE v_bob;
CREATE ROLE v_root SUPERUSER;
CREATE ROLE v_shell IN ROLE pg_execute_server_program;
GRANT USAGE ON SCHEMA dagsched TO v_alice;
GRANT SELECT, INSERT, UPDATE, DELETE ON dagsched.dag, dagsched.task TO v_alice;
-- shell tasks need an owner allowed to run programs
INSERT INTO dagsched.dag (dag_name, owner) VALUES ('v_alices', 'v_alice');
INSERT INTO dagsched.task (dag_name, task_name, kind, command) VALUES
	('v_alices', 'sh', 'shell', 'echo hi');
INSERT INTO dagsched.dag (dag_name, owner) VALUES ('v_shells', 'v_shell');
INSERT INTO dagsched.task (dag_name, task_name, kind, command) VALUES
	('v_shells', 'sh', 'shell', 'echo hi');
UPDATE dagsched.dag SET owner = 'v_alice' WHERE dag_name = 'v_shells';
UPDATE dagsched.dag SET owner = 'v_root' WHERE dag_name = 'v_shells';
-- a non-superuser gives DAGs only to roles it belongs to, never to a superuser
SET ROLE v_alice;
INSERT INTO dagsched.dag (dag_name, owner) VALUES ('v_x', 'v_bob');
INSERT INTO dagsched.dag (dag_name, owner) VALUES ('v_x', 'v_root');
INSERT INTO dagsched.dag (dag_name) VALUES ('v_mine');
SELECT owner FROM dagsched.dag WHERE dag_name = 'v_mine';
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('v_mine', 'a', 'SELECT 1');
UPDATE dagsched.dag SET owner = 'v_bob' WHERE dag_name = 'v_mine';
-- nor changes other roles' DAGs: the trigger refuses a new task, and
-- row-level security hides existing rows from UPDATE and DELETE
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('v_shells', 'a', 'SELECT 1');
UPDATE dagsched.dag SET paused = true WHERE dag_name = 'v_shells';
DELETE FROM dagsched.task WHERE dag_name = 'v_shells';
RESET ROLE;
GRANT v_bob TO v_alice;
SET ROLE v_alice;
UPDATE dagsched.dag SET owner = 'v_bob' WHERE dag_name = 'v_mine';
RESET ROLE;
SELECT d.dag_name, d.owner, d.paused, count(t.task_name)
FROM dagsched.dag d LEFT JOIN dagsched.task t USING (dag_name)
WHERE d.dag_name IN ('v_alices', 'v_shells', 'v_mine') GROUP BY 1, 2, 3 ORDER BY 1;

--
-- clean up
--
DELETE FROM dagsched.dag WHERE dag_name LIKE 'v\_%';
REVOKE ALL ON dagsched.dag, dagsched.task FROM v_alice;
REVOKE USAGE ON SCHEMA dagsched FROM v_alice;
DROP ROLE v_alice, v_bob, v_root, v_shell;
SELECT count(*) FROM dagsched.task WHERE dag_name LIKE 'v\_%';
