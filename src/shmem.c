/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Shared memory of dagsched: the scheduler's latch, the worker slots and
 *	  the condition variable that wait() sleeps on.
 *
 * Waking is the whole point of this file: a worker that queues downstream
 * tasks wakes idle workers directly, so a dependency hop never waits for a
 * scheduler loop or a polling interval.  Nothing here is needed to recover
 * from a crash; the catalog tables hold all state.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/shmem.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "miscadmin.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/wait_event.h"

#include "dagsched.h"
#include "shmem.h"

DagschedShared *Dagsched = NULL;

static int	MySlot = -1;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static Size
shmem_size(void)
{
	return add_size(offsetof(DagschedShared, slots),
					mul_size(max_worker_processes, sizeof(DagschedWorkerSlot)));
}

/* Install the hooks; called from _PG_init while preloading. */
void
DagschedShmemInit(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = DagschedShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = DagschedShmemStartup;
}

void
DagschedShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shmem_size());
	RequestNamedLWLockTranche("dagsched", 1);
}

void
DagschedShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	Dagsched = ShmemInitStruct("dagsched", shmem_size(), &found);
	if (!found)
	{
		memset(Dagsched, 0, shmem_size());
		Dagsched->lock = &(GetNamedLWLockTranche("dagsched"))->lock;
		ConditionVariableInit(&Dagsched->run_finished);
		pg_atomic_init_u32(&Dagsched->listeners, 0);
		Dagsched->nslots = max_worker_processes;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* False in a backend of a server that did not preload the library. */
bool
DagschedShmemReady(void)
{
	return Dagsched != NULL;
}

static void
scheduler_detach(int code, Datum arg)
{
	LWLockAcquire(Dagsched->lock, LW_EXCLUSIVE);
	if (Dagsched->scheduler_pid == MyProcPid)
	{
		Dagsched->scheduler_pid = 0;
		Dagsched->scheduler_latch = NULL;
	}
	LWLockRelease(Dagsched->lock);
}

void
DagschedSchedulerAttach(void)
{
	LWLockAcquire(Dagsched->lock, LW_EXCLUSIVE);
	Dagsched->scheduler_pid = MyProcPid;
	Dagsched->scheduler_latch = MyLatch;
	LWLockRelease(Dagsched->lock);
	before_shmem_exit(scheduler_detach, (Datum) 0);
}

void
DagschedWakeScheduler(void)
{
	if (!Dagsched)
		return;
	LWLockAcquire(Dagsched->lock, LW_SHARED);
	if (Dagsched->scheduler_latch)
		SetLatch(Dagsched->scheduler_latch);
	LWLockRelease(Dagsched->lock);
}

/*
 * Wake up to n idle workers for newly queued tasks.  A woken worker is marked
 * busy at once so that concurrent wakers pick different ones.  When there are
 * not enough idle workers, the scheduler is asked to start more; it alone
 * registers workers, so that their count stays bounded.
 */
void
DagschedWakeWorkers(int n)
{
	int			i;
	bool		need_more = false;

	if (!Dagsched || n <= 0)
		return;

	LWLockAcquire(Dagsched->lock, LW_EXCLUSIVE);
	for (i = 0; i < Dagsched->nslots && n > 0; i++)
	{
		DagschedWorkerSlot *slot = &Dagsched->slots[i];

		if (slot->pid != 0 && slot->idle)
		{
			slot->idle = false;
			SetLatch(slot->latch);
			n--;
		}
	}
	if (n > 0)
		need_more = true;
	if (need_more && Dagsched->scheduler_latch &&
		Dagsched->scheduler_pid != MyProcPid)
		SetLatch(Dagsched->scheduler_latch);
	LWLockRelease(Dagsched->lock);
}

static void
worker_detach(int code, Datum arg)
{
	if (MySlot < 0)
		return;
	LWLockAcquire(Dagsched->lock, LW_EXCLUSIVE);
	Dagsched->slots[MySlot].pid = 0;
	Dagsched->slots[MySlot].idle = false;
	Dagsched->slots[MySlot].latch = NULL;
	Dagsched->slots[MySlot].run_id = 0;
	LWLockRelease(Dagsched->lock);
	MySlot = -1;
}

/* Take a free slot; returns its index or -1 when all are taken. */
int
DagschedWorkerAttach(void)
{
	int			i;

	LWLockAcquire(Dagsched->lock, LW_EXCLUSIVE);
	for (i = 0; i < Dagsched->nslots; i++)
	{
		DagschedWorkerSlot *slot = &Dagsched->slots[i];

		if (slot->pid == 0)
		{
			slot->pid = MyProcPid;
			slot->idle = false;
			slot->latch = MyLatch;
			slot->run_id = 0;
			slot->task_name[0] = '\0';
			MySlot = i;
			break;
		}
	}
	LWLockRelease(Dagsched->lock);

	if (MySlot >= 0)
		before_shmem_exit(worker_detach, (Datum) 0);
	return MySlot;
}

void
DagschedWorkerSetTask(int64 run_id, const char *task_name)
{
	DagschedWorkerSlot *slot = &Dagsched->slots[MySlot];

	LWLockAcquire(Dagsched->lock, LW_EXCLUSIVE);
	slot->idle = false;
	slot->run_id = run_id;
	strlcpy(slot->task_name, task_name ? task_name : "",
			DAGSCHED_TASK_NAME_LEN);
	slot->next_run_id = 0;
	slot->next_task_name[0] = '\0';
	LWLockRelease(Dagsched->lock);
}

/*
 * The worker claimed its next task in the transaction that ends the current
 * one: until that commits, both are its own, and the sweep for attempts of
 * dead workers must see both.
 */
void
DagschedWorkerSetNext(int64 run_id, const char *task_name)
{
	DagschedWorkerSlot *slot = &Dagsched->slots[MySlot];

	LWLockAcquire(Dagsched->lock, LW_EXCLUSIVE);
	slot->next_run_id = run_id;
	strlcpy(slot->next_task_name, task_name, DAGSCHED_TASK_NAME_LEN);
	LWLockRelease(Dagsched->lock);
}

void
DagschedWorkerSetIdle(void)
{
	DagschedWorkerSlot *slot = &Dagsched->slots[MySlot];

	LWLockAcquire(Dagsched->lock, LW_EXCLUSIVE);
	slot->idle = true;
	slot->run_id = 0;
	slot->task_name[0] = '\0';
	slot->next_run_id = 0;
	slot->next_task_name[0] = '\0';
	LWLockRelease(Dagsched->lock);
}

/*
 * An idle worker that timed out may leave, unless someone woke it in the
 * meantime: that waker counted on it.
 */
bool
DagschedWorkerTryRetire(void)
{
	DagschedWorkerSlot *slot = &Dagsched->slots[MySlot];
	bool		retire = false;

	LWLockAcquire(Dagsched->lock, LW_EXCLUSIVE);
	if (slot->idle)
	{
		slot->pid = 0;
		slot->idle = false;
		slot->latch = NULL;
		retire = true;
	}
	LWLockRelease(Dagsched->lock);
	if (retire)
		MySlot = -1;
	return retire;
}

/* Attached workers beyond dagsched.max_workers; needs Dagsched->lock */
static int
shmem_surplus_locked(void)
{
	int			i;
	int			attached = 0;

	for (i = 0; i < Dagsched->nslots; i++)
		if (Dagsched->slots[i].pid != 0)
			attached++;
	return attached - Min(DagschedMaxWorkers, Dagsched->nslots);
}

/*
 * May this worker take another task?  Not while a reload it has not
 * processed yet may have lowered dagsched.max_workers, nor when more workers
 * are attached than it allows: a surplus worker finishes its task and
 * retires (DagschedWorkerRetireIfSurplus) instead of taking the next.
 */
bool
DagschedWorkerMayClaim(void)
{
	int			surplus;

	if (ConfigReloadPending)
		return false;
	LWLockAcquire(Dagsched->lock, LW_SHARED);
	surplus = shmem_surplus_locked();
	LWLockRelease(Dagsched->lock);
	return surplus <= 0;
}

/*
 * Leave when more workers are attached than dagsched.max_workers allows.
 * Counting and leaving under one exclusive lock: of several surplus workers
 * finishing together, exactly the surplus leaves.  A leaving worker may have
 * been woken for a task: it passes the wake-up on.
 */
bool
DagschedWorkerRetireIfSurplus(void)
{
	DagschedWorkerSlot *slot = &Dagsched->slots[MySlot];
	bool		retire = false;

	LWLockAcquire(Dagsched->lock, LW_EXCLUSIVE);
	if (shmem_surplus_locked() > 0)
	{
		slot->pid = 0;
		slot->idle = false;
		slot->latch = NULL;
		slot->run_id = 0;
		retire = true;
	}
	LWLockRelease(Dagsched->lock);
	if (retire)
	{
		MySlot = -1;
		DagschedWakeWorkers(1);
	}
	return retire;
}

/*
 * Count the attached workers, and those of them holding no task: idle ones,
 * ones woken but not yet claiming, ones just attached.  Each of those looks
 * for work before it sleeps, so a queued task needs no new worker while one
 * is free.  Counting only the idle ones started a worker per wake-up while
 * a woken or new worker was still on its way to its claim.
 */
void
DagschedCountWorkers(int *attached, int *nfree)
{
	int			i;

	*attached = 0;
	*nfree = 0;
	LWLockAcquire(Dagsched->lock, LW_SHARED);
	for (i = 0; i < Dagsched->nslots; i++)
	{
		if (Dagsched->slots[i].pid != 0)
		{
			(*attached)++;
			if (Dagsched->slots[i].run_id == 0)
				(*nfree)++;
		}
	}
	LWLockRelease(Dagsched->lock);
}

bool
DagschedPidIsAttached(pid_t pid)
{
	int			i;
	bool		found = false;

	LWLockAcquire(Dagsched->lock, LW_SHARED);
	for (i = 0; i < Dagsched->nslots && !found; i++)
		found = (Dagsched->slots[i].pid == pid);
	LWLockRelease(Dagsched->lock);
	return found;
}

/*
 * Is this task attempt still in the hands of a live worker?  Compares the
 * task too, not only the pid, so that a recycled pid cannot keep a dead
 * attempt "running".
 */
bool
DagschedTaskIsRunning(int64 run_id, const char *task_name, pid_t pid)
{
	int			i;
	bool		found = false;

	LWLockAcquire(Dagsched->lock, LW_SHARED);
	for (i = 0; i < Dagsched->nslots && !found; i++)
	{
		DagschedWorkerSlot *slot = &Dagsched->slots[i];

		found = slot->pid == pid &&
			((slot->run_id == run_id &&
			  strncmp(slot->task_name, task_name,
					  DAGSCHED_TASK_NAME_LEN - 1) == 0) ||
			 (slot->next_run_id == run_id &&
			  strncmp(slot->next_task_name, task_name,
					  DAGSCHED_TASK_NAME_LEN - 1) == 0));
	}
	LWLockRelease(Dagsched->lock);
	return found;
}

/* Send signo to every worker running a task of run_id; returns how many. */
int
DagschedSignalRun(int64 run_id, int signo)
{
	int			i;
	int			n = 0;

	if (!Dagsched)
		return 0;
	LWLockAcquire(Dagsched->lock, LW_SHARED);
	for (i = 0; i < Dagsched->nslots; i++)
	{
		DagschedWorkerSlot *slot = &Dagsched->slots[i];

		if (slot->pid != 0 && slot->run_id == run_id)
		{
			if (kill(slot->pid, signo) == 0)
				n++;
		}
	}
	LWLockRelease(Dagsched->lock);
	return n;
}

/*
 * Send signo to every worker running a task, whatever its run: the catalog
 * they would record the outcome in is being dropped.  Returns how many.
 */
int
DagschedSignalAllTasks(int signo)
{
	int			i;
	int			n = 0;

	if (!Dagsched)
		return 0;
	LWLockAcquire(Dagsched->lock, LW_SHARED);
	for (i = 0; i < Dagsched->nslots; i++)
	{
		DagschedWorkerSlot *slot = &Dagsched->slots[i];

		if (slot->pid != 0 && (slot->run_id != 0 || slot->next_run_id != 0))
		{
			if (kill(slot->pid, signo) == 0)
				n++;
		}
	}
	LWLockRelease(Dagsched->lock);
	return n;
}

void
DagschedBroadcastRunFinished(void)
{
	if (Dagsched)
		ConditionVariableBroadcast(&Dagsched->run_finished);
}
