/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  Task worker: a dynamic background worker that claims queued tasks and
 *	  runs them, one at a time, until it has been idle for a while.
 *
 * The dependency hop is this file's reason to exist.  A SQL task runs in one
 * transaction with the recording of its success and the queueing of the
 * tasks it unblocks; after that commit the worker wakes idle workers for the
 * extra ready tasks and claims the next one itself.  No scheduler loop and no
 * polling sits between a task and its downstream tasks.
 *
 * Tasks run as the DAG's owner, with SECURITY_LOCAL_USERID_CHANGE so that
 * they cannot switch roles, and inside a GUC nest level that is unwound
 * after the task: settings a task makes never reach the worker's bookkeeping
 * or the next task.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "commands/async.h"
#include "commands/prepare.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
#include "utils/timestamp.h"

#include "dagsched.h"
#include "dbtask.h"
#include "remote.h"
#include "run.h"
#include "shell.h"
#include "shmem.h"

static MemoryContext WorkerContext = NULL;

/* runs of one attempt when it is a deadlock or serialization victim */
#define WORKER_TRANSIENT_TRIES	3

/* the superuser this worker connected as; tasks borrow other identities */
static Oid	WorkerSessionUser = InvalidOid;

/* a run whose last task this worker may have ended; checked after commit */
static int64 pending_finish_run = 0;

/*
 * The task claimed in the transaction that recorded the previous task's
 * success: one commit both ends a task and starts the next.  Task strings
 * live in one of two contexts, alternating, so that the claimed task
 * survives the reset of the previous one's.
 */
static ClaimedTask next_task;
static bool have_next = false;
static MemoryContext TaskContext[2];
static int	cur_task_cxt = 0;

/* a task ran since the session was last reset */
static bool session_dirty = false;

static bool worker_step(void);
static void worker_run_sql(ClaimedTask *task);
static void worker_run_outside(ClaimedTask *task);
static void worker_record_failure(ClaimedTask *task, const char *error,
								  const char *output);
static void worker_after_success(ClaimedTask *task, int nqueued,
								 bool may_have_ended);

typedef struct WorkerErrorContext
{
	ClaimedTask *task;
} WorkerErrorContext;

static void
worker_error_callback(void *arg)
{
	ClaimedTask *task = (ClaimedTask *) arg;

	errcontext("dagsched task \"%s\" of DAG \"%s\", run %lld, attempt %d",
			   task->task_name, task->dag_name, (long long) task->run_id,
			   task->attempt);
}

void
DagschedWorkerMain(Datum main_arg)
{
	TimestampTz last_busy;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(DagschedDatabaseName, NULL, 0);
	pgstat_report_appname("dagsched worker");
	WorkerSessionUser = GetSessionUserId();

	if (DagschedWorkerAttach() < 0)
	{
		ereport(LOG,
				(errmsg("dagsched worker exiting: all worker slots are taken")));
		proc_exit(0);
	}

	WorkerContext = AllocSetContextCreate(TopMemoryContext,
										  "dagsched worker",
										  ALLOCSET_DEFAULT_SIZES);
	TaskContext[0] = AllocSetContextCreate(TopMemoryContext,
										   "dagsched task",
										   ALLOCSET_SMALL_SIZES);
	TaskContext[1] = AllocSetContextCreate(TopMemoryContext,
										   "dagsched task",
										   ALLOCSET_SMALL_SIZES);
	last_busy = GetCurrentTimestamp();

	for (;;)
	{
		bool		worked;
		int			rc;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		worked = worker_step();
		if (!worked)
		{
			/*
			 * Advertise idleness before the last look for work: a task queued
			 * after that look finds this worker idle and sets its latch.
			 */
			DagschedWorkerSetIdle();
			worked = worker_step();
		}
		if (worked)
		{
			last_busy = GetCurrentTimestamp();
			continue;
		}

		rc = WaitLatch(MyLatch,
					   WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					   DagschedWorkerIdleTimeout * 1000L,
					   PG_WAIT_EXTENSION);
		if ((rc & WL_TIMEOUT) &&
			TimestampDifferenceExceeds(last_busy, GetCurrentTimestamp(),
									   DagschedWorkerIdleTimeout * 1000) &&
			DagschedWorkerTryRetire())
			proc_exit(0);
	}
}

/*
 * Forget what the previous task left in this session, as DISCARD ALL would:
 * temporary tables, prepared statements, held cursors, advisory locks,
 * LISTEN registrations and sequence caches.  Settings need no reset here:
 * the GUC nest level around each task already unwound them.
 */
static void
worker_reset_session(void)
{
	PortalHashTableDeleteAll();
	DropAllPreparedStatements();
	Async_UnlistenAll();
	LockReleaseAll(USER_LOCKMETHOD, true);
	ResetTempTableNamespace();
	ResetSequenceCaches();
	session_dirty = false;
}

/*
 * One turn: in one transaction, end the run the previous task may have
 * finished and claim the next task; then run it.  Returns false when there
 * was nothing to do.
 */
static bool
worker_step(void)
{
	ClaimedTask task = {0};
	volatile bool from_next = have_next;
	bool		claimed = false;
	bool		run_finished = false;
	int			nqueued = 0;

	MemoryContextReset(WorkerContext);
	if (have_next)
	{
		/* claimed already; its strings are in the other context */
		task = next_task;
		have_next = false;
		cur_task_cxt = 1 - cur_task_cxt;
	}
	else
	{
		cur_task_cxt = 1 - cur_task_cxt;
		MemoryContextReset(TaskContext[cur_task_cxt]);
	}

	/*
	 * The task claimed with the previous commit needs no transaction of its
	 * own, unless a run may have ended or the session needs resetting.
	 */
	if (from_next && pending_finish_run == 0 && !session_dirty)
	{
		DagschedWorkerSetTask(task.run_id, task.task_name);
		claimed = true;
	}
	else
	{
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (session_dirty)
			worker_reset_session();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "dagsched: claiming a task");

		if (pending_finish_run != 0)
		{
			run_finished = RunFinishIfDone(pending_finish_run, &nqueued);
			pending_finish_run = 0;
		}

		if (task.run_id != 0)
			claimed = true;
		else
			claimed = RunClaimTask(&task, TaskContext[cur_task_cxt]);
		if (claimed)
			DagschedWorkerSetTask(task.run_id, task.task_name);

		/*
		 * The claim commits durably before the task starts: after a crash,
		 * the interrupted attempt must be found "running" and counted.
		 * started_at is set before this commit, so the hop measured from the
		 * upstream task's finish includes one commit, not two.
		 */
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		/* e.g. a cancel aimed at the previous task arrived late */
		MemoryContextSwitchTo(WorkerContext);
		EmitErrorReport();
		FlushErrorState();
		QueryCancelPending = false;
		AbortCurrentTransaction();
		if (from_next)
		{
			/* the task claimed with the previous commit is still ours */
			next_task = task;
			have_next = true;
			cur_task_cxt = 1 - cur_task_cxt;
		}
		pgstat_report_activity(STATE_IDLE, NULL);
		return false;
	}
	PG_END_TRY();
	}

	if (run_finished)
		DagschedBroadcastRunFinished();
	if (nqueued > 0)
		DagschedWakeWorkers(nqueued);

	if (!claimed)
	{
		pgstat_report_activity(STATE_IDLE, NULL);
		return false;
	}

	if (DagschedLogTasks)
		ereport(LOG,
				(errmsg("dagsched: starting task \"%s\" of DAG \"%s\", run %lld, attempt %d",
						task.task_name, task.dag_name, (long long) task.run_id,
						task.attempt)));

	if (strcmp(task.kind, "shell") == 0 || task.conninfo != NULL ||
		(task.database != NULL &&
		 strcmp(task.database, DagschedDatabaseName) != 0))
		worker_run_outside(&task);
	else
		worker_run_sql(&task);

	pgstat_report_activity(STATE_IDLE, NULL);
	return true;
}

/*
 * The role a task runs as.  Checked at every attempt, because the owner may
 * have been dropped or lost LOGIN or CONNECT since the DAG was defined.
 */
static Oid
worker_owner_oid(const char *owner)
{
	HeapTuple	tup;
	Form_pg_authid form;
	Oid			roleid;
	bool		canlogin;

	tup = SearchSysCache1(AUTHNAME, CStringGetDatum(owner));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("owner role \"%s\" of the DAG does not exist", owner)));
	form = (Form_pg_authid) GETSTRUCT(tup);
	roleid = form->oid;
	canlogin = form->rolcanlogin;
	ReleaseSysCache(tup);

	if (!canlogin)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("owner role \"%s\" of the DAG is not permitted to log in",
						owner)));
	if (DagschedDatabaseAclCheck(MyDatabaseId, roleid, ACL_CONNECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("owner role \"%s\" of the DAG may not connect to database \"%s\"",
						owner, DagschedDatabaseName)));
	return roleid;
}

static void
worker_set_context(ClaimedTask *task)
{
	char		attempt[16];
	char		run_id[32];

	snprintf(attempt, sizeof(attempt), "%d", task->attempt);
	snprintf(run_id, sizeof(run_id), INT64_FORMAT, task->run_id);
	set_config_option("dagsched.run_id", run_id, PGC_USERSET,
					  PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
	set_config_option("dagsched.logical_time", task->logical_time, PGC_USERSET,
					  PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
	set_config_option("dagsched.dag_name", task->dag_name, PGC_USERSET,
					  PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
	set_config_option("dagsched.task_name", task->task_name, PGC_USERSET,
					  PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
	set_config_option("dagsched.params", task->params, PGC_USERSET,
					  PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
	set_config_option("dagsched.attempt", attempt, PGC_USERSET,
					  PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
}

static char *
worker_error_text(ErrorData *edata, ClaimedTask *task)
{
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && task->timeout_ms > 0 &&
		edata->message && strstr(edata->message, "statement timeout"))
		return psprintf("%s: task timed out after %d ms",
						unpack_sql_state(edata->sqlerrcode), task->timeout_ms);
	/* the detail often says what to fix (or, for a deadlock, with whom) */
	return psprintf("%s: %s%s%s", unpack_sql_state(edata->sqlerrcode),
					edata->message ? edata->message : "unknown error",
					edata->detail ? "\nDETAIL: " : "",
					edata->detail ? edata->detail : "");
}

/*
 * Run a SQL task.  Its effects, its success and the queueing of what it
 * unblocks commit together; on error all of that rolls back and the failure
 * is recorded in a transaction of its own.
 */
static void
worker_run_sql(ClaimedTask *task)
{
	ErrorContextCallback errcallback;
	volatile int nqueued = 0;
	volatile bool ok = false;
	volatile int tries = 0;
	bool		may_have_ended = false;
	char	   *error = NULL;

	errcallback.callback = worker_error_callback;
	errcallback.arg = task;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

again:
	session_dirty = true;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		Oid			owner;
		Oid			save_userid;
		int			save_sec_context;
		int			nestlevel;
		int			ret;
		char	   *output;

		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, task->command);

		owner = worker_owner_oid(task->owner);
		nestlevel = NewGUCNestLevel();
		worker_set_context(task);
		GetUserIdAndSecContext(&save_userid, &save_sec_context);
		/* session_user too: the task sees only its owner */
		SetSessionAuthorization(owner, superuser_arg(owner));
		SetUserIdAndSecContext(owner,
							   save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		if (task->timeout_ms > 0)
			enable_timeout_after(STATEMENT_TIMEOUT, task->timeout_ms);

		ret = SPI_execute(task->command, false, 0);

		/*
		 * Whatever the task left to run at commit must run now, as the
		 * owner: its deferred triggers fire here, and cursors WITH HOLD
		 * (whose query would run at commit) are dropped.  Otherwise that
		 * code would run as the superuser once the identity is restored.
		 */
		AfterTriggerFireDeferred();
		worker_reset_session();

		if (task->timeout_ms > 0)
			disable_timeout(STATEMENT_TIMEOUT, false);
		SetUserIdAndSecContext(save_userid, save_sec_context);
		SetSessionAuthorization(WorkerSessionUser, true);
		AtEOXact_GUC(false, nestlevel);
		if (ret < 0)
			elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(ret));
		output = RunCommandTag(ret, SPI_processed);

		nqueued = RunTaskSucceeded(task, output);

		/* take the next task in the same commit */
		MemoryContextReset(TaskContext[1 - cur_task_cxt]);
		have_next = RunClaimTask(&next_task, TaskContext[1 - cur_task_cxt]);
		if (have_next)
			DagschedWorkerSetNext(next_task.run_id, next_task.task_name);

		/*
		 * Whether the run ended with this task can only be settled after
		 * commit, by a look that sees every other worker's commit.  When
		 * this worker has just claimed another task of the same run, it
		 * will look after that one instead.
		 */
		may_have_ended = !(have_next && next_task.run_id == task->run_id);

		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(WorkerContext);
		edata = CopyErrorData();
		FlushErrorState();
		disable_timeout(STATEMENT_TIMEOUT, false);
		QueryCancelPending = false;
		AbortCurrentTransaction();
		SetSessionAuthorization(WorkerSessionUser, true);
		session_dirty = true;	/* the reset, if done, rolled back too */
		if (have_next)
		{
			/* the claim rolled back with the rest */
			have_next = false;
			DagschedWorkerSetTask(task->run_id, task->task_name);
		}
		error = worker_error_text(edata, task);
		/* a deadlock or serialization victim: everything rolled back */
		if (edata->sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
			edata->sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE)
			tries++;
		else
			tries = WORKER_TRANSIENT_TRIES;
	}
	PG_END_TRY();

	/*
	 * Transaction-rollback errors are transient by definition: run the same
	 * attempt again, a few times, before calling it a failure.  Nothing of
	 * the rolled-back transaction remains, so its effects still land once.
	 */
	if (!ok && tries < WORKER_TRANSIENT_TRIES)
	{
		ereport(LOG,
				(errmsg("dagsched: task \"%s\" of run %lld rolled back (%s), running it again",
						task->task_name, (long long) task->run_id, error)));
		goto again;
	}

	if (ok)
		worker_after_success(task, nqueued, may_have_ended);
	else
		worker_record_failure(task, error, NULL);

	error_context_stack = errcallback.previous;
}

/*
 * Run a task this process cannot run inside its own transaction: a shell
 * task, or a SQL task in another database.  It runs outside any transaction
 * and its outcome is recorded afterwards (at-least-once: a crash in between
 * runs it again).
 */
static void
worker_run_outside(ClaimedTask *task)
{
	ErrorContextCallback errcallback;
	char	   *output = NULL;
	char	   *error = NULL;
	volatile int nqueued = 0;
	volatile bool ok = false;
	bool		may_have_ended = false;

	errcallback.callback = worker_error_callback;
	errcallback.arg = task;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	pgstat_report_activity(STATE_RUNNING, task->command);
	PG_TRY();
	{
		bool		success;

		bool		shell = (strcmp(task->kind, "shell") == 0);

		/* privileges are checked again at run time: they may be revoked */
		StartTransactionCommand();
		(void) worker_owner_oid(task->owner);
		if (shell)
			ShellCheckPrivilege(task->owner);
		else if (task->conninfo != NULL)
			RemoteCheckAccess(task);
		else
			DbTaskCheckAccess(task);
		CommitTransactionCommand();

		if (shell)
			success = ShellRunTask(task, &output, &error);
		else if (task->conninfo != NULL)
			success = RemoteRunTask(task, &output, &error);
		else
			success = DbTaskRun(task, &output, &error);

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		if (success)
			nqueued = RunTaskSucceeded(task, output);
		may_have_ended = true;
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		ok = success;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(WorkerContext);
		edata = CopyErrorData();
		FlushErrorState();
		QueryCancelPending = false;
		AbortCurrentTransaction();
		error = worker_error_text(edata, task);
	}
	PG_END_TRY();

	if (ok)
		worker_after_success(task, nqueued, may_have_ended);
	else
		worker_record_failure(task, error ? error : "unknown error", output);

	error_context_stack = errcallback.previous;
}

static void
worker_after_success(ClaimedTask *task, int nqueued, bool may_have_ended)
{
	if (DagschedLogTasks)
		ereport(LOG,
				(errmsg("dagsched: task \"%s\" of DAG \"%s\", run %lld succeeded",
						task->task_name, task->dag_name,
						(long long) task->run_id)));

	/* this worker takes one of the queued tasks itself */
	if (nqueued > 1)
		DagschedWakeWorkers(nqueued - 1);
	if (may_have_ended)
		pending_finish_run = task->run_id;
}

static void
worker_record_failure(ClaimedTask *task, const char *error, const char *output)
{
	bool		retry_wait = false;
	int			nqueued;

	ereport(LOG,
			(errmsg("dagsched: task \"%s\" of DAG \"%s\", run %lld, attempt %d failed: %s",
					task->task_name, task->dag_name, (long long) task->run_id,
					task->attempt, error)));

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	nqueued = RunTaskFailed(task->run_id, task->task_name, MyProcPid, error,
							output, &retry_wait);
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();

	if (retry_wait)
		DagschedWakeScheduler();	/* it sleeps until the earliest retry */
	else
		pending_finish_run = task->run_id;
	if (nqueued > 1)
		DagschedWakeWorkers(nqueued - 1);
}
