/*-------------------------------------------------------------------------
 *
 * run.h
 *	  What happens to a run: creating it, claiming and ending task attempts,
 *	  propagating their outcomes downstream, ending, cancelling, resuming and
 *	  recovering runs.  Built from the transitions (transition.h) and the
 *	  catalog reads (catalog.h).
 *
 * Every function here expects a transaction in progress with SPI connected
 * and an active snapshot; the caller decides where transactions begin and
 * end, because that decides what commits atomically.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/run.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_RUN_H
#define DAGSCHED_RUN_H

#include "datatype/timestamp.h"
#include "utils/array.h"
#include "utils/jsonb.h"

/* A task attempt a worker has claimed; strings live in the caller's context */
typedef struct ClaimedTask
{
	int64		run_id;
	char	   *task_name;
	char	   *kind;
	char	   *command;
	int			attempt;
	int			timeout_ms;		/* 0 = none */
	char	   *database;		/* NULL = the catalog's */
	char	   *dag_name;
	char	   *logical_time;
	char	   *params;
	char	   *owner;
	char	   *conninfo;		/* NULL = this server */
	bool		autocommit;		/* statements one by one, each committed */
	char	   *pool;			/* NULL = none */
	char	   *condition;		/* NULL = none */
	int			ndownstream;	/* how many tasks depend on this one */
	TimestampTz sensor_deadline;	/* a sensor's first poke + timeout; 0 =
									 * none (or not a sensor) */
	char	   *timeout_text;	/* the timeout as an interval, or NULL */
	int			pokes;			/* a sensor's pokes, this one included */
	int			map_index;		/* instance of a mapped task; -1: none */
	char	   *map_item;		/* its row of map_over, JSON; NULL: none */
	char	   *map_over;		/* a mapped task's query, to run; NULL: none */
} ClaimedTask;

/* run_create.c: load the definition, build the graph, insert the rows */
extern int64 RunCreate(const char *dag_name, TimestampTz logical_time,
					   const char *trigger, Datum params, int *nqueued);
extern int64 RunCreateScheduled(const char *dag_name, TimestampTz at,
								Datum params);
extern int64 RunCreateOrLog(const char *dag_name, TimestampTz logical_time,
							const char *trigger, Datum params, int *nqueued,
							const char *why);

/* run.c: what follows from each transition */
extern bool RunClaimTask(ClaimedTask *task, MemoryContext cxt);
extern int	RunTaskSucceeded(const ClaimedTask *task, const char *output,
							 const Jsonb *result);
extern int	RunTaskSkipped(const ClaimedTask *task, const char *why);
extern int	RunTaskEndedAndClaim(const ClaimedTask *task, const char *skip,
								 const char *output, const Jsonb *result,
								 bool may_claim, ClaimedTask *next,
								 MemoryContext cxt, bool *claimed,
								 bool *claimed_queued);
extern int	RunTaskFailed(int64 run_id, const char *task_name,
						  int map_index, int pid, const char *error,
						  const char *output, bool *retry_wait);
extern int	RunTaskMapped(const ClaimedTask *task, ArrayType *items);
extern int	RunMappedIfDone(int64 run_id, const char *task_name, bool *ended);
extern bool RunFinishIfDone(int64 run_id, int *nqueued);
extern int	RunPromoteQueued(const char *dag_name);
extern int	RunQueueDueRetries(void);
extern int	RunQueueDuePokes(void);
extern void RunSensorWaits(const ClaimedTask *task);
extern int	RunStartScheduled(void);
extern int	RunCheckDeadlines(void);
extern int	RunRecoverOrphans(bool server_restarted, int *nrecovered);
extern int	RunCancel(int64 run_id, int *nqueued);
extern int	RunRetry(int64 run_id, int *nqueued);
extern int	RunClearTask(int64 run_id, const char *task_name, bool downstream,
						 int *nqueued);
extern int	RunMarkTask(int64 run_id, const char *task_name, const char *state,
						const char *who);
extern int	RunFinishStranded(int *nfinished);
extern int	RunFinishStrandedMapped(int *nended);

#endif							/* DAGSCHED_RUN_H */
