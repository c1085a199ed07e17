/*
 * Runs (src/api.c)
 */
CREATE FUNCTION dagsched.rule_state(trigger_rule text, upstreams integer,
									succeeded integer, failed integer,
									skipped integer)
RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dagsched_rule_state';

COMMENT ON FUNCTION dagsched.rule_state(text, integer, integer, integer, integer) IS
'state of a pending task given its trigger rule and the tally of its finished upstreams: pending, queued, upstream_failed or skipped';

CREATE FUNCTION dagsched.rule_state(trigger_rule text, upstreams integer,
									succeeded integer, failed integer,
									skipped integer, upstream_failed integer)
RETURNS text
LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'dagsched_rule_state';

COMMENT ON FUNCTION dagsched.rule_state(text, integer, integer, integer, integer, integer) IS
'state of a pending task given its trigger rule and the tally of its finished upstreams, where failed counts those that ended failed or upstream_failed and upstream_failed those of them that ended upstream_failed (one_done counts only the first kind, as in Airflow): pending, queued, upstream_failed or skipped';

CREATE FUNCTION dagsched.trigger(dag_name text, params jsonb DEFAULT '{}',
								 at timestamptz DEFAULT NULL)
RETURNS bigint
LANGUAGE c VOLATILE
AS 'MODULE_PATHNAME', 'dagsched_trigger';

COMMENT ON FUNCTION dagsched.trigger(text, jsonb, timestamptz) IS
'create a manual run of a DAG; returns its run_id.  With "at" in the future the run is created now in state scheduled and starts at "at" (its logical_time); cancel() stops it.  NULL dag_name or params: NULL';

CREATE FUNCTION dagsched.wait(run_id bigint, timeout interval DEFAULT '1 min')
RETURNS text
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'dagsched_wait';

COMMENT ON FUNCTION dagsched.wait(bigint, interval) IS
'block until the run ends or the timeout passes; returns the run''s state';

CREATE FUNCTION dagsched.cancel(run_id bigint)
RETURNS void
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'dagsched_cancel';

COMMENT ON FUNCTION dagsched.cancel(bigint) IS
'stop the run''s running tasks and mark the rest cancelled';

CREATE FUNCTION dagsched.retry(run_id bigint)
RETURNS integer
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'dagsched_retry';

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


CREATE FUNCTION dagsched.backfill(dag_name text, "from" timestamptz, "to" timestamptz)
RETURNS SETOF bigint
LANGUAGE c VOLATILE STRICT
AS 'MODULE_PATHNAME', 'dagsched_backfill';

COMMENT ON FUNCTION dagsched.backfill(text, timestamptz, timestamptz) IS
'create one run per schedule tick in [from, to) (trigger ''backfill''); ticks that already have a run are skipped; returns the new run_ids';

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
