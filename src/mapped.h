/*-------------------------------------------------------------------------
 *
 * mapped.h
 *	  Mapped tasks: a task whose map_over query, run when the task is ready,
 *	  decides how many instances of it run, one per row.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/mapped.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_MAPPED_H
#define DAGSCHED_MAPPED_H

#include "utils/array.h"

#include "run.h"

/* dagsched.max_map_instances */
extern int	DagschedMaxMapInstances;

/*
 * Run the task's map_over query (as the caller is: the owner, with the
 * task's context) and return its rows as JSON texts in a text[], in the
 * query's order.  ERROR beyond dagsched.max_map_instances rows.
 */
extern ArrayType *MappedItems(const ClaimedTask *task);

#endif							/* DAGSCHED_MAPPED_H */
