/*-------------------------------------------------------------------------
 *
 * run_slot.c
 *	  max_active_runs as slots.  A running run holds a slot number of its
 *	  DAG (dag_run.slot; the partial unique index dag_run_slot_key keeps two
 *	  running runs of a DAG off one number), and a transaction starting a
 *	  run locks the number it takes until it commits.
 *
 * Why: counting the running runs under a lock of the DAG's row made every
 * trigger() of a DAG wait for the commit of the one before it, even when
 * max_active_runs left plenty of room.  With slots, concurrent triggers
 * take different numbers and none waits.  The lock on a number is a
 * transaction-level lock in the advisory lock space (its own field4, so no
 * user's pg_advisory_lock() can collide with it): a starter skips numbers
 * another starter holds, and the unique index catches a number a run has
 * committed with since the catalog was read.
 *
 * Where max_active_runs does have to make a run wait, the starter takes the
 * DAG's admission lock (number 0) exclusively; run ends and promotions take
 * it shared, so either the ending run's slot is seen free, or the ender sees
 * the queued run and starts it -- and run ends of a DAG do not wait for each
 * other.  A starter first waits for the transactions holding the DAG's
 * other numbers (a number whose starter rolls back is free after all),
 * unless it holds a number or an admission lock itself, which those could
 * be waiting for.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/run_slot.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"

#include "catalog.h"
#include "run_slot.h"
#include "states.h"
#include "validate.h"

/* field4 of the advisory lock tag: pg_advisory_lock() uses 1 and 2 */
#define RUN_SLOT_LOCK_FIELD4	0x6473

/* this transaction holds a slot lock or a DAG lock (see the header) */
static bool xact_holds_locks = false;
static bool callback_registered = false;

static SPIPlanPtr plan_used;
static SPIPlanPtr plan_in_use;

static void
run_slot_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PREPARE)
		xact_holds_locks = false;
}

static void
run_slot_note_lock(void)
{
	if (!callback_registered)
	{
		RegisterXactCallback(run_slot_xact_callback, NULL);
		callback_registered = true;
	}
	xact_holds_locks = true;
}

static void
run_slot_tag(LOCKTAG *tag, const char *dag_name, int slot)
{
	uint32		key = hash_bytes((const unsigned char *) dag_name,
								 strlen(dag_name));

	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, key, (uint32) slot,
						 RUN_SLOT_LOCK_FIELD4);
}

static bool
run_slot_lock(const char *dag_name, int slot, bool wait)
{
	LOCKTAG		tag;

	run_slot_tag(&tag, dag_name, slot);
	return LockAcquire(&tag, ExclusiveLock, false, !wait) != LOCKACQUIRE_NOT_AVAIL;
}

void
RunSlotGiveBack(const char *dag_name, int slot)
{
	LOCKTAG		tag;

	run_slot_tag(&tag, dag_name, slot);
	(void) LockRelease(&tag, ExclusiveLock, false);
}

/* The slots of the DAG's running runs, as a statement of its own sees them */
static Bitmapset *
run_slot_used(const char *dag_name, Bitmapset *taken)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	Bitmapset  *used = bms_copy(taken);
	uint64		i;

	values[0] = CStringGetTextDatum(dag_name);
	CatalogExecCached(&plan_used, "SELECT slot FROM dagsched.dag_run "
					  "WHERE dag_name OPERATOR(pg_catalog.=) $1 "
					  " AND state OPERATOR(pg_catalog.=) " SQL_LIT(RS_RUNNING)
					  " AND slot IS NOT NULL",
					  1, argtypes, values, NULL);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int32		s = DatumGetInt32(CatalogDatum(i, 1, &isnull));

		if (s > 0)
			used = bms_add_member(used, s);
	}
	return used;
}

/* Has a running run of the DAG committed with this slot? */
static bool
run_slot_in_use(const char *dag_name, int slot)
{
	Oid			argtypes[2] = {TEXTOID, INT4OID};
	Datum		values[2];

	values[0] = CStringGetTextDatum(dag_name);
	values[1] = Int32GetDatum(slot);
	CatalogExecCached(&plan_in_use, "SELECT 1 FROM dagsched.dag_run "
					  "WHERE dag_name OPERATOR(pg_catalog.=) $1 "
					  " AND slot OPERATOR(pg_catalog.=) $2 "
					  " AND state OPERATOR(pg_catalog.=) " SQL_LIT(RS_RUNNING),
					  2, argtypes, values, NULL);
	return SPI_processed > 0;
}

/* Lock slot (waiting or not) and keep it if no running run has it. */
static bool
run_slot_try(const char *dag_name, int slot, bool wait, bool recheck)
{
	if (!run_slot_lock(dag_name, slot, wait))
		return false;
	if ((recheck || wait) && run_slot_in_use(dag_name, slot))
	{
		RunSlotGiveBack(dag_name, slot);
		return false;
	}
	run_slot_note_lock();
	return true;
}

int
RunSlotTake(const char *dag_name, int max_active_runs, Bitmapset **taken,
			bool may_wait, bool recheck)
{
	Bitmapset  *used = run_slot_used(dag_name, taken ? *taken : NULL);
	int			s;

	for (s = 1; s <= max_active_runs; s++)
		if (!bms_is_member(s, used) && run_slot_try(dag_name, s, false, recheck))
			return s;

	/* slots held by starters in flight: wait and see whether they commit */
	if (may_wait && !xact_holds_locks)
		for (s = 1; s <= max_active_runs; s++)
			if (!bms_is_member(s, used) && run_slot_try(dag_name, s, true, true))
				return s;
	return 0;
}

/*
 * The admission lock of a DAG: slot number 0 of the same lock space.  A
 * starter that found no slot takes it exclusively before it looks once
 * more and queues its run; whoever frees slots or starts queued runs takes
 * it shared (run ends do not wait for each other) before reading the queued
 * runs.  So of a queuing starter and a run end, one waits for the other's
 * commit, and the queued run is never missed.
 */
void
RunSlotAdmitExclusive(const char *dag_name)
{
	LOCKTAG		tag;

	run_slot_tag(&tag, dag_name, 0);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
	run_slot_note_lock();
}

void
RunSlotAdmitShared(const char *dag_name)
{
	LOCKTAG		tag;

	run_slot_tag(&tag, dag_name, 0);
	(void) LockAcquire(&tag, ShareLock, false, false);
	run_slot_note_lock();
}

void
RunSlotNoteDagLock(void)
{
	run_slot_note_lock();
}
