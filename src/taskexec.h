/*-------------------------------------------------------------------------
 *
 * taskexec.h
 *	  One skeleton for running a task attempt, whatever runs it: set the
 *	  task's context, check its owner, start and end the transactions, turn
 *	  an error into the recorded text, tell a timeout from a cancel, record
 *	  the outcome.  A runner supplies only what differs.
 *
 * Adding a kind of task: write a TaskRunner (its own file), and return it
 * from TaskRunnerFor() for the tasks it serves.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/taskexec.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_TASKEXEC_H
#define DAGSCHED_TASKEXEC_H

#include "run.h"

/* The role a task runs as, looked up (and checked) at every attempt */
typedef struct TaskOwner
{
	Oid			roleid;
	bool		superuser;
	const char *name;
} TaskOwner;

typedef enum TaskRunnerMode
{
	/*
	 * run() is called inside the transaction that records the task's success
	 * and queues its downstream tasks, as the owner, with SPI connected and
	 * the task's timeout armed: the task's effects land exactly once.  Errors
	 * are thrown.
	 */
	TASK_RUNNER_IN_XACT,

	/*
	 * run() is called outside any transaction; the outcome is recorded in a
	 * transaction afterwards (at-least-once: a crash in between runs the task
	 * again).  run() honours task->timeout_ms itself and reports failures,
	 * timeouts included, through its result and *error; it throws only when
	 * this worker is cancelled or shut down.
	 */
	TASK_RUNNER_OUTSIDE_XACT
} TaskRunnerMode;

typedef struct TaskRunner
{
	const char *name;			/* for messages */
	TaskRunnerMode mode;

	/*
	 * Called in a transaction before the attempt, after the owner's LOGIN and
	 * CONNECT have been checked: ERROR unless the owner may still run this
	 * task (privileges may have been revoked since it was defined). NULL when
	 * there is nothing more to check.
	 */
	void		(*check_access) (const ClaimedTask *task,
								 const TaskOwner *owner);

	/*
	 * Run the attempt.  Returns true on success; *output is what
	 * task_run.output records (or NULL), *error the failure's text.
	 */
	bool		(*run) (const ClaimedTask *task, const TaskOwner *owner,
						char **output, char **error);

	/*
	 * A sensor's poke, instead of run() (TASK_RUNNER_IN_XACT only): true when
	 * its condition holds (the task succeeds, *output recorded), false when
	 * it does not yet (the task waits for its next poke, holding no worker).
	 * Errors are thrown.  NULL for every other runner.
	 */
	bool		(*poke) (const ClaimedTask *task, char **output);
} TaskRunner;

/* The task claimed in the commit that ends the current one (SQL tasks) */
typedef struct TaskNextClaim
{
	ClaimedTask *task;			/* filled when claimed */
	MemoryContext cxt;			/* where its strings go */
	bool		claimed;
} TaskNextClaim;

/* What became of an attempt, for the worker's wake-ups */
typedef struct TaskResult
{
	bool		succeeded;
	int			nqueued;		/* tasks its end queued */
	bool		claimed_other;	/* the same commit claimed none of them */
	bool		may_have_ended_run; /* check the run's end after commit */
	bool		retry_wait;		/* it waits for a retry */
	bool		sensing;		/* a sensor waits for its next poke */
	bool		instance_ended; /* an instance ended: look at its mapped
								 * task's end after commit */
} TaskResult;

extern const TaskRunner *TaskRunnerFor(const ClaimedTask *task);
extern void TaskExecute(ClaimedTask *task, TaskNextClaim *next,
						TaskResult *result);

/* The session left by a task: DISCARD ALL-like reset, when one ran */
extern bool TaskSessionDirty(void);
extern void TaskResetSession(void);

/* A task's timeout, told apart from a cancel by our own flag */
extern void TaskTimerArm(int timeout_ms);
extern void TaskTimerDisarm(void);
extern bool TaskTimerFired(void);
extern char *TaskErrorText(const ErrorData *edata, int timeout_ms,
						   bool timed_out);

extern char *TaskCommandTag(int spi_result, uint64 processed);

/* The runners (sql in taskexec.c; the others in their own files) */
extern const TaskRunner TaskRunnerSql;
extern const TaskRunner TaskRunnerAutocommit;	/* dbtask.c */
extern const TaskRunner TaskRunnerShell;
extern const TaskRunner TaskRunnerRemote;
extern const TaskRunner TaskRunnerOtherDb;
extern const TaskRunner TaskRunnerSensor;	/* sensor.c */

/* sensor.c: a sensor's timeout, checked around each poke */
extern void SensorCheckTimeout(const ClaimedTask *task);
extern int	SensorRemainingMs(const ClaimedTask *task);
extern char *SensorTimeoutText(const ClaimedTask *task);

#endif							/* DAGSCHED_TASKEXEC_H */
