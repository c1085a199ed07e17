--
-- task_input: what a task may hold is checked when it is written -- SQL
-- that parses, within a size limit, fit for how the task runs; sane retries;
-- names without stray spaces or control characters.  Nothing runs.
--
SET client_min_messages = error;
CREATE EXTENSION IF NOT EXISTS dagsched;
\set VERBOSITY default
INSERT INTO dagsched.dag (dag_name) VALUES ('ti');
CREATE TABLE ti_keep (a int);

--
-- SQL must parse: the parser's message and where it stopped
--
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', 'a', 'SELEC 1');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', 'a', E'SELECT 1;\n\tSELECT (1;\n');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', 'a', 'SELECT (1');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', 'a', 'SELECT ''żółw'' FRM t');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', 'a', E'SELECT $$never closed');
-- a long line is shown around the error, the caret under it
INSERT INTO dagsched.task (dag_name, task_name, command)
	VALUES ('ti', 'a', 'SELECT ' || repeat('1 + ', 40) || ' + FROM ' || repeat('x', 100));
-- nothing of it runs: the first statement would drop a table
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', 'a', 'DROP TABLE ti_keep; SELEC 1');
SELECT count(*) AS ti_keep_still_there FROM ti_keep;
-- a valid command is stored, not run; names of objects need not exist yet
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', 'drop', 'DROP TABLE ti_keep');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', 'later', 'INSERT INTO ti_not_yet SELECT * FROM nowhere');
SELECT count(*) AS ti_keep_still_there FROM ti_keep;
-- only comments
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', 'a', E'-- TODO\n;;');
-- shell commands and commands for other servers are not parsed here
INSERT INTO dagsched.task (dag_name, task_name, command, kind) VALUES ('ti', 'sh', 'ls -l |', 'shell');
INSERT INTO dagsched.task (dag_name, task_name, command, conninfo)
	VALUES ('ti', 'remote', 'SELECT JSON_TABLE_OF_THE_FUTURE()) (', 'host=elsewhere');

--
-- size: dagsched.max_command_size, 1 MB unless set
--
SHOW dagsched.max_command_size;
INSERT INTO dagsched.task (dag_name, task_name, command)
	VALUES ('ti', 'a', 'SELECT 1 ' || repeat(' ', 1024 * 1024));
INSERT INTO dagsched.task (dag_name, task_name, command, kind)
	VALUES ('ti', 'a', 'true' || repeat(' ', 10 * 1024 * 1024), 'shell');
INSERT INTO dagsched.task (dag_name, task_name, command)
	VALUES ('ti', 'at_limit', 'SELECT 1' || repeat(' ', 1024 * 1024 - 8));
SET dagsched.max_command_size = '2MB';
INSERT INTO dagsched.task (dag_name, task_name, command)
	VALUES ('ti', 'bigger', 'SELECT 1 ' || repeat(' ', 1024 * 1024));
RESET dagsched.max_command_size;
SELECT task_name, octet_length(command) FROM dagsched.task
WHERE dag_name = 'ti' AND task_name IN ('at_limit', 'bigger') ORDER BY 1;
-- a non-superuser cannot raise it
CREATE ROLE ti_user;
SET ROLE ti_user;
SET dagsched.max_command_size = '1GB';
RESET ROLE;

--
-- retries: 0 to 100
--
INSERT INTO dagsched.task (dag_name, task_name, command, retries) VALUES ('ti', 'a', 'SELECT 1', 1000000);
INSERT INTO dagsched.task (dag_name, task_name, command, retries) VALUES ('ti', 'a', 'SELECT 1', 101);
INSERT INTO dagsched.task (dag_name, task_name, command, retries) VALUES ('ti', 'r100', 'SELECT 1', 100);
UPDATE dagsched.task SET retries = 2147483647 WHERE dag_name = 'ti' AND task_name = 'r100';

--
-- names: no white space at either end, no control characters
--
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', '   ', 'SELECT 1');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', ' load', 'SELECT 1');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', 'load ', 'SELECT 1');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', E'load\n', 'SELECT 1');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', E'lo\nad', 'SELECT 1');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', E'lo\tad', 'SELECT 1');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', E'lo\x7fad', 'SELECT 1');
INSERT INTO dagsched.dag (dag_name) VALUES (' ti2');
INSERT INTO dagsched.dag (dag_name) VALUES (E'ti2\r');
UPDATE dagsched.dag SET dag_name = 'ti ' WHERE dag_name = 'ti';
-- inner spaces and any printable text are fine
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', 'load orders', 'SELECT 1');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('ti', 'załaduj → raport', 'SELECT 1');

--
-- a task that is one transaction (autocommit = false, the default) cannot
-- hold statements that need their own; autocommit = true takes them
--
CREATE TEMP TABLE ti_cmd (n serial, command text);
INSERT INTO ti_cmd (command) VALUES
	('VACUUM ti_keep'),
	('VACUUM (ANALYZE, VERBOSE) ti_keep'),
	('SELECT 1; CREATE INDEX CONCURRENTLY ti_i ON ti_keep (a)'),
	('DROP INDEX CONCURRENTLY ti_i'),
	('REINDEX TABLE CONCURRENTLY ti_keep'),
	('REINDEX (CONCURRENTLY) INDEX ti_i'),
	('REINDEX DATABASE contrib_regression'),
	('REINDEX SCHEMA public'),
	('CLUSTER'),
	('CREATE DATABASE ti_db'),
	('DROP DATABASE ti_db'),
	('ALTER SYSTEM SET work_mem = ''8MB'''),
	('DISCARD ALL'),
	('BEGIN'),
	('INSERT INTO ti_keep VALUES (1); COMMIT'),
	('ROLLBACK'),
	('SAVEPOINT s'),
	('COMMIT PREPARED ''x''');
SET client_min_messages = warning;
DO $$
DECLARE
	c record;
BEGIN
	FOR c IN SELECT * FROM ti_cmd ORDER BY n LOOP
		BEGIN
			INSERT INTO dagsched.task (dag_name, task_name, command)
			VALUES ('ti', 'x' || c.n, c.command);
			RAISE WARNING 'accepted: %', c.command;
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING '% %', SQLSTATE, SQLERRM;
		END;
	END LOOP;
END
$$;
SET client_min_messages = error;
-- (full text of one of them)
INSERT INTO dagsched.task (dag_name, task_name, command)
	VALUES ('ti', 'a', E'ANALYZE ti_keep;\nVACUUM ti_keep;');
-- these run inside a transaction block, so a task may hold them
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	('ti', 'analyze', 'ANALYZE ti_keep'),
	('ti', 'index', 'CREATE INDEX ti_j ON ti_keep (a)'),
	('ti', 'reindex', 'REINDEX TABLE ti_keep'),
	('ti', 'cluster', 'CLUSTER ti_keep USING ti_j'),
	('ti', 'refresh', 'REFRESH MATERIALIZED VIEW CONCURRENTLY ti_mv'),
	('ti', 'discard', 'DISCARD TEMP'),
	('ti', 'set', 'SET work_mem = ''64MB''; SET LOCAL statement_timeout = 0'),
	('ti', 'call', 'CALL ti_proc()'),
	-- (refused at run time, with a hint: a task runs as its DAG's owner)
	('ti', 'role', 'SET ROLE ti_user');
-- with autocommit = true, every one of them is accepted
INSERT INTO dagsched.task (dag_name, task_name, command, autocommit)
	SELECT 'ti', 'ac' || n, command, true FROM ti_cmd;
SELECT count(*) FROM dagsched.task WHERE dag_name = 'ti' AND autocommit;
-- turning autocommit off is checked again
UPDATE dagsched.task SET autocommit = false WHERE dag_name = 'ti' AND task_name = 'ac1';
-- ... as is a new command
UPDATE dagsched.task SET command = 'VACUUM FULL ti_keep' WHERE dag_name = 'ti' AND task_name = 'analyze';
-- autocommit is for SQL on this server only
INSERT INTO dagsched.task (dag_name, task_name, command, kind, autocommit)
	VALUES ('ti', 'a', 'vacuumdb', 'shell', true);
INSERT INTO dagsched.task (dag_name, task_name, command, conninfo, autocommit)
	VALUES ('ti', 'a', 'VACUUM', 'host=elsewhere', true);
UPDATE dagsched.task SET kind = 'shell' WHERE dag_name = 'ti' AND task_name = 'ac1';

--
-- a row stored before a rule existed (here: written with triggers off)
-- stays editable: unchanged values are not checked again
--
SET session_replication_role = replica;
INSERT INTO dagsched.task (dag_name, task_name, command, retries)
	VALUES ('ti', ' legacy ', 'VACUUM ti_keep', 5000);
RESET session_replication_role;
UPDATE dagsched.task SET priority = 3, timeout = '1 hour'
WHERE dag_name = 'ti' AND task_name = ' legacy ';
UPDATE dagsched.task SET depends_on = '{load orders}'
WHERE dag_name = 'ti' AND task_name = ' legacy ';
SELECT task_name, priority, retries, depends_on FROM dagsched.task
WHERE dag_name = 'ti' AND task_name = ' legacy ';
-- but a changed command is
UPDATE dagsched.task SET command = 'VACUUM ti_keep; SELEC'
WHERE dag_name = 'ti' AND task_name = ' legacy ';

--
-- pg_cron's schedule spellings, as import_pg_cron() translates them
--
SET timezone = 'UTC';
SELECT s AS pg_cron, dagsched.pg_cron_schedule(s) AS dagsched,
	   dagsched.next_fire(dagsched.pg_cron_schedule(s),
						  '2026-02-10 12:00:00+00', 'GMT') AS next_fire
FROM unnest(ARRAY['0 3 * * *', '*/5 * * * *', '0 0 $ * *', ' 30 23 $ 2 * ',
				  '@annually', '@midnight', '@daily', '30 seconds']) AS s;
SELECT dagsched.pg_cron_schedule('@reboot') IS NULL AS reboot_has_no_schedule;
-- without pg_cron
SELECT dagsched.import_pg_cron();

--
-- clean up
--
DELETE FROM dagsched.dag WHERE dag_name = 'ti';
DROP TABLE ti_keep;
DROP ROLE ti_user;
