/*-------------------------------------------------------------------------
 *
 * api.c
 *	  The user-facing SQL functions of the run engine: trigger, wait,
 *	  cancel, retry, backfill and rule_state.
 *
 * What these functions change reaches the scheduler and the workers only
 * when the caller's transaction commits, so their wake-ups (and the signals
 * that cancel running tasks) go through atcommit.c.  Run tables are written
 * by the extension, not by users: each function first checks, through
 * row-level security, that the caller can see the DAG or run, then acts as
 * the bootstrap superuser.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "catalog/pg_authid.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "storage/proc.h"
#include "tcop/pquery.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "atcommit.h"
#include "cron.h"
#include "dag.h"
#include "dagsched.h"
#include "run.h"
#include "shmem.h"
#include "states.h"
#include "validate.h"

/* params larger than this are refused: they are copied into every task */
#define API_MAX_PARAMS_BYTES (1024 * 1024)

PG_FUNCTION_INFO_V1(dagsched_trigger);
PG_FUNCTION_INFO_V1(dagsched_wait);
PG_FUNCTION_INFO_V1(dagsched_cancel);
PG_FUNCTION_INFO_V1(dagsched_retry);
PG_FUNCTION_INFO_V1(dagsched_retry_task);
PG_FUNCTION_INFO_V1(dagsched_mark);
PG_FUNCTION_INFO_V1(dagsched_backfill);
PG_FUNCTION_INFO_V1(dagsched_rule_state);
PG_FUNCTION_INFO_V1(dagsched_run_deleted);

static object_access_hook_type prev_object_access_hook = NULL;

static void
api_warn_if_not_preloaded(void)
{
	if (!DagschedShmemReady())
		ereport(WARNING,
				(errmsg("dagsched is not loaded through shared_preload_libraries"),
				 errdetail("Runs are recorded, but no scheduler or worker will run them."),
				 errhint("Add dagsched to shared_preload_libraries and restart the server.")));
}

/*
 * The caller may act on a DAG or run it can see: row-level security on the
 * catalog decides, exactly as for a SELECT.  Someone else's DAG is reported
 * as not existing, like a row the caller cannot see.  sql has one parameter
 * and returns a row when the object is visible.
 */
static bool
api_visible(const char *sql, Oid argtype, Datum arg)
{
	if (SPI_execute_with_args(sql, 1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up a DAG or run");
	return SPI_processed > 0;
}

static void
api_check_dag_visible(const char *dag_name)
{
	if (!api_visible("SELECT 1 FROM dagsched.dag "
					 "WHERE dag_name OPERATOR(pg_catalog.=) $1",
					 TEXTOID, CStringGetTextDatum(dag_name)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("DAG \"%s\" does not exist", DagschedQuote(dag_name))));
}

static void
api_check_run_visible(int64 run_id)
{
	if (!api_visible("SELECT 1 FROM dagsched.dag_run "
					 "WHERE run_id OPERATOR(pg_catalog.=) $1",
					 INT8OID, Int64GetDatum(run_id)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run %lld does not exist", (long long) run_id)));
}

/*
 * Run tables are written by the extension, not by users: once the caller's
 * right is checked, act as the bootstrap superuser (who bypasses row-level
 * security) until *restore is applied.
 */
static void
api_become_superuser(Oid *save_userid, int *save_sec)
{
	GetUserIdAndSecContext(save_userid, save_sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   *save_sec | SECURITY_LOCAL_USERID_CHANGE);
}

/*
 * trigger(dag_name text, params jsonb DEFAULT '{}', at timestamptz DEFAULT NULL)
 * returns bigint
 *
 * With "at" in the future the run is created now, in state scheduled, and
 * the scheduler starts it at "at" (its logical time); otherwise it is
 * created to start now.
 */
Datum
dagsched_trigger(PG_FUNCTION_ARGS)
{
	char	   *dag_name;
	Jsonb	   *params;
	bool		scheduled;
	TimestampTz at = 0;
	int64		run_id;
	int			nqueued = 0;
	Oid			save_userid;
	int			save_sec;

	/* not STRICT, for "at" alone may be NULL: now */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	dag_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	params = PG_GETARG_JSONB_P(1);
	if (!PG_ARGISNULL(2))
		at = PG_GETARG_TIMESTAMPTZ(2);
	/* a time that has passed, or is now, means now */
	scheduled = !PG_ARGISNULL(2) && at > GetCurrentTransactionStartTimestamp();

	if (!JB_ROOT_IS_OBJECT(params) || JB_ROOT_IS_SCALAR(params))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("params must be a JSON object"),
				 errdetail("Tasks read parameters by name, e.g. {\"day\": \"2026-01-31\"}.")));
	if (VARSIZE(params) > API_MAX_PARAMS_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("params of %zu bytes exceed the limit of %d bytes",
						(size_t) VARSIZE(params), API_MAX_PARAMS_BYTES),
				 errhint("Pass a key to where the data lives instead of the data.")));
	if (!PG_ARGISNULL(2) && TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a run cannot be scheduled at \"%s\"",
						timestamptz_to_str(at)),
				 errhint("Give a finite time, or NULL for now.")));

	api_warn_if_not_preloaded();

	SPI_connect();
	api_check_dag_visible(dag_name);
	api_become_superuser(&save_userid, &save_sec);
	if (scheduled)
		run_id = RunCreateScheduled(dag_name, at, JsonbPGetDatum(params));
	else
		run_id = RunCreate(dag_name, GetCurrentTransactionStartTimestamp(),
						   "manual", JsonbPGetDatum(params), &nqueued);
	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();

	AtCommitWakeWorkers(nqueued);
	AtCommitNoteRunCreated(run_id);
	PG_RETURN_INT64(run_id);
}

/*
 * True when expr, from the target list of the statement that called wait(),
 * is that call itself with constant or parameter arguments, or a constant.
 */
static bool
api_is_plain_call(Node *expr, Oid funcid)
{
	ListCell   *lc;

	if (expr == NULL || IsA(expr, Const) || IsA(expr, Param))
		return true;
	if (!IsA(expr, FuncExpr) || ((FuncExpr *) expr)->funcid != funcid)
		return false;
	foreach(lc, ((FuncExpr *) expr)->args)
	{
		Node	   *arg = lfirst(lc);

		if (!IsA(arg, Const) && !IsA(arg, Param))
			return false;
	}
	return true;
}

/*
 * May wait() give up its xmin while it sleeps?  A client waiting on a run
 * must not hold back what the run's tasks wait for: vacuum's horizon, or
 * CREATE INDEX CONCURRENTLY, which waits for every transaction whose xmin
 * is older than its own snapshot.  But the statement that called wait() has
 * a snapshot, and once the xmin protecting it is gone, rows it could see may
 * be pruned.  That is harmless only when nothing uses that snapshot after
 * wait() returns: the top-level statement is exactly "SELECT
 * dagsched.wait(...)" (no table, no subquery, no other function), and no
 * cursor of the transaction keeps an older snapshot.
 */
static bool
api_wait_may_release_xmin(FunctionCallInfo fcinfo)
{
	PlannedStmt *stmt;
	Plan	   *plan;
	ListCell   *lc;
	Oid			argtype = TEXTOID;
	Datum		arg;

	if (ActivePortal == NULL || list_length(ActivePortal->stmts) != 1)
		return false;
	stmt = linitial_node(PlannedStmt, ActivePortal->stmts);
	if (stmt->commandType != CMD_SELECT || stmt->utilityStmt != NULL ||
		stmt->subplans != NIL || stmt->hasModifyingCTE)
		return false;
	foreach(lc, stmt->rtable)
	{
		if (lfirst_node(RangeTblEntry, lc)->rtekind != RTE_RESULT)
			return false;
	}
	plan = stmt->planTree;
	if (plan == NULL || !IsA(plan, Result) || plan->lefttree != NULL ||
		((Result *) plan)->resconstantqual != NULL || plan->qual != NIL)
		return false;
	foreach(lc, plan->targetlist)
	{
		if (!api_is_plain_call((Node *) lfirst_node(TargetEntry, lc)->expr,
							   fcinfo->flinfo->fn_oid))
			return false;
	}

	arg = CStringGetTextDatum(ActivePortal->name);
	if (SPI_execute_with_args("SELECT 1 FROM pg_catalog.pg_cursors "
							  "WHERE name OPERATOR(pg_catalog.<>) $1",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not look up open cursors");
	return SPI_processed == 0;
}

/*
 * wait(run_id bigint, timeout interval DEFAULT '1 min') returns text
 *
 * Sleeps on a condition variable that workers broadcast whenever a run ends;
 * the state is re-read from the table with a fresh snapshot each time.  When
 * the calling statement allows it (api_wait_may_release_xmin), it sleeps
 * with no xmin: only the short read of the state holds one.
 */
Datum
dagsched_wait(PG_FUNCTION_ARGS)
{
	int64		run_id = PG_GETARG_INT64(0);
	Interval   *timeout = PG_GETARG_INTERVAL_P(1);
	TimestampTz deadline;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	char	   *state = NULL;
	text	   *result;
	bool		release_xmin;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("dagsched.wait() cannot see a run progress in a %s transaction",
						IsolationIsSerializable() ? "SERIALIZABLE" : "REPEATABLE READ"),
				 errhint("Call it in a READ COMMITTED transaction.")));
	if (RunCreatedInThisTransaction(run_id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run %lld was created by this transaction", (long long) run_id),
				 errdetail("Workers see the run only after the transaction that created it commits."),
				 errhint("Commit first, then wait in a new transaction.")));

	deadline = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   TimestampTzGetDatum(GetCurrentTimestamp()),
													   IntervalPGetDatum(timeout)));
	values[0] = Int64GetDatum(run_id);

	SPI_connect();
	release_xmin = api_wait_may_release_xmin(fcinfo);
	for (;;)
	{
		long		secs;
		int			usecs;
		long		ms;

		if (DagschedShmemReady())
			ConditionVariablePrepareToSleep(&Dagsched->run_finished);

		if (SPI_execute_with_args("SELECT state FROM dagsched.dag_run "
								  "WHERE run_id OPERATOR(pg_catalog.=) $1",
								  1, argtypes, values, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read run %lld", (long long) run_id);
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("run %lld does not exist", (long long) run_id)));
		state = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		if (strcmp(state, RS_SCHEDULED) != 0 && strcmp(state, RS_QUEUED) != 0 &&
			strcmp(state, RS_RUNNING) != 0)
			break;

		TimestampDifference(GetCurrentTimestamp(), deadline, &secs, &usecs);
		ms = secs * 1000 + usecs / 1000;
		if (ms <= 0)
			break;

		if (release_xmin)
		{
			/*
			 * The read above left its xmin behind (the caller's snapshot is
			 * still registered); the next read takes a new one.
			 */
			InvalidateCatalogSnapshot();
			MyProc->xmin = InvalidTransactionId;
		}

		/* a broadcast may be missed only between runs of the bound below */
		if (DagschedShmemReady())
			(void) ConditionVariableTimedSleep(&Dagsched->run_finished,
											   Min(ms, 1000), PG_WAIT_EXTENSION);
		else
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 Min(ms, 1000), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	if (DagschedShmemReady())
		ConditionVariableCancelSleep();

	result = cstring_to_text(state);
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}

/*
 * cancel(run_id bigint) returns void
 */
Datum
dagsched_cancel(PG_FUNCTION_ARGS)
{
	int64		run_id = PG_GETARG_INT64(0);
	int			nqueued;
	Oid			save_userid;
	int			save_sec;

	SPI_connect();
	api_check_run_visible(run_id);
	api_become_superuser(&save_userid, &save_sec);
	(void) RunCancel(run_id, &nqueued);
	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();
	AtCommitWakeWorkers(nqueued);

	/* running tasks are interrupted at commit; the run ends once they stop */
	AtCommitCancelRun(run_id);
	PG_RETURN_VOID();
}

/*
 * retry(run_id bigint) returns int
 */
Datum
dagsched_retry(PG_FUNCTION_ARGS)
{
	int64		run_id = PG_GETARG_INT64(0);
	int			nreset;
	int			nqueued;
	Oid			save_userid;
	int			save_sec;

	SPI_connect();
	api_check_run_visible(run_id);
	api_become_superuser(&save_userid, &save_sec);
	nreset = RunRetry(run_id, &nqueued);
	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();

	AtCommitWakeWorkers(nqueued);
	PG_RETURN_INT32(nreset);
}

/*
 * retry(run_id bigint, task_name text, downstream boolean DEFAULT true)
 * returns int
 */
Datum
dagsched_retry_task(PG_FUNCTION_ARGS)
{
	int64		run_id = PG_GETARG_INT64(0);
	char	   *task_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		downstream = PG_GETARG_BOOL(2);
	int			nreset;
	int			nqueued;
	Oid			save_userid;
	int			save_sec;

	SPI_connect();
	api_check_run_visible(run_id);
	api_become_superuser(&save_userid, &save_sec);
	nreset = RunClearTask(run_id, task_name, downstream, &nqueued);
	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();

	AtCommitWakeWorkers(nqueued);
	PG_RETURN_INT32(nreset);
}

/*
 * mark(run_id bigint, task_name text, state text) returns void
 */
Datum
dagsched_mark(PG_FUNCTION_ARGS)
{
	int64		run_id = PG_GETARG_INT64(0);
	char	   *task_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *state = text_to_cstring(PG_GETARG_TEXT_PP(2));
	char	   *who = GetUserNameFromId(GetUserId(), false);
	int			nqueued;
	Oid			save_userid;
	int			save_sec;

	if (strcmp(state, TS_SUCCESS) != 0 && strcmp(state, TS_FAILED) != 0 &&
		strcmp(state, TS_SKIPPED) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid state \"%s\" for dagsched.mark()",
						DagschedQuote(state)),
				 errhint("A task can be marked success, failed or skipped.")));

	SPI_connect();
	api_check_run_visible(run_id);
	api_become_superuser(&save_userid, &save_sec);
	nqueued = RunMarkTask(run_id, task_name, state, who);
	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();

	AtCommitWakeWorkers(nqueued);
	PG_RETURN_VOID();
}

/* at most this many runs per backfill() call: a typo must not flood */
#define API_MAX_BACKFILL_RUNS 10000

/*
 * How many ticks of sched lie in [from, to); *first is the first of them.
 * Counted before any run is created: run ids come from a sequence, which a
 * refused call would otherwise advance for good.
 */
static int
api_backfill_count(const char *dag_name, CronSchedule *sched, pg_tz *tz,
				   TimestampTz from, TimestampTz to, TimestampTz *first)
{
	TimestampTz t;
	int			nruns = 0;

	if (!CronNextFire(sched, from - 1, tz, first))
		return 0;
	for (t = *first; t < to;)
	{
		if (++nruns > API_MAX_BACKFILL_RUNS)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("backfill of DAG \"%s\" would create more than %d runs",
							dag_name, API_MAX_BACKFILL_RUNS),
					 errhint("Backfill a shorter range at a time.")));
		if (!CronNextFire(sched, t, tz, &t))
			break;
	}
	return nruns;
}

/*
 * backfill(dag_name text, from timestamptz, to timestamptz) returns setof bigint
 *
 * One run per schedule tick in [from, to), trigger 'backfill'.  Ticks that
 * already have a run are skipped (a tick produces at most one run, ever).
 */
Datum
dagsched_backfill(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *dag_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	TimestampTz from = PG_GETARG_TIMESTAMPTZ(1);
	TimestampTz to = PG_GETARG_TIMESTAMPTZ(2);
	Oid			save_userid;
	int			save_sec;
	char	   *schedule;
	char	   *tzname;
	CronSchedule sched;
	pg_tz	   *tz;
	TimestampTz tick;
	Oid			argtype = TEXTOID;
	Datum		arg = CStringGetTextDatum(dag_name);
	int			nruns = 0;
	int			nqueued = 0;
	Datum		params;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);

	SPI_connect();
	if (SPI_execute_with_args("SELECT schedule, timezone FROM dagsched.dag "
							  "WHERE dag_name OPERATOR(pg_catalog.=) $1",
							  1, &argtype, &arg, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read DAG \"%s\"", dag_name);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("DAG \"%s\" does not exist", DagschedQuote(dag_name))));
	schedule = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	tzname = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
	if (schedule == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("DAG \"%s\" has no schedule to backfill", dag_name),
				 errhint("Use dagsched.trigger() for DAGs that run only when triggered.")));
	CronParseOrError(schedule, &sched);
	tz = CronLookupTimezone(tzname);
	params = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));

	nruns = api_backfill_count(dag_name, &sched, tz, from, to, &tick);

	api_become_superuser(&save_userid, &save_sec);
	/* the first tick at or after "from" */
	if (nruns > 0)
	{
		while (tick < to)
		{
			int64		run_id;
			int			q;
			Datum		value;
			bool		isnull = false;

			run_id = RunCreate(dag_name, tick, "backfill", params, &q);
			nqueued += q;
			if (run_id != 0)
			{
				value = Int64GetDatum(run_id);
				tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
									 &value, &isnull);
			}
			if (!CronNextFire(&sched, tick, tz, &tick))
				break;
		}
	}
	SetUserIdAndSecContext(save_userid, save_sec);
	SPI_finish();

	AtCommitWakeWorkers(nqueued);
	return (Datum) 0;
}

/*
 * rule_state(trigger_rule, upstreams, succeeded, failed, skipped
 *			  [, upstream_failed]) returns text
 *
 * "failed" counts upstreams that ended failed or upstream_failed;
 * "upstream_failed", those of them that ended upstream_failed (0 when
 * omitted), which only one_done tells apart.
 */
Datum
dagsched_rule_state(PG_FUNCTION_ARGS)
{
	char	   *rule = text_to_cstring(PG_GETARG_TEXT_PP(0));
	DagUpstreamTally tally;

	tally.total = PG_GETARG_INT32(1);
	tally.success = PG_GETARG_INT32(2);
	tally.failed = PG_GETARG_INT32(3);
	tally.skipped = PG_GETARG_INT32(4);
	tally.upstream_failed = PG_NARGS() > 5 ? PG_GETARG_INT32(5) : 0;
	if (!DagRuleIsValid(rule))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown trigger rule \"%s\"", rule)));
	PG_RETURN_TEXT_P(cstring_to_text(DagRuleOutcomeState(DagEvaluateRule(rule, &tally))));
}

/*
 * AFTER DELETE FOR EACH ROW on dagsched.dag_run, for runs that were running
 * (deleting their DAG cascades here): their tasks stop when the deletion
 * commits, instead of running to their end and being rolled back then.
 */
Datum
dagsched_run_deleted(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	bool		isnull;
	Datum		d;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		elog(ERROR, "dagsched_run_deleted: must be fired AFTER DELETE FOR EACH ROW");

	d = heap_getattr(trigdata->tg_trigtuple,
					 SPI_fnumber(RelationGetDescr(trigdata->tg_relation), "run_id"),
					 RelationGetDescr(trigdata->tg_relation), &isnull);
	if (!isnull)
		AtCommitCancelRun(DatumGetInt64(d));
	return PointerGetDatum(NULL);
}

/*
 * DROP EXTENSION dagsched (or DROP SCHEMA dagsched CASCADE) drops the tables
 * without a row trigger firing: every running task is stopped when the drop
 * commits.
 */
static void
api_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				  int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (access == OAT_DROP && classId == ExtensionRelationId &&
		DagschedShmemReady())
	{
		char	   *name = get_extension_name(objectId);

		if (name != NULL && strcmp(name, "dagsched") == 0)
			AtCommitStopAllTasks();
	}
}

/* Called from _PG_init while preloading. */
void
DagschedInstallDropHook(void)
{
	prev_object_access_hook = object_access_hook;
	object_access_hook = api_object_access;
}
