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
 * How one attempt runs -- as the DAG's owner, inside or outside the
 * worker's transaction, with its timeout -- is taskexec.c's business; this
 * file is the loop around it: claim, run, wake others, end runs, retire.
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
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "dagsched.h"
#include "run.h"
#include "shmem.h"
#include "taskexec.h"

static MemoryContext WorkerContext = NULL;

/* a run whose last task this worker may have ended; checked after commit */
static int64 pending_finish_run = 0;

/* a mapped task whose last instance this worker may have ended, likewise */
static int64 pending_map_run = 0;
static char pending_map_task[DAGSCHED_TASK_NAME_LEN];

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

static bool worker_step(void);
static bool worker_claim(ClaimedTask *task, bool from_next);
static void worker_after_task(ClaimedTask *task, const TaskResult *result);

void
DagschedWorkerMain(Datum main_arg)
{
	TimestampTz last_busy;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	BackgroundWorkerInitializeConnection(DagschedDatabaseName, NULL, 0);
	pgstat_report_appname("dagsched worker");

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

		/*
		 * No task runs between two turns: a cancel that arrives now was aimed
		 * at the task just finished (cancel() or the deletion of its run
		 * signals at its commit, and the worker may have moved on).  It must
		 * not stop the worker, which would orphan the task it claimed with
		 * its last commit.
		 */
		QueryCancelPending = false;
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		worked = worker_step();
		if (!worked && DagschedWorkerRetireIfSurplus())
		{
			/* dagsched.max_workers was lowered: leave now, not when idle */
			ereport(DEBUG1,
					(errmsg("dagsched worker exiting: more workers than dagsched.max_workers")));
			proc_exit(0);
		}
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
 * One turn: get a task (the one claimed with the previous commit, or a
 * fresh claim), run it, and act on what its end changed.  Returns false
 * when there was nothing to do.
 */
static bool
worker_step(void)
{
	ClaimedTask task = {0};
	bool		from_next = have_next;
	TaskNextClaim next;
	TaskResult	result;

	MemoryContextReset(WorkerContext);
	cur_task_cxt = 1 - cur_task_cxt;
	if (have_next)
	{
		/* claimed already; its strings are in what is now the current context */
		task = next_task;
		have_next = false;
	}
	else
		MemoryContextReset(TaskContext[cur_task_cxt]);

	if (!worker_claim(&task, from_next))
		return false;

	MemoryContextSwitchTo(WorkerContext);
	next.task = &next_task;
	next.cxt = TaskContext[1 - cur_task_cxt];
	TaskExecute(&task, &next, &result);
	have_next = next.claimed;
	worker_after_task(&task, &result);
	return true;
}

/*
 * In one transaction: end the run the previous task may have finished and
 * claim the next task, unless one was claimed with the previous commit.
 * That one needs no transaction of its own, unless a run may have ended or
 * the session needs resetting.  Returns true with a task to run.
 */
static bool
worker_claim(ClaimedTask *task, bool from_next)
{
	bool		claimed = false;
	bool		run_finished = false;
	int			nqueued = 0;
	volatile int64 map_run = 0;
	volatile bool map_ended = false;

	if (from_next && pending_finish_run == 0 && pending_map_run == 0 &&
		!TaskSessionDirty())
	{
		DagschedWorkerSetTask(task->run_id, task->task_name);
		return true;
	}

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		if (TaskSessionDirty())
			TaskResetSession();
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "dagsched: claiming a task");

		if (pending_finish_run != 0)
		{
			run_finished = RunFinishIfDone(pending_finish_run, &nqueued);
			pending_finish_run = 0;
		}
		claimed = from_next ||
			(DagschedWorkerMayClaim() &&
			 RunClaimTask(task, TaskContext[cur_task_cxt]));
		if (claimed)
			DagschedWorkerSetTask(task->run_id, task->task_name);

		/*
		 * After the claim, as a task's end tallies its downstream after its
		 * claim (see RunTaskEndedAndClaim): the claim may wait for a worker
		 * that waits for a row this takes.
		 */
		if (pending_map_run != 0)
		{
			bool		ended;

			map_run = pending_map_run;
			nqueued += RunMappedIfDone(pending_map_run, pending_map_task,
									   &ended);
			map_ended = ended;
			pending_map_run = 0;
		}

		/*
		 * The claim commits durably before the task starts: after a crash,
		 * the interrupted attempt must be found "running" and counted.
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
			next_task = *task;
			have_next = true;
			cur_task_cxt = 1 - cur_task_cxt;
		}
		pgstat_report_activity(STATE_IDLE, NULL);
		return false;
	}
	PG_END_TRY();

	/* the mapped task's end may have been its run's: look after this commit */
	if (map_ended)
		pending_finish_run = map_run;
	if (run_finished)
		DagschedBroadcastRunFinished();
	if (nqueued > 0)
		DagschedWakeWorkers(nqueued);
	if (!claimed)
		pgstat_report_activity(STATE_IDLE, NULL);
	return claimed;
}

/*
 * Wake workers for the tasks the attempt's end queued (this worker takes
 * one itself, unless it claimed another already), the scheduler for a
 * retry, and look at the run's end next.
 */
static void
worker_after_task(ClaimedTask *task, const TaskResult *result)
{
	int			wake = result->nqueued - (result->claimed_other ? 0 : 1);

	if (wake > 0)
		DagschedWakeWorkers(wake);
	if (result->retry_wait || result->sensing)
		DagschedWakeScheduler();	/* it sleeps until the earliest retry/poke */
	if (task->pool != NULL)
		DagschedWakeWorkers(1); /* a slot of its pool is free */
	if (result->may_have_ended_run)
		pending_finish_run = task->run_id;
	if (result->instance_ended)
	{
		pending_map_run = task->run_id;
		strlcpy(pending_map_task, task->task_name, sizeof(pending_map_task));
	}
}
