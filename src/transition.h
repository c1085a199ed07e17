/*-------------------------------------------------------------------------
 *
 * transition.h
 *	  Every change of a task_run or dag_run state: one function per
 *	  transition, named after what happened, allowing only the from-states
 *	  it names.
 *
 * A transition whose row is not in an allowed from-state changes nothing
 * and says so in its result (false, 0 rows, or ERROR where the caller
 * cannot go on); it never "fixes up" a row in another state.  The calling
 * code (run.c) decides what a transition leads to: propagation downstream,
 * the end of the run, notifications.
 *
 * All functions need a transaction with SPI connected and an active
 * snapshot.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/transition.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_TRANSITION_H
#define DAGSCHED_TRANSITION_H

#include "nodes/pg_list.h"
#include "utils/array.h"

#include "run.h"

/* How a task ended, as its downstream tallies count it */
typedef enum TaskOutcome
{
	TASK_OUTCOME_SUCCESS,
	TASK_OUTCOME_FAILED,		/* failed or upstream_failed */
	TASK_OUTCOME_SKIPPED
} TaskOutcome;

/*
 * Tasks that a transition resolved without running them (upstream_failed,
 * skipped): the caller propagates their ends in turn.
 */
typedef struct TaskEnded
{
	TaskOutcome outcome;
	ArrayType  *downstream;		/* text[] */
} TaskEnded;

/* What TaskFailed did */
typedef struct TaskFailure
{
	char	   *state;			/* retry_wait, failed or cancelled */
	char	   *dag_name;
	ArrayType  *downstream;
} TaskFailure;

/* queued -> running (the most urgent queued task; SKIP LOCKED) */
extern bool TaskClaimed(int pid, ClaimedTask *task, MemoryContext cxt);

/* queued -> running for a task this transaction queued (waits for nobody) */
extern bool TaskClaimedQueuedByUs(int pid, int64 run_id, ArrayType *names,
								  ClaimedTask *task, MemoryContext cxt);

/*
 * running -> success, with the task's result (NULL: none); ERROR unless
 * this pid still holds the attempt
 */
extern ArrayType *TaskSucceeded(const ClaimedTask *task, const char *output,
								const Jsonb *result);

/* running -> skipped (condition false); ERROR unless this pid holds it */
extern ArrayType *TaskSkipped(const ClaimedTask *task, const char *why);

/*
 * running -> retry_wait | failed | cancelled (run cancelled), of a task or
 * (map_index >= 0) of one instance of a mapped task; false if not
 */
extern bool TaskFailed(int64 run_id, const char *task_name, int map_index,
					   int pid, const char *error, const char *output,
					   TaskFailure *result);

/*
 * running -> running, waiting for its instances (one per JSON text of
 * items, queued); ERROR unless this pid holds it.  Returns how many.
 */
extern int	TaskMapped(const ClaimedTask *task, ArrayType *items);

/*
 * running -> success | failed: a mapped task none of whose instances is
 * active; false while one is (call after an instance's end committed)
 */
extern bool MappedTaskEnded(int64 run_id, const char *task_name,
							TaskEnded *end);

/*
 * pending -> queued | upstream_failed | skipped | pending: the upstream
 * tallies of downstream grow by one outcome.  Returns how many became
 * queued; appends resolved tasks to *ended.
 */
extern int	TasksUpstreamEnded(int64 run_id, ArrayType *downstream,
							   TaskOutcome outcome, List **ended);

/* pending -> queued | upstream_failed | skipped, from the tallies as they are */
extern int	TasksEvaluated(int64 run_id, List **ended);

/* retry_wait -> queued, for retries whose delay has passed */
extern int	TasksRetryDue(void);

/* running -> sensing (a sensor's false poke); ERROR unless this pid holds it */
extern void TaskSensing(const ClaimedTask *task);
extern bool TaskPokeLost(int64 run_id, const char *task_name, int pid);

/* sensing -> queued, for sensors whose next poke is due */
extern int	TasksPokeDue(void);

/*
 * pending | queued | retry_wait | sensing -> cancelled; returns how many
 * still run
 */
extern int	TasksCancelled(int64 run_id);

/*
 * -> pending with the current definitions: failed | upstream_failed |
 * cancelled and every task below them (task_name NULL), or one task and,
 * with downstream, every task below it.  Returns how many.
 */
extern int	TasksReset(int64 run_id, const char *task_name, bool downstream);

/* upstream_failed | skipped | cancelled below downstream -> pending */
extern int	TasksUndecided(int64 run_id, ArrayType *downstream);

/* not running -> success | failed | skipped by hand; ERROR if running */
extern ArrayType *TaskMarked(int64 run_id, const char *task_name,
							 const char *state, const char *who,
							 char **old_state);

/* scheduled -> queued, once its time has come; false if not scheduled */
extern bool RunScheduledDue(int64 run_id, char **dag_name);

/*
 * Unfinished runs past their deadline_at get missed_deadline, once; returns
 * how many, each notified.
 */
extern int	RunsMissedDeadline(void);

/* queued -> running, in a max_active_runs slot the caller holds */
extern bool RunStarted(int64 run_id, int slot);

/* running -> success | failed | cancelled, once no task is active */
extern bool RunEnded(int64 run_id, char **dag_name, char **state);

/* scheduled | queued | running -> cancelled; false (and *state) if ended */
extern bool RunCancelled(int64 run_id, char **dag_name, char **state);

/* success | failed | cancelled -> running (slot > 0) | queued */
extern char *RunResumed(int64 run_id, int slot, char **dag_name);

/* running -> running with cancel_requested; false if not running */
extern bool RunCancelRequested(int64 run_id, char **dag_name);

/* success | failed | cancelled -> the state its tasks now make it */
extern char *RunRestated(int64 run_id, char **dag_name);

#endif							/* DAGSCHED_TRANSITION_H */
