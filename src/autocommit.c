/*-------------------------------------------------------------------------
 *
 * autocommit.c
 *	  Running a task's statements one by one, each a top-level statement in
 *	  its own transaction, as psql in autocommit mode (or pg_cron) would.
 *
 * Some statements refuse to run inside a transaction block or a function:
 * VACUUM, CREATE INDEX CONCURRENTLY, REINDEX CONCURRENTLY; and a procedure
 * may COMMIT only when it was called as a top-level statement.  SPI cannot
 * give them that: what it runs is never top-level (SPI's non-atomic mode
 * lets procedures commit, but VACUUM still sees a function call).  So this
 * file drives the statement through the portal machinery itself, as the
 * server's main loop does for a query from a client: parse, analyze, plan,
 * run in an unnamed portal with isTopLevel = true, commit.  Each statement
 * gets its own transaction unless the command itself opens a block with
 * BEGIN, which then lasts until its COMMIT, as in psql.
 *
 * The caller is a process whose session belongs to the DAG's owner (the
 * task's helper process connects as the owner), so no identity is borrowed
 * and nothing needs restoring between statements.  Rows are counted, never
 * kept (output.c).
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/autocommit.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "parser/analyze.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"

#include "autocommit.h"
#include "output.h"
#include "taskexec.h"

/* Statement text is cut to this many bytes in error texts. */
#define AUTOCOMMIT_QUOTE_LEN	80

/* The text of one statement of "command", for pg_stat_activity and errors */
static char *
autocommit_statement_text(const char *command, const RawStmt *raw, int max)
{
	const char *start = command + raw->stmt_location;
	int			len = raw->stmt_len > 0 ? raw->stmt_len : strlen(start);

	while (len > 0 && isspace((unsigned char) *start))
		start++, len--;
	if (max > 0 && len > max)
		return psprintf("%s...", pnstrdup(start, pg_mbcliplen(start, len, max)));
	return pnstrdup(start, len);
}

/*
 * Parse analysis, rewriting and planning of one statement, with a snapshot
 * when analysis needs one (it reads the catalogs for names), none otherwise:
 * VACUUM and friends must start without one.
 */
static List *
autocommit_plan(const char *command, RawStmt *raw)
{
	bool		snapshot_set = false;
	List	   *querytrees;
	List	   *plantrees;

	if (analyze_requires_snapshot(raw))
	{
		PushActiveSnapshot(GetTransactionSnapshot());
		snapshot_set = true;
	}
	querytrees = pg_analyze_and_rewrite_fixedparams(raw, command, NULL, 0,
													NULL);
	plantrees = pg_plan_queries(querytrees, command, CURSOR_OPT_PARALLEL_OK,
								NULL);
	if (snapshot_set)
		PopActiveSnapshot();
	return plantrees;
}

/*
 * Run one statement as a top-level statement and commit it (or, inside a
 * block the command opened, advance the block).  Returns its command tag,
 * palloc'd in "outcxt".  "stmtcxt" holds the statement's trees: it outlives
 * the transactions a procedure's COMMIT ends, and the caller resets it.
 */
static char *
autocommit_run_one(const char *command, RawStmt *raw, MemoryContext stmtcxt,
				   MemoryContext outcxt)
{
	MemoryContext oldcxt;
	List	   *plantrees;
	Portal		portal;
	DestReceiver *counter;
	QueryCompletion qc;
	char	   *tag;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	oldcxt = MemoryContextSwitchTo(stmtcxt);
	pgstat_report_activity(STATE_RUNNING,
						   autocommit_statement_text(command, raw, 0));

	plantrees = autocommit_plan(command, raw);
	CHECK_FOR_INTERRUPTS();

	portal = CreatePortal("", true, true);
	portal->visible = false;
	PortalDefineQuery(portal, NULL, command, CreateCommandTag(raw->stmt),
					  plantrees, NULL);
	PortalStart(portal, NULL, 0, InvalidSnapshot);

	counter = OutputCreateCounter();
	InitializeQueryCompletion(&qc);
	/* PostgreSQL 18 dropped run_once; only 15 is built and tested here */
#if PG_VERSION_NUM >= 180000
	(void) PortalRun(portal, FETCH_ALL, true, counter, counter, &qc);
#else
	(void) PortalRun(portal, FETCH_ALL, true, true, counter, counter, &qc);
#endif
	PortalDrop(portal, false);

	MemoryContextSwitchTo(outcxt);
	tag = OutputTagString(qc.commandTag, qc.nprocessed);
	MemoryContextSwitchTo(oldcxt);

	CommitTransactionCommand();
	MemoryContextReset(stmtcxt);
	return tag;
}

/* The error as any task's (taskexec.c), and which statement failed */
static char *
autocommit_error_text(ErrorData *edata, bool timed_out, int timeout_ms,
					  const char *command, RawStmt *raw, int nstmts,
					  int index)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, TaskErrorText(edata, timeout_ms, timed_out));
	if (raw != NULL && nstmts > 1)
		appendStringInfo(&buf, "\nSTATEMENT: %d of %d: %s", index + 1, nstmts,
						 autocommit_statement_text(command, raw,
												   AUTOCOMMIT_QUOTE_LEN));
	return buf.data;
}

bool
AutocommitRun(const char *command, int timeout_ms, char **output,
			  char **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext stmtcxt;
	List	   *volatile stmts = NIL;
	RawStmt    *volatile current = NULL;
	volatile int index = 0;
	char	   *volatile tag = NULL;
	volatile bool ok = false;

	Assert(!IsTransactionState());
	stmtcxt = AllocSetContextCreate(TopMemoryContext,
									"dagsched autocommit statement",
									ALLOCSET_DEFAULT_SIZES);
	*error = NULL;
	OutputCaptureBegin();
	/* one timer for the whole task, across its transactions */
	TaskTimerArm(timeout_ms);

	PG_TRY();
	{
		ListCell   *lc;

		stmts = raw_parser(command, RAW_PARSE_DEFAULT);
		foreach(lc, stmts)
		{
			current = lfirst_node(RawStmt, lc);
			index = foreach_current_index(lc);
			tag = autocommit_run_one(command, current, stmtcxt, cxt);
		}
		current = NULL;
		if (IsTransactionBlock())
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("the task's command ends inside a transaction block"),
					 errdetail("The block was rolled back."),
					 errhint("End each BEGIN with COMMIT or ROLLBACK.")));
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		bool		timed_out;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		TaskTimerDisarm();
		timed_out = TaskTimerFired();
		QueryCancelPending = false;
		AbortOutOfAnyTransaction();
		*error = autocommit_error_text(edata, timed_out, timeout_ms, command,
									   current, list_length(stmts), index);
	}
	PG_END_TRY();

	TaskTimerDisarm();
	MemoryContextSwitchTo(cxt);
	*output = OutputCaptureEnd(ok ? tag : NULL);
	MemoryContextDelete(stmtcxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}
