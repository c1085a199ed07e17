/*-------------------------------------------------------------------------
 *
 * cron.h
 *	  Schedule parsing and next-fire computation (pure logic, no SPI).
 *
 * A schedule is either a cron expression (5 fields, or 6 with a leading
 * seconds field, or an @macro) or a plain interval ("every 15 minutes",
 * "30 seconds").  Cron schedules are read in a timezone; intervals of
 * seconds, minutes or hours tick at fixed multiples of their length since
 * the Unix epoch, whatever the zone; intervals of days or weeks tick at
 * local midnight (weeks: Monday).
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/cron.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_CRON_H
#define DAGSCHED_CRON_H

#include "datatype/timestamp.h"
#include "pgtime.h"

/* Bit sets of allowed values per field; bit n set = value n allowed. */
typedef struct CronSchedule
{
	bool		is_interval;	/* true: fixed period, fields unused */
	int64		interval_usecs; /* period, when is_interval */
	uint64		seconds;		/* 0-59 */
	uint64		minutes;		/* 0-59 */
	uint32		hours;			/* 0-23 */
	uint32		days;			/* 1-31 */
	uint16		months;			/* 1-12 */
	uint8		weekdays;		/* 0-6, Sunday = 0 */
	bool		last_day;		/* "L" or "$" in day-of-month */
	bool		dom_restricted; /* day-of-month field was not "*" */
	bool		dow_restricted; /* day-of-week field was not "*" */
	bool		real_time;		/* a seconds, minute or hour field begins with
								 * "*": follows real time across DST */
	int32		day_period;		/* interval of whole days: ticks at local
								 * midnight every day_period days, else 0 */
	int32		day_anchor;		/* a local day (days since 1970-01-01) that
								 * ticks, when day_period > 0 */
} CronSchedule;

/*
 * Parse "text" into "result".  On failure returns false and writes a
 * message naming the field and the offending token into errbuf, e.g.
 * invalid day-of-week "8" in "0 8 * * 8".
 */
extern bool CronParse(const char *text, CronSchedule *result,
					  char *errbuf, size_t errlen);

/* Parse or ereport(ERROR) with ERRCODE_INVALID_PARAMETER_VALUE. */
extern void CronParseOrError(const char *text, CronSchedule *result);

/*
 * The first tick strictly after "after", with the schedule read in "tz".
 * Returns false when the schedule never fires (e.g. "0 0 30 2 *").
 */
extern bool CronNextFire(const CronSchedule *sched, TimestampTz after,
						 pg_tz *tz, TimestampTz *result);

/* Look up an IANA zone name, or ereport(ERROR) naming it. */
extern pg_tz *CronLookupTimezone(const char *name);

/*
 * The same for a zone a user gives now (a DAG's timezone, next_fire()):
 * numeric offsets and POSIX strings ("+05:00", "UTC+5"), which PostgreSQL
 * reads with the POSIX sign (west of Greenwich positive), are refused too.
 */
extern pg_tz *CronLookupUserTimezone(const char *name);

#endif							/* DAGSCHED_CRON_H */
