/*-------------------------------------------------------------------------
 *
 * run.c
 *	  What follows from each state change of a run: a task's end propagates
 *	  to its downstream tasks, the last task's end ends the run, a run's end
 *	  starts waiting runs and downstream DAGs; cancel, resume and the
 *	  recovery of attempts whose worker died.
 *
 * The state changes themselves are transitions (transition.c); this file
 * strings them together and adds the notifications.  Callers own the
 * transactions: a worker runs a SQL task's statements, RunTaskSucceeded()
 * and the queueing of the downstream tasks in one transaction, which is what
 * makes a SQL task's effects land exactly once.
 *
 * A task_run row carries tallies of its finished upstream tasks, so a
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

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "run.h"
#include "run_slot.h"
#include "shmem.h"
#include "states.h"
#include "transition.h"
#include "validate.h"

static SPIPlanPtr plan_active;

static int	run_fire_downstream_dags(int64 run_id, const char *dag_name);

/*
 * A task ended with outcome: tally it in its pending downstream tasks, queue
 * those whose rule now holds, and resolve those whose rule can no longer
 * hold -- which ends them too, so the walk goes on from them, breadth-first,
 * one UPDATE per level.  Returns how many tasks became queued.
 */
static int
run_propagate(int64 run_id, ArrayType *downstream, TaskOutcome outcome)
{
	List	   *work = NIL;
	int			nqueued;

	nqueued = TasksUpstreamEnded(run_id, downstream, outcome, &work);
	while (work != NIL)
	{
		TaskEnded  *e = linitial(work);

		work = list_delete_first(work);
		nqueued += TasksUpstreamEnded(run_id, e->downstream, e->outcome,
									  &work);
	}
	return nqueued;
}

/* Propagate the ends of tasks a transition resolved without running them. */
static int
run_propagate_ended(int64 run_id, List *ended)
{
	ListCell   *lc;
	int			nqueued = 0;

	foreach(lc, ended)
	{
		TaskEnded  *e = lfirst(lc);

		nqueued += run_propagate(run_id, e->downstream, e->outcome);
	}
	return nqueued;
}

/*
 * Look, after an instance's end has committed, whether the mapped task has
 * any active instance left; if none, it ends and its downstream tasks count
 * its outcome.  *ended says whether it ended (the caller then looks at the
 * run's end, after this commit).  Returns how many tasks became queued.
 */
int
RunMappedIfDone(int64 run_id, const char *task_name, bool *ended)
{
	TaskEnded	end;

	*ended = MappedTaskEnded(run_id, task_name, &end);
	if (!*ended)
		return 0;
	CatalogNotify(run_id, NULL, task_name,
				  end.outcome == TASK_OUTCOME_SUCCESS ? TS_SUCCESS : TS_FAILED);
	return run_propagate(run_id, end.downstream, end.outcome);
}

/* queued -> running for the most urgent queued task (see TaskClaimed). */
bool
RunClaimTask(ClaimedTask *task, MemoryContext cxt)
{
	return TaskClaimed(MyProcPid, task, cxt);
}

/*
 * Record success of the claimed attempt and queue what it unblocks.  Runs in
 * the task's own transaction.  Returns how many tasks became queued.
 */
int
RunTaskSucceeded(const ClaimedTask *task, const char *output,
				 const Jsonb *result)
{
	ArrayType  *downstream = TaskSucceeded(task, output, result);

	return run_propagate(task->run_id, downstream, TASK_OUTCOME_SUCCESS);
}

/*
 * The mapped task's map_over gave its instances (items: their rows as JSON
 * texts): they are queued; none, and the task is skipped.  Returns how many
 * tasks became queued.
 */
int
RunTaskMapped(const ClaimedTask *task, ArrayType *items)
{
	int			n = TaskMapped(task, items);

	if (n == 0)
		return RunTaskSkipped(task, "skipped: map_over returned no row");
	return n;
}

/*
 * The task's condition did not hold: it ends skipped without running, and
 * its downstream tasks count a skipped upstream.  Returns how many tasks
 * became queued.
 */
int
RunTaskSkipped(const ClaimedTask *task, const char *why)
{
	ArrayType  *downstream = TaskSkipped(task, why);

	return run_propagate(task->run_id, downstream, TASK_OUTCOME_SKIPPED);
}

/*
 * RunTaskSucceeded (or, when skip says why its condition did not hold,
 * RunTaskSkipped) with the worker's next claim in the same transaction, in
 * the one order that cannot deadlock.  Tallying the task in its downstream
 * rows locks them; a downstream row left pending (a sibling upstream still
 * runs) is what that sibling's worker will wait for when it ends.  The
 * general claim may in turn wait for that worker (see TaskClaimed): taken
 * with the tally locks held, the two waited for each other.  So: record the
 * success, claim the most urgent queued task, then tally; only when the
 * claim found nothing, take one of the tasks the tally queued, which are
 * locked by this transaction already.  *claimed_queued says whether the
 * claimed task is one of those; nothing is claimed unless may_claim (a
 * surplus worker exits instead).  Returns how many tasks became queued.
 */
int
RunTaskEndedAndClaim(const ClaimedTask *task, const char *skip,
					 const char *output, const Jsonb *result, bool may_claim,
					 ClaimedTask *next, MemoryContext cxt, bool *claimed,
					 bool *claimed_queued)
{
	ArrayType  *downstream;
	int			nqueued;

	if (skip != NULL)
		downstream = TaskSkipped(task, skip);
	else
		downstream = TaskSucceeded(task, output, result);

	*claimed = may_claim && TaskClaimed(MyProcPid, next, cxt);
	*claimed_queued = false;
	nqueued = run_propagate(task->run_id, downstream,
							skip != NULL ? TASK_OUTCOME_SKIPPED :
							TASK_OUTCOME_SUCCESS);
	if (may_claim && !*claimed && nqueued > 0)
		*claimed = *claimed_queued =
			TaskClaimedQueuedByUs(MyProcPid, task->run_id, downstream,
								  next, cxt);
	return nqueued;
}

/*
 * Record a failed attempt in its own transaction: wait for a retry if any
 * is left, else fail and propagate downstream.  A task of a cancelled run
 * ends cancelled.  Returns how many tasks became queued (by propagation,
 * e.g. all_done).
 */
int
RunTaskFailed(int64 run_id, const char *task_name, int map_index, int pid,
			  const char *error, const char *output, bool *retry_wait)
{
	TaskFailure f;

	*retry_wait = false;
	if (!TaskFailed(run_id, task_name, map_index, pid, error, output, &f))
		return 0;

	CatalogNotify(run_id, f.dag_name, task_name,
				  strcmp(f.state, TS_CANCELLED) == 0 ? TS_CANCELLED : TS_FAILED);
	if (strcmp(f.state, TS_RETRY_WAIT) == 0)
	{
		*retry_wait = true;
		return 0;
	}
	if (strcmp(f.state, TS_FAILED) == 0)
		return run_propagate(run_id, f.downstream, TASK_OUTCOME_FAILED);
	return 0;
}

/*
 * Is any task of the run still active (pending, queued, running, retry)?
 * The ORDER BY is task_run_unfinished_idx's order: with it, the generic
 * plan reads that index even when the statistics were taken while the run's
 * tasks were all active, which would make a sequential scan look cheap.
 */
static bool
run_has_active_task(int64 run_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(run_id);
	CatalogPrepare(&plan_active,
				   "SELECT 1 FROM dagsched.task_run "
				   "WHERE run_id OPERATOR(pg_catalog.=) $1 "
				   " AND state OPERATOR(pg_catalog.=) ANY (" SQL_SET(TS_ACTIVE_LIST) ") "
				   "ORDER BY task_name LIMIT 1",
				   1, argtypes);
	if (SPI_execute_plan(plan_active, values, NULL, false, 1) < 0)
		elog(ERROR, "could not check run %lld", (long long) run_id);
	return SPI_processed > 0;
}

/*
 * End the run if none of its tasks is unfinished, then start the runs of
 * the same DAG that waited for max_active_runs and, after a success, the
 * runs of downstream DAGs.  Called after the transaction that ended a task
 * has committed, so that of two workers ending the last two tasks at once,
 * the later one always sees both.  Returns true if the run ended; *nqueued
 * counts the tasks queued by the runs it started.
 */
bool
RunFinishIfDone(int64 run_id, int *nqueued)
{
	char	   *dag_name;
	char	   *state;
	char	   *reason;

	*nqueued = 0;
	if (run_has_active_task(run_id))
		return false;

	CatalogLockDagOfRun(run_id, false);

	/*
	 * Look again under the lock: while this waited for it, retry() or mark()
	 * may have given the run something to do again.
	 */
	if (run_has_active_task(run_id))
		return false;
	if (!RunEnded(run_id, &dag_name, &state))
		return false;
	CatalogNotify(run_id, dag_name, NULL, state);
	if (strcmp(state, RS_SUCCESS) == 0)
		*nqueued += run_fire_downstream_dags(run_id, dag_name);
	else if (strcmp(state, RS_FAILED) == 0 &&
			 CatalogAutoPause(run_id, dag_name, &reason))
		ereport(LOG,
				(errmsg("dagsched: DAG \"%s\" %s", dag_name, reason)));
	*nqueued += RunPromoteQueued(dag_name);
	return true;
}

/*
 * A run of dag_name succeeded: start a run of every DAG that lists it in
 * upstream_dags, standing for the same logical time, with the upstream run
 * in its params.  A DAG whose run cannot be created (no tasks) is logged and
 * skipped.  Returns how many tasks became queued.
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
	CatalogExec("SELECT d.dag_name, r.logical_time, "
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

		names[i] = CatalogText(i, 1);
		logical_time = DatumGetTimestampTz(CatalogDatum(i, 2, &isnull));
		params[i] = PointerGetDatum(PG_DETOAST_DATUM_COPY(CatalogDatum(i, 3, &isnull)));
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
 * Start queued runs of dag_name, oldest first, while max_active_runs has a
 * free slot.  The DAG's admission lock is taken (shared) first: a trigger()
 * that found no slot waits for this transaction and then sees the freed
 * slot, or this one waits for it and sees its queued run.  Returns how many
 * tasks became queued.
 */
int
RunPromoteQueued(const char *dag_name)
{
	int			max_active = CatalogMaxActiveRuns(dag_name);
	List	   *queued;
	ListCell   *lc;
	Bitmapset  *taken = NULL;
	int			nqueued = 0;

	if (max_active <= 0)
		return 0;
	RunSlotAdmitShared(dag_name);
	queued = CatalogQueuedRuns(dag_name, max_active);
	foreach(lc, queued)
	{
		int64		run_id = *(int64 *) lfirst(lc);
		int			slot = RunSlotTake(dag_name, max_active, &taken, false, true);
		List	   *ended = NIL;

		if (slot == 0)
			break;
		taken = bms_add_member(taken, slot);
		if (!RunStarted(run_id, slot))
		{
			RunSlotGiveBack(dag_name, slot);
			taken = bms_del_member(taken, slot);
			continue;
		}
		CatalogNotify(run_id, dag_name, NULL, RS_RUNNING);
		nqueued += TasksEvaluated(run_id, &ended);
		nqueued += run_propagate_ended(run_id, ended);
	}
	return nqueued;
}

/* most scheduled runs started in one scheduler loop */
#define RUN_MAX_DUE_SCHEDULED	100

/*
 * Start the scheduled runs whose time has come: each becomes queued and
 * then, if max_active_runs admits it, running.  Returns how many tasks
 * became queued.
 */
int
RunStartScheduled(void)
{
	List	   *ids = CatalogDueScheduledRuns(RUN_MAX_DUE_SCHEDULED);
	ListCell   *lc;
	int			nqueued = 0;

	foreach(lc, ids)
	{
		int64		run_id = *(int64 *) lfirst(lc);
		char	   *dag_name;

		/* DAG row first, as everywhere (see CatalogLockDagOfRun) */
		CatalogLockDagOfRun(run_id, false);
		if (!RunScheduledDue(run_id, &dag_name))
			continue;			/* cancelled meanwhile */
		CatalogNotify(run_id, dag_name, NULL, RS_QUEUED);
		nqueued += RunPromoteQueued(dag_name);
	}
	return nqueued;
}

/* Flag the unfinished runs past their deadline; returns how many. */
int
RunCheckDeadlines(void)
{
	return RunsMissedDeadline();
}

/* Queue the tasks whose retry delay has passed; returns how many. */
int
RunQueueDueRetries(void)
{
	return TasksRetryDue();
}

/* Queue the sensors whose next poke is due; returns how many. */
int
RunQueueDuePokes(void)
{
	return TasksPokeDue();
}

/*
 * A sensor's poke found its condition false: it waits for its next poke
 * holding no worker; nothing downstream changes.
 */
void
RunSensorWaits(const ClaimedTask *task)
{
	TaskSensing(task);
}

/*
 * Fail one attempt found "running" without a live worker, unless a look
 * under the row lock shows that its worker has it after all (it may just
 * have finished the attempt and moved on).  Returns true if it failed it.
 */
static bool
run_recover_orphan(int64 run_id, const char *task_name, int map_index,
				   int pid, bool server_restarted, int *nqueued)
{
	Oid			argtypes[4] = {INT8OID, TEXTOID, INT4OID, INT4OID};
	Datum		values[4];
	char	   *error;
	bool		retry_wait;

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(task_name);
	values[2] = Int32GetDatum(pid);
	values[3] = Int32GetDatum(map_index);
	CatalogExec("SELECT 1 FROM dagsched.task_run "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 "
				" AND task_name OPERATOR(pg_catalog.=) $2 "
				" AND COALESCE(map_index, -1) OPERATOR(pg_catalog.=) $4 "
				" AND state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				" AND pid OPERATOR(pg_catalog.=) $3 FOR NO KEY UPDATE",
				4, argtypes, values, NULL);
	if (SPI_processed == 0 || DagschedTaskIsRunning(run_id, task_name, pid))
		return false;

	/* a sensor's lost poke was no attempt: it is poked again */
	if (map_index < 0 && TaskPokeLost(run_id, task_name, pid))
	{
		ereport(LOG,
				(errmsg("dagsched: sensor \"%s\" of run %lld lost its worker (pid %d) during a poke; it is poked again",
						task_name, (long long) run_id, pid)));
		return true;
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
	*nqueued += RunTaskFailed(run_id, task_name, map_index, pid, error, NULL,
							  &retry_wait);
	return true;
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
	/* a mapped task waiting for its instances has no worker to lose */
	CatalogExec("SELECT run_id, task_name, pid, "
				" COALESCE(map_index, -1) FROM dagsched.task_run "
				"WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				" AND pid IS NOT NULL",
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
		int			map_index = DatumGetInt32(SPI_getbinval(tuptable->vals[i],
															tuptable->tupdesc,
															4, &isnull));

		if (DagschedTaskIsRunning(run_id, task_name, pid))
			continue;
		if (run_recover_orphan(run_id, task_name, map_index, pid,
							   server_restarted, &nqueued))
			(*nrecovered)++;
	}
	return nqueued;
}

/*
 * The run's state, its row locked (FOR NO KEY UPDATE) after its DAG's row.
 * A run still "running" although none of its tasks is active has in fact
 * ended: its last task's worker has committed and is about to say so.  It
 * is ended here and now, so that cancel(), retry() and mark() see the run
 * as it is, not in that window.  ERROR if the run does not exist.
 */
static char *
run_lock_state(int64 run_id, bool *cancel_requested, int *nqueued)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	bool		isnull;
	char	   *state;

	*nqueued = 0;
	CatalogLockDagOfRun(run_id, true);
	values[0] = Int64GetDatum(run_id);
	CatalogExec("SELECT state, cancel_requested FROM dagsched.dag_run "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 FOR NO KEY UPDATE",
				1, argtypes, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run %lld does not exist", (long long) run_id)));
	state = CatalogText(0, 1);
	*cancel_requested = DatumGetBool(CatalogDatum(0, 2, &isnull));
	if (strcmp(state, RS_RUNNING) == 0 && !run_has_active_task(run_id) &&
		RunFinishIfDone(run_id, nqueued))
	{
		CatalogExec("SELECT state FROM dagsched.dag_run "
					"WHERE run_id OPERATOR(pg_catalog.=) $1",
					1, argtypes, values, NULL);
		state = CatalogText(0, 1);
	}
	return state;
}

static bool
run_is_active(const char *state)
{
	return strcmp(state, RS_QUEUED) == 0 || strcmp(state, RS_RUNNING) == 0 ||
		strcmp(state, RS_SCHEDULED) == 0;
}

/*
 * Cancel a run: tasks not started become cancelled at once.  Without a
 * running task the run ends cancelled now; otherwise it stays running, with
 * cancel_requested, until the caller's signal (after commit) has stopped
 * its running tasks: wait() reports it cancelled only when every task has
 * stopped.  A run that has ended is left as it is, and cancel() says so.
 * Returns the number of tasks still running.
 */
int
RunCancel(int64 run_id, int *nqueued)
{
	char	   *state;
	char	   *dag_name;
	bool		requested;
	int			nrunning;

	state = run_lock_state(run_id, &requested, nqueued);
	if (!run_is_active(state))
	{
		ereport(NOTICE,
				(errmsg("run %lld has already ended with state \"%s\"",
						(long long) run_id, state)));
		return 0;
	}

	nrunning = TasksCancelled(run_id);
	if (nrunning > 0 && RunCancelRequested(run_id, &dag_name))
	{
		if (requested)
			ereport(NOTICE,
					(errmsg("run %lld is being cancelled: %d of its tasks still run",
							(long long) run_id, nrunning)));
		return nrunning;
	}

	if (!RunCancelled(run_id, &dag_name, &state))
		return 0;
	CatalogNotify(run_id, dag_name, NULL, RS_CANCELLED);
	/* a slot of max_active_runs is free now */
	*nqueued += RunPromoteQueued(dag_name);
	return 0;
}

/* ERROR unless the run (state from run_lock_state) has ended */
static void
run_check_resumable(int64 run_id, const char *state)
{
	if (run_is_active(state))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("run %lld is still %s", (long long) run_id, state),
				 errdetail("Only a run that has ended can be resumed."),
				 errhint("Wait for it with dagsched.wait(), or stop it with dagsched.cancel().")));
}

/* ERROR unless the run has a task of that name */
static void
run_check_task(int64 run_id, const char *task_name)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(task_name);
	CatalogExec("SELECT 1 FROM dagsched.task_run "
				"WHERE run_id OPERATOR(pg_catalog.=) $1 "
				" AND task_name OPERATOR(pg_catalog.=) $2 AND map_index IS NULL",
				2, argtypes, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("run %lld has no task \"%s\"", (long long) run_id,
						task_name),
				 errhint("The run's tasks are the rows of dagsched.task_run with its run_id.")));
}

/* A max_active_runs slot for the resumed run of dag_name, or 0 */
static int
run_resume_slot(int64 run_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	char	   *dag_name;
	int			max_active;

	values[0] = Int64GetDatum(run_id);
	CatalogExec("SELECT dag_name FROM dagsched.dag_run "
				"WHERE run_id OPERATOR(pg_catalog.=) $1",
				1, argtypes, values, NULL);
	if (SPI_processed == 0)
		return 0;
	dag_name = CatalogText(0, 1);
	max_active = CatalogMaxActiveRuns(dag_name);
	return RunSlotTake(dag_name, max_active, NULL, false, true);
}

/*
 * A finished run whose tasks were reset goes on: running when
 * max_active_runs leaves room (its pending tasks are decided now), else
 * queued behind the others.  A run left with nothing to do ends at once.
 * Returns how many tasks became queued.
 */
static int
run_resume(int64 run_id)
{
	int			slot;
	char	   *dag_name;
	char	   *state;
	int			nqueued = 0;

	slot = run_resume_slot(run_id);
	state = RunResumed(run_id, slot, &dag_name);
	CatalogNotify(run_id, dag_name, NULL, state);
	if (slot > 0)
	{
		List	   *ended = NIL;
		int			q;

		nqueued = TasksEvaluated(run_id, &ended);
		nqueued += run_propagate_ended(run_id, ended);
		if (nqueued == 0 && RunFinishIfDone(run_id, &q))
			nqueued += q;
	}
	return nqueued;
}

/*
 * Resume a finished run: its failed, upstream_failed and cancelled tasks,
 * and every task below them, go back to pending with the tasks' current
 * definitions and fresh tallies; the other successes are kept.  The resumed
 * run counts against max_active_runs like a new one.  Returns how many
 * tasks were reset.
 */
int
RunRetry(int64 run_id, int *nqueued)
{
	int			nreset;
	bool		requested;

	run_check_resumable(run_id, run_lock_state(run_id, &requested, nqueued));
	nreset = TasksReset(run_id, NULL, false);
	if (nreset > 0)
		*nqueued += run_resume(run_id);
	return nreset;
}

/*
 * Re-run one task of a finished run, whatever its outcome, and with
 * downstream every task below it (Airflow's "clear").  Returns how many
 * tasks were reset.
 */
int
RunClearTask(int64 run_id, const char *task_name, bool downstream,
			 int *nqueued)
{
	int			nreset;
	bool		requested;

	run_check_resumable(run_id, run_lock_state(run_id, &requested, nqueued));
	run_check_task(run_id, task_name);
	nreset = TasksReset(run_id, task_name, downstream);
	if (nreset > 0)
		*nqueued += run_resume(run_id);
	return nreset;
}

static TaskOutcome
run_outcome_of(const char *state)
{
	if (strcmp(state, TS_SUCCESS) == 0)
		return TASK_OUTCOME_SUCCESS;
	if (strcmp(state, TS_SKIPPED) == 0)
		return TASK_OUTCOME_SKIPPED;
	return TASK_OUTCOME_FAILED;
}

/*
 * Set a task that has ended or not yet started to success, failed or
 * skipped by hand, as if it had ended so: in a running run, its pending
 * downstream tasks count the new outcome at once; a task that had ended
 * already had its downstream decided, so the tasks below it that did not
 * run are decided again (those that ran keep their outcome).  A finished
 * run resumes if that leaves something to run; otherwise its state follows
 * its tasks at once.  Returns how many tasks became queued.
 */
int
RunMarkTask(int64 run_id, const char *task_name, const char *state,
			const char *who)
{
	char	   *run_state;
	char	   *old_state;
	char	   *dag_name;
	ArrayType  *downstream;
	bool		requested;
	bool		was_waiting;
	int			nqueued;
	int			q;
	int			nundecided = 0;

	run_state = run_lock_state(run_id, &requested, &nqueued);
	downstream = TaskMarked(run_id, task_name, state, who, &old_state);
	CatalogNotify(run_id, NULL, task_name, state);
	was_waiting = strcmp(old_state, TS_PENDING) == 0 ||
		strcmp(old_state, TS_QUEUED) == 0 ||
		strcmp(old_state, TS_RETRY_WAIT) == 0 ||
		strcmp(old_state, TS_SENSING) == 0;

	/* in a queued run, the tasks are decided when it starts */
	if (was_waiting && strcmp(run_state, RS_RUNNING) == 0)
		nqueued += run_propagate(run_id, downstream, run_outcome_of(state));
	else
		nundecided = TasksUndecided(run_id, downstream);

	if (!run_is_active(run_state))
	{
		if (nundecided > 0)
			return nqueued + run_resume(run_id);
		run_state = RunRestated(run_id, &dag_name);
		CatalogNotify(run_id, dag_name, NULL, run_state);
		return nqueued;
	}
	if (strcmp(run_state, RS_RUNNING) == 0)
	{
		List	   *ended = NIL;

		nqueued += TasksEvaluated(run_id, &ended);
		nqueued += run_propagate_ended(run_id, ended);
		if (RunFinishIfDone(run_id, &q))
			nqueued += q;
	}
	return nqueued;
}

/*
 * Mapped tasks left waiting although none of their instances is active:
 * the worker that ended the last one died before it looked, or the last
 * one was an orphan the scheduler failed.  End them now; *nended says how
 * many ended.  Returns how many tasks became queued.
 */
int
RunFinishStrandedMapped(int *nended)
{
	uint64		n;
	uint64		i;
	int64	   *ids;
	char	  **names;
	int			nqueued = 0;

	CatalogExec("SELECT run_id, task_name FROM dagsched.task_run "
				"WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(TS_RUNNING)
				" AND pid IS NULL AND map_count IS NOT NULL",
				0, NULL, NULL, NULL);
	n = SPI_processed;
	ids = palloc(sizeof(int64) * Max(n, 1));
	names = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(CatalogDatum(i, 1, &isnull));
		names[i] = CatalogText(i, 2);
	}
	*nended = 0;
	for (i = 0; i < n; i++)
	{
		bool		ended;

		nqueued += RunMappedIfDone(ids[i], names[i], &ended);
		if (ended)
			(*nended)++;
	}
	return nqueued;
}

/*
 * Runs left "running" although none of their tasks is unfinished: their
 * ending was lost in a crash.  End them now.  Returns how many tasks became
 * queued by the runs that started.
 */
int
RunFinishStranded(int *nfinished)
{
	uint64		n;
	uint64		i;
	int64	   *ids;
	int			nqueued = 0;
	int			nmapped;

	*nfinished = 0;
	nqueued = RunFinishStrandedMapped(&nmapped);
	CatalogExec("SELECT run_id FROM dagsched.dag_run "
				"WHERE state OPERATOR(pg_catalog.=) " SQL_LIT(RS_RUNNING),
				0, NULL, NULL, NULL);
	n = SPI_processed;
	ids = palloc(sizeof(int64) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		ids[i] = DatumGetInt64(CatalogDatum(i, 1, &isnull));
	}
	for (i = 0; i < n; i++)
	{
		int			q;

		if (RunFinishIfDone(ids[i], &q))
			(*nfinished)++;
		nqueued += q;
	}
	return nqueued;
}
