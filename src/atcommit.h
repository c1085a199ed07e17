/*-------------------------------------------------------------------------
 *
 * atcommit.h
 *	  What a user's transaction asks of the scheduler and the workers, done
 *	  when, and only if, it commits.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/atcommit.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_ATCOMMIT_H
#define DAGSCHED_ATCOMMIT_H

extern void AtCommitWakeWorkers(int n);
extern void AtCommitWakeScheduler(void);
extern void AtCommitCancelRun(int64 run_id);
extern void AtCommitStopAllTasks(void);
extern void AtCommitNoteRunCreated(int64 run_id);
extern bool RunCreatedInThisTransaction(int64 run_id);

#endif							/* DAGSCHED_ATCOMMIT_H */
