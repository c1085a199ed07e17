/*-------------------------------------------------------------------------
 *
 * results.c
 *	  Task results: dagsched.set_result(), dagsched.result(), the result a
 *	  shell task writes to $DAGSCHED_RESULT_FILE, and the upstream results a
 *	  shell task reads from $DAGSCHED_RESULTS_FILE.
 *
 * A result is kept in this process until the worker records the task's
 * success, in the same transaction as the task's effects for a SQL task:
 * stored exactly when they land.  The last set_result() call wins, but not
 * one made in a subtransaction that rolled back (a plpgsql EXCEPTION block
 * undoes its set_result() as it undoes its writes); so the values are kept
 * as a stack labelled with the subtransaction that set them.
 *
 * Who may call these functions is decided by this process's own state, set
 * by the worker around each task: never by dagsched.run_id, which any
 * session may SET.  dagsched.result() reads task_run as the calling role,
 * so row-level security applies on top of that.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/results.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "results.h"
#include "states.h"

PG_FUNCTION_INFO_V1(dagsched_set_result);
PG_FUNCTION_INFO_V1(dagsched_result);
PG_FUNCTION_INFO_V1(dagsched_map_item);
PG_FUNCTION_INFO_V1(dagsched_map_index);

int			DagschedMaxResultSize = 1024 * 1024;

/* One set_result() call; subid 0 once its transaction committed */
typedef struct ResultEntry
{
	SubTransactionId subid;
	Jsonb	   *value;			/* NULL: set_result(NULL) */
} ResultEntry;

/* The task this worker runs, if any */
static bool in_task = false;
static int64 task_run_id;
static char task_name[DAGSCHED_MAX_NAME_LEN + 1];
static int	task_map_index = -1;	/* -1: not an instance of a mapped task */
static char *task_map_item = NULL;	/* JSON text, in TopMemoryContext */

static MemoryContext results_cxt = NULL;
static List *entries = NIL;		/* of ResultEntry *, oldest first */
static bool callbacks_registered = false;

static void
results_drop_from(SubTransactionId subid)
{
	while (entries != NIL)
	{
		ResultEntry *e = (ResultEntry *) llast(entries);

		if (e->subid == InvalidSubTransactionId || e->subid < subid)
			break;
		entries = list_delete_last(entries);
	}
}

/*
 * Subtransaction ids grow within a transaction, so what a subtransaction
 * and its children set carries an id at least its own when it aborts.
 */
static void
results_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		results_drop_from(mySubid);
}

/*
 * A commit makes what was set permanent (ids restart with the next
 * transaction); an abort drops what was set since the last commit.
 */
static void
results_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (event == XACT_EVENT_COMMIT)
	{
		foreach(lc, entries)
			((ResultEntry *) lfirst(lc))->subid = InvalidSubTransactionId;
	}
	else if (event == XACT_EVENT_ABORT)
		results_drop_from(TopSubTransactionId);
}

void
ResultsTaskBegin(int64 run_id, const char *name, int map_index,
				 const char *map_item)
{
	if (!callbacks_registered)
	{
		results_cxt = AllocSetContextCreate(TopMemoryContext,
											"dagsched task result",
											ALLOCSET_DEFAULT_SIZES);
		RegisterXactCallback(results_xact_callback, NULL);
		RegisterSubXactCallback(results_subxact_callback, NULL);
		callbacks_registered = true;
	}
	ResultsForget();
	task_run_id = run_id;
	strlcpy(task_name, name, sizeof(task_name));
	if (task_map_item != NULL)
		pfree(task_map_item);
	task_map_item = map_item ? MemoryContextStrdup(TopMemoryContext, map_item) : NULL;
	task_map_index = map_index;
	in_task = true;
}

void
ResultsTaskEnd(void)
{
	in_task = false;
	ResultsForget();
}

void
ResultsForget(void)
{
	entries = NIL;
	if (results_cxt != NULL)
		MemoryContextReset(results_cxt);
}

Jsonb *
ResultsPending(void)
{
	if (entries == NIL)
		return NULL;
	return ((ResultEntry *) llast(entries))->value;
}

static void
results_check_in_task(const char *function)
{
	if (!in_task)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("dagsched.%s() can only be called by a task dagsched is running",
						function),
				 errdetail("Setting dagsched.run_id does not make a session a task.")));
}

static void
results_check_size(Size size)
{
	if (size > (Size) DagschedMaxResultSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("task result of %zu bytes exceeds dagsched.max_result_size (%d bytes)",
						size, DagschedMaxResultSize),
				 errhint("Store large data in a table and pass its key as the result.")));
}

/*
 * Push a value.  Older values set at this subtransaction level or in its
 * finished children can never come back: a rollback that would drop this
 * one drops them too.
 */
static void
results_push(Jsonb *value)
{
	SubTransactionId subid = IsTransactionState() ?
	GetCurrentSubTransactionId() : InvalidSubTransactionId;
	MemoryContext old = MemoryContextSwitchTo(results_cxt);
	ResultEntry *e = palloc(sizeof(ResultEntry));

	if (subid != InvalidSubTransactionId)
		results_drop_from(subid);
	e->subid = subid;
	e->value = value ? (Jsonb *) pg_detoast_datum_copy((struct varlena *) value) : NULL;
	entries = lappend(entries, e);
	MemoryContextSwitchTo(old);
}

/* dagsched.set_result(value jsonb): the last call wins */
Datum
dagsched_set_result(PG_FUNCTION_ARGS)
{
	Jsonb	   *value = NULL;

	results_check_in_task("set_result");
	if (!PG_ARGISNULL(0))
	{
		value = PG_GETARG_JSONB_P(0);
		results_check_size(VARSIZE(value));
	}
	results_push(value);
	PG_RETURN_VOID();
}

/*
 * A shell task's result file.  Called outside any transaction: parsing
 * touches no catalog, and an error is turned into the task's failure.
 */
bool
ResultsSetFromText(const char *text, size_t len, const char *what,
				   char **error)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *volatile err = NULL;

	PG_TRY();
	{
		char	   *s;
		Datum		d;

		results_check_size(len);
		s = pnstrdup(text, len);
		if (strlen(s) != len)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type json"),
					 errdetail("The file holds a zero byte.")));
		(void) pg_verifymbstr(s, len, false);
		d = DirectFunctionCall1(jsonb_in, CStringGetDatum(s));
		results_check_size(VARSIZE(DatumGetPointer(d)));
		results_push(DatumGetJsonbP(d));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		err = psprintf("%s: invalid result in %s: %s%s%s",
					   unpack_sql_state(edata->sqlerrcode), what,
					   edata->message,
					   edata->detail ? "\nDETAIL: " : "",
					   edata->detail ? edata->detail : "");
	}
	PG_END_TRY();
	*error = err;
	return err == NULL;
}

/*
 * dagsched.result(task_name text): that task's result in the run of the
 * calling task.  Read as the calling role: row-level security applies.
 */
Datum
dagsched_result(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	Datum		result;
	bool		isnull;

	results_check_in_task("result");
	values[0] = Int64GetDatum(task_run_id);
	values[1] = PG_GETARG_DATUM(0);

	SPI_connect();
	/* a mapped task's row holds the array of its instances' results */
	if (SPI_execute_with_args("SELECT result FROM dagsched.task_run "
							  "WHERE run_id OPERATOR(pg_catalog.=) $1 "
							  " AND task_name OPERATOR(pg_catalog.=) $2 "
							  " AND map_index IS NULL",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read the result of task \"%s\"", name);
	if (SPI_processed == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("task \"%s\" is not in run %lld", name,
						(long long) task_run_id)));
	result = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
						   &isnull);
	if (!isnull)
		result = SPI_datumTransfer(result, false, -1);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(result);
}

/*
 * The results of a task's upstream tasks as a JSON object (text), read in
 * a transaction of its own: the shell runner calls this outside any.
 */
char *
ResultsUpstreamObject(int64 run_id, const char *name)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	MemoryContext cxt = CurrentMemoryContext;
	char	   *object;

	values[0] = Int64GetDatum(run_id);
	values[1] = CStringGetTextDatum(name);
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute_with_args("SELECT coalesce(pg_catalog.jsonb_object_agg("
							  "  u.task_name, u.result), '{}')::pg_catalog.text "
							  "FROM dagsched.task_run t JOIN dagsched.task_run u "
							  " ON u.run_id OPERATOR(pg_catalog.=) t.run_id "
							  " AND u.task_name OPERATOR(pg_catalog.=) ANY (t.depends_on) "
							  " AND u.map_index IS NULL "
							  "WHERE t.run_id OPERATOR(pg_catalog.=) $1 "
							  " AND t.task_name OPERATOR(pg_catalog.=) $2 "
							  " AND t.map_index IS NULL",
							  2, argtypes, values, NULL, true, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "could not read the upstream results of task \"%s\"", name);
	object = MemoryContextStrdup(cxt, SPI_getvalue(SPI_tuptable->vals[0],
												   SPI_tuptable->tupdesc, 1));
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
	return object;
}

/* dagsched.map_item(): the instance's row of map_over; NULL if not mapped */
Datum
dagsched_map_item(PG_FUNCTION_ARGS)
{
	results_check_in_task("map_item");
	if (task_map_item == NULL)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(task_map_item)));
}

/* dagsched.map_index(): the instance's position; NULL if not mapped */
Datum
dagsched_map_index(PG_FUNCTION_ARGS)
{
	results_check_in_task("map_index");
	if (task_map_index < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(task_map_index);
}
