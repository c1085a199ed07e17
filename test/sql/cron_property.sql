--
-- Property test of dagsched.next_fire() against a brute-force oracle.
--
-- A seeded generator builds random schedules as structured fields, renders
-- each to text and, independently, expands it to the sets of values it
-- allows, so the oracle never parses cron syntax.  The oracle walks UTC
-- instants one minute (one second for 6-field schedules) at a time over a
-- bounded window and applies the DST rule of Vixie cron / cronie on its own
-- terms:
--   * a schedule whose seconds, minute or hour field begins with "*"
--     follows real time: it fires at every instant whose wall time matches
--     (twice in a repeated hour, never in a skipped one);
--   * any other schedule fires a wall time at the first instant the clock
--     shows it, never again when a fall-back shows it a second time, and
--     wall times skipped by a spring-forward fire once, at the first
--     instant after the jump.
-- Intervals of days or weeks are fixed-time schedules at local midnight on
-- every Nth day (counted from 1970-01-01, or from Monday 1970-01-05 for
-- whole weeks); shorter intervals tick at multiples since the epoch.
-- Start times are random, half of them within hours of a DST change.  Cases
-- where neither side fires inside the window are counted as unchecked.
--
-- quiet: another test may have created the extension already
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dagsched;
SET timezone = 'UTC';

CREATE TEMP TABLE pc (
	id			int PRIMARY KEY,
	expr		text NOT NULL,
	zone		text NOT NULL,
	after		timestamptz NOT NULL,
	is_interval bool NOT NULL DEFAULT false,
	period		int,				-- seconds, intervals only
	has_sec		bool NOT NULL DEFAULT false,
	secs		int[],
	mins		int[],
	hours		int[],
	doms		int[],
	dom_l		bool NOT NULL DEFAULT false,
	months		int[],
	dows		int[],
	dom_star	bool,
	dow_star	bool,
	real_time	bool NOT NULL DEFAULT false,	-- seconds/minute/hour begins with *
	day_period	int,				-- intervals of days: every Nth local day
	day_anchor	int					-- a day (since 1970-01-01) that ticks
);

-- uniform integer in [lo, hi]
CREATE FUNCTION pg_temp.rnd(lo int, hi int) RETURNS int
LANGUAGE sql VOLATILE AS $$ SELECT lo + floor(random() * (hi - lo + 1))::int $$;

-- one value as text: sometimes a name, and a lone Sunday sometimes as 7
CREATE FUNCTION pg_temp.render(fld text, v int, alone bool DEFAULT false) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
	IF fld = 'month' AND random() < 0.3 THEN
		RETURN (ARRAY['jan','FEB','Mar','apr','may','jun','jul','Aug','sep','oct','nov','dec'])[v];
	ELSIF fld = 'dow' AND random() < 0.3 THEN
		RETURN (ARRAY['sun','MON','Tue','wed','thu','fri','sat'])[v + 1];
	ELSIF fld = 'dow' AND v = 0 AND alone AND random() < 0.4 THEN
		RETURN '7';
	END IF;
	RETURN v::text;
END $$;

-- one list item in [lo, hi] (values from [lo, top] where it starts)
CREATE FUNCTION pg_temp.gen_item(fld text, lo int, hi int, top int,
								 OUT txt text, OUT vals int[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	form int := pg_temp.rnd(0, 4);
	a int := pg_temp.rnd(lo, top);
	b int;
	n int;
BEGIN
	IF form <= 1 THEN				-- a
		txt := pg_temp.render(fld, a, true);
		vals := ARRAY[a];
	ELSIF form = 2 THEN				-- a-b
		b := pg_temp.rnd(a, hi);
		IF fld = 'dow' AND b = 6 AND random() < 0.3 THEN
			txt := pg_temp.render(fld, a) || '-7';
			vals := array(SELECT g % 7 FROM generate_series(a, 7) g);
		ELSE
			txt := pg_temp.render(fld, a) || '-' || pg_temp.render(fld, b);
			vals := array(SELECT generate_series(a, b));
		END IF;
	ELSIF form = 3 THEN				-- a-b/n, reaching at least two values
		n := pg_temp.rnd(1, greatest(1, (hi - lo + 1) / 3));
		a := least(a, hi - n);
		b := pg_temp.rnd(a + n, hi);
		txt := pg_temp.render(fld, a) || '-' || pg_temp.render(fld, b) || '/' || n;
		vals := array(SELECT generate_series(a, b, n));
	ELSE							-- a/n is a-max/n
		n := pg_temp.rnd(1, greatest(1, (hi - lo + 1) / 3));
		a := least(a, hi - n);
		txt := a::text || '/' || n;
		vals := array(SELECT generate_series(a, hi, n));
	END IF;
END $$;

-- a whole field: "*", "*/n" or a list of items; top narrows the values
CREATE FUNCTION pg_temp.gen_field(fld text, lo int, hi int, pstar float8,
								  top int, OUT txt text, OUT vals int[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	r float8 := random();
	n int;
	k int;
	it record;
BEGIN
	IF r < pstar THEN
		txt := '*';
		vals := array(SELECT generate_series(lo, hi));
	ELSIF r < pstar + (1 - pstar) * 0.25 THEN
		n := pg_temp.rnd(1, hi - lo);
		txt := '*/' || n;
		vals := array(SELECT generate_series(lo, hi, n));
	ELSE
		txt := NULL;
		vals := '{}';
		FOR k IN 1 .. pg_temp.rnd(1, 3) LOOP
			it := pg_temp.gen_item(fld, lo, hi, top);
			txt := coalesce(txt || ',', '') || it.txt;
			vals := vals || it.vals;
		END LOOP;
	END IF;
END $$;

-- DST changes, found by the hour, 2000-2040
CREATE TEMP TABLE dst AS
SELECT z AS zone, t AS at
FROM unnest(ARRAY['Europe/Warsaw', 'America/New_York', 'Australia/Lord_Howe']) z,
	 generate_series('2000-01-01 00:00+00'::timestamptz,
					 '2040-12-31 00:00+00', '1 hour') t
WHERE (t AT TIME ZONE z) - ((t - interval '1 hour') AT TIME ZONE z) <> interval '1 hour';

-- the cases
SELECT setseed(0.20260308);
DO $$
DECLARE
	zones text[] := ARRAY['UTC', 'Europe/Warsaw', 'America/New_York',
						  'Australia/Lord_Howe', 'Asia/Kolkata'];
	i int;
	c pc;
	f record;
	r float8;
	near_dst bool;
	six bool;
BEGIN
	FOR i IN 1 .. 1500 LOOP
		c := NULL;
		c.id := i;
		c.is_interval := false;
		c.has_sec := false;
		c.dom_l := false;
		c.real_time := false;
		c.zone := zones[pg_temp.rnd(1, 5)];
		near_dst := c.zone IN ('Europe/Warsaw', 'America/New_York',
							   'Australia/Lord_Howe') AND random() < 0.6;
		IF near_dst THEN
			SELECT at INTO c.after FROM dst WHERE zone = c.zone
			ORDER BY at OFFSET pg_temp.rnd(0, 81) LIMIT 1;
			-- mostly within hours of the change, sometimes a day or two
			c.after := c.after + (CASE WHEN random() < 0.6 THEN 3 * 3600 ELSE 48 * 3600 END)
				* (random() * 2 - 1) * interval '1 second';
		ELSE
			c.after := '2000-01-01 00:00+00'::timestamptz
				+ random() * interval '14600 days';
		END IF;
		-- whole seconds half of the time, microseconds otherwise
		IF random() < 0.5 THEN
			c.after := date_trunc('second', c.after);
		END IF;

		r := random();
		IF r < 0.10 THEN
			-- plain intervals
			c.is_interval := true;
			SELECT * INTO f FROM (VALUES
				('every 15 minutes', 900), ('every minute', 60),
				('30 seconds', 30), ('every 2 hours', 7200),
				('every 1 day', 86400), ('every 7 seconds', 7),
				('every 45 mins', 2700), ('90 minutes', 5400),
				('every hour', 3600), ('every 3 days', 259200),
				('every 1 week', 604800), ('every 2 weeks', 1209600),
				('every 14 days', 1209600), ('every 24 hours', 86400))
				AS v(e, p) OFFSET pg_temp.rnd(0, 13) LIMIT 1;
			c.expr := f.e;
			c.period := f.p;
			IF f.e ~ '(day|week)' THEN
				-- local midnight on every Nth day: a fixed-time schedule
				c.is_interval := false;
				c.day_period := f.p / 86400;
				c.day_anchor := CASE WHEN c.day_period % 7 = 0 THEN 4 ELSE 0 END;
				c.secs := '{0}';
				c.mins := '{0}';
				c.hours := '{0}';
				c.doms := array(SELECT generate_series(1, 31));
				c.months := array(SELECT generate_series(1, 12));
				c.dows := array(SELECT generate_series(0, 6));
				c.dom_star := true;
				c.dow_star := true;
			END IF;
			INSERT INTO pc SELECT c.*;
			CONTINUE;
		ELSIF r < 0.12 THEN
			-- macros
			SELECT * INTO f FROM (VALUES
				('@daily', '{0}', '{0}', '{}', '{}'),
				('@midnight', '{0}', '{0}', '{}', '{}'),
				('@hourly', '{0}', '{}', '{}', '{}'),
				('@weekly', '{0}', '{0}', '{}', '{0}'),
				('@monthly', '{0}', '{0}', '{1}', '{}'))
				AS v(e, mi, h, d, w) OFFSET pg_temp.rnd(0, 4) LIMIT 1;
			c.expr := f.e;
			c.secs := '{0}';
			c.mins := f.mi::int[];
			c.hours := CASE WHEN f.h = '{}' THEN array(SELECT generate_series(0, 23)) ELSE f.h::int[] END;
			c.doms := CASE WHEN f.d = '{}' THEN array(SELECT generate_series(1, 31)) ELSE f.d::int[] END;
			c.months := array(SELECT generate_series(1, 12));
			c.dows := CASE WHEN f.w = '{}' THEN array(SELECT generate_series(0, 6)) ELSE f.w::int[] END;
			c.dom_star := f.d = '{}';
			c.dow_star := f.w = '{}';
			c.real_time := f.h = '{}';		-- @hourly is "0 * * * *"
			INSERT INTO pc SELECT c.*;
			CONTINUE;
		END IF;

		six := random() < 0.15;
		c.has_sec := six;
		IF six THEN
			f := pg_temp.gen_field('sec', 0, 59, 0.3, 59);
			c.expr := f.txt || ' ';
			c.secs := f.vals;
			c.real_time := f.txt LIKE '*%';
		ELSE
			c.expr := '';
			c.secs := '{0}';
		END IF;
		f := pg_temp.gen_field('min', 0, 59, CASE WHEN six THEN 0.5 ELSE 0.2 END, 59);
		c.expr := c.expr || f.txt;
		c.mins := f.vals;
		c.real_time := c.real_time OR f.txt LIKE '*%';
		-- near a DST change, favour the hours it moves
		f := pg_temp.gen_field('hour', 0, 23, CASE WHEN six THEN 0.7 ELSE 0.3 END,
							   CASE WHEN near_dst AND random() < 0.7 THEN 3 ELSE 23 END);
		c.expr := c.expr || ' ' || f.txt;
		c.hours := f.vals;
		c.real_time := c.real_time OR f.txt LIKE '*%';
		IF random() < 0.05 THEN
			-- the last day of the month, alone or in a list
			IF random() < 0.5 THEN
				SELECT 'L' AS txt, '{}'::int[] AS vals INTO f;
			ELSE
				f := pg_temp.gen_field('dom', 1, 31, 0, 31);
				SELECT f.txt || ',L' AS txt, f.vals AS vals INTO f;
			END IF;
			c.dom_l := true;
		ELSE
			f := pg_temp.gen_field('dom', 1, 31, CASE WHEN six THEN 0.9 ELSE 0.55 END, 31);
		END IF;
		c.expr := c.expr || ' ' || f.txt;
		c.doms := f.vals;
		c.dom_star := f.txt LIKE '*%';
		f := pg_temp.gen_field('month', 1, 12, CASE WHEN six THEN 0.9 ELSE 0.75 END, 12);
		c.expr := c.expr || ' ' || f.txt;
		c.months := f.vals;
		f := pg_temp.gen_field('dow', 0, 6, CASE WHEN six THEN 0.9 ELSE 0.55 END, 6);
		c.expr := c.expr || ' ' || f.txt;
		c.dows := f.vals;
		c.dow_star := f.txt LIKE '*%';
		INSERT INTO pc SELECT c.*;
	END LOOP;
END $$;

-- does wall time w match the case's fields?
CREATE FUNCTION pg_temp.matches(c pc, w timestamp) RETURNS bool
LANGUAGE sql IMMUTABLE AS $$
SELECT extract(second FROM w)::int = ANY (c.secs)
   AND extract(minute FROM w)::int = ANY (c.mins)
   AND extract(hour FROM w)::int = ANY (c.hours)
   AND extract(month FROM w)::int = ANY (c.months)
   AND (c.day_period IS NULL
		OR ((w::date - date '1970-01-01') - c.day_anchor) % c.day_period = 0)
   AND CASE WHEN NOT c.dom_star AND NOT c.dow_star
			THEN (extract(day FROM w)::int = ANY (c.doms)
				  OR (c.dom_l AND extract(day FROM w + interval '1 day') = 1))
				 OR extract(dow FROM w)::int = ANY (c.dows)
			ELSE (extract(day FROM w)::int = ANY (c.doms)
				  OR (c.dom_l AND extract(day FROM w + interval '1 day') = 1))
				 AND extract(dow FROM w)::int = ANY (c.dows)
	   END
$$;

-- first tick after c.after found by walking instants up to c.after + horizon
CREATE FUNCTION pg_temp.oracle(c pc, horizon interval) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
	step interval;
	t0 timestamptz;
	result timestamptz;
BEGIN
	IF c.is_interval THEN
		step := CASE WHEN c.period % 60 = 0 THEN interval '1 minute' ELSE interval '1 second' END;
		SELECT t INTO result
		FROM generate_series(date_trunc('minute', c.after), c.after + horizon, step) t
		WHERE t > c.after AND extract(epoch FROM t)::bigint % c.period = 0
		LIMIT 1;
		RETURN result;
	END IF;

	step := CASE WHEN c.has_sec THEN interval '1 second' ELSE interval '1 minute' END;
	IF c.real_time THEN
		-- every instant whose wall time matches (the series is in order)
		SELECT t INTO result
		FROM generate_series(date_trunc('minute', c.after), c.after + horizon, step) t
		WHERE t > c.after AND pg_temp.matches(c, t AT TIME ZONE c.zone)
		LIMIT 1;
		RETURN result;
	END IF;

	-- start early so that wall times shown before c.after count as seen
	t0 := date_trunc('minute', c.after) - interval '3 hours';
	SELECT s.t INTO result
	FROM (SELECT g.t, g.w,
				 lag(g.w) OVER o AS pw,
				 max(g.w) OVER (o ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS seen
		  FROM (SELECT t, t AT TIME ZONE c.zone AS w
				FROM generate_series(t0, c.after + horizon, step) t) g
		  WINDOW o AS (ORDER BY g.t)) s
	WHERE s.t > c.after
	  AND s.w > s.seen
	  AND (pg_temp.matches(c, s.w)
		   OR (s.w > s.pw + step
			   AND EXISTS (SELECT 1
						   FROM generate_series(s.pw + step, s.w - step, step) x
						   WHERE pg_temp.matches(c, x))))
	ORDER BY s.t
	LIMIT 1;
	RETURN result;
END $$;

CREATE TEMP TABLE pr AS
SELECT c.id, c.expr, c.zone, c.after, h.horizon,
	   dagsched.next_fire(c.expr, c.after, c.zone) AS engine,
	   pg_temp.oracle(c, h.horizon) AS oracle
FROM pc c,
	 LATERAL (SELECT CASE WHEN c.has_sec THEN interval '6 hours'
						  ELSE interval '14 days' END AS horizon) h;

-- unchecked: neither fires inside the window
SELECT count(*) AS cases,
	   count(*) FILTER (WHERE oracle IS NOT NULL) * 10 >= count(*) * 7 AS mostly_checked,
	   count(*) FILTER (WHERE oracle IS DISTINCT FROM engine
						  AND (oracle IS NOT NULL
							   OR engine <= after + horizon)) AS mismatches
FROM pr;

-- any mismatch, for debugging (expected: none)
SELECT id, expr, zone, after, engine, oracle
FROM pr
WHERE oracle IS DISTINCT FROM engine
  AND (oracle IS NOT NULL OR engine <= after + horizon)
ORDER BY id
LIMIT 20;
