/*-------------------------------------------------------------------------
 *
 * transition.c
 *	  The state machine of task_run and dag_run: every state change of the
 *	  engine is one of the functions below.
 *
 * Task states (task_run.state):
 *
 *	  pending ---------> queued ------> running ------> success
 *	     |   TasksUpstreamEnded  TaskClaimed   TaskSucceeded
 *	     |   TasksEvaluated  (a pool's task: only into a free slot)
 *	     |                                 +--TaskSkipped--> skipped
 *	     |                                 |   (condition false)
 *	     |                                 +--TaskFailed--> retry_wait
 *	     +--> upstream_failed | skipped    |                  | TasksRetryDue
 *	          (rule can no longer hold)    |                  v
 *	                                       +--> failed      queued
 *	                                       +--> cancelled (run cancelled)
 *
 *	  running (a sensor, its condition false) --TaskSensing--> sensing
 *	  running (a sensor whose worker is gone) --TaskPokeLost--> sensing
 *	  sensing --TasksPokeDue--> queued (its next poke; no worker meanwhile)
 *	  pending | queued | retry_wait | sensing --TasksCancelled--> cancelled
 *	  failed | upstream_failed | cancelled (+ what lies below) --TasksReset-->
 *	  pending
 *
 * Run states (dag_run.state):
 *
 *	  scheduled --RunScheduledDue--> queued
 *	  queued --RunStarted--> running --RunEnded--> success | failed | cancelled
 *	  scheduled | queued | running --RunCancelled--> cancelled
 *	  (scheduled | queued | running, past deadline_at) --RunsMissedDeadline-->
 *	  the same state, missed_deadline set (not a state: a flag, set once)
 *	  success | failed | cancelled --RunResumed--> running | queued
 *
 * Each UPDATE names the from-states it accepts in its WHERE clause, so a row
 * in any other state is left alone: a late or duplicate event (a worker
 * declared dead that comes back, a cancel racing an end) cannot move a row
 * backwards.  Statements on the per-task path are prepared once per process.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/transition.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "states.h"
#include "transition.h"

/*
 * How many upstreams of task row t ended upstream_failed, which only
 * one_done tells apart from failed ones (as Airflow does): counted for
 * one_done tasks alone, from the upstreams' rows, whose states are set
 * before their downstream tallies grow.
 */
#define RULE_UPSTREAM_FAILED \
	"CASE WHEN t.trigger_rule OPERATOR(pg_catalog.=) 'one_done' THEN " \
	"(SELECT pg_catalog.count(*)::pg_catalog.int4 FROM dagsched.task_run u " \
	" WHERE u.run_id OPERATOR(pg_catalog.=) t.run_id " \
	" AND u.task_name OPERATOR(pg_catalog.=) ANY (t.depends_on) " \
	" AND u.map_index IS NULL " \
	" AND u.state OPERATOR(pg_catalog.=) " SQL_LIT(TS_UPSTREAM_FAILED) ") " \
	"ELSE 0 END"

/*
 * The state of a pending task once its tallies grow by $3/$4/$5 (success,
 * failed, skipped).  Used three times in one UPDATE, hence the macro.
 */
#define RULE_STATE_AFTER \
	"dagsched.rule_state(t.trigger_rule, pg_catalog.cardinality(t.depends_on), " \
	"t.up_success + $3, t.up_failed + $4, t.up_skipped + $5, " \
	RULE_UPSTREAM_FAILED ")"

/* The state of a pending task from its tallies as they are */
#define RULE_STATE_NOW \
	"dagsched.rule_state(t.trigger_rule, pg_catalog.cardinality(t.depends_on), " \
	"t.up_success, t.up_failed, t.up_skipped, " RULE_UPSTREAM_FAILED ")"

/*
 * The definition columns every attempt records (task_attempt), so that
 * history shows what each attempt ran even after retry() refreshed the
 * task_run row from the task's current definition.
 */
#define ATTEMPT_DEFINITION \
	"kind, command, retries, retry_delay, timeout, database, conninfo, autocommit"
#define ATTEMPT_DEFINITION_T \
	"t.kind, t.command, t.retries, t.retry_delay, t.timeout, t.database, " \
	"t.conninfo, t.autocommit"

/* a task_run column refreshed from the task's current definition, if any */
#define REFRESHED(col) \
	" " col " = CASE WHEN def.present THEN def." col " ELSE t." col " END"

static SPIPlanPtr plan_claim;
static SPIPlanPtr plan_success;
static SPIPlanPtr plan_skipped;
static SPIPlanPtr plan_failed;
static SPIPlanPtr plan_tally;
static SPIPlanPtr plan_sensing;
static SPIPlanPtr plan_share_run;

/* A statement whose one parameter ($1) is the run id; the rows it processed */
static uint64
trans_exec_run(const char *sql, int64 run_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(run_id);
	CatalogExec(sql, 1, argtypes, values, NULL);
	return SPI_processed;
}

/*
 * The run row FOR KEY SHARE, taken first by a task end that does not go
 * through TASK_SUCCESS_SQL (which takes it in its own CTE): the lock order
 * of every task end, run row before task row, as a cascading DELETE takes
 * them.
 */
static void
trans_share_run(int64 run_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(run_id);
	CatalogExecCached(&plan_share_run,
					  "SELECT 1 FROM dagsched.dag_run "
					  "WHERE run_id OPERATOR(pg_catalog.=) $1 FOR KEY SHARE",
					  1, argtypes, values, NULL);
}

/*
 * After an UPDATE of one run RETURNING dag_name first: false when it changed
 * nothing (the run was not in a from-state), else the DAG's name.
 */
static bool
trans_changed_dag(char **dag_name)
{
	if (SPI_processed == 0)
		return false;
	*dag_name = CatalogText(0, 1);
	return true;
}

static TaskOutcome
trans_outcome_of(const char *state)
{
	if (strcmp(state, TS_SUCCESS) == 0)
		return TASK_OUTCOME_SUCCESS;
	if (strcmp(state, TS_SKIPPED) == 0)
		return TASK_OUTCOME_SKIPPED;
	return TASK_OUTCOME_FAILED;
}

/* A text[] of the text datums in list (pointers) */
static ArrayType *
trans_text_array(List *list)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(list_length(list), 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, list)
		elems[n++] = PointerGetDatum(lfirst(lc));
	return construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
}

/*
 * Split the rows (state, downstream) an UPDATE returned: count the queued
 * ones, remember the resolved ones for propagation.
 */
static int
trans_collect(List **ended)
{
	SPITupleTable *tuptable = SPI_tuptable;
	uint64		n = SPI_processed;
	uint64		i;
	int			nqueued = 0;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *st = SPI_getvalue(tuptable->vals[i], tuptable->tupdesc, 1);
		Datum		down = SPI_getbinval(tuptable->vals[i], tuptable->tupdesc,
										 2, &isnull);
		TaskEnded  *e;

		if (strcmp(st, TS_QUEUED) == 0)
			nqueued++;
		else if (strcmp(st, TS_PENDING) != 0)
		{
			/* copy: the tuple table is freed by the next SPI call */
			e = palloc(sizeof(TaskEnded));
			e->outcome = trans_outcome_of(st);
			e->downstream = DatumGetArrayTypePCopy(down);
			*ended = lappend(*ended, e);
		}
	}
	return nqueued;
}

/*
 * The claim of one queued task, of no pool or of the pool $2: highest
 * priority first, then oldest.  SKIP LOCKED lets workers claim side by side.
 */
#define CLAIM_SQL(pool_cond) \
	"WITH q AS (" \
	" SELECT ctid FROM dagsched.task_run " \
	" WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(TS_QUEUED) " AND " pool_cond \
	" ORDER BY priority DESC, queued_at, run_id " \
	" LIMIT 1 FOR UPDATE SKIP LOCKED) " \
	CLAIM_UPDATE_SQL

/*
 * The claim's UPDATE of the row q locked, joined with its run r.  The row is
 * named by its ctid: the instances of a mapped task share run_id and
 * task_name, and "map_index IS NOT DISTINCT FROM" could not use an index.
 * The ctid is the version q locked, which nobody else can update before
 * this transaction ends.
 */
#define CLAIM_UPDATE_SQL \
	"UPDATE dagsched.task_run t SET state = " SQL_LIT(TS_RUNNING) ", " \
	" attempts = t.attempts + 1, " \
	SENSOR_CLAIM_SQL \
	" finished_at = NULL, pid = $1 " \
	"FROM q, dagsched.dag_run r " \
	"WHERE t.ctid OPERATOR(pg_catalog.=) q.ctid " \
	" AND r.run_id OPERATOR(pg_catalog.=) t.run_id " \
	"RETURNING t.run_id, t.task_name, t.kind, t.command, t.attempts, " \
	" (pg_catalog.date_part('epoch', t.timeout) " \
	"   OPERATOR(pg_catalog.*) 1000)::pg_catalog.int4, " \
	" t.database::pg_catalog.text, r.dag_name, " \
	" r.logical_time::pg_catalog.text, r.params::pg_catalog.text, " \
	" r.owner::pg_catalog.text, t.conninfo, t.autocommit, t.pool, t.condition, " \
	" pg_catalog.cardinality(t.downstream), " \
	" CASE WHEN t.kind OPERATOR(pg_catalog.=) " SQL_LIT(TASK_KIND_SENSOR) \
	"  THEN t.started_at OPERATOR(pg_catalog.+) t.timeout END, " \
	" t.timeout::pg_catalog.text, t.pokes, t.map_index, " \
	" t.map_item::pg_catalog.text, t.map_over"

/*
 * A claim's start and poke columns.  A sensor requeued for its next poke
 * (next_poke_at set) keeps the started_at of its first poke, which its
 * timeout counts from; every other claim starts afresh.  A sensor's claim
 * is a poke: counted, and timed, in the row.
 */
#define SENSOR_CLAIM_SQL \
	" started_at = CASE WHEN t.next_poke_at IS NULL " \
	"  THEN pg_catalog.clock_timestamp() ELSE t.started_at END, " \
	" pokes = CASE WHEN t.kind OPERATOR(pg_catalog.<>) " SQL_LIT(TASK_KIND_SENSOR) \
	"  THEN t.pokes WHEN t.next_poke_at IS NULL THEN 1 " \
	"  ELSE t.pokes OPERATOR(pg_catalog.+) 1 END, " \
	" last_poke_at = CASE WHEN t.kind OPERATOR(pg_catalog.=) " \
	SQL_LIT(TASK_KIND_SENSOR) " THEN pg_catalog.clock_timestamp() END, " \
	" next_poke_at = NULL, "

static SPIPlanPtr plan_claim_pool;
static SPIPlanPtr plan_claim_ours;
static SPIPlanPtr plan_pools_waiting;
static SPIPlanPtr plan_claim_sources;
static SPIPlanPtr plan_pool_lock;
static SPIPlanPtr plan_pool_free;

/* Copy the claimed row out of the SPI result. */
static void
trans_read_claim(ClaimedTask *task, MemoryContext cxt)
{
	bool		isnull;
	Datum		d;
	MemoryContext oldcxt;

	/* SPI calls leave the SPI procedure context current; copy out of it */
	oldcxt = MemoryContextSwitchTo(cxt);
	task->run_id = DatumGetInt64(CatalogDatum(0, 1, &isnull));
	task->task_name = CatalogText(0, 2);
	task->kind = CatalogText(0, 3);
	task->command = CatalogText(0, 4);
	task->attempt = DatumGetInt32(CatalogDatum(0, 5, &isnull));
	d = CatalogDatum(0, 6, &isnull);
	task->timeout_ms = isnull ? 0 : Max(DatumGetInt32(d), 1);
	task->database = CatalogText(0, 7);
	task->dag_name = CatalogText(0, 8);
	task->logical_time = CatalogText(0, 9);
	task->params = CatalogText(0, 10);
	task->owner = CatalogText(0, 11);
	task->conninfo = CatalogText(0, 12);
	task->autocommit = DatumGetBool(CatalogDatum(0, 13, &isnull));
	task->pool = CatalogText(0, 14);
	task->condition = CatalogText(0, 15);
	task->ndownstream = DatumGetInt32(CatalogDatum(0, 16, &isnull));
	d = CatalogDatum(0, 17, &isnull);
	task->sensor_deadline = isnull ? 0 : DatumGetTimestampTz(d);
	task->timeout_text = CatalogText(0, 18);
	task->pokes = DatumGetInt32(CatalogDatum(0, 19, &isnull));
	d = CatalogDatum(0, 20, &isnull);
	task->map_index = isnull ? -1 : DatumGetInt32(d);
	task->map_item = CatalogText(0, 21);
	task->map_over = CatalogText(0, 22);
	MemoryContextSwitchTo(oldcxt);
}

/* queued -> running for the most urgent task of no pool */
static bool
trans_claim_unpooled(int pid, ClaimedTask *task, MemoryContext cxt)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];

	values[0] = Int32GetDatum(pid);
	CatalogPrepare(&plan_claim, CLAIM_SQL("pool IS NULL"), 1, argtypes);
	CatalogExecPlan(plan_claim, values, NULL);
	if (SPI_processed == 0)
		return false;
	trans_read_claim(task, cxt);
	return true;
}

/*
 * queued -> running for the most urgent task of pool, if the pool has a
 * free slot.  The pool's row lock makes claimers of one pool take turns:
 * holding it, this worker counts the running tasks with a snapshot taken
 * after every earlier claimer of the pool committed, so two workers racing
 * for the last slot cannot both take it.  A task's end frees its slot
 * without the lock (a count that misses it is only too cautious).
 */
static bool
trans_claim_pooled(int pid, const char *pool, ClaimedTask *task,
				   MemoryContext cxt)
{
	Oid			argtypes[2] = {INT4OID, TEXTOID};
	Datum		values[2];
	bool		isnull;

	values[0] = Int32GetDatum(pid);
	values[1] = CStringGetTextDatum(pool);
	CatalogPrepare(&plan_pool_lock,
				   "SELECT 1 FROM dagsched.pool "
				   "WHERE pool_name OPERATOR(pg_catalog.=) $2 FOR NO KEY UPDATE",
				   2, argtypes);
	CatalogExecPlan(plan_pool_lock, values, NULL);
	if (SPI_processed == 0)
		return false;			/* dropped meanwhile */

	/* a statement of its own: its snapshot is taken after the lock */
	CatalogPrepare(&plan_pool_free,
				   "SELECT p.slots OPERATOR(pg_catalog.>) "
				   " (SELECT pg_catalog.count(*)::pg_catalog.int4 FROM dagsched.task_run r "
				   "  WHERE r.state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				   "   AND r.pid IS NOT NULL AND r.pool OPERATOR(pg_catalog.=) p.pool_name) "
				   "FROM dagsched.pool p WHERE p.pool_name OPERATOR(pg_catalog.=) $2",
				   2, argtypes);
	CatalogExecPlan(plan_pool_free, values, NULL);
	if (SPI_processed == 0 || !DatumGetBool(CatalogDatum(0, 1, &isnull)))
		return false;

	CatalogPrepare(&plan_claim_pool,
				   CLAIM_SQL("pool OPERATOR(pg_catalog.=) $2"), 2, argtypes);
	CatalogExecPlan(plan_claim_pool, values, NULL);
	if (SPI_processed == 0)
		return false;
	trans_read_claim(task, cxt);
	return true;
}

/*
 * Where to look for a task, most urgent first: the best task of no pool
 * (pool NULL) and the best task of each pool with a free slot.  Costs a
 * probe per pool and per running pooled task, whatever the size of the runs.
 */
static List *
trans_claim_sources(void)
{
	List	   *sources = NIL;
	uint64		i;

	CatalogPrepare(&plan_claim_sources,
				   "SELECT s.pool_name FROM ("
				   " SELECT NULL::pg_catalog.text AS pool_name, u.priority, "
				   "  u.queued_at, u.run_id "
				   " FROM (SELECT priority, queued_at, run_id FROM dagsched.task_run "
				   "  WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(TS_QUEUED)
				   "   AND pool IS NULL "
				   "  ORDER BY priority DESC, queued_at, run_id LIMIT 1) u "
				   " UNION ALL "
				   " SELECT p.pool_name, b.priority, b.queued_at, b.run_id "
				   " FROM dagsched.pool p CROSS JOIN LATERAL ("
				   "  SELECT priority, queued_at, run_id FROM dagsched.task_run q "
				   "  WHERE q.state OPERATOR(pg_catalog.=) " SQL_LIT(TS_QUEUED)
				   "   AND q.pool OPERATOR(pg_catalog.=) p.pool_name "
				   "  ORDER BY priority DESC, queued_at, run_id LIMIT 1) b "
				   " WHERE p.slots OPERATOR(pg_catalog.>) "
				   "  (SELECT pg_catalog.count(*) FROM dagsched.task_run r "
				   "   WHERE r.state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				   "    AND r.pid IS NOT NULL AND r.pool OPERATOR(pg_catalog.=) p.pool_name)) s "
				   "ORDER BY s.priority DESC, s.queued_at, s.run_id",
				   0, NULL);
	CatalogExecPlan(plan_claim_sources, NULL, NULL);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *pool = CatalogText(i, 1);

		/* an empty string stands for "no pool" in the list */
		sources = lappend(sources, pool ? pool : pstrdup(""));
	}
	return sources;
}

/*
 * queued -> running: the most urgent queued task, highest priority first,
 * then oldest, among the tasks of no pool and those of pools with a free
 * slot.  The caller commits the claim before the task runs, so a crash
 * during the task is visible afterwards as a "running" row without a live
 * worker.
 *
 * Without queued tasks of a pool -- always, for a user of no pools -- the
 * claim is one probe of an empty index more than a plain queue pop.
 *
 * SKIP LOCKED does not skip everything: a row whose claim committed after
 * the claim's snapshot is followed to its newest version, and if that
 * claimer is already updating it again (ending the task), the claim waits
 * for it.  So a caller must not hold a lock such a worker may wait for --
 * see TaskClaimedQueuedByUs.
 */
bool
TaskClaimed(int pid, ClaimedTask *task, MemoryContext cxt)
{
	List	   *sources;
	ListCell   *lc;

	CatalogPrepare(&plan_pools_waiting,
				   "SELECT 1 FROM dagsched.task_run "
				   "WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(TS_QUEUED)
				   " AND pool IS NOT NULL LIMIT 1",
				   0, NULL);
	CatalogExecPlan(plan_pools_waiting, NULL, NULL);
	if (SPI_processed == 0)
		return trans_claim_unpooled(pid, task, cxt);

	sources = trans_claim_sources();
	foreach(lc, sources)
	{
		char	   *pool = lfirst(lc);

		if (pool[0] == '\0' ? trans_claim_unpooled(pid, task, cxt) :
			trans_claim_pooled(pid, pool, task, cxt))
			return true;
	}
	return false;
}

/*
 * queued -> running for one of "names" (tasks of run_id, of no pool) that
 * this very transaction queued: rows whose newest version is ours, so the
 * claim waits for nobody, whatever locks the caller holds.  Most urgent
 * first.  Pooled tasks are left to TaskClaimed, which checks their pool.
 */
bool
TaskClaimedQueuedByUs(int pid, int64 run_id, ArrayType *names,
					  ClaimedTask *task, MemoryContext cxt)
{
	Oid			argtypes[4] = {INT4OID, INT8OID, TEXTARRAYOID, XIDOID};
	Datum		values[4];
	TransactionId xid = GetCurrentTransactionIdIfAny();

	if (!TransactionIdIsValid(xid))
		return false;
	values[0] = Int32GetDatum(pid);
	values[1] = Int64GetDatum(run_id);
	values[2] = PointerGetDatum(names);
	values[3] = TransactionIdGetDatum(xid);
	/* one primary-key probe per name, not a scan of the run's tasks */
	CatalogPrepare(&plan_claim_ours,
				   "WITH q AS ("
				   " SELECT t.ctid "
				   " FROM pg_catalog.unnest($3) AS n(name) "
				   " JOIN dagsched.task_run t "
				   "  ON t.run_id OPERATOR(pg_catalog.=) $2 "
				   "  AND t.task_name OPERATOR(pg_catalog.=) n.name "
				   "  AND t.map_index IS NULL "
				   " WHERE t.state OPERATOR(pg_catalog.=) " SQL_LIT(TS_QUEUED)
				   "  AND t.pool IS NULL "
				   "  AND t.xmin OPERATOR(pg_catalog.=) $4 "
				   " ORDER BY t.priority DESC, t.task_name "
				   " LIMIT 1 FOR UPDATE OF t) "
				   CLAIM_UPDATE_SQL,
				   4, argtypes);
	CatalogExecPlan(plan_claim_ours, values, NULL);
	if (SPI_processed == 0)
		return false;
	trans_read_claim(task, cxt);
	return true;
}

/*
 * The success UPDATE, its attempt row and a FOR KEY SHARE lock on the run
 * row taken before any task row.  A cascading DELETE of the DAG locks the
 * run row first and the task rows after; a success locks its task row and
 * then the run row -- the downstream tasks' rows, and the foreign key of
 * task_attempt, which references dag_run (a mapped task's instances share
 * its name, so no longer task_run) -- so taking the run row first keeps the
 * two from deadlocking.  (Before 0.2's mapped tasks, a task without
 * downstream tasks skipped this lock, its attempt's key check being on its
 * own row.)
 */
#define TASK_SUCCESS_SQL(lock_cte, lock_cond, map_cond) \
	"WITH " lock_cte \
	"u AS (" \
	" UPDATE dagsched.task_run SET state = " SQL_LIT(TS_SUCCESS) ", " \
	"  finished_at = pg_catalog.clock_timestamp(), error = NULL, " \
	"  output = $3, next_attempt_at = NULL, result = $5 " \
	" WHERE run_id OPERATOR(pg_catalog.=) $1 " \
	"  AND task_name OPERATOR(pg_catalog.=) $2 " \
	"  AND state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING) \
	"  AND pid OPERATOR(pg_catalog.=) $4 " map_cond lock_cond \
	" RETURNING run_id, task_name, attempts, started_at, " \
	"  finished_at, output, pid, downstream, result, map_index, " \
	ATTEMPT_DEFINITION "), " \
	"a AS (INSERT INTO dagsched.task_attempt " \
	" (run_id, task_name, attempt, state, started_at, finished_at, " \
	"  output, pid, result, map_index, " ATTEMPT_DEFINITION ") " \
	" SELECT run_id, task_name, attempts, " SQL_LIT(TS_SUCCESS) ", " \
	"  started_at, finished_at, output, pid, result, map_index, " \
	ATTEMPT_DEFINITION " FROM u) " \
	"SELECT downstream FROM u"

/* the row of a task ($n: NULL) or of one instance of a mapped task */
#define MAP_NODE			" AND map_index IS NULL "
#define MAP_INSTANCE(n)		" AND map_index OPERATOR(pg_catalog.=) $" #n " "

/* the run row lock of TASK_SUCCESS_SQL */
#define SUCCESS_LOCK_CTE \
	"lk AS (SELECT 1 FROM dagsched.dag_run " \
	"  WHERE run_id OPERATOR(pg_catalog.=) $1 FOR KEY SHARE), "
#define SUCCESS_LOCK_COND	"AND EXISTS (SELECT 1 FROM lk)"

static SPIPlanPtr plan_success_instance;

/*
 * running -> success, for the attempt this worker (pid) holds; recorded in
 * task_attempt too.  Returns the task's downstream names (none for an
 * instance of a mapped task: see MappedTaskEnded).
 */
ArrayType  *
TaskSucceeded(const ClaimedTask *task, const char *output,
			  const Jsonb *result)
{
	Oid			argtypes[6] = {INT8OID, TEXTOID, TEXTOID, INT4OID, JSONBOID,
	INT4OID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;
	SPIPlanPtr	plan;

	values[0] = Int64GetDatum(task->run_id);
	values[1] = CStringGetTextDatum(task->task_name);
	if (output)
		values[2] = CStringGetTextDatum(output);
	else
		nulls[2] = 'n';
	values[3] = Int32GetDatum(MyProcPid);
	if (result)
		values[4] = JsonbPGetDatum(result);
	else
		nulls[4] = 'n';
	values[5] = Int32GetDatum(task->map_index);

	if (task->map_index >= 0)
		plan = CatalogPrepare(&plan_success_instance,
							  TASK_SUCCESS_SQL(SUCCESS_LOCK_CTE, SUCCESS_LOCK_COND,
											   MAP_INSTANCE(6)),
							  6, argtypes);
	else
		plan = CatalogPrepare(&plan_success,
							  TASK_SUCCESS_SQL(SUCCESS_LOCK_CTE, SUCCESS_LOCK_COND,
											   MAP_NODE),
							  6, argtypes);
	CatalogExecPlan(plan, values, nulls);

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
	return DatumGetArrayTypePCopy(CatalogDatum(0, 1, &isnull));
}

/*
 * running -> skipped: the task's condition did not hold, so it was not run.
 * Its claim is not counted as an attempt, and no task_attempt row is made.
 * Returns the task's downstream names; ERROR unless this pid still holds
 * the claim (as for a success).
 */
ArrayType  *
TaskSkipped(const ClaimedTask *task, const char *why)
{
	Oid			argtypes[4] = {INT8OID, TEXTOID, TEXTOID, INT4OID};
	Datum		values[4];
	bool		isnull;

	values[0] = Int64GetDatum(task->run_id);
	values[1] = CStringGetTextDatum(task->task_name);
	values[2] = CStringGetTextDatum(why);
	values[3] = Int32GetDatum(MyProcPid);
	CatalogPrepare(&plan_skipped,
				   "WITH lk AS (SELECT 1 FROM dagsched.dag_run "
				   "  WHERE run_id OPERATOR(pg_catalog.=) $1 FOR KEY SHARE) "
				   "UPDATE dagsched.task_run SET state = " SQL_LIT(TS_SKIPPED) ", "
				   " finished_at = pg_catalog.clock_timestamp(), error = NULL, "
				   " output = $3, next_attempt_at = NULL, result = NULL, "
				   " attempts = attempts OPERATOR(pg_catalog.-) 1 "
				   "WHERE run_id OPERATOR(pg_catalog.=) $1 "
				   " AND task_name OPERATOR(pg_catalog.=) $2 " MAP_NODE
				   " AND state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				   " AND pid OPERATOR(pg_catalog.=) $4 "
				   " AND EXISTS (SELECT 1 FROM lk) "
				   "RETURNING downstream",
				   4, argtypes);
	CatalogExecPlan(plan_skipped, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task \"%s\" of run %lld is no longer claimed by this worker",
						task->task_name, (long long) task->run_id)));
	return DatumGetArrayTypePCopy(CatalogDatum(0, 1, &isnull));
}

/*
 * running -> running, waiting for its instances: the mapped task this
 * worker (pid) claimed has run its map_over query, whose rows (JSON texts,
 * in order) become its instances, queued at once with the task's
 * definition; the worker lets go of the task (pid NULL), which now holds
 * no pool slot and no worker.  An instance's attempts go on from those of
 * an earlier instance of the same index (a task mapped again), so that
 * task_attempt never numbers two attempts alike.  ERROR unless this pid
 * still holds the claim, or when the run is being cancelled.  Returns how
 * many instances were queued.
 */
int
TaskMapped(const ClaimedTask *task, ArrayType *items)
{
	Oid			argtypes[4] = {INT8OID, TEXTOID, INT4OID, TEXTARRAYOID};
	Datum		values[4];
	bool		isnull;
	int			n = ArrayGetNItems(ARR_NDIM(items), ARR_DIMS(items));

	values[0] = Int64GetDatum(task->run_id);
	values[1] = CStringGetTextDatum(task->task_name);
	values[2] = Int32GetDatum(MyProcPid);
	values[3] = PointerGetDatum(items);

	trans_share_run(task->run_id);

	/* the instances of an earlier mapping of this task, if any */
	CatalogExec("DELETE FROM dagsched.task_run "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 "
				" AND task_name OPERATOR(pg_catalog.=) $2 AND map_index IS NOT NULL",
				2, argtypes, values, NULL);
	if (n == 0)
		return 0;				/* the caller skips the task */

	CatalogExec("WITH lk AS (SELECT 1 FROM dagsched.dag_run "
				"  WHERE run_id OPERATOR(pg_catalog.=) $1 FOR KEY SHARE) "
				"UPDATE dagsched.task_run SET pid = NULL, error = NULL, result = NULL, "
				" map_count = pg_catalog.cardinality($4), map_failed = NULL, "
				" output = 'mapped: ' OPERATOR(pg_catalog.||) pg_catalog.cardinality($4) "
				"  OPERATOR(pg_catalog.||) ' instances' "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 "
				" AND task_name OPERATOR(pg_catalog.=) $2 " MAP_NODE
				" AND state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				" AND pid OPERATOR(pg_catalog.=) $3 "
				" AND EXISTS (SELECT 1 FROM lk)",
				4, argtypes, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task \"%s\" of run %lld is no longer claimed by this worker",
						task->task_name, (long long) task->run_id)));

	/*
	 * A statement of its own, after the row lock above: a cancel() that
	 * locked this task's row has committed by now, and this snapshot sees it.
	 * Instances queued into a run being cancelled would run anyway.
	 */
	CatalogExec("SELECT cancel_requested OR state OPERATOR(pg_catalog.<>) " SQL_LIT(RS_RUNNING)
				" FROM dagsched.dag_run WHERE run_id OPERATOR(pg_catalog.=) $1",
				1, argtypes, values, NULL);
	if (SPI_processed == 0 || DatumGetBool(CatalogDatum(0, 1, &isnull)))
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("run %lld is being cancelled", (long long) task->run_id)));

	CatalogExec("INSERT INTO dagsched.task_run (run_id, task_name, kind, command, "
				" depends_on, trigger_rule, retries, retry_delay, timeout, database, "
				" conninfo, priority, downstream, state, attempts, retry_base, "
				" queued_at, autocommit, pool, map_index, map_item) "
				"SELECT p.run_id, p.task_name, p.kind, p.command, '{}', 'all_success', "
				" p.retries, p.retry_delay, p.timeout, p.database, p.conninfo, "
				" p.priority, '{}', " SQL_LIT(TS_QUEUED) ", i.done, i.done, "
				" pg_catalog.clock_timestamp(), p.autocommit, p.pool, i.idx, "
				" i.item::pg_catalog.jsonb "
				"FROM dagsched.task_run p, "
				" (SELECT (u.ord OPERATOR(pg_catalog.-) 1)::pg_catalog.int4 AS idx, u.item, "
				"   COALESCE((SELECT pg_catalog.max(a.attempt) FROM dagsched.task_attempt a "
				"    WHERE a.run_id OPERATOR(pg_catalog.=) $1 "
				"     AND a.task_name OPERATOR(pg_catalog.=) $2 "
				"     AND a.map_index OPERATOR(pg_catalog.=) "
				"      (u.ord OPERATOR(pg_catalog.-) 1)::pg_catalog.int4), 0) AS done "
				"  FROM pg_catalog.unnest($4) WITH ORDINALITY AS u(item, ord)) i "
				"WHERE p.run_id OPERATOR(pg_catalog.=) $1 "
				" AND p.task_name OPERATOR(pg_catalog.=) $2 AND p.map_index IS NULL "
				"ORDER BY i.idx",
				4, argtypes, values, NULL);
	return n;
}

/*
 * running -> success | failed: a mapped task none of whose instances is
 * active any more ends, success when every instance succeeded, else
 * failed; its result becomes the array of its instances' results in
 * map_index order, and the end is recorded as an attempt of the task.
 * True when it ended, with its outcome and downstream in *end; false when
 * an instance is still active, or the task no longer waits (another worker
 * ended it, or the run was cancelled).
 *
 * Called after the end of an instance has committed, so that of two
 * workers ending the last two instances at once the later one sees both
 * (as for a run's end, see RunFinishIfDone); the task's row lock makes two
 * such looks take turns, and the count of active instances is a statement
 * of its own, taken after the lock.  An instance's end itself never
 * touches the task's row: thousands of instances ending side by side do
 * not queue on it.  The run row is locked first, as a task's end does.
 */
bool
MappedTaskEnded(int64 run_id, const char *task_name, TaskEnded *end)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	bool		isnull;
	char	   *state;

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(task_name);
	trans_share_run(run_id);
	CatalogExec("SELECT 1 FROM dagsched.task_run "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 "
				" AND task_name OPERATOR(pg_catalog.=) $2 " MAP_NODE
				" AND state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				" AND pid IS NULL AND map_count IS NOT NULL FOR NO KEY UPDATE",
				2, argtypes, values, NULL);
	if (SPI_processed == 0)
		return false;
	CatalogExec("SELECT 1 FROM dagsched.task_run "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 "
				" AND task_name OPERATOR(pg_catalog.=) $2 AND map_index IS NOT NULL "
				" AND state OPERATOR(pg_catalog.=) ANY (" SQL_SET(TS_ACTIVE_LIST) ") "
				"LIMIT 1",
				2, argtypes, values, NULL);
	if (SPI_processed > 0)
		return false;

	CatalogExec("WITH i AS (SELECT pg_catalog.jsonb_agg(i.result ORDER BY i.map_index) AS results, "
				"  pg_catalog.count(*) FILTER (WHERE i.state OPERATOR(pg_catalog.<>) "
				SQL_LIT(TS_SUCCESS) ")::pg_catalog.int4 AS failed "
				" FROM dagsched.task_run i WHERE i.run_id OPERATOR(pg_catalog.=) $1 "
				"  AND i.task_name OPERATOR(pg_catalog.=) $2 AND i.map_index IS NOT NULL), "
				"u AS (UPDATE dagsched.task_run t SET "
				" state = CASE WHEN i.failed OPERATOR(pg_catalog.>) 0 "
				"  THEN " SQL_LIT(TS_FAILED) " ELSE " SQL_LIT(TS_SUCCESS) " END, "
				" finished_at = pg_catalog.clock_timestamp(), "
				" map_failed = i.failed, result = i.results, "
				" error = CASE WHEN i.failed OPERATOR(pg_catalog.>) 0 THEN "
				"  (SELECT pg_catalog.format('%s of %s instances failed; the first, "
				"map_index %s: %s', i.failed, t.map_count, f.map_index, f.error) "
				"   FROM dagsched.task_run f WHERE f.run_id OPERATOR(pg_catalog.=) $1 "
				"    AND f.task_name OPERATOR(pg_catalog.=) $2 AND f.map_index IS NOT NULL "
				"    AND f.state OPERATOR(pg_catalog.<>) " SQL_LIT(TS_SUCCESS)
				"   ORDER BY f.map_index LIMIT 1) END "
				"FROM i WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
				" AND t.task_name OPERATOR(pg_catalog.=) $2 AND t.map_index IS NULL "
				"RETURNING t.run_id, t.task_name, t.attempts, t.state, t.started_at, "
				" t.finished_at, t.error, t.output, t.downstream, t.result, "
				ATTEMPT_DEFINITION_T "), "
				"a AS (INSERT INTO dagsched.task_attempt "
				" (run_id, task_name, attempt, state, started_at, finished_at, "
				"  error, output, result, " ATTEMPT_DEFINITION ") "
				" SELECT run_id, task_name, attempts, state, started_at, finished_at, "
				"  error, output, result, " ATTEMPT_DEFINITION " FROM u) "
				"SELECT state, downstream FROM u",
				2, argtypes, values, NULL);
	if (SPI_processed == 0)
		return false;
	state = CatalogText(0, 1);
	end->outcome = trans_outcome_of(state);
	end->downstream = DatumGetArrayTypePCopy(CatalogDatum(0, 2, &isnull));
	return true;
}

#define TASK_FAILED_SQL(map_cond) \
	"WITH lk AS (SELECT 1 FROM dagsched.dag_run " \
	"  WHERE run_id OPERATOR(pg_catalog.=) $1 FOR KEY SHARE), " \
	"u AS (" \
	" UPDATE dagsched.task_run t SET " \
	"  state = CASE " \
	"   WHEN r.state OPERATOR(pg_catalog.=) " SQL_LIT(RS_CANCELLED) \
	"    OR r.cancel_requested THEN " SQL_LIT(TS_CANCELLED) \
	"   WHEN t.attempts OPERATOR(pg_catalog.-) t.retry_base " \
	"        OPERATOR(pg_catalog.<=) t.retries THEN " SQL_LIT(TS_RETRY_WAIT) \
	"   ELSE " SQL_LIT(TS_FAILED) " END, " \
	"  finished_at = pg_catalog.clock_timestamp(), " \
	"  error = $3, output = $4, " \
	"  next_attempt_at = pg_catalog.clock_timestamp() " \
	"   OPERATOR(pg_catalog.+) (LEAST(" \
	"    t.retry_delay OPERATOR(pg_catalog.*) pg_catalog.power(2::pg_catalog.float8, " \
	"     LEAST(t.attempts OPERATOR(pg_catalog.-) t.retry_base " \
	"      OPERATOR(pg_catalog.-) 1, 20)), " \
	"    '1 hour'::pg_catalog.interval) " \
	"   OPERATOR(pg_catalog.*) (0.9::pg_catalog.float8 OPERATOR(pg_catalog.+) " \
	"    (0.2::pg_catalog.float8 OPERATOR(pg_catalog.*) pg_catalog.random()))) " \
	" FROM dagsched.dag_run r " \
	" WHERE r.run_id OPERATOR(pg_catalog.=) t.run_id " \
	"  AND t.run_id OPERATOR(pg_catalog.=) $1 " \
	"  AND t.task_name OPERATOR(pg_catalog.=) $2 " \
	"  AND t.state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING) \
	"  AND t.pid OPERATOR(pg_catalog.=) $5 " map_cond \
	"  AND EXISTS (SELECT 1 FROM lk) " \
	" RETURNING t.run_id, t.task_name, t.attempts, t.state, " \
	"  t.started_at, t.finished_at, t.error, t.output, t.pid, " \
	"  t.downstream, r.dag_name, t.map_index, " ATTEMPT_DEFINITION_T "), " \
	"a AS (INSERT INTO dagsched.task_attempt " \
	" (run_id, task_name, attempt, state, started_at, finished_at, " \
	"  error, output, pid, map_index, " ATTEMPT_DEFINITION ") " \
	" SELECT run_id, task_name, attempts, " \
	"  CASE WHEN state OPERATOR(pg_catalog.=) " SQL_LIT(TS_CANCELLED) \
	"   THEN " SQL_LIT(TS_CANCELLED) " ELSE " SQL_LIT(TS_FAILED) " END, " \
	"  started_at, finished_at, error, output, pid, map_index, " \
	ATTEMPT_DEFINITION " FROM u) " \
	"SELECT state, downstream, dag_name FROM u"

static SPIPlanPtr plan_failed_instance;

/*
 * running -> retry_wait when a retry is left, failed when none is, or
 * cancelled when the run was cancelled meanwhile; recorded in task_attempt
 * too.  pid guards against failing someone else's attempt.
 *
 * Delay before attempt n+1: retry_delay * 2^(n-1), capped at one hour, with
 * +/-10% jitter so that tasks failing together do not retry in lockstep.
 */
bool
TaskFailed(int64 run_id, const char *task_name, int map_index, int pid,
		   const char *error, const char *output, TaskFailure *result)
{
	Oid			argtypes[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, INT4OID,
	INT4OID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(task_name);
	values[2] = CStringGetTextDatum(error);
	if (output)
		values[3] = CStringGetTextDatum(output);
	else
		nulls[3] = 'n';
	values[4] = Int32GetDatum(pid);
	values[5] = Int32GetDatum(map_index);

	if (map_index >= 0)
	{
		CatalogPrepare(&plan_failed_instance, TASK_FAILED_SQL(MAP_INSTANCE(6)),
					   6, argtypes);
		CatalogExecPlan(plan_failed_instance, values, nulls);
	}
	else
	{
		CatalogPrepare(&plan_failed, TASK_FAILED_SQL(MAP_NODE), 6, argtypes);
		CatalogExecPlan(plan_failed, values, nulls);
	}
	if (SPI_processed == 0)
		return false;

	result->state = CatalogText(0, 1);
	result->downstream = DatumGetArrayTypePCopy(CatalogDatum(0, 2, &isnull));
	result->dag_name = CatalogText(0, 3);
	return true;
}

/*
 * pending -> (rule says): add one outcome to the tallies of the pending
 * tasks named in downstream.  Rows in any other state are not touched, so
 * a downstream task that already ended (say, cancelled) keeps its state.
 *
 * One UPDATE per downstream task, by primary key: its generic plan is an
 * index lookup whatever the statistics say, where "task_name = ANY ($2)"
 * got a plan that read every unfinished task of the run.  The names come
 * in the order the run stored them (sorted), so siblings finishing together
 * lock their common downstream rows in the same order and never wait for
 * each other in a cycle.
 */
int
TasksUpstreamEnded(int64 run_id, ArrayType *downstream, TaskOutcome outcome,
				   List **ended)
{
	Oid			argtypes[5] = {INT8OID, TEXTOID, INT4OID, INT4OID, INT4OID};
	Datum		values[5];
	Datum	   *names;
	int			nnames;
	int			i;
	int			nqueued = 0;

	deconstruct_array(downstream, TEXTOID, -1, false, TYPALIGN_INT,
					  &names, NULL, &nnames);
	if (nnames == 0)
		return 0;

	values[0] = Int64GetDatum(run_id);
	values[2] = Int32GetDatum(outcome == TASK_OUTCOME_SUCCESS ? 1 : 0);
	values[3] = Int32GetDatum(outcome == TASK_OUTCOME_FAILED ? 1 : 0);
	values[4] = Int32GetDatum(outcome == TASK_OUTCOME_SKIPPED ? 1 : 0);
	CatalogPrepare(&plan_tally,
				   "UPDATE dagsched.task_run t SET "
				   " up_success = t.up_success + $3, "
				   " up_failed = t.up_failed + $4, "
				   " up_skipped = t.up_skipped + $5, "
				   " state = " RULE_STATE_AFTER ", "
				   " queued_at = CASE WHEN " RULE_STATE_AFTER " OPERATOR(pg_catalog.=) "
				   SQL_LIT(TS_QUEUED) " THEN pg_catalog.clock_timestamp() END, "
				   " finished_at = CASE WHEN " RULE_STATE_AFTER " OPERATOR(pg_catalog.=) "
				   "  ANY (" SQL_SET(TS_RESOLVED_LIST) ") "
				   "  THEN pg_catalog.clock_timestamp() END "
				   "WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
				   " AND t.task_name OPERATOR(pg_catalog.=) $2 "
				   " AND t.map_index IS NULL "
				   " AND t.state OPERATOR(pg_catalog.=) " SQL_LIT(TS_PENDING)
				   "RETURNING t.state, t.downstream",
				   5, argtypes);
	for (i = 0; i < nnames; i++)
	{
		values[1] = names[i];
		CatalogExecPlan(plan_tally, values, NULL);
		nqueued += trans_collect(ended);
	}
	return nqueued;
}

/*
 * pending -> (rule says), for every pending task of a run that has just
 * started or been resumed, from the tallies as they stand.
 */
int
TasksEvaluated(int64 run_id, List **ended)
{
	trans_exec_run("UPDATE dagsched.task_run t SET "
				   " state = " RULE_STATE_NOW ", "
				   " queued_at = CASE WHEN " RULE_STATE_NOW " OPERATOR(pg_catalog.=) "
				   SQL_LIT(TS_QUEUED) " THEN pg_catalog.clock_timestamp() END, "
				   " finished_at = CASE WHEN " RULE_STATE_NOW " OPERATOR(pg_catalog.=) "
				   "  ANY (" SQL_SET(TS_RESOLVED_LIST) ") "
				   "  THEN pg_catalog.clock_timestamp() END "
				   "WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
				   " AND t.state OPERATOR(pg_catalog.=) " SQL_LIT(TS_PENDING)
				   " AND " RULE_STATE_NOW " OPERATOR(pg_catalog.<>) " SQL_LIT(TS_PENDING)
				   "RETURNING t.state, t.downstream", run_id);
	return trans_collect(ended);
}

/* retry_wait -> queued, for the tasks whose retry delay has passed */
int
TasksRetryDue(void)
{
	CatalogExec("UPDATE dagsched.task_run SET state = " SQL_LIT(TS_QUEUED) ", "
				" queued_at = pg_catalog.clock_timestamp() "
				"WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RETRY_WAIT)
				" AND next_attempt_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()",
				0, NULL, NULL, NULL);
	return (int) SPI_processed;
}

/*
 * running -> sensing: a sensor's poke found its condition false.  It holds
 * no worker until next_poke_at (poke_interval on, but never past its
 * timeout, so that the poke due then reports the timeout), and the poke is
 * not an attempt: the claim's count is taken back.  ERROR unless this pid
 * still holds the claim; the caller has checked the timeout.
 */
void
TaskSensing(const ClaimedTask *task)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		values[3];

	values[0] = Int64GetDatum(task->run_id);
	values[1] = CStringGetTextDatum(task->task_name);
	values[2] = Int32GetDatum(MyProcPid);
	CatalogPrepare(&plan_sensing,
				   "UPDATE dagsched.task_run SET state = " SQL_LIT(TS_SENSING) ", "
				   " attempts = attempts OPERATOR(pg_catalog.-) 1, pid = NULL, "
				   " next_poke_at = LEAST(pg_catalog.clock_timestamp() "
				   "  OPERATOR(pg_catalog.+) COALESCE(poke_interval, "
				   "   '30 seconds'::pg_catalog.interval), "
				   "  started_at OPERATOR(pg_catalog.+) timeout) "
				   "WHERE run_id OPERATOR(pg_catalog.=) $1 "
				   " AND task_name OPERATOR(pg_catalog.=) $2 " MAP_NODE
				   " AND state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				   " AND pid OPERATOR(pg_catalog.=) $3",
				   3, argtypes);
	CatalogExecPlan(plan_sensing, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task \"%s\" of run %lld is no longer claimed by this worker",
						task->task_name, (long long) task->run_id)));
}

/*
 * running -> sensing, for a sensor whose worker is gone in the middle of a
 * poke (pid is that worker's): the poke's transaction rolled back with it,
 * and a poke is no attempt, so the claim's count is taken back and the next
 * poke is due at once.  Its timeout still counts from the first poke.  False
 * if the row is no such sensor.
 */
bool
TaskPokeLost(int64 run_id, const char *task_name, int pid)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		values[3];

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(task_name);
	values[2] = Int32GetDatum(pid);
	CatalogExec("UPDATE dagsched.task_run SET state = " SQL_LIT(TS_SENSING) ", "
				" attempts = attempts OPERATOR(pg_catalog.-) 1, pid = NULL, "
				" next_poke_at = pg_catalog.clock_timestamp() "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 "
				" AND task_name OPERATOR(pg_catalog.=) $2 " MAP_NODE
				" AND kind OPERATOR(pg_catalog.=) " SQL_LIT(TASK_KIND_SENSOR)
				" AND state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				" AND pid OPERATOR(pg_catalog.=) $3",
				3, argtypes, values, NULL);
	return SPI_processed > 0;
}

/* sensing -> queued, for the sensors whose next poke is due */
int
TasksPokeDue(void)
{
	CatalogExec("UPDATE dagsched.task_run SET state = " SQL_LIT(TS_QUEUED) ", "
				" queued_at = pg_catalog.clock_timestamp() "
				"WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(TS_SENSING)
				" AND next_poke_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp()",
				0, NULL, NULL, NULL);
	return (int) SPI_processed;
}

/*
 * pending | queued | retry_wait | sensing -> cancelled, for a run being
 * cancelled; so is a mapped task waiting for its instances (running without
 * a worker: its running instances are what still runs).  Running tasks are
 * left to their workers (the caller interrupts them after commit;
 * TaskFailed ends them cancelled).  Returns how many still run.
 */
int
TasksCancelled(int64 run_id)
{
	bool		isnull;

	trans_exec_run("UPDATE dagsched.task_run SET state = " SQL_LIT(TS_CANCELLED) ", "
				   " finished_at = pg_catalog.clock_timestamp(), "
				   " next_attempt_at = NULL, next_poke_at = NULL "
				   "WHERE run_id OPERATOR(pg_catalog.=) $1 "
				   " AND (state OPERATOR(pg_catalog.=) ANY (" SQL_SET(TS_UNSTARTED_LIST) ") "
				   "  OR (state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				   "   AND pid IS NULL AND map_count IS NOT NULL))", run_id);

	/*
	 * Lock the running rows while counting them: a worker recording one's end
	 * waits for this transaction, and its later look at whether the run is
	 * over then sees the cancelled rows above.
	 */
	trans_exec_run("SELECT pg_catalog.count(*)::pg_catalog.int4 FROM ("
				   " SELECT 1 FROM dagsched.task_run "
				   " WHERE run_id OPERATOR(pg_catalog.=) $1 "
				   "  AND state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				   " FOR NO KEY UPDATE) s", run_id);
	return DatumGetInt32(CatalogDatum(0, 1, &isnull));
}

/*
 * Recount the tallies of every pending task of the run from its upstreams'
 * states, after tasks were set back to pending or marked by hand.
 */
static void
trans_recount_tallies(int64 run_id)
{
	trans_exec_run("UPDATE dagsched.task_run t SET up_success = s.ok, "
				   " up_failed = s.bad, up_skipped = s.skip "
				   "FROM (SELECT p.task_name, "
				   "  pg_catalog.count(u.task_name) FILTER (WHERE u.state OPERATOR(pg_catalog.=) "
				   SQL_LIT(TS_SUCCESS) ")::pg_catalog.int4 AS ok, "
				   "  pg_catalog.count(u.task_name) FILTER (WHERE u.state OPERATOR(pg_catalog.=) "
				   "   ANY (" SQL_SET(TS_FAILURE_LIST) "))::pg_catalog.int4 AS bad, "
				   "  pg_catalog.count(u.task_name) FILTER (WHERE u.state OPERATOR(pg_catalog.=) "
				   SQL_LIT(TS_SKIPPED) ")::pg_catalog.int4 AS skip "
				   " FROM dagsched.task_run p "
				   " CROSS JOIN pg_catalog.unnest(p.depends_on) AS d(name) "
				   " JOIN dagsched.task_run u ON u.run_id OPERATOR(pg_catalog.=) $1 "
				   "  AND u.task_name OPERATOR(pg_catalog.=) d.name AND u.map_index IS NULL "
				   " WHERE p.run_id OPERATOR(pg_catalog.=) $1 AND p.map_index IS NULL "
				   "  AND p.state OPERATOR(pg_catalog.=) " SQL_LIT(TS_PENDING)
				   " GROUP BY p.task_name) s "
				   "WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
				   " AND t.task_name OPERATOR(pg_catalog.=) s.task_name AND t.map_index IS NULL", run_id);
}

/*
 * The reset of a mapped task t that re-runs only its failed and cancelled
 * instances: retry() of the run (no task named), for a mapped task whose
 * instances were made and that is itself a failed or cancelled task, not
 * one below another reset task (whose new outcome may change its rows).
 */
#define RESET_PARTIAL \
	"($2 IS NULL AND NOT def.below AND t.map_count IS NOT NULL " \
	" AND t.state OPERATOR(pg_catalog.=) ANY ('{" TS_FAILED "," TS_CANCELLED "}'::pg_catalog.text[]) " \
	" AND EXISTS (SELECT 1 FROM dagsched.task_run i " \
	"  WHERE i.run_id OPERATOR(pg_catalog.=) $1 " \
	"   AND i.task_name OPERATOR(pg_catalog.=) t.task_name AND i.map_index IS NOT NULL " \
	"   AND i.state OPERATOR(pg_catalog.<>) " SQL_LIT(TS_SUCCESS) "))"

/* the definitions of the tasks named in n(task_name, below), current or kept */
#define RESET_DEF_CTE \
	"def AS (SELECT n.task_name, n.below, d.task_name IS NOT NULL AS present, " \
	"  d.kind, d.command, d.retries, d.retry_delay, d.timeout, " \
	"  d.database, d.conninfo, d.autocommit, d.map_over, d.poke_interval " \
	" FROM n JOIN dagsched.dag_run x ON x.run_id OPERATOR(pg_catalog.=) $1 " \
	" LEFT JOIN dagsched.task d ON d.dag_name OPERATOR(pg_catalog.=) x.dag_name " \
	"  AND d.task_name OPERATOR(pg_catalog.=) n.task_name) "

#define RESET_REFRESHED \
	REFRESHED("kind") "," REFRESHED("command") "," \
	REFRESHED("retries") "," REFRESHED("retry_delay") "," \
	REFRESHED("timeout") "," REFRESHED("database") "," \
	REFRESHED("conninfo") "," REFRESHED("autocommit") "," \
	REFRESHED("poke_interval")

/*
 * The instances of the mapped tasks "names" that did not succeed -> pending
 * with their task's current definition; they are queued when the run goes
 * on.  Returns how many.
 */
static int
trans_reset_instances(int64 run_id, ArrayType *names)
{
	Oid			argtypes[2] = {INT8OID, TEXTARRAYOID};
	Datum		values[2];

	values[0] = Int64GetDatum(run_id);
	values[1] = PointerGetDatum(names);
	CatalogExec("WITH n AS (SELECT u.name AS task_name, false AS below "
				"  FROM pg_catalog.unnest($2) AS u(name)), "
				RESET_DEF_CTE
				"UPDATE dagsched.task_run t SET state = " SQL_LIT(TS_PENDING) ", "
				" queued_at = NULL, finished_at = NULL, next_attempt_at = NULL, "
				" next_poke_at = NULL, retry_base = t.attempts, result = NULL, pid = NULL, "
				RESET_REFRESHED
				" FROM def WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
				" AND t.task_name OPERATOR(pg_catalog.=) def.task_name "
				" AND t.map_index IS NOT NULL "
				" AND t.state OPERATOR(pg_catalog.<>) " SQL_LIT(TS_SUCCESS),
				2, argtypes, values, NULL);
	return (int) SPI_processed;
}

/* The instances of the mapped tasks "names" are dropped: they map again. */
static void
trans_drop_instances(int64 run_id, ArrayType *names)
{
	Oid			argtypes[2] = {INT8OID, TEXTARRAYOID};
	Datum		values[2];

	values[0] = Int64GetDatum(run_id);
	values[1] = PointerGetDatum(names);
	CatalogExec("DELETE FROM dagsched.task_run "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 "
				" AND task_name OPERATOR(pg_catalog.=) ANY ($2) "
				" AND map_index IS NOT NULL",
				2, argtypes, values, NULL);
}

/*
 * -> pending, to run again: with task NULL, the failed, upstream_failed and
 * cancelled tasks and every task below them (whatever its state: a rule
 * such as all_done fired on the old outcome and is decided again); with a
 * task, that task and, with downstream, every task below it.  Each reset
 * task takes its current definition from dagsched.task (command, kind,
 * retries, retry_delay, timeout, database, conninfo, autocommit, map_over);
 * the run's graph (depends_on, trigger_rule, downstream) stays as it was,
 * and a task deleted from the DAG since keeps the definition the run
 * recorded.  Tallies are recounted.
 *
 * A mapped task maps again from scratch (its instances are dropped), except
 * under retry() of the run when it failed or was cancelled itself
 * (RESET_PARTIAL): then it goes back to running, waiting for its instances,
 * and only the instances that did not succeed run again; the others keep
 * their results.  (A mapped task cancelled after all its instances
 * succeeded has none to re-run: it maps again.)  Returns how many task rows were reset (tasks and
 * instances).
 */
int
TasksReset(int64 run_id, const char *task_name, bool downstream)
{
	Oid			argtypes[3] = {INT8OID, TEXTOID, BOOLOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	int			nreset;
	uint64		i;
	List	   *partial = NIL;
	List	   *full = NIL;

	values[0] = Int64GetDatum(run_id);
	if (task_name)
		values[1] = CStringGetTextDatum(task_name);
	else
		nulls[1] = 'n';
	values[2] = BoolGetDatum(task_name == NULL || downstream);
	CatalogExec("WITH RECURSIVE r(task_name, below) AS ("
				" SELECT task_name, false FROM dagsched.task_run "
				" WHERE run_id OPERATOR(pg_catalog.=) $1 AND map_index IS NULL "
				"  AND CASE WHEN $2 IS NULL "
				"   THEN state OPERATOR(pg_catalog.=) ANY (" SQL_SET(TS_RESUMABLE_LIST) ") "
				"   ELSE task_name OPERATOR(pg_catalog.=) $2 END "
				" UNION "
				" SELECT d.name, true FROM r JOIN dagsched.task_run t "
				"  ON t.run_id OPERATOR(pg_catalog.=) $1 "
				"  AND t.task_name OPERATOR(pg_catalog.=) r.task_name "
				"  AND t.map_index IS NULL, "
				"  pg_catalog.unnest(t.downstream) AS d(name) WHERE $3), "
				"n AS (SELECT task_name, pg_catalog.bool_or(below) AS below "
				" FROM r GROUP BY task_name), "
				RESET_DEF_CTE
				"UPDATE dagsched.task_run t SET "
				" state = CASE WHEN " RESET_PARTIAL " THEN " SQL_LIT(TS_RUNNING)
				"  ELSE " SQL_LIT(TS_PENDING) " END, "
				" attempts = CASE WHEN " RESET_PARTIAL " THEN t.attempts + 1 "
				"  ELSE t.attempts END, "
				" started_at = CASE WHEN " RESET_PARTIAL " THEN pg_catalog.clock_timestamp() "
				"  ELSE t.started_at END, "
				" map_failed = NULL, "
				" map_count = CASE WHEN " RESET_PARTIAL " THEN t.map_count END, "
				" queued_at = NULL, finished_at = NULL, next_attempt_at = NULL, "
				" next_poke_at = NULL, "
				" pid = NULL, retry_base = t.attempts, result = NULL, "
				RESET_REFRESHED "," REFRESHED("map_over")
				" FROM def WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
				" AND t.task_name OPERATOR(pg_catalog.=) def.task_name "
				" AND t.map_index IS NULL "
				" AND t.state OPERATOR(pg_catalog.<>) " SQL_LIT(TS_RUNNING) " "
				"RETURNING t.task_name, t.state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING),
				3, argtypes, values, nulls);
	nreset = (int) SPI_processed;
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Datum		name = PointerGetDatum(PG_DETOAST_DATUM_COPY(CatalogDatum(i, 1, &isnull)));

		if (DatumGetBool(CatalogDatum(i, 2, &isnull)))
			partial = lappend(partial, DatumGetPointer(name));
		else
			full = lappend(full, DatumGetPointer(name));
	}
	if (partial != NIL)
		nreset += trans_reset_instances(run_id, trans_text_array(partial));
	if (full != NIL)
		trans_drop_instances(run_id, trans_text_array(full));
	if (nreset > 0)
		trans_recount_tallies(run_id);
	return nreset;
}

/*
 * scheduled -> queued: a one-off run's time has come; it now waits for
 * max_active_runs like any queued run.  The caller holds the DAG row lock.
 */
bool
RunScheduledDue(int64 run_id, char **dag_name)
{
	trans_exec_run("UPDATE dagsched.dag_run SET state = " SQL_LIT(RS_QUEUED) " "
				   "WHERE run_id OPERATOR(pg_catalog.=) $1 "
				   " AND state OPERATOR(pg_catalog.=) " SQL_LIT(RS_SCHEDULED)
				   "RETURNING dag_name", run_id);
	return trans_changed_dag(dag_name);
}

/*
 * A run not ended at its deadline (logical_time + the DAG's deadline, as
 * it was when the run was created) is flagged, once: the flag leaves the
 * partial index the scheduler wakes by, so the next look skips it.  One
 * NOTIFY per run, with the kind "deadline" and the state it was in.
 */
int
RunsMissedDeadline(void)
{
	uint64		i;
	uint64		n;
	SPITupleTable *tuptable;

	CatalogExec("UPDATE dagsched.dag_run SET missed_deadline = true "
				"WHERE NOT missed_deadline AND deadline_at IS NOT NULL "
				" AND state OPERATOR(pg_catalog.=) ANY (" SQL_SET(RS_ACTIVE_LIST) ") "
				" AND deadline_at OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp() "
				"RETURNING run_id, state",
				0, NULL, NULL, NULL);
	n = SPI_processed;
	tuptable = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		int64		run_id = DatumGetInt64(SPI_getbinval(tuptable->vals[i],
														 tuptable->tupdesc, 1,
														 &isnull));

		CatalogNotifyEvent("deadline", run_id,
						   SPI_getvalue(tuptable->vals[i], tuptable->tupdesc, 2));
	}
	return (int) n;
}

/*
 * upstream_failed | skipped | cancelled -> pending: the tasks below
 * downstream that did not run because of how their upstreams ended, after
 * one of those ends was changed by hand.  The walk stops at tasks that ran
 * (success, failed): their outcome stands.  Tallies are recounted.
 * Returns how many tasks were set back.
 */
int
TasksUndecided(int64 run_id, ArrayType *downstream)
{
	Oid			argtypes[2] = {INT8OID, TEXTARRAYOID};
	Datum		values[2];
	int			n;

	values[0] = Int64GetDatum(run_id);
	values[1] = PointerGetDatum(downstream);
	CatalogExec("WITH RECURSIVE r(task_name) AS ("
				" SELECT task_name FROM dagsched.task_run "
				" WHERE run_id OPERATOR(pg_catalog.=) $1 "
				"  AND task_name OPERATOR(pg_catalog.=) ANY ($2) AND map_index IS NULL "
				"  AND state OPERATOR(pg_catalog.=) ANY (" SQL_SET(TS_NOT_RUN_LIST) ") "
				" UNION "
				" SELECT t.task_name FROM r JOIN dagsched.task_run p "
				"  ON p.run_id OPERATOR(pg_catalog.=) $1 "
				"  AND p.task_name OPERATOR(pg_catalog.=) r.task_name AND p.map_index IS NULL "
				" JOIN dagsched.task_run t ON t.run_id OPERATOR(pg_catalog.=) $1 "
				"  AND t.task_name OPERATOR(pg_catalog.=) ANY (p.downstream) "
				"  AND t.map_index IS NULL "
				"  AND t.state OPERATOR(pg_catalog.=) ANY (" SQL_SET(TS_NOT_RUN_LIST) ")) "
				"UPDATE dagsched.task_run t SET state = " SQL_LIT(TS_PENDING) ", "
				" queued_at = NULL, finished_at = NULL, next_attempt_at = NULL, "
				" next_poke_at = NULL, retry_base = t.attempts, map_count = NULL, "
				" map_failed = NULL "
				"FROM r WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
				" AND t.task_name OPERATOR(pg_catalog.=) r.task_name "
				" AND t.map_index IS NULL",
				2, argtypes, values, NULL);
	n = (int) SPI_processed;
	trans_recount_tallies(run_id);
	return n;
}

/*
 * pending | queued | retry_wait | sensing | success | failed |
 * upstream_failed | skipped | cancelled -> success | failed | skipped, by hand (mark()):
 * recorded as an attempt by "who", with "manual" in its output (error for
 * failed).  A running task is refused: cancel it instead.  ERROR for a task
 * the run does not have.  Returns the task's downstream; *old_state is the
 * state it had.
 */
ArrayType  *
TaskMarked(int64 run_id, const char *task_name, const char *state,
		   const char *who, char **old_state)
{
	Oid			argtypes[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];
	bool		isnull;

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(task_name);
	CatalogExec("SELECT state FROM dagsched.task_run "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 "
				" AND task_name OPERATOR(pg_catalog.=) $2 AND map_index IS NULL "
				"FOR NO KEY UPDATE",
				2, argtypes, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run %lld has no task \"%s\"", (long long) run_id,
						task_name)));
	*old_state = CatalogText(0, 1);
	if (strcmp(*old_state, TS_RUNNING) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("task \"%s\" of run %lld is running", task_name,
						(long long) run_id),
				 errdetail("Only a task that has ended or not yet started can be marked."),
				 errhint("Stop it with dagsched.cancel(), or wait for it to end.")));

	values[2] = CStringGetTextDatum(state);
	values[3] = CStringGetTextDatum(who);
	values[4] = CStringGetTextDatum(psprintf("manual: marked %s by %s", state, who));
	CatalogExec("WITH u AS ("
				" UPDATE dagsched.task_run t SET state = $3, "
				"  attempts = t.attempts + 1, retry_base = t.attempts + 1, "
				"  started_at = pg_catalog.clock_timestamp(), "
				"  finished_at = pg_catalog.clock_timestamp(), "
				"  queued_at = NULL, next_attempt_at = NULL, next_poke_at = NULL, "
				"  pid = NULL, "
				"  error = CASE WHEN $3 OPERATOR(pg_catalog.=) " SQL_LIT(TS_FAILED)
				"   THEN $5 END, "
				"  output = CASE WHEN $3 OPERATOR(pg_catalog.<>) " SQL_LIT(TS_FAILED)
				"   THEN $5 END "
				" WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
				"  AND t.task_name OPERATOR(pg_catalog.=) $2 AND t.map_index IS NULL "
				" RETURNING t.run_id, t.task_name, t.attempts, t.state, t.started_at, "
				"  t.finished_at, t.error, t.output, t.downstream, "
				ATTEMPT_DEFINITION_T "), "
				"a AS (INSERT INTO dagsched.task_attempt "
				" (run_id, task_name, attempt, state, started_at, finished_at, "
				"  error, output, marked_by, " ATTEMPT_DEFINITION ") "
				" SELECT run_id, task_name, attempts, state, started_at, "
				"  finished_at, error, output, $4::pg_catalog.name, "
				ATTEMPT_DEFINITION " FROM u) "
				"SELECT downstream FROM u",
				5, argtypes, values, NULL);
	return DatumGetArrayTypePCopy(CatalogDatum(0, 1, &isnull));
}

/*
 * queued -> running, in the max_active_runs slot the caller took for it
 * (run_slot.c).  False if the run is no longer queued.
 */
bool
RunStarted(int64 run_id, int slot)
{
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		values[2];

	values[0] = Int64GetDatum(run_id);
	values[1] = Int32GetDatum(slot);
	CatalogExec("UPDATE dagsched.dag_run SET state = " SQL_LIT(RS_RUNNING) ", "
				" slot = $2, "
				" started_at = COALESCE(started_at, pg_catalog.clock_timestamp()) "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 "
				" AND state OPERATOR(pg_catalog.=) " SQL_LIT(RS_QUEUED),
				2, argtypes, values, NULL);
	return SPI_processed > 0;
}

/*
 * running -> success | failed | cancelled: failed when a task failed,
 * cancelled when one was cancelled, else success.  The caller has checked
 * that no task is active any more.
 */
bool
RunEnded(int64 run_id, char **dag_name, char **state)
{
	trans_exec_run("UPDATE dagsched.dag_run r SET finished_at = pg_catalog.clock_timestamp(), "
				   " state = CASE WHEN r.cancel_requested THEN " SQL_LIT(RS_CANCELLED)
				   " ELSE (SELECT CASE "
				   "  WHEN pg_catalog.bool_or(state OPERATOR(pg_catalog.=) "
				   "   ANY (" SQL_SET(TS_FAILURE_LIST) ")) THEN " SQL_LIT(RS_FAILED)
				   "  WHEN pg_catalog.bool_or(state OPERATOR(pg_catalog.=) "
				   SQL_LIT(TS_CANCELLED) ") THEN " SQL_LIT(RS_CANCELLED)
				   "  ELSE " SQL_LIT(RS_SUCCESS) " END "
				   "  FROM dagsched.task_run WHERE run_id OPERATOR(pg_catalog.=) $1 "
				   "   AND map_index IS NULL) END "
				   "WHERE r.run_id OPERATOR(pg_catalog.=) $1 "
				   " AND r.state OPERATOR(pg_catalog.=) " SQL_LIT(RS_RUNNING)
				   "RETURNING r.dag_name, r.state", run_id);
	if (!trans_changed_dag(dag_name))
		return false;
	*state = CatalogText(0, 2);
	return true;
}

/*
 * scheduled | queued | running -> cancelled.  ERROR if the run does not exist; false,
 * with the state it ended in, if it had ended already.
 */
bool
RunCancelled(int64 run_id, char **dag_name, char **state)
{
	trans_exec_run("SELECT state FROM dagsched.dag_run "
				   "WHERE run_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE", run_id);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run %lld does not exist", (long long) run_id)));
	*state = CatalogText(0, 1);

	trans_exec_run("UPDATE dagsched.dag_run SET state = " SQL_LIT(RS_CANCELLED) ", "
				   " finished_at = pg_catalog.clock_timestamp() "
				   "WHERE run_id OPERATOR(pg_catalog.=) $1 "
				   " AND state OPERATOR(pg_catalog.=) ANY (" SQL_SET(RS_ACTIVE_LIST) ") "
				   "RETURNING dag_name", run_id);
	return trans_changed_dag(dag_name);
}

/*
 * success | failed | cancelled -> running in the slot the caller took
 * (slot > 0), else queued behind the others.  Returns the new state.
 */
char *
RunResumed(int64 run_id, int slot, char **dag_name)
{
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	values[0] = Int64GetDatum(run_id);
	values[1] = Int32GetDatum(slot);
	if (slot <= 0)
		nulls[1] = 'n';
	CatalogExec("UPDATE dagsched.dag_run SET finished_at = NULL, slot = $2, "
				" cancel_requested = false, "
				" state = CASE WHEN $2 IS NOT NULL THEN " SQL_LIT(RS_RUNNING)
				"  ELSE " SQL_LIT(RS_QUEUED) " END "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 "
				" AND state OPERATOR(pg_catalog.<>) ALL (" SQL_SET(RS_ACTIVE_LIST) ") "
				"RETURNING dag_name, state",
				2, argtypes, values, nulls);
	if (SPI_processed == 0)
		elog(ERROR, "run %lld is not in a state it can be resumed from",
			 (long long) run_id);
	*dag_name = CatalogText(0, 1);
	return CatalogText(0, 2);
}

/*
 * running -> running, cancel requested: its unstarted tasks were cancelled,
 * and it ends cancelled once its running tasks have stopped (RunEnded).
 * Returns the DAG's name; false if the run is not running.
 */
bool
RunCancelRequested(int64 run_id, char **dag_name)
{
	trans_exec_run("UPDATE dagsched.dag_run SET cancel_requested = true "
				   "WHERE run_id OPERATOR(pg_catalog.=) $1 "
				   " AND state OPERATOR(pg_catalog.=) " SQL_LIT(RS_RUNNING)
				   "RETURNING dag_name", run_id);
	return trans_changed_dag(dag_name);
}

/*
 * success | failed | cancelled -> success | failed | cancelled: a finished
 * run's state follows its tasks again after one was marked by hand.
 * Returns the DAG's name and the new state.
 */
char *
RunRestated(int64 run_id, char **dag_name)
{
	trans_exec_run("UPDATE dagsched.dag_run r SET cancel_requested = false, "
				   " finished_at = pg_catalog.clock_timestamp(), "
				   " state = (SELECT CASE "
				   "  WHEN pg_catalog.bool_or(state OPERATOR(pg_catalog.=) "
				   "   ANY (" SQL_SET(TS_FAILURE_LIST) ")) THEN " SQL_LIT(RS_FAILED)
				   "  WHEN pg_catalog.bool_or(state OPERATOR(pg_catalog.=) "
				   SQL_LIT(TS_CANCELLED) ") THEN " SQL_LIT(RS_CANCELLED)
				   "  ELSE " SQL_LIT(RS_SUCCESS) " END "
				   "  FROM dagsched.task_run WHERE run_id OPERATOR(pg_catalog.=) $1 "
				   "   AND map_index IS NULL) "
				   "WHERE r.run_id OPERATOR(pg_catalog.=) $1 "
				   " AND r.state OPERATOR(pg_catalog.<>) ALL (" SQL_SET(RS_ACTIVE_LIST) ") "
				   "RETURNING r.dag_name, r.state", run_id);
	if (SPI_processed == 0)
		elog(ERROR, "run %lld is not in a state it can be restated from",
			 (long long) run_id);
	*dag_name = CatalogText(0, 1);
	return CatalogText(0, 2);
}
