/*-------------------------------------------------------------------------
 *
 * dag.c
 *	  DAG logic free of SPI: when a task may run (trigger rules) and how
 *	  urgent it is (critical path).
 *
 * Kept pure so that it can be unit-tested and fuzzed without a server; the
 * catalog code (run.c) feeds it tallies and edge lists.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/dag.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "dag.h"
#include "states.h"

#define DAG_RULE_NAME(rule) #rule,
static const char *const dag_rules[] = {
	DAGSCHED_TRIGGER_RULES(DAG_RULE_NAME)
};

static DagRuleOutcome dag_evaluate_airflow_rule(const char *rule,
												const DagUpstreamTally *t,
												bool all_done);

/* A rule of states.h's list */
bool
DagRuleIsValid(const char *rule)
{
	int			i;

	for (i = 0; i < lengthof(dag_rules); i++)
		if (strcmp(rule, dag_rules[i]) == 0)
			return true;
	return false;
}

/*
 * Decide as early as the tallies allow: a task is queued the moment its rule
 * holds, and resolved the moment the rule can no longer hold, so that a
 * failure propagates down the graph in the same transaction that records it.
 */
DagRuleOutcome
DagEvaluateRule(const char *rule, const DagUpstreamTally *t)
{
	int			done = t->success + t->failed + t->skipped;
	bool		all_done = (done >= t->total);

	if (strcmp(rule, "all_success") == 0)
	{
		if (t->failed > 0)
			return DAG_RULE_UPSTREAM_FAILED;
		if (t->skipped > 0)
			return DAG_RULE_SKIPPED;
		return all_done ? DAG_RULE_READY : DAG_RULE_WAIT;
	}
	if (strcmp(rule, "all_done") == 0)
		return all_done ? DAG_RULE_READY : DAG_RULE_WAIT;
	if (strcmp(rule, "all_failed") == 0)
	{
		if (t->success > 0 || t->skipped > 0)
			return DAG_RULE_SKIPPED;
		return all_done ? DAG_RULE_READY : DAG_RULE_WAIT;
	}
	if (strcmp(rule, "one_success") == 0)
	{
		if (t->success > 0 || t->total == 0)
			return DAG_RULE_READY;
		if (all_done)
			return t->failed > 0 ? DAG_RULE_UPSTREAM_FAILED : DAG_RULE_SKIPPED;
		return DAG_RULE_WAIT;
	}
	if (strcmp(rule, "one_failed") == 0)
	{
		if (t->failed > 0 || t->total == 0)
			return DAG_RULE_READY;
		return all_done ? DAG_RULE_SKIPPED : DAG_RULE_WAIT;
	}
	if (strcmp(rule, "none_failed") == 0)
	{
		if (t->failed > 0)
			return DAG_RULE_UPSTREAM_FAILED;
		return all_done ? DAG_RULE_READY : DAG_RULE_WAIT;
	}
	return dag_evaluate_airflow_rule(rule, t, all_done);
}

/*
 * The rules added in 0.2, with the semantics of Airflow's
 * trigger_rule_dep.py (a task without upstreams is ready under every rule):
 *
 * none_failed_min_one_success: upstream_failed on any failure, skipped
 *   when every upstream was skipped, else ready once all are done.
 * one_done: ready at the first upstream that succeeded or failed (one that
 *   ended upstream_failed does not count); skipped when all are done and
 *   none did.
 * none_skipped: skipped at the first skipped upstream, else ready once all
 *   are done, failed or not.
 * all_skipped: skipped at the first upstream that did not skip, else ready
 *   once all are done.
 * always: ready at once, whatever its upstreams do or will do.
 */
static DagRuleOutcome
dag_evaluate_airflow_rule(const char *rule, const DagUpstreamTally *t,
						  bool all_done)
{
	if (strcmp(rule, "none_failed_min_one_success") == 0)
	{
		if (t->failed > 0)
			return DAG_RULE_UPSTREAM_FAILED;
		if (t->total > 0 && t->skipped >= t->total)
			return DAG_RULE_SKIPPED;
		return all_done ? DAG_RULE_READY : DAG_RULE_WAIT;
	}
	if (strcmp(rule, "one_done") == 0)
	{
		/* a count out of range is read as "no upstream_failed among them" */
		int			uf = (t->upstream_failed > 0 &&
						  t->upstream_failed <= t->failed) ? t->upstream_failed : 0;

		if (t->success + (t->failed - uf) > 0 || t->total == 0)
			return DAG_RULE_READY;
		return all_done ? DAG_RULE_SKIPPED : DAG_RULE_WAIT;
	}
	if (strcmp(rule, "none_skipped") == 0)
	{
		if (t->skipped > 0)
			return DAG_RULE_SKIPPED;
		return all_done ? DAG_RULE_READY : DAG_RULE_WAIT;
	}
	if (strcmp(rule, "all_skipped") == 0)
	{
		if (t->success > 0 || t->failed > 0)
			return DAG_RULE_SKIPPED;
		return all_done ? DAG_RULE_READY : DAG_RULE_WAIT;
	}
	if (strcmp(rule, "always") == 0)
		return DAG_RULE_READY;
	elog(ERROR, "unrecognized trigger rule \"%s\"", rule);
	return DAG_RULE_WAIT;		/* keep compiler quiet */
}

const char *
DagRuleOutcomeState(DagRuleOutcome outcome)
{
	switch (outcome)
	{
		case DAG_RULE_READY:
			return TS_QUEUED;
		case DAG_RULE_UPSTREAM_FAILED:
			return TS_UPSTREAM_FAILED;
		case DAG_RULE_SKIPPED:
			return TS_SKIPPED;
		case DAG_RULE_WAIT:
			break;
	}
	return TS_PENDING;
}

/*
 * Kahn's algorithm run from the sinks: a task's path length is known once
 * all its downstream tasks are done.  O(tasks + edges), no recursion.
 */
bool
DagCriticalPath(int n, const int *up_start, const int *up, int *path_len)
{
	int		   *outdeg = palloc0(sizeof(int) * Max(n, 1));
	int		   *queue = palloc(sizeof(int) * Max(n, 1));
	int			head = 0;
	int			tail = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		int			e;

		for (e = up_start[i]; e < up_start[i + 1]; e++)
			outdeg[up[e]]++;
		path_len[i] = 1;
	}
	for (i = 0; i < n; i++)
		if (outdeg[i] == 0)
			queue[tail++] = i;

	while (head < tail)
	{
		int			v = queue[head++];
		int			e;

		for (e = up_start[v]; e < up_start[v + 1]; e++)
		{
			int			u = up[e];

			if (path_len[v] + 1 > path_len[u])
				path_len[u] = path_len[v] + 1;
			if (--outdeg[u] == 0)
				queue[tail++] = u;
		}
	}

	pfree(outdeg);
	pfree(queue);
	return tail == n;
}
