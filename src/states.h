/*-------------------------------------------------------------------------
 *
 * states.h
 *	  The names dagsched's state machine is made of, each written once: task
 *	  and run states, the sets of them the engine asks about, trigger rules
 *	  and the name-length limit.
 *
 * C code uses the macros; SQL issued from C splices them in with SQL_LIT()
 * and SQL_SET(), so a state renamed here is renamed in every statement.
 * The install and upgrade scripts are generated from this file too
 * (scripts/sql_names.sh, run by the Makefile): their state CHECKs, the
 * unfinished-task and unfinished-run index predicates and the name-length
 * limit are written @TS_ALL@, @RS_ALL@, @TS_ACTIVE@, @RS_ACTIVE@ and
 * @MAX_NAME_LEN@ in sql/, and expanded from the lists below.  The SQL
 * functions that compare a state column with one state name spell it;
 * t/091_states.pl fails when any of those is not a name here, or when the
 * catalog's CHECKs and predicates differ from these lists.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/states.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_STATES_H
#define DAGSCHED_STATES_H

/* Longest DAG or task name, in bytes; error messages quote this figure. */
#define DAGSCHED_MAX_NAME_LEN		128

/* task_run.state */
#define TS_PENDING			"pending"
#define TS_QUEUED			"queued"
#define TS_RUNNING			"running"
#define TS_SUCCESS			"success"
#define TS_FAILED			"failed"
#define TS_UPSTREAM_FAILED	"upstream_failed"
#define TS_SKIPPED			"skipped"
#define TS_CANCELLED		"cancelled"
#define TS_RETRY_WAIT		"retry_wait"
#define TS_SENSING			"sensing"	/* a sensor between pokes: no worker */

/* task.kind */
#define TASK_KIND_SQL		"sql"
#define TASK_KIND_SHELL		"shell"
#define TASK_KIND_SENSOR	"sensor"

/* dag_run.state */
#define RS_SCHEDULED		"scheduled" /* a one-off run waiting for its time */
#define RS_QUEUED			"queued"
#define RS_RUNNING			"running"
#define RS_SUCCESS			"success"
#define RS_FAILED			"failed"
#define RS_CANCELLED		"cancelled"

/* A string literal as SQL text: 'word' */
#define SQL_LIT(s)			"'" s "'"

/* A text[] literal of SQL: '{a,b}'::pg_catalog.text[] */
#define SQL_SET(list)		"'{" list "}'::pg_catalog.text[]"

/* Every task state, and every run state: the catalog's CHECKs allow these */
#define TS_ALL_LIST			TS_PENDING "," TS_QUEUED "," TS_RUNNING "," \
							TS_SUCCESS "," TS_FAILED "," TS_UPSTREAM_FAILED "," \
							TS_SKIPPED "," TS_CANCELLED "," TS_RETRY_WAIT "," \
							TS_SENSING
#define RS_ALL_LIST			RS_QUEUED "," RS_RUNNING "," RS_SUCCESS "," \
							RS_FAILED "," RS_CANCELLED "," RS_SCHEDULED

/*
 * Task states in which a task still has something ahead of it: the run is
 * not over while one of its tasks is in one of these.
 */
#define TS_ACTIVE_LIST		TS_PENDING "," TS_QUEUED "," TS_RUNNING "," \
							TS_RETRY_WAIT "," TS_SENSING
/* Active, but held by no worker now: what cancel() ends at once */
#define TS_UNSTARTED_LIST	TS_PENDING "," TS_QUEUED "," TS_RETRY_WAIT "," \
							TS_SENSING
/* Counted as a failure by trigger rules and by the run's outcome */
#define TS_FAILURE_LIST		TS_FAILED "," TS_UPSTREAM_FAILED
/* Ends a rule resolves a pending task to without running it */
#define TS_RESOLVED_LIST	TS_UPSTREAM_FAILED "," TS_SKIPPED
/* What retry() of a run resets */
#define TS_RESUMABLE_LIST	TS_FAILED "," TS_UPSTREAM_FAILED "," TS_CANCELLED
/* ended without having run (in this pass): decided by their upstreams */
#define TS_NOT_RUN_LIST		TS_UPSTREAM_FAILED "," TS_SKIPPED "," TS_CANCELLED

/*
 * Run states in which a run has not ended: cancel() stops it, retry()
 * refuses it, wait() goes on waiting.
 */
#define RS_ACTIVE_LIST		RS_SCHEDULED "," RS_QUEUED "," RS_RUNNING

/*
 * Trigger rules, as an X-macro: DAGSCHED_RULE(name) once per rule.  dag.c
 * evaluates them; validate.c refuses a name not in this list.
 */
#define DAGSCHED_TRIGGER_RULES(X) \
	X(all_success) \
	X(all_done) \
	X(all_failed) \
	X(one_success) \
	X(one_failed) \
	X(none_failed) \
	X(none_failed_min_one_success) \
	X(one_done) \
	X(none_skipped) \
	X(all_skipped) \
	X(always)

#endif							/* DAGSCHED_STATES_H */
