/*-------------------------------------------------------------------------
 *
 * dbtask.c
 *	  Running a SQL task in another database of the cluster, through a
 *	  short-lived background worker connected to that database as the DAG's
 *	  owner.
 *
 * A backend is bound to one database for life, so the task worker (bound
 * to the catalog's database) cannot run such a task itself.  It hands the
 * task to a helper process through a dynamic shared memory segment and
 * records the outcome in the catalog afterwards.  The task's effects and
 * its recorded success are therefore two transactions in two databases: a
 * crash between them runs the task again (at-least-once), as the README
 * says.  The helper connects as the owner, so current_user and session_user
 * are the owner there.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/dbtask.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"
#include "utils/wait_event.h"

#include "autocommit.h"
#include "dagsched.h"
#include "dbtask.h"
#include "output.h"
#include "taskexec.h"

#define DBTASK_ERROR_LEN	4096
/* the command tag, then the kept tail of the task's messages */
#define DBTASK_OUTPUT_LEN	(OUTPUT_MESSAGES_MAX + 1024)
#define DBTASK_POLL_MS		100

/* Layout of the shared segment; the strings follow the struct. */
typedef struct DbTaskShared
{
	char		database[NAMEDATALEN];
	char		owner[NAMEDATALEN];
	int			timeout_ms;
	int			attempt;
	bool		autocommit;
	int64		run_id;
	Size		off_command;
	Size		off_dag_name;
	Size		off_task_name;
	Size		off_logical_time;
	Size		off_params;
	/* written by the helper */
	bool		done;
	bool		success;
	char		error[DBTASK_ERROR_LEN];
	char		output[DBTASK_OUTPUT_LEN];
} DbTaskShared;

static void dbtask_check_access(const ClaimedTask *task,
								const TaskOwner *owner);
static bool dbtask_run(const ClaimedTask *task, const TaskOwner *owner,
					   char **output, char **error);

/* The runner of SQL tasks in another database (see taskexec.h) */
const TaskRunner TaskRunnerOtherDb = {
	.name = "other database",
	.mode = TASK_RUNNER_OUTSIDE_XACT,
	.check_access = dbtask_check_access,
	.run = dbtask_run,
};

/*
 * The runner of autocommit tasks, in any database, the catalog's included:
 * the helper's session is the owner's own, so its statements run as
 * top-level statements (autocommit.c) with no identity borrowed, and the
 * session dies with the task.
 */
const TaskRunner TaskRunnerAutocommit = {
	.name = "autocommit",
	.mode = TASK_RUNNER_OUTSIDE_XACT,
	.check_access = dbtask_check_access,
	.run = dbtask_run,
};

/* The database the task runs in: an autocommit task may run in the catalog's */
static const char *
dbtask_database(const ClaimedTask *task)
{
	return task->database ? task->database : DagschedDatabaseName;
}

/* CONNECT on the task's database is checked at run time: it may be revoked */
static void
dbtask_check_access(const ClaimedTask *task, const TaskOwner *owner)
{
	const char *database = dbtask_database(task);
	Oid			dboid = get_database_oid(database, true);

	if (!OidIsValid(dboid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_DATABASE),
				 errmsg("database \"%s\" of the task does not exist",
						database)));
	if (DagschedDatabaseAclCheck(dboid, owner->roleid, ACL_CONNECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("owner role \"%s\" of the DAG may not connect to database \"%s\"",
						task->owner, database)));
}

static Size
dbtask_put(char *base, Size *off, const char *s)
{
	Size		at = *off;
	Size		len = strlen(s ? s : "") + 1;

	memcpy(base + at, s ? s : "", len);
	*off += len;
	return at;
}

static bool
dbtask_run(const ClaimedTask *task, const TaskOwner *owner, char **output,
		   char **error)
{
	return DbTaskRun(task, output, error);
}

/* A segment holding everything the helper needs to run the task */
static dsm_segment *
dbtask_fill_segment(const ClaimedTask *task)
{
	Size		size;
	Size		off;
	dsm_segment *seg;
	DbTaskShared *shared;

	size = sizeof(DbTaskShared) + strlen(task->command) +
		strlen(task->dag_name) + strlen(task->task_name) +
		strlen(task->logical_time) + strlen(task->params) + 5;
	seg = dsm_create(size, 0);
	shared = dsm_segment_address(seg);
	memset(shared, 0, sizeof(DbTaskShared));
	strlcpy(shared->database, dbtask_database(task), NAMEDATALEN);
	strlcpy(shared->owner, task->owner, NAMEDATALEN);
	shared->timeout_ms = task->timeout_ms;
	shared->attempt = task->attempt;
	shared->autocommit = task->autocommit;
	shared->run_id = task->run_id;
	off = sizeof(DbTaskShared);
	shared->off_command = dbtask_put((char *) shared, &off, task->command);
	shared->off_dag_name = dbtask_put((char *) shared, &off, task->dag_name);
	shared->off_task_name = dbtask_put((char *) shared, &off, task->task_name);
	shared->off_logical_time = dbtask_put((char *) shared, &off,
										  task->logical_time);
	shared->off_params = dbtask_put((char *) shared, &off, task->params);
	return seg;
}

/* Start the helper, connected to the task's database as the owner */
static BackgroundWorkerHandle *
dbtask_start_helper(const ClaimedTask *task, dsm_segment *seg)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS |
		BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "dagsched", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "DagschedDbTaskMain", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "dagsched task in database %s",
			 dbtask_database(task));
	strlcpy(worker.bgw_type, "dagsched database task", BGW_MAXLEN);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		dsm_detach(seg);
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a process for a task in database \"%s\"",
						dbtask_database(task)),
				 errhint("Raise max_worker_processes.")));
	}
	return handle;
}

/*
 * Wait for the helper to end.  A cancel or shutdown aimed at this worker
 * stops the helper first, then is processed as usual; the segment is gone
 * by then, so nothing after it may run.
 */
static void
dbtask_wait_helper(const ClaimedTask *task, BackgroundWorkerHandle *handle,
				   dsm_segment *seg)
{
	for (;;)
	{
		pid_t		pid;
		BgwHandleStatus status = GetBackgroundWorkerPid(handle, &pid);

		if (status == BGWH_STOPPED || status == BGWH_POSTMASTER_DIED)
			return;
		if (QueryCancelPending || ProcDiePending)
		{
			TerminateBackgroundWorker(handle);
			(void) WaitForBackgroundWorkerShutdown(handle);
			dsm_detach(seg);
			CHECK_FOR_INTERRUPTS();
			/* a pending interrupt that did not throw: held off, shouldn't be */
			elog(ERROR, "task in database \"%s\" interrupted",
				 dbtask_database(task));
		}
		(void) WaitLatch(MyLatch,
						 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 DBTASK_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

bool
DbTaskRun(const ClaimedTask *task, char **output, char **error)
{
	dsm_segment *seg = dbtask_fill_segment(task);
	DbTaskShared *shared = dsm_segment_address(seg);
	BackgroundWorkerHandle *handle = dbtask_start_helper(task, seg);
	bool		success;

	dbtask_wait_helper(task, handle, seg);

	success = shared->done && shared->success;
	*output = shared->output[0] ? pstrdup(shared->output) : NULL;
	if (!success)
		*error = shared->done ? pstrdup(shared->error) :
			psprintf("the process running the task in database \"%s\" exited without a result",
					 dbtask_database(task));
	dsm_detach(seg);
	return success;
}

static void
dbtask_set(const char *name, const char *value)
{
	set_config_option(name, value, PGC_USERSET, PGC_S_SESSION,
					  GUC_ACTION_SET, true, 0, false);
}

/* The task's context, as dagsched.* settings of the session */
static void
dbtask_set_context(DbTaskShared *shared)
{
	char	   *base = (char *) shared;
	char		num[32];

	snprintf(num, sizeof(num), INT64_FORMAT, shared->run_id);
	dbtask_set("dagsched.run_id", num);
	snprintf(num, sizeof(num), "%d", shared->attempt);
	dbtask_set("dagsched.attempt", num);
	dbtask_set("dagsched.dag_name", base + shared->off_dag_name);
	dbtask_set("dagsched.task_name", base + shared->off_task_name);
	dbtask_set("dagsched.logical_time", base + shared->off_logical_time);
	dbtask_set("dagsched.params", base + shared->off_params);
}

/* What the task said, into the segment */
static void
dbtask_put_output(DbTaskShared *shared, const char *output)
{
	if (output)
		strlcpy(shared->output, output, DBTASK_OUTPUT_LEN);
}

/* The whole command in one transaction, as a task in the catalog runs */
static void
dbtask_run_transaction(DbTaskShared *shared)
{
	char	   *base = (char *) shared;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	OutputCaptureBegin();
	PG_TRY();
	{
		char	   *tag;

		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, base + shared->off_command);
		dbtask_set_context(shared);

		TaskTimerArm(shared->timeout_ms);
		tag = OutputExecuteSpi(base + shared->off_command);
		TaskTimerDisarm();
		dbtask_put_output(shared, OutputCaptureEnd(tag));

		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		shared->success = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		FlushErrorState();
		TaskTimerDisarm();
		strlcpy(shared->error,
				TaskErrorText(edata, shared->timeout_ms, TaskTimerFired()),
				DBTASK_ERROR_LEN);
		dbtask_put_output(shared, OutputCaptureEnd(NULL));
		AbortCurrentTransaction();
		shared->success = false;
	}
	PG_END_TRY();
}

/* Statement by statement, each a top-level transaction (autocommit.c) */
static void
dbtask_run_autocommit(DbTaskShared *shared)
{
	char	   *output = NULL;
	char	   *error = NULL;

	/* settings made in a committed transaction last for the session */
	StartTransactionCommand();
	dbtask_set_context(shared);
	CommitTransactionCommand();

	MemoryContextSwitchTo(TopMemoryContext);
	shared->success = AutocommitRun((char *) shared + shared->off_command,
									shared->timeout_ms, &output, &error);
	dbtask_put_output(shared, output);
	if (error)
		strlcpy(shared->error, error, DBTASK_ERROR_LEN);
}

/*
 * Entry point of the helper process.  It connects as the DAG's owner, so
 * the task's session is the owner's own (current_user and session_user),
 * and it exits after the task: nothing of one task's session reaches
 * another's.
 */
void
DagschedDbTaskMain(Datum main_arg)
{
	dsm_segment *seg;
	DbTaskShared *shared;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dagsched: could not map the task's shared memory")));
	shared = dsm_segment_address(seg);

	BackgroundWorkerInitializeConnection(shared->database, shared->owner, 0);
	pgstat_report_appname("dagsched worker");

	if (shared->autocommit)
		dbtask_run_autocommit(shared);
	else
		dbtask_run_transaction(shared);

	pg_write_barrier();
	shared->done = true;
	dsm_detach(seg);
	proc_exit(0);
}
