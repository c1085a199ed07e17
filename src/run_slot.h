/*-------------------------------------------------------------------------
 *
 * run_slot.h
 *	  max_active_runs as slots: a running run holds one of the numbers
 *	  1 .. max_active_runs of its DAG (dag_run.slot, unique among the DAG's
 *	  running runs), so that runs of one DAG start side by side without
 *	  queueing on the DAG's row.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/run_slot.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_RUN_SLOT_H
#define DAGSCHED_RUN_SLOT_H

#include "nodes/bitmapset.h"

/*
 * A free slot of dag_name for a run this transaction starts, locked until
 * it ends; 0 when every slot is taken.  *taken lists slots known to be taken
 * beyond what the catalog shows yet (may be NULL).  may_wait: wait for
 * transactions that are starting runs of the DAG right now, as long as
 * this transaction holds no slot or DAG lock that they could wait for.
 * recheck: look once more, after locking, whether a run committed with the
 * slot since the catalog was read (needed before an UPDATE, which cannot
 * skip a unique conflict the way INSERT ... ON CONFLICT does).
 */
extern int	RunSlotTake(const char *dag_name, int max_active_runs,
						Bitmapset **taken, bool may_wait, bool recheck);

/* Give up a slot RunSlotTake returned (its run was not started after all) */
extern void RunSlotGiveBack(const char *dag_name, int slot);

/*
 * The DAG's admission lock: exclusive for a starter about to queue its run,
 * shared for whoever frees slots or starts queued runs (see run_slot.c).
 */
extern void RunSlotAdmitExclusive(const char *dag_name);
extern void RunSlotAdmitShared(const char *dag_name);

/* This transaction locked a DAG row FOR NO KEY UPDATE some other way */
extern void RunSlotNoteDagLock(void);

#endif							/* DAGSCHED_RUN_SLOT_H */
