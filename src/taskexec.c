/*-------------------------------------------------------------------------
 *
 * taskexec.c
 *	  The task-execution skeleton every runner shares, and the runner for
 *	  SQL in the catalog's database.
 *
 * An attempt goes through the same steps whatever runs it:
 *
 *	1. check the owner (LOGIN, CONNECT) and whatever the runner checks;
 *	2. set the task's context (dagsched.* settings) inside a GUC nest level
 *	   and become the owner, with SECURITY_LOCAL_USERID_CHANGE so that the
 *	   task cannot switch roles;
 *	3. run it -- inside the transaction that records its success (SQL here:
 *	   exactly once) or outside any transaction (shell, other database,
 *	   remote server: at-least-once);
 *	4. record the outcome: success and the queueing of what it unblocks, or
 *	   the failure with its text, in a transaction of its own.
 *
 * Settings a task makes die with its GUC nest level; the rest of what it
 * may leave in the session (temporary tables, prepared statements, cursors,
 * advisory locks, LISTEN) is reset before the next task or internal work.
 *
 * A timeout is known from our own timer's flag, never from the text of the
 * error, which lc_messages translates; a task that raises query_canceled
 * itself is not mistaken for a timeout either.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/taskexec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/prepare.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timeout.h"

#include "dagsched.h"
#include "mapped.h"
#include "output.h"
#include "results.h"
#include "shmem.h"
#include "states.h"
#include "taskexec.h"

/* runs of one attempt when it is a deadlock or serialization victim */
#define TASKEXEC_TRANSIENT_TRIES	3

/* a task ran since the session was last reset */
static bool session_dirty = false;

/* the task timer: registered once per process, flag set when it fires */
static TimeoutId task_timer = MAX_TIMEOUTS;
static volatile sig_atomic_t task_timer_fired = false;

/* The identity a task borrows, to be given back */
typedef struct TaskIdentity
{
	Oid			save_userid;
	int			save_sec_context;
	int			nestlevel;
} TaskIdentity;

static void
taskexec_error_callback(void *arg)
{
	ClaimedTask *task = (ClaimedTask *) arg;

	errcontext("dagsched task \"%s\" of DAG \"%s\", run %lld, attempt %d",
			   task->task_name, task->dag_name, (long long) task->run_id,
			   task->attempt);
}

/*
 * The runner for a task.  Another database or server, a program, or
 * statements that must each be a transaction of their own (autocommit)
 * cannot run inside this worker's transaction; everything else is SQL here.
 */
const TaskRunner *
TaskRunnerFor(const ClaimedTask *task)
{
	if (strcmp(task->kind, TASK_KIND_SENSOR) == 0)
		return &TaskRunnerSensor;
	if (strcmp(task->kind, TASK_KIND_SHELL) == 0)
		return &TaskRunnerShell;
	if (task->conninfo != NULL)
		return &TaskRunnerRemote;
	if (task->autocommit)
		return &TaskRunnerAutocommit;
	if (task->database != NULL &&
		strcmp(task->database, DagschedDatabaseName) != 0)
		return &TaskRunnerOtherDb;
	return &TaskRunnerSql;
}

bool
TaskSessionDirty(void)
{
	return session_dirty;
}

/*
 * Forget what the previous task left in this session, as DISCARD ALL would:
 * temporary tables, prepared statements, held cursors, advisory locks,
 * LISTEN registrations and sequence caches.  Settings need no reset here:
 * the GUC nest level around each task already unwound them.
 */
void
TaskResetSession(void)
{
	PortalHashTableDeleteAll();
	DropAllPreparedStatements();
	Async_UnlistenAll();
	LockReleaseAll(USER_LOCKMETHOD, true);
	ResetTempTableNamespace();
	ResetSequenceCaches();
	session_dirty = false;
}

/* Signal handler context: like the statement timeout, plus our flag. */
static void
taskexec_timer_handler(void)
{
	task_timer_fired = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

void
TaskTimerArm(int timeout_ms)
{
	if (task_timer == MAX_TIMEOUTS)
		task_timer = RegisterTimeout(USER_TIMEOUT, taskexec_timer_handler);
	task_timer_fired = false;
	if (timeout_ms > 0)
		enable_timeout_after(task_timer, timeout_ms);
}

void
TaskTimerDisarm(void)
{
	if (task_timer != MAX_TIMEOUTS)
		disable_timeout(task_timer, false);
}

bool
TaskTimerFired(void)
{
	return task_timer_fired;
}

/*
 * The text task_run.error records: SQLSTATE and message, with the detail
 * (it often says what to fix or, for a deadlock, with whom) and the hint,
 * or ours for errors that name internals the task never wrote.  A cancel
 * our own timer caused is reported as the timeout it was.
 */
char *
TaskErrorText(const ErrorData *edata, int timeout_ms, bool timed_out)
{
	const char *hint = edata->hint ? edata->hint : OutputErrorHint(edata);

	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && timed_out)
		return psprintf("%s: task timed out after %d ms",
						unpack_sql_state(edata->sqlerrcode), timeout_ms);
	return psprintf("%s: %s%s%s%s%s", unpack_sql_state(edata->sqlerrcode),
					edata->message ? edata->message : "unknown error",
					edata->detail ? "\nDETAIL: " : "",
					edata->detail ? edata->detail : "",
					hint ? "\nHINT: " : "", hint ? hint : "");
}

/* "SELECT 3", "INSERT 5"-like summary of what a task's last statement did */
char *
TaskCommandTag(int spi_result, uint64 processed)
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

/*
 * The role a task runs as.  Checked at every attempt, because the owner may
 * have been dropped or lost LOGIN or CONNECT since the DAG was defined.
 * Needs a transaction.
 */
static void
taskexec_check_owner(const ClaimedTask *task, TaskOwner *owner)
{
	HeapTuple	tup;
	Form_pg_authid form;
	bool		canlogin;

	tup = SearchSysCache1(AUTHNAME, CStringGetDatum(task->owner));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("owner role \"%s\" of the DAG does not exist",
						task->owner)));
	form = (Form_pg_authid) GETSTRUCT(tup);
	owner->roleid = form->oid;
	owner->name = task->owner;
	canlogin = form->rolcanlogin;
	ReleaseSysCache(tup);
	owner->superuser = superuser_arg(owner->roleid);

	if (!canlogin)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("owner role \"%s\" of the DAG is not permitted to log in",
						task->owner)));
	if (DagschedDatabaseAclCheck(MyDatabaseId, owner->roleid,
								 ACL_CONNECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("owner role \"%s\" of the DAG may not connect to database \"%s\"",
						task->owner, DagschedDatabaseName)));
}

static void
taskexec_set(const char *name, const char *value)
{
	set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
					  GUC_ACTION_SET, true, 0, false);
}

/* The task's context as dagsched.* settings, in the current nest level */
static void
taskexec_set_context(const ClaimedTask *task)
{
	char		attempt[16];
	char		run_id[32];

	snprintf(attempt, sizeof(attempt), "%d", task->attempt);
	snprintf(run_id, sizeof(run_id), INT64_FORMAT, task->run_id);
	taskexec_set("dagsched.run_id", run_id);
	taskexec_set("dagsched.logical_time", task->logical_time);
	taskexec_set("dagsched.dag_name", task->dag_name);
	taskexec_set("dagsched.task_name", task->task_name);
	taskexec_set("dagsched.params", task->params);
	taskexec_set("dagsched.attempt", attempt);
}

/*
 * Become the owner for the task, its context set in a new GUC nest level,
 * its timer armed.  session_user too: the task sees only its owner.
 */
static void
taskexec_become_owner(const ClaimedTask *task, const TaskOwner *owner,
					  TaskIdentity *id)
{
	id->nestlevel = NewGUCNestLevel();
	taskexec_set_context(task);
	GetUserIdAndSecContext(&id->save_userid, &id->save_sec_context);
	SetSessionAuthorization(owner->roleid, owner->superuser);
	SetUserIdAndSecContext(owner->roleid,
						   id->save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	TaskTimerArm(task->timeout_ms);
}

/* Give the identity back and unwind what the task set. */
static void
taskexec_restore_identity(TaskIdentity *id)
{
	TaskTimerDisarm();
	SetUserIdAndSecContext(id->save_userid, id->save_sec_context);
	SetSessionAuthorization(GetAuthenticatedUserId(), true);
	AtEOXact_GUC(false, id->nestlevel);
}

static void
taskexec_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

static void
taskexec_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * After an error: keep its data, roll back, and be this worker again.  The
 * task's timer and any cancel it caused are cleared.
 */
static ErrorData *
taskexec_abort(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	TaskTimerDisarm();
	QueryCancelPending = false;
	AbortCurrentTransaction();
	SetSessionAuthorization(GetAuthenticatedUserId(), true);
	return edata;
}

/*
 * The task's condition, as its owner with the task's context set: NULL when
 * the task may run, else why it is skipped.  An error in the query is the
 * task's failure.  Only the first column of the first row counts; a query
 * that returns no row counts as NULL.
 */
static const char *
taskexec_condition_skips(const ClaimedTask *task)
{
	int			ret;
	bool		isnull;
	Datum		d;

	if (task->condition == NULL)
		return NULL;
	ret = SPI_execute(task->condition, false, 2);
	if (ret != SPI_OK_SELECT)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("condition of task \"%s\" is not a query", task->task_name)));
	if (SPI_tuptable->tupdesc->natts != 1 ||
		SPI_gettypeid(SPI_tuptable->tupdesc, 1) != BOOLOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("condition of task \"%s\" must return one boolean column",
						task->task_name)));
	if (SPI_processed > 1)
		ereport(ERROR,
				(errcode(ERRCODE_CARDINALITY_VIOLATION),
				 errmsg("condition of task \"%s\" returned more than one row",
						task->task_name)));
	if (SPI_processed == 0)
		return "skipped: condition returned no row";
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return "skipped: condition is NULL";
	return DatumGetBool(d) ? NULL : "skipped: condition is false";
}

/*
 * One try of an in-transaction attempt: run it as its owner, record its
 * success, claim the next task, all in one commit.  Throws on any error.
 */
static void
taskexec_try_in_xact(const TaskRunner *runner, ClaimedTask *task,
					 TaskNextClaim *next, TaskResult *result)
{
	TaskOwner	owner;
	TaskIdentity id;
	char	   *output = NULL;
	char	   *error = NULL;
	const char *skip;
	bool		claimed_queued;
	bool		waits = false;

	task_timer_fired = false;	/* a timer of an earlier try is no news */
	ResultsForget();
	taskexec_begin(task->command);
	taskexec_check_owner(task, &owner);
	if (runner->check_access)
		runner->check_access(task, &owner);
	if (runner->poke)
	{
		/* a sensor's timer is what is left of its timeout */
		SensorCheckTimeout(task);
		task->timeout_ms = SensorRemainingMs(task);
	}

	taskexec_become_owner(task, &owner, &id);
	skip = taskexec_condition_skips(task);
	if (skip == NULL && runner->poke)
		waits = !runner->poke(task, &output);
	else if (skip == NULL && !runner->run(task, &owner, &output, &error))
		elog(ERROR, "%s", error ? error : "task failed");

	/*
	 * Whatever the task left to run at commit must run now, as the owner: its
	 * deferred triggers fire here, and cursors WITH HOLD (whose query would
	 * run at commit) are dropped.  Otherwise that code would run as the
	 * superuser once the identity is restored.
	 */
	AfterTriggerFireDeferred();
	TaskResetSession();
	taskexec_restore_identity(&id);

	if (waits)
	{
		/* not yet: wait for the next poke, unless the timeout has passed */
		SensorCheckTimeout(task);
		RunSensorWaits(task);
		taskexec_commit();
		result->sensing = true;
		result->succeeded = true;
		return;
	}

	/* take the next task in the same commit */
	MemoryContextReset(next->cxt);
	result->nqueued = RunTaskEndedAndClaim(task, skip, output,
										   ResultsPending(),
										   DagschedWorkerMayClaim(),
										   next->task, next->cxt,
										   &next->claimed, &claimed_queued);
	result->claimed_other = next->claimed && !claimed_queued;
	if (next->claimed)
		DagschedWorkerSetNext(next->task->run_id, next->task->task_name);

	/*
	 * Whether the run ended with this task can only be settled after commit,
	 * by a look that sees every other worker's commit.  When this worker has
	 * just claimed another task of the same run, it looks after that one.
	 */
	result->may_have_ended_run =
		!(next->claimed && next->task->run_id == task->run_id);
	taskexec_commit();
	result->succeeded = true;
}

/*
 * An attempt run inside the transaction that records it.  A deadlock or
 * serialization victim is run again, a few times, before it counts as a
 * failure: everything of the rolled-back try is gone, so its effects still
 * land once.  Returns the error text of a failure, NULL on success; on
 * failure *output receives the messages the task raised before it.
 */
static char *
taskexec_in_xact(const TaskRunner *runner, ClaimedTask *task,
				 TaskNextClaim *next, TaskResult *result, char **output)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			tries = 0;

	for (;;)
	{
		ErrorData  *edata = NULL;
		char	   *error;

		session_dirty = true;
		PG_TRY();
		{
			taskexec_try_in_xact(runner, task, next, result);
		}
		PG_CATCH();
		{
			edata = taskexec_abort(cxt);
			/* what the task said before it failed is worth keeping */
			*output = OutputCaptureEnd(NULL);
		}
		PG_END_TRY();
		if (result->succeeded)
			return NULL;

		/* the reset, if done, rolled back too; so did the claim */
		session_dirty = true;
		result->claimed_other = false;
		if (next->claimed)
		{
			next->claimed = false;
			DagschedWorkerSetTask(task->run_id, task->task_name);
		}
		if (runner->poke && edata->sqlerrcode == ERRCODE_QUERY_CANCELED &&
			TaskTimerFired())
			error = SensorTimeoutText(task);
		else
			error = TaskErrorText(edata, task->timeout_ms, TaskTimerFired());
		if ((edata->sqlerrcode != ERRCODE_T_R_DEADLOCK_DETECTED &&
			 edata->sqlerrcode != ERRCODE_T_R_SERIALIZATION_FAILURE) ||
			++tries >= TASKEXEC_TRANSIENT_TRIES)
			return error;
		/* the deadlock report's per-process statements: who, doing what */
		ereport(LOG,
				(errmsg("dagsched: task \"%s\" of run %lld rolled back (%s), running it again",
						task->task_name, (long long) task->run_id, error),
				 edata->detail_log ? errdetail_log("%s", edata->detail_log) : 0));
	}
}

/*
 * The owner's and the runner's checks, in a transaction of their own:
 * privileges are checked again at every attempt, they may be revoked.
 */
static void
taskexec_check_outside(const TaskRunner *runner, const ClaimedTask *task,
					   TaskOwner *owner)
{
	StartTransactionCommand();
	taskexec_check_owner(task, owner);
	if (runner->check_access)
		runner->check_access(task, owner);
	CommitTransactionCommand();
}

/*
 * The condition of a task run outside any transaction, evaluated in one of
 * its own; when it does not hold, the task's skip is recorded in the same
 * transaction.  True when it was skipped.
 */
static bool
taskexec_skipped_outside(const ClaimedTask *task, const TaskOwner *owner,
						 TaskResult *result)
{
	TaskIdentity id;
	const char *skip;

	if (task->condition == NULL)
		return false;
	session_dirty = true;
	taskexec_begin(task->condition);
	taskexec_become_owner(task, owner, &id);
	skip = taskexec_condition_skips(task);
	AfterTriggerFireDeferred();
	TaskResetSession();
	taskexec_restore_identity(&id);
	if (skip != NULL)
	{
		result->nqueued = RunTaskSkipped(task, skip);
		result->succeeded = true;
		result->may_have_ended_run = true;
	}
	taskexec_commit();
	return skip != NULL;
}

static bool
taskexec_run_outside(const TaskRunner *runner, const ClaimedTask *task,
					 const TaskOwner *owner, char **output, char **error)
{
	pgstat_report_activity(STATE_RUNNING, task->command);
	return runner->run(task, owner, output, error);
}

/*
 * An attempt run outside any transaction; its success is recorded after
 * it.  Returns the error text of a failure, NULL on success; *output may
 * be set either way.
 */
static char *
taskexec_outside(const TaskRunner *runner, ClaimedTask *task,
				 TaskResult *result, char **output)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *volatile error = NULL;
	char	   *volatile out = NULL;

	PG_TRY();
	{
		TaskOwner	owner;
		char	   *o = NULL;
		char	   *e = NULL;

		taskexec_check_outside(runner, task, &owner);
		if (taskexec_skipped_outside(task, &owner, result))
			;					/* recorded */
		else if (taskexec_run_outside(runner, task, &owner, &o, &e))
		{
			out = o;
			taskexec_begin(task->command);
			result->nqueued = RunTaskSucceeded(task, o, ResultsPending());
			taskexec_commit();
			result->succeeded = true;
			result->may_have_ended_run = true;
		}
		else
		{
			out = o;
			error = e ? e : pstrdup("unknown error");
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata = taskexec_abort(cxt);

		error = TaskErrorText(edata, task->timeout_ms, false);
	}
	PG_END_TRY();
	*output = out;
	return error;
}

/*
 * A mapped task's turn: its condition, then its map_over query, both as its
 * owner with its context set, in the catalog's database whatever the task's
 * kind; the instances are queued (or the task skipped) in the same commit.
 * The instances run later, each by its own runner.  Returns the error text
 * of a failure, NULL on success.
 */
static char *
taskexec_map(ClaimedTask *task, TaskResult *result)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *volatile error = NULL;

	session_dirty = true;
	PG_TRY();
	{
		TaskOwner	owner;
		TaskIdentity id;
		const char *skip;
		ArrayType  *items = NULL;

		task_timer_fired = false;
		taskexec_begin(task->map_over);
		taskexec_check_owner(task, &owner);
		taskexec_become_owner(task, &owner, &id);
		skip = taskexec_condition_skips(task);
		if (skip == NULL)
			items = MappedItems(task);
		AfterTriggerFireDeferred();
		TaskResetSession();
		taskexec_restore_identity(&id);
		if (skip != NULL)
			result->nqueued = RunTaskSkipped(task, skip);
		else
			result->nqueued = RunTaskMapped(task, items);
		taskexec_commit();
		result->succeeded = true;
		result->may_have_ended_run = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata = taskexec_abort(cxt);

		error = TaskErrorText(edata, task->timeout_ms, TaskTimerFired());
	}
	PG_END_TRY();
	return error;
}

/* Record a failed attempt in a transaction of its own. */
static void
taskexec_record_failure(ClaimedTask *task, const char *error,
						const char *output, TaskResult *result)
{
	ereport(LOG,
			(errmsg("dagsched: task \"%s\" of DAG \"%s\", run %lld, attempt %d failed: %s",
					task->task_name, task->dag_name, (long long) task->run_id,
					task->attempt, error)));

	taskexec_begin("dagsched: recording a failure");
	result->nqueued = RunTaskFailed(task->run_id, task->task_name,
									task->map_index, MyProcPid, error, output,
									&result->retry_wait);
	taskexec_commit();
	result->may_have_ended_run = !result->retry_wait;
}

/*
 * Run one claimed attempt to its recorded end.  next receives the task
 * claimed in the same commit, when the runner allows it.
 */
void
TaskExecute(ClaimedTask *task, TaskNextClaim *next, TaskResult *result)
{
	const TaskRunner *runner = TaskRunnerFor(task);
	ErrorContextCallback errcallback;
	char	   *error;
	char	   *output = NULL;

	memset(result, 0, sizeof(*result));
	next->claimed = false;
	errcallback.callback = taskexec_error_callback;
	errcallback.arg = task;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (DagschedLogTasks)
		ereport(LOG,
				(errmsg("dagsched: starting task \"%s\" of DAG \"%s\", run %lld, attempt %d",
						task->task_name, task->dag_name,
						(long long) task->run_id, task->attempt)));

	/* set_result(), result(), map_item() work from here on, for this task */
	ResultsTaskBegin(task->run_id, task->task_name, task->map_index,
					 task->map_item);
	if (task->map_over != NULL && task->map_index < 0)
		error = taskexec_map(task, result);
	else if (runner->mode == TASK_RUNNER_IN_XACT)
		error = taskexec_in_xact(runner, task, next, result, &output);
	else
		error = taskexec_outside(runner, task, result, &output);
	ResultsTaskEnd();

	if (error != NULL)
		taskexec_record_failure(task, error, output, result);
	else if (result->sensing)
		;						/* not an end: the sensor pokes again */
	else if (DagschedLogTasks)
		ereport(LOG,
				(errmsg("dagsched: task \"%s\" of DAG \"%s\", run %lld succeeded",
						task->task_name, task->dag_name,
						(long long) task->run_id)));

	/*
	 * An instance that ended may have been its mapped task's last: the worker
	 * looks after this commit -- unless it claimed another instance of the
	 * same task in it, whose end will look in turn.
	 */
	if (task->map_index >= 0)
		result->instance_ended = error != NULL ? !result->retry_wait :
			!(next->claimed && next->task->map_index >= 0 &&
			  next->task->run_id == task->run_id &&
			  strcmp(next->task->task_name, task->task_name) == 0);

	error_context_stack = errcallback.previous;
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * SQL in the catalog's database, on this worker's SPI connection: rows
 * counted, not kept; the messages it raises kept after its command tag.
 * On error, the capture is ended by taskexec_in_xact.
 */
static bool
taskexec_sql_run(const ClaimedTask *task, const TaskOwner *owner,
				 char **output, char **error)
{
	char	   *tag;

	OutputCaptureBegin();
	tag = OutputExecuteSpi(task->command);
	*output = OutputCaptureEnd(tag);
	return true;
}

const TaskRunner TaskRunnerSql = {
	.name = "sql",
	.mode = TASK_RUNNER_IN_XACT,
	.check_access = NULL,
	.run = taskexec_sql_run,
};
