/* sql/dagsched--0.1--0.2.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION dagsched UPDATE TO '0.2'" to load this file. \quit

-- Every catalog change of 0.2 appears here as well as in sql/parts, so that
-- ALTER EXTENSION dagsched UPDATE on a 0.1 catalog gives exactly the catalog
-- CREATE EXTENSION dagsched gives (t/090_upgrade.pl compares the two).
-- Append each change in the order it is made in sql/parts.

-- issue 14: tasks whose statements run one by one as top-level transactions
ALTER TABLE dagsched.task ADD COLUMN autocommit boolean NOT NULL DEFAULT false;
ALTER TABLE dagsched.task_run ADD COLUMN autocommit boolean NOT NULL DEFAULT false;

-- issue 14: migration from pg_cron (sql/parts/85_pg_cron.sql)
/*
 * Migration from pg_cron: one DAG per job, holding one autocommit task, so
 * that what pg_cron ran (VACUUM, procedures that COMMIT) runs here the same
 * way.  Runs as the caller: cron.job's row-level security shows a
 * non-superuser only its own jobs.
 */

-- a pg_cron schedule in dagsched's syntax, or NULL for @reboot
CREATE FUNCTION dagsched.pg_cron_schedule(schedule text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN s OPERATOR(pg_catalog.=) '@reboot' THEN NULL
		WHEN s OPERATOR(pg_catalog.=) '@annually' THEN '@yearly'
		WHEN s OPERATOR(pg_catalog.=) '@midnight' THEN '@daily'
		-- pg_cron writes the last day of the month as $, dagsched as L
		WHEN s OPERATOR(pg_catalog.~) '^\S+\s+\S+\s+\S*\$' THEN
			pg_catalog.regexp_replace(s, '^(\S+\s+\S+\s+\S*)\$', '\1L')
		ELSE s END
	FROM (SELECT pg_catalog.btrim(schedule) AS s) AS x
$$;

COMMENT ON FUNCTION dagsched.pg_cron_schedule(text) IS
'a pg_cron schedule written in dagsched''s syntax ($ for the last day becomes L, @annually @yearly, @midnight @daily); NULL for @reboot, which has no equivalent';

CREATE FUNCTION dagsched.import_pg_cron(deactivate boolean DEFAULT true)
RETURNS integer
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	job			record;
	dag			text;
	tz			text;
	sched		text;
	created		integer := 0;
BEGIN
	IF pg_catalog.to_regclass('cron.job') IS NULL THEN
		RAISE EXCEPTION 'pg_cron is not installed in database "%"',
			pg_catalog.current_database()
			USING ERRCODE = 'object_not_in_prerequisite_state',
				  HINT = 'Call import_pg_cron() in the database that holds both pg_cron''s jobs (cron.database_name) and dagsched''s catalog (dagsched.database_name).';
	END IF;

	-- checked first: switching jobs off after creating DAGs must not fail
	IF deactivate AND NOT EXISTS (
		SELECT 1 FROM pg_catalog.pg_proc p
		 WHERE p.pronamespace OPERATOR(pg_catalog.=) 'cron'::regnamespace
		   AND p.proname OPERATOR(pg_catalog.=) 'alter_job'
		   AND pg_catalog.has_function_privilege(p.oid, 'EXECUTE')) THEN
		RAISE EXCEPTION 'permission denied to switch off pg_cron jobs'
			USING ERRCODE = 'insufficient_privilege',
				  DETAIL = 'import_pg_cron() switches the imported jobs off with cron.alter_job(), which role "' OPERATOR(pg_catalog.||) current_user OPERATOR(pg_catalog.||) '" may not execute.',
				  HINT = 'GRANT EXECUTE ON FUNCTION cron.alter_job to the role, or call import_pg_cron(deactivate => false) and unschedule the jobs yourself in the same transaction.';
	END IF;

	-- pg_cron >= 1.5 reads schedules in cron.timezone; earlier ones in GMT
	tz := coalesce(nullif(pg_catalog.current_setting('cron.timezone', true), ''),
				   'GMT');

	FOR job IN
		SELECT j.jobid, j.jobname, j.schedule, j.command, j.database,
			   j.username, j.active
		  FROM cron.job j ORDER BY j.jobid
	LOOP
		dag := 'pg_cron_' OPERATOR(pg_catalog.||)
			coalesce(job.jobname, job.jobid::text);
		CONTINUE WHEN EXISTS (SELECT 1 FROM dagsched.dag d
							   WHERE d.dag_name OPERATOR(pg_catalog.=) dag);
		sched := dagsched.pg_cron_schedule(job.schedule);
		IF sched IS NULL THEN
			RAISE NOTICE 'pg_cron job % runs @reboot: DAG "%" has no schedule and runs only when triggered',
				job.jobid, dag;
		END IF;

		BEGIN
			INSERT INTO dagsched.dag (dag_name, schedule, timezone, paused,
									  owner, description)
			VALUES (dag, sched, tz, NOT job.active, job.username,
					'imported from pg_cron job ' OPERATOR(pg_catalog.||) job.jobid
					OPERATOR(pg_catalog.||) ' (schedule '
					OPERATOR(pg_catalog.||) pg_catalog.quote_literal(job.schedule)
					OPERATOR(pg_catalog.||) ')');
			INSERT INTO dagsched.task (dag_name, task_name, command, database,
									   autocommit)
			VALUES (dag, 'job', job.command,
					CASE WHEN job.database OPERATOR(pg_catalog.<>)
							  pg_catalog.current_database()
						 THEN job.database END,
					true);
		EXCEPTION WHEN OTHERS THEN
			RAISE EXCEPTION 'cannot import pg_cron job % as DAG "%": %',
				job.jobid, dagsched.shorten(dag), SQLERRM
				USING ERRCODE = SQLSTATE,
					  HINT = 'Change or unschedule the job in pg_cron, then call import_pg_cron() again; nothing was imported.';
		END;

		IF deactivate AND job.active THEN
			PERFORM cron.alter_job(job.jobid, active => false);
		END IF;
		created := created OPERATOR(pg_catalog.+) 1;
	END LOOP;
	RETURN created;
END
$$;

COMMENT ON FUNCTION dagsched.import_pg_cron(boolean) IS
'one DAG pg_cron_<jobname> (or pg_cron_<jobid>) per pg_cron job the caller can see, with one autocommit task "job", the job''s schedule, database and user, paused if the job is inactive; with deactivate, the imported jobs are switched off in pg_cron in the same transaction; jobs imported before are skipped; returns how many DAGs it created';

-- issue 13: cancel() waits for running tasks; attempts keep their definition
ALTER TABLE dagsched.dag_run ADD COLUMN cancel_requested boolean NOT NULL DEFAULT false;
ALTER TABLE dagsched.task_attempt
	ADD COLUMN kind text,
	ADD COLUMN command text,
	ADD COLUMN retries integer,
	ADD COLUMN retry_delay interval,
	ADD COLUMN timeout interval,
	ADD COLUMN database name,
	ADD COLUMN conninfo text,
	ADD COLUMN marked_by name;
-- what ran before 0.2 is what task_run still holds
UPDATE dagsched.task_attempt a
   SET kind = t.kind, command = t.command, retries = t.retries,
	   retry_delay = t.retry_delay, timeout = t.timeout,
	   database = t.database, conninfo = t.conninfo
  FROM dagsched.task_run t
 WHERE t.run_id = a.run_id AND t.task_name = a.task_name;

-- issue 13: history is part of what pg_dump keeps
SELECT pg_catalog.pg_extension_config_dump('dagsched.dag_run', '');
SELECT pg_catalog.pg_extension_config_dump('dagsched.task_run', '');
SELECT pg_catalog.pg_extension_config_dump('dagsched.task_attempt', '');
SELECT pg_catalog.pg_extension_config_dump('dagsched.dag_run_run_id_seq', '');

-- issue 13: task_stats counts runs, not attempts (and shows attempts apart)
/*
 * task_stats: how long does a task usually take, how often does it fail,
 * and was its last run markedly slower than usual?  Counted per run (a task
 * that needed three attempts in a run is one run), over the task's last 100
 * runs; the attempts that retries hide are counted apart.
 */
CREATE OR REPLACE VIEW dagsched.task_stats WITH (security_invoker = true) AS
WITH att AS (
	SELECT r.dag_name, a.run_id, a.task_name, a.attempt, a.state,
		   a.started_at, a.finished_at, a.finished_at - a.started_at AS took
	  FROM dagsched.task_attempt a
	  JOIN dagsched.dag_run r ON r.run_id = a.run_id
	 WHERE a.state IN ('success', 'failed')
	   AND a.started_at IS NOT NULL AND a.finished_at IS NOT NULL
	   AND a.marked_by IS NULL
),
per_run AS (
	SELECT dag_name, task_name, run_id,
		   (array_agg(state ORDER BY attempt DESC))[1] AS outcome,
		   count(*) AS attempts,
		   count(*) FILTER (WHERE state = 'failed') AS failed_attempts,
		   max(started_at) AS started_at
	  FROM att
	 GROUP BY dag_name, task_name, run_id
),
recent AS (
	SELECT per_run.*,
		   row_number() OVER (PARTITION BY dag_name, task_name
							  ORDER BY started_at DESC, run_id DESC) AS age
	  FROM per_run
),
runs AS (
	SELECT dag_name, task_name,
		   count(*) AS runs,
		   count(*) FILTER (WHERE outcome = 'success') AS successes,
		   count(*) FILTER (WHERE outcome = 'failed') AS failures,
		   sum(attempts) AS attempts,
		   sum(failed_attempts) AS failed_attempts
	  FROM recent
	 WHERE age <= 100
	 GROUP BY dag_name, task_name
),
agg AS (
	SELECT a.dag_name, a.task_name,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY a.took)
			   FILTER (WHERE a.state = 'success') AS p50,
		   percentile_cont(0.95) WITHIN GROUP (ORDER BY a.took)
			   FILTER (WHERE a.state = 'success') AS p95,
		   (array_agg(a.took ORDER BY a.started_at DESC, a.run_id DESC,
					  a.attempt DESC)
				FILTER (WHERE a.state = 'success'))[1] AS last_duration,
		   (array_agg(a.state ORDER BY a.started_at DESC, a.run_id DESC,
					  a.attempt DESC))[1] AS last_state,
		   max(a.finished_at) AS last_finished_at
	  FROM att a
	  JOIN recent r ON r.dag_name = a.dag_name AND r.task_name = a.task_name
				   AND r.run_id = a.run_id AND r.age <= 100
	 GROUP BY a.dag_name, a.task_name
),
ratio AS (
	SELECT runs.*, agg.p50, agg.p95, agg.last_duration, agg.last_state,
		   agg.last_finished_at,
		   CASE WHEN extract(epoch FROM agg.p50) > 0 THEN
				round(extract(epoch FROM agg.last_duration) / extract(epoch FROM agg.p50), 2)
		   END AS slowdown
	  FROM runs
	  JOIN agg USING (dag_name, task_name)
)
SELECT dag_name, task_name, runs, successes, failures,
	   round(successes::numeric / runs, 3) AS success_rate,
	   p50, p95, last_duration, last_state, last_finished_at, slowdown,
	   coalesce(slowdown > 2 AND successes >= 5, false) AS slow,
	   attempts, failed_attempts
  FROM ratio;

COMMENT ON VIEW dagsched.task_stats IS
'per DAG and task, over its last 100 runs that finished an attempt (success or failed; cancelled and dagsched.mark() outcomes do not count): runs, successes and failures (runs whose last attempt succeeded / failed), success_rate = successes / runs, p50/p95 duration of the successful attempts, last_duration (latest successful attempt), last_state (of the latest attempt), last_finished_at, slowdown = last_duration / p50 (2 decimals), slow = true when slowdown > 2 with at least 5 successful runs, attempts and failed_attempts (every attempt of those runs, so the failures retries hid stay visible). Example: SELECT * FROM dagsched.task_stats WHERE slow;';

-- issue 11: DAG-to-DAG link checks take turns and read the latest committed
-- rows (two transactions could each add half of a cycle)
CREATE FUNCTION dagsched.dag_links_cycle(dag_name text) RETURNS text
LANGUAGE c STRICT
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'dagsched_dag_links_cycle';

COMMENT ON FUNCTION dagsched.dag_links_cycle(text) IS
'internal (trigger dag_links_check): the cycle through dag_name formed by upstream_dags as "a -> b -> a", or NULL; waits for other link checks to commit and reads the latest committed rows';

CREATE OR REPLACE FUNCTION dagsched.dag_links_check() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	missing		text;
	cycle		text;
BEGIN
	-- the row may have changed or gone since the statement that queued us
	SELECT d.upstream_dags INTO NEW.upstream_dags
	  FROM dagsched.dag d WHERE d.dag_name = NEW.dag_name;
	IF NOT FOUND OR cardinality(NEW.upstream_dags) = 0 THEN
		RETURN NULL;
	END IF;

	SELECT u INTO missing
	  FROM unnest(NEW.upstream_dags) AS u
	 WHERE NOT EXISTS (SELECT 1 FROM dagsched.dag d WHERE d.dag_name = u)
	 LIMIT 1;
	IF missing IS NOT NULL THEN
		RAISE EXCEPTION 'DAG "%" runs after unknown DAG "%"', NEW.dag_name,
			dagsched.shorten(missing)
			USING ERRCODE = 'foreign_key_violation',
				  DETAIL = 'upstream_dags must name existing DAGs that you can see.';
	END IF;

	IF NEW.dag_name = ANY (NEW.upstream_dags) THEN
		RAISE EXCEPTION 'DAG "%" runs after itself', NEW.dag_name
			USING ERRCODE = 'invalid_object_definition',
				  DETAIL = format('Cycle: %s -> %s', NEW.dag_name, NEW.dag_name);
	END IF;

	-- coming back to this DAG through upstream links is a cycle
	cycle := dagsched.dag_links_cycle(NEW.dag_name);
	IF cycle IS NOT NULL THEN
		RAISE EXCEPTION 'DAGs form a cycle through upstream_dags of DAG "%"', NEW.dag_name
			USING ERRCODE = 'invalid_object_definition',
				  DETAIL = format('Cycle: %s', cycle);
	END IF;
	RETURN NULL;
END
$$;

-- issue 14: 0.2 refuses a step that only reaches its first value (such as
-- */60 in minutes, which 0.1 read as minute 0); such a schedule no longer
-- fires, so name each one (data only: nothing in the catalog changes)
DO $$
DECLARE
	d			record;
BEGIN
	FOR d IN SELECT dag_name, schedule FROM dagsched.dag
			  WHERE schedule IS NOT NULL ORDER BY dag_name LOOP
		BEGIN
			PERFORM dagsched.next_fire(d.schedule, now(), 'UTC');
		EXCEPTION WHEN invalid_parameter_value THEN
			RAISE WARNING 'schedule "%" of DAG "%" is no longer accepted; it will not fire until it is changed',
				d.schedule, d.dag_name
				USING DETAIL = SQLERRM;
		END;
	END LOOP;
END
$$;

-- issue 17: one-off runs, trigger(dag_name, params, at) and run state
-- 'scheduled'
ALTER TABLE dagsched.dag_run DROP CONSTRAINT dag_run_state_check;
ALTER TABLE dagsched.dag_run ADD CONSTRAINT dag_run_state_check
	CHECK (state IN ('queued', 'running', 'success', 'failed', 'cancelled',
					 'scheduled'));
CREATE INDEX dag_run_scheduled_idx ON dagsched.dag_run (logical_time)
	WHERE state = 'scheduled';
DROP FUNCTION dagsched.trigger(text, jsonb);
CREATE FUNCTION dagsched.trigger(dag_name text, params jsonb DEFAULT '{}',
								 at timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'dagsched_trigger';

COMMENT ON FUNCTION dagsched.trigger(text, jsonb, timestamptz) IS
'create a manual run of a DAG; returns its run_id.  With "at" in the future the run is created now in state scheduled and starts at "at" (its logical_time); cancel() stops it.  NULL dag_name or params: NULL';

-- issue 16: task results
ALTER TABLE dagsched.task_run ADD COLUMN result jsonb;
ALTER TABLE dagsched.task_attempt ADD COLUMN result jsonb;

CREATE FUNCTION dagsched.set_result(value jsonb)
RETURNS void
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'dagsched_set_result';

COMMENT ON FUNCTION dagsched.set_result(jsonb) IS
'set the result of the running task (the last call wins; stored when the task succeeds, with its effects); only inside a task dagsched runs';

CREATE FUNCTION dagsched.result(task_name text)
RETURNS jsonb
LANGUAGE c STABLE STRICT
AS 'MODULE_PATHNAME', 'dagsched_result';

COMMENT ON FUNCTION dagsched.result(text) IS
'the result of a task in the run of the running task (NULL when it set none); only inside a task dagsched runs';

-- issue 17: deadlines (dag.deadline; dag_run.missed_deadline, flagged by the
-- scheduler at logical_time + deadline, copied into dag_run.deadline_at
-- when the run is created)
ALTER TABLE dagsched.dag ADD COLUMN deadline interval
	CHECK (deadline IS NULL OR deadline > interval '0');
ALTER TABLE dagsched.dag_run
	ADD COLUMN missed_deadline boolean NOT NULL DEFAULT false,
	ADD COLUMN deadline_at timestamptz;
CREATE INDEX dag_run_deadline_idx ON dagsched.dag_run (deadline_at)
	WHERE NOT missed_deadline AND deadline_at IS NOT NULL
	  AND state IN ('scheduled', 'queued', 'running');
CREATE OR REPLACE VIEW dagsched.dag_stats WITH (security_invoker = true) AS
SELECT d.dag_name, d.schedule, d.paused, d.next_run_at,
	   l.run_id AS last_run_id, l.state AS last_run_state,
	   l.logical_time AS last_logical_time, l.finished_at AS last_finished_at,
	   c.active_runs, c.runs_last_day, c.failures_last_day,
	   p.p50, p.p95, c.missed_deadlines_last_day
  FROM dagsched.dag d
  LEFT JOIN LATERAL (
	SELECT r.run_id, r.state, r.logical_time, r.finished_at
	  FROM dagsched.dag_run r
	 WHERE r.dag_name = d.dag_name
	 ORDER BY r.created_at DESC, r.run_id DESC
	 LIMIT 1) l ON true
  CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE r.state IN ('queued', 'running')) AS active_runs,
		   count(*) FILTER (WHERE r.created_at >= now() - interval '1 day')
			   AS runs_last_day,
		   count(*) FILTER (WHERE r.state = 'failed'
							  AND r.finished_at >= now() - interval '1 day')
			   AS failures_last_day,
		   count(*) FILTER (WHERE r.missed_deadline
							  AND r.deadline_at >= now() - interval '1 day')
			   AS missed_deadlines_last_day
	  FROM dagsched.dag_run r
	 WHERE r.dag_name = d.dag_name
	   AND (r.state IN ('queued', 'running')
			OR r.created_at >= now() - interval '1 day'
			OR r.finished_at >= now() - interval '1 day'
			OR r.deadline_at >= now() - interval '1 day')) c
  CROSS JOIN LATERAL (
	SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY f.took) AS p50,
		   percentile_cont(0.95) WITHIN GROUP (ORDER BY f.took) AS p95
	  FROM (SELECT r.finished_at - r.started_at AS took
			  FROM dagsched.dag_run r
			 WHERE r.dag_name = d.dag_name
			   AND r.state IN ('success', 'failed')
			   AND r.started_at IS NOT NULL AND r.finished_at IS NOT NULL
			 ORDER BY r.finished_at DESC
			 LIMIT 100) f) p;

COMMENT ON VIEW dagsched.dag_stats IS
'per DAG: schedule, paused, next_run_at; the last run created (last_run_id, last_run_state, last_logical_time, last_finished_at); active_runs (queued or running now); runs_last_day (runs created in the last 24 hours) and failures_last_day (runs that ended failed in the last 24 hours); p50/p95 of run duration (finished_at - started_at) over the last 100 runs that ended success or failed; missed_deadlines_last_day (runs whose deadline, logical_time + dag.deadline, fell in the last 24 hours and found them unfinished). Example: SELECT dag_name, last_run_state, failures_last_day FROM dagsched.dag_stats;';

-- issue 17: trigger rules none_failed_min_one_success, one_done,
-- none_skipped, all_skipped and always; one_done tells failed from
-- upstream_failed upstreams, hence a sixth tally
CREATE FUNCTION dagsched.rule_state(trigger_rule text, upstreams integer,
									succeeded integer, failed integer,
									skipped integer, upstream_failed integer)
RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dagsched_rule_state';

COMMENT ON FUNCTION dagsched.rule_state(text, integer, integer, integer, integer, integer) IS
'state of a pending task given its trigger rule and the tally of its finished upstreams, where failed counts those that ended failed or upstream_failed and upstream_failed those of them that ended upstream_failed (one_done counts only the first kind, as in Airflow): pending, queued, upstream_failed or skipped';
-- issue 17: pools (dagsched.pool, task.pool, pool_stats)
/*
 * Pools (Airflow's): at most "slots" tasks of a pool run at once, across
 * every DAG and run.  Shared configuration: any role may name a pool in its
 * tasks; only the pool's owner (or a superuser) changes it.
 */
CREATE TABLE dagsched.pool (
	pool_name		text PRIMARY KEY,
	slots			integer NOT NULL CHECK (slots > 0),
	description		text,
	owner			name NOT NULL DEFAULT CURRENT_USER
);
ALTER TABLE dagsched.task ADD COLUMN pool text
	REFERENCES dagsched.pool (pool_name) ON UPDATE CASCADE;
ALTER TABLE dagsched.task_run ADD COLUMN pool text;
DROP INDEX dagsched.task_run_queue_idx;
CREATE INDEX task_run_queue_idx ON dagsched.task_run (priority DESC, queued_at, run_id)
	WHERE state = 'queued' AND pool IS NULL;
CREATE INDEX task_run_pool_queue_idx
	ON dagsched.task_run (pool, priority DESC, queued_at, run_id)
	WHERE state = 'queued' AND pool IS NOT NULL;
CREATE INDEX task_run_pool_running_idx ON dagsched.task_run (pool)
	WHERE state = 'running' AND pool IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('dagsched.pool', '');

-- a change of a pool's slots takes effect at once: workers look again
CREATE FUNCTION dagsched.pool_changed() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'dagsched_pool_changed';

CREATE TRIGGER pool_changed
	AFTER INSERT OR UPDATE OR DELETE ON dagsched.pool
	FOR EACH STATEMENT EXECUTE FUNCTION dagsched.pool_changed();

/*
 * pool_stats: how full is each pool?  Counted over every DAG and run (the
 * view reads as its owner, past row-level security): a pool is shared, and
 * its occupancy says nothing of whose tasks fill it.
 */
CREATE VIEW dagsched.pool_stats AS
SELECT p.pool_name, p.slots,
	   (SELECT count(*) FROM dagsched.task_run t
		 WHERE t.state = 'running' AND t.pool = p.pool_name) AS running,
	   (SELECT count(*) FROM dagsched.task_run t
		 WHERE t.state = 'queued' AND t.pool = p.pool_name) AS queued,
	   p.description, p.owner
  FROM dagsched.pool p;

COMMENT ON VIEW dagsched.pool_stats IS
'per pool: slots, running (tasks of the pool running now, over every DAG and run), queued (tasks of the pool waiting for a slot or a worker), description, owner. Example: SELECT * FROM dagsched.pool_stats WHERE queued > 0;';

GRANT SELECT ON dagsched.pool_stats TO PUBLIC;

-- pools are shared: everyone sees and uses them; their owners change them
ALTER TABLE dagsched.pool ENABLE ROW LEVEL SECURITY;
CREATE POLICY pool_read ON dagsched.pool FOR SELECT USING (true);
CREATE POLICY pool_insert ON dagsched.pool FOR INSERT
	WITH CHECK (dagsched.is_member(owner));
CREATE POLICY pool_update ON dagsched.pool FOR UPDATE
	USING (dagsched.is_member(owner)) WITH CHECK (dagsched.is_member(owner));
CREATE POLICY pool_delete ON dagsched.pool FOR DELETE
	USING (dagsched.is_member(owner));
GRANT SELECT, INSERT, UPDATE, DELETE ON dagsched.pool TO PUBLIC;

-- issue 16: conditions
ALTER TABLE dagsched.task ADD COLUMN condition text;
ALTER TABLE dagsched.task_run ADD COLUMN condition text;
-- issue 13: deleting a running run stops its tasks (sql/parts/40_runs.sql)
/*
 * Deleting a running run (deleting its DAG cascades to it) stops its tasks
 * when the deletion commits.
 */
CREATE FUNCTION dagsched.run_deleted() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'dagsched_run_deleted';

CREATE TRIGGER run_deleted
	AFTER DELETE ON dagsched.dag_run
	FOR EACH ROW WHEN (OLD.state OPERATOR(pg_catalog.=) 'running')
	EXECUTE FUNCTION dagsched.run_deleted();

-- issue 13: resume with the current definitions, clear and mark (sql/parts/40_runs.sql)
ALTER TABLE dagsched.task_attempt ADD COLUMN autocommit boolean;
UPDATE dagsched.task_attempt a SET autocommit = t.autocommit
  FROM dagsched.task_run t
 WHERE t.run_id = a.run_id AND t.task_name = a.task_name;

COMMENT ON FUNCTION dagsched.retry(bigint) IS
'resume a finished run: re-run its failed, upstream_failed and cancelled tasks and everything below them, with the tasks'' current definitions; keeps its other successes; returns how many tasks were reset';

CREATE FUNCTION dagsched.retry(run_id bigint, task_name text,
							   downstream boolean DEFAULT true)
RETURNS integer
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'dagsched_retry_task';

COMMENT ON FUNCTION dagsched.retry(bigint, text, boolean) IS
're-run one task of a finished run, even one that succeeded, and with downstream everything below it (Airflow''s clear), with the tasks'' current definitions; returns how many tasks were reset';

CREATE FUNCTION dagsched.mark(run_id bigint, task_name text, state text)
RETURNS void
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'dagsched_mark';

COMMENT ON FUNCTION dagsched.mark(bigint, text, text) IS
'set a finished or not yet started task to success, failed or skipped by hand (recorded as an attempt by the caller, "manual"); the tasks below it that did not run are decided again and the run''s state follows';


-- issue 12: the unfinished-task index shares the primary key's columns, so
-- that no per-task statement scans a run's other tasks through it
DROP INDEX dagsched.task_run_active_idx;
CREATE INDEX task_run_unfinished_idx ON dagsched.task_run (run_id, task_name)
	WHERE state IN ('pending', 'queued', 'running', 'retry_wait');

-- issue 12: max_active_runs as slots (src/run_slot.c); the runs running now
-- take the first numbers of their DAG
ALTER TABLE dagsched.dag_run ADD COLUMN slot integer;
UPDATE dagsched.dag_run r SET slot = s.n
  FROM (SELECT run_id, pg_catalog.row_number() OVER (PARTITION BY dag_name ORDER BY run_id) AS n
		  FROM dagsched.dag_run WHERE state = 'running') s
 WHERE r.run_id = s.run_id;
CREATE UNIQUE INDEX dag_run_slot_key ON dagsched.dag_run (dag_name, slot)
	WHERE state = 'running';

-- issue 17: sensors (kind 'sensor'), poked every poke_interval holding no
-- worker in between (state sensing)
ALTER TABLE dagsched.task ADD COLUMN poke_interval interval NOT NULL
	DEFAULT '30 seconds';
ALTER TABLE dagsched.task_run
	ADD COLUMN poke_interval interval,
	ADD COLUMN pokes integer NOT NULL DEFAULT 0,
	ADD COLUMN last_poke_at timestamptz,
	ADD COLUMN next_poke_at timestamptz;
ALTER TABLE dagsched.task_run DROP CONSTRAINT task_run_state_check;
ALTER TABLE dagsched.task_run ADD CONSTRAINT task_run_state_check
	CHECK (state IN ('pending', 'queued', 'running', 'success', 'failed',
					 'upstream_failed', 'skipped', 'cancelled',
					 'retry_wait', 'sensing'));
CREATE INDEX task_run_poke_idx ON dagsched.task_run (next_poke_at)
	WHERE state = 'sensing';
DROP INDEX dagsched.task_run_unfinished_idx;
CREATE INDEX task_run_unfinished_idx ON dagsched.task_run (run_id, task_name)
	WHERE state IN ('pending', 'queued', 'running', 'retry_wait', 'sensing');

-- issue 17: graph() colours a waiting sensor
/* Fill colour of a node for a task state. */
CREATE OR REPLACE FUNCTION dagsched.state_colour(state text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE state
		WHEN 'success' THEN '#8fd694'
		WHEN 'failed' THEN '#f28b82'
		WHEN 'upstream_failed' THEN '#ffb74d'
		WHEN 'running' THEN '#64b5f6'
		WHEN 'queued' THEN '#cfcfcf'
		WHEN 'pending' THEN '#cfcfcf'
		WHEN 'skipped' THEN '#eeeeee'
		WHEN 'cancelled' THEN '#8c8c8c'
		WHEN 'retry_wait' THEN '#fff176'
		WHEN 'sensing' THEN '#ce93d8'
		ELSE '#ffffff'
	END
$$;

COMMENT ON FUNCTION dagsched.state_colour(text) IS
'fill colour used by graph() for a task state: success green, failed red, upstream_failed orange, running blue, queued/pending grey, skipped light grey, cancelled dark grey, retry_wait yellow, sensing (a sensor between pokes) purple';
-- issue 16: mapped tasks (sql/parts/10_catalog.sql, 45_results.sql,
-- 60_observe.sql): task.map_over; a mapped task's instances are task_run
-- rows of its name with map_index 0, 1, ...; keys include map_index
ALTER TABLE dagsched.task ADD COLUMN map_over text;
ALTER TABLE dagsched.task_run ADD COLUMN map_over text;
ALTER TABLE dagsched.task_run ADD COLUMN map_index integer;
ALTER TABLE dagsched.task_run ADD COLUMN map_item jsonb;
ALTER TABLE dagsched.task_run ADD COLUMN map_count integer;
ALTER TABLE dagsched.task_run ADD COLUMN map_failed integer;
ALTER TABLE dagsched.task_attempt ADD COLUMN map_index integer;
ALTER TABLE dagsched.task_attempt DROP CONSTRAINT task_attempt_run_id_task_name_fkey;
ALTER TABLE dagsched.task_attempt DROP CONSTRAINT task_attempt_pkey;
ALTER TABLE dagsched.task_run DROP CONSTRAINT task_run_pkey;
ALTER TABLE dagsched.task_run ADD CONSTRAINT task_run_key
	UNIQUE NULLS NOT DISTINCT (run_id, task_name, map_index);
ALTER TABLE dagsched.task_attempt ADD CONSTRAINT task_attempt_key
	UNIQUE NULLS NOT DISTINCT (run_id, task_name, map_index, attempt);
ALTER TABLE dagsched.task_attempt
	ADD FOREIGN KEY (run_id) REFERENCES dagsched.dag_run (run_id) ON DELETE CASCADE;
DROP INDEX dagsched.task_run_unfinished_idx;
CREATE INDEX task_run_unfinished_idx ON dagsched.task_run (run_id, task_name, map_index)
	WHERE state IN ('pending', 'queued', 'running', 'retry_wait', 'sensing');
/*
 * Mapped tasks (src/mapped.c): an instance's row of the map_over query and
 * its position.  Only inside a task dagsched runs; NULL in a task that is
 * not an instance of a mapped task.
 */
CREATE FUNCTION dagsched.map_item()
RETURNS jsonb
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'dagsched_map_item';

COMMENT ON FUNCTION dagsched.map_item() IS
'the row of map_over this instance of a mapped task runs for, as a JSON object (column name: value); NULL in a task that is not mapped; only inside a task dagsched runs';

CREATE FUNCTION dagsched.map_index()
RETURNS integer
LANGUAGE c STABLE
AS 'MODULE_PATHNAME', 'dagsched_map_index';

COMMENT ON FUNCTION dagsched.map_index() IS
'the position (0, 1, ...) of this instance of a mapped task among the rows of map_over; NULL in a task that is not mapped; only inside a task dagsched runs';

CREATE OR REPLACE FUNCTION dagsched.graph(dag_name text, run_id bigint DEFAULT NULL,
							   format text DEFAULT 'dot')
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_dag		text := graph.dag_name;
	v_run		bigint := graph.run_id;
	v_fmt		text := lower(btrim(graph.format));
	run_dag		text;
	result		text;
BEGIN
	IF v_fmt IS NULL OR v_fmt NOT IN ('dot', 'mermaid') THEN
		RAISE EXCEPTION 'unknown graph format "%"', dagsched.shorten(graph.format)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use ''dot'' (Graphviz) or ''mermaid''.';
	END IF;

	IF v_run IS NOT NULL THEN
		SELECT r.dag_name INTO run_dag
		  FROM dagsched.dag_run r WHERE r.run_id = v_run;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'run % does not exist', v_run
				USING ERRCODE = 'undefined_object';
		END IF;
		IF v_dag IS NULL THEN
			v_dag := run_dag;
		ELSIF v_dag <> run_dag THEN
			RAISE EXCEPTION 'run % belongs to DAG "%", not "%"', v_run, run_dag, dagsched.shorten(v_dag)
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	ELSIF v_dag IS NULL OR NOT EXISTS (SELECT 1 FROM dagsched.dag d
										WHERE d.dag_name = v_dag) THEN
		RAISE EXCEPTION 'DAG "%" does not exist', dagsched.shorten(v_dag)
			USING ERRCODE = 'undefined_object';
	END IF;

	WITH nodes AS (
		SELECT t.task_name, t.kind, t.depends_on,
			   NULL::text AS state, NULL::text AS took,
			   t.map_over IS NOT NULL AS mapped, NULL::text AS instances
		  FROM dagsched.task t
		 WHERE v_run IS NULL AND t.dag_name = v_dag
		UNION ALL
		SELECT t.task_name, t.kind, t.depends_on, t.state,
			   CASE
				WHEN t.started_at IS NULL THEN NULL
				WHEN t.state = 'running' THEN
					dagsched.format_duration(now() - t.started_at) || ' so far'
				WHEN t.state IN ('success', 'failed', 'cancelled')
					 AND t.finished_at IS NOT NULL THEN
					dagsched.format_duration(t.finished_at - t.started_at)
			   END,
			   t.map_over IS NOT NULL,
			   -- a mapped task is one node: its instances counted by state
			   (SELECT sum(s.n) || ' instances: '
					   || string_agg(s.n || ' ' || s.state, ', ' ORDER BY s.state)
				  FROM (SELECT i.state, count(*) AS n FROM dagsched.task_run i
						 WHERE i.run_id = t.run_id AND i.task_name = t.task_name
						   AND i.map_index IS NOT NULL
						 GROUP BY i.state) s)
		  FROM dagsched.task_run t
		 WHERE t.run_id = v_run AND t.map_index IS NULL
	),
	numbered AS (
		SELECT n.*,
			   row_number() OVER (ORDER BY n.task_name COLLATE "C") AS id,
			   n.task_name
				|| CASE WHEN n.kind <> 'sql' THEN ' (' || n.kind || ')' ELSE '' END
				|| CASE WHEN n.mapped THEN ' [mapped]' ELSE '' END
				|| CASE WHEN n.took IS NOT NULL THEN E'\n' || n.took ELSE '' END
				|| CASE WHEN n.instances IS NOT NULL THEN E'\n' || n.instances ELSE '' END
				AS label
		  FROM nodes n
	),
	edges AS (
		SELECT u.id AS up_id, d.id AS down_id,
			   u.task_name AS up_name, d.task_name AS down_name
		  FROM numbered d
		 CROSS JOIN LATERAL unnest(d.depends_on) AS dep(name)
		  JOIN numbered u ON u.task_name = dep.name
	)
	SELECT CASE v_fmt
	WHEN 'dot' THEN
		'digraph ' || dagsched.dot_quote(v_dag) || E' {\n'
		|| E'  rankdir=LR;\n'
		|| CASE WHEN v_run IS NOT NULL THEN
			'  label=' || dagsched.dot_quote(v_dag || ', run ' || v_run)
			|| E';\n  labelloc=t;\n' ELSE '' END
		|| E'  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];\n'
		|| coalesce((SELECT string_agg(
				'  ' || dagsched.dot_quote(n.task_name)
				|| ' [label=' || dagsched.dot_quote(n.label)
				|| CASE WHEN n.state IS NOT NULL THEN
					', fillcolor="' || dagsched.state_colour(n.state)
					|| '", tooltip=' || dagsched.dot_quote(n.state)
				   ELSE '' END
				|| E'];\n', '' ORDER BY n.id)
			FROM numbered n), '')
		|| coalesce((SELECT string_agg(
				'  ' || dagsched.dot_quote(e.up_name) || ' -> '
				|| dagsched.dot_quote(e.down_name) || E';\n', ''
				ORDER BY e.up_id, e.down_id)
			FROM edges e), '')
		|| '}'
	ELSE
		E'flowchart LR\n'
		|| coalesce((SELECT string_agg(
				'  n' || n.id || '["' || dagsched.mermaid_text(n.label) || E'"]\n',
				'' ORDER BY n.id)
			FROM numbered n), '')
		|| coalesce((SELECT string_agg(
				'  n' || e.up_id || ' --> n' || e.down_id || E'\n', ''
				ORDER BY e.up_id, e.down_id)
			FROM edges e), '')
		|| coalesce((SELECT string_agg(
				'  classDef ' || s.state || ' fill:' || dagsched.state_colour(s.state)
				|| ',stroke:#555555'
				|| CASE WHEN s.state = 'cancelled' THEN ',color:#ffffff' ELSE '' END
				|| E'\n  class ' || s.ids || ' ' || s.state || E'\n', ''
				ORDER BY s.state)
			FROM (SELECT n.state, string_agg('n' || n.id, ',' ORDER BY n.id) AS ids
					FROM numbered n WHERE n.state IS NOT NULL
				   GROUP BY n.state) s), '')
	END
	INTO result;

	RETURN rtrim(result, E'\n');
END
$$;

COMMENT ON FUNCTION dagsched.graph(text, bigint, text) IS
'the DAG as text for a picture. format ''dot'' gives Graphviz DOT (render with: dot -Tsvg), ''mermaid'' a Mermaid flowchart; edges run upstream -> downstream, nodes are labelled with the task name and, when not sql, its kind. Without run_id the current definition is drawn; with run_id the tasks as that run copied them, each filled with the colour of its state (success green, failed red, upstream_failed orange, running blue, queued/pending grey, skipped light grey, cancelled dark grey, retry_wait yellow) and labelled with its duration. A mapped task is one node marked [mapped], labelled in a run with its instances counted by state ("5000 instances: 4990 success, 10 failed"). dag_name may be NULL when run_id is given. Example: SELECT dagsched.graph(''daily_report'', 42, ''mermaid'');';

CREATE OR REPLACE FUNCTION dagsched.gantt(run_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_run		bigint := gantt.run_id;
	v_dag		text;
	result		text;
BEGIN
	SELECT r.dag_name INTO v_dag FROM dagsched.dag_run r WHERE r.run_id = v_run;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % does not exist', v_run
			USING ERRCODE = 'undefined_object';
	END IF;

	WITH bars AS (
		SELECT a.task_name, a.map_index, a.attempt, a.state, a.started_at,
			   a.finished_at
		  FROM dagsched.task_attempt a
		 WHERE a.run_id = v_run AND a.started_at IS NOT NULL
		UNION ALL
		-- the attempt running now has no task_attempt row yet
		SELECT t.task_name, t.map_index, t.attempts, t.state, t.started_at,
			   greatest(now(), t.started_at)
		  FROM dagsched.task_run t
		 WHERE t.run_id = v_run AND t.state = 'running'
		   AND t.started_at IS NOT NULL
		   AND NOT EXISTS (SELECT 1 FROM dagsched.task_attempt a
							WHERE a.run_id = t.run_id
							  AND a.task_name = t.task_name
							  AND a.map_index IS NOT DISTINCT FROM t.map_index
							  AND a.attempt = t.attempts)
	),
	-- n: how many attempts the task (or the instance of a mapped task) had
	attempts AS (
		SELECT b.*, count(*) OVER (PARTITION BY b.task_name, b.map_index) AS n
		  FROM bars b
	),
	per_task AS (
		SELECT a.task_name, min(a.started_at) AS first_start
		  FROM attempts a GROUP BY a.task_name
	),
	sections AS (
		SELECT p.*,
			   row_number() OVER (ORDER BY p.first_start,
										   p.task_name COLLATE "C") AS pos
		  FROM per_task p
	)
	SELECT E'gantt\n'
		|| '  title ' || dagsched.mermaid_text(v_dag || ' run ' || v_run, ' ') || E'\n'
		|| E'  dateFormat x\n'
		|| E'  axisFormat %H:%M:%S\n'
		|| E'  todayMarker off\n'
		|| coalesce(string_agg(
			'  section ' || dagsched.mermaid_text(s.task_name, ' ') || E'\n'
			|| (SELECT string_agg(
					'    ' || dagsched.mermaid_text(a.task_name, ' ')
					|| CASE WHEN a.map_index IS NOT NULL
							THEN '[' || a.map_index || ']' ELSE '' END
					|| CASE WHEN a.n > 1 THEN ' (attempt ' || a.attempt || ')'
							ELSE '' END
					|| ' :'
					|| CASE a.state
						WHEN 'failed' THEN 'crit, done, '
						WHEN 'running' THEN 'active, '
						ELSE 'done, ' END
					|| round(extract(epoch FROM a.started_at) * 1000)::bigint
					|| ', '
					|| round(extract(epoch FROM coalesce(a.finished_at, a.started_at)) * 1000)::bigint
					|| E'\n', '' ORDER BY a.map_index NULLS FIRST, a.attempt)
				  FROM attempts a WHERE a.task_name = s.task_name),
			'' ORDER BY s.pos), '')
	  INTO result
	  FROM sections s;

	RETURN rtrim(result, E'\n');
END
$$;

COMMENT ON FUNCTION dagsched.gantt(bigint) IS
'the run''s timeline as a Mermaid gantt chart: one section per task (in order of first start), one bar per attempt (from task_attempt, plus the attempt running now; a mapped task has a bar of its own, from mapping to its last instance''s end, and one per attempt of each instance, named task[map_index]), times as epoch milliseconds (dateFormat x); failed attempts are marked crit, the running one active. Example: SELECT dagsched.gantt(42);';

CREATE OR REPLACE VIEW dagsched.task_stats WITH (security_invoker = true) AS
WITH att AS (
	SELECT r.dag_name, a.run_id, a.task_name, a.attempt, a.state,
		   a.started_at, a.finished_at, a.finished_at - a.started_at AS took
	  FROM dagsched.task_attempt a
	  JOIN dagsched.dag_run r ON r.run_id = a.run_id
	 WHERE a.state IN ('success', 'failed')
	   AND a.started_at IS NOT NULL AND a.finished_at IS NOT NULL
	   AND a.marked_by IS NULL
	   -- a mapped task counts once per run: its own attempt, which spans its
	   -- instances and fails when one of them failed
	   AND a.map_index IS NULL
),
per_run AS (
	SELECT dag_name, task_name, run_id,
		   (array_agg(state ORDER BY attempt DESC))[1] AS outcome,
		   count(*) AS attempts,
		   count(*) FILTER (WHERE state = 'failed') AS failed_attempts,
		   max(started_at) AS started_at
	  FROM att
	 GROUP BY dag_name, task_name, run_id
),
recent AS (
	SELECT per_run.*,
		   row_number() OVER (PARTITION BY dag_name, task_name
							  ORDER BY started_at DESC, run_id DESC) AS age
	  FROM per_run
),
runs AS (
	SELECT dag_name, task_name,
		   count(*) AS runs,
		   count(*) FILTER (WHERE outcome = 'success') AS successes,
		   count(*) FILTER (WHERE outcome = 'failed') AS failures,
		   sum(attempts) AS attempts,
		   sum(failed_attempts) AS failed_attempts
	  FROM recent
	 WHERE age <= 100
	 GROUP BY dag_name, task_name
),
agg AS (
	SELECT a.dag_name, a.task_name,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY a.took)
			   FILTER (WHERE a.state = 'success') AS p50,
		   percentile_cont(0.95) WITHIN GROUP (ORDER BY a.took)
			   FILTER (WHERE a.state = 'success') AS p95,
		   (array_agg(a.took ORDER BY a.started_at DESC, a.run_id DESC,
					  a.attempt DESC)
				FILTER (WHERE a.state = 'success'))[1] AS last_duration,
		   (array_agg(a.state ORDER BY a.started_at DESC, a.run_id DESC,
					  a.attempt DESC))[1] AS last_state,
		   max(a.finished_at) AS last_finished_at
	  FROM att a
	  JOIN recent r ON r.dag_name = a.dag_name AND r.task_name = a.task_name
				   AND r.run_id = a.run_id AND r.age <= 100
	 GROUP BY a.dag_name, a.task_name
),
ratio AS (
	SELECT runs.*, agg.p50, agg.p95, agg.last_duration, agg.last_state,
		   agg.last_finished_at,
		   CASE WHEN extract(epoch FROM agg.p50) > 0 THEN
				round(extract(epoch FROM agg.last_duration) / extract(epoch FROM agg.p50), 2)
		   END AS slowdown
	  FROM runs
	  JOIN agg USING (dag_name, task_name)
)
SELECT dag_name, task_name, runs, successes, failures,
	   round(successes::numeric / runs, 3) AS success_rate,
	   p50, p95, last_duration, last_state, last_finished_at, slowdown,
	   coalesce(slowdown > 2 AND successes >= 5, false) AS slow,
	   attempts, failed_attempts
  FROM ratio;

COMMENT ON VIEW dagsched.task_stats IS
'per DAG and task, over its last 100 runs that finished an attempt (success or failed; cancelled and dagsched.mark() outcomes do not count): runs, successes and failures (runs whose last attempt succeeded / failed), success_rate = successes / runs, p50/p95 duration of the successful attempts, last_duration (latest successful attempt), last_state (of the latest attempt), last_finished_at, slowdown = last_duration / p50 (2 decimals), slow = true when slowdown > 2 with at least 5 successful runs, attempts and failed_attempts (every attempt of those runs, so the failures retries hid stay visible). A mapped task counts as one task per run: its own attempt, from mapping to the end of its last instance, failed when an instance failed (the instances'' attempts are not counted apart). Example: SELECT * FROM dagsched.task_stats WHERE slow;';

CREATE OR REPLACE FUNCTION dagsched.failure_impact(run_id bigint)
RETURNS TABLE (task_name text, state text, cause text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_run		bigint := failure_impact.run_id;
	v_tasks		bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM dagsched.dag_run r WHERE r.run_id = v_run) THEN
		RAISE EXCEPTION 'run % does not exist', v_run
			USING ERRCODE = 'undefined_object';
	END IF;
	-- no path is longer than the run has tasks (a bound, should the copy
	-- ever hold a cycle)
	SELECT count(*) INTO v_tasks FROM dagsched.task_run t
	 WHERE t.run_id = v_run AND t.map_index IS NULL;

	RETURN QUERY
	WITH RECURSIVE walk (root, task_name, depth) AS (
		SELECT t.task_name, t.task_name, 0
		  FROM dagsched.task_run t
		 WHERE t.run_id = v_run AND t.state = 'failed' AND t.map_index IS NULL
		UNION
		SELECT w.root, c.task_name, w.depth + 1
		  FROM walk w
		  JOIN dagsched.task_run c
			ON c.run_id = v_run AND w.task_name = ANY (c.depends_on)
		   AND c.map_index IS NULL
		 WHERE c.state IN ('upstream_failed', 'skipped', 'cancelled')
		   AND w.depth < v_tasks
	),
	hit AS (
		SELECT w.task_name, min(w.depth) AS depth,
			   string_agg(DISTINCT w.root COLLATE "C", ', '
						  ORDER BY w.root COLLATE "C") AS roots
		  FROM walk w
		 WHERE w.depth > 0
		 GROUP BY w.task_name
	)
	SELECT x.task_name, x.state, x.cause
	  FROM (SELECT t.task_name, t.state, coalesce(t.error, 'failed') AS cause,
				   0 AS depth
			  FROM dagsched.task_run t
			 WHERE t.run_id = v_run AND t.state = 'failed' AND t.map_index IS NULL
			UNION ALL
			SELECT h.task_name, t.state, 'downstream of failed ' || h.roots,
				   h.depth
			  FROM hit h
			  JOIN dagsched.task_run t
				ON t.run_id = v_run AND t.task_name = h.task_name
			   AND t.map_index IS NULL
			 WHERE NOT EXISTS (SELECT 1 FROM dagsched.task_run f
								WHERE f.run_id = v_run
								  AND f.task_name = h.task_name
								  AND f.map_index IS NULL
								  AND f.state = 'failed')) x
	 ORDER BY x.depth, x.task_name COLLATE "C";
END
$$;

CREATE OR REPLACE VIEW dagsched.pool_stats AS
SELECT p.pool_name, p.slots,
	   -- a mapped task waiting for its instances (no pid) holds no slot
	   (SELECT count(*) FROM dagsched.task_run t
		 WHERE t.state = 'running' AND t.pid IS NOT NULL
		   AND t.pool = p.pool_name) AS running,
	   (SELECT count(*) FROM dagsched.task_run t
		 WHERE t.state = 'queued' AND t.pool = p.pool_name) AS queued,
	   p.description, p.owner
  FROM dagsched.pool p;
