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
