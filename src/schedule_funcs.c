/*-------------------------------------------------------------------------
 *
 * schedule_funcs.c
 *	  SQL-callable wrapper around the cron engine: dagsched.next_fire().
 *
 * next_fire() lets users check a schedule before they give it to a DAG, and
 * lets the tests compare the engine with an independent oracle.  It is
 * meant to be called over many rows, so each call site keeps the last
 * parsed schedule and looked-up zone in fn_extra and re-parses only when
 * the text changes.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/schedule_funcs.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "cron.h"

PG_FUNCTION_INFO_V1(dagsched_next_fire);

/* Per call site, in fn_mcxt: the last schedule and zone seen. */
typedef struct NextFireCache
{
	char	   *sched_text;		/* raw bytes, not NUL-terminated */
	int			sched_len;
	CronSchedule sched;
	char	   *tz_name;
	int			tz_len;
	pg_tz	   *tz;				/* owned by the timezone library's cache */
} NextFireCache;

static bool
schedule_cache_hit(const char *cached, int cached_len, const char *s, int len)
{
	return cached != NULL && cached_len == len && memcmp(cached, s, len) == 0;
}

static char *
schedule_cache_copy(MemoryContext cxt, char *old, const char *s, int len)
{
	char	   *copy = MemoryContextAlloc(cxt, len + 1);

	memcpy(copy, s, len);
	copy[len] = '\0';
	if (old)
		pfree(old);
	return copy;
}

/*
 * dagsched.next_fire(schedule text, after timestamptz, timezone text)
 *
 * Not strict, because a NULL zone means UTC; a NULL schedule or start gives
 * NULL, as does a schedule that never fires.
 */
Datum
dagsched_next_fire(PG_FUNCTION_ARGS)
{
	NextFireCache *cache = (NextFireCache *) fcinfo->flinfo->fn_extra;
	text	   *sched_arg;
	const char *sched_str;
	int			sched_len;
	const char *tz_str = "UTC";
	int			tz_len = 3;
	TimestampTz after;
	TimestampTz result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	sched_arg = PG_GETARG_TEXT_PP(0);
	sched_str = VARDATA_ANY(sched_arg);
	sched_len = VARSIZE_ANY_EXHDR(sched_arg);
	after = PG_GETARG_TIMESTAMPTZ(1);
	if (!PG_ARGISNULL(2))
	{
		text	   *tz_arg = PG_GETARG_TEXT_PP(2);

		tz_str = VARDATA_ANY(tz_arg);
		tz_len = VARSIZE_ANY_EXHDR(tz_arg);
	}

	if (cache == NULL)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt,
									   sizeof(NextFireCache));
		fcinfo->flinfo->fn_extra = cache;
	}

	/* parse first and cache after, so a bad schedule is never cached */
	if (!schedule_cache_hit(cache->sched_text, cache->sched_len,
							sched_str, sched_len))
	{
		CronSchedule parsed;

		CronParseOrError(text_to_cstring(sched_arg), &parsed);
		cache->sched_text = schedule_cache_copy(fcinfo->flinfo->fn_mcxt,
												cache->sched_text,
												sched_str, sched_len);
		cache->sched_len = sched_len;
		cache->sched = parsed;
	}
	if (!schedule_cache_hit(cache->tz_name, cache->tz_len, tz_str, tz_len))
	{
		char	   *name = pnstrdup(tz_str, tz_len);
		pg_tz	   *tz = CronLookupUserTimezone(name);

		cache->tz_name = schedule_cache_copy(fcinfo->flinfo->fn_mcxt,
											 cache->tz_name, tz_str, tz_len);
		cache->tz_len = tz_len;
		cache->tz = tz;
		pfree(name);
	}

	if (!CronNextFire(&cache->sched, after, cache->tz, &result))
		PG_RETURN_NULL();
	PG_RETURN_TIMESTAMPTZ(result);
}
