/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  Catalog access of the engine that is not a state change: SPI helpers,
 *	  loading a DAG's definition, inserting a run's rows, and the reads the
 *	  scheduler and the run logic need.
 *
 * Every change of a task_run or dag_run state is in transition.c; this file
 * only reads, inserts new rows and touches dagsched.dag.
 *
 * Operators in the SQL below are schema-qualified (OPERATOR(pg_catalog.=)):
 * the scheduler and the workers run these statements as a superuser with the
 * search_path of the catalog database, which its owner may set, so an
 * unqualified operator could resolve to one of theirs.  That is the one rule
 * for every statement issued from C in dagsched.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/catalog.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/async.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "notify.h"
#include "run_slot.h"
#include "states.h"
#include "validate.h"

/* prepared once per process: the statements of every run */
static SPIPlanPtr plan_load_dag;
static SPIPlanPtr plan_load_tasks;
static SPIPlanPtr plan_insert_run;
static SPIPlanPtr plan_insert_task_runs;
static SPIPlanPtr plan_lock_dag_of_run;
static SPIPlanPtr plan_share_dag_of_run;
static SPIPlanPtr plan_max_active;
static SPIPlanPtr plan_queued_runs;
static SPIPlanPtr plan_tick_taken;

SPIPlanPtr
CatalogPrepare(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes)
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

int
CatalogExec(const char *sql, int nargs, Oid *argtypes, Datum *values,
			const char *nulls)
{
	int			ret = SPI_execute_with_args(sql, nargs, argtypes, values,
											nulls, false, 0);

	if (ret < 0)
		elog(ERROR, "SPI_execute_with_args failed: %s",
			 SPI_result_code_string(ret));
	return ret;
}

int
CatalogExecPlan(SPIPlanPtr plan, Datum *values, const char *nulls)
{
	int			ret = SPI_execute_plan(plan, values, nulls, false, 0);

	if (ret < 0)
		elog(ERROR, "SPI_execute_plan failed: %s",
			 SPI_result_code_string(ret));
	return ret;
}

/*
 * A statement prepared once per process (*cache), then executed.  For the
 * statements every run or task issues: planning them each time costs more
 * than running them.
 */
int
CatalogExecCached(SPIPlanPtr *cache, const char *sql, int nargs,
				  Oid *argtypes, Datum *values, const char *nulls)
{
	return CatalogExecPlan(CatalogPrepare(cache, sql, nargs, argtypes),
						   values, nulls);
}

/* Text of column col of row row of the last SPI result, NULL if null. */
char *
CatalogText(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

Datum
CatalogDatum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col,
						 isnull);
}

/*
 * The first column (bigint, not null) of every row of the last SPI result,
 * as a List of palloc'd int64 *, so that the next statement may run.
 */
List *
CatalogInt64List(void)
{
	List	   *ids = NIL;
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64	   *id = palloc(sizeof(int64));

		*id = DatumGetInt64(CatalogDatum(i, 1, &isnull));
		ids = lappend(ids, id);
	}
	return ids;
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
 * which kind of event this is.  Sent only when some backend listens
 * (notify.c): a notifying commit takes a cluster-wide lock.
 */
void
CatalogNotify(int64 run_id, const char *dag_name, const char *task_name,
			  const char *state)
{
	CatalogNotifyEvent(task_name ? "task" : "run", run_id, state);
}

/* The same, for an event that is not a state change ("deadline") */
void
CatalogNotifyEvent(const char *event, int64 run_id, const char *state)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"event\": \"%s\", \"run_id\": " INT64_FORMAT
					 ", \"state\": ",
					 event, run_id);
	escape_json(&buf, state);
	appendStringInfoChar(&buf, '}');
	DagschedNotify(buf.data);
	pfree(buf.data);
}

/* Copy column col of the current SPI row into a task definition. */
static void
catalog_read_task(int row, CatalogTaskDef *t)
{
	bool		isnull;
	ArrayType  *deps;
	Datum	   *elems;
	int			i;

	t->name = CatalogText(row, 1);
	t->kind = CatalogText(row, 2);
	t->command = CatalogText(row, 3);
	t->trigger_rule = CatalogText(row, 4);
	t->retries = DatumGetInt32(CatalogDatum(row, 5, &isnull));
	t->retry_delay = datumCopy(CatalogDatum(row, 6, &isnull), false, 16);
	t->timeout = CatalogDatum(row, 7, &t->timeout_null);
	if (!t->timeout_null)
		t->timeout = datumCopy(t->timeout, false, 16);
	t->database = CatalogText(row, 8);
	t->priority = DatumGetInt32(CatalogDatum(row, 9, &t->priority_null));
	t->conninfo = CatalogText(row, 11);
	t->autocommit = DatumGetBool(CatalogDatum(row, 12, &isnull));
	t->pool = CatalogText(row, 13);
	t->condition = CatalogText(row, 14);
	t->poke_interval = datumCopy(CatalogDatum(row, 15, &isnull), false, 16);
	t->map_over = CatalogText(row, 16);

	deps = DatumGetArrayTypePCopy(CatalogDatum(row, 10, &isnull));
	deconstruct_array(deps, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, NULL, &t->ndeps);
	t->deps = palloc(sizeof(char *) * Max(t->ndeps, 1));
	for (i = 0; i < t->ndeps; i++)
		t->deps[i] = TextDatumGetCString(elems[i]);
}

/*
 * Load what a run of dag_name copies: the DAG's owner and max_active_runs,
 * and its tasks ordered by name.  False if the DAG does not exist.  The
 * strings are palloc'd in the caller's memory context.
 */
bool
CatalogLoadDag(const char *dag_name, CatalogDagDef *def)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext spicxt;
	int			i;

	values[0] = CStringGetTextDatum(dag_name);
	CatalogExecCached(&plan_load_dag,
					  "SELECT owner::pg_catalog.text, max_active_runs, deadline "
					  "FROM dagsched.dag "
					  "WHERE dag_name OPERATOR(pg_catalog.=) $1",
					  1, argtypes, values, NULL);
	if (SPI_processed == 0)
		return false;
	spicxt = MemoryContextSwitchTo(cxt);
	def->dag_name = pstrdup(dag_name);
	def->owner = CatalogText(0, 1);
	def->max_active_runs = DatumGetInt32(CatalogDatum(0, 2, &isnull));
	def->deadline = CatalogDatum(0, 3, &def->deadline_null);
	if (!def->deadline_null)
		def->deadline = datumCopy(def->deadline, false, 16);
	MemoryContextSwitchTo(spicxt);

	CatalogExecCached(&plan_load_tasks, "SELECT task_name, kind, command, trigger_rule, retries, "
					  "retry_delay, timeout, database::pg_catalog.text, priority, "
					  "depends_on, conninfo, autocommit, pool, condition, poke_interval, "
					  "map_over "
					  "FROM dagsched.task WHERE dag_name OPERATOR(pg_catalog.=) $1 "
					  "ORDER BY task_name",
					  1, argtypes, values, NULL);
	spicxt = MemoryContextSwitchTo(cxt);
	def->ntasks = (int) SPI_processed;
	def->tasks = palloc0(sizeof(CatalogTaskDef) * Max(def->ntasks, 1));
	for (i = 0; i < def->ntasks; i++)
		catalog_read_task(i, &def->tasks[i]);
	MemoryContextSwitchTo(spicxt);
	return true;
}

/* Does a scheduled tick of dag_name already have its run (committed)? */
bool
CatalogTickTaken(const char *dag_name, TimestampTz logical_time,
				 const char *trigger)
{
	Oid			argtypes[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		values[2];

	if (strcmp(trigger, "schedule") != 0 && strcmp(trigger, "catchup") != 0 &&
		strcmp(trigger, "backfill") != 0)
		return false;
	values[0] = CStringGetTextDatum(dag_name);
	values[1] = TimestampTzGetDatum(logical_time);
	CatalogExecCached(&plan_tick_taken, "SELECT 1 FROM dagsched.dag_run "
					  "WHERE dag_name OPERATOR(pg_catalog.=) $1 "
					  " AND logical_time OPERATOR(pg_catalog.=) $2 "
					  " AND trigger IN ('schedule', 'catchup', 'backfill')",
					  2, argtypes, values, NULL);
	return SPI_processed > 0;
}

/* max_active_runs of dag_name (0 when the DAG is gone) */
int
CatalogMaxActiveRuns(const char *dag_name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;

	values[0] = CStringGetTextDatum(dag_name);
	CatalogExecCached(&plan_max_active, "SELECT max_active_runs FROM dagsched.dag "
					  "WHERE dag_name OPERATOR(pg_catalog.=) $1",
					  1, argtypes, values, NULL);
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt32(CatalogDatum(0, 1, &isnull));
}

/*
 * Insert the dag_run row: running (in run->slot), queued or scheduled.
 * Returns its run_id, or 0 when it conflicts with another run: a scheduled
 * tick that has its run already (a tick produces one run, ever), or a
 * running run in the same slot.
 */
int64
CatalogInsertRun(const CatalogDagDef *def, const CatalogNewRun *run)
{
	Oid			argtypes[8] = {TEXTOID, TIMESTAMPTZOID, TEXTOID, JSONBOID,
	TEXTOID, TEXTOID, INTERVALOID, INT4OID};
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;

	values[0] = CStringGetTextDatum(def->dag_name);
	values[1] = TimestampTzGetDatum(run->logical_time);
	values[2] = CStringGetTextDatum(run->trigger);
	values[3] = run->params;
	values[4] = CStringGetTextDatum(run->running ? RS_RUNNING :
									run->scheduled ? RS_SCHEDULED : RS_QUEUED);
	values[5] = CStringGetTextDatum(def->owner);
	values[6] = def->deadline;
	if (def->deadline_null)
		nulls[6] = 'n';
	values[7] = Int32GetDatum(run->slot);
	if (!run->running)
		nulls[7] = 'n';

	/*
	 * A tick that has its run already produces no row, so that no run id is
	 * drawn from the sequence for it (ON CONFLICT would draw one first). ON
	 * CONFLICT without a target also does nothing on a slot another run
	 * committed with meanwhile (run_slot.c).
	 */
	CatalogExecCached(&plan_insert_run, "INSERT INTO dagsched.dag_run AS r "
					  "(dag_name, logical_time, trigger, params, state, owner, started_at, "
					  " deadline_at, slot) "
					  "SELECT $1, $2, $3, $4, $5, $6::pg_catalog.name, "
					  " CASE WHEN $5 OPERATOR(pg_catalog.=) " SQL_LIT(RS_RUNNING)
					  "      THEN pg_catalog.clock_timestamp() END, "
					  " $2 OPERATOR(pg_catalog.+) $7, $8 "
					  "WHERE NOT ($3 OPERATOR(pg_catalog.=) ANY ('{schedule,catchup,backfill}'::pg_catalog.text[]) "
					  " AND EXISTS (SELECT 1 FROM dagsched.dag_run x "
					  "  WHERE x.dag_name OPERATOR(pg_catalog.=) $1 "
					  "   AND x.logical_time OPERATOR(pg_catalog.=) $2 "
					  "   AND x.trigger OPERATOR(pg_catalog.=) ANY ('{schedule,catchup,backfill}'::pg_catalog.text[]))) "
					  "ON CONFLICT DO NOTHING "
					  "RETURNING run_id",
					  8, argtypes, values, nulls);
	if (SPI_processed == 0)
		return 0;
	return DatumGetInt64(CatalogDatum(0, 1, &isnull));
}

/* A 1-D array of n elements of type elemtype */
static Datum
catalog_array(Datum *elems, bool *nulls, int n, Oid elemtype)
{
	int			dims[1] = {n};
	int			lbs[1] = {1};
	int16		typlen;
	bool		typbyval;
	char		typalign;

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  elemtype, typlen, typbyval,
											  typalign));
}

/* The depends_on of every task, as text[] literals (an array of arrays of
 * different lengths cannot be passed, so each goes as text and is cast) */
static Datum
catalog_deps_literals(const CatalogDagDef *def)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(def->ntasks, 1));
	int			i;

	for (i = 0; i < def->ntasks; i++)
	{
		const CatalogTaskDef *t = &def->tasks[i];
		Datum	   *d = palloc(sizeof(Datum) * Max(t->ndeps, 1));
		int			j;
		ArrayType  *arr;

		for (j = 0; j < t->ndeps; j++)
			d[j] = CStringGetTextDatum(t->deps[j]);
		arr = construct_array(d, t->ndeps, TEXTOID, -1, false, TYPALIGN_INT);
		elems[i] = CStringGetTextDatum(OidOutputFunctionCall(F_ARRAY_OUT,
															 PointerGetDatum(arr)));
	}
	return catalog_array(elems, NULL, def->ntasks, TEXTOID);
}

/* One column of the task definitions as an array, for unnest() */
#define CATALOG_COLUMN(def, type, expr, isnull_expr) \
	do { \
		for (i = 0; i < (def)->ntasks; i++) \
		{ \
			const CatalogTaskDef *t = &(def)->tasks[i]; \
			(void) t; \
			nulls[i] = (isnull_expr); \
			elems[i] = nulls[i] ? (Datum) 0 : (expr); \
		} \
		values[col] = catalog_array(elems, nulls, (def)->ntasks, (type)); \
		elems = palloc(sizeof(Datum) * n); \
		nulls = palloc(sizeof(bool) * n); \
		col++; \
	} while (0)

/*
 * Is task x ready before any upstream has ended (a root, or an "always"
 * task)?  Its rule decides, from an empty tally.
 */
#define CATALOG_READY_AT_START \
	"dagsched.rule_state(x.r, pg_catalog.cardinality(x.d::pg_catalog.text[]), " \
	"0, 0, 0, 0) OPERATOR(pg_catalog.=) " SQL_LIT(TS_QUEUED) " "

/*
 * Insert one task_run per task, copying the definition; the tasks of a
 * running run that are ready at once (roots, "always" tasks) start queued.
 * One statement, the definition passed as arrays.
 */
void
CatalogInsertTaskRuns(int64 run_id, const CatalogDagDef *def,
					  const CatalogNewRun *run)
{
	Oid			argtypes[19] = {INT8OID, TEXTARRAYOID, TEXTARRAYOID,
		TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
		INTERVALARRAYOID, INTERVALARRAYOID, TEXTARRAYOID, INT4ARRAYOID,
		TEXTARRAYOID, BOOLOID, TEXTARRAYOID, BOOLARRAYOID, TEXTARRAYOID,
	TEXTARRAYOID, INTERVALARRAYOID, TEXTARRAYOID};
	Datum		values[19];
	int			n = Max(def->ntasks, 1);
	Datum	   *elems = palloc(sizeof(Datum) * n);
	bool	   *nulls = palloc(sizeof(bool) * n);
	int			col = 1;
	int			i;

	values[0] = Int64GetDatum(run_id);
	CATALOG_COLUMN(def, TEXTOID, CStringGetTextDatum(t->name), false);
	CATALOG_COLUMN(def, TEXTOID, CStringGetTextDatum(t->kind), false);
	CATALOG_COLUMN(def, TEXTOID, CStringGetTextDatum(t->command), false);
	values[col++] = catalog_deps_literals(def);
	CATALOG_COLUMN(def, TEXTOID, CStringGetTextDatum(t->trigger_rule), false);
	CATALOG_COLUMN(def, INT4OID, Int32GetDatum(t->retries), false);
	CATALOG_COLUMN(def, INTERVALOID, t->retry_delay, false);
	CATALOG_COLUMN(def, INTERVALOID, t->timeout, t->timeout_null);
	CATALOG_COLUMN(def, TEXTOID, CStringGetTextDatum(t->database),
				   t->database == NULL);
	CATALOG_COLUMN(def, INT4OID, Int32GetDatum(run->priority[i]), false);
	values[col++] = catalog_array(run->downstream, NULL, def->ntasks, TEXTOID);
	values[col++] = BoolGetDatum(run->running);
	CATALOG_COLUMN(def, TEXTOID, CStringGetTextDatum(t->conninfo),
				   t->conninfo == NULL);
	CATALOG_COLUMN(def, BOOLOID, BoolGetDatum(t->autocommit), false);
	CATALOG_COLUMN(def, TEXTOID, CStringGetTextDatum(t->pool),
				   t->pool == NULL);
	CATALOG_COLUMN(def, TEXTOID, CStringGetTextDatum(t->condition),
				   t->condition == NULL);
	CATALOG_COLUMN(def, INTERVALOID, t->poke_interval, false);
	CATALOG_COLUMN(def, TEXTOID, CStringGetTextDatum(t->map_over),
				   t->map_over == NULL);

	CatalogExecCached(&plan_insert_task_runs, "INSERT INTO dagsched.task_run (run_id, task_name, kind, command, "
					  " depends_on, trigger_rule, retries, retry_delay, timeout, "
					  " database, priority, downstream, state, queued_at, conninfo, "
					  " autocommit, pool, condition, poke_interval, map_over) "
					  "SELECT $1, x.n, x.k, x.c, x.d::pg_catalog.text[], x.r, x.re, "
					  " x.rd, x.t, x.db::pg_catalog.name, x.p, x.dn::pg_catalog.text[], "
					  " CASE WHEN $13 AND " CATALOG_READY_AT_START
					  "      THEN " SQL_LIT(TS_QUEUED) " ELSE " SQL_LIT(TS_PENDING) " END, "
					  " CASE WHEN $13 AND " CATALOG_READY_AT_START
					  "      THEN pg_catalog.clock_timestamp() END, x.ci, x.ac, x.pl, x.co, "
					  " x.pi, x.mo "
					  "FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), "
					  " pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), "
					  " pg_catalog.unnest($7), pg_catalog.unnest($8), pg_catalog.unnest($9), "
					  " pg_catalog.unnest($10), pg_catalog.unnest($11), pg_catalog.unnest($12), "
					  " pg_catalog.unnest($14), pg_catalog.unnest($15), pg_catalog.unnest($16), "
					  " pg_catalog.unnest($17), pg_catalog.unnest($18), pg_catalog.unnest($19)) "
					  " AS x(n, k, c, d, r, re, rd, t, db, p, dn, ci, ac, pl, co, pi, mo)",
					  19, argtypes, values, NULL);
}

/*
 * Lock the DAG row of a run before touching the run row: a cascading
 * DELETE of the DAG locks the DAG row first and the run rows after, so
 * taking them in the same order keeps the two from deadlocking.  FOR KEY
 * SHARE (for run ends, which must not wait for each other) is enough for
 * that; cancel() and retry() take FOR NO KEY UPDATE (exclusive), so that
 * two of them on runs of one DAG take turns.
 */
void
CatalogLockDagOfRun(int64 run_id, bool exclusive)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(run_id);
	if (exclusive)
		CatalogExecCached(&plan_lock_dag_of_run,
						  "SELECT 1 FROM dagsched.dag d, dagsched.dag_run r "
						  "WHERE r.run_id OPERATOR(pg_catalog.=) $1 "
						  " AND d.dag_name OPERATOR(pg_catalog.=) r.dag_name "
						  "FOR NO KEY UPDATE OF d",
						  1, argtypes, values, NULL);
	else
		CatalogExecCached(&plan_share_dag_of_run,
						  "SELECT 1 FROM dagsched.dag d, dagsched.dag_run r "
						  "WHERE r.run_id OPERATOR(pg_catalog.=) $1 "
						  " AND d.dag_name OPERATOR(pg_catalog.=) r.dag_name "
						  "FOR KEY SHARE OF d",
						  1, argtypes, values, NULL);
	RunSlotNoteDagLock();
}

/* The queued runs of dag_name, oldest first, at most limit (int64 *) */
List *
CatalogQueuedRuns(const char *dag_name, int limit)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(dag_name);
	values[1] = Int32GetDatum(limit);
	CatalogExecCached(&plan_queued_runs, "SELECT run_id FROM dagsched.dag_run "
					  "WHERE dag_name OPERATOR(pg_catalog.=) $1 "
					  " AND state OPERATOR(pg_catalog.=) " SQL_LIT(RS_QUEUED)
					  "ORDER BY logical_time, run_id LIMIT $2",
					  2, argtypes, values, NULL);
	return CatalogInt64List();
}

/*
 * Scheduled runs whose time has come (at most limit, earliest first), as
 * run ids in a List of pointers.
 */
List *
CatalogDueScheduledRuns(int limit)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];

	values[0] = Int32GetDatum(limit);
	CatalogExec("SELECT run_id FROM dagsched.dag_run "
				"WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(RS_SCHEDULED)
				" AND logical_time OPERATOR(pg_catalog.<=) pg_catalog.clock_timestamp() "
				"ORDER BY logical_time, run_id LIMIT $1",
				1, argtypes, values, NULL);
	return CatalogInt64List();
}

/*
 * How many queued tasks a worker could take now (the scheduler starts
 * workers for them): those of no pool, and of each pool no more than its
 * free slots -- a task waiting for a slot holds no worker.
 */
int
CatalogCountQueued(void)
{
	bool		isnull;

	CatalogExec("SELECT ((SELECT pg_catalog.count(*) FROM dagsched.task_run "
				"  WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(TS_QUEUED)
				"   AND pool IS NULL) OPERATOR(pg_catalog.+) "
				" COALESCE((SELECT pg_catalog.sum(LEAST(q.n, GREATEST(0, p.slots "
				"   OPERATOR(pg_catalog.-) (SELECT pg_catalog.count(*) "
				"    FROM dagsched.task_run r "
				"    WHERE r.state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				"     AND r.pid IS NOT NULL AND r.pool OPERATOR(pg_catalog.=) p.pool_name)))) "
				"  FROM (SELECT pool, pg_catalog.count(*) AS n FROM dagsched.task_run "
				"        WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(TS_QUEUED)
				"         AND pool IS NOT NULL GROUP BY pool) q "
				"  JOIN dagsched.pool p ON p.pool_name OPERATOR(pg_catalog.=) q.pool), 0)"
				")::pg_catalog.int4",
				0, NULL, NULL, NULL);
	return DatumGetInt32(CatalogDatum(0, 1, &isnull));
}

/*
 * The earliest moment the scheduler has something to do: a DAG's next tick,
 * a retry coming due, a sensor's next poke, a scheduled run's time or a
 * run's deadline.  False when there is none.
 */
bool
CatalogNextWakeup(TimestampTz *wakeup)
{
	bool		isnull;
	Datum		d;

	CatalogExec("SELECT LEAST("
				" (SELECT pg_catalog.min(next_run_at) FROM dagsched.dag "
				"  WHERE NOT paused AND next_run_at IS NOT NULL), "
				" (SELECT pg_catalog.min(next_attempt_at) FROM dagsched.task_run "
				"  WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RETRY_WAIT) "), "
				" (SELECT pg_catalog.min(next_poke_at) FROM dagsched.task_run "
				"  WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(TS_SENSING) "), "
				" (SELECT pg_catalog.min(logical_time) FROM dagsched.dag_run "
				"  WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(RS_SCHEDULED) "), "
				" (SELECT pg_catalog.min(deadline_at) FROM dagsched.dag_run "
				"  WHERE NOT missed_deadline AND deadline_at IS NOT NULL "
				"   AND state OPERATOR(pg_catalog.=) ANY (" SQL_SET(RS_ACTIVE_LIST) ")))",
				0, NULL, NULL, NULL);
	d = CatalogDatum(0, 1, &isnull);
	if (isnull)
		return false;
	*wakeup = DatumGetTimestampTz(d);
	return true;
}

/*
 * A run failed: pause its DAG when its last max_consecutive_failures ended
 * runs all failed, saying why in paused_reason, where the user looks.
 * Returns true (and the reason) when it paused the DAG.
 */
bool
CatalogAutoPause(int64 run_id, const char *dag_name, char **reason)
{
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(dag_name);
	values[1] = Int64GetDatum(run_id);
	CatalogExec("UPDATE dagsched.dag d SET paused = true, "
				" paused_reason = pg_catalog.format("
				"  'paused by dagsched: %s consecutive runs failed (the last: run %s at %s)', "
				"  d.max_consecutive_failures, $2, pg_catalog.now()) "
				"WHERE d.dag_name OPERATOR(pg_catalog.=) $1 "
				" AND d.max_consecutive_failures IS NOT NULL AND NOT d.paused "
				" AND d.max_consecutive_failures OPERATOR(pg_catalog.=) "
				"  (SELECT pg_catalog.count(*) FILTER (WHERE x.state OPERATOR(pg_catalog.=) "
				SQL_LIT(RS_FAILED) ") "
				"   FROM (SELECT r.state FROM dagsched.dag_run r "
				"         WHERE r.dag_name OPERATOR(pg_catalog.=) $1 "
				"          AND r.state OPERATOR(pg_catalog.=) ANY ("
				SQL_SET(RS_SUCCESS "," RS_FAILED) ") "
				"         ORDER BY r.finished_at DESC, r.run_id DESC "
				"         LIMIT d.max_consecutive_failures) x) "
				"RETURNING d.paused_reason",
				2, argtypes, values, NULL);
	if (SPI_processed == 0)
		return false;
	*reason = CatalogText(0, 1);
	return true;
}
