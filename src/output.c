/*-------------------------------------------------------------------------
 *
 * output.c
 *	  What a SQL task says: the command tag and row count of its last
 *	  statement, and the INFO, NOTICE and WARNING messages it raised, kept
 *	  in task_run.output; and hints for errors that name internals.
 *
 * Rows a task's queries return are counted and thrown away as they come:
 * a task whose SELECT returns a million rows keeps "SELECT 1000000" and
 * nothing else, so the worker's memory does not grow with the result.
 *
 * A background worker has no client, so its INFO and NOTICE messages are
 * normally dropped before anyone sees them (errstart() keeps a message only
 * if the log or a client wants it).  While a task runs, log_min_messages is
 * therefore lowered to INFO, and an emit_log_hook keeps the task's messages
 * and lets through to the log only what the server's own setting would
 * have logged: the log looks as it would without the capture.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/output.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "output.h"

/* A DestReceiver that counts rows and keeps none */
typedef struct OutputCounter
{
	DestReceiver pub;
	uint64		count;
} OutputCounter;

/* The capture in progress */
static bool capture_active = false;
static int	capture_saved_level = WARNING;
static StringInfoData capture_buf;
static uint64 capture_dropped = 0;	/* bytes of messages not kept */
static MemoryContext capture_cxt = NULL;
static emit_log_hook_type prev_emit_log_hook = NULL;
static bool hook_installed = false;


/*
 * Counting receiver
 */

static bool
output_counter_receive(TupleTableSlot *slot, DestReceiver *self)
{
	((OutputCounter *) self)->count++;
	return true;
}

static void
output_counter_startup(DestReceiver *self, int operation, TupleDesc typeinfo)
{
}

static void
output_counter_shutdown(DestReceiver *self)
{
}

static void
output_counter_destroy(DestReceiver *self)
{
	pfree(self);
}

DestReceiver *
OutputCreateCounter(void)
{
	OutputCounter *self = palloc0(sizeof(OutputCounter));

	self->pub.receiveSlot = output_counter_receive;
	self->pub.rStartup = output_counter_startup;
	self->pub.rShutdown = output_counter_shutdown;
	self->pub.rDestroy = output_counter_destroy;
	/* not DestSPI: SPI would look for the rows in SPI_tuptable */
	self->pub.mydest = DestNone;
	return (DestReceiver *) self;
}

uint64
OutputCounted(DestReceiver *counter)
{
	return ((OutputCounter *) counter)->count;
}


/*
 * Command tags
 */

char *
OutputTagString(CommandTag tag, uint64 nprocessed)
{
	if (command_tag_display_rowcount(tag))
		return psprintf("%s " UINT64_FORMAT, GetCommandTagName(tag),
						nprocessed);
	return pstrdup(GetCommandTagName(tag));
}

/*
 * The tag of the last statement of "command" as the server would send it:
 * CREATE TABLE AS and CREATE MATERIALIZED VIEW that load rows say SELECT.
 * From the raw parse tree, because SPI keeps the tag of utility
 * statements to itself.
 */
static CommandTag
output_last_tag(const char *command)
{
	List	   *stmts = raw_parser(command, RAW_PARSE_DEFAULT);
	Node	   *last;

	if (stmts == NIL)
		return CMDTAG_UNKNOWN;
	last = llast_node(RawStmt, stmts)->stmt;
	if (IsA(last, CreateTableAsStmt) &&
		!((CreateTableAsStmt *) last)->into->skipData)
		return CMDTAG_SELECT;
	return CreateCommandTag(last);
}

char *
OutputExecuteSpi(const char *command)
{
	SPIExecuteOptions options;
	DestReceiver *counter = OutputCreateCounter();
	int			ret;

	memset(&options, 0, sizeof(options));
	options.dest = counter;
	ret = SPI_execute_extended(command, &options);
	if (ret < 0)
		elog(ERROR, "SPI_execute_extended failed: %s",
			 SPI_result_code_string(ret));
	return OutputTagString(output_last_tag(command), SPI_processed);
}


/*
 * Message capture
 */

/* Whether log_min_messages = "level" logs a message of "elevel" < ERROR */
static bool
output_would_log(int elevel, int level)
{
	/* LOG sorts below INFO, yet at log_min_messages = LOG, INFO is not logged */
	if (level == LOG)
		return false;
	return elevel >= level;
}

static const char *
output_severity(int elevel)
{
	switch (elevel)
	{
		case INFO:
			return "INFO";
		case NOTICE:
			return "NOTICE";
		default:
			return "WARNING";
	}
}

/* Keep the buffer near its bound: drop whole old lines past twice of it */
static void
output_trim(void)
{
	Size		start;

	if (capture_buf.len <= 2 * OUTPUT_MESSAGES_MAX)
		return;
	start = OutputTailStart(capture_buf.data, capture_buf.len,
							OUTPUT_MESSAGES_MAX);
	capture_dropped += start;
	memmove(capture_buf.data, capture_buf.data + start,
			capture_buf.len - start + 1);
	capture_buf.len -= start;
}

static void
output_emit_log_hook(ErrorData *edata)
{
	if (capture_active &&
		(edata->elevel == INFO || edata->elevel == NOTICE ||
		 edata->elevel == WARNING))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(capture_cxt);

		appendStringInfo(&capture_buf, "%s:  %s\n",
						 output_severity(edata->elevel),
						 edata->message ? edata->message : "");
		output_trim();
		MemoryContextSwitchTo(oldcxt);
		edata->output_to_server =
			output_would_log(edata->elevel, capture_saved_level);
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
OutputCaptureBegin(void)
{
	if (!hook_installed)
	{
		prev_emit_log_hook = emit_log_hook;
		emit_log_hook = output_emit_log_hook;
		capture_cxt = AllocSetContextCreate(TopMemoryContext,
											"dagsched task messages",
											ALLOCSET_SMALL_SIZES);
		hook_installed = true;
	}
	if (capture_active)
		(void) OutputCaptureEnd(NULL);

	MemoryContextReset(capture_cxt);
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(capture_cxt);

		initStringInfo(&capture_buf);
		MemoryContextSwitchTo(oldcxt);
	}
	capture_dropped = 0;

	/*
	 * Set the variable itself, not through the GUC machinery: the setting
	 * must hold across the transactions of an autocommit task, and no GUC
	 * action both does that and is undone on every error path.  Levels below
	 * LOG (DEBUG) already let everything through.
	 */
	capture_saved_level = log_min_messages;
	if (log_min_messages >= LOG)
		log_min_messages = INFO;
	capture_active = true;
}

char *
OutputCaptureEnd(const char *tag)
{
	StringInfoData out;

	if (!capture_active)
		return tag ? pstrdup(tag) : NULL;
	capture_active = false;
	/* unless the task changed it meanwhile (a superuser's SET) */
	if (log_min_messages == INFO)
		log_min_messages = capture_saved_level;

	if (capture_buf.len == 0)
		return tag ? pstrdup(tag) : NULL;

	initStringInfo(&out);
	if (tag)
		appendStringInfo(&out, "%s\n", tag);
	{
		Size		start = OutputTailStart(capture_buf.data, capture_buf.len,
											OUTPUT_MESSAGES_MAX);

		if (capture_dropped + start > 0)
			appendStringInfo(&out, "[... " UINT64_FORMAT " bytes of messages dropped ...]\n",
							 capture_dropped + start);
		appendBinaryStringInfo(&out, capture_buf.data + start,
							   capture_buf.len - start);
	}
	/* no trailing line break: the tag alone has none either */
	if (out.len > 0 && out.data[out.len - 1] == '\n')
		out.data[--out.len] = '\0';
	return out.data;
}

Size
OutputTailStart(const char *data, Size len, Size limit)
{
	Size		start;
	const char *nl;

	if (len <= limit)
		return 0;
	start = len - limit;
	nl = memchr(data + start, '\n', limit);
	if (nl != NULL && nl + 1 < data + len)
		return nl + 1 - data;
	/* one long line: start at a whole character at least */
	while (start < len && GetDatabaseEncoding() == PG_UTF8 &&
		   (data[start] & 0xC0) == 0x80)
		start++;
	return start;
}


/*
 * Hints for errors that name internals
 */

const char *
OutputErrorHint(const ErrorData *edata)
{
	const char *func = edata->funcname ? edata->funcname : "";

	/* decided by SQLSTATE and the raising C function, never by the text */
	switch (edata->sqlerrcode)
	{
		case ERRCODE_ACTIVE_SQL_TRANSACTION:
			if (strcmp(func, "PreventInTransactionBlock") == 0)
				return "A task with autocommit = false runs inside one transaction, through a function call; statements such as VACUUM or CREATE INDEX CONCURRENTLY run only in a task with autocommit = true, as its own statements (not inside BEGIN ... COMMIT, a function or a DO block).";
			break;
		case ERRCODE_INVALID_TRANSACTION_TERMINATION:
			return "A task with autocommit = false runs inside one transaction, which a procedure may not end; set autocommit = true for the task, so that its statements run as top-level statements and procedures may COMMIT and ROLLBACK.";
		case ERRCODE_INSUFFICIENT_PRIVILEGE:
			if (strncmp(func, "set_config_option", 17) == 0)
				return "A task with autocommit = false runs as its DAG's owner with that role fixed for the task's transaction; make the role the task needs the DAG's owner, or set autocommit = true.";
			break;
		default:
			break;
	}
	return NULL;
}
