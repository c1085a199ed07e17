/*-------------------------------------------------------------------------
 *
 * dag_fuzz.c
 *	  libFuzzer harness for the DAG logic (src/dag.c, compiled unmodified):
 *	  critical paths over arbitrary edge lists, trigger rules over
 *	  arbitrary tallies.
 *
 * Input: byte 0 picks the mode (bit 0: orient every edge from the lower to
 * the higher task number, so the graph is acyclic and the path lengths get
 * checked often); bytes 1-2 the task count n (at most 2000); then 4 bytes
 * per edge u->v (u upstream of v), numbers taken modulo n.  The same bytes,
 * read again as 16-byte tallies, drive DagEvaluateRule.
 *
 * Checked: the cycle verdict against repeated removal of sinks; when
 * acyclic, path_len of a sink is 1 and of any other task exactly one more
 * than the largest among its downstream tasks; DagCriticalPath frees what
 * it allocates.  For every rule (Airflow's five of 0.2 included), the
 * outcome against what the tallies allow (see check_rule).
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  fuzz/dag_fuzz.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dag.h"

#include "pg_stubs.h"

#define FUZZ_MAX_TASKS 2000

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "dag_fuzz: check failed: %s\n  ", #cond); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			abort(); \
		} \
	} while (0)

static const char *const rules[] = {
	"all_success", "all_done", "all_failed",
	"one_success", "one_failed", "none_failed",
	"none_failed_min_one_success", "one_done", "none_skipped",
	"all_skipped", "always",
};

/*
 * Does the rule hold once every upstream has finished with these counts?
 * f counts failed and upstream_failed upstreams, uf the latter of them.
 */
static bool
rule_holds(const char *rule, int64 total, int64 s, int64 f, int64 k, int64 uf)
{
	if (total == 0 || strcmp(rule, "always") == 0)
		return true;			/* nothing to wait for */
	if (strcmp(rule, "all_success") == 0)
		return f == 0 && k == 0;
	if (strcmp(rule, "all_done") == 0)
		return true;
	if (strcmp(rule, "all_failed") == 0)
		return s == 0 && k == 0;
	if (strcmp(rule, "one_success") == 0)
		return s > 0;
	if (strcmp(rule, "one_failed") == 0)
		return f > 0;
	if (strcmp(rule, "none_failed_min_one_success") == 0)
		return f == 0 && s > 0;
	if (strcmp(rule, "one_done") == 0)
		return s + (f - uf) > 0;
	if (strcmp(rule, "none_skipped") == 0)
		return k == 0;
	if (strcmp(rule, "all_skipped") == 0)
		return s == 0 && f == 0;
	return f == 0;				/* none_failed */
}

/* Rules that fire on the first matching upstream rather than on the last. */
static bool
rule_is_eager(const char *rule)
{
	return strcmp(rule, "one_success") == 0 || strcmp(rule, "one_failed") == 0 ||
		strcmp(rule, "one_done") == 0 || strcmp(rule, "always") == 0;
}

/*
 * Every rule's predicate is monotone in each count, so the four uniform
 * completions of the remaining upstreams (all succeed, all fail, all end
 * upstream_failed, all are skipped) bound what any completion can do.
 *
 * READY: for the eager rules, the rule already holds whatever the rest do;
 * for the others, everything has finished and the rule holds.  Resolved
 * (UPSTREAM_FAILED or SKIPPED): no completion can make it hold, and
 * UPSTREAM_FAILED only with a failure among the upstreams.  WAIT: neither.
 */
static void
check_rule(const char *rule, const DagUpstreamTally *t)
{
	int64		r = (int64) t->total - t->success - t->failed - t->skipped;
	int64		s = t->success,
				f = t->failed,
				k = t->skipped,
				uf = t->upstream_failed;
	bool		can,
				must,
				ready;
	DagRuleOutcome o = DagEvaluateRule(rule, t);
	const char *state = DagRuleOutcomeState(o);

	can = rule_holds(rule, t->total, s + r, f, k, uf) ||
		rule_holds(rule, t->total, s, f + r, k, uf) ||
		rule_holds(rule, t->total, s, f + r, k, uf + r) ||
		rule_holds(rule, t->total, s, f, k + r, uf);
	must = rule_holds(rule, t->total, s + r, f, k, uf) &&
		rule_holds(rule, t->total, s, f + r, k, uf) &&
		rule_holds(rule, t->total, s, f + r, k, uf + r) &&
		rule_holds(rule, t->total, s, f, k + r, uf);
	ready = rule_is_eager(rule) ? must : (r == 0 && must);

	CHECK(state != NULL && state[0], "no state name");
	CHECK((o == DAG_RULE_READY) == ready,
		  "%s total %d success %d failed %d skipped %d: %s, expected %s",
		  rule, t->total, t->success, t->failed, t->skipped, state,
		  ready ? "queued" : "not queued");
	CHECK((o == DAG_RULE_UPSTREAM_FAILED || o == DAG_RULE_SKIPPED) == !can,
		  "%s total %d success %d failed %d skipped %d: %s, but the rule %s",
		  rule, t->total, t->success, t->failed, t->skipped, state,
		  can ? "can still hold" : "can no longer hold");
	CHECK(o != DAG_RULE_UPSTREAM_FAILED || t->failed > 0,
		  "%s: upstream_failed without a failed upstream", rule);
}

static int
rd16(const uint8_t *p)
{
	return p[0] | (p[1] << 8);
}

static uint32
rd32(const uint8_t *p)
{
	return p[0] | (p[1] << 8) | (p[2] << 16) | ((uint32) p[3] << 24);
}

static void
fuzz_rules(const uint8_t *data, size_t size)
{
	size_t		off;
	sigjmp_buf	jb;
	char		bogus[16];

	for (off = 0; off + 16 <= size && off < 16 * 64; off += 16)
	{
		DagUpstreamTally t;
		int64		budget;
		int			i;

		/* small counts usually, any int sometimes */
		t.total = (data[off] & 0x80) ? (int) (rd32(data + off) & 0x7fffffff)
			: data[off] % 8;
		budget = t.total;
		t.success = (int) (rd32(data + off + 4) % (budget + 1));
		budget -= t.success;
		t.failed = (int) (rd32(data + off + 8) % (budget + 1));
		budget -= t.failed;
		t.skipped = (int) (rd32(data + off + 12) % (budget + 1));
		/* of the failures, those that were upstream_failed */
		t.upstream_failed = (int) ((rd32(data + off + 8) >> 7) %
								   ((uint32) t.failed + 1));

		for (i = 0; i < lengthof(rules); i++)
		{
			CHECK(DagRuleIsValid(rules[i]), "%s invalid", rules[i]);
			check_rule(rules[i], &t);
		}
	}

	/* any other name is invalid, and DagEvaluateRule raises an ERROR */
	memset(bogus, 0, sizeof(bogus));
	memcpy(bogus, data, Min(size, sizeof(bogus) - 1));
	for (off = 0; off < lengthof(rules); off++)
		if (strcmp(bogus, rules[off]) == 0)
			return;
	CHECK(!DagRuleIsValid(bogus), "\"%s\" valid", bogus);
	if (size > 0 && size % 7 == 0)
	{
		DagUpstreamTally t = {1, 0, 0, 0, 0};

		fuzz_error_jmp = &jb;
		if (sigsetjmp(jb, 0) == 0)
		{
			DagEvaluateRule(bogus, &t);
			fuzz_error_jmp = NULL;
			CHECK(false, "unknown rule \"%s\" evaluated", bogus);
		}
		fuzz_error_jmp = NULL;
	}
}

/* Repeated removal of sinks; returns false if some tasks are left. */
static bool
ref_acyclic(int n, const int *eu, int ne, const int *up_start, const int *up)
{
	int		   *outdeg = calloc(n + 1, sizeof(int));
	bool	   *gone = calloc(n + 1, sizeof(bool));
	int			removed = 0;
	bool		progress = true;
	int			i,
				e;

	for (e = 0; e < ne; e++)
		outdeg[eu[e]]++;
	while (progress)
	{
		progress = false;
		for (i = 0; i < n; i++)
		{
			if (gone[i] || outdeg[i] != 0)
				continue;
			gone[i] = true;
			removed++;
			progress = true;
			for (e = up_start[i]; e < up_start[i + 1]; e++)
				outdeg[up[e]]--;
		}
	}
	free(outdeg);
	free(gone);
	return removed == n;
}

static void
fuzz_critical_path(const uint8_t *data, size_t size)
{
	int			mode,
				n,
				ne,
				e,
				i;
	int		   *eu,
			   *ev,
			   *up_start,
			   *up,
			   *fill,
			   *path_len,
			   *best;
	bool		ok,
				ref;
	long		live = fuzz_palloc_live;

	if (size < 3)
		return;
	mode = data[0];
	n = rd16(data + 1) % (FUZZ_MAX_TASKS + 1);
	data += 3;
	size -= 3;
	ne = n > 0 ? (int) (size / 4) : 0;

	eu = malloc(sizeof(int) * (ne + 1));
	ev = malloc(sizeof(int) * (ne + 1));
	for (e = 0; e < ne; e++)
	{
		int			u = rd16(data + 4 * e) % n;
		int			v = rd16(data + 4 * e + 2) % n;

		if ((mode & 1) && u > v)
		{
			int			tmp = u;

			u = v;
			v = tmp;
		}
		if ((mode & 1) && u == v)
			v = (v + 1 < n) ? v + 1 : v;	/* left a self-loop only if n-1 */
		eu[e] = u;
		ev[e] = v;
	}
	if (mode & 1)
	{
		/* drop the self-loops that are left, keeping it acyclic */
		int			k = 0;

		for (e = 0; e < ne; e++)
			if (eu[e] != ev[e])
			{
				eu[k] = eu[e];
				ev[k++] = ev[e];
			}
		ne = k;
	}

	/* CSR: the upstreams of v */
	up_start = calloc(n + 2, sizeof(int));
	up = malloc(sizeof(int) * (ne + 1));
	fill = calloc(n + 1, sizeof(int));
	for (e = 0; e < ne; e++)
		up_start[ev[e] + 1]++;
	for (i = 0; i < n; i++)
		up_start[i + 1] += up_start[i];
	for (e = 0; e < ne; e++)
		up[up_start[ev[e]] + fill[ev[e]]++] = eu[e];

	/* exactly n entries, so that ASan sees any write past them */
	path_len = malloc(sizeof(int) * (n > 0 ? n : 1));
	ok = DagCriticalPath(n, up_start, up, path_len);
	CHECK(fuzz_palloc_live == live, "DagCriticalPath leaks %ld chunks",
		  fuzz_palloc_live - live);
	ref = ref_acyclic(n, eu, ne, up_start, up);
	CHECK(ok == ref, "n %d, %d edges: DagCriticalPath says %s, sink removal %s",
		  n, ne, ok ? "acyclic" : "cyclic", ref ? "acyclic" : "cyclic");
	if (mode & 1)
		CHECK(ok, "oriented edges reported cyclic");

	if (ok)
	{
		/* best[u]: the longest path_len among u's downstream tasks */
		best = calloc(n + 1, sizeof(int));
		for (e = 0; e < ne; e++)
		{
			CHECK(path_len[eu[e]] >= path_len[ev[e]] + 1,
				  "edge %d->%d: path_len %d, %d", eu[e], ev[e],
				  path_len[eu[e]], path_len[ev[e]]);
			if (path_len[ev[e]] > best[eu[e]])
				best[eu[e]] = path_len[ev[e]];
		}
		for (i = 0; i < n; i++)
			CHECK(path_len[i] == best[i] + 1,
				  "task %d: path_len %d, longest downstream %d",
				  i, path_len[i], best[i]);
		free(best);
	}

	free(path_len);
	free(fill);
	free(up);
	free(up_start);
	free(eu);
	free(ev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_critical_path(data, size);
	fuzz_rules(data, size);
	return 0;
}
