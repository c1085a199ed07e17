/*-------------------------------------------------------------------------
 *
 * validate.h
 *	  Validation of DAG definitions: limits and the graph check.
 *
 * The triggers on dagsched.dag and dagsched.task (validate.c) reject a bad
 * definition when it is written or, for the shape of the graph, when the
 * transaction commits.  The graph check is exported so that code building
 * runs can re-check a definition and reuse its upstream edges and
 * topological order.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/validate.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_VALIDATE_H
#define DAGSCHED_VALIDATE_H

/* DAGSCHED_MAX_NAME_LEN and the trigger-rule names */
#include "states.h"

/* Most retries a task may have: with the delay doubling, far beyond use. */
#define DAGSCHED_MAX_RETRIES		100

/* Most entries one task's depends_on may hold. */
#define DAGSCHED_MAX_DEPENDENCIES	10000

/* One task as the graph check sees it: its name and its upstream names. */
typedef struct ValidateTask
{
	const char *name;
	int			ndeps;
	const char **deps;
} ValidateTask;

/*
 * Check that every dependency of tasks[0 .. ntasks - 1] names one of those
 * tasks and that the dependencies form no cycle; ereport(ERROR) otherwise.
 *
 * On success, when the pointers are not NULL: *up_start and *up receive the
 * upstream edges in CSR form (the upstreams of task i are
 * up[up_start[i] .. up_start[i + 1] - 1], as DagCriticalPath takes them),
 * and *topo_order a topological order, upstream tasks first.  All are
 * palloc'd in the current memory context.  O(tasks + edges); no recursion.
 */
extern void ValidateDagGraph(const char *dag_name, int ntasks,
							 const ValidateTask *tasks,
							 int **up_start, int **up, int **topo_order);

extern const char *DagschedQuote(const char *name);

#endif							/* DAGSCHED_VALIDATE_H */
