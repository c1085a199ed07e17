--
-- hostile: absurd, malformed and malicious input gets a clear error that
-- names the offending value (shortened when huge), changes no stored data
-- and leaves the server working
--
SET client_min_messages = warning;
SET TimeZone = 'UTC';
CREATE EXTENSION IF NOT EXISTS dagsched;
\set VERBOSITY default

-- a fingerprint of everything stored for the h_* DAGs, to show that a
-- rejected statement changed nothing (next_run_at is left out: the scheduler
-- owns it)
CREATE FUNCTION h_state() RETURNS text LANGUAGE sql AS $$
	SELECT concat_ws(' ',
		(SELECT count(*) FROM dagsched.dag WHERE dag_name LIKE 'h\_%'),
		(SELECT count(*) FROM dagsched.task WHERE dag_name LIKE 'h\_%'),
		(SELECT count(*) FROM dagsched.dag_run WHERE dag_name LIKE 'h\_%'),
		(SELECT md5(string_agg(concat_ws('|', dag_name, schedule, timezone,
										 paused, max_active_runs, owner,
										 upstream_dags),
							   '/' ORDER BY dag_name))
		 FROM dagsched.dag WHERE dag_name LIKE 'h\_%'),
		(SELECT md5(string_agg(concat_ws('|', dag_name, task_name, kind,
										 command, depends_on, trigger_rule,
										 database),
							   '/' ORDER BY dag_name, task_name))
		 FROM dagsched.task WHERE dag_name LIKE 'h\_%'))
$$;

-- the error a statement raises, for values too big to show in full: its
-- SQLSTATE (marked if the message is not valid UTF-8), whether the message and detail stay under 2500 bytes, and
-- whether the message quotes (the start of) the value
CREATE FUNCTION h_error(stmt text, value text,
						OUT code text, OUT bounded boolean, OUT names_value boolean)
LANGUAGE plpgsql AS $$
DECLARE
	msg text;
	det text;
BEGIN
	EXECUTE stmt;
	code := '00000';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
	code := SQLSTATE;
	BEGIN
		PERFORM convert_to(msg, 'UTF8');	-- checks the encoding
	EXCEPTION WHEN OTHERS THEN
		code := code || ' (invalid UTF-8)';
	END;
	bounded := octet_length(msg) + coalesce(octet_length(det), 0) < 2500;
	names_value := strpos(msg, value) > 0;
END
$$;

INSERT INTO dagsched.dag (dag_name, schedule, timezone)
VALUES ('h_base', '0 0 1 1 *', 'Europe/Warsaw');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	('h_base', 'a', 'SELECT 1', '{}'),
	('h_base', 'b', 'SELECT 2', '{a}');
CREATE TEMP TABLE h_snap AS SELECT h_state() AS state;
SELECT d.dag_name, d.schedule, d.timezone, t.task_name, t.command, t.depends_on
FROM dagsched.dag d JOIN dagsched.task t USING (dag_name)
WHERE d.dag_name LIKE 'h\_%' ORDER BY 1, 4;

--
-- schedules
--
-- 100 kB: refused by its size, not quoted
UPDATE dagsched.dag SET schedule = repeat('1,', 50000) || '1 * * * *' WHERE dag_name = 'h_base';
INSERT INTO dagsched.dag (dag_name, schedule) VALUES ('h_bad', repeat('1,', 50000) || '1 * * * *');
SELECT dagsched.next_fire(repeat('1,', 50000) || '1 * * * *');
-- the longest accepted schedule, with a bad item: the message stays bounded
SELECT * FROM h_error($$SELECT dagsched.next_fire(repeat('1,', 495) || 'x * * * *')$$, '"x"');
-- ... also when the value is multibyte: a message cut short must still be
-- valid UTF-8 (SQLSTATE 22021 here would mean a character cut in half)
SELECT * FROM h_error($$SELECT dagsched.next_fire('a' || repeat('ż', 495) || ' * * * *')$$,
					  'ażżżżżżżżż');
-- garbage (control characters, format directives, shell, SQL)
UPDATE dagsched.dag SET schedule = E'\x01\x02\x7f * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '%s%s%n%x * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '$(rm -rf /) * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '0 8 * * *''; DROP TABLE dagsched.dag; --' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = E' \t\n ' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '1 2 3 4 5 6 7 8 9 10' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '@daily 5' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '@fortnightly' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = 'every 0 minutes' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = 'every 99999999999999999999 seconds' WHERE dag_name = 'h_base';
-- unicode: full-width digits and emoji are not numbers
UPDATE dagsched.dag SET schedule = '０ ８ * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '🕗 * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '0 8 * * 🙂' WHERE dag_name = 'h_base';
-- every field out of range
UPDATE dagsched.dag SET schedule = '60 * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '* 24 * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '* * 32 * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '* * 0 * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '* * * 13 *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '* * * 0 *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '* * * * 8' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '60 * * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '-1 * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '99999999999 * * * *' WHERE dag_name = 'h_base';
-- huge and zero steps
UPDATE dagsched.dag SET schedule = '*/4294967296 * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '*/18446744073709551617 * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '*/0 * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '* */-1 * * *' WHERE dag_name = 'h_base';
-- empty list items, reversed ranges
UPDATE dagsched.dag SET schedule = '1,,2 * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = ',1 * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '1, * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '5-1 * * * *' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET schedule = '* * * dec-jan *' WHERE dag_name = 'h_base';
SELECT h_state() = state AS unchanged FROM h_snap;
-- next_fire() says the same as the catalog, and is fine after errors
SELECT dagsched.next_fire('* * 32 * *');
SELECT dagsched.next_fire('5-1 * * * *', now(), 'UTC');
SELECT dagsched.next_fire('0 0 1 1 *', '2026-06-01 00:00+00', 'UTC');

--
-- time zones that are not zones
--
UPDATE dagsched.dag SET timezone = 'Mars/Olympus' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET timezone = '' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET timezone = 'UTC; DROP TABLE x' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET timezone = '../../../../etc/passwd' WHERE dag_name = 'h_base';
UPDATE dagsched.dag SET timezone = 'Europe/Warsaw' || repeat('x', 1000000) WHERE dag_name = 'h_base';
INSERT INTO dagsched.dag (dag_name, timezone) VALUES ('h_bad', 'Mars/Olympus');
SELECT dagsched.next_fire('* * * * *', now(), 'Mars/Olympus');
-- a NULL zone is refused by the catalog, read as UTC by next_fire()
\set VERBOSITY terse
UPDATE dagsched.dag SET timezone = NULL WHERE dag_name = 'h_base';
\set VERBOSITY default
SELECT dagsched.next_fire('0 0 1 1 *', '2026-06-01 00:00+00', NULL);
-- offsets and POSIX TZ strings, which PostgreSQL's own TimeZone setting
-- accepts ('+25:00' is 25 hours west of Greenwich), are refused (issue 14)
SELECT dagsched.next_fire('0 0 * * *', '2026-01-01 12:00+00', '+25:00') AS plus25;
SELECT dagsched.next_fire('0 0 * * *', '2026-01-01 12:00+00', 'UTC+25') AS utc_plus25;
UPDATE dagsched.dag SET timezone = 'UTC+25' WHERE dag_name = 'h_base';
SELECT h_state() = state AS unchanged FROM h_snap;

--
-- DAG and task names
--
-- quotes, unicode: accepted within 128 bytes, and they round-trip.  A
-- newline is refused since 0.2 (test/sql/task_input.sql); names a 0.1
-- catalog holds with one (written here with the triggers off) round-trip too
INSERT INTO dagsched.dag (dag_name) VALUES
	(E'h_it''s "quoted" \\ back'),
	('h_zażółć 日本 🙂');
INSERT INTO dagsched.dag (dag_name) VALUES (E'h_two\nlines');
SET session_replication_role = replica;
INSERT INTO dagsched.dag (dag_name) VALUES (E'h_two\nlines');
RESET session_replication_role;
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	(E'h_it''s "quoted" \\ back', E'"; DROP TABLE dagsched.dag; --', 'SELECT 1', '{}'),
	('h_zażółć 日本 🙂', '🙂', 'SELECT 3', '{}'),
	('h_zażółć 日本 🙂', 'żółw', 'SELECT 4', '{🙂}');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	(E'h_it''s "quoted" \\ back', E'it''s\nb', 'SELECT 2',
	 ARRAY[E'"; DROP TABLE dagsched.dag; --']);
SET session_replication_role = replica;
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on) VALUES
	(E'h_it''s "quoted" \\ back', E'it''s\nb', 'SELECT 2',
	 ARRAY[E'"; DROP TABLE dagsched.dag; --']);
RESET session_replication_role;
SELECT dag_name, task_name, depends_on, octet_length(task_name) AS bytes
FROM dagsched.task WHERE dag_name LIKE 'h\_%' AND dag_name <> 'h_base'
ORDER BY dag_name, task_name;
SELECT dagsched.trigger('h_zażółć 日本 🙂') AS run_id \gset
SELECT dagsched.wait(:run_id, '30 seconds');
SELECT task_name, state FROM dagsched.task_run WHERE run_id = :run_id ORDER BY task_name;
DELETE FROM dagsched.dag WHERE dag_name <> 'h_base' AND dag_name LIKE 'h\_%';
-- 128 bytes is the limit, whatever the characters
INSERT INTO dagsched.dag (dag_name) VALUES ('h_' || repeat('ż', 63));
SELECT octet_length(dag_name) FROM dagsched.dag WHERE dag_name LIKE 'h\_ż%';
DELETE FROM dagsched.dag WHERE dag_name LIKE 'h\_ż%';
INSERT INTO dagsched.dag (dag_name) VALUES ('h_' || repeat('ż', 64));
INSERT INTO dagsched.task (dag_name, task_name, command)
VALUES ('h_base', repeat('ż', 65), 'SELECT 1');
-- 1 MB: refused, and shortened in the message
INSERT INTO dagsched.dag (dag_name) VALUES ('h_' || repeat('x', 1048576));
UPDATE dagsched.dag SET dag_name = 'h_' || repeat('x', 1048576) WHERE dag_name = 'h_base';
INSERT INTO dagsched.task (dag_name, task_name, command)
VALUES ('h_base', repeat('t', 1048576), 'SELECT 1');
UPDATE dagsched.task SET task_name = repeat('t', 1048576)
WHERE dag_name = 'h_base' AND task_name = 'b';
INSERT INTO dagsched.task (dag_name, task_name, command)
VALUES ('h_' || repeat('x', 1048576), 'a', 'SELECT 1');
\set VERBOSITY terse
INSERT INTO dagsched.dag (dag_name) VALUES (NULL);
\set VERBOSITY default
SELECT h_state() = state AS unchanged FROM h_snap;

--
-- depends_on
--
UPDATE dagsched.task SET depends_on = (SELECT array_agg('t' || i) FROM generate_series(1, 100000) AS i)
WHERE dag_name = 'h_base' AND task_name = 'b';
UPDATE dagsched.task SET depends_on = array_fill('a'::text, ARRAY[100000])
WHERE dag_name = 'h_base' AND task_name = 'b';
UPDATE dagsched.task SET depends_on = '{a,a}'
WHERE dag_name = 'h_base' AND task_name = 'b';
UPDATE dagsched.task SET depends_on = '{b}'
WHERE dag_name = 'h_base' AND task_name = 'b';
UPDATE dagsched.task SET depends_on = '{a,NULL}'
WHERE dag_name = 'h_base' AND task_name = 'b';
UPDATE dagsched.task SET depends_on = '{{a},{a}}'
WHERE dag_name = 'h_base' AND task_name = 'b';
UPDATE dagsched.task SET depends_on = ARRAY['', 'a']
WHERE dag_name = 'h_base' AND task_name = 'b';
UPDATE dagsched.task SET depends_on = ARRAY[repeat('y', 300)]
WHERE dag_name = 'h_base' AND task_name = 'b';
UPDATE dagsched.task SET depends_on = ARRAY[repeat('y', 300), repeat('y', 300)]
WHERE dag_name = 'h_base' AND task_name = 'b';
-- a 1 MB name in depends_on can never be a task: refused by name, bounded
-- (not an index-size error from the GIN index on depends_on)
SELECT code <> '54000' AS not_index_error, bounded, names_value
FROM h_error($$UPDATE dagsched.task SET depends_on = ARRAY[repeat('y', 1048576)]
			   WHERE dag_name = 'h_base' AND task_name = 'b'$$, 'yyyyyyyyyyyyyyyy');
-- two tasks waiting on each other, and a 10,000-task ring
UPDATE dagsched.task SET depends_on = '{b}'
WHERE dag_name = 'h_base' AND task_name = 'a';
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
SELECT 'h_base', 'c' || i, 'SELECT 1',
	   ARRAY['c' || CASE WHEN i = 1 THEN 10000 ELSE i - 1 END]
FROM generate_series(1, 10000) AS i;
SELECT h_state() = state AS unchanged FROM h_snap;

--
-- commands and other task columns
--
\set VERBOSITY terse
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('h_base', 'c', NULL);
UPDATE dagsched.task SET command = NULL WHERE dag_name = 'h_base' AND task_name = 'a';
\set VERBOSITY default
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('h_base', 'c', '');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('h_base', 'c', E' \t\r\n\f\x0b ');
UPDATE dagsched.task SET command = '   ' WHERE dag_name = 'h_base' AND task_name = 'a';
INSERT INTO dagsched.task (dag_name, task_name, command, kind)
VALUES ('h_base', 'c', 'SELECT 1', 'SQL');
INSERT INTO dagsched.task (dag_name, task_name, command, trigger_rule)
VALUES ('h_base', 'c', 'SELECT 1', E'all_success\n');
-- a huge kind or trigger rule is named, shortened
SELECT * FROM h_error($$INSERT INTO dagsched.task (dag_name, task_name, command, kind)
			   VALUES ('h_base', 'c', 'SELECT 1', repeat('k', 1048576))$$, 'kkkkkkkkkkkkkkkk');
SELECT * FROM h_error($$INSERT INTO dagsched.task (dag_name, task_name, command, trigger_rule)
			   VALUES ('h_base', 'c', 'SELECT 1', repeat('r', 1048576))$$, 'rrrrrrrrrrrrrrrr');
SELECT h_state() = state AS unchanged FROM h_snap;

--
-- trigger() params and DAGs
--
SELECT dagsched.trigger('h_base', '[]');
SELECT dagsched.trigger('h_base', '1');
SELECT dagsched.trigger('h_base', '"x"');
SELECT dagsched.trigger('h_base', 'null'::jsonb);
SELECT dagsched.trigger('h_base', jsonb_build_object('big', repeat('x', 10 * 1024 * 1024)));
-- STRICT: a NULL argument creates no run
SELECT dagsched.trigger('h_base', NULL) IS NULL AS no_run,
	   dagsched.trigger(NULL) IS NULL AS no_run;
SELECT dagsched.trigger('h_no_such_dag');
SELECT dagsched.trigger('');
-- a huge unknown DAG name is shortened in the message
SELECT * FROM h_error($$SELECT dagsched.trigger('h_' || repeat('x', 1048576))$$, 'h_xxxxxxxxxxxxxx');
SELECT * FROM h_error($$SELECT dagsched.backfill('h_' || repeat('x', 1048576), now(), now())$$,
					  'h_xxxxxxxxxxxxxx');
SELECT code <> '54000' AS not_index_error, bounded, names_value
FROM h_error($$UPDATE dagsched.dag SET upstream_dags = ARRAY['h_' || repeat('x', 1048576)]
			   WHERE dag_name = 'h_base'$$, 'h_xxxxxxxxxxxxxx');
-- a DAG with no tasks
INSERT INTO dagsched.dag (dag_name) VALUES ('h_empty');
SELECT dagsched.trigger('h_empty');
SELECT count(*) AS runs FROM dagsched.dag_run WHERE dag_name LIKE 'h\_%';
DELETE FROM dagsched.dag WHERE dag_name = 'h_empty';
SELECT h_state() = state AS unchanged FROM h_snap;

--
-- run ids that do not exist
--
SELECT dagsched.cancel(-1);
SELECT dagsched.cancel(0);
SELECT dagsched.cancel(9223372036854775807);
SELECT dagsched.retry(-1);
SELECT dagsched.retry(9223372036854775807);
SELECT dagsched.wait(-1);
SELECT dagsched.wait(9223372036854775807, '0 seconds');
SELECT dagsched.gantt(-1);
SELECT * FROM dagsched.failure_impact(-1);
-- STRICT: NULL in, NULL out
SELECT dagsched.cancel(NULL) IS NULL AS cancel, dagsched.retry(NULL) IS NULL AS retry,
	   dagsched.wait(NULL) IS NULL AS wait, dagsched.wait(1, NULL) IS NULL AS wait_timeout;

--
-- next_fire() with garbage and NULLs
--
SELECT dagsched.next_fire(NULL) IS NULL AS null_schedule,
	   dagsched.next_fire('* * * * *', NULL) IS NULL AS null_after;
SELECT dagsched.next_fire('garbage');
SELECT dagsched.next_fire('* * * * *', now(), 'garbage');
SELECT dagsched.next_fire('0 0 1 1 *', '2026-06-01 00:00+00', '');
-- the ends of time: no next tick
SELECT dagsched.next_fire('* * * * *', 'infinity') IS NULL AS after_infinity,
	   dagsched.next_fire('every 1 second', '294276-12-31 23:59:59+00') IS NULL AS at_the_end;
SELECT dagsched.next_fire('0 0 29 2 *', '294270-12-31 23:59:00+00', 'UTC');

--
-- graph() with a bad format or DAG
--
SELECT dagsched.graph('h_base', NULL, 'png');
SELECT dagsched.graph('h_base', NULL, E'dot\n; rm -rf /');
SELECT dagsched.graph('h_base', NULL, NULL);
SELECT dagsched.graph('h_no_such_dag');
SELECT dagsched.graph('h_base', -1);
SELECT * FROM h_error($$SELECT dagsched.graph('h_base', NULL, repeat('f', 1048576))$$, 'ffffffffffffffff');
SELECT * FROM h_error($$SELECT dagsched.graph('h_' || repeat('x', 1048576))$$, 'h_xxxxxxxxxxxxxx');

--
-- after all that: nothing changed, and the scheduler still runs the DAG
--
SELECT h_state() = state AS unchanged FROM h_snap;
SELECT d.dag_name, d.schedule, d.timezone, t.task_name, t.command, t.depends_on
FROM dagsched.dag d JOIN dagsched.task t USING (dag_name)
WHERE d.dag_name LIKE 'h\_%' ORDER BY 1, 4;
SELECT dagsched.trigger('h_base') AS run_id \gset
SELECT dagsched.wait(:run_id, '30 seconds');

DELETE FROM dagsched.dag WHERE dag_name LIKE 'h\_%';
DROP FUNCTION h_state();
DROP FUNCTION h_error(text, text);
DROP TABLE h_snap;
