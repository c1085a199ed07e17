/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  Shared memory of dagsched: who is alive, who is idle, who runs what.
 *
 * Only coordination lives here.  Every state that matters lives in the
 * catalog tables; after a crash, shared memory starts empty and nothing is
 * lost.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/shmem.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_SHMEM_H
#define DAGSCHED_SHMEM_H

#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/latch.h"
#include "storage/lwlock.h"

#include "states.h"

/* a task name and its terminating NUL */
#define DAGSCHED_TASK_NAME_LEN (DAGSCHED_MAX_NAME_LEN + 1)

/* One per task worker process. */
typedef struct DagschedWorkerSlot
{
	pid_t		pid;			/* 0 when the slot is free */
	bool		idle;			/* waiting on its latch for work */
	Latch	   *latch;
	int64		run_id;			/* task being run, 0 if none */
	char		task_name[DAGSCHED_TASK_NAME_LEN];
	int64		next_run_id;	/* task claimed in the commit in progress */
	char		next_task_name[DAGSCHED_TASK_NAME_LEN];
} DagschedWorkerSlot;

typedef struct DagschedShared
{
	LWLock	   *lock;
	pid_t		scheduler_pid;
	Latch	   *scheduler_latch;
	ConditionVariable run_finished; /* broadcast whenever a run ends */
	pg_atomic_uint32 listeners; /* backends that ran LISTEN dagsched */
	int			nslots;
	DagschedWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} DagschedShared;

extern DagschedShared *Dagsched;

extern void DagschedShmemInit(void);
extern void DagschedShmemRequest(void);
extern void DagschedShmemStartup(void);
extern bool DagschedShmemReady(void);

extern void DagschedSchedulerAttach(void);
extern void DagschedWakeScheduler(void);
extern void DagschedWakeWorkers(int n);

extern int	DagschedWorkerAttach(void);
extern void DagschedWorkerSetTask(int64 run_id, const char *task_name);
extern void DagschedWorkerSetNext(int64 run_id, const char *task_name);
extern void DagschedWorkerSetIdle(void);
extern bool DagschedWorkerTryRetire(void);
extern bool DagschedWorkerMayClaim(void);
extern bool DagschedWorkerRetireIfSurplus(void);

extern void DagschedCountWorkers(int *attached, int *nfree);
extern bool DagschedPidIsAttached(pid_t pid);
extern bool DagschedTaskIsRunning(int64 run_id, const char *task_name,
								  pid_t pid);
extern int	DagschedSignalRun(int64 run_id, int signo);
extern int	DagschedSignalAllTasks(int signo);
extern void DagschedBroadcastRunFinished(void);

#endif							/* DAGSCHED_SHMEM_H */
