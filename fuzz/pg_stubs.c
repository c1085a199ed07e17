/*-------------------------------------------------------------------------
 *
 * pg_stubs.c
 *	  Stand-ins for the few server symbols src/cron.c and src/dag.c use, so
 *	  that those files can be compiled unmodified into libFuzzer harnesses
 *	  that run without a server.
 *
 * ereport: an ERROR nobody expects aborts (a crash for the fuzzer); one a
 * harness expects longjmps back to it with the message kept.  Anything below
 * ERROR is ignored.  palloc is malloc, so AddressSanitizer sees every chunk.
 *
 * Timezones: PostgreSQL's timezone library lives in the server binary and
 * its sources are not installed, so pg_tzset/pg_localtime are implemented
 * over glibc's localtime_r, which reads the same IANA data
 * (/usr/share/zoneinfo; Debian's PostgreSQL uses the system tzdata too).
 * Both extend past the last listed transition with the zone's POSIX rule.
 * pg_next_dst_boundary reads the transition list from the zone's TZif file
 * and, past its end, finds the POSIX rule's transitions by probing
 * localtime_r a day at a time (rule transitions are months apart).
 * Differences in corner cases (years before 1900 or past 2037 in zones
 * whose data ends early) are not dagsched's concern; the SQL property test
 * t/060_fuzz.pl covers the real library inside the server.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  fuzz/pg_stubs.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mb/pg_wchar.h"
#include "pgtime.h"
#include "utils/memutils.h"

#include "pg_stubs.h"

sigjmp_buf *fuzz_error_jmp = NULL;
char		fuzz_error_msg[4096];
int			fuzz_error_code;
long		fuzz_palloc_live = 0;

static int	stub_elevel;

/* ---- elog.c ---- */

bool
errstart(int elevel, const char *domain)
{
	stub_elevel = elevel;
	if (elevel < ERROR)
		return false;
	fuzz_error_msg[0] = '\0';
	fuzz_error_code = 0;
	return true;
}

bool
errstart_cold(int elevel, const char *domain)
{
	return errstart(elevel, domain);
}

void
errfinish(const char *filename, int lineno, const char *funcname)
{
	if (stub_elevel >= ERROR)
	{
		if (fuzz_error_jmp != NULL)
			siglongjmp(*fuzz_error_jmp, 1);
		fprintf(stderr, "unexpected ERROR at %s:%d (%s): %s\n",
				filename, lineno, funcname ? funcname : "?", fuzz_error_msg);
		abort();
	}
}

int
errcode(int sqlerrcode)
{
	fuzz_error_code = sqlerrcode;
	return 0;
}

static void
stub_format(char *buf, size_t len, const char *fmt, va_list ap)
{
	vsnprintf(buf, len, fmt, ap);
}

int
errmsg(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	stub_format(fuzz_error_msg, sizeof(fuzz_error_msg), fmt, ap);
	va_end(ap);
	return 0;
}

int
errmsg_internal(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	stub_format(fuzz_error_msg, sizeof(fuzz_error_msg), fmt, ap);
	va_end(ap);
	return 0;
}

int
errdetail(const char *fmt,...)
{
	char		buf[4096];
	va_list		ap;

	/* formatted anyway, so that bad arguments show up under ASan */
	va_start(ap, fmt);
	stub_format(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return 0;
}

int
errhint(const char *fmt,...)
{
	char		buf[4096];
	va_list		ap;

	va_start(ap, fmt);
	stub_format(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return 0;
}

/* ---- mcxt.c ---- */

void *
palloc(Size size)
{
	void	   *p;

	if (!AllocSizeIsValid(size))
	{
		fprintf(stderr, "invalid memory alloc request size %zu\n", size);
		abort();
	}
	p = malloc(size ? size : 1);
	if (p == NULL)
		abort();
	fuzz_palloc_live++;
	return p;
}

void *
palloc0(Size size)
{
	void	   *p = palloc(size);

	memset(p, 0, size);
	return p;
}

void
pfree(void *pointer)
{
	fuzz_palloc_live--;
	free(pointer);
}

/* ---- src/port ---- */

int
pg_snprintf(char *str, size_t count, const char *fmt,...)
{
	va_list		ap;
	int			r;

	va_start(ap, fmt);
	r = vsnprintf(str, count, fmt, ap);
	va_end(ap);
	return r;
}

#ifndef HAVE_STRLCPY
size_t
strlcpy(char *dst, const char *src, size_t siz)
{
	size_t		len = strlen(src);

	if (siz > 0)
	{
		size_t		n = len < siz - 1 ? len : siz - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}
#endif

/* UTF-8 only: the longest prefix of at most "limit" bytes of whole chars */
int
pg_mbcliplen(const char *mbstr, int len, int limit)
{
	int			clen = 0;

	while (clen < len && mbstr[clen])
	{
		unsigned char c = (unsigned char) mbstr[clen];
		int			l = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;

		if (clen + l > limit || clen + l > len)
			break;
		clen += l;
	}
	return clen;
}

/* ---- timezone library, over glibc ---- */

struct pg_tz
{
	char		TZname[TZ_STRLEN_MAX + 1];
	bool		loaded;			/* trans/ntrans read from the TZif file */
	bool		rule_dst;		/* the POSIX rule after the list has DST */
	int			ntrans;
	int64	   *trans;			/* transition instants, ascending */
};

#define STUB_MAX_ZONES 64

static struct pg_tz stub_zones[STUB_MAX_ZONES];
static int	stub_nzones;
static const pg_tz *stub_current;

pg_tz *
pg_tzset(const char *tzname)
{
	char		path[TZ_STRLEN_MAX + 64];
	int			i;
	FILE	   *f;

	if (strlen(tzname) > TZ_STRLEN_MAX || strstr(tzname, "..") ||
		tzname[0] == '/')
		return NULL;
	for (i = 0; i < stub_nzones; i++)
		if (strcmp(stub_zones[i].TZname, tzname) == 0)
			return &stub_zones[i];
	/* glibc silently falls back to UTC for unknown names: check first */
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tzname);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	fclose(f);
	if (stub_nzones == STUB_MAX_ZONES)
		return NULL;
	strcpy(stub_zones[stub_nzones].TZname, tzname);
	return &stub_zones[stub_nzones++];
}

struct pg_tm *
pg_localtime(const pg_time_t *timep, const pg_tz *tz)
{
	static struct pg_tm result;
	struct tm	tm;
	time_t		t = (time_t) *timep;

	if (tz != stub_current)
	{
		char		env[TZ_STRLEN_MAX + 2];

		snprintf(env, sizeof(env), ":%s", tz->TZname);
		setenv("TZ", env, 1);
		tzset();
		stub_current = tz;
	}
	if (localtime_r(&t, &tm) == NULL)
		return NULL;
	result.tm_sec = tm.tm_sec;
	result.tm_min = tm.tm_min;
	result.tm_hour = tm.tm_hour;
	result.tm_mday = tm.tm_mday;
	result.tm_mon = tm.tm_mon;
	result.tm_year = tm.tm_year;
	result.tm_wday = tm.tm_wday;
	result.tm_yday = tm.tm_yday;
	result.tm_isdst = tm.tm_isdst;
	result.tm_gmtoff = tm.tm_gmtoff;
	result.tm_zone = tm.tm_zone;
	return &result;
}

/* ---- pg_next_dst_boundary, from the TZif file and localtime_r ---- */

static int64
stub_be(const unsigned char *p, int n)
{
	uint64		v = 0;
	int			i;

	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	/* sign-extend 4-byte values */
	if (n == 4)
		return (int32) v;
	return (int64) v;
}

/* the 64-bit transition list of a version 2+ TZif file, if any */
static void
stub_load_transitions(pg_tz *tz)
{
	char		path[TZ_STRLEN_MAX + 64];
	unsigned char *buf;
	long		len;
	FILE	   *f;
	int64		cnt[6];
	long		v1size;
	const unsigned char *h2;
	int			i;

	tz->loaded = true;
	snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz->TZname);
	f = fopen(path, "rb");
	if (f == NULL)
		return;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(len > 0 ? len : 1);
	if (len < 44 || fread(buf, 1, len, f) != (size_t) len ||
		memcmp(buf, "TZif", 4) != 0 || buf[4] < '2')
	{
		free(buf);
		fclose(f);
		return;
	}
	fclose(f);

	/* the footer "\n<POSIX TZ>\n": rules for DST are written after a ',' */
	{
		long		nl = len - 2;

		while (nl > 0 && buf[nl] != '\n')
			nl--;
		tz->rule_dst = buf[len - 1] == '\n' &&
			memchr(buf + nl, ',', len - nl) != NULL;
	}
	/* isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
	for (i = 0; i < 6; i++)
		cnt[i] = stub_be(buf + 20 + 4 * i, 4);
	v1size = cnt[3] * 5 + cnt[4] * 6 + cnt[5] + cnt[2] * 8 + cnt[1] + cnt[0];
	h2 = buf + 44 + v1size;
	if (44 + v1size + 44 > len || memcmp(h2, "TZif", 4) != 0)
	{
		free(buf);
		return;
	}
	tz->ntrans = (int) stub_be(h2 + 20 + 4 * 3, 4);
	if (44 + v1size + 44 + 8L * tz->ntrans > len)
	{
		tz->ntrans = 0;
		free(buf);
		return;
	}
	tz->trans = malloc(sizeof(int64) * (tz->ntrans > 0 ? tz->ntrans : 1));
	for (i = 0; i < tz->ntrans; i++)
		tz->trans[i] = stub_be(h2 + 44 + 8 * i, 8);
	free(buf);
}

static bool
stub_same_type(pg_time_t a, pg_time_t b, const pg_tz *tz)
{
	struct pg_tm *tm = pg_localtime(&a, tz);
	long		off = tm ? tm->tm_gmtoff : 0;
	int			dst = tm ? tm->tm_isdst : 0;

	tm = pg_localtime(&b, tz);
	return tm && tm->tm_gmtoff == off && tm->tm_isdst == dst;
}

int
pg_next_dst_boundary(const pg_time_t *timep, long int *before_gmtoff,
					 int *before_isdst, pg_time_t *boundary,
					 long int *after_gmtoff, int *after_isdst,
					 const pg_tz *ctz)
{
	pg_tz	   *tz = (pg_tz *) ctz;
	pg_time_t	t = *timep;
	pg_time_t	b = 0;
	bool		found = false;
	struct pg_tm *tm;

	if (!tz->loaded)
		stub_load_transitions(tz);
	if (tz->ntrans > 0 && t < tz->trans[tz->ntrans - 1])
	{
		int			lo = 0,
					hi = tz->ntrans - 1;

		/* the first transition > t */
		while (lo < hi)
		{
			int			mid = (lo + hi) / 2;

			if (tz->trans[mid] > t)
				hi = mid;
			else
				lo = mid + 1;
		}
		b = tz->trans[lo];
		found = true;
	}
	else if (tz->rule_dst)
	{
		/* past the list: the POSIX rule, probed a day at a time */
		pg_time_t	p = t;
		int			day;

		for (day = 0; day < 800 && !found; day++, p += 86400)
		{
			if (!stub_same_type(p, p + 86400, tz))
			{
				pg_time_t	lo = p,
							hi = p + 86400;

				while (hi - lo > 1)
				{
					pg_time_t	mid = lo + (hi - lo) / 2;

					if (stub_same_type(lo, mid, tz))
						lo = mid;
					else
						hi = mid;
				}
				b = hi;
				found = true;
			}
		}
	}

	tm = pg_localtime(&t, tz);
	*before_gmtoff = tm ? tm->tm_gmtoff : 0;
	*before_isdst = tm ? tm->tm_isdst : 0;
	if (!found)
		return 0;
	*boundary = b;
	tm = pg_localtime(&b, tz);
	*after_gmtoff = tm ? tm->tm_gmtoff : 0;
	*after_isdst = tm ? tm->tm_isdst : 0;
	return 1;
}
