/*-------------------------------------------------------------------------
 *
 * dag.h
 *	  DAG logic free of SPI: trigger rules and critical paths.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/dag.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_DAG_H
#define DAGSCHED_DAG_H

/* What a pending task's trigger rule says, given its upstream tallies. */
typedef enum DagRuleOutcome
{
	DAG_RULE_WAIT,				/* not decided yet */
	DAG_RULE_READY,				/* queue it */
	DAG_RULE_UPSTREAM_FAILED,	/* cannot hold because an upstream failed */
	DAG_RULE_SKIPPED			/* cannot hold for another reason */
} DagRuleOutcome;

/*
 * Tallies of a task's finished upstream tasks.  "failed" counts upstreams
 * that ended failed or upstream_failed, and "upstream_failed" those of them
 * that ended upstream_failed (only one_done tells the two apart, as in
 * Airflow; 0 when the caller does not know); "skipped" those that were
 * skipped.
 */
typedef struct DagUpstreamTally
{
	int			total;
	int			success;
	int			failed;
	int			skipped;
	int			upstream_failed;
} DagUpstreamTally;

extern bool DagRuleIsValid(const char *rule);
extern DagRuleOutcome DagEvaluateRule(const char *rule,
									  const DagUpstreamTally *tally);
extern const char *DagRuleOutcomeState(DagRuleOutcome outcome);

/*
 * Longest path to a sink, counted in tasks, for each of n tasks whose
 * upstream edges are given in CSR form: the upstreams of task i are
 * up[up_start[i] .. up_start[i + 1] - 1].  Returns false if there is a cycle.
 */
extern bool DagCriticalPath(int n, const int *up_start, const int *up,
							int *path_len);

#endif							/* DAGSCHED_DAG_H */
