/*-------------------------------------------------------------------------
 *
 * run.c
 *	  Catalog access for runs: create a run, claim a task attempt, record
 *	  its outcome, propagate it downstream, finish, cancel and resume runs.
 *
 * All table access of the engine is here, so that a reader finds in one
 * place what each transaction writes.  Callers own the transactions: a
 * worker runs a task's SQL, RunTaskSucceeded() and the queueing of the
 * downstream tasks in one transaction, which is what makes a SQL task's
 * effects land exactly once.
 *
 * A task_run row carries tallies of its finished upstream tasks, so that a
 * dependency hop updates each downstream row once instead of re-reading all
 * its upstreams; the trigger rule itself is evaluated by dag.c.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/run.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/fmgroids.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "dag.h"
#include "dagsched.h"
#include "run.h"
#include "shmem.h"
#include "validate.h"

#define ACTIVE_STATES "'{pending,queued,running,retry_wait}'::pg_catalog.text[]"

/*
 * The new state of a pending task once its tallies grow by $3/$4/$5 (success,
 * failed, skipped).  Used three times in one UPDATE, hence the macro.
 */
#define RULE_STATE \
	"dagsched.rule_state(t.trigger_rule, pg_catalog.cardinality(t.depends_on), " \
	"t.up_success + $3, t.up_failed + $4, t.up_skipped + $5)"

/* prepared once per process */
static SPIPlanPtr plan_claim;
static SPIPlanPtr plan_success;
static SPIPlanPtr plan_failed;
static SPIPlanPtr plan_propagate;
static SPIPlanPtr plan_lock_downstream;
static SPIPlanPtr plan_active;

static int	run_propagate(int64 run_id, Datum downstream, const char *state);
static int	run_fire_downstream_dags(int64 run_id, const char *dag_name);
static int	run_evaluate_pending(int64 run_id);
static void run_auto_pause(int64 run_id, const char *dag_name);

static SPIPlanPtr
run_prepare(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		*cache = plan;
	}
	return *cache;
}

static int
run_exec(const char *sql, int nargs, Oid *argtypes, Datum *values,
		 const char *nulls)
{
	int			ret = SPI_execute_with_args(sql, nargs, argtypes, values,
											nulls, false, 0);

	if (ret < 0)
		elog(ERROR, "SPI_execute_with_args failed: %s",
			 SPI_result_code_string(ret));
	return ret;
}

static int
run_exec_plan(SPIPlanPtr plan, Datum *values, const char *nulls)
{
	int			ret = SPI_execute_plan(plan, values, nulls, false, 0);

	if (ret < 0)
		elog(ERROR, "SPI_execute_plan failed: %s",
			 SPI_result_code_string(ret));
	return ret;
}

/* Text of column col of row row of the last SPI result, NULL if null. */
static char *
run_text(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

static Datum
run_datum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 isnull);
}

/* The values of one column of the last SPI result, as a 1-D array. */
static Datum
run_column_array(int col, Oid elemtype, int nrows)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(nrows, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(nrows, 1));
	int			dims[1];
	int			lbs[1];
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			i;

	for (i = 0; i < nrows; i++)
		elems[i] = run_datum(i, col, &nulls[i]);
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	dims[0] = nrows;
	lbs[0] = 1;
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  elemtype, typlen, typbyval,
											  typalign));
}

/*
 * NOTIFY dagsched with a small JSON payload.  It is delivered when, and only
 * if, the transaction that changed the state commits, so a listener never
 * hears of a state it cannot see.
 *
 * Any role may LISTEN, and a notification reaches every listener of the
 * database: the payload carries nothing but the event kind, the run id and
 * the state, never a DAG or task name (which another owner's listener could
 * not SELECT).  A listener that can see the run reads the rest from the
 * tables, through row-level security.  dag_name and task_name only say
 * which kind of event this is.
 */
static void
run_notify(int64 run_id, const char *dag_name, const char *task_name,
		   const char *state)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"event\": \"%s\", \"run_id\": " INT64_FORMAT
					 ", \"state\": ",
					 task_name ? "task" : "run", run_id);
	escape_json(&buf, state);
	appendStringInfoChar(&buf, '}');
	Async_Notify("dagsched", buf.data);
	pfree(buf.data);
}

typedef struct NameIndexEntry
{
	char		name[NAMEDATALEN * 4];
	int			index;
} NameIndexEntry;

/*
 * Create a run of dag_name standing for logical_time, with one task_run per
 * task (a snapshot of the definition), and queue its root tasks if the run
 * may start now.  Returns the run_id, or 0 when a scheduled tick already has
 * its run.  *nqueued tells how many tasks became queued.
 */
int64
RunCreate(const char *dag_name, TimestampTz logical_time, const char *trigger,
		  Datum params, int *nqueued)
{
	Oid			argtypes[14];
	Datum		values[14];
	char		nulls[14];
	char	   *owner;
	int			max_active;
	int			ntasks;
	int			nactive;
	bool		running;
	bool		isnull;
	int		   *up_start;
	int		   *up;
	int		   *path_len;
	int		   *down_count;
	List	  **down;
	HTAB	   *index;
	HASHCTL		ctl;
	int			nedges = 0;
	int			i;
	int64		run_id;
	Datum	   *down_text;
	int32	   *prio;
	int			roots = 0;

	*nqueued = 0;

	/* Lock the DAG row: run creation and max_active_runs must serialize. */
	argtypes[0] = TEXTOID;
	values[0] = CStringGetTextDatum(dag_name);
	run_exec("SELECT owner::pg_catalog.text, max_active_runs FROM dagsched.dag "
			 "WHERE dag_name OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
			 1, argtypes, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("DAG \"%s\" does not exist", DagschedQuote(dag_name))));
	owner = run_text(0, 1);
	max_active = DatumGetInt32(run_datum(0, 2, &isnull));

	run_exec("SELECT task_name, kind, command, depends_on::pg_catalog.text, "
			 "trigger_rule, retries, retry_delay, timeout, "
			 "database::pg_catalog.text, priority, depends_on, conninfo "
			 "FROM dagsched.task WHERE dag_name OPERATOR(pg_catalog.=) $1 "
			 "ORDER BY task_name",
			 1, argtypes, values, NULL);
	ntasks = (int) SPI_processed;
	if (ntasks == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("DAG \"%s\" has no tasks", dag_name),
				 errhint("Insert its tasks into dagsched.task first.")));

	/* name -> index, then the upstream edges in CSR form */
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(((NameIndexEntry *) 0)->name);
	ctl.entrysize = sizeof(NameIndexEntry);
	ctl.hcxt = CurrentMemoryContext;
	index = hash_create("dagsched task index", ntasks, &ctl,
						HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	for (i = 0; i < ntasks; i++)
	{
		NameIndexEntry *e;
		char	   *name = run_text(i, 1);

		e = hash_search(index, name, HASH_ENTER, NULL);
		e->index = i;
	}

	up_start = palloc(sizeof(int) * (ntasks + 1));
	for (i = 0; i < ntasks; i++)
	{
		ArrayType  *deps = DatumGetArrayTypeP(run_datum(i, 11, &isnull));

		up_start[i] = nedges;
		nedges += ArrayGetNItems(ARR_NDIM(deps), ARR_DIMS(deps));
	}
	up_start[ntasks] = nedges;
	up = palloc(sizeof(int) * Max(nedges, 1));
	down_count = palloc0(sizeof(int) * ntasks);
	for (i = 0; i < ntasks; i++)
	{
		ArrayType  *deps = DatumGetArrayTypeP(run_datum(i, 11, &isnull));
		Datum	   *elems;
		int			nelems;
		int			j;

		deconstruct_array(deps, TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, NULL, &nelems);
		if (nelems == 0)
			roots++;
		for (j = 0; j < nelems; j++)
		{
			char	   *dep = TextDatumGetCString(elems[j]);
			NameIndexEntry *e = hash_search(index, dep, HASH_FIND, NULL);

			if (e == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
						 errmsg("task \"%s\" of DAG \"%s\" depends on unknown task \"%s\"",
								run_text(i, 1), dag_name, dep)));
			up[up_start[i] + j] = e->index;
			down_count[e->index]++;
		}
	}

	path_len = palloc(sizeof(int) * ntasks);
	if (!DagCriticalPath(ntasks, up_start, up, path_len))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("DAG \"%s\" has a cycle", dag_name)));

	/* downstream lists, rendered as text[] literals */
	down = palloc0(sizeof(List *) * ntasks);
	for (i = 0; i < ntasks; i++)
	{
		int			e;

		for (e = up_start[i]; e < up_start[i + 1]; e++)
			down[up[e]] = lappend(down[up[e]], run_text(i, 1));
	}
	down_text = palloc(sizeof(Datum) * ntasks);
	prio = palloc(sizeof(int32) * ntasks);
	for (i = 0; i < ntasks; i++)
	{
		Datum	   *elems = palloc(sizeof(Datum) * Max(down_count[i], 1));
		ListCell   *lc;
		int			n = 0;
		ArrayType  *arr;
		Datum		p;

		foreach(lc, down[i])
			elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
		arr = construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
		down_text[i] = CStringGetTextDatum(
										   OidOutputFunctionCall(F_ARRAY_OUT, PointerGetDatum(arr)));
		p = run_datum(i, 10, &isnull);
		prio[i] = isnull ? path_len[i] : DatumGetInt32(p);
	}

	/* may it start now? */
	run_exec("SELECT pg_catalog.count(*)::pg_catalog.int4 FROM dagsched.dag_run "
			 "WHERE dag_name OPERATOR(pg_catalog.=) $1 "
			 "AND state OPERATOR(pg_catalog.=) 'running'",
			 1, argtypes, values, NULL);
	nactive = DatumGetInt32(run_datum(0, 1, &isnull));
	running = (nactive < max_active);

	argtypes[1] = TIMESTAMPTZOID;
	values[1] = TimestampTzGetDatum(logical_time);
	argtypes[2] = TEXTOID;
	values[2] = CStringGetTextDatum(trigger);
	argtypes[3] = JSONBOID;
	values[3] = params;
	argtypes[4] = TEXTOID;
	values[4] = CStringGetTextDatum(running ? "running" : "queued");
	argtypes[5] = TEXTOID;
	values[5] = CStringGetTextDatum(owner);
	run_exec("INSERT INTO dagsched.dag_run AS r "
			 "(dag_name, logical_time, trigger, params, state, owner, started_at) "
			 "VALUES ($1, $2, $3, $4, $5, $6::pg_catalog.name, "
			 " CASE WHEN $5 OPERATOR(pg_catalog.=) 'running' "
			 "      THEN pg_catalog.clock_timestamp() END) "
			 "ON CONFLICT (dag_name, logical_time) "
			 "  WHERE trigger IN ('schedule', 'catchup', 'backfill') DO NOTHING "
			 "RETURNING run_id",
			 6, argtypes, values, NULL);
	if (SPI_processed == 0)
		return 0;
	run_id = DatumGetInt64(run_datum(0, 1, &isnull));

	/* re-read the task rows: the previous SPI calls replaced SPI_tuptable */
	argtypes[0] = TEXTOID;
	values[0] = CStringGetTextDatum(dag_name);
	run_exec("SELECT task_name, kind, command, depends_on::pg_catalog.text, "
			 "trigger_rule, retries, retry_delay, timeout, "
			 "database::pg_catalog.text, priority, depends_on, conninfo "
			 "FROM dagsched.task WHERE dag_name OPERATOR(pg_catalog.=) $1 "
			 "ORDER BY task_name",
			 1, argtypes, values, NULL);
	if ((int) SPI_processed != ntasks)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("tasks of DAG \"%s\" changed while a run was being created",
						dag_name)));

	argtypes[0] = INT8OID;
	values[0] = Int64GetDatum(run_id);
	argtypes[1] = TEXTARRAYOID;
	values[1] = run_column_array(1, TEXTOID, ntasks);
	argtypes[2] = TEXTARRAYOID;
	values[2] = run_column_array(2, TEXTOID, ntasks);
	argtypes[3] = TEXTARRAYOID;
	values[3] = run_column_array(3, TEXTOID, ntasks);
	argtypes[4] = TEXTARRAYOID;
	values[4] = run_column_array(4, TEXTOID, ntasks);
	argtypes[5] = TEXTARRAYOID;
	values[5] = run_column_array(5, TEXTOID, ntasks);
	argtypes[6] = INT4ARRAYOID;
	values[6] = run_column_array(6, INT4OID, ntasks);
	argtypes[7] = INTERVALARRAYOID;
	values[7] = run_column_array(7, INTERVALOID, ntasks);
	argtypes[8] = INTERVALARRAYOID;
	values[8] = run_column_array(8, INTERVALOID, ntasks);
	argtypes[9] = TEXTARRAYOID;
	values[9] = run_column_array(9, TEXTOID, ntasks);
	argtypes[10] = INT4ARRAYOID;
	{
		Datum	   *pd = palloc(sizeof(Datum) * ntasks);

		for (i = 0; i < ntasks; i++)
			pd[i] = Int32GetDatum(prio[i]);
		values[10] = PointerGetDatum(construct_array(pd, ntasks, INT4OID, 4,
													 true, TYPALIGN_INT));
	}
	argtypes[11] = TEXTARRAYOID;
	values[11] = PointerGetDatum(construct_array(down_text, ntasks, TEXTOID,
												 -1, false, TYPALIGN_INT));
	argtypes[12] = BOOLOID;
	values[12] = BoolGetDatum(running);
	argtypes[13] = TEXTARRAYOID;
	values[13] = run_column_array(12, TEXTOID, ntasks);
	memset(nulls, ' ', sizeof(nulls));

	run_exec("INSERT INTO dagsched.task_run (run_id, task_name, kind, command, "
			 " depends_on, trigger_rule, retries, retry_delay, timeout, "
			 " database, priority, downstream, state, queued_at, conninfo) "
			 "SELECT $1, x.n, x.k, x.c, x.d::pg_catalog.text[], x.r, x.re, "
			 " x.rd, x.t, x.db::pg_catalog.name, x.p, x.dn::pg_catalog.text[], "
			 " CASE WHEN $13 AND x.d OPERATOR(pg_catalog.=) '{}' "
			 "      THEN 'queued' ELSE 'pending' END, "
			 " CASE WHEN $13 AND x.d OPERATOR(pg_catalog.=) '{}' "
			 "      THEN pg_catalog.clock_timestamp() END, x.ci "
			 "FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
			 " pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), "
			 " pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), "
			 " pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12), "
			 " pg_catalog.unnest($14)) "
			 " AS x(n, k, c, d, r, re, rd, t, db, p, dn, ci)",
			 14, argtypes, values, nulls);

	if (running)
		*nqueued = roots;
	run_notify(run_id, dag_name, NULL, running ? "running" : "queued");
	hash_destroy(index);
	return run_id;
}

/*
 * Claim the most urgent queued task: highest priority, then oldest.  SKIP
 * LOCKED lets workers claim side by side without waiting on each other.
 * The claim commits before the task runs, so a crash during the task is
 * visible afterwards as a "running" row without a live worker.
 */
bool
RunClaimTask(ClaimedTask *task, MemoryContext cxt)
{
	MemoryContext oldcxt;

	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];
	bool		isnull;
	Datum		d;

	values[0] = Int32GetDatum(MyProcPid);
	run_prepare(&plan_claim,
				"WITH q AS ("
				" SELECT run_id, task_name FROM dagsched.task_run "
				" WHERE state OPERATOR(pg_catalog.=) 'queued' "
				" ORDER BY priority DESC, queued_at, run_id "
				" LIMIT 1 FOR UPDATE SKIP LOCKED) "
				"UPDATE dagsched.task_run t SET state = 'running', "
				" attempts = t.attempts + 1, "
				" started_at = pg_catalog.clock_timestamp(), "
				" finished_at = NULL, pid = $1 "
				"FROM q, dagsched.dag_run r "
				"WHERE t.run_id OPERATOR(pg_catalog.=) q.run_id "
				" AND t.task_name OPERATOR(pg_catalog.=) q.task_name "
				" AND r.run_id OPERATOR(pg_catalog.=) q.run_id "
				"RETURNING t.run_id, t.task_name, t.kind, t.command, t.attempts, "
				" (pg_catalog.date_part('epoch', t.timeout) "
				"   OPERATOR(pg_catalog.*) 1000)::pg_catalog.int4, "
				" t.database::pg_catalog.text, r.dag_name, "
				" r.logical_time::pg_catalog.text, r.params::pg_catalog.text, "
				" r.owner::pg_catalog.text, t.conninfo",
				1, argtypes);
	run_exec_plan(plan_claim, values, NULL);
	if (SPI_processed == 0)
		return false;

	/* SPI calls leave the SPI procedure context current; copy out of it */
	oldcxt = MemoryContextSwitchTo(cxt);
	task->run_id = DatumGetInt64(run_datum(0, 1, &isnull));
	task->task_name = run_text(0, 2);
	task->kind = run_text(0, 3);
	task->command = run_text(0, 4);
	task->attempt = DatumGetInt32(run_datum(0, 5, &isnull));
	d = run_datum(0, 6, &isnull);
	task->timeout_ms = isnull ? 0 : Max(DatumGetInt32(d), 1);
	task->database = run_text(0, 7);
	task->dag_name = run_text(0, 8);
	task->logical_time = run_text(0, 9);
	task->params = run_text(0, 10);
	task->owner = run_text(0, 11);
	task->conninfo = run_text(0, 12);
	MemoryContextSwitchTo(oldcxt);
	return true;
}

/*
 * Record success of the claimed attempt and queue what it unblocks.  Runs in
 * the task's own transaction.  Returns how many tasks became queued.
 */
int
RunTaskSucceeded(const ClaimedTask *task, const char *output)
{
	Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, INT4OID};
	Datum		values[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};
	bool		isnull;
	Datum		downstream;
	int			nqueued;

	values[0] = Int64GetDatum(task->run_id);
	values[1] = CStringGetTextDatum(task->task_name);
	if (output)
		values[2] = CStringGetTextDatum(output);
	else
		nulls[2] = 'n';
	values[3] = Int32GetDatum(MyProcPid);

	/*
	 * Lock the run row (FOR KEY SHARE) before any task row: foreign-key
	 * checks later in this transaction take the same lock, and a cascading
	 * DELETE of the DAG takes them in the opposite order -- a deadlock.
	 */
	run_prepare(&plan_success,
				"WITH lk AS (SELECT 1 FROM dagsched.dag_run "
				"  WHERE run_id OPERATOR(pg_catalog.=) $1 FOR KEY SHARE), "
				"u AS ("
				" UPDATE dagsched.task_run SET state = 'success', "
				"  finished_at = pg_catalog.clock_timestamp(), error = NULL, "
				"  output = $3, next_attempt_at = NULL "
				" WHERE run_id OPERATOR(pg_catalog.=) $1 "
				"  AND task_name OPERATOR(pg_catalog.=) $2 "
				"  AND state OPERATOR(pg_catalog.=) 'running' "
				"  AND pid OPERATOR(pg_catalog.=) $4 "
				"  AND EXISTS (SELECT 1 FROM lk) "
				" RETURNING run_id, task_name, attempts, started_at, "
				"  finished_at, output, pid, downstream), "
				"a AS (INSERT INTO dagsched.task_attempt "
				" (run_id, task_name, attempt, state, started_at, finished_at, "
				"  output, pid) "
				" SELECT run_id, task_name, attempts, 'success', started_at, "
				"  finished_at, output, pid FROM u) "
				"SELECT downstream FROM u",
				4, argtypes);
	run_exec_plan(plan_success, values, nulls);

	/*
	 * The attempt is no longer ours (the DAG was deleted, or the attempt was
	 * declared dead and handed to someone else): roll the task's effects back
	 * rather than let them land twice.
	 */
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task \"%s\" of run %lld is no longer claimed by this worker",
						task->task_name, (long long) task->run_id)));

	downstream = run_datum(0, 1, &isnull);
	nqueued = run_propagate(task->run_id, downstream, "success");
	return nqueued;
}

/*
 * Record a failed attempt in its own transaction: wait for a retry if any
 * is left, else fail and propagate downstream.  A task of a cancelled run
 * ends cancelled.  pid guards against failing someone else's attempt.
 * Returns how many tasks became queued (by propagation, e.g. all_done).
 */
int
RunTaskFailed(int64 run_id, const char *task_name, int pid, const char *error,
			  const char *output, bool *retry_wait)
{
	Oid			argtypes[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT4OID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	char	   *state;

	*retry_wait = false;
	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(task_name);
	values[2] = CStringGetTextDatum(error);
	if (output)
		values[3] = CStringGetTextDatum(output);
	else
		nulls[3] = 'n';
	values[4] = Int32GetDatum(pid);

	/*
	 * Delay before attempt n+1: retry_delay * 2^(n-1), capped at one hour,
	 * with +/-10% jitter so that tasks failing together do not retry in
	 * lockstep.
	 */
	run_prepare(&plan_failed,
				"WITH lk AS (SELECT 1 FROM dagsched.dag_run "
				"  WHERE run_id OPERATOR(pg_catalog.=) $1 FOR KEY SHARE), "
				"u AS ("
				" UPDATE dagsched.task_run t SET "
				"  state = CASE "
				"   WHEN r.state OPERATOR(pg_catalog.=) 'cancelled' THEN 'cancelled' "
				"   WHEN t.attempts OPERATOR(pg_catalog.-) t.retry_base "
				"        OPERATOR(pg_catalog.<=) t.retries THEN 'retry_wait' "
				"   ELSE 'failed' END, "
				"  finished_at = pg_catalog.clock_timestamp(), "
				"  error = $3, output = $4, "
				"  next_attempt_at = pg_catalog.clock_timestamp() "
				"   OPERATOR(pg_catalog.+) (LEAST("
				"    t.retry_delay OPERATOR(pg_catalog.*) pg_catalog.power(2::pg_catalog.float8, "
				"     LEAST(t.attempts OPERATOR(pg_catalog.-) t.retry_base "
				"      OPERATOR(pg_catalog.-) 1, 20)), "
				"    '1 hour'::pg_catalog.interval) "
				"   OPERATOR(pg_catalog.*) (0.9::pg_catalog.float8 OPERATOR(pg_catalog.+) "
				"    (0.2::pg_catalog.float8 OPERATOR(pg_catalog.*) pg_catalog.random()))) "
				" FROM dagsched.dag_run r "
				" WHERE r.run_id OPERATOR(pg_catalog.=) t.run_id "
				"  AND t.run_id OPERATOR(pg_catalog.=) $1 "
				"  AND t.task_name OPERATOR(pg_catalog.=) $2 "
				"  AND t.state OPERATOR(pg_catalog.=) 'running' "
				"  AND t.pid OPERATOR(pg_catalog.=) $5 "
				"  AND EXISTS (SELECT 1 FROM lk) "
				" RETURNING t.run_id, t.task_name, t.attempts, t.state, "
				"  t.started_at, t.finished_at, t.error, t.output, t.pid, "
				"  t.downstream, r.dag_name), "
				"a AS (INSERT INTO dagsched.task_attempt "
				" (run_id, task_name, attempt, state, started_at, finished_at, "
				"  error, output, pid) "
				" SELECT run_id, task_name, attempts, "
				"  CASE WHEN state OPERATOR(pg_catalog.=) 'cancelled' "
				"   THEN 'cancelled' ELSE 'failed' END, "
				"  started_at, finished_at, error, output, pid FROM u) "
				"SELECT state, downstream, dag_name FROM u",
				5, argtypes);
	run_exec_plan(plan_failed, values, nulls);
	if (SPI_processed == 0)
		return 0;

	state = run_text(0, 1);
	run_notify(run_id, run_text(0, 3), task_name,
			   strcmp(state, "cancelled") == 0 ? "cancelled" : "failed");
	if (strcmp(state, "retry_wait") == 0)
	{
		*retry_wait = true;
		return 0;
	}
	if (strcmp(state, "failed") == 0)
		return run_propagate(run_id, run_datum(0, 2, &isnull), "failed");
	return 0;
}

/*
 * A task ended in state "state": add it to the tallies of its pending
 * downstream tasks, queue those whose rule now holds, and resolve those
 * whose rule can no longer hold -- which ends them too, so the walk goes on
 * from them.  Breadth-first, one UPDATE per level.  Returns how many tasks
 * became queued.
 */
static int
run_propagate(int64 run_id, Datum downstream, const char *state)
{
	Oid			argtypes[5] = {INT8OID, TEXTARRAYOID, INT4OID, INT4OID, INT4OID};
	Datum		values[5];
	int			nqueued = 0;
	List	   *work = NIL;

	run_prepare(&plan_propagate,
				"UPDATE dagsched.task_run t SET "
				" up_success = t.up_success + $3, "
				" up_failed = t.up_failed + $4, "
				" up_skipped = t.up_skipped + $5, "
				" state = " RULE_STATE ", "
				" queued_at = CASE WHEN " RULE_STATE " OPERATOR(pg_catalog.=) 'queued' "
				"  THEN pg_catalog.clock_timestamp() END, "
				" finished_at = CASE WHEN " RULE_STATE " OPERATOR(pg_catalog.=) "
				"  ANY ('{upstream_failed,skipped}'::pg_catalog.text[]) "
				"  THEN pg_catalog.clock_timestamp() END "
				"WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
				" AND t.task_name OPERATOR(pg_catalog.=) ANY ($2) "
				" AND t.state OPERATOR(pg_catalog.=) 'pending' "
				"RETURNING t.state, t.downstream",
				5, argtypes);

	work = lappend(work, list_make2(DatumGetArrayTypePCopy(downstream),
									pstrdup(state)));
	while (work != NIL)
	{
		List	   *item = linitial(work);
		ArrayType  *names = (ArrayType *) linitial(item);
		const char *st = (const char *) lsecond(item);
		uint64		i;
		uint64		n;
		SPITupleTable *tuptable;

		work = list_delete_first(work);
		if (ArrayGetNItems(ARR_NDIM(names), ARR_DIMS(names)) == 0)
			continue;

		values[0] = Int64GetDatum(run_id);
		values[1] = PointerGetDatum(names);
		values[2] = Int32GetDatum(strcmp(st, "success") == 0 ? 1 : 0);
		values[3] = Int32GetDatum(strcmp(st, "failed") == 0 ||
								  strcmp(st, "upstream_failed") == 0 ? 1 : 0);
		values[4] = Int32GetDatum(strcmp(st, "skipped") == 0 ? 1 : 0);
		/*
		 * Siblings finishing together update the same downstream rows: take
		 * their locks in name order first, so that two of them never wait
		 * for each other in opposite orders.
		 */
		if (ArrayGetNItems(ARR_NDIM(names), ARR_DIMS(names)) > 1)
		{
			run_prepare(&plan_lock_downstream,
						"SELECT 1 FROM dagsched.task_run "
						"WHERE run_id OPERATOR(pg_catalog.=) $1 "
						" AND task_name OPERATOR(pg_catalog.=) ANY ($2) "
						" AND state OPERATOR(pg_catalog.=) 'pending' "
						"ORDER BY task_name FOR NO KEY UPDATE",
						2, argtypes);
			run_exec_plan(plan_lock_downstream, values, NULL);
		}
		run_exec_plan(plan_propagate, values, NULL);

		tuptable = SPI_tuptable;
		n = SPI_processed;
		for (i = 0; i < n; i++)
		{
			bool		isnull;
			char	   *newstate = SPI_getvalue(tuptable->vals[i],
												tuptable->tupdesc, 1);
			Datum		down = SPI_getbinval(tuptable->vals[i],
											 tuptable->tupdesc, 2, &isnull);

			if (strcmp(newstate, "queued") == 0)
				nqueued++;
			else if (strcmp(newstate, "pending") != 0)
			{
				/* copy: the tuple table is freed by the next SPI call */
				work = lappend(work,
							   list_make2(DatumGetArrayTypePCopy(down),
										  newstate));
			}
		}
	}
	return nqueued;
}

/*
 * Lock the DAG row of a run (FOR NO KEY UPDATE) before touching the run row:
 * a cascading DELETE of the DAG locks the DAG row first and the run rows
 * after, so taking them in the same order keeps the two from deadlocking.
 */
static void
run_lock_dag_of_run(int64 run_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(run_id);
	run_exec("SELECT 1 FROM dagsched.dag d, dagsched.dag_run r "
			 "WHERE r.run_id OPERATOR(pg_catalog.=) $1 "
			 " AND d.dag_name OPERATOR(pg_catalog.=) r.dag_name "
			 "FOR NO KEY UPDATE OF d",
			 1, argtypes, values, NULL);
}

/*
 * End the run if none of its tasks is unfinished, then start runs of the
 * same DAG that waited for max_active_runs.  Called after the transaction
 * that ended a task has committed, so that of two workers ending the last
 * two tasks at once, the later one always sees both.  Returns true if the
 * run ended; *nqueued counts tasks queued by promoted runs.
 */
bool
RunFinishIfDone(int64 run_id, int *nqueued)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	char	   *dag_name;

	*nqueued = 0;
	values[0] = Int64GetDatum(run_id);
	run_prepare(&plan_active,
				"SELECT 1 FROM dagsched.task_run "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 "
				" AND state OPERATOR(pg_catalog.=) ANY (" ACTIVE_STATES ") "
				"LIMIT 1",
				1, argtypes);
	if (SPI_execute_plan(plan_active, values, NULL, false, 1) < 0)
		elog(ERROR, "could not check run %lld", (long long) run_id);
	if (SPI_processed > 0)
		return false;

	run_lock_dag_of_run(run_id);
	run_exec("UPDATE dagsched.dag_run r SET finished_at = pg_catalog.clock_timestamp(), "
			 " state = (SELECT CASE "
			 "  WHEN pg_catalog.bool_or(state OPERATOR(pg_catalog.=) "
			 "   ANY ('{failed,upstream_failed}'::pg_catalog.text[])) THEN 'failed' "
			 "  WHEN pg_catalog.bool_or(state OPERATOR(pg_catalog.=) 'cancelled') "
			 "   THEN 'cancelled' "
			 "  ELSE 'success' END "
			 "  FROM dagsched.task_run WHERE run_id OPERATOR(pg_catalog.=) $1) "
			 "WHERE r.run_id OPERATOR(pg_catalog.=) $1 "
			 " AND r.state OPERATOR(pg_catalog.=) 'running' "
			 "RETURNING r.dag_name, r.state",
			 1, argtypes, values, NULL);
	if (SPI_processed == 0)
		return false;
	dag_name = run_text(0, 1);
	run_notify(run_id, dag_name, NULL, run_text(0, 2));
	if (strcmp(run_text(0, 2), "success") == 0)
		*nqueued += run_fire_downstream_dags(run_id, dag_name);
	else if (strcmp(run_text(0, 2), "failed") == 0)
		run_auto_pause(run_id, dag_name);
	*nqueued = RunPromoteQueued(dag_name);
	return true;
}

/*
 * A run failed: pause its DAG when its last max_consecutive_failures ended
 * runs all failed, and say why in paused_reason, where the user looks.
 */
static void
run_auto_pause(int64 run_id, const char *dag_name)
{
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(dag_name);
	values[1] = Int64GetDatum(run_id);
	run_exec("UPDATE dagsched.dag d SET paused = true, "
			 " paused_reason = pg_catalog.format("
			 "  'paused by dagsched: %s consecutive runs failed (the last: run %s at %s)', "
			 "  d.max_consecutive_failures, $2, pg_catalog.now()) "
			 "WHERE d.dag_name OPERATOR(pg_catalog.=) $1 "
			 " AND d.max_consecutive_failures IS NOT NULL AND NOT d.paused "
			 " AND d.max_consecutive_failures OPERATOR(pg_catalog.=) "
			 "  (SELECT pg_catalog.count(*) FILTER (WHERE x.state OPERATOR(pg_catalog.=) 'failed') "
			 "   FROM (SELECT r.state FROM dagsched.dag_run r "
			 "         WHERE r.dag_name OPERATOR(pg_catalog.=) $1 "
			 "          AND r.state OPERATOR(pg_catalog.=) ANY ('{success,failed}'::pg_catalog.text[]) "
			 "         ORDER BY r.finished_at DESC, r.run_id DESC "
			 "         LIMIT d.max_consecutive_failures) x) "
			 "RETURNING d.paused_reason",
			 2, argtypes, values, NULL);
	if (SPI_processed > 0)
		ereport(LOG,
				(errmsg("dagsched: DAG \"%s\" %s", dag_name, run_text(0, 1))));
}

/*
 * RunCreate in a subtransaction: a DAG whose run cannot be created (no
 * tasks, say) is logged, with "why" saying what wanted the run, and must not
 * undo the caller's other work.  Returns the run_id, or 0.
 */
int64
RunCreateOrLog(const char *dag_name, TimestampTz logical_time,
			   const char *trigger, Datum params, int *nqueued,
			   const char *why)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile int64 run_id = 0;

	*nqueued = 0;
	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		run_id = RunCreate(dag_name, logical_time, trigger, params, nqueued);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		*nqueued = 0;
		ereport(LOG,
				(errmsg("dagsched: could not create a run of DAG \"%s\" (%s): %s",
						DagschedQuote(dag_name), why, edata->message)));
	}
	PG_END_TRY();
	return run_id;
}

/*
 * A run of dag_name succeeded: start a run of every DAG that lists it in
 * upstream_dags, standing for the same logical time, with the upstream run
 * in its params.  A DAG whose run cannot be created (no tasks) is logged and
 * skipped; a subtransaction keeps it from undoing the others.  Returns how
 * many tasks became queued.
 */
static int
run_fire_downstream_dags(int64 run_id, const char *dag_name)
{
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		values[2];
	uint64		n;
	uint64		i;
	char	  **names;
	Datum	   *params;
	TimestampTz logical_time = 0;
	int			nqueued = 0;

	values[0] = CStringGetTextDatum(dag_name);
	values[1] = Int64GetDatum(run_id);
	run_exec("SELECT d.dag_name, r.logical_time, "
			 " pg_catalog.jsonb_build_object('upstream_run_id', r.run_id, "
			 "  'upstream_dag', r.dag_name, "
			 "  'upstream_logical_time', r.logical_time) "
			 "FROM dagsched.dag d, dagsched.dag_run r "
			 "WHERE d.upstream_dags OPERATOR(pg_catalog.@>) ARRAY[$1] "
			 " AND NOT d.paused AND r.run_id OPERATOR(pg_catalog.=) $2 "
			 "ORDER BY d.dag_name",
			 2, argtypes, values, NULL);
	n = SPI_processed;
	if (n == 0)
		return 0;
	names = palloc(sizeof(char *) * n);
	params = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		names[i] = run_text(i, 1);
		logical_time = DatumGetTimestampTz(run_datum(i, 2, &isnull));
		params[i] = PointerGetDatum(PG_DETOAST_DATUM_COPY(run_datum(i, 3, &isnull)));
	}

	for (i = 0; i < n; i++)
	{
		int			q;

		(void) RunCreateOrLog(names[i], logical_time, "upstream", params[i],
							  &q, psprintf("after run %lld of DAG \"%s\"",
										   (long long) run_id, dag_name));
		nqueued += q;
	}
	return nqueued;
}

/*
 * Start queued runs of dag_name while fewer than max_active_runs run.
 * Returns how many tasks became queued.
 */
int
RunPromoteQueued(const char *dag_name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	uint64		n;
	uint64		i;
	Datum	   *ids;
	int			nqueued = 0;

	values[0] = CStringGetTextDatum(dag_name);
	run_exec("WITH d AS (SELECT max_active_runs FROM dagsched.dag "
			 "  WHERE dag_name OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE) "
			 "UPDATE dagsched.dag_run SET state = 'running', "
			 "  started_at = COALESCE(started_at, pg_catalog.clock_timestamp()) "
			 " WHERE run_id OPERATOR(pg_catalog.=) ANY (ARRAY("
			 "  SELECT run_id FROM dagsched.dag_run "
			 "  WHERE dag_name OPERATOR(pg_catalog.=) $1 "
			 "   AND state OPERATOR(pg_catalog.=) 'queued' "
			 "  ORDER BY logical_time, run_id "
			 "  LIMIT (SELECT GREATEST(0, d.max_active_runs "
			 "    OPERATOR(pg_catalog.-) (SELECT pg_catalog.count(*) "
			 "     FROM dagsched.dag_run WHERE dag_name OPERATOR(pg_catalog.=) $1 "
			 "     AND state OPERATOR(pg_catalog.=) 'running')) FROM d))) "
			 " RETURNING run_id",
			 1, argtypes, values, NULL);
	n = SPI_processed;
	ids = palloc(sizeof(Datum) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = run_datum(i, 1, &isnull);
	}
	for (i = 0; i < n; i++)
	{
		run_notify(DatumGetInt64(ids[i]), dag_name, NULL, "running");
		nqueued += run_evaluate_pending(DatumGetInt64(ids[i]));
	}
	return nqueued;
}

/*
 * Decide every pending task of a run that just started (or was resumed)
 * against its tallies: queue what may run, resolve what never can and
 * propagate that.  Returns how many tasks became queued.
 */
static int
run_evaluate_pending(int64 run_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	uint64		n;
	uint64		i;
	SPITupleTable *tuptable;
	List	   *resolved = NIL;
	ListCell   *lc;
	int			nqueued = 0;

#define PENDING_STATE \
	"dagsched.rule_state(t.trigger_rule, pg_catalog.cardinality(t.depends_on), " \
	"t.up_success, t.up_failed, t.up_skipped)"

	values[0] = Int64GetDatum(run_id);
	run_exec("UPDATE dagsched.task_run t SET "
			 " state = " PENDING_STATE ", "
			 " queued_at = CASE WHEN " PENDING_STATE " OPERATOR(pg_catalog.=) 'queued' "
			 "  THEN pg_catalog.clock_timestamp() END, "
			 " finished_at = CASE WHEN " PENDING_STATE " OPERATOR(pg_catalog.=) "
			 "  ANY ('{upstream_failed,skipped}'::pg_catalog.text[]) "
			 "  THEN pg_catalog.clock_timestamp() END "
			 "WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
			 " AND t.state OPERATOR(pg_catalog.=) 'pending' "
			 " AND " PENDING_STATE " OPERATOR(pg_catalog.<>) 'pending' "
			 "RETURNING t.state, t.downstream",
			 1, argtypes, values, NULL);
	n = SPI_processed;
	tuptable = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *st = SPI_getvalue(tuptable->vals[i], tuptable->tupdesc, 1);
		Datum		down = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc,
										 2, &isnull);

		if (strcmp(st, "queued") == 0)
			nqueued++;
		else
			resolved = lappend(resolved,
							   list_make2(DatumGetArrayTypePCopy(down), st));
	}
	foreach(lc, resolved)
	{
		List	   *item = lfirst(lc);

		nqueued += run_propagate(run_id, PointerGetDatum(linitial(item)),
								 (char *) lsecond(item));
	}
	return nqueued;
}

/* Queue the tasks whose retry delay has passed; returns how many. */
int
RunQueueDueRetries(void)
{
	run_exec("UPDATE dagsched.task_run SET state = 'queued', "
			 " queued_at = pg_catalog.clock_timestamp() "
			 "WHERE state OPERATOR(pg_catalog.=) 'retry_wait' "
			 " AND next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()",
			 0, NULL, NULL, NULL);
	return (int) SPI_processed;
}

/*
 * Attempts left "running" by a worker that is gone: the server restarted,
 * or the worker died.  Their transactions rolled back, so the attempt
 * failed; it is retried like any failure.  Returns how many tasks became
 * queued (by propagation).
 */
int
RunRecoverOrphans(bool server_restarted, int *nrecovered)
{
	int			nqueued = 0;
	uint64		n;
	uint64		i;
	SPITupleTable *tuptable;

	*nrecovered = 0;
	run_exec("SELECT run_id, task_name, pid FROM dagsched.task_run "
			 "WHERE state OPERATOR(pg_catalog.=) 'running'",
			 0, NULL, NULL, NULL);
	n = SPI_processed;
	tuptable = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		int64		run_id = DatumGetInt64(SPI_getbinval(tuptable->vals[i],
														 tuptable->tupdesc, 1,
														 &isnull));
		char	   *task_name = SPI_getvalue(tuptable->vals[i],
											 tuptable->tupdesc, 2);
		Datum		pidd = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc,
										 3, &isnull);
		int			pid = isnull ? 0 : DatumGetInt32(pidd);
		char	   *error;
		bool		retry_wait;

		if (DagschedTaskIsRunning(run_id, task_name, pid))
			continue;

		/*
		 * The worker may just have finished the attempt and moved on: lock
		 * the row (waiting for a commit in progress) and look again.
		 */
		{
			Oid			argtypes[3] = {INT8OID, TEXTOID, INT4OID};
			Datum		values[3];

			values[0] = Int64GetDatum(run_id);
			values[1] = CStringGetTextDatum(task_name);
			values[2] = Int32GetDatum(pid);
			run_exec("SELECT 1 FROM dagsched.task_run "
					 "WHERE run_id OPERATOR(pg_catalog.=) $1 "
					 " AND task_name OPERATOR(pg_catalog.=) $2 "
					 " AND state OPERATOR(pg_catalog.=) 'running' "
					 " AND pid OPERATOR(pg_catalog.=) $3 FOR NO KEY UPDATE",
					 3, argtypes, values, NULL);
			if (SPI_processed == 0 ||
				DagschedTaskIsRunning(run_id, task_name, pid))
				continue;
		}

		if (server_restarted)
			error = psprintf("server restarted while the task was running (worker pid %d)",
							 pid);
		else
			error = psprintf("worker terminated while the task was running (pid %d)",
							 pid);
		ereport(LOG,
				(errmsg("dagsched: task \"%s\" of run %lld was interrupted: %s",
						task_name, (long long) run_id, error)));
		nqueued += RunTaskFailed(run_id, task_name, pid, error, NULL,
								 &retry_wait);
		(*nrecovered)++;
	}
	return nqueued;
}

/*
 * Cancel a run: tasks not started become cancelled, the run ends
 * cancelled.  Running tasks are interrupted by the caller after commit.
 * Returns the number of tasks still running.
 */
int
RunCancel(int64 run_id, int *nqueued)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	char	   *state;
	char	   *dag_name;
	bool		isnull;
	int			nrunning;

	*nqueued = 0;
	values[0] = Int64GetDatum(run_id);
	run_lock_dag_of_run(run_id);
	run_exec("SELECT state FROM dagsched.dag_run "
			 "WHERE run_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
			 1, argtypes, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run %lld does not exist", (long long) run_id)));
	state = run_text(0, 1);
	if (strcmp(state, "queued") != 0 && strcmp(state, "running") != 0)
	{
		ereport(NOTICE,
				(errmsg("run %lld has already ended with state \"%s\"",
						(long long) run_id, state)));
		return 0;
	}

	run_exec("UPDATE dagsched.dag_run SET state = 'cancelled', "
			 " finished_at = pg_catalog.clock_timestamp() "
			 "WHERE run_id OPERATOR(pg_catalog.=) $1 RETURNING dag_name",
			 1, argtypes, values, NULL);
	dag_name = run_text(0, 1);
	run_notify(run_id, dag_name, NULL, "cancelled");
	run_exec("UPDATE dagsched.task_run SET state = 'cancelled', "
			 " finished_at = pg_catalog.clock_timestamp(), "
			 " next_attempt_at = NULL "
			 "WHERE run_id OPERATOR(pg_catalog.=) $1 "
			 " AND state OPERATOR(pg_catalog.=) ANY "
			 "  ('{pending,queued,retry_wait}'::pg_catalog.text[])",
			 1, argtypes, values, NULL);
	run_exec("SELECT pg_catalog.count(*)::pg_catalog.int4 FROM dagsched.task_run "
			 "WHERE run_id OPERATOR(pg_catalog.=) $1 "
			 " AND state OPERATOR(pg_catalog.=) 'running'",
			 1, argtypes, values, NULL);
	nrunning = DatumGetInt32(run_datum(0, 1, &isnull));

	/* a slot of max_active_runs is free now */
	*nqueued = RunPromoteQueued(dag_name);
	return nrunning;
}

/*
 * Resume a finished run: its failed, upstream_failed and cancelled tasks,
 * and whatever downstream of them did not succeed, go back to pending with
 * fresh tallies; successes are kept.  Returns how many tasks were reset.
 */
int
RunRetry(int64 run_id, int *nqueued)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	char	   *state;
	int			nreset;
	bool		may_run = true;

	*nqueued = 0;
	values[0] = Int64GetDatum(run_id);
	run_lock_dag_of_run(run_id);
	run_exec("SELECT state FROM dagsched.dag_run "
			 "WHERE run_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
			 1, argtypes, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run %lld does not exist", (long long) run_id)));
	state = run_text(0, 1);
	if (strcmp(state, "queued") == 0 || strcmp(state, "running") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run %lld is still %s", (long long) run_id, state),
				 errdetail("Only a run that has ended can be resumed."),
				 errhint("Wait for it with dagsched.wait(), or stop it with dagsched.cancel().")));

	/* the resumed run counts against max_active_runs like any other */
	run_exec("SELECT d.max_active_runs OPERATOR(pg_catalog.>) "
			 " (SELECT pg_catalog.count(*)::pg_catalog.int4 "
			 "  FROM dagsched.dag_run a WHERE a.dag_name OPERATOR(pg_catalog.=) d.dag_name "
			 "  AND a.state OPERATOR(pg_catalog.=) 'running') "
			 "FROM dagsched.dag d, dagsched.dag_run r "
			 "WHERE r.run_id OPERATOR(pg_catalog.=) $1 "
			 " AND d.dag_name OPERATOR(pg_catalog.=) r.dag_name "
			 "FOR NO KEY UPDATE OF d",
			 1, argtypes, values, NULL);
	if (SPI_processed > 0)
	{
		bool		isnull;

		may_run = DatumGetBool(run_datum(0, 1, &isnull));
	}

	run_exec("WITH RECURSIVE r(task_name) AS ("
			 " SELECT task_name FROM dagsched.task_run "
			 " WHERE run_id OPERATOR(pg_catalog.=) $1 "
			 "  AND state OPERATOR(pg_catalog.=) ANY "
			 "   ('{failed,upstream_failed,cancelled}'::pg_catalog.text[]) "
			 " UNION "
			 " SELECT d.name FROM r JOIN dagsched.task_run t "
			 "  ON t.run_id OPERATOR(pg_catalog.=) $1 "
			 "  AND t.task_name OPERATOR(pg_catalog.=) r.task_name, "
			 "  pg_catalog.unnest(t.downstream) AS d(name)) "
			 "UPDATE dagsched.task_run t SET state = 'pending', "
			 " queued_at = NULL, finished_at = NULL, next_attempt_at = NULL, "
			 " retry_base = t.attempts "
			 "FROM r WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
			 " AND t.task_name OPERATOR(pg_catalog.=) r.task_name "
			 " AND t.state OPERATOR(pg_catalog.<>) 'success'",
			 1, argtypes, values, NULL);
	nreset = (int) SPI_processed;
	if (nreset == 0)
		return 0;

	/* fresh tallies for every pending task, from its upstreams' states */
	run_exec("UPDATE dagsched.task_run t SET up_success = s.ok, "
			 " up_failed = s.bad, up_skipped = s.skip "
			 "FROM (SELECT p.task_name, "
			 "  pg_catalog.count(*) FILTER (WHERE u.state OPERATOR(pg_catalog.=) 'success')::pg_catalog.int4 AS ok, "
			 "  pg_catalog.count(*) FILTER (WHERE u.state OPERATOR(pg_catalog.=) "
			 "   ANY ('{failed,upstream_failed}'::pg_catalog.text[]))::pg_catalog.int4 AS bad, "
			 "  pg_catalog.count(*) FILTER (WHERE u.state OPERATOR(pg_catalog.=) 'skipped')::pg_catalog.int4 AS skip "
			 " FROM dagsched.task_run p "
			 " CROSS JOIN pg_catalog.unnest(p.depends_on) AS d(name) "
			 " JOIN dagsched.task_run u ON u.run_id OPERATOR(pg_catalog.=) $1 "
			 "  AND u.task_name OPERATOR(pg_catalog.=) d.name "
			 " WHERE p.run_id OPERATOR(pg_catalog.=) $1 "
			 "  AND p.state OPERATOR(pg_catalog.=) 'pending' "
			 " GROUP BY p.task_name) s "
			 "WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
			 " AND t.task_name OPERATOR(pg_catalog.=) s.task_name",
			 1, argtypes, values, NULL);

	/* it waits its turn behind max_active_runs, like a new run */
	values[0] = Int64GetDatum(run_id);
	run_exec("UPDATE dagsched.dag_run SET finished_at = NULL, "
			 " state = CASE WHEN $2 THEN 'running' ELSE 'queued' END "
			 "WHERE run_id OPERATOR(pg_catalog.=) $1 RETURNING dag_name, state",
			 2, (Oid[]) {INT8OID, BOOLOID},
			 (Datum[]) {Int64GetDatum(run_id), BoolGetDatum(may_run)}, NULL);
	run_notify(run_id, run_text(0, 1), NULL, run_text(0, 2));
	if (may_run)
		*nqueued = run_evaluate_pending(run_id);
	return nreset;
}

/*
 * Runs left "running" although none of their tasks is unfinished: their
 * ending was lost in a crash.  End them now.  Returns how many tasks became
 * queued by promoted runs.
 */
int
RunFinishStranded(int *nfinished)
{
	uint64		n;
	uint64		i;
	Datum	   *ids;
	int			nqueued = 0;

	*nfinished = 0;
	run_exec("SELECT run_id FROM dagsched.dag_run "
			 "WHERE state OPERATOR(pg_catalog.=) 'running'",
			 0, NULL, NULL, NULL);
	n = SPI_processed;
	ids = palloc(sizeof(Datum) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = run_datum(i, 1, &isnull);
	}
	for (i = 0; i < n; i++)
	{
		int			q;

		if (RunFinishIfDone(DatumGetInt64(ids[i]), &q))
			(*nfinished)++;
		nqueued += q;
	}
	return nqueued;
}

/* "SELECT 3", "INSERT 5"-like summary of what a task's last statement did */
char *
RunCommandTag(int spi_result, uint64 processed)
{
	const char *what;

	switch (spi_result)
	{
		case SPI_OK_SELECT:
		case SPI_OK_SELINTO:
			what = "SELECT";
			break;
		case SPI_OK_INSERT:
		case SPI_OK_INSERT_RETURNING:
			what = "INSERT";
			break;
		case SPI_OK_UPDATE:
		case SPI_OK_UPDATE_RETURNING:
			what = "UPDATE";
			break;
		case SPI_OK_DELETE:
		case SPI_OK_DELETE_RETURNING:
			what = "DELETE";
			break;
		case SPI_OK_MERGE:
			what = "MERGE";
			break;
		default:
			return pstrdup("OK");
	}
	return psprintf("%s " UINT64_FORMAT, what, processed);
}

int
RunCountQueued(void)
{
	bool		isnull;

	run_exec("SELECT pg_catalog.count(*)::pg_catalog.int4 FROM dagsched.task_run "
			 "WHERE state OPERATOR(pg_catalog.=) 'queued'",
			 0, NULL, NULL, NULL);
	return DatumGetInt32(run_datum(0, 1, &isnull));
}

/*
 * The earliest moment the scheduler has something to do: a DAG's next tick
 * or a retry coming due.  False when there is none.
 */
bool
RunNextWakeup(TimestampTz *wakeup)
{
	bool		isnull;
	Datum		d;

	run_exec("SELECT LEAST("
			 " (SELECT pg_catalog.min(next_run_at) FROM dagsched.dag "
			 "  WHERE NOT paused AND next_run_at IS NOT NULL), "
			 " (SELECT pg_catalog.min(next_attempt_at) FROM dagsched.task_run "
			 "  WHERE state OPERATOR(pg_catalog.=) 'retry_wait'))",
			 0, NULL, NULL, NULL);
	d = run_datum(0, 1, &isnull);
	if (isnull)
		return false;
	*wakeup = DatumGetTimestampTz(d);
	return true;
}
