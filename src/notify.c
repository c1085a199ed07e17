/*-------------------------------------------------------------------------
 *
 * notify.c
 *	  NOTIFY dagsched, sent only when some backend listens.
 *
 * A transaction that notifies takes a cluster-wide lock at commit and holds
 * it through its commit record's flush, so notifying commits run one after
 * the other: with run starts and ends notifying, 20 clients calling
 * trigger() waited ~400 ms each for that lock (bench/scale.sh).  Nobody
 * needs the notification when nobody listens, which is the usual case; so
 * every backend counts itself, in shared memory, the first time it runs
 * LISTEN dagsched (a ProcessUtility hook sees the statement), and the
 * payloads a transaction produces are handed to Async_Notify only at its
 * pre-commit, and only while the count is not zero.  A backend stays
 * counted until it exits: an extra notification is harmless, a missing one
 * is not.
 *
 * Deciding at pre-commit rather than when the state changes keeps the
 * guarantee LISTEN gives: a listener whose LISTEN committed before the
 * state change commits hears of it (short of the instant between this
 * check and the commit record).  Payloads of a subtransaction that rolls
 * back are dropped, as Async_Notify would drop them.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/notify.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/async.h"
#include "nodes/parsenodes.h"
#include "storage/ipc.h"
#include "tcop/utility.h"
#include "utils/memutils.h"

#include "notify.h"
#include "shmem.h"

#define NOTIFY_CHANNEL	"dagsched"

typedef struct PendingNotify
{
	int			level;			/* subtransaction nesting level */
	char		payload[FLEXIBLE_ARRAY_MEMBER];
} PendingNotify;

static ProcessUtility_hook_type prev_process_utility = NULL;
static bool counted = false;	/* this backend is in Dagsched->listeners */
static bool callbacks_registered = false;
static List *pending = NIL;		/* in TopTransactionContext */

static void
notify_uncount(int code, Datum arg)
{
	if (counted && DagschedShmemReady())
		pg_atomic_fetch_sub_u32(&Dagsched->listeners, 1);
	counted = false;
}

static void
notify_count_listener(void)
{
	if (counted || !DagschedShmemReady())
		return;
	pg_atomic_fetch_add_u32(&Dagsched->listeners, 1);
	counted = true;
	before_shmem_exit(notify_uncount, (Datum) 0);
}

static void
notify_process_utility(PlannedStmt *pstmt, const char *queryString,
					   bool readOnlyTree, ProcessUtilityContext context,
					   ParamListInfo params, QueryEnvironment *queryEnv,
					   DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;

	/* counted before it runs: from here on, notifiers see a listener */
	if (IsA(stmt, ListenStmt) &&
		strcmp(((ListenStmt *) stmt)->conditionname, NOTIFY_CHANNEL) == 0)
		notify_count_listener();

	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/* Anyone listening?  Without shared memory, assume so. */
static bool
notify_anyone_listens(void)
{
	return !DagschedShmemReady() ||
		pg_atomic_read_u32(&Dagsched->listeners) > 0;
}

static void
notify_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (pending != NIL && notify_anyone_listens())
				foreach(lc, pending)
					Async_Notify(NOTIFY_CHANNEL,
								 ((PendingNotify *) lfirst(lc))->payload);
			pending = NIL;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* the list lived in TopTransactionContext, gone now */
			pending = NIL;
			break;
		default:
			break;
	}
}

static void
notify_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, pending)
			if (((PendingNotify *) lfirst(lc))->level >= level)
			pending = foreach_delete_current(pending, lc);
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, pending)
		{
			PendingNotify *n = lfirst(lc);

			if (n->level >= level)
				n->level = level - 1;
		}
	}
}

void
DagschedNotifyInit(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = notify_process_utility;
}

/*
 * Send payload on channel dagsched when, and only if, the transaction
 * commits -- and only if some backend listens then.
 */
void
DagschedNotify(const char *payload)
{
	MemoryContext oldcxt;
	PendingNotify *n;

	if (!callbacks_registered)
	{
		RegisterXactCallback(notify_xact_callback, NULL);
		RegisterSubXactCallback(notify_subxact_callback, NULL);
		callbacks_registered = true;
	}
	oldcxt = MemoryContextSwitchTo(TopTransactionContext);
	n = palloc(offsetof(PendingNotify, payload) + strlen(payload) + 1);
	n->level = GetCurrentTransactionNestLevel();
	strcpy(n->payload, payload);
	pending = lappend(pending, n);
	MemoryContextSwitchTo(oldcxt);
}
