/*-------------------------------------------------------------------------
 *
 * dbtask.h
 *	  Running a SQL task in another database of the cluster.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/dbtask.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_DBTASK_H
#define DAGSCHED_DBTASK_H

#include "run.h"

/*
 * Run task->command in task->database, as the owner, in a short-lived
 * background worker connected there.  Called outside any transaction.
 * Returns true on success; *output / *error as for shell tasks.  Throws
 * ERROR when the calling worker is cancelled, after stopping the helper.
 */
extern bool DbTaskRun(const ClaimedTask *task, char **output, char **error);

extern PGDLLEXPORT void DagschedDbTaskMain(Datum main_arg);

#endif							/* DAGSCHED_DBTASK_H */
