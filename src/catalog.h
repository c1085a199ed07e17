/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  Catalog access of the engine that is not a state change: SPI helpers,
 *	  loading a DAG's definition, inserting a run's rows, and the reads the
 *	  scheduler and the run logic need.  State changes are in transition.h.
 *
 * Every function expects a transaction in progress with SPI connected and an
 * active snapshot; callers decide where transactions begin and end.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/catalog.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_CATALOG_H
#define DAGSCHED_CATALOG_H

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "nodes/pg_list.h"

/* One task of a DAG as dagsched.task holds it (strings palloc'd) */
typedef struct CatalogTaskDef
{
	char	   *name;
	char	   *kind;
	char	   *command;
	char	   *trigger_rule;
	int32		retries;
	Datum		retry_delay;	/* interval */
	Datum		timeout;		/* interval, or (Datum) 0 when NULL */
	bool		timeout_null;
	char	   *database;		/* NULL = the catalog's */
	int32		priority;
	bool		priority_null;
	char	   *conninfo;		/* NULL = this server */
	bool		autocommit;
	char	   *pool;			/* NULL = none */
	char	   *condition;		/* NULL = none */
	Datum		poke_interval;	/* interval: a sensor's wait between pokes */
	char	   *map_over;		/* NULL = not mapped */
	int			ndeps;
	const char **deps;
} CatalogTaskDef;

/* A DAG's definition, as one run copies it */
typedef struct CatalogDagDef
{
	const char *dag_name;
	char	   *owner;
	int32		max_active_runs;
	Datum		deadline;		/* interval, or (Datum) 0 when NULL */
	bool		deadline_null;
	int			ntasks;
	CatalogTaskDef *tasks;		/* ordered by name */
} CatalogDagDef;

/* What RunCreate inserts besides the definition */
typedef struct CatalogNewRun
{
	TimestampTz logical_time;
	const char *trigger;
	Datum		params;			/* jsonb */
	bool		running;		/* admitted now, or queued */
	bool		scheduled;		/* waits for logical_time (not running) */
	int			slot;			/* its max_active_runs slot when running */
	int32	   *priority;		/* effective, per task */
	Datum	   *downstream;		/* per task: its downstream names as a text[]
								 * literal (text) */
} CatalogNewRun;

/* SPI helpers: ERROR on failure, so callers need not check */
extern SPIPlanPtr CatalogPrepare(SPIPlanPtr *cache, const char *sql,
								 int nargs, Oid *argtypes);
extern int	CatalogExec(const char *sql, int nargs, Oid *argtypes,
						Datum *values, const char *nulls);
extern int	CatalogExecPlan(SPIPlanPtr plan, Datum *values, const char *nulls);
extern int	CatalogExecCached(SPIPlanPtr *cache, const char *sql, int nargs,
							  Oid *argtypes, Datum *values, const char *nulls);
extern char *CatalogText(int row, int col);
extern Datum CatalogDatum(int row, int col, bool *isnull);
extern List *CatalogInt64List(void);

extern void CatalogNotify(int64 run_id, const char *dag_name,
						  const char *task_name, const char *state);
extern void CatalogNotifyEvent(const char *event, int64 run_id,
							   const char *state);

extern bool CatalogLoadDag(const char *dag_name, CatalogDagDef *def);
extern bool CatalogTickTaken(const char *dag_name, TimestampTz logical_time,
							 const char *trigger);
extern int	CatalogMaxActiveRuns(const char *dag_name);
extern int64 CatalogInsertRun(const CatalogDagDef *def,
							  const CatalogNewRun *run);
extern void CatalogInsertTaskRuns(int64 run_id, const CatalogDagDef *def,
								  const CatalogNewRun *run);
extern void CatalogLockDagOfRun(int64 run_id, bool exclusive);

extern List *CatalogDueScheduledRuns(int limit);
extern List *CatalogQueuedRuns(const char *dag_name, int limit);
extern int	CatalogCountQueued(void);
extern bool CatalogNextWakeup(TimestampTz *wakeup);
extern bool CatalogAutoPause(int64 run_id, const char *dag_name,
							 char **reason);

#endif							/* DAGSCHED_CATALOG_H */
