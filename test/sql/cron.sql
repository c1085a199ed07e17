--
-- Schedules: syntax, calendar edge cases, DST, errors of dagsched.next_fire()
--
-- quiet: another test may have created the extension already
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dagsched;
SET timezone = 'UTC';

-- Every syntax form, from Thursday 2026-01-15 10:20:30 UTC
SELECT s AS schedule, dagsched.next_fire(s, '2026-01-15 10:20:30+00') AS next
FROM (VALUES
	('* * * * *'),
	('*/15 * * * *'),
	('7 * * * *'),
	('0,30 * * * *'),
	('10-25 * * * *'),
	('1-30/5 * * * *'),
	('5/10 * * * *'),
	('0 9-17 * * *'),
	('0 0 * * *'),
	('0 12 1 * *'),
	('0 0 1 jan *'),
	('0 0 1 JAN-Mar/2 *'),
	('0 0 1 2,sep *'),
	('0 0 * * mon'),
	('0 0 * * SUN'),
	('0 0 * * 0'),
	('0 0 * * 7'),
	('0 0 * * mon-fri'),
	('0 0 * * fri-sun'),
	('0 0 * * 5-7'),
	('0 0 * * */3'),
	(E' \t*/15   *  *\t* *  ')
) AS v(s);

-- Macros, case-insensitive
SELECT s AS schedule, dagsched.next_fire(s, '2026-01-15 10:20:30+00') AS next
FROM (VALUES ('@yearly'), ('@annually'), ('@monthly'), ('@weekly'),
			 ('@daily'), ('@midnight'), ('@hourly'), ('@DAILY')) AS v(s);

-- Six fields: a leading seconds field
SELECT s AS schedule, dagsched.next_fire(s, '2026-01-15 10:20:30+00') AS next
FROM (VALUES ('30 * * * * *'), ('*/10 * * * * *'), ('0 0 12 * * *'),
			 ('15,45 30 10 * * *'), ('0 * * * * *')) AS v(s);

-- Ticks are strictly after "after"; fractions of a second count
SELECT a AS after, dagsched.next_fire('* * * * *', a) AS next
FROM (VALUES ('2026-01-15 10:20:59.999999+00'::timestamptz),
			 ('2026-01-15 10:21:00+00'), ('2026-01-15 10:21:00.000001+00')) AS v(a);

-- L: the last day of the month, alone or in a list
SELECT s AS schedule, a AS after, dagsched.next_fire(s, a) AS next
FROM (VALUES ('0 0 L * *', '2026-01-15 10:20:30+00'::timestamptz),
			 ('0 0 l * *', '2026-01-31 00:00:00+00'),
			 ('0 0 L 2 *', '2026-01-15 10:20:30+00'),
			 ('0 0 L 2 *', '2028-01-01 00:00:00+00'),
			 ('0 0 1,L * *', '2026-01-15 10:20:30+00'),
			 ('0 0 1,L * *', '2026-01-31 00:00:00+00'),
			 ('0 0 L 4 *', '2026-01-15 10:20:30+00')) AS v(s, a);

-- Leap years: 2000 is one, 2100 is not
SELECT s AS schedule, a AS after, dagsched.next_fire(s, a) AS next
FROM (VALUES ('0 0 29 2 *', '2026-01-15 10:20:30+00'::timestamptz),
			 ('0 0 29 2 *', '2000-01-01 00:00:00+00'),
			 ('0 0 29 2 *', '2096-03-01 00:00:00+00'),
			 ('0 0 29 2 *', '2028-02-29 00:00:00+00')) AS v(s, a);

-- Month ends, and schedules that never fire (NULL, quickly)
SELECT s AS schedule, a AS after, dagsched.next_fire(s, a) AS next
FROM (VALUES ('0 0 31 * *', '2026-01-31 00:00:00+00'::timestamptz),
			 ('0 0 31 */2 *', '2026-01-15 10:20:30+00'),
			 ('0 0 30 * *', '2026-01-30 00:00:00+00'),
			 ('0 0 30 2 *', '2026-01-15 10:20:30+00'),
			 ('0 0 31 4,6 *', '2026-01-15 10:20:30+00'),
			 ('0 0 31 2,4,6,9,11 *', '2026-01-15 10:20:30+00')) AS v(s, a);

-- Year rollover
SELECT s AS schedule, a AS after, dagsched.next_fire(s, a) AS next
FROM (VALUES ('59 23 31 12 *', '2026-12-31 23:59:00+00'::timestamptz),
			 ('0 0 1 1 *', '2026-12-31 23:59:59.999+00'),
			 ('*/30 * * * * *', '2026-12-31 23:59:59.5+00'),
			 ('0 0 * * *', '2026-12-31 12:00:00+00')) AS v(s, a);

-- Day-of-month and day-of-week: when both are restricted either one will
-- do (Vixie cron); a field starting with "*" does not restrict, so
-- "*/2 ... fri" means odd days that are Fridays.
SELECT s AS schedule, dagsched.next_fire(s, '2026-01-15 10:20:30+00') AS next
FROM (VALUES ('0 0 13 * fri'), ('0 0 13 * *'), ('0 0 * * fri'),
			 ('0 0 */2 * fri'), ('0 0 1 * mon'), ('0 0 16 * mon'),
			 ('0 0 L * sat')) AS v(s);

-- Plain intervals: seconds, minutes and hours tick at multiples of the
-- period since the Unix epoch, in any zone; days and weeks at local
-- midnight (every 1 day in Asia/Kolkata: 18:30 UTC), weeks on Mondays
SELECT s AS schedule, z AS zone,
	   dagsched.next_fire(s, '2026-01-15 10:20:30+00', z) AS next
FROM (VALUES ('every 15 minutes', 'UTC'), ('every 2 hours', 'UTC'),
			 ('30 seconds', 'UTC'), ('every minute', 'UTC'),
			 ('every 1 day', 'UTC'), ('every 1 day', 'Asia/Kolkata'),
			 ('every 7 seconds', 'UTC'), ('Every 90 Minutes', 'UTC'),
			 ('every week', 'UTC'), ('3 days', 'America/New_York'),
			 ('every 1 hour', 'Australia/Lord_Howe'), ('45 secs', 'UTC'),
			 ('every 366 days', 'UTC')) AS v(s, z);

-- Zones without DST changes nearby
SELECT s AS schedule, z AS zone,
	   dagsched.next_fire(s, '2026-01-15 10:20:30+00', z) AS next
FROM (VALUES ('0 9 * * *', 'Europe/Warsaw'), ('0 9 * * *', 'Asia/Kolkata'),
			 ('0 9 * * *', 'America/New_York'), ('0 9 * * *', 'utc'),
			 ('0 0 1 * *', 'Australia/Lord_Howe')) AS v(s, z);

-- America/New_York, spring forward: 2026-03-08 02:00 EST (07:00 UTC)
-- becomes 03:00 EDT.  Fixed wall times in the gap fire once, at the jump;
-- a schedule with "*" in its minute or hour field (*/15 2, 0 *) follows
-- real time and has no tick in the gap.
SELECT s AS schedule, a AS after,
	   dagsched.next_fire(s, a, 'America/New_York') AS next
FROM (VALUES ('30 2 * * *', '2026-03-07 12:00:00+00'::timestamptz),
			 ('30 2 * * *', '2026-03-08 06:59:59.5+00'),
			 ('30 2 * * *', '2026-03-08 07:00:00+00'),
			 ('0 2 * * *', '2026-03-07 12:00:00+00'),
			 ('*/15 2 * * *', '2026-03-07 12:00:00+00'),
			 ('*/15 2 * * *', '2026-03-08 07:00:00+00'),
			 ('0 3 * * *', '2026-03-07 12:00:00+00'),
			 ('30 1 * * *', '2026-03-07 12:00:00+00'),
			 ('0 * * * *', '2026-03-08 06:30:00+00'),
			 ('0 * * * *', '2026-03-08 07:00:00+00'),
			 ('0 0 2 * * *', '2026-03-07 12:00:00+00')) AS v(s, a);

-- America/New_York, fall back: 2026-11-01 02:00 EDT (06:00 UTC) becomes
-- 01:00 EST.  Wall times from 01:00 to 01:59 happen twice: fixed ones
-- (30 1, 0 2) fire once, the first time; those with "*" in the minute or
-- hour field (0 *, */20 1, */10 *) fire at both occurrences.
SELECT s AS schedule, a AS after,
	   dagsched.next_fire(s, a, 'America/New_York') AS next
FROM (VALUES ('30 1 * * *', '2026-10-31 12:00:00+00'::timestamptz),
			 ('30 1 * * *', '2026-11-01 05:30:00+00'),
			 ('30 1 * * *', '2026-11-01 06:10:00+00'),
			 ('0 * * * *', '2026-11-01 04:30:00+00'),
			 ('0 * * * *', '2026-11-01 05:00:00+00'),
			 ('*/20 1 * * *', '2026-11-01 05:50:00+00'),
			 ('*/10 * * * *', '2026-11-01 06:05:00+00'),
			 ('0 2 * * *', '2026-10-31 12:00:00+00')) AS v(s, a);

-- Europe/Warsaw: 2026-03-29 02:00 CET (01:00 UTC) becomes 03:00 CEST;
-- 2026-10-25 03:00 CEST (01:00 UTC) becomes 02:00 CET.
SELECT s AS schedule, a AS after,
	   dagsched.next_fire(s, a, 'Europe/Warsaw') AS next
FROM (VALUES ('30 2 * * *', '2026-03-28 12:00:00+00'::timestamptz),
			 ('30 2 * * *', '2026-03-29 00:59:59.999+00'),
			 ('30 2 * * *', '2026-03-29 01:00:00+00'),
			 ('30 2 * * *', '2026-10-24 12:00:00+00'),
			 ('30 2 * * *', '2026-10-25 00:30:00+00'),
			 ('0 2 * * *', '2026-10-25 00:30:00+00'),
			 ('0 0 * * *', '2026-03-28 12:00:00+00')) AS v(s, a);

-- Australia/Lord_Howe moves by half an hour: 2026-10-04 02:00 (+10:30,
-- 2026-10-03 15:30 UTC) becomes 02:30 (+11); 2026-04-05 02:00 (+11,
-- 2026-04-04 15:00 UTC) becomes 01:30 (+10:30).
SELECT s AS schedule, a AS after,
	   dagsched.next_fire(s, a, 'Australia/Lord_Howe') AS next
FROM (VALUES ('15 2 * * *', '2026-10-03 00:00:00+00'::timestamptz),
			 ('45 1 * * *', '2026-04-04 00:00:00+00'),
			 ('45 1 * * *', '2026-04-04 14:45:00+00')) AS v(s, a);

-- The examples of issue 14 (Vixie cron / cronie's DST rule)
SELECT s AS schedule, z AS zone, a AS after, dagsched.next_fire(s, a, z) AS next
FROM (VALUES ('*/15 * * * *', 'America/New_York', '2026-11-01 05:45:00+00'::timestamptz),
			 ('0 * * * *', 'Europe/Warsaw', '2017-10-29 00:30:00+00'),
			 ('7 * * * *', 'Europe/London', '2025-03-30 00:07:00+00'),
			 ('30 2 * * *', 'America/New_York', '2020-03-07 08:00:00+00')) AS v(s, z, a);

-- Consecutive ticks through a DST day: each row is the tick after the one
-- before.  Real time (*/30 *, 0 *) in a repeated hour: both occurrences;
-- in a skipped hour: none.  Fixed times (30 1, 45 2): once.
WITH RECURSIVE ticks(schedule, zone, n, t) AS (
	SELECT s, z, 0, a
	FROM (VALUES ('*/30 * * * *', 'America/New_York', '2026-11-01 04:40:00+00'::timestamptz),
				 ('0 * * * *', 'Europe/Warsaw', '2026-10-24 23:10:00+00'),
				 ('*/30 * * * *', 'Europe/Warsaw', '2026-03-29 00:10:00+00'),
				 ('30 1 * * *', 'America/New_York', '2026-11-01 04:40:00+00'),
				 ('45 2 * * 0', 'Europe/Warsaw', '2026-10-24 23:10:00+00')) AS v(s, z, a)
	UNION ALL
	SELECT schedule, zone, n + 1, dagsched.next_fire(schedule, t, zone)
	FROM ticks WHERE n < 5
)
SELECT schedule, zone, n, t AS tick, to_char(t AT TIME ZONE zone, 'MM-DD HH24:MI') AS wall
FROM ticks WHERE n > 0 ORDER BY schedule, zone, n;

-- Australia/Lord_Howe moves by half an hour.  Spring forward (2026-10-03
-- 15:30 UTC, 02:00 -> 02:30): real time skips 02:00-02:29, a fixed 02:15
-- fires at the jump.  Fall back (2026-04-04 15:00 UTC, 02:00 -> 01:30):
-- real time fires 01:30-01:59 twice, fixed times once.
SELECT s AS schedule, a AS after,
	   dagsched.next_fire(s, a, 'Australia/Lord_Howe') AS next,
	   to_char(dagsched.next_fire(s, a, 'Australia/Lord_Howe') AT TIME ZONE 'Australia/Lord_Howe',
			   'MM-DD HH24:MI') AS wall
FROM (VALUES ('*/15 * * * *', '2026-10-03 15:10:00+00'::timestamptz),
			 ('0 * * * *', '2026-10-03 15:10:00+00'),
			 ('15 2 * * *', '2026-10-03 15:10:00+00'),
			 ('15 * * * *', '2026-10-03 15:10:00+00'),
			 ('*/15 * * * *', '2026-04-04 14:50:00+00'),
			 ('*/15 1 * * *', '2026-04-04 15:00:00+00'),
			 ('45 1 * * *', '2026-04-04 14:50:00+00'),
			 ('0 2 * * *', '2026-04-04 14:50:00+00')) AS v(s, a);

-- Six fields: "*" in the seconds, minute or hour field follows real time
SELECT s AS schedule, a AS after,
	   dagsched.next_fire(s, a, 'America/New_York') AS next
FROM (VALUES ('* 30 2 * * *', '2026-03-07 12:00:00+00'::timestamptz),
			 ('0 30 2 * * *', '2026-03-07 12:00:00+00'),
			 ('*/20 30 1 * * *', '2026-11-01 05:30:50+00'),
			 ('0 30 1 * * *', '2026-11-01 05:30:50+00'),
			 ('15 * 1 * * *', '2026-11-01 05:59:30+00'),
			 ('15 0 */1 * * *', '2026-11-01 05:59:30+00')) AS v(s, a);

-- More zones: Europe/London and Asia/Tehran (no DST since 2022), and
-- America/Santiago, where midnight itself is skipped (2026-09-06) or
-- never shown (2026-04-05: 00:00 -03 is already 23:00 -04): fixed times fire
-- at the jump, real time skips
SELECT s AS schedule, z AS zone, a AS after, dagsched.next_fire(s, a, z) AS next
FROM (VALUES ('30 1 * * *', 'Europe/London', '2026-03-28 12:00:00+00'::timestamptz),
			 ('*/30 1 * * *', 'Europe/London', '2026-03-28 12:00:00+00'),
			 ('30 1 * * *', 'Europe/London', '2026-10-25 00:40:00+00'),
			 ('*/30 1 * * *', 'Europe/London', '2026-10-25 00:40:00+00'),
			 ('0 0 * * *', 'America/Santiago', '2026-09-05 12:00:00+00'),
			 ('*/30 0 * * *', 'America/Santiago', '2026-09-05 12:00:00+00'),
			 ('0 0 * * *', 'America/Santiago', '2026-04-04 12:00:00+00'),
			 ('0 12 * * *', 'Asia/Tehran', '2026-03-21 00:00:00+00')) AS v(s, z, a);

-- Intervals of days and weeks at local midnight, DST-correct: every 1 day
-- in America/New_York is 05:00 UTC in winter, 04:00 UTC in summer; in
-- America/Havana midnight is skipped on 2026-03-08 (fires at the jump,
-- 01:00 CDT) and repeated on 2026-11-01 (fires the first time); weeks tick
-- on Mondays; 'every 7 days' is 'every 1 week'; hours stay since the epoch
SELECT s AS schedule, z AS zone, a AS after, dagsched.next_fire(s, a, z) AS next,
	   to_char(dagsched.next_fire(s, a, z) AT TIME ZONE z, 'Dy YYYY-MM-DD HH24:MI') AS local
FROM (VALUES ('every 1 day', 'America/New_York', '2026-03-07 12:00:00+00'::timestamptz),
			 ('every 1 day', 'America/New_York', '2026-03-08 12:00:00+00'),
			 ('every day', 'America/Havana', '2026-03-07 12:00:00+00'),
			 ('every day', 'America/Havana', '2026-10-31 12:00:00+00'),
			 ('every 1 day', 'Australia/Lord_Howe', '2026-01-15 10:20:30+00'),
			 ('every 2 days', 'Europe/Warsaw', '2026-01-15 10:20:30+00'),
			 ('every 1 week', 'America/New_York', '2026-01-15 10:20:30+00'),
			 ('every 7 days', 'America/New_York', '2026-01-15 10:20:30+00'),
			 ('every 2 weeks', 'Europe/Warsaw', '2026-01-15 10:20:30+00'),
			 ('every 2 weeks', 'Europe/Warsaw', '2026-01-19 00:00:00+01'),
			 ('every 24 hours', 'America/New_York', '2026-01-15 10:20:30+00')) AS v(s, z, a);

-- Steps: "a/n" without a range means a-max/n; a step must reach a second
-- value of its range (*/59 minutes and */23 hours are the largest)
SELECT s AS schedule, dagsched.next_fire(s, '2026-01-15 10:20:30+00') AS next
FROM (VALUES ('5/15 * * * *'), ('50/5 10 * * *'), ('*/59 * * * *'),
			 ('0 */23 * * *'), ('0 20/3 * * *'), ('0 0 */30 * *'),
			 ('0 0 1 */11 *'), ('0 0 * * */6'), ('55-59/4 * * * *')) AS v(s);
SELECT dagsched.next_fire('*/60 * * * *');
SELECT dagsched.next_fire('0 */24 * * *');
SELECT dagsched.next_fire('58/5 * * * *');
SELECT dagsched.next_fire('10-20/11 * * * *');
SELECT dagsched.next_fire('0 0 */31 * *');
SELECT dagsched.next_fire('0 0 1 */12 *');
SELECT dagsched.next_fire('0 0 * * */7');
SELECT dagsched.next_fire('*/30 */60 * * * *');

-- pg_cron's spellings: $ for the last day of the month, 'N seconds'
SELECT s AS schedule, a AS after, dagsched.next_fire(s, a) AS next
FROM (VALUES ('0 0 $ * *', '2026-02-15 10:20:30+00'::timestamptz),
			 ('0 0 $ 2 *', '2028-01-01 00:00:00+00'),
			 ('0 0 1,$ * *', '2026-01-31 00:00:00+00'),
			 ('30 seconds', '2026-01-15 10:20:30+00'),
			 ('1 second', '2026-01-15 10:20:30+00'),
			 ('59 seconds', '2026-01-15 10:20:30+00')) AS v(s, a);
SELECT dagsched.next_fire('0 0 $-1 * *');

-- Zones written as UTC offsets or POSIX rules are refused (PostgreSQL would
-- read '+05:00' as five hours west of Greenwich); IANA names with digits
-- are zone names
SELECT dagsched.next_fire('0 9 * * *', '2026-01-15 10:20:30+00', '+05:00');
SELECT dagsched.next_fire('0 9 * * *', '2026-01-15 10:20:30+00', 'UTC+5');
SELECT dagsched.next_fire('0 9 * * *', '2026-01-15 10:20:30+00', '-03');
SELECT dagsched.next_fire('0 9 * * *', '2026-01-15 10:20:30+00', '5');
SELECT dagsched.next_fire('0 9 * * *', '2026-01-15 10:20:30+00', 'EST5EDT,M3.2.0,M11.1.0');
SELECT dagsched.next_fire('0 9 * * *', '2026-01-15 10:20:30+00', '<+05>-5');
SELECT z AS zone, dagsched.next_fire('0 9 * * *', '2026-01-15 10:20:30+00', z) AS next
FROM (VALUES ('Asia/Karachi'), ('Etc/GMT-5'), ('Etc/GMT+5'), ('EST5EDT'),
			 ('pst8pdt'), ('GMT+0'), ('GMT0'), ('W-SU')) AS v(z);

-- and so are they as a DAG's timezone, at INSERT and UPDATE
INSERT INTO dagsched.dag (dag_name, schedule, timezone)
VALUES ('cron_tz_offset', '0 9 * * *', '+05:00');
INSERT INTO dagsched.dag (dag_name, schedule, timezone, paused)
VALUES ('cron_tz_ok', '0 9 1 1 *', 'Asia/Karachi', true);
UPDATE dagsched.dag SET timezone = 'UTC+5' WHERE dag_name = 'cron_tz_ok';
SELECT dag_name, timezone FROM dagsched.dag WHERE dag_name LIKE 'cron_tz%';
DELETE FROM dagsched.dag WHERE dag_name = 'cron_tz_ok';

-- The cache per call site follows changing schedules and zones
SELECT s AS schedule, z AS zone,
	   dagsched.next_fire(s, '2026-01-15 10:20:30+00', z) AS next
FROM (VALUES (1, '*/15 * * * *', 'UTC'), (2, '0 9 * * *', 'UTC'),
			 (3, '0 9 * * *', 'Asia/Kolkata'), (4, '*/15 * * * *', 'UTC'),
			 (5, '0 9 * * *', 'Asia/Kolkata')) AS v(n, s, z)
ORDER BY n;

-- NULLs, defaults and infinities
SELECT dagsched.next_fire(NULL, '2026-01-15 10:20:30+00') IS NULL AS null_schedule,
	   dagsched.next_fire('* * * * *', NULL) IS NULL AS null_after,
	   dagsched.next_fire('0 9 * * *', '2026-01-15 10:20:30+00', NULL) AS null_zone,
	   dagsched.next_fire('* * * * *') > now() AS defaults,
	   dagsched.next_fire('* * * * *', 'infinity') IS NULL AS after_infinity,
	   dagsched.next_fire('* * * * *', '-infinity') IS NULL AS after_minus_infinity,
	   dagsched.next_fire('0 0 1 1 *', '294276-06-01 00:00:00+00') IS NULL AS past_the_end,
	   dagsched.next_fire('0 0 29 2 *', '294270-01-01 00:00:00+00') AS far_leap_day;

-- Errors name the field and the token
SELECT dagsched.next_fire('0 8 * * 8');
SELECT dagsched.next_fire('* * * *');
SELECT dagsched.next_fire('* * * * * * *');
SELECT dagsched.next_fire('garbage');
SELECT dagsched.next_fire('60 * * * *');
SELECT dagsched.next_fire('0 24 * * *');
SELECT dagsched.next_fire('0 0 0 * *');
SELECT dagsched.next_fire('0 0 32 * *');
SELECT dagsched.next_fire('0 0 * 13 *');
SELECT dagsched.next_fire('0 0 * foo *');
SELECT dagsched.next_fire('60 * * * * *');
SELECT dagsched.next_fire('5-1 * * * *');
SELECT dagsched.next_fire('0 0 * * sat-mon');
SELECT dagsched.next_fire('*/0 * * * *');
SELECT dagsched.next_fire('*/4294967296 * * * *');
SELECT dagsched.next_fire('*/61 * * * *');
SELECT dagsched.next_fire('1,,2 * * * *');
SELECT dagsched.next_fire(',1 * * * *');
SELECT dagsched.next_fire('1, * * * *');
SELECT dagsched.next_fire('-1 * * * *');
SELECT dagsched.next_fire('1-2-3 * * * *');
SELECT dagsched.next_fire('*/5/2 * * * *');
SELECT dagsched.next_fire('1.5 * * * *');
SELECT dagsched.next_fire('L * * * *');
SELECT dagsched.next_fire('0 0 L-2 * *');
SELECT dagsched.next_fire('a b c d e');
SELECT dagsched.next_fire('ünïcödé * * * *');
SELECT dagsched.next_fire('0 0 * * ☃');
SELECT dagsched.next_fire('');
SELECT dagsched.next_fire(E' \t ');
SELECT dagsched.next_fire(repeat('*', 100000));
SELECT dagsched.next_fire(repeat('1,', 50000) || '1 * * * *');
SELECT dagsched.next_fire('@foo');
SELECT dagsched.next_fire('@daily 5');
SELECT dagsched.next_fire('@');
SELECT dagsched.next_fire('every 0 minutes');
SELECT dagsched.next_fire('every -5 minutes');
SELECT dagsched.next_fire('every 15');
SELECT dagsched.next_fire('every 1.5 hours');
SELECT dagsched.next_fire('every 2 fortnights');
SELECT dagsched.next_fire('every 367 days');
SELECT dagsched.next_fire('every 99999999999999999999 seconds');
SELECT dagsched.next_fire('every');
SELECT dagsched.next_fire('every 1 2 minutes');
SELECT dagsched.next_fire('* * * * *', now(), 'Mars/Olympus');
SELECT dagsched.next_fire('* * * * *', now(), '');
SELECT dagsched.next_fire('* * * * *', now(), repeat('x', 300));
