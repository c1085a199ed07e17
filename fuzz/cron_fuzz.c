/*-------------------------------------------------------------------------
 *
 * cron_fuzz.c
 *	  libFuzzer harness for the schedule parser and next-fire computation
 *	  (src/cron.c, compiled unmodified).
 *
 * Input: the schedule text up to the first NUL byte; the bytes after it,
 * if any, pick an extra "after" instant, a timezone and an error buffer
 * size.  Checked, beyond what the sanitizers see:
 *
 * - CronParse never ereports and always NUL-terminates its message;
 *   CronParseOrError agrees with it (same schedule, or ERROR with the same
 *   message); upper-casing the text and (for five fields) prefixing a "0"
 *   seconds field give the same schedule.
 * - CronNextFire: a result is strictly after "after" and within the
 *   timestamp range, and asking again from it gives a strictly later tick
 *   or none; an interval of seconds, minutes or hours ticks at whole
 *   multiples of its period (one of days or weeks is a schedule at local
 *   midnight); in UTC the result matches the schedule field by field and
 *   no earlier second does (checked against a brute-force search using
 *   gmtime_r); in a zone with a fixed offset the result is the UTC one
 *   shifted by the offset; in a zone with transitions, Vixie cron's DST
 *   rule: a schedule following real time (a "*" in its seconds, minute or
 *   hour field) fires at a matching wall time and, within three hours
 *   after a transition, no earlier instant after "after" matches; any
 *   other fires at a matching wall time or at a transition instant (a wall
 *   time in a gap fires at the jump), and a wall time that happens twice
 *   fires at its first occurrence when that is after "after".
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  fuzz/cron_fuzz.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "utils/errcodes.h"

#include "pg_stubs.h"

/* a little over CRON_MAX_LENGTH, so that the length check is exercised */
#define FUZZ_MAX_TEXT 1100
#define FUZZ_ERRBUF 4096
#define EPOCH_DIFF ((int64) 946684800)

/* How far the brute-force reference searches, in days. */
#define REF_MAX_DAYS 1500

#define CHECK(cond, ...) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "cron_fuzz: check failed: %s\n  schedule \"%s\"\n  ", \
					#cond, cur_text); \
			fprintf(stderr, __VA_ARGS__); \
			fprintf(stderr, "\n"); \
			abort(); \
		} \
	} while (0)

static const char *cur_text = "";

/* zones with transitions, odd offsets, a skipped day, 2-hour DST */
static const char *const zone_names[] = {
	"America/New_York", "Europe/London", "Australia/Lord_Howe",
	"Asia/Kathmandu", "Pacific/Apia", "America/St_Johns",
	"Antarctica/Troll", "Africa/Casablanca", "Europe/Dublin",
	"America/Santiago", "Asia/Tehran", "Pacific/Chatham",
};

/* zones whose offset never changes, with it (seconds east) */
static const struct
{
	const char *name;
	long		offset;
}			fixed_zones[] = {
	{"Etc/GMT-14", 14 * 3600},
	{"Etc/GMT+12", -12 * 3600},
	{"Etc/GMT-5", 5 * 3600},
	{"UTC", 0},
};

static pg_tz *zones[lengthof(zone_names)];
static int	nzones;
static pg_tz *fzones[lengthof(fixed_zones)];
static long fzone_off[lengthof(fixed_zones)];
static int	nfzones;

static int64
floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64
ts_to_unix(TimestampTz ts)
{
	return floor_div(ts, USECS_PER_SEC) + EPOCH_DIFF;
}

static bool
bit(uint64 bits, int n)
{
	return (bits >> n) & 1;
}

/* the day part of the rule, on a broken-down date (gmtime_r/localtime_r) */
static bool
ref_day_matches(const CronSchedule *s, const struct tm *tm, bool last_of_month,
				int64 day)
{
	bool		dom_ok = bit(s->days, tm->tm_mday) ||
		(s->last_day && last_of_month);
	bool		dow_ok = bit(s->weekdays, tm->tm_wday);

	/* intervals of days: every day_period-th day from day_anchor */
	if (s->day_period > 0 &&
		(day - s->day_anchor) - floor_div(day - s->day_anchor,
										  s->day_period) * s->day_period != 0)
		return false;

	if (s->dom_restricted && s->dow_restricted)
		return dom_ok || dow_ok;
	return dom_ok && dow_ok;
}

static bool
ref_time_matches(const CronSchedule *s, const struct tm *tm)
{
	return bit(s->months, tm->tm_mon + 1) && bit(s->hours, tm->tm_hour) &&
		bit(s->minutes, tm->tm_min) && bit(s->seconds, tm->tm_sec);
}

static bool
utc_matches(const CronSchedule *s, int64 u)
{
	struct tm	tm,
				next;
	time_t		t = (time_t) u;
	time_t		t1 = (time_t) (floor_div(u, 86400) + 1) * 86400;

	if (gmtime_r(&t, &tm) == NULL || gmtime_r(&t1, &next) == NULL)
		return false;
	return ref_time_matches(s, &tm) &&
		ref_day_matches(s, &tm, next.tm_mday == 1, floor_div(u, 86400));
}

/*
 * First matching second >= start in UTC, searching at most REF_MAX_DAYS
 * days and not past "limit".  Returns 1 and sets *found, 0 if none within
 * the search, -1 if the search was cut short.
 */
static int
ref_next_utc(const CronSchedule *s, int64 start, int64 limit, int64 *found)
{
	int64		day0 = floor_div(start, 86400);
	int64		day;

	for (day = day0; day <= day0 + REF_MAX_DAYS; day++)
	{
		struct tm	tm,
					next;
		time_t		t = (time_t) (day * 86400);
		time_t		t1 = (time_t) ((day + 1) * 86400);
		int			h,
					m,
					sec;

		if (day * 86400 > limit)
			return 0;
		if (gmtime_r(&t, &tm) == NULL || gmtime_r(&t1, &next) == NULL)
			return -1;
		if (!bit(s->months, tm.tm_mon + 1) ||
			!ref_day_matches(s, &tm, next.tm_mday == 1, day))
			continue;
		for (h = 0; h < 24; h++)
		{
			if (!bit(s->hours, h) || day * 86400 + h * 3600 + 3599 < start)
				continue;
			for (m = 0; m < 60; m++)
			{
				if (!bit(s->minutes, m) ||
					day * 86400 + h * 3600 + m * 60 + 59 < start)
					continue;
				for (sec = 0; sec < 60; sec++)
				{
					int64		u = day * 86400 + h * 3600 + m * 60 + sec;

					if (!bit(s->seconds, sec) || u < start)
						continue;
					if (u > limit)
						return 0;
					*found = u;
					return 1;
				}
			}
		}
	}
	return -1;
}

static long
gmtoff_at(int64 u, pg_tz *tz)
{
	pg_time_t	t = u;
	struct pg_tm *tm = pg_localtime(&t, tz);

	return tm ? tm->tm_gmtoff : 0;
}

static bool
same_schedule(const CronSchedule *a, const CronSchedule *b)
{
	return a->is_interval == b->is_interval &&
		a->interval_usecs == b->interval_usecs &&
		a->seconds == b->seconds && a->minutes == b->minutes &&
		a->hours == b->hours && a->days == b->days &&
		a->months == b->months && a->weekdays == b->weekdays &&
		a->last_day == b->last_day &&
		a->dom_restricted == b->dom_restricted &&
		a->dow_restricted == b->dow_restricted &&
		a->real_time == b->real_time &&
		a->day_period == b->day_period && a->day_anchor == b->day_anchor;
}

/* The checks every result gets, in any zone.  Returns the result or 0. */
static bool
next_fire_checked(const CronSchedule *s, TimestampTz after, pg_tz *tz,
				  TimestampTz *result)
{
	TimestampTz r = 0;
	bool		ok = CronNextFire(s, after, tz, &r);

	if (!ok)
		return false;
	CHECK(r > after, "after " INT64_FORMAT " result " INT64_FORMAT, after, r);
	CHECK(IS_VALID_TIMESTAMP(r), "result " INT64_FORMAT " out of range", r);
	CHECK(r % USECS_PER_SEC == 0, "result " INT64_FORMAT " not whole", r);
	if (s->is_interval && s->day_period == 0)
	{
		int64		period = s->interval_usecs / USECS_PER_SEC;
		int64		u = ts_to_unix(r);

		CHECK(u % period == 0, "interval tick " INT64_FORMAT " period "
			  INT64_FORMAT, u, period);
		CHECK(u - period <= ts_to_unix(after),
			  "interval tick " INT64_FORMAT " skips one after " INT64_FORMAT,
			  r, after);
	}
	*result = r;
	return true;
}

/* An interval ticking at multiples of its period since the epoch. */
static bool
epoch_interval(const CronSchedule *s)
{
	return s->is_interval && s->day_period == 0;
}

/* Vixie cron's DST rule, on a result r2 in a zone with transitions */
static void
check_zone_result(const CronSchedule *s, TimestampTz after, pg_tz *tz,
				  TimestampTz r2)
{
	int64		u = ts_to_unix(r2);
	int64		a = ts_to_unix(after);
	int64		wall = u + gmtoff_at(u, tz);
	bool		jump = gmtoff_at(u - 1, tz) != gmtoff_at(u, tz);
	long		offs[2];
	int			k;

	if (s->real_time)
	{
		int64		v;

		CHECK(utc_matches(s, wall),
			  "real-time result " INT64_FORMAT " (wall unix " INT64_FORMAT
			  ") does not match, after " INT64_FORMAT, r2, wall, after);

		/* near a transition, no earlier instant matched */
		if (gmtoff_at(u - 3 * 3600, tz) != gmtoff_at(u, tz))
			for (v = Max(a + 1, u - 3 * 3600); v < u; v++)
				CHECK(!utc_matches(s, v + gmtoff_at(v, tz)),
					  "real-time result " INT64_FORMAT " skips unix "
					  INT64_FORMAT ", after " INT64_FORMAT, r2, v, after);
		return;
	}

	CHECK(jump || utc_matches(s, wall),
		  "zone result " INT64_FORMAT " (wall unix " INT64_FORMAT
		  ") does not match, after " INT64_FORMAT, r2, wall, after);
	if (jump)
		return;

	/*
	 * A wall time that happens twice fires at its first occurrence, unless
	 * that is already past.
	 */
	offs[0] = gmtoff_at(u - SECS_PER_DAY, tz);
	offs[1] = gmtoff_at(u + SECS_PER_DAY, tz);
	for (k = 0; k < 2; k++)
	{
		int64		t1 = wall - offs[k];

		CHECK(!(t1 > a && t1 < u && gmtoff_at(t1, tz) == offs[k]),
			  "zone result " INT64_FORMAT " is the second "
			  "occurrence of its wall time; the first, unix "
			  INT64_FORMAT ", is after " INT64_FORMAT,
			  r2, t1, after);
	}
}

static void
check_after(const CronSchedule *s, TimestampTz after, pg_tz *tz,
			long fixed_off, pg_tz *fixed_tz, bool reference)
{
	TimestampTz r,
				r2,
				r3;
	bool		ok;

	if (TIMESTAMP_NOT_FINITE(after))
	{
		CHECK(!CronNextFire(s, after, NULL, &r), "infinite after fired");
		return;
	}

	/* UTC */
	ok = next_fire_checked(s, after, NULL, &r);
	if (ok)
	{
		if (next_fire_checked(s, r, NULL, &r2))
			CHECK(r2 > r, "not increasing");
		if (!epoch_interval(s))
			CHECK(utc_matches(s, ts_to_unix(r)),
				  "UTC result " INT64_FORMAT " does not match (after "
				  INT64_FORMAT ")", r, after);
	}
	if (reference && !epoch_interval(s))
	{
		int64		start = ts_to_unix(after) + 1;
		int64		limit = ok ? ts_to_unix(r) :
		END_TIMESTAMP / USECS_PER_SEC + EPOCH_DIFF - 1;
		int64		found;
		int			ref = ref_next_utc(s, start, limit, &found);

		if (ref == 1)
			CHECK(ok && found == ts_to_unix(r),
				  "after " INT64_FORMAT ": got %s" INT64_FORMAT
				  ", brute force finds unix " INT64_FORMAT,
				  after, ok ? "unix " : "none ", ok ? ts_to_unix(r) : 0,
				  found);
		else if (ref == 0 && ok)
			CHECK(false, "after " INT64_FORMAT ": got unix " INT64_FORMAT
				  " but brute force finds nothing up to it", after,
				  ts_to_unix(r));
	}

	/* a zone with a fixed offset: the UTC answer, shifted */
	if (fixed_tz != NULL && after + fixed_off * USECS_PER_SEC < END_TIMESTAMP &&
		after + fixed_off * USECS_PER_SEC >= MIN_TIMESTAMP)
	{
		TimestampTz shifted = after + fixed_off * USECS_PER_SEC;
		bool		okf = next_fire_checked(s, after, fixed_tz, &r2);
		bool		oku = CronNextFire(s, shifted, NULL, &r3);

		if (epoch_interval(s))
			CHECK(okf == ok && (!ok || r2 == r), "interval depends on zone");
		else if (oku && IS_VALID_TIMESTAMP(r3 - fixed_off * USECS_PER_SEC))
			CHECK(okf && r2 == r3 - fixed_off * USECS_PER_SEC,
				  "offset %ld after " INT64_FORMAT ": got %s" INT64_FORMAT
				  ", UTC shifted gives " INT64_FORMAT, fixed_off, after,
				  okf ? "" : "none ", okf ? r2 : 0,
				  r3 - fixed_off * USECS_PER_SEC);
		else if (!oku)
			/* unless the wall time lies past the end of the range in UTC */
			CHECK(!okf || r2 + fixed_off * USECS_PER_SEC >= END_TIMESTAMP,
				  "offset %ld after " INT64_FORMAT ": got " INT64_FORMAT
				  " but none in UTC", fixed_off, after, r2);
	}

	/* a zone with transitions */
	if (tz != NULL && next_fire_checked(s, after, tz, &r2))
	{
		if (next_fire_checked(s, r2, tz, &r3))
			CHECK(r3 > r2, "not increasing in zone");
		if (epoch_interval(s))
			CHECK(ok && r2 == r, "interval depends on zone");
		else
			check_zone_result(s, after, tz, r2);
	}
}

static void
check_parse_variants(const char *text, const CronSchedule *s, bool ok)
{
	size_t		len = strlen(text);
	char	   *up = malloc(len + 3);
	char		errbuf[FUZZ_ERRBUF];
	CronSchedule s2;
	bool		ok2;
	size_t		i;
	int			ntok = 0;
	bool		in_tok = false;

	for (i = 0; i <= len; i++)
		up[i] = (text[i] >= 'a' && text[i] <= 'z') ? text[i] - 32 : text[i];
	ok2 = CronParse(up, &s2, errbuf, sizeof(errbuf));
	CHECK(ok2 == ok && (!ok || same_schedule(s, &s2)),
		  "upper case \"%s\" parses differently", up);

	if (ok && !s->is_interval)
	{
		for (i = 0; i < len; i++)
		{
			bool		sp = strchr(" \t\n\r\f\v", text[i]) != NULL;

			if (!sp && !in_tok)
				ntok++;
			in_tok = !sp;
		}
		if (ntok == 5 && len + 2 <= 1000)
		{
			up[0] = '0';
			up[1] = ' ';
			memcpy(up + 2, text, len + 1);
			ok2 = CronParse(up, &s2, errbuf, sizeof(errbuf));
			CHECK(ok2 && same_schedule(s, &s2),
				  "\"%s\" differs from the five-field form", up);
		}
	}
	free(up);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int			i;

	for (i = 0; i < lengthof(zone_names); i++)
		if ((zones[nzones] = pg_tzset(zone_names[i])) != NULL)
			nzones++;
	for (i = 0; i < lengthof(fixed_zones); i++)
		if ((fzones[nfzones] = pg_tzset(fixed_zones[i].name)) != NULL)
			fzone_off[nfzones++] = fixed_zones[i].offset;
	if (nzones == 0)
		fprintf(stderr, "cron_fuzz: no zone data in /usr/share/zoneinfo: "
				"UTC only\n");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t		tlen = 0;
	char	   *text;
	char		errbuf[FUZZ_ERRBUF];
	char	   *small;
	size_t		small_len;
	CronSchedule s,
				s2;
	bool		ok;
	const uint8_t *tail;
	size_t		tail_len;
	uint64		seed = 0;
	pg_tz	   *tz = NULL;
	pg_tz	   *fixed_tz = NULL;
	long		fixed_off = 0;
	sigjmp_buf	jb;
	int			i;
	static const TimestampTz fixed_afters[] = {
		DT_NOBEGIN, DT_NOEND,
		MIN_TIMESTAMP, MIN_TIMESTAMP + 1, MIN_TIMESTAMP + 86400 * USECS_PER_SEC,
		-1, 0, 1,
		END_TIMESTAMP - 1, END_TIMESTAMP - USECS_PER_SEC,
		END_TIMESTAMP - INT64CONST(366) * 86400 * USECS_PER_SEC,
		/* 2026-03-08 06:59:59.5 UTC, just before a US spring-forward */
		INT64CONST(826354799500000),
		/* 2026-11-01 05:30:00 UTC, inside a US fall-back repeat */
		INT64CONST(846826200000000),
	};

	while (tlen < size && tlen < FUZZ_MAX_TEXT && data[tlen] != '\0')
		tlen++;
	text = malloc(tlen + 1);
	memcpy(text, data, tlen);
	text[tlen] = '\0';
	cur_text = text;
	tail = data + tlen + 1;
	tail_len = size > tlen + 1 ? size - tlen - 1 : 0;
	for (i = 0; i < 8 && i < (int) tail_len; i++)
		seed |= (uint64) tail[i] << (8 * i);
	if (tail_len == 0)
	{
		/* FNV-1a of the text */
		seed = UINT64CONST(14695981039346656037);
		for (i = 0; i < (int) tlen; i++)
			seed = (seed ^ (uint8) text[i]) * UINT64CONST(1099511628211);
	}

	/* parse: never an ereport, always a terminated message on failure */
	memset(errbuf, 0x7f, sizeof(errbuf));
	ok = CronParse(text, &s, errbuf, sizeof(errbuf));
	if (!ok)
		CHECK(memchr(errbuf, '\0', sizeof(errbuf)) != NULL && errbuf[0],
			  "no error message");

	/* a short buffer must be respected (ASan sees the exact-size chunk) */
	small_len = tail_len > 9 ? tail[9] % 24 : seed % 24;
	small = malloc(small_len ? small_len : 1);

	{
		bool		oks = CronParse(text, &s2, small, small_len);

		CHECK(oks == ok && (!ok || same_schedule(&s, &s2)),
			  "errlen %zu changes the verdict", small_len);
		if (!oks && small_len > 0)
			CHECK(memchr(small, '\0', small_len) != NULL,
				  "message unterminated with errlen %zu", small_len);
	}
	free(small);

	/* CronParseOrError agrees */
	fuzz_error_jmp = &jb;
	if (sigsetjmp(jb, 0) == 0)
	{
		CronParseOrError(text, &s2);
		fuzz_error_jmp = NULL;
		CHECK(ok && same_schedule(&s, &s2),
			  "CronParseOrError accepts what CronParse rejects: %s", errbuf);
	}
	else
	{
		fuzz_error_jmp = NULL;
		CHECK(!ok, "CronParseOrError rejects: %s", fuzz_error_msg);
		/* CronParseOrError may cut a long message short, no more */
		CHECK(fuzz_error_msg[0] &&
			  strncmp(fuzz_error_msg, errbuf, strlen(fuzz_error_msg)) == 0 &&
			  fuzz_error_code == ERRCODE_INVALID_PARAMETER_VALUE,
			  "ERROR \"%s\" differs from \"%s\"", fuzz_error_msg, errbuf);
	}

	check_parse_variants(text, &s, ok);

	if (ok)
	{
		TimestampTz derived;
		int			pick;

		if (nzones > 0)
			tz = zones[(tail_len > 8 ? tail[8] : seed >> 40) % nzones];
		if (nfzones > 0)
		{
			int			z = (seed >> 48) % nfzones;

			fixed_tz = fzones[z];
			fixed_off = fzone_off[z];
		}

		/* anywhere in the valid range */
		derived = (TimestampTz) ((uint64) MIN_TIMESTAMP +
								 seed % ((uint64) END_TIMESTAMP -
										 (uint64) MIN_TIMESTAMP));
		check_after(&s, derived, tz, fixed_off, fixed_tz, true);
		/* and near now, where schedules are used */
		check_after(&s, INT64CONST(820000000000000) +
					(TimestampTz) (seed % (INT64CONST(40) * 366 * 86400 *
										   USECS_PER_SEC)),
					tz, fixed_off, fixed_tz, true);

		pick = (int) ((seed >> 32) % lengthof(fixed_afters));
		for (i = 0; i < lengthof(fixed_afters); i++)
			check_after(&s, fixed_afters[i], tz, fixed_off, fixed_tz,
						i == pick);
	}

	cur_text = "";
	free(text);
	return 0;
}
