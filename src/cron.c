/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  Schedule parsing and next-fire computation.
 *
 * A schedule is parsed once into bit sets (one per cron field) and then
 * evaluated as often as needed without allocating.  The next fire time is
 * found on local wall-clock time in the schedule's zone by jumping field by
 * field (to the next allowed month, day, hour, minute, second), never by
 * scanning minute by minute, and the wall time found is then mapped back to
 * an instant with PostgreSQL's own timezone library, one offset period of
 * the zone at a time.  Across DST changes the rule is Vixie cron's (see
 * CronNextFire): a schedule whose seconds, minute or hour field begins with
 * "*" follows real time; any other fires once per wall time, a skipped one
 * at the jump, a repeated one the first time.  Plain intervals of seconds,
 * minutes or hours ("every 15 minutes") tick at whole multiples of their
 * period since the Unix epoch, whatever the zone; intervals of days or
 * weeks tick at local midnight (weeks: Mondays).
 *
 * This file is pure logic: no SPI, no catalog access, no allocation after
 * parsing, so it can be unit-tested and fuzzed through dagsched.next_fire().
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/cron.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "cron.h"
#include "mb/pg_wchar.h"
#include "port/pg_bitutils.h"

/*
 * Longer schedules are rejected up front: nothing legitimate comes close,
 * and it keeps parsing (which copies into a stack buffer) bounded.
 */
#define CRON_MAX_LENGTH 1000

/*
 * The Gregorian calendar, weekdays included, repeats every 400 years
 * (146097 days is a multiple of 7), so a schedule that has not fired within
 * 401 years of a start never will.
 */
#define CRON_SEARCH_YEARS 401

/* Longest plain interval; longer periods are more likely typos. */
#define CRON_MAX_INTERVAL_SECS	(366 * SECS_PER_DAY)

/* Seconds from the Unix epoch (1970) to the PostgreSQL epoch (2000). */
#define CRON_EPOCH_DIFF \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

typedef enum CronFieldId
{
	CRON_SECOND,
	CRON_MINUTE,
	CRON_HOUR,
	CRON_DOM,
	CRON_MONTH,
	CRON_DOW
} CronFieldId;

typedef struct CronFieldInfo
{
	const char *name;			/* as it appears in error messages */
	int			min;
	int			max;			/* largest value accepted (7 for weekdays) */
	int			star_max;		/* largest value "*" stands for */
	const char *const *names;	/* 3-letter names, indexed from min */
	const char *detail;
} CronFieldInfo;

static const char *const cron_month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec", NULL
};

static const char *const cron_day_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL
};

#define CRON_FIELD_SYNTAX \
	" Each field is *, a value, a range a-b, a step */n, a-b/n or a/n," \
	" or a comma-separated list of these."

static const CronFieldInfo cron_fields[] = {
	{"second", 0, 59, 59, NULL,
	"Seconds are 0-59." CRON_FIELD_SYNTAX},
	{"minute", 0, 59, 59, NULL,
	"Minutes are 0-59." CRON_FIELD_SYNTAX},
	{"hour", 0, 23, 23, NULL,
	"Hours are 0-23." CRON_FIELD_SYNTAX},
	{"day-of-month", 1, 31, 31, NULL,
	"Days of the month are 1-31, or L or $ for the last day of the month." CRON_FIELD_SYNTAX},
	{"month", 1, 12, 12, cron_month_names,
	"Months are 1-12 or jan-dec." CRON_FIELD_SYNTAX},
	{"day-of-week", 0, 7, 6, cron_day_names,
	"Days of the week are 0-7 (0 and 7 are Sunday) or sun-sat." CRON_FIELD_SYNTAX},
};

static const char *const cron_general_detail =
"A schedule is a cron expression of five fields "
"(minute hour day-of-month month day-of-week), "
"optionally preceded by a seconds field, "
"a macro (@yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly), "
"or an interval such as 'every 15 minutes' or '30 seconds'.";

static const char *const cron_interval_detail =
"An interval is \"every N unit\", \"every unit\" or \"N unit\", "
"where N is a positive whole number, "
"unit is second, minute, hour, day or week (singular or plural), "
"and the period is at most 366 days.";

static const char *const cron_step_detail =
"A step must reach at least two values of its range "
"(at most */59 for minutes, */23 for hours); "
"to fire at one value, write that value alone.";

/* 1970-01-05, the first Monday of the Unix epoch, as days since 1970-01-01 */
#define CRON_FIRST_MONDAY 4

/* What cron_parse_item found wrong, if anything. */
typedef enum CronItemResult
{
	CRON_ITEM_OK,
	CRON_ITEM_BAD,				/* malformed or out of range */
	CRON_ITEM_STEP				/* a step that only reaches its first value */
} CronItemResult;

typedef struct CronMacro
{
	const char *name;
	const char *expansion;
} CronMacro;

static const CronMacro cron_macros[] = {
	{"@yearly", "0 0 1 1 *"},
	{"@annually", "0 0 1 1 *"},
	{"@monthly", "0 0 1 * *"},
	{"@weekly", "0 0 * * 0"},
	{"@daily", "0 0 * * *"},
	{"@midnight", "0 0 * * *"},
	{"@hourly", "0 * * * *"},
};

typedef struct CronUnit
{
	const char *name;
	int64		secs;
} CronUnit;

static const CronUnit cron_units[] = {
	{"second", 1}, {"seconds", 1}, {"sec", 1}, {"secs", 1},
	{"minute", 60}, {"minutes", 60}, {"min", 60}, {"mins", 60},
	{"hour", 3600}, {"hours", 3600},
	{"day", SECS_PER_DAY}, {"days", SECS_PER_DAY},
	{"week", 7 * SECS_PER_DAY}, {"weeks", 7 * SECS_PER_DAY},
};

#define CRON_MAX_TOKENS 8

/* ----------------------------------------------------------------
 * Parsing
 * ----------------------------------------------------------------
 */

static bool
cron_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
		c == '\f' || c == '\v';
}

/* ASCII-only case-insensitive comparison, whatever the locale */
static bool
cron_word_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
	{
		char		ca = (*a >= 'A' && *a <= 'Z') ? *a + ('a' - 'A') : *a;

		if (ca != *b)
			return false;
	}
	return *a == '\0' && *b == '\0';
}

/*
 * Parse a whole non-negative number made of digits only (no sign, no
 * spaces).  Values too large for any field come back as -2 so the caller
 * reports them as out of range rather than wrapping.
 */
static int64
cron_parse_number(const char *s, int len)
{
	int64		v = 0;
	int			i;

	if (len <= 0)
		return -1;
	for (i = 0; i < len; i++)
	{
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > INT64CONST(100000000000))
			return -2;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* A value of a field: a number or, for months and weekdays, a name. */
static bool
cron_parse_value(const CronFieldInfo *fi, const char *s, int len, int *value,
				 bool *by_name)
{
	int64		v = cron_parse_number(s, len);

	*by_name = false;
	if (v == -1 && fi->names != NULL && len == 3)
	{
		char		word[4];
		int			i;

		memcpy(word, s, 3);
		word[3] = '\0';
		for (i = 0; fi->names[i] != NULL; i++)
		{
			if (cron_word_eq(word, fi->names[i]))
			{
				*value = fi->min + i;
				*by_name = true;
				return true;
			}
		}
		return false;
	}
	if (v < fi->min || v > fi->max)
		return false;
	*value = (int) v;
	return true;
}

/*
 * Parse one comma-separated item of a field into "bits".  The caller names
 * a malformed item in the error.
 */
static CronItemResult
cron_parse_item(const CronFieldInfo *fi, CronFieldId id, const char *item,
				uint64 *bits, bool *last_day)
{
	int			len = strlen(item);
	const char *slash = memchr(item, '/', len);
	int			base_len = slash ? slash - item : len;
	const char *dash;
	int			lo,
				hi;
	int64		step = 1;
	bool		lo_name,
				hi_name;
	int			v;

	/* "L" as in cronie, "$" as in pg_cron */
	if (id == CRON_DOM && (cron_word_eq(item, "l") || strcmp(item, "$") == 0))
	{
		*last_day = true;
		return CRON_ITEM_OK;
	}

	if (slash)
	{
		step = cron_parse_number(slash + 1, len - base_len - 1);
		if (step < 1)
			return CRON_ITEM_BAD;
	}

	dash = memchr(item, '-', base_len);
	if (base_len == 1 && item[0] == '*')
	{
		lo = fi->min;
		hi = fi->star_max;
	}
	else if (dash)
	{
		if (!cron_parse_value(fi, item, dash - item, &lo, &lo_name) ||
			!cron_parse_value(fi, dash + 1, base_len - (dash - item) - 1,
							  &hi, &hi_name))
			return CRON_ITEM_BAD;
		/* "fri-sun" means Friday to Sunday, as people read it */
		if (id == CRON_DOW && hi_name && hi == 0 && lo > 0)
			hi = 7;
		if (lo > hi)
			return CRON_ITEM_BAD;
	}
	else
	{
		if (!cron_parse_value(fi, item, base_len, &lo, &lo_name))
			return CRON_ITEM_BAD;
		/* "a/n" is "a-max/n", as in Vixie cron */
		hi = slash ? Max(lo, fi->star_max) : lo;
	}

	/*
	 * A step of 60 over the minutes means minute 0 only, which is never what
	 * was meant (pg_cron refuses it too)
	 */
	if (slash && lo + step > hi)
		return CRON_ITEM_STEP;

	for (v = lo; v <= hi; v += (int) step)
		*bits |= UINT64CONST(1) << (id == CRON_DOW ? v % 7 : v);
	return CRON_ITEM_OK;
}

/*
 * Parse one field (modified in place: commas are overwritten).  On error
 * sets *bad to the offending item, or to the whole field if the item is
 * empty.
 */
static CronItemResult
cron_parse_field(CronFieldId id, char *field, uint64 *bits, bool *last_day,
				 bool *restricted, const char **bad, char *whole, size_t wlen)
{
	const CronFieldInfo *fi = &cron_fields[id];
	char	   *p = field;

	/* kept for the error message: the items below are split in place */
	strlcpy(whole, field, wlen);

	/* Vixie cron: a field starting with "*" does not restrict the day */
	*restricted = field[0] != '*';
	*bits = 0;
	for (;;)
	{
		char	   *comma = strchr(p, ',');
		CronItemResult r;

		if (comma)
			*comma = '\0';
		if (*p == '\0')
		{
			*bad = whole;
			return CRON_ITEM_BAD;
		}
		r = cron_parse_item(fi, id, p, bits, last_day);
		if (r != CRON_ITEM_OK)
		{
			*bad = p;
			return r;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	return CRON_ITEM_OK;
}

/*
 * Days and weeks are calendar units: an interval of them ticks at local
 * midnight, found like "0 0 0 * * *" (so the DST rule of fixed times holds)
 * on every day_period-th day, counted from 1970-01-01, or from a Monday
 * when the period is whole weeks.
 */
static void
cron_set_day_interval(CronSchedule *s, int32 days)
{
	s->day_period = days;
	s->day_anchor = (days % 7 == 0) ? CRON_FIRST_MONDAY : 0;
	s->seconds = s->minutes = s->hours = UINT64CONST(1);
	s->days = ~((uint32) 1);
	s->months = (uint16) 0x1ffe;
	s->weekdays = (uint8) 0x7f;
}

/* Parse an interval; tok[] are the whitespace-separated words. */
static bool
cron_parse_interval(const char *text, char **tok, int ntok,
					CronSchedule *result, char *errbuf, size_t errlen,
					const char **detail)
{
	int			i = 0;
	int64		count = 1;
	int64		unit = 0;
	int			u;

	*detail = cron_interval_detail;
	if (cron_word_eq(tok[0], "every"))
		i++;
	if (ntok - i == 2)
	{
		count = cron_parse_number(tok[i], strlen(tok[i]));
		if (count < 1)
		{
			snprintf(errbuf, errlen, "invalid interval count \"%s\" in \"%s\"",
					 tok[i], text);
			return false;
		}
		i++;
	}
	else if (ntok - i != 1 || i == 0)
	{
		snprintf(errbuf, errlen, "invalid interval \"%s\"", text);
		return false;
	}

	for (u = 0; u < lengthof(cron_units); u++)
	{
		if (cron_word_eq(tok[i], cron_units[u].name))
		{
			unit = cron_units[u].secs;
			break;
		}
	}
	if (unit == 0)
	{
		snprintf(errbuf, errlen, "invalid interval unit \"%s\" in \"%s\"",
				 tok[i], text);
		return false;
	}
	/* count is at most ~1e11 here, so this cannot overflow */
	if (count * unit > CRON_MAX_INTERVAL_SECS)
	{
		snprintf(errbuf, errlen, "interval is too long in \"%s\"", text);
		return false;
	}

	memset(result, 0, sizeof(*result));
	result->is_interval = true;
	result->interval_usecs = count * unit * USECS_PER_SEC;
	if (unit >= SECS_PER_DAY)
		cron_set_day_interval(result, (int32) (count * unit / SECS_PER_DAY));
	return true;
}

/* The fields of a 5- or 6-field expression; tok[] are its words. */
static bool
cron_parse_fields(const char *text, char **tok, int ntok,
				  CronSchedule *result, char *errbuf, size_t errlen,
				  const char **detail)
{
	char		whole[CRON_MAX_LENGTH + 1];
	int			first;
	int			f;
	CronSchedule s;

	memset(&s, 0, sizeof(s));
	first = (ntok == 6) ? CRON_SECOND : CRON_MINUTE;
	if (ntok == 5)
		s.seconds = UINT64CONST(1);
	for (f = first; f <= CRON_DOW; f++)
	{
		uint64		bits;
		bool		restricted;
		const char *bad;
		CronItemResult r;

		r = cron_parse_field(f, tok[f - first], &bits, &s.last_day,
							 &restricted, &bad, whole, sizeof(whole));
		if (r == CRON_ITEM_STEP)
		{
			snprintf(errbuf, errlen,
					 "step of %s \"%s\" only reaches its first value, in \"%s\"",
					 cron_fields[f].name, bad, text);
			*detail = cron_step_detail;
			return false;
		}
		if (r != CRON_ITEM_OK)
		{
			snprintf(errbuf, errlen, "invalid %s \"%s\" in \"%s\"",
					 cron_fields[f].name, bad, text);
			*detail = cron_fields[f].detail;
			return false;
		}

		/*
		 * Vixie cron: a job whose minute or hour (here also second) field
		 * begins with "*" runs by real time when the clock jumps for DST
		 */
		if (f <= CRON_HOUR && !restricted)
			s.real_time = true;
		switch (f)
		{
			case CRON_SECOND:
				s.seconds = bits;
				break;
			case CRON_MINUTE:
				s.minutes = bits;
				break;
			case CRON_HOUR:
				s.hours = (uint32) bits;
				break;
			case CRON_DOM:
				s.days = (uint32) bits;
				s.dom_restricted = restricted;
				break;
			case CRON_MONTH:
				s.months = (uint16) bits;
				break;
			case CRON_DOW:
				s.weekdays = (uint8) bits;
				s.dow_restricted = restricted;
				break;
		}
	}
	*result = s;
	return true;
}

/*
 * The parser proper.  "detail" (may be NULL) receives a sentence explaining
 * the syntax that was expected, for CronParseOrError's errdetail.
 *
 * Longer than most functions here: it splits the text into words once and
 * then tells the forms apart (@-names, intervals, 5- or 6-field cron), each
 * a short branch with its own error sentence; split into helpers, the
 * words and the error buffer would travel through every one of them.
 */
static bool
cron_parse(const char *text, CronSchedule *result, char *errbuf,
		   size_t errlen, const char **detail)
{
	char		buf[CRON_MAX_LENGTH + 1];
	char	   *tok[CRON_MAX_TOKENS];
	int			ntok = 0;
	size_t		len;
	char	   *p;
	const char *dummy;

	if (detail == NULL)
		detail = &dummy;
	*detail = cron_general_detail;

	if (text == NULL)
	{
		snprintf(errbuf, errlen, "schedule is null");
		return false;
	}
	len = strnlen(text, CRON_MAX_LENGTH + 1);
	if (len > CRON_MAX_LENGTH)
	{
		snprintf(errbuf, errlen, "schedule is too long (%zu bytes, at most %d)",
				 strlen(text), CRON_MAX_LENGTH);
		return false;
	}
	memcpy(buf, text, len + 1);

	/* split into words; more than CRON_MAX_TOKENS is wrong whatever it is */
	p = buf;
	for (;;)
	{
		while (cron_is_space(*p))
			p++;
		if (*p == '\0')
			break;
		if (ntok == CRON_MAX_TOKENS)
		{
			ntok++;
			break;
		}
		tok[ntok++] = p;
		while (*p && !cron_is_space(*p))
			p++;
		if (*p)
			*p++ = '\0';
	}

	if (ntok == 0)
	{
		snprintf(errbuf, errlen, "empty schedule");
		return false;
	}

	if (tok[0][0] == '@')
	{
		int			m;

		for (m = 0; m < lengthof(cron_macros); m++)
		{
			if (cron_word_eq(tok[0], cron_macros[m].name))
			{
				if (ntok != 1)
				{
					snprintf(errbuf, errlen,
							 "unexpected \"%s\" after macro \"%s\" in \"%s\"",
							 ntok > CRON_MAX_TOKENS ? "..." : tok[1], tok[0],
							 text);
					return false;
				}
				return cron_parse(cron_macros[m].expansion, result, errbuf,
								  errlen, NULL);
			}
		}
		snprintf(errbuf, errlen, "unknown macro \"%s\" in \"%s\"", tok[0], text);
		return false;
	}

	/* "every ..." or "<number> <word>" is an interval */
	if (cron_word_eq(tok[0], "every") ||
		(ntok == 2 && cron_parse_number(tok[0], strlen(tok[0])) >= 0 &&
		 ((tok[1][0] | 0x20) >= 'a' && (tok[1][0] | 0x20) <= 'z')))
		return cron_parse_interval(text, tok, ntok, result, errbuf, errlen,
								   detail);

	if (ntok != 5 && ntok != 6)
	{
		if (ntok > CRON_MAX_TOKENS)
			snprintf(errbuf, errlen,
					 "wrong number of fields (more than %d) in \"%s\"",
					 CRON_MAX_TOKENS, text);
		else
			snprintf(errbuf, errlen,
					 "wrong number of fields (%d) in \"%s\"", ntok, text);
		return false;
	}

	return cron_parse_fields(text, tok, ntok, result, errbuf, errlen, detail);
}

bool
CronParse(const char *text, CronSchedule *result, char *errbuf, size_t errlen)
{
	return cron_parse(text, result, errbuf, errlen, NULL);
}

void
CronParseOrError(const char *text, CronSchedule *result)
{
	/*
	 * Room for the offending token and the whole schedule, each at most
	 * CRON_MAX_LENGTH bytes, so a message is never cut inside a character.
	 */
	char		errbuf[2 * CRON_MAX_LENGTH + 256];
	const char *detail;

	if (!cron_parse(text, result, errbuf, sizeof(errbuf), &detail))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", errbuf),
				 errdetail("%s", detail)));
}

pg_tz *
CronLookupTimezone(const char *name)
{
	pg_tz	   *tz = NULL;
	size_t		len = name ? strlen(name) : 0;

	if (len > 0 && len <= TZ_STRLEN_MAX)
		tz = pg_tzset(name);
	if (tz == NULL)
	{
		/* quote an overlong name only in part, cut at a character boundary */
		int			shown = len > TZ_STRLEN_MAX ?
		pg_mbcliplen(name, (int) Min(len, TZ_STRLEN_MAX + 1), 64) : (int) len;

		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown timezone \"%.*s%s\"", shown,
						name ? name : "", len > TZ_STRLEN_MAX ? "..." : ""),
				 errdetail("A timezone is an IANA zone name such as \"Europe/Warsaw\" or \"UTC\".")));
	}
	return tz;
}

/*
 * Zone names holding a digit that are IANA zones nonetheless (the
 * database's legacy names), lower case for cron_word_eq.
 */
static const char *const cron_legacy_zones[] = {
	"est5edt", "cst6cdt", "mst7mdt", "pst8pdt", "gmt0", "gmt+0", "gmt-0",
	NULL
};

/*
 * Is "name" a UTC offset ("+05:00", "-3") or a POSIX TZ string ("UTC+5",
 * "EST5EDT,M3.2.0,M11.1.0") rather than a zone name?  IANA names hold a
 * digit only after a "/" (Etc/GMT-5) or in a few legacy names.
 */
static bool
cron_is_offset_zone(const char *name)
{
	const char *p;
	bool		digit = false;
	int			i;

	if (name[0] == '+' || name[0] == '-' || (name[0] >= '0' && name[0] <= '9'))
		return true;
	for (p = name; *p; p++)
	{
		if (*p == ',' || *p == '<' || *p == ':')
			return true;
		if (*p >= '0' && *p <= '9')
			digit = true;
	}
	if (!digit || strchr(name, '/') != NULL)
		return false;
	for (i = 0; cron_legacy_zones[i] != NULL; i++)
		if (cron_word_eq(name, cron_legacy_zones[i]))
			return false;
	return true;
}

pg_tz *
CronLookupUserTimezone(const char *name)
{
	/* an overlong name is refused as unknown, quoted in part, below */
	if (name != NULL && strlen(name) <= TZ_STRLEN_MAX &&
		cron_is_offset_zone(name))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("timezone \"%s\" is a UTC offset or POSIX rule, not a zone name",
						name),
				 errdetail("PostgreSQL reads offsets with the POSIX sign, west of Greenwich positive: \"+05:00\" and \"UTC+5\" mean five hours behind UTC."),
				 errhint("Use an IANA zone name such as \"Asia/Karachi\", or \"Etc/GMT-5\" for a fixed offset five hours ahead of UTC.")));
	return CronLookupTimezone(name);
}

/* ----------------------------------------------------------------
 * Calendar arithmetic on wall-clock seconds
 *
 * A wall time is held as seconds since 1970-01-01 00:00:00 of the local
 * calendar, as if the zone were UTC: plain integers, so stepping through
 * the calendar needs no timezone lookups at all.
 * ----------------------------------------------------------------
 */

static int64
cron_floor_div(int64 a, int64 b)
{
	int64		q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant) */
static int64
cron_days_from_civil(int64 y, int m, int d)
{
	int64		era;
	int64		yoe,
				doy,
				doe;

	y -= m <= 2;
	era = cron_floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
cron_civil_from_days(int64 z, int64 *y, int *m, int *d)
{
	int64		era,
				doe,
				yoe,
				doy,
				mp;

	z += 719468;
	era = cron_floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int) (doy - (153 * mp + 2) / 5 + 1);
	*m = (int) (mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool
cron_is_leap(int64 y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
cron_days_in_month(int64 y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return (m == 2 && cron_is_leap(y)) ? 29 : dim[m - 1];
}

/* Lowest set bit >= from and <= to, or -1. */
static int
cron_next_bit(uint64 bits, int from, int to)
{
	uint64		rest;

	if (from > to)
		return -1;
	rest = bits >> from;
	if (rest == 0)
		return -1;
	from += pg_rightmost_one_pos64(rest);
	return from <= to ? from : -1;
}

static bool
cron_day_matches(const CronSchedule *s, int64 y, int m, int d)
{
	int64		dn = cron_days_from_civil(y, m, d);

	/* 1970-01-01 was a Thursday */
	int			wday = (int) ((dn % 7 + 7 + 4) % 7);
	bool		dom_ok = (s->days & (((uint32) 1) << d)) != 0 ||
	(s->last_day && d == cron_days_in_month(y, m));
	bool		dow_ok = (s->weekdays & (1 << wday)) != 0;

	if (s->day_period > 0 &&
		(dn - s->day_anchor) - cron_floor_div(dn - s->day_anchor,
											  s->day_period) * s->day_period != 0)
		return false;

	/* Vixie cron: when both are restricted either one will do */
	if (s->dom_restricted && s->dow_restricted)
		return dom_ok || dow_ok;
	return dom_ok && dow_ok;
}

/*
 * Can the day-of-month field ever match in the allowed months?  Only asked
 * when the day-of-month alone decides (see cron_day_matches), to answer
 * "0 0 30 2 *" at once instead of after a 400-year search.
 */
static bool
cron_days_possible(const CronSchedule *s)
{
	int			m;

	/* every weekday occurs in every month */
	if (s->dom_restricted && s->dow_restricted)
		return true;
	if (s->last_day)
		return s->months != 0;
	for (m = 1; m <= 12; m++)
	{
		/* February counts its leap day */
		int			dim = (m == 2) ? 29 : cron_days_in_month(2001, m);

		if ((s->months & (1 << m)) &&
			(s->days & ((((uint32) 2) << dim) - 2)) != 0)
			return true;
	}
	return false;
}

/*
 * The first matching wall time >= "from", or false if none before the end
 * of year "last_year".  Each step jumps to the next candidate for the first
 * field that does not match, resetting the smaller fields.
 */
static bool
cron_next_wall(const CronSchedule *s, int64 from, int64 last_year,
			   int64 *result)
{
	int64		days = cron_floor_div(from, SECS_PER_DAY);
	int			secs = (int) (from - days * SECS_PER_DAY);
	int64		y;
	int			mo,
				d,
				h = secs / 3600,
				mi = (secs / 60) % 60,
				sec = secs % 60;
	int			n;

	cron_civil_from_days(days, &y, &mo, &d);

	for (;;)
	{
		if (y > last_year)
			return false;

		if (!(s->months & (1 << mo)))
		{
			n = cron_next_bit(s->months, mo + 1, 12);
			if (n < 0)
			{
				y++;
				n = cron_next_bit(s->months, 1, 12);
			}
			mo = n;
			d = 1;
			h = mi = sec = 0;
			continue;
		}
		if (!cron_day_matches(s, y, mo, d))
			goto next_day;

		n = cron_next_bit(s->hours, h, 23);
		if (n < 0)
			goto next_day;
		if (n != h)
		{
			h = n;
			mi = sec = 0;
		}
		n = cron_next_bit(s->minutes, mi, 59);
		if (n < 0)
			goto next_hour;
		if (n != mi)
		{
			mi = n;
			sec = 0;
		}
		n = cron_next_bit(s->seconds, sec, 59);
		if (n < 0)
			goto next_minute;
		sec = n;

		*result = cron_days_from_civil(y, mo, d) * SECS_PER_DAY +
			h * 3600 + mi * 60 + sec;
		return true;

next_minute:
		sec = 0;
		if (++mi < 60)
			continue;
next_hour:
		mi = sec = 0;
		if (++h < 24)
			continue;
next_day:
		h = mi = sec = 0;
		if (++d <= cron_days_in_month(y, mo))
			continue;
		d = 1;
		if (++mo > 12)
		{
			mo = 1;
			y++;
		}
	}
}

/* ----------------------------------------------------------------
 * Wall time <-> instant
 * ----------------------------------------------------------------
 */

/* UTC offset (seconds east) in force at Unix time t */
static long
cron_gmtoff(pg_time_t t, pg_tz *tz)
{
	struct pg_tm *tm;

	if (tz == NULL)
		return 0;
	tm = pg_localtime(&t, tz);
	return tm ? tm->tm_gmtoff : 0;
}

/*
 * The first instant strictly after t at which the zone's offset (or DST
 * flag) changes, from the zone's own transition list; PG_INT64_MAX if none
 * ever does.
 */
static pg_time_t
cron_next_transition(pg_time_t t, pg_tz *tz)
{
	long		before_off,
				after_off;
	int			before_dst,
				after_dst;
	pg_time_t	boundary = 0;
	pg_time_t	t1 = t + 1;
	int			r;

	if (tz == NULL)
		return PG_INT64_MAX;
	r = pg_next_dst_boundary(&t, &before_off, &before_dst, &boundary,
							 &after_off, &after_dst, tz);

	/*
	 * Exactly at the last listed transition the library answers "none"
	 * without consulting the zone's rule for the years beyond; a second later
	 * it does.
	 */
	if (r == 0)
		r = pg_next_dst_boundary(&t1, &before_off, &before_dst, &boundary,
								 &after_off, &after_dst, tz);
	if (r != 1 || boundary <= t)
		return PG_INT64_MAX;
	return boundary;
}

/*
 * The latest wall time the clock showed before instant t: that of t - 1,
 * unless the clock was turned back shortly before t and had shown later
 * ones.  No turn-back in the zone data exceeds a day, so the transitions of
 * the two days before t are enough.
 */
static int64
cron_high_water(pg_time_t t, pg_tz *tz)
{
	int64		hw = (t - 1) + cron_gmtoff(t - 1, tz);
	pg_time_t	p = t - 2 * SECS_PER_DAY;

	for (;;)
	{
		pg_time_t	b = cron_next_transition(p, tz);

		if (b >= t)
			break;
		hw = Max(hw, (b - 1) + cron_gmtoff(b - 1, tz));
		p = b;
	}
	return hw;
}

static bool
cron_to_timestamptz(int64 unix_secs, TimestampTz *result)
{
	int64		pg_secs = unix_secs - CRON_EPOCH_DIFF;

	if (pg_secs >= END_TIMESTAMP / USECS_PER_SEC ||
		pg_secs < MIN_TIMESTAMP / USECS_PER_SEC)
		return false;
	*result = pg_secs * USECS_PER_SEC;
	return true;
}

/*
 * Across DST changes, the rule of Vixie cron and cronie (crontab(5)):
 *
 * - A schedule whose seconds, minute or hour field begins with "*"
 *   (real_time) follows real time: it fires at every instant whose wall
 *   time matches, so twice in a repeated hour and never in a skipped one.
 * - Any other schedule fires once per matching wall time: at the first
 *   instant the clock shows it, or, for a wall time the clock jumps over,
 *   at the first instant after the jump.  In other words it fires at
 *   instant t for the matching wall times above every wall time shown
 *   before t (the "high water") and up to t's own.
 *
 * The search walks the zone's offset periods from "after" on: within one
 * period wall time and real time advance together, so the first matching
 * wall time from the period's lower bound, shifted by the period's offset,
 * is the answer if it falls before the period ends.
 */
bool
CronNextFire(const CronSchedule *sched, TimestampTz after, pg_tz *tz,
			 TimestampTz *result)
{
	/* ticks are whole seconds; the first candidate strictly after "after" */
	int64		start;
	int64		last_year;
	int64		y;
	int			m,
				d;
	pg_time_t	cur;
	pg_time_t	t;
	int64		high_water = 0;
	int64		cached_from = 0;
	int64		cached_wall = -1;
	bool		cached = false;

	if (TIMESTAMP_NOT_FINITE(after))
		return false;
	start = cron_floor_div(after, USECS_PER_SEC) + 1 + CRON_EPOCH_DIFF;

	if (sched->is_interval && sched->day_period == 0)
	{
		int64		period = sched->interval_usecs / USECS_PER_SEC;

		if (period < 1)
			return false;
		return cron_to_timestamptz(-cron_floor_div(-start, period) * period,
								   result);
	}

	if (!cron_days_possible(sched) || sched->months == 0 ||
		sched->hours == 0 || sched->minutes == 0 || sched->seconds == 0)
		return false;

	cron_civil_from_days(cron_floor_div(start + cron_gmtoff(start, tz),
										SECS_PER_DAY), &y, &m, &d);
	last_year = y + CRON_SEARCH_YEARS;
	if (!sched->real_time)
		high_water = cron_high_water(start, tz);

	for (cur = start;;)
	{
		long		off = cron_gmtoff(cur, tz);
		pg_time_t	end = cron_next_transition(cur, tz);
		int64		from = sched->real_time ? cur + off : high_water + 1;
		int64		wall;

		/* no match in [cached_from, cached_wall): no new search needed */
		if (cached && from >= cached_from && from <= cached_wall)
			wall = cached_wall;
		else
		{
			if (!cron_next_wall(sched, from, last_year, &wall))
				return false;
			cached = true;
			cached_from = from;
			cached_wall = wall;
		}

		/* a wall time jumped over fires at the jump */
		t = Max(wall - off, cur);
		if (t < end)
			break;
		if (!sched->real_time)
			high_water = Max(high_water, (end - 1) + off);
		cur = end;
	}
	return cron_to_timestamptz(t, result);
}
