/*-------------------------------------------------------------------------
 *
 * validate.c
 *	  Triggers that reject bad DAG definitions when they are written.
 *
 * Users define DAGs with plain INSERTs into dagsched.dag and dagsched.task,
 * so every rule a definition must obey is enforced here, in triggers, and a
 * bad definition never reaches the scheduler.  Per-row rules (names, kinds,
 * trigger rules, schedules, owners) are checked by BEFORE ROW triggers as
 * each row is written.  The shape of the graph (every dependency exists, no
 * cycle) can only be judged once all rows are in, whatever order they came
 * in, so the per-row trigger on dagsched.task only marks the DAG "dirty" and
 * a deferred constraint trigger checks each dirty DAG once, at commit (or at
 * SET CONSTRAINTS ... IMMEDIATE), in time linear in tasks plus edges.
 *
 * The BEFORE trigger on dagsched.dag also keeps next_run_at current when
 * the schedule, timezone or paused flag change.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/validate.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "nodes/pg_list.h"
#include "parser/parser.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cron.h"
#include "dagsched.h"
#include "states.h"
#include "validate.h"

PG_FUNCTION_INFO_V1(dagsched_dag_check);
PG_FUNCTION_INFO_V1(dagsched_task_check);
PG_FUNCTION_INFO_V1(dagsched_task_graph_check);

/* Hash key buffer for a DAG or task name; names are validated to fit. */
#define VAL_NAME_BUF		(DAGSCHED_MAX_NAME_LEN + 1)

/* Names longer than this are shortened when quoted in a message. */
#define VAL_QUOTE_LEN		64

/* A cycle longer than this is shown with its middle left out. */
#define VAL_CYCLE_SHOW		20

/* A task that left a DAG in this transaction, for a clearer message. */
typedef struct ValRemovedTask
{
	char	   *task_name;
	const char *verb;			/* "delete", "rename" or "move" */
} ValRemovedTask;

/* A DAG whose tasks changed since its graph was last checked. */
typedef struct ValDirtyDag
{
	char		dag_name[VAL_NAME_BUF]; /* hash key */
	List	   *removed;		/* of ValRemovedTask *, oldest first */
} ValDirtyDag;

/* Task name -> index into the task array, for the graph check. */
typedef struct ValTaskIndex
{
	char		task_name[VAL_NAME_BUF];	/* hash key */
	int			index;
} ValTaskIndex;

/*
 * DAGs awaiting their graph check, in TopTransactionContext: the memory goes
 * with the transaction, and the callback forgets the pointer at the same
 * moment.
 */
static HTAB *val_dirty_dags = NULL;
static bool val_callback_registered = false;

#define VAL_RULE_NAME(rule) #rule,
static const char *const val_trigger_rules[] = {
	DAGSCHED_TRIGGER_RULES(VAL_RULE_NAME)
};

/* "a, b and c": the valid trigger rules, for an errdetail */
static char *
val_rule_list(void)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < lengthof(val_trigger_rules); i++)
		appendStringInfo(&buf, "%s%s",
						 i == 0 ? "" : i == lengthof(val_trigger_rules) - 1 ? " and " : ", ",
						 val_trigger_rules[i]);
	return buf.data;
}


/*
 * Dirty-DAG bookkeeping
 */

static void
val_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			val_dirty_dags = NULL;
			break;
		default:
			break;
	}
}

/*
 * Mark "dag_name" for the graph check.  "removed_task", when given, is a task
 * that left the DAG, remembered so that a dependency on it is reported as
 * "cannot delete" rather than as a dependency on an unknown task.
 */
static void
val_mark_dirty(const char *dag_name, const char *removed_task,
			   const char *verb)
{
	ValDirtyDag *entry;
	bool		found;

	if (!val_callback_registered)
	{
		RegisterXactCallback(val_xact_callback, NULL);
		val_callback_registered = true;
	}

	if (val_dirty_dags == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = VAL_NAME_BUF;
		ctl.entrysize = sizeof(ValDirtyDag);
		ctl.hcxt = TopTransactionContext;
		val_dirty_dags = hash_create("dagsched dirty DAGs", 16, &ctl,
									 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}

	entry = (ValDirtyDag *) hash_search(val_dirty_dags, dag_name,
										HASH_ENTER, &found);
	if (!found)
		entry->removed = NIL;

	if (removed_task != NULL)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);
		ValRemovedTask *r = palloc(sizeof(ValRemovedTask));

		r->task_name = pstrdup(removed_task);
		r->verb = verb;
		entry->removed = lappend(entry->removed, r);
		MemoryContextSwitchTo(oldcxt);
	}
}


/*
 * Small helpers
 */

static Datum
val_get_datum(HeapTuple tuple, TupleDesc tupdesc, const char *colname,
			  bool *isnull)
{
	int			attnum = SPI_fnumber(tupdesc, colname);

	if (attnum <= 0)
		elog(ERROR, "column \"%s\" not found", colname);
	return heap_getattr(tuple, attnum, tupdesc, isnull);
}

/* Value of column "colname" as a C string, or NULL. */
static char *
val_get_text(HeapTuple tuple, TupleDesc tupdesc, const char *colname)
{
	bool		isnull;
	Datum		d = val_get_datum(tuple, tupdesc, colname, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* NULL-aware string equality: two NULLs are equal. */
static const char *val_quote(const char *name);

static bool
val_str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* A name fit to quote in a message: absurdly long ones are shortened. */
const char *
DagschedQuote(const char *name)
{
	return val_quote(name);
}

static const char *
val_quote(const char *name)
{
	int			len = strlen(name);

	if (len <= DAGSCHED_MAX_NAME_LEN)
		return name;
	return psprintf("%s...",
					pnstrdup(name, pg_mbcliplen(name, len, VAL_QUOTE_LEN)));
}

/*
 * A name's length: it keys hash tables and indexes, so even the names of
 * rows stored before a rule was added must fit.
 */
static void
val_check_name_length(bool is_dag, const char *name)
{
	int			len = strlen(name);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 is_dag ?
				 errmsg("DAG name must not be empty") :
				 errmsg("task name must not be empty"),
				 errdetail("Names are 1 to %d bytes long.",
						   DAGSCHED_MAX_NAME_LEN)));
	if (len > DAGSCHED_MAX_NAME_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 is_dag ?
				 errmsg("DAG name \"%s\" is too long", val_quote(name)) :
				 errmsg("task name \"%s\" is too long", val_quote(name)),
				 errdetail("Names are at most %d bytes long; this one has %d.",
						   DAGSCHED_MAX_NAME_LEN, len)));
}

/* A name as a message can show it: control characters written as escapes */
static char *
val_printable(const char *name)
{
	StringInfoData buf;
	const char *p;

	initStringInfo(&buf);
	for (p = name; *p; p++)
	{
		if (*p == '\n')
			appendStringInfoString(&buf, "\\n");
		else if (*p == '\r')
			appendStringInfoString(&buf, "\\r");
		else if (*p == '\t')
			appendStringInfoString(&buf, "\\t");
		else if (iscntrl((unsigned char) *p))
			appendStringInfo(&buf, "\\x%02x", (unsigned char) *p);
		else
			appendStringInfoChar(&buf, *p);
	}
	return buf.data;
}

/*
 * A new name, as users will type and read it: no spaces at either end (a
 * name of only spaces looks empty in every listing, and 'load ' is not
 * 'load') and no control characters (a newline breaks every listing and
 * log line that shows it).
 */
static void
val_check_name(bool is_dag, const char *name)
{
	int			len = strlen(name);
	const char *what = is_dag ? "DAG" : "task";
	int			i;

	val_check_name_length(is_dag, name);

	if (isspace((unsigned char) name[0]) ||
		isspace((unsigned char) name[len - 1]))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("%s name \"%s\" begins or ends with white space",
						what, val_printable(name)),
				 errhint("Remove the spaces at the ends of the name.")));

	for (i = 0; i < len; i++)
		if (iscntrl((unsigned char) name[i]))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_NAME),
					 errmsg("%s name \"%s\" contains a control character",
							what, val_printable(name)),
					 errdetail("Byte %d of the name is 0x%02x; names are printable text.",
							   i + 1, (unsigned char) name[i])));
}

/* Whether a role may own a DAG with shell tasks. */
static bool
val_may_run_shell(Oid roleid)
{
	return has_privs_of_role(roleid, ROLE_PG_EXECUTE_SERVER_PROGRAM);
}

/*
 * Run one query as the owner of "rel", the way foreign-key checks do: the
 * checks must see every row, whatever the current user's privileges and
 * row-level security policies.  The caller has done SPI_connect.
 *
 * Without "latest" the query is read-only and sees what the current
 * statement sees.  With it, the query reads with a fresh snapshot, so that
 * rows committed by concurrent transactions are seen even under REPEATABLE
 * READ, and is not read-only: SPI then advances the command counter first,
 * so that the rows written by the statement that fired an IMMEDIATE check
 * are visible too.
 */
static void
val_run_query(Relation rel, const char *sql, const char *arg, bool latest)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	Oid			save_userid;
	int			save_sec_context;
	SPIPlanPtr	plan;
	int			ret;

	values[0] = CStringGetTextDatum(arg);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_NOFORCE_RLS);

	plan = SPI_prepare(sql, 1, argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));

	ret = SPI_execute_snapshot(plan, values, NULL,
							   latest ? GetLatestSnapshot() : InvalidSnapshot,
							   InvalidSnapshot, !latest, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_snapshot failed: %s",
			 SPI_result_code_string(ret));

	SetUserIdAndSecContext(save_userid, save_sec_context);
	SPI_freeplan(plan);
}

/*
 * The owner of DAG "dag_name" as its role OID; InvalidOid with *found false
 * if there is no such DAG, or with *found true if the role no longer exists.
 *
 * The answer is remembered for the rest of the statement, which reads with
 * one snapshot anyway: a 10,000-row INSERT then costs one lookup, not
 * 10,000.
 */
static Oid
val_lookup_dag_owner(Relation rel, const char *dag_name, char **owner_name,
					 bool *found)
{
	static struct
	{
		LocalTransactionId lxid;
		CommandId	cid;
		char		dag_name[VAL_NAME_BUF];
		bool		found;
		Oid			roleid;
		char		owner[NAMEDATALEN];
	}			cache;
	Oid			roleid = InvalidOid;

	if (cache.lxid == DagschedMyLocalXid() &&
		cache.cid == GetCurrentCommandId(false) &&
		strcmp(cache.dag_name, dag_name) == 0)
	{
		*found = cache.found;
		*owner_name = pstrdup(cache.owner);
		return cache.roleid;
	}

	*found = false;
	*owner_name = NULL;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	val_run_query(rel,
				  "SELECT owner FROM dagsched.dag "
				  "WHERE dag_name OPERATOR(pg_catalog.=) $1",
				  dag_name, false);

	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			*found = true;
			*owner_name = SPI_palloc(NAMEDATALEN);
			strlcpy(*owner_name, NameStr(*DatumGetName(d)), NAMEDATALEN);
			roleid = get_role_oid(*owner_name, true);
		}
	}

	SPI_finish();

	cache.lxid = DagschedMyLocalXid();
	cache.cid = GetCurrentCommandId(false);
	strlcpy(cache.dag_name, dag_name, VAL_NAME_BUF);
	cache.found = *found;
	cache.roleid = roleid;
	strlcpy(cache.owner, *found ? *owner_name : "", NAMEDATALEN);

	return roleid;
}

/*
 * A non-superuser changes only DAGs whose owner role it belongs to: tasks run
 * as the owner, so writing one into another role's DAG would be acting as
 * that role.
 */
static void
val_check_may_modify(const char *dag_name, Oid ownerid, const char *owner)
{
	if (superuser())
		return;
	if (!OidIsValid(ownerid) || !is_member_of_role(GetUserId(), ownerid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for DAG \"%s\"", dag_name),
				 errdetail("Only members of its owner role \"%s\" can change it.",
						   owner)));
}


/* Names the DAG when the cron module rejects its schedule or timezone. */
static void
val_dag_context(void *arg)
{
	errcontext("checking DAG \"%s\"", (const char *) arg);
}

/* The row a BEFORE ROW trigger was given, and what it fired for. */
typedef struct ValRow
{
	Relation	rel;
	TupleDesc	tupdesc;
	HeapTuple	newtup;			/* NULL on DELETE */
	HeapTuple	oldtup;			/* NULL on INSERT */
	bool		is_insert;
} ValRow;

static void
val_row_from_trigger(FunctionCallInfo fcinfo, const char *fname,
					 bool allow_delete, ValRow *row)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TriggerEvent event;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		(!allow_delete && TRIGGER_FIRED_BY_DELETE(trigdata->tg_event)))
		elog(ERROR, "%s: must be fired BEFORE INSERT OR UPDATE%s FOR EACH ROW",
			 fname, allow_delete ? " OR DELETE" : "");

	event = trigdata->tg_event;
	row->rel = trigdata->tg_relation;
	row->tupdesc = RelationGetDescr(row->rel);
	row->is_insert = TRIGGER_FIRED_BY_INSERT(event);
	row->oldtup = row->is_insert ? NULL : trigdata->tg_trigtuple;
	if (TRIGGER_FIRED_BY_DELETE(event))
		row->newtup = NULL;
	else
		row->newtup = row->is_insert ? trigdata->tg_trigtuple :
			trigdata->tg_newtuple;
}

/* Whether column "colname" is being set: always on INSERT, else if changed */
static bool
val_col_changed(const ValRow *row, const char *colname)
{
	int			attnum;
	Form_pg_attribute att;
	bool		new_null;
	bool		old_null;
	Datum		new_value;
	Datum		old_value;

	if (row->is_insert)
		return true;
	attnum = SPI_fnumber(row->tupdesc, colname);
	if (attnum <= 0)
		return false;			/* a catalog older than this library */
	att = TupleDescAttr(row->tupdesc, attnum - 1);
	new_value = heap_getattr(row->newtup, attnum, row->tupdesc, &new_null);
	old_value = heap_getattr(row->oldtup, attnum, row->tupdesc, &old_null);
	if (new_null || old_null)
		return new_null != old_null;
	return !datumIsEqual(old_value, new_value, att->attbyval, att->attlen);
}

/* Value of a name column as a C string, or NULL. */
static char *
val_get_name(HeapTuple tuple, TupleDesc tupdesc, const char *colname)
{
	bool		isnull;
	Datum		d = val_get_datum(tuple, tupdesc, colname, &isnull);

	return isnull ? NULL : pstrdup(NameStr(*DatumGetName(d)));
}

/*
 * Value of a boolean column; "dflt" when NULL or when the column does not
 * exist yet (the library is loaded before ALTER EXTENSION UPDATE adds it).
 */
static bool
val_get_bool(HeapTuple tuple, TupleDesc tupdesc, const char *colname,
			 bool dflt)
{
	int			attnum = SPI_fnumber(tupdesc, colname);
	bool		isnull;
	Datum		d;

	if (attnum <= 0)
		return dflt;
	d = heap_getattr(tuple, attnum, tupdesc, &isnull);
	return isnull ? dflt : DatumGetBool(d);
}

/* Shell tasks already in the DAG must stay runnable by a new owner. */
static void
val_dag_check_keeps_shell(const ValRow *row, const char *dag_name,
						  const char *owner, Oid roleid)
{
	bool		has_shell;

	if (row->is_insert || val_may_run_shell(roleid))
		return;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	val_run_query(row->rel,
				  "SELECT 1 FROM dagsched.task "
				  "WHERE dag_name OPERATOR(pg_catalog.=) $1 "
				  "AND kind OPERATOR(pg_catalog.=) 'shell' LIMIT 1",
				  val_get_text(row->oldtup, row->tupdesc, "dag_name"), false);
	has_shell = SPI_processed > 0;
	SPI_finish();

	if (has_shell)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("role \"%s\" cannot own DAG \"%s\"", owner, dag_name),
				 errdetail("The DAG has shell tasks, and role \"%s\" is neither a superuser nor a member of pg_execute_server_program.",
						   owner)));
}

/* A role being made the owner of a DAG: it exists, and the caller may. */
static void
val_dag_check_new_owner(const ValRow *row, const char *dag_name,
						const char *owner)
{
	Oid			roleid = get_role_oid(owner, true);

	if (!OidIsValid(roleid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", owner),
				 errdetail("The owner of DAG \"%s\" must be an existing role.",
						   dag_name)));
	if (!superuser())
	{
		if (superuser_arg(roleid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to make superuser \"%s\" the owner of DAG \"%s\"",
							owner, dag_name),
					 errdetail("Only a superuser can give a DAG to a superuser.")));
		if (!is_member_of_role(GetUserId(), roleid))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to make role \"%s\" the owner of DAG \"%s\"",
							owner, dag_name),
					 errdetail("Only members of role \"%s\" can give it a DAG.",
							   owner)));
	}
	val_dag_check_keeps_shell(row, dag_name, owner, roleid);
}

/* The caller may change the DAG as it was, and give it the owner it names. */
static void
val_dag_check_owner(const ValRow *row, const char *dag_name)
{
	char	   *owner = val_get_name(row->newtup, row->tupdesc, "owner");

	if (!row->is_insert)
	{
		char	   *old_owner = val_get_name(row->oldtup, row->tupdesc,
											 "owner");

		if (old_owner != NULL)
			val_check_may_modify(val_get_text(row->oldtup, row->tupdesc,
											  "dag_name"),
								 get_role_oid(old_owner, true), old_owner);
	}

	if (owner != NULL && val_col_changed(row, "owner"))
		val_dag_check_new_owner(row, dag_name, owner);
}

/*
 * A DAG with catchup = true is being unpaused: the ticks it missed while
 * paused are caught up, as after downtime.  Its next tick is then the first
 * one after the last scheduled run, when that comes before *value (the next
 * tick from now); the scheduler creates the missed runs from there, marked
 * 'catchup'.  Without a scheduled run yet, there is nothing to catch up.
 */
static void
val_catch_up_after_pause(Relation rel, HeapTuple newtup, const char *dag_name,
						 CronSchedule *sched, pg_tz *tz, Datum *value,
						 bool *value_null)
{
	bool		isnull;
	Datum		d = val_get_datum(newtup, RelationGetDescr(rel), "catchup",
								  &isnull);
	TimestampTz last;
	TimestampTz next;
	bool		found = false;

	if (isnull || !DatumGetBool(d))
		return;
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	val_run_query(rel,
				  "SELECT pg_catalog.max(logical_time) FROM dagsched.dag_run "
				  "WHERE dag_name OPERATOR(pg_catalog.=) $1 "
				  "AND trigger OPERATOR(pg_catalog.=) ANY "
				  "('{schedule,catchup}'::pg_catalog.text[])",
				  dag_name, false);
	if (SPI_processed == 1)
	{
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
						  &isnull);
		if (!isnull)
		{
			last = DatumGetTimestampTz(d);
			found = true;
		}
	}
	SPI_finish();

	if (found && CronNextFire(sched, last, tz, &next) &&
		(*value_null || next < DatumGetTimestampTz(*value)))
	{
		*value = TimestampTzGetDatum(next);
		*value_null = false;
	}
}

/*
 * Check a new schedule or timezone, and recompute next_run_at when what it
 * depends on changed: the scheduler advances next_run_at itself with plain
 * UPDATEs, which must not move it.
 */
static HeapTuple
val_dag_schedule(const ValRow *row, const char *dag_name)
{
	HeapTuple	newtup = row->newtup;
	char	   *schedule = val_get_text(newtup, row->tupdesc, "schedule");
	char	   *timezone = val_get_text(newtup, row->tupdesc, "timezone");
	bool		paused_null;
	Datum		d = val_get_datum(newtup, row->tupdesc, "paused", &paused_null);
	bool		paused = !paused_null && DatumGetBool(d);
	bool		schedule_changed = val_col_changed(row, "schedule");
	bool		timezone_changed = val_col_changed(row, "timezone");
	CronSchedule sched;
	ErrorContextCallback errcallback;

	errcallback.callback = val_dag_context;
	errcallback.arg = (void *) dag_name;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (schedule != NULL && schedule_changed)
		CronParseOrError(schedule, &sched);
	if (timezone != NULL && timezone_changed)
		(void) CronLookupUserTimezone(timezone);

	if ((schedule_changed || timezone_changed ||
		 val_col_changed(row, "paused")) &&
		timezone != NULL && !paused_null)
	{
		int			col = SPI_fnumber(row->tupdesc, "next_run_at");
		Datum		value = (Datum) 0;
		bool		value_null = true;
		TimestampTz next;

		if (schedule != NULL && !paused)
		{
			if (!schedule_changed)
				CronParseOrError(schedule, &sched);
			if (CronNextFire(&sched, GetCurrentTransactionStartTimestamp(),
							 CronLookupTimezone(timezone), &next))
			{
				value = TimestampTzGetDatum(next);
				value_null = false;
			}
			if (!row->is_insert && val_col_changed(row, "paused"))
				val_catch_up_after_pause(row->rel, newtup,
										 dag_name, &sched,
										 CronLookupTimezone(timezone),
										 &value, &value_null);
		}
		newtup = heap_modify_tuple_by_cols(newtup, row->tupdesc, 1, &col,
										   &value, &value_null);
	}

	error_context_stack = errcallback.previous;
	return newtup;
}

/*
 * dagsched_dag_check: BEFORE INSERT OR UPDATE FOR EACH ROW on dagsched.dag
 *
 * On UPDATE only changed values are checked, so that the scheduler's plain
 * UPDATEs of next_run_at keep working for a DAG whose owner role was dropped
 * or whose schedule a later parser would refuse.
 */
Datum
dagsched_dag_check(PG_FUNCTION_ARGS)
{
	ValRow		row;
	char	   *dag_name;
	bool		isnull;
	Datum		d;

	val_row_from_trigger(fcinfo, "dagsched_dag_check", false, &row);

	/* NULLs in NOT NULL columns are left for the constraint to report */
	dag_name = val_get_text(row.newtup, row.tupdesc, "dag_name");
	if (dag_name == NULL)
		return PointerGetDatum(row.newtup);

	if (val_col_changed(&row, "dag_name"))
		val_check_name(true, dag_name);

	val_dag_check_owner(&row, dag_name);

	d = val_get_datum(row.newtup, row.tupdesc, "max_active_runs", &isnull);
	if (!isnull && DatumGetInt32(d) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid max_active_runs \"%d\" for DAG \"%s\"",
						DatumGetInt32(d), dag_name),
				 errdetail("A DAG must be allowed at least one active run.")));

	return PointerGetDatum(val_dag_schedule(&row, dag_name));
}


/*
 * dagsched_task_check helpers
 */

/* One dagsched.task row being written, with what the checks need of it. */
typedef struct ValTask
{
	ValRow		row;
	char	   *dag_name;
	char	   *task_name;
	char	   *old_dag_name;	/* NULL on INSERT */
	char	   *old_task_name;
	char	   *kind;			/* NULL: left for NOT NULL to report */
	bool		is_shell;
	bool		is_sensor;		/* kind 'sensor': a boolean query poked */
	bool		autocommit;
	bool		remote;			/* conninfo set: runs on another server */
} ValTask;

static int
val_cmp_cstring(const void *a, const void *b)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static void
val_check_depends_on(const char *dag_name, const char *task_name, Datum arr)
{
	ArrayType  *a = DatumGetArrayTypeP(arr);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	char	  **names;
	int			i;

	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("depends_on of task \"%s\" of DAG \"%s\" has %d dimensions",
						task_name, dag_name, ARR_NDIM(a)),
				 errdetail("depends_on is a one-dimensional array of task names.")));

	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);

	if (n > DAGSCHED_MAX_DEPENDENCIES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("task \"%s\" of DAG \"%s\" has too many dependencies",
						task_name, dag_name),
				 errdetail("A task can depend on at most %d tasks; this one lists %d.",
						   DAGSCHED_MAX_DEPENDENCIES, n)));

	names = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("depends_on of task \"%s\" of DAG \"%s\" contains a null",
							task_name, dag_name),
					 errdetail("Every element of depends_on must name a task.")));
		names[i] = TextDatumGetCString(elems[i]);
		/* longer than any task name: refuse it before it reaches an index */
		if (strlen(names[i]) > DAGSCHED_MAX_NAME_LEN)
			ereport(ERROR,
					(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
					 errmsg("task \"%s\" of DAG \"%s\" depends on unknown task \"%s\"",
							task_name, dag_name, val_quote(names[i])),
					 errdetail("Task names are at most %d bytes long.",
							   DAGSCHED_MAX_NAME_LEN)));
		if (strcmp(names[i], task_name) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("task \"%s\" depends on itself", task_name),
					 errdetail("A task of DAG \"%s\" cannot be its own upstream.",
							   dag_name)));
	}

	/* sorting finds duplicates in O(n log n), and fan-ins can be wide */
	if (n > 1)
	{
		qsort(names, n, sizeof(char *), val_cmp_cstring);
		for (i = 1; i < n; i++)
			if (strcmp(names[i - 1], names[i]) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
						 errmsg("task \"%s\" of DAG \"%s\" depends on \"%s\" more than once",
								task_name, dag_name, val_quote(names[i])),
						 errdetail("Each upstream task appears in depends_on once.")));
	}
}

static void
val_check_interval(const char *what, Datum value, const char *dag_name,
				   const char *task_name, const char *detail)
{
	Interval	zero;

	memset(&zero, 0, sizeof(zero));
	if (!DatumGetBool(DirectFunctionCall2(interval_gt, value,
										  IntervalPGetDatum(&zero))))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s \"%s\" for task \"%s\" of DAG \"%s\"",
						what,
						DatumGetCString(DirectFunctionCall1(interval_out, value)),
						task_name, dag_name),
				 errdetail("%s", detail)));
}

static bool
val_is_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char) *s))
			return false;
	return true;
}


/*
 * The command, checked when written
 */

/* The text of statement "stmt" of "command", cut to fit in a message. */
static char *
val_statement_text(const char *command, const RawStmt *stmt)
{
	const char *start = command + stmt->stmt_location;
	int			len = stmt->stmt_len > 0 ? stmt->stmt_len : strlen(start);
	char	   *text;
	int			i;

	while (len > 0 && isspace((unsigned char) *start))
		start++, len--;
	if (len > VAL_QUOTE_LEN)
		text = psprintf("%s...",
						pnstrdup(start, pg_mbcliplen(start, len,
													 VAL_QUOTE_LEN)));

	else
		text = pnstrdup(start, len);

	for (i = 0; text[i]; i++)
		if (iscntrl((unsigned char) text[i]))
			text[		i] = ' ';
	return text;
}

/*
 * Where the parser stopped, as psql shows it: the line of the command
 * (a window of it, if long) and a caret under the character.  "pos" counts
 * characters from 1, as the parser's error position does.
 */
static char *
val_error_position(const char *command, int pos)
{
	const char *line = command;
	const char *p = command;
	const char *end;
	int			lineno = 1;
	int			col = 1;
	int			skip;
	StringInfoData buf;

	for (; *p && pos > 1; pos--)
	{
		if (*p == '\n')
		{
			line = p + 1;
			lineno++;
			col = 0;
		}
		p += pg_mblen(p);
		col++;
	}

	/* show at most VAL_QUOTE_LEN characters, the caret within them */
	for (skip = Max(col - VAL_QUOTE_LEN / 2, 1); skip > 1; skip--, col--)
		line += pg_mblen(line);
	for (end = line; *end && *end != '\n' && end - line < VAL_QUOTE_LEN * 4;)
		end += pg_mblen(end);

	initStringInfo(&buf);
	appendStringInfo(&buf, "Line %d of the command:\n", lineno);
	appendBinaryStringInfo(&buf, line,
						   pg_mbcliplen(line, end - line, VAL_QUOTE_LEN));
	appendStringInfoChar(&buf, '\n');
	appendStringInfoSpaces(&buf, col - 1);
	appendStringInfoChar(&buf, '^');
	return buf.data;
}

/*
 * Parse "command" with the raw parser: its grammar only, so nothing runs
 * and no object it names needs to exist yet.  A syntax error becomes an
 * error about the task's column "what", with the parser's message and
 * position.
 */
static List *
val_parse_sql(const ValTask *t, const char *what, const char *command)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *volatile stmts = NIL;
	ErrorData  *edata = NULL;
	int			category;

	PG_TRY();
	{
		stmts = raw_parser(command, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();

	if (edata == NULL)
		return stmts;

	/* a cancel or an out-of-memory is not the command's fault */
	category = ERRCODE_TO_CATEGORY(edata->sqlerrcode);
	if (category != ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION &&
		category != ERRCODE_DATA_EXCEPTION &&
		edata->sqlerrcode != ERRCODE_STATEMENT_TOO_COMPLEX)
		ReThrowError(edata);

	ereport(ERROR,
			(errcode(edata->sqlerrcode),
			 errmsg("%s of task \"%s\" of DAG \"%s\" is not valid SQL: %s",
					what, t->task_name, t->dag_name, edata->message),
			 edata->cursorpos > 0 ?
			 errdetail("%s", val_error_position(command, edata->cursorpos)) : 0,
			 errhint("Commands are parsed when a task is written; nothing of them runs until the task does.")));
	return NIL;					/* keep the compiler quiet */
}

static List *
val_parse_command(const ValTask *t, const char *command)
{
	return val_parse_sql(t, "command", command);
}

/* "REINDEX" forms that manage their own transactions, or NULL. */
static const char *
val_reindex_own_transaction(const ReindexStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->params)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "concurrently") == 0 && defGetBoolean(opt))
			return "REINDEX CONCURRENTLY";
	}
	switch (stmt->kind)
	{
		case REINDEX_OBJECT_SCHEMA:
			return "REINDEX SCHEMA";
		case REINDEX_OBJECT_SYSTEM:
			return "REINDEX SYSTEM";
		case REINDEX_OBJECT_DATABASE:
			return "REINDEX DATABASE";
		default:
			return NULL;
	}
}

/*
 * The name of the statement if PostgreSQL refuses to run it inside a
 * transaction block or a function (PreventInTransactionBlock), or if SPI
 * refuses it (transaction control); NULL if it can run inside a task's
 * transaction.  Decided from the parse tree alone.
 */
static const char *
val_own_transaction_statement(Node *stmt)
{
	switch (nodeTag(stmt))
	{
		case T_VacuumStmt:
			return ((VacuumStmt *) stmt)->is_vacuumcmd ? "VACUUM" : NULL;
		case T_IndexStmt:
			return ((IndexStmt *) stmt)->concurrent ?
				"CREATE INDEX CONCURRENTLY" : NULL;
		case T_DropStmt:
			return ((DropStmt *) stmt)->concurrent ?
				"DROP INDEX CONCURRENTLY" : NULL;
		case T_ReindexStmt:
			return val_reindex_own_transaction((ReindexStmt *) stmt);
		case T_ClusterStmt:
			return ((ClusterStmt *) stmt)->relation == NULL ?
				"CLUSTER without a table name" : NULL;
		case T_CreatedbStmt:
			return "CREATE DATABASE";
		case T_DropdbStmt:
			return "DROP DATABASE";
		case T_CreateTableSpaceStmt:
			return "CREATE TABLESPACE";
		case T_DropTableSpaceStmt:
			return "DROP TABLESPACE";
		case T_AlterSystemStmt:
			return "ALTER SYSTEM";
		case T_DiscardStmt:
			return ((DiscardStmt *) stmt)->target == DISCARD_ALL ?
				"DISCARD ALL" : NULL;
		case T_TransactionStmt:
			return GetCommandTagName(CreateCommandTag(stmt));
		default:
			return NULL;
	}
}

/*
 * A task that is one transaction (autocommit = false) cannot hold
 * statements that need a transaction of their own.  (SET ROLE fails at run
 * time too, but so can set_config('role', ...) in a function, which no
 * parse can see: that error gets its hint when it happens.)
 */
static void
val_check_one_transaction(const ValTask *t, const char *command, List *stmts)
{
	ListCell   *lc;

	foreach(lc, stmts)
	{
		RawStmt    *raw = lfirst_node(RawStmt, lc);
		const char *what = val_own_transaction_statement(raw->stmt);

		if (what != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
					 errmsg("%s cannot run inside the transaction of task \"%s\" of DAG \"%s\"",
							what, t->task_name, t->dag_name),
					 errdetail("Statement %d of the command is \"%s\"; the task runs as one transaction because its autocommit is false.",
							   foreach_current_index(lc) + 1,
							   val_statement_text(command, raw)),
					 errhint("Set autocommit = true for this task: its statements then run one by one, each in its own transaction, as psql runs them.")));
	}
}

/*
 * The command: not blank, not larger than dagsched.max_command_size, and,
 * for SQL run on this server, valid SQL that fits how the task runs.
 * Commands for other servers (conninfo) are not parsed: that server's
 * PostgreSQL may speak a newer grammar.
 */
static void
val_task_check_command(const ValTask *t)
{
	char	   *command = val_get_text(t->row.newtup, t->row.tupdesc,
									   "command");
	List	   *stmts;
	Size		len;

	if (command == NULL)
		return;
	if (val_is_blank(command))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("command of task \"%s\" of DAG \"%s\" is empty",
						t->task_name, t->dag_name),
				 errdetail("A task needs an SQL command or a shell command line to run.")));

	len = strlen(command);
	if (len > (Size) DagschedMaxCommandSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("command of task \"%s\" of DAG \"%s\" is too long",
						t->task_name, t->dag_name),
				 errdetail("It has %zu bytes; dagsched.max_command_size allows %d.",
						   len, DagschedMaxCommandSize),
				 errhint("Move the code into a function or procedure and call it from the task.")));

	if (t->is_shell || t->remote || t->kind == NULL)
		return;

	stmts = val_parse_command(t, command);
	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("command of task \"%s\" of DAG \"%s\" holds no statement",
						t->task_name, t->dag_name),
				 errdetail("It holds only comments or semicolons.")));
	if (!t->autocommit)
		val_check_one_transaction(t, command, stmts);
	if (t->is_sensor &&
		(list_length(stmts) != 1 ||
		 !IsA(linitial_node(RawStmt, stmts)->stmt, SelectStmt)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("command of sensor \"%s\" of DAG \"%s\" must be a single query",
						t->task_name, t->dag_name),
				 errdetail("Command: %s", val_quote(command)),
				 errhint("Write one SELECT returning a boolean, such as SELECT EXISTS (SELECT FROM loads WHERE day = current_date).")));
}

/*
 * A sensor is poked in a short transaction of a worker of this database:
 * not on another server or database, and not statement by statement.
 */
static void
val_task_check_sensor(const ValTask *t)
{
	char	   *dbname;

	if (!t->is_sensor)
		return;
	if (t->remote || t->autocommit)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("sensor \"%s\" of DAG \"%s\" cannot have %s",
						t->task_name, t->dag_name,
						t->remote ? "conninfo" : "autocommit = true"),
				 errdetail("A sensor's query is poked in a short transaction of a worker, in this database."),
				 t->remote ?
				 errhint("Query the other server through a foreign table or dblink, or make it an SQL task.") :
				 errhint("Set autocommit = false: a sensor's query is a single statement.")));
	dbname = val_get_name(t->row.newtup, t->row.tupdesc, "database");
	if (dbname != NULL &&
		strcmp(dbname, get_database_name(MyDatabaseId)) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("sensor \"%s\" of DAG \"%s\" cannot run in database \"%s\"",
						t->task_name, t->dag_name, dbname),
				 errdetail("A sensor's query is poked in a short transaction of a worker, in this database."),
				 errhint("Set database to NULL, or make it an SQL task.")));
}

/*
 * The condition: one query (SELECT, VALUES, WITH ... SELECT), checked by
 * the raw parser like a command; whether it returns one boolean is known
 * only when it runs.
 */
static void
val_task_check_condition(const ValTask *t)
{
	char	   *condition;
	List	   *stmts;

	/* a catalog older than this library has no such column */
	if (SPI_fnumber(t->row.tupdesc, "condition") <= 0)
		return;
	condition = val_get_text(t->row.newtup, t->row.tupdesc, "condition");
	if (condition == NULL)
		return;
	if (strlen(condition) > (Size) DagschedMaxCommandSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("condition of task \"%s\" of DAG \"%s\" is too long",
						t->task_name, t->dag_name),
				 errdetail("It has %zu bytes; dagsched.max_command_size allows %d.",
						   strlen(condition), DagschedMaxCommandSize)));
	stmts = val_parse_sql(t, "condition", condition);
	if (list_length(stmts) != 1 ||
		!IsA(linitial_node(RawStmt, stmts)->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("condition of task \"%s\" of DAG \"%s\" must be a single query",
						t->task_name, t->dag_name),
				 errdetail("Condition: %s", val_quote(condition)),
				 errhint("Write one SELECT returning a boolean, such as SELECT dagsched.result('check') = 'true'.")));
}

/*
 * map_over: one query (SELECT, VALUES, WITH ... SELECT), checked by the raw
 * parser like a condition; each row it returns when the task is ready
 * becomes one instance of the task.
 */
static void
val_task_check_map_over(const ValTask *t)
{
	char	   *map_over;
	List	   *stmts;

	/* a catalog older than this library has no such column */
	if (SPI_fnumber(t->row.tupdesc, "map_over") <= 0)
		return;
	map_over = val_get_text(t->row.newtup, t->row.tupdesc, "map_over");
	if (map_over == NULL)
		return;
	if (t->is_sensor)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("sensor \"%s\" of DAG \"%s\" cannot have a map_over query",
						t->task_name, t->dag_name),
				 errhint("Map a task downstream of the sensor instead.")));
	if (strlen(map_over) > (Size) DagschedMaxCommandSize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("map_over of task \"%s\" of DAG \"%s\" is too long",
						t->task_name, t->dag_name),
				 errdetail("It has %zu bytes; dagsched.max_command_size allows %d.",
						   strlen(map_over), DagschedMaxCommandSize)));
	stmts = val_parse_sql(t, "map_over", map_over);
	if (list_length(stmts) != 1 ||
		!IsA(linitial_node(RawStmt, stmts)->stmt, SelectStmt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("map_over of task \"%s\" of DAG \"%s\" must be a single query",
						t->task_name, t->dag_name),
				 errdetail("map_over: %s", val_quote(map_over)),
				 errhint("Write one SELECT whose rows are the instances, such as SELECT value FROM jsonb_array_elements(dagsched.result('list')).")));
}

/* autocommit is how this server runs SQL; nothing else has it. */
static void
val_task_check_autocommit(const ValTask *t)
{
	if (!t->autocommit)
		return;
	if (t->is_shell)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("shell task \"%s\" of DAG \"%s\" cannot have autocommit = true",
						t->task_name, t->dag_name),
				 errdetail("autocommit says how the SQL statements of a task run; a shell command has none.")));
	if (t->remote)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("task \"%s\" of DAG \"%s\" cannot have both conninfo and autocommit = true",
						t->task_name, t->dag_name),
				 errdetail("Statements one by one, each in its own transaction, run only on this server."),
				 errhint("Run the statements in a task without conninfo and with database set, or as a shell task running psql.")));
}

/* kind and trigger_rule name known values. */
static void
val_task_check_kind_and_rule(const ValTask *t)
{
	char	   *rule = val_get_text(t->row.newtup, t->row.tupdesc,
									"trigger_rule");
	int			i;

	if (t->kind != NULL && strcmp(t->kind, TASK_KIND_SQL) != 0 &&
		!t->is_shell && !t->is_sensor)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid kind \"%s\" for task \"%s\" of DAG \"%s\"",
						val_quote(t->kind), t->task_name, t->dag_name),
				 errdetail("A task's kind is \"sql\", \"shell\" or \"sensor\".")));

	if (rule == NULL)
		return;
	for (i = 0; i < lengthof(val_trigger_rules); i++)
		if (strcmp(rule, val_trigger_rules[i]) == 0)
			return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid trigger_rule \"%s\" for task \"%s\" of DAG \"%s\"",
					val_quote(rule), t->task_name, t->dag_name),
			 errdetail("Valid trigger rules are %s.", val_rule_list())));
}

/* retries, retry_delay, timeout and depends_on */
static void
val_task_check_numbers(const ValTask *t)
{
	HeapTuple	tup = t->row.newtup;
	TupleDesc	td = t->row.tupdesc;
	bool		isnull;
	Datum		d;

	d = val_get_datum(tup, td, "retries", &isnull);
	if (!isnull && DatumGetInt32(d) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid retries \"%d\" for task \"%s\" of DAG \"%s\"",
						DatumGetInt32(d), t->task_name, t->dag_name),
				 errdetail("The number of retries is zero or more.")));
	/* only when set: a row stored before the bound must stay editable */
	if (!isnull && DatumGetInt32(d) > DAGSCHED_MAX_RETRIES &&
		val_col_changed(&t->row, "retries"))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid retries \"%d\" for task \"%s\" of DAG \"%s\"",
						DatumGetInt32(d), t->task_name, t->dag_name),
				 errdetail("A task is retried at most %d times; the delay doubles each time.",
						   DAGSCHED_MAX_RETRIES)));

	d = val_get_datum(tup, td, "retry_delay", &isnull);
	if (!isnull)
		val_check_interval("retry_delay", d, t->dag_name, t->task_name,
						   "The delay before a retry must be positive.");

	d = val_get_datum(tup, td, "timeout", &isnull);
	if (!isnull)
		val_check_interval("timeout", d, t->dag_name, t->task_name,
						   "A timeout must be positive; NULL means none.");

	/* a catalog older than this library has no such column */
	if (SPI_fnumber(td, "poke_interval") > 0)
	{
		d = val_get_datum(tup, td, "poke_interval", &isnull);
		if (!isnull)
			val_check_interval("poke_interval", d, t->dag_name, t->task_name,
							   "A sensor waits a positive time between two pokes.");
	}

	d = val_get_datum(tup, td, "depends_on", &isnull);
	if (!isnull)
		val_check_depends_on(t->dag_name, t->task_name, d);
}

/* A database set for the task exists (only when set: it may go later). */
static void
val_task_check_database(const ValTask *t)
{
	char	   *dbname = val_get_name(t->row.newtup, t->row.tupdesc,
									  "database");

	if (dbname != NULL && val_col_changed(&t->row, "database") &&
		!OidIsValid(get_database_oid(dbname, true)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_DATABASE),
				 errmsg("database \"%s\" does not exist", dbname),
				 errdetail("Task \"%s\" of DAG \"%s\" is set to run in it.",
						   t->task_name, t->dag_name)));
}

/* The owner's rights matter for shell tasks and for non-superusers. */
static void
val_task_check_rights(const ValTask *t)
{
	char	   *owner;
	bool		found;
	Oid			ownerid;

	if (!t->is_shell && superuser())
		return;

	ownerid = val_lookup_dag_owner(t->row.rel, t->dag_name, &owner, &found);
	/* an unknown DAG is left for the foreign key to report */
	if (found)
	{
		val_check_may_modify(t->dag_name, ownerid, owner);
		if (t->is_shell &&
			(!OidIsValid(ownerid) || !val_may_run_shell(ownerid)))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to create shell task \"%s\" in DAG \"%s\"",
							t->task_name, t->dag_name),
					 errdetail("The DAG's owner \"%s\" is neither a superuser nor a member of pg_execute_server_program.",
							   owner),
					 errhint("Grant pg_execute_server_program to \"%s\", or make it an SQL task.",
							 owner)));
	}

	if (!t->row.is_insert && !superuser() &&
		!val_str_equal(t->dag_name, t->old_dag_name))
	{
		ownerid = val_lookup_dag_owner(t->row.rel, t->old_dag_name, &owner,
									   &found);
		if (found)
			val_check_may_modify(t->old_dag_name, ownerid, owner);
	}
}

/*
 * Only a change of dependencies or of a task's identity can change the
 * graph; editing a command needs no graph check.
 */
static void
val_task_mark_graph(const ValTask *t)
{
	if (t->row.is_insert)
		val_mark_dirty(t->dag_name, NULL, NULL);
	else if (!val_str_equal(t->dag_name, t->old_dag_name) ||
			 !val_str_equal(t->task_name, t->old_task_name))
	{
		val_mark_dirty(t->dag_name, NULL, NULL);
		val_mark_dirty(t->old_dag_name, t->old_task_name,
					   val_str_equal(t->task_name, t->old_task_name) ?
					   "move" : "rename");
	}
	else if (val_col_changed(&t->row, "depends_on"))
		val_mark_dirty(t->dag_name, NULL, NULL);
}

/* A task leaving: its DAG's graph is checked again at commit. */
static Datum
val_task_deleted(const ValTask *t)
{
	if (!superuser())
	{
		char	   *owner;
		bool		found;
		Oid			ownerid = val_lookup_dag_owner(t->row.rel, t->old_dag_name,
												   &owner, &found);

		/* a DAG already gone is a cascaded delete */
		if (found)
			val_check_may_modify(t->old_dag_name, ownerid, owner);
	}
	val_mark_dirty(t->old_dag_name, t->old_task_name, "delete");
	return PointerGetDatum(t->row.oldtup);
}

/*
 * dagsched_task_check: BEFORE INSERT OR UPDATE OR DELETE FOR EACH ROW on
 * dagsched.task
 *
 * Checks one row and marks its DAG for the graph check at commit.  On
 * UPDATE, the command is checked again only when it, the kind, autocommit
 * or conninfo changed: a stored row stays editable under newer rules.
 */
Datum
dagsched_task_check(PG_FUNCTION_ARGS)
{
	ValTask		t;
	HeapTuple	tup;
	TupleDesc	td;

	memset(&t, 0, sizeof(t));
	val_row_from_trigger(fcinfo, "dagsched_task_check", true, &t.row);
	td = t.row.tupdesc;
	if (!t.row.is_insert)
	{
		t.old_dag_name = val_get_text(t.row.oldtup, td, "dag_name");
		t.old_task_name = val_get_text(t.row.oldtup, td, "task_name");
	}
	if (t.row.newtup == NULL)
		return val_task_deleted(&t);

	/* NULLs in NOT NULL columns are left for the constraints to report */
	tup = t.row.newtup;
	t.dag_name = val_get_text(tup, td, "dag_name");
	t.task_name = val_get_text(tup, td, "task_name");
	if (t.dag_name == NULL || t.task_name == NULL)
		return PointerGetDatum(tup);

	/* the DAG name keys the dirty set, so it must fit even if unknown */
	val_check_name_length(true, t.dag_name);
	if (val_col_changed(&t.row, "task_name"))
		val_check_name(false, t.task_name);

	t.kind = val_get_text(tup, td, "kind");
	t.is_shell = t.kind != NULL && strcmp(t.kind, TASK_KIND_SHELL) == 0;
	t.is_sensor = t.kind != NULL && strcmp(t.kind, TASK_KIND_SENSOR) == 0;
	t.autocommit = val_get_bool(tup, td, "autocommit", false);
	t.remote = val_get_text(tup, td, "conninfo") != NULL;

	val_task_check_kind_and_rule(&t);
	if (val_col_changed(&t.row, "command") || val_col_changed(&t.row, "kind") ||
		val_col_changed(&t.row, "autocommit") ||
		val_col_changed(&t.row, "conninfo"))
	{
		val_task_check_autocommit(&t);
		val_task_check_command(&t);
	}
	if (val_col_changed(&t.row, "condition"))
		val_task_check_condition(&t);
	if (val_col_changed(&t.row, "kind") || val_col_changed(&t.row, "database") ||
		val_col_changed(&t.row, "autocommit") ||
		val_col_changed(&t.row, "conninfo"))
		val_task_check_sensor(&t);
	if (val_col_changed(&t.row, "map_over") || val_col_changed(&t.row, "kind"))
		val_task_check_map_over(&t);
	val_task_check_numbers(&t);
	val_task_check_database(&t);
	val_task_check_rights(&t);
	val_task_mark_graph(&t);

	return PointerGetDatum(tup);
}


/*
 * The graph check
 */

static void
val_report_unknown(const char *dag_name, const char *task_name,
				   const char *dep, List *removed)
{
	ListCell   *lc;
	ValRemovedTask *gone = NULL;

	foreach(lc, removed)
	{
		ValRemovedTask *r = (ValRemovedTask *) lfirst(lc);

		if (strcmp(r->task_name, dep) == 0)
			gone = r;
	}

	if (gone != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("cannot %s task \"%s\" of DAG \"%s\": task \"%s\" depends on it",
						gone->verb, dep, dag_name, task_name),
				 errdetail("Task \"%s\" lists \"%s\" in its depends_on.",
						   task_name, dep),
				 errhint("Change or delete task \"%s\" in the same transaction.",
						 task_name)));

	ereport(ERROR,
			(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
			 errmsg("task \"%s\" of DAG \"%s\" depends on unknown task \"%s\"",
					task_name, dag_name, val_quote(dep)),
			 errdetail("Every name in depends_on must be a task of the same DAG.")));
}

/*
 * Report the cycle closed by the edge from stack[sp - 1] to "v", which is on
 * the DFS stack.  The stack runs from a task to its upstreams, so read
 * backwards it gives the path in which each task depends on the one before.
 */
static void
val_report_cycle(const char *dag_name, const ValidateTask *tasks,
				 const int *stack, int sp, int v)
{
	StringInfoData buf;
	int			k;
	int			len;
	int		   *path;
	int			i;

	for (k = sp - 1; k >= 0 && stack[k] != v; k--)
		;
	Assert(k >= 0);

	len = sp - k + 1;
	path = palloc(sizeof(int) * len);
	path[0] = v;
	for (i = 1; i < len - 1; i++)
		path[i] = stack[sp - i];
	path[len - 1] = v;

	initStringInfo(&buf);
	for (i = 0; i < len; i++)
	{
		if (len > VAL_CYCLE_SHOW && i == VAL_CYCLE_SHOW / 2)
		{
			appendStringInfoString(&buf, " -> ...");
			i = len - VAL_CYCLE_SHOW / 2;
		}
		if (i > 0)
			appendStringInfoString(&buf, " -> ");
		appendStringInfoString(&buf, tasks[path[i]].name);
	}

	ereport(ERROR,
			(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
			 errmsg("DAG \"%s\" has a cycle", dag_name),
			 len > VAL_CYCLE_SHOW ?
			 errdetail("Each task depends on the one before it: %s (%d tasks in the cycle).",
					   buf.data, len - 1) :
			 errdetail("Each task depends on the one before it: %s.",
					   buf.data)));
}

/*
 * Resolve every dependency to a task index, in task and array order for
 * stable messages: the upstreams of task i become up[up_start[i] ..
 * up_start[i + 1] - 1].  Duplicate task names and unknown dependencies are
 * reported here.
 */
static void
val_resolve_edges(const char *dag_name, int ntasks, const ValidateTask *tasks,
				  List *removed, int **up_start_out, int **up_out)
{
	HASHCTL		ctl;
	HTAB	   *index;
	int		   *up_start;
	int		   *up;
	int64		nedges = 0;
	int			i;
	int			j;

	/* name -> index; sized up front so it never grows */
	ctl.keysize = VAL_NAME_BUF;
	ctl.entrysize = sizeof(ValTaskIndex);
	ctl.hcxt = CurrentMemoryContext;
	index = hash_create("dagsched task index", Max(ntasks, 16), &ctl,
						HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	for (i = 0; i < ntasks; i++)
	{
		ValTaskIndex *entry;
		bool		found;

		val_check_name_length(false, tasks[i].name);
		entry = hash_search(index, tasks[i].name, HASH_ENTER, &found);
		if (found)
			ereport(ERROR,
					(errcode(ERRCODE_UNIQUE_VIOLATION),
					 errmsg("DAG \"%s\" has two tasks named \"%s\"",
							dag_name, tasks[i].name),
					 errdetail("Task names are unique within a DAG.")));
		entry->index = i;
		nedges += tasks[i].ndeps;
	}

	if (nedges > MaxAllocSize / sizeof(int))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("DAG \"%s\" has too many dependencies", dag_name),
				 errdetail("It has " INT64_FORMAT " dependencies in all.",
						   nedges)));

	up_start = palloc(sizeof(int) * (ntasks + 1));
	up = palloc(sizeof(int) * Max(nedges, 1));
	nedges = 0;
	for (i = 0; i < ntasks; i++)
	{
		up_start[i] = (int) nedges;
		for (j = 0; j < tasks[i].ndeps; j++)
		{
			const char *dep = tasks[i].deps[j];
			ValTaskIndex *entry = NULL;

			if (strlen(dep) <= DAGSCHED_MAX_NAME_LEN)
				entry = hash_search(index, dep, HASH_FIND, NULL);
			if (entry == NULL)
				val_report_unknown(dag_name, tasks[i].name, dep, removed);
			up[nedges++] = entry->index;
		}
	}
	up_start[ntasks] = (int) nedges;
	hash_destroy(index);
	*up_start_out = up_start;
	*up_out = up;
}

/*
 * Iterative depth-first search from each task towards its upstreams:
 * reaching a task still on the stack closes a cycle.  Finishing order puts
 * every task after its upstreams.  An explicit stack, because a chain of
 * 10,000 tasks would be 10,000 frames of recursion.
 */
static int *
val_topo_order(const char *dag_name, int ntasks, const ValidateTask *tasks,
			   const int *up_start, const int *up)
{
	char	   *colour = palloc0(Max(ntasks, 1));
	int		   *stack = palloc(sizeof(int) * Max(ntasks, 1));
	int		   *next_edge = palloc(sizeof(int) * Max(ntasks, 1));
	int		   *topo = palloc(sizeof(int) * Max(ntasks, 1));
	int			ntopo = 0;
	int			i;

	for (i = 0; i < ntasks; i++)
	{
		int			sp = 0;

		if (colour[i] != 0)
			continue;
		colour[i] = 1;
		next_edge[i] = up_start[i];
		stack[sp++] = i;
		while (sp > 0)
		{
			int			u = stack[sp - 1];

			if (next_edge[u] < up_start[u + 1])
			{
				int			v = up[next_edge[u]++];

				if (colour[v] == 0)
				{
					colour[v] = 1;
					next_edge[v] = up_start[v];
					stack[sp++] = v;
				}
				else if (colour[v] == 1)
					val_report_cycle(dag_name, tasks, stack, sp, v);
			}
			else
			{
				colour[u] = 2;
				topo[ntopo++] = u;
				sp--;
			}
		}
	}
	Assert(ntopo == ntasks);

	pfree(colour);
	pfree(stack);
	pfree(next_edge);
	return topo;
}

static void
val_check_graph(const char *dag_name, int ntasks, const ValidateTask *tasks,
				List *removed, int **up_start_out, int **up_out,
				int **topo_out)
{
	int		   *up_start;
	int		   *up;
	int		   *topo;

	val_resolve_edges(dag_name, ntasks, tasks, removed, &up_start, &up);
	topo = val_topo_order(dag_name, ntasks, tasks, up_start, up);
	if (up_start_out)
		*up_start_out = up_start;
	if (up_out)
		*up_out = up;
	if (topo_out)
		*topo_out = topo;
}

void
ValidateDagGraph(const char *dag_name, int ntasks, const ValidateTask *tasks,
				 int **up_start, int **up, int **topo_order)
{
	val_check_graph(dag_name, ntasks, tasks, NIL, up_start, up, topo_order);
}

/*
 * Check the graph of one DAG as it stands now, including what concurrent
 * transactions have committed.
 */
static void
val_validate_dag(Relation rel, const char *dag_name, List *removed)
{
	LOCKTAG		tag;
	ValidateTask *tasks;
	int			ntasks = 0;
	uint64		i;

	/*
	 * Two transactions could each add half of a cycle and each find its own
	 * half acyclic.  Checks of one DAG therefore take turns, holding a lock
	 * until commit, and read the latest committed rows.  The tag is an object
	 * lock whose "class" is the task table, which no real object lock uses; a
	 * hash collision only makes two DAGs take turns.
	 */
	SET_LOCKTAG_OBJECT(tag, MyDatabaseId, RelationGetRelid(rel),
					   hash_bytes((const unsigned char *) dag_name,
								  strlen(dag_name)), 0);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	/* one query; no row at all means the DAG itself is gone */
	val_run_query(rel,
				  "SELECT t.task_name, t.depends_on "
				  "FROM dagsched.dag d "
				  "LEFT JOIN dagsched.task t "
				  "ON t.dag_name OPERATOR(pg_catalog.=) d.dag_name "
				  "WHERE d.dag_name OPERATOR(pg_catalog.=) $1 "
				  "ORDER BY t.task_name COLLATE pg_catalog.\"C\"",
				  dag_name, true);

	if (SPI_processed == 0)
	{
		SPI_finish();
		return;
	}

	tasks = palloc(sizeof(ValidateTask) * SPI_processed);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	td = SPI_tuptable->tupdesc;
		ValidateTask *t = &tasks[ntasks];
		bool		isnull;
		Datum		d;

		d = SPI_getbinval(tup, td, 1, &isnull);
		if (isnull)
			continue;			/* the LEFT JOIN row of a DAG with no tasks */
		t->name = TextDatumGetCString(d);
		t->ndeps = 0;
		t->deps = NULL;

		d = SPI_getbinval(tup, td, 2, &isnull);
		if (!isnull)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			n;
			int			j;

			deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false,
							  TYPALIGN_INT, &elems, &nulls, &n);
			t->deps = palloc(sizeof(char *) * Max(n, 1));
			for (j = 0; j < n; j++)
				if (!nulls[j])
					t->deps[t->ndeps++] = TextDatumGetCString(elems[j]);
		}
		ntasks++;
	}

	elog(DEBUG1, "dagsched: checking the graph of DAG \"%s\" (%d tasks)",
		 dag_name, ntasks);
	val_check_graph(dag_name, ntasks, tasks, removed, NULL, NULL, NULL);

	SPI_finish();
}

static void
val_check_if_dirty(Relation rel, const char *dag_name)
{
	ValDirtyDag *entry;

	if (dag_name == NULL || val_dirty_dags == NULL ||
		strlen(dag_name) > DAGSCHED_MAX_NAME_LEN)
		return;

	entry = (ValDirtyDag *) hash_search(val_dirty_dags, dag_name,
										HASH_FIND, NULL);
	if (entry == NULL)
		return;

	val_validate_dag(rel, dag_name, entry->removed);

	/* only once it passed: a failed check inside a savepoint stays due */
	(void) hash_search(val_dirty_dags, dag_name, HASH_REMOVE, NULL);
}

/*
 * dagsched_task_graph_check: deferred AFTER INSERT OR UPDATE OR DELETE FOR
 * EACH ROW constraint trigger on dagsched.task
 *
 * It fires once per modified row, but checks each DAG once: the first event
 * of a dirty DAG checks the whole DAG and clears its mark, and the DAG's
 * other events find nothing to do.
 */
Datum
dagsched_task_graph_check(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event))
		elog(ERROR, "dagsched_task_graph_check: must be fired AFTER FOR EACH ROW");

	if (val_dirty_dags == NULL)
		return PointerGetDatum(NULL);

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	val_check_if_dirty(trigdata->tg_relation,
					   val_get_text(trigdata->tg_trigtuple, tupdesc,
									"dag_name"));
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		val_check_if_dirty(trigdata->tg_relation,
						   val_get_text(trigdata->tg_newtuple, tupdesc,
										"dag_name"));

	return PointerGetDatum(NULL);
}

/*
 * dagsched.dag_links_cycle(dag_name text) returns text
 *
 * The DAG-to-DAG links (dag.upstream_dags) of several DAGs form one graph,
 * so, like the task graph of one DAG, two transactions could each add half
 * of a cycle and each find its own half acyclic.  All link checks
 * therefore take turns, holding an ExclusiveLock until commit on an object
 * tag whose "class" is the dag table (objid 0: one lock for the whole link
 * graph), and walk the latest committed rows, whatever the isolation level.
 * The walk runs as the table's owner so that links through DAGs the caller
 * cannot see count too.  Returns the cycle through dag_name as
 * "a -> b -> a", or NULL.  The plpgsql trigger dag_links_check calls it;
 * the function's own SET search_path pins the plain operators below.
 */
PG_FUNCTION_INFO_V1(dagsched_dag_links_cycle);

Datum
dagsched_dag_links_cycle(PG_FUNCTION_ARGS)
{
	char	   *dag_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	Oid			relid = get_relname_relid("dag",
										  get_namespace_oid("dagsched", false));
	Relation	rel;
	LOCKTAG		tag;
	text	   *cycle = NULL;

	if (!OidIsValid(relid))
		elog(ERROR, "table dagsched.dag does not exist");
	SET_LOCKTAG_OBJECT(tag, MyDatabaseId, relid, 0, 0);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);

	rel = table_open(relid, AccessShareLock);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	val_run_query(rel,
				  "WITH RECURSIVE walk(name, path) AS ("
				  " SELECT u, ARRAY[d.dag_name, u]"
				  "   FROM dagsched.dag d CROSS JOIN unnest(d.upstream_dags) AS u"
				  "  WHERE d.dag_name = $1"
				  " UNION ALL"
				  " SELECT x, w.path || x"
				  "   FROM walk w"
				  "   JOIN dagsched.dag d ON d.dag_name = w.name"
				  "  CROSS JOIN unnest(d.upstream_dags) AS x"
				  "  WHERE w.name <> $1 AND NOT x = ANY (w.path[2:]))"
				  " SELECT array_to_string(ARRAY(SELECT p"
				  "   FROM unnest(w.path) WITH ORDINALITY AS t(p, i)"
				  "  ORDER BY i DESC), ' -> ')"
				  "   FROM walk w WHERE w.name = $1 LIMIT 1",
				  dag_name, true);
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			cycle = (text *) SPI_datumTransfer(d, false, -1);
	}
	SPI_finish();
	table_close(rel, AccessShareLock);

	if (cycle == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cycle);
}
