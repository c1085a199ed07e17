/*-------------------------------------------------------------------------
 *
 * atcommit.c
 *	  What a user's transaction asks of the scheduler and the workers --
 *	  wake-ups, and the signals that interrupt a cancelled run's tasks --
 *	  done from a commit callback.
 *
 * A worker woken before the commit would not see the new rows yet, and a
 * task interrupted for a cancel that then rolls back would have been
 * stopped for nothing; so these wait for the commit, and an abort forgets
 * them.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/atcommit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "utils/memutils.h"

#include "atcommit.h"
#include "shmem.h"

static bool callback_registered = false;
static bool commit_wake_scheduler = false;
static int	commit_wake_workers = 0;
static int64 *commit_cancel_runs = NULL;
static int	commit_ncancel = 0;
static int	commit_cancel_cap = 0;
static int64 created_run = 0;	/* run created by this transaction */
static bool commit_stop_all = false;	/* the extension is being dropped */

static void
atcommit_callback(XactEvent event, void *arg)
{
	int			i;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			for (i = 0; i < commit_ncancel; i++)
				DagschedSignalRun(commit_cancel_runs[i], SIGINT);
			if (commit_stop_all)
				DagschedSignalAllTasks(SIGINT);
			if (commit_ncancel > 0)
				DagschedBroadcastRunFinished();
			if (commit_wake_workers > 0)
				DagschedWakeWorkers(commit_wake_workers);
			if (commit_wake_scheduler)
				DagschedWakeScheduler();
			/* FALLTHROUGH */
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			commit_wake_scheduler = false;
			commit_wake_workers = 0;
			commit_ncancel = 0;
			created_run = 0;
			commit_stop_all = false;
			break;
		default:
			break;
	}
}

static void
atcommit_register(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(atcommit_callback, NULL);
		callback_registered = true;
	}
}

void
AtCommitWakeWorkers(int n)
{
	atcommit_register();
	commit_wake_workers += n;
}

void
AtCommitWakeScheduler(void)
{
	atcommit_register();
	commit_wake_scheduler = true;
}

/* The run ends for wait() at commit; its running tasks get SIGINT then. */
void
AtCommitCancelRun(int64 run_id)
{
	atcommit_register();
	if (commit_ncancel >= commit_cancel_cap)
	{
		int			newcap = Max(8, commit_cancel_cap * 2);

		if (commit_cancel_runs == NULL)
			commit_cancel_runs = MemoryContextAlloc(TopMemoryContext,
													sizeof(int64) * newcap);
		else
			commit_cancel_runs = repalloc(commit_cancel_runs,
										  sizeof(int64) * newcap);
		commit_cancel_cap = newcap;
	}
	commit_cancel_runs[commit_ncancel++] = run_id;
}

/* Every running task gets SIGINT at commit: the catalog is being dropped. */
void
AtCommitStopAllTasks(void)
{
	atcommit_register();
	commit_stop_all = true;
}

/* wait() refuses a run its own transaction created: no worker can see it */
void
AtCommitNoteRunCreated(int64 run_id)
{
	atcommit_register();
	created_run = run_id;
}

bool
RunCreatedInThisTransaction(int64 run_id)
{
	return run_id != 0 && run_id == created_run;
}
