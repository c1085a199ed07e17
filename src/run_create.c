/*-------------------------------------------------------------------------
 *
 * run_create.c
 *	  Creating a run: load the DAG's definition, build its graph, insert the
 *	  run and one task_run per task.
 *
 * The graph is checked and ordered by the code that validates definitions
 * at commit (ValidateDagGraph), so a run is built from exactly the rules the
 * definition passed; dag.c gives each task its critical-path priority.  A
 * task_run keeps a copy of its definition and the names of its downstream
 * tasks, so that a dependency hop never reads dagsched.task again.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/run_create.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/resowner.h"

#include "atcommit.h"
#include "catalog.h"
#include "dag.h"
#include "run.h"
#include "shmem.h"
#include "run_slot.h"
#include "states.h"
#include "validate.h"

static SPIPlanPtr plan_lock_shared;

/* The graph of a definition: edges in CSR form and what follows from them */
typedef struct RunGraph
{
	int		   *up_start;
	int		   *up;
	int32	   *priority;		/* given, or the critical-path length */
	Datum	   *downstream;		/* each task's downstream names, text[]
								 * literal */
	int			nroots;			/* tasks queued at once: roots, "always" */
} RunGraph;

/*
 * Check the definition's graph (unknown dependencies, cycles: ERROR), then
 * derive each task's priority and downstream list.
 */
static void
run_build_graph(const CatalogDagDef *def, RunGraph *g)
{
	int			n = def->ntasks;
	ValidateTask *vt = palloc(sizeof(ValidateTask) * n);
	int		   *path_len = palloc(sizeof(int) * n);
	int		   *ndown = palloc0(sizeof(int) * n);
	Datum	  **down;
	int			i;
	int			e;

	for (i = 0; i < n; i++)
	{
		vt[i].name = def->tasks[i].name;
		vt[i].ndeps = def->tasks[i].ndeps;
		vt[i].deps = def->tasks[i].deps;
	}
	ValidateDagGraph(def->dag_name, n, vt, &g->up_start, &g->up, NULL);
	if (!DagCriticalPath(n, g->up_start, g->up, path_len))
		elog(ERROR, "DAG \"%s\" has a cycle", def->dag_name);	/* checked */

	/* downstream lists: invert the upstream edges */
	down = palloc(sizeof(Datum *) * n);
	for (e = 0; e < g->up_start[n]; e++)
		ndown[g->up[e]]++;
	for (i = 0; i < n; i++)
	{
		down[i] = palloc(sizeof(Datum) * Max(ndown[i], 1));
		ndown[i] = 0;
	}
	g->nroots = 0;
	for (i = 0; i < n; i++)
	{
		DagUpstreamTally none = {g->up_start[i + 1] - g->up_start[i], 0, 0, 0, 0};

		/* queued at once: roots, and "always" tasks whatever their upstreams */
		if (DagEvaluateRule(def->tasks[i].trigger_rule, &none) == DAG_RULE_READY)
			g->nroots++;
		for (e = g->up_start[i]; e < g->up_start[i + 1]; e++)
			down[g->up[e]][ndown[g->up[e]]++] =
				CStringGetTextDatum(def->tasks[i].name);
	}

	g->priority = palloc(sizeof(int32) * n);
	g->downstream = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
	{
		ArrayType  *names = construct_array(down[i], ndown[i], TEXTOID, -1,
											false, TYPALIGN_INT);

		g->priority[i] = def->tasks[i].priority_null ?
			path_len[i] : def->tasks[i].priority;
		g->downstream[i] =
			CStringGetTextDatum(OidOutputFunctionCall(F_ARRAY_OUT,
													  PointerGetDatum(names)));
	}
}

/*
 * Lock the DAG row FOR KEY SHARE before reading it: a DELETE (or rename) of
 * the DAG waits for this transaction, or this one for the DELETE, and then
 * finds no DAG.  Other triggers of the DAG take the same shared lock and do
 * not wait for each other.
 */
static void
run_lock_dag_shared(const char *dag_name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	values[0] = CStringGetTextDatum(dag_name);
	CatalogExecCached(&plan_lock_shared, "SELECT 1 FROM dagsched.dag "
					  "WHERE dag_name OPERATOR(pg_catalog.=) $1 FOR KEY SHARE",
					  1, argtypes, values, NULL);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("DAG \"%s\" does not exist", DagschedQuote(dag_name))));
}

/*
 * A slot for the new run, or 0 when max_active_runs makes it wait.  Only
 * then is the DAG's admission lock taken, and the slots looked at once
 * more: a run ending meanwhile either freed its slot before that look, or
 * waits for this transaction and starts the queued run (run_slot.c).
 */
static int
run_admit(const char *dag_name, int max_active_runs, Bitmapset **taken)
{
	int			slot = RunSlotTake(dag_name, max_active_runs, taken, true, false);

	if (slot == 0)
	{
		RunSlotAdmitExclusive(dag_name);
		slot = RunSlotTake(dag_name, max_active_runs, taken, false, false);
	}
	return slot;
}

/*
 * Insert the run, in a slot if one is free.  Returns its run_id, or 0 when
 * a scheduled tick already has its run.  A slot another run committed with
 * since the catalog was read makes the INSERT do nothing: take another.
 */
static int64
run_insert(const CatalogDagDef *def, CatalogNewRun *run)
{
	Bitmapset  *taken = NULL;

	for (;;)
	{
		int64		run_id;

		/* a scheduled run takes its slot when its time comes */
		run->slot = run->scheduled ? 0 :
			run_admit(def->dag_name, def->max_active_runs, &taken);
		run->running = (run->slot > 0);
		run_id = CatalogInsertRun(def, run);
		if (run_id != 0)
			return run_id;
		if (run->slot == 0 ||
			CatalogTickTaken(def->dag_name, run->logical_time, run->trigger))
			return 0;
		RunSlotGiveBack(def->dag_name, run->slot);
		taken = bms_add_member(taken, run->slot);
	}
}

/*
 * Create a run of dag_name standing for logical_time, with one task_run per
 * task.  A scheduled run waits, all its tasks pending, until the scheduler
 * finds its time come (RunStartScheduled); any other run queues its root
 * tasks if it may start now.  Returns the run_id, or 0 when a scheduled
 * tick already has its run.  *nqueued tells how many tasks became queued.
 */
static int64
run_create(const char *dag_name, TimestampTz logical_time, const char *trigger,
		   Datum params, bool scheduled, int *nqueued)
{
	CatalogDagDef def;
	CatalogNewRun run;
	RunGraph	graph;
	int64		run_id;

	*nqueued = 0;
	run_lock_dag_shared(dag_name);
	if (!CatalogLoadDag(dag_name, &def))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("DAG \"%s\" does not exist", DagschedQuote(dag_name))));
	if (def.ntasks == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("DAG \"%s\" has no tasks", dag_name),
				 errhint("Insert its tasks into dagsched.task first.")));

	run_build_graph(&def, &graph);

	run.logical_time = logical_time;
	run.trigger = trigger;
	run.params = params;
	run.scheduled = scheduled;
	run.priority = graph.priority;
	run.downstream = graph.downstream;

	run_id = run_insert(&def, &run);
	if (run_id == 0)
		return 0;
	CatalogInsertTaskRuns(run_id, &def, &run);

	if (run.running)
		*nqueued = graph.nroots;

	/*
	 * The scheduler sleeps until the earliest deadline (or "at") it knew of:
	 * tell it of this one, unless it is the one creating the run.
	 */
	if ((scheduled || !def.deadline_null) &&
		!(DagschedShmemReady() && Dagsched->scheduler_pid == MyProcPid))
		AtCommitWakeScheduler();
	CatalogNotify(run_id, dag_name, NULL, run.running ? RS_RUNNING :
				  scheduled ? RS_SCHEDULED : RS_QUEUED);
	return run_id;
}

int64
RunCreate(const char *dag_name, TimestampTz logical_time, const char *trigger,
		  Datum params, int *nqueued)
{
	return run_create(dag_name, logical_time, trigger, params, false, nqueued);
}

/*
 * A one-off run that starts at "at": created now, in state scheduled, with
 * "at" as its logical time.  The caller wakes the scheduler at commit.
 */
int64
RunCreateScheduled(const char *dag_name, TimestampTz at, Datum params)
{
	int			nqueued;

	return run_create(dag_name, at, "manual", params, true, &nqueued);
}

/*
 * RunCreate in a subtransaction: a DAG whose run cannot be created (no
 * tasks, say) is logged, with "why" saying what wanted the run, and must not
 * undo the caller's other work.  Returns the run_id, or 0.
 */
int64
RunCreateOrLog(const char *dag_name, TimestampTz logical_time,
			   const char *trigger, Datum params, int *nqueued,
			   const char *why)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile int64 run_id = 0;

	*nqueued = 0;
	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		run_id = RunCreate(dag_name, logical_time, trigger, params, nqueued);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		*nqueued = 0;
		ereport(LOG,
				(errmsg("dagsched: could not create a run of DAG \"%s\" (%s): %s",
						DagschedQuote(dag_name), why, edata->message)));
	}
	PG_END_TRY();
	return run_id;
}
