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
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "cron.h"
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

static const char *const val_trigger_rules[] = {
	"all_success", "all_done", "all_failed",
	"one_success", "one_failed", "none_failed"
};


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

static void
val_check_name(bool is_dag, const char *name)
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

	if (cache.lxid == MyProc->lxid &&
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

	cache.lxid = MyProc->lxid;
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
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	tupdesc;
	HeapTuple	newtup;
	HeapTuple	oldtup = NULL;
	bool		is_insert;
	char	   *dag_name;
	char	   *schedule;
	char	   *timezone;
	bool		paused = false;
	bool		paused_null;
	bool		schedule_changed;
	bool		timezone_changed;
	bool		paused_changed;
	bool		isnull;
	Datum		d;
	char	   *owner = NULL;
	char	   *old_owner = NULL;
	CronSchedule sched;
	ErrorContextCallback errcallback;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		elog(ERROR, "dagsched_dag_check: must be fired BEFORE INSERT OR UPDATE FOR EACH ROW");

	tupdesc = RelationGetDescr(trigdata->tg_relation);
	is_insert = TRIGGER_FIRED_BY_INSERT(trigdata->tg_event);
	if (is_insert)
		newtup = trigdata->tg_trigtuple;
	else
	{
		oldtup = trigdata->tg_trigtuple;
		newtup = trigdata->tg_newtuple;
	}

	/* NULLs in NOT NULL columns are left for the constraint to report */
	dag_name = val_get_text(newtup, tupdesc, "dag_name");
	if (dag_name == NULL)
		return PointerGetDatum(newtup);

	if (is_insert ||
		!val_str_equal(dag_name, val_get_text(oldtup, tupdesc, "dag_name")))
		val_check_name(true, dag_name);

	d = val_get_datum(newtup, tupdesc, "owner", &isnull);
	if (!isnull)
		owner = pstrdup(NameStr(*DatumGetName(d)));
	if (!is_insert)
	{
		d = val_get_datum(oldtup, tupdesc, "owner", &isnull);
		if (!isnull)
			old_owner = pstrdup(NameStr(*DatumGetName(d)));
		if (old_owner != NULL)
			val_check_may_modify(val_get_text(oldtup, tupdesc, "dag_name"),
								 get_role_oid(old_owner, true), old_owner);
	}

	if (owner != NULL && (is_insert || !val_str_equal(owner, old_owner)))
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

		/* shell tasks already in the DAG must stay runnable by the owner */
		if (!is_insert && !val_may_run_shell(roleid))
		{
			bool		has_shell;

			if (SPI_connect() != SPI_OK_CONNECT)
				elog(ERROR, "SPI_connect failed");
			val_run_query(trigdata->tg_relation,
						  "SELECT 1 FROM dagsched.task "
						  "WHERE dag_name OPERATOR(pg_catalog.=) $1 "
						  "AND kind OPERATOR(pg_catalog.=) 'shell' LIMIT 1",
						  val_get_text(oldtup, tupdesc, "dag_name"), false);
			has_shell = SPI_processed > 0;
			SPI_finish();

			if (has_shell)
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("role \"%s\" cannot own DAG \"%s\"",
								owner, dag_name),
						 errdetail("The DAG has shell tasks, and role \"%s\" is neither a superuser nor a member of pg_execute_server_program.",
								   owner)));
		}
	}

	d = val_get_datum(newtup, tupdesc, "max_active_runs", &isnull);
	if (!isnull && DatumGetInt32(d) < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid max_active_runs \"%d\" for DAG \"%s\"",
						DatumGetInt32(d), dag_name),
				 errdetail("A DAG must be allowed at least one active run.")));

	schedule = val_get_text(newtup, tupdesc, "schedule");
	timezone = val_get_text(newtup, tupdesc, "timezone");
	d = val_get_datum(newtup, tupdesc, "paused", &paused_null);
	if (!paused_null)
		paused = DatumGetBool(d);

	if (is_insert)
		schedule_changed = timezone_changed = paused_changed = true;
	else
	{
		bool		old_paused_null;
		Datum		old_paused;

		schedule_changed =
			!val_str_equal(schedule, val_get_text(oldtup, tupdesc, "schedule"));
		timezone_changed =
			!val_str_equal(timezone, val_get_text(oldtup, tupdesc, "timezone"));
		old_paused = val_get_datum(oldtup, tupdesc, "paused", &old_paused_null);
		paused_changed = paused_null || old_paused_null ||
			DatumGetBool(old_paused) != paused;
	}

	errcallback.callback = val_dag_context;
	errcallback.arg = dag_name;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	if (schedule != NULL && schedule_changed)
		CronParseOrError(schedule, &sched);
	if (timezone != NULL && timezone_changed)
		(void) CronLookupTimezone(timezone);

	/*
	 * Recompute the next tick only when what it depends on changed: the
	 * scheduler advances next_run_at itself with plain UPDATEs.
	 */
	if ((schedule_changed || timezone_changed || paused_changed) &&
		timezone != NULL && !paused_null)
	{
		int			col = SPI_fnumber(tupdesc, "next_run_at");
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
		}
		newtup = heap_modify_tuple_by_cols(newtup, tupdesc, 1, &col,
										   &value, &value_null);
	}

	error_context_stack = errcallback.previous;

	return PointerGetDatum(newtup);
}


/*
 * dagsched_task_check helpers
 */

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
 * dagsched_task_check: BEFORE INSERT OR UPDATE OR DELETE FOR EACH ROW on
 * dagsched.task
 *
 * Checks one row and marks its DAG for the graph check at commit.
 */
Datum
dagsched_task_check(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	tupdesc;
	HeapTuple	newtup;
	HeapTuple	oldtup = NULL;
	bool		is_insert;
	char	   *dag_name;
	char	   *task_name;
	char	   *old_dag_name = NULL;
	char	   *old_task_name = NULL;
	char	   *kind;
	char	   *command;
	char	   *rule;
	bool		isnull;
	Datum		d;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event))
		elog(ERROR, "dagsched_task_check: must be fired BEFORE FOR EACH ROW");

	rel = trigdata->tg_relation;
	tupdesc = RelationGetDescr(rel);
	is_insert = TRIGGER_FIRED_BY_INSERT(trigdata->tg_event);

	if (!is_insert)
	{
		oldtup = trigdata->tg_trigtuple;
		old_dag_name = val_get_text(oldtup, tupdesc, "dag_name");
		old_task_name = val_get_text(oldtup, tupdesc, "task_name");
	}

	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		if (!superuser())
		{
			char	   *owner;
			bool		found;
			Oid			ownerid = val_lookup_dag_owner(rel, old_dag_name,
													   &owner, &found);

			/* a DAG already gone is a cascaded delete */
			if (found)
				val_check_may_modify(old_dag_name, ownerid, owner);
		}
		val_mark_dirty(old_dag_name, old_task_name, "delete");
		return PointerGetDatum(oldtup);
	}

	newtup = is_insert ? trigdata->tg_trigtuple : trigdata->tg_newtuple;

	/* NULLs in NOT NULL columns are left for the constraints to report */
	dag_name = val_get_text(newtup, tupdesc, "dag_name");
	task_name = val_get_text(newtup, tupdesc, "task_name");
	if (dag_name == NULL || task_name == NULL)
		return PointerGetDatum(newtup);

	/* the DAG name keys the dirty set, so it must fit even if unknown */
	val_check_name(true, dag_name);
	if (is_insert || !val_str_equal(task_name, old_task_name))
		val_check_name(false, task_name);

	kind = val_get_text(newtup, tupdesc, "kind");
	if (kind != NULL && strcmp(kind, "sql") != 0 && strcmp(kind, "shell") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid kind \"%s\" for task \"%s\" of DAG \"%s\"",
						val_quote(kind), task_name, dag_name),
				 errdetail("A task's kind is \"sql\" or \"shell\".")));

	command = val_get_text(newtup, tupdesc, "command");
	if (command != NULL && val_is_blank(command))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("command of task \"%s\" of DAG \"%s\" is empty",
						task_name, dag_name),
				 errdetail("A task needs an SQL command or a shell command line to run.")));

	rule = val_get_text(newtup, tupdesc, "trigger_rule");
	if (rule != NULL)
	{
		for (i = 0; i < lengthof(val_trigger_rules); i++)
			if (strcmp(rule, val_trigger_rules[i]) == 0)
				break;
		if (i == lengthof(val_trigger_rules))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid trigger_rule \"%s\" for task \"%s\" of DAG \"%s\"",
							val_quote(rule), task_name, dag_name),
					 errdetail("Valid trigger rules are all_success, all_done, all_failed, one_success, one_failed and none_failed.")));
	}

	d = val_get_datum(newtup, tupdesc, "retries", &isnull);
	if (!isnull && DatumGetInt32(d) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid retries \"%d\" for task \"%s\" of DAG \"%s\"",
						DatumGetInt32(d), task_name, dag_name),
				 errdetail("The number of retries is zero or more.")));

	d = val_get_datum(newtup, tupdesc, "retry_delay", &isnull);
	if (!isnull)
		val_check_interval("retry_delay", d, dag_name, task_name,
						   "The delay before a retry must be positive.");

	d = val_get_datum(newtup, tupdesc, "timeout", &isnull);
	if (!isnull)
		val_check_interval("timeout", d, dag_name, task_name,
						   "A timeout must be positive; NULL means none.");

	d = val_get_datum(newtup, tupdesc, "depends_on", &isnull);
	if (!isnull)
		val_check_depends_on(dag_name, task_name, d);

	d = val_get_datum(newtup, tupdesc, "database", &isnull);
	if (!isnull)
	{
		const char *dbname = NameStr(*DatumGetName(d));
		bool		changed = is_insert;

		if (!changed)
		{
			bool		old_isnull;
			Datum		old = val_get_datum(oldtup, tupdesc, "database",
											&old_isnull);

			changed = old_isnull ||
				strcmp(NameStr(*DatumGetName(old)), dbname) != 0;
		}

		/* only when set: a database dropped later must not block edits */
		if (changed && !OidIsValid(get_database_oid(dbname, true)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_DATABASE),
					 errmsg("database \"%s\" does not exist", dbname),
					 errdetail("Task \"%s\" of DAG \"%s\" is set to run in it.",
							   task_name, dag_name)));
	}

	/* the owner's rights matter for shell tasks and for non-superusers */
	if ((kind != NULL && strcmp(kind, "shell") == 0) || !superuser())
	{
		char	   *owner;
		bool		found;
		Oid			ownerid = val_lookup_dag_owner(rel, dag_name, &owner,
												   &found);

		/* an unknown DAG is left for the foreign key to report */
		if (found)
		{
			val_check_may_modify(dag_name, ownerid, owner);
			if (kind != NULL && strcmp(kind, "shell") == 0 &&
				(!OidIsValid(ownerid) || !val_may_run_shell(ownerid)))
				ereport(ERROR,
						(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
						 errmsg("permission denied to create shell task \"%s\" in DAG \"%s\"",
								task_name, dag_name),
						 errdetail("The DAG's owner \"%s\" is neither a superuser nor a member of pg_execute_server_program.",
								   owner),
						 errhint("Grant pg_execute_server_program to \"%s\", or make it an SQL task.",
								 owner)));
		}

		if (!is_insert && !superuser() &&
			!val_str_equal(dag_name, old_dag_name))
		{
			ownerid = val_lookup_dag_owner(rel, old_dag_name, &owner, &found);
			if (found)
				val_check_may_modify(old_dag_name, ownerid, owner);
		}
	}

	/*
	 * Only a change of dependencies or of a task's identity can change the
	 * graph; editing a command needs no graph check.
	 */
	if (is_insert)
		val_mark_dirty(dag_name, NULL, NULL);
	else if (!val_str_equal(dag_name, old_dag_name) ||
			 !val_str_equal(task_name, old_task_name))
	{
		val_mark_dirty(dag_name, NULL, NULL);
		val_mark_dirty(old_dag_name, old_task_name,
					   val_str_equal(task_name, old_task_name) ?
					   "move" : "rename");
	}
	else
	{
		bool		old_isnull;
		Datum		old = val_get_datum(oldtup, tupdesc, "depends_on",
										&old_isnull);

		d = val_get_datum(newtup, tupdesc, "depends_on", &isnull);
		if (isnull || old_isnull || !datumIsEqual(old, d, false, -1))
			val_mark_dirty(dag_name, NULL, NULL);
	}

	return PointerGetDatum(newtup);
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

static void
val_check_graph(const char *dag_name, int ntasks, const ValidateTask *tasks,
				List *removed, int **up_start_out, int **up_out,
				int **topo_out)
{
	HASHCTL		ctl;
	HTAB	   *index;
	int		   *up_start;
	int		   *up;
	int64		nedges = 0;
	char	   *colour;
	int		   *stack;
	int		   *next_edge;
	int		   *topo;
	int			ntopo = 0;
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

		val_check_name(false, tasks[i].name);
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

	/* resolve every edge, in task and array order for stable messages */
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

	/*
	 * Iterative depth-first search from each task towards its upstreams:
	 * reaching a task still on the stack closes a cycle.  Finishing order
	 * puts every task after its upstreams.  An explicit stack, because a
	 * chain of 10,000 tasks would be 10,000 frames of recursion.
	 */
	colour = palloc0(Max(ntasks, 1));
	stack = palloc(sizeof(int) * Max(ntasks, 1));
	next_edge = palloc(sizeof(int) * Max(ntasks, 1));
	topo = palloc(sizeof(int) * Max(ntasks, 1));
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
	 * until commit, and read the latest committed rows.  The tag is an
	 * object lock whose "class" is the task table, which no real object
	 * lock uses; a hash collision only makes two DAGs take turns.
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
