/*
 * Observability: pictures of DAGs and runs, views that answer the usual
 * questions ("how long does this usually take?", "is anything slow?", "what
 * is running?"), and what a failure affected.  Plain SQL over the run
 * tables; nothing here writes.
 */

/* A duration as people read it: "46 ms", "1.2 s", "3 min 5 s", "2 h 7 min". */
CREATE FUNCTION dagsched.format_duration(d interval)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN abs(x.ms) < 1000 THEN x.ms::text || ' ms'
		WHEN abs(x.s) < 60 THEN x.s::text || ' s'
		WHEN abs(x.s) < 3600 THEN
			floor(x.s / 60)::text || ' min ' || floor(mod(x.s, 60))::text || ' s'
		ELSE floor(x.s / 3600)::text || ' h '
			|| floor(mod(x.s, 3600) / 60)::text || ' min'
	END
	FROM (SELECT round(extract(epoch FROM d) * 1000) AS ms,
				 round(extract(epoch FROM d), 1) AS s) x
$$;

COMMENT ON FUNCTION dagsched.format_duration(interval) IS
'a duration as text for labels: under a second "46 ms", under a minute "1.2 s" (one decimal), under an hour "3 min 5 s", else "2 h 7 min"';

/*
 * Text for a Mermaid label, section or title.  Every character Mermaid
 * could read as syntax becomes an entity code (#quot;, #35;, ...), which
 * Mermaid turns back into the character when it draws; line breaks become
 * "newline" (<br> in flowchart labels, a space where a line must stay one
 * line).
 */
CREATE FUNCTION dagsched.mermaid_text(s text, newline text DEFAULT '<br>')
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(string_agg(
		CASE c.ch
			WHEN '#' THEN '#35;'
			WHEN '&' THEN '#amp;'
			WHEN '"' THEN '#quot;'
			WHEN '<' THEN '#lt;'
			WHEN '>' THEN '#gt;'
			WHEN '`' THEN '#96;'
			WHEN ':' THEN '#58;'
			WHEN ';' THEN '#59;'
			WHEN '|' THEN '#124;'
			WHEN E'\n' THEN newline
			ELSE c.ch
		END, '' ORDER BY c.pos), '')
	FROM regexp_split_to_table(regexp_replace(s, '\r\n?', E'\n', 'g'), '')
		 WITH ORDINALITY AS c(ch, pos)
$$;

COMMENT ON FUNCTION dagsched.mermaid_text(text, text) IS
'escape text for a Mermaid diagram: # & " < > ` : ; | become entity codes (#35; #amp; #quot; ...) that Mermaid draws as the character; line breaks become the second argument (default <br>)';

/* A double-quoted DOT string: \ and " escaped, line breaks as \n. */
CREATE FUNCTION dagsched.dot_quote(s text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT '"' || regexp_replace(
		replace(replace(s, '\', '\\'), '"', '\"'),
		'\r\n|\n|\r', '\n', 'g') || '"'
$$;

COMMENT ON FUNCTION dagsched.dot_quote(text) IS
'quote text as a Graphviz DOT string: backslashes and double quotes escaped, line breaks written \n';

/* Fill colour of a node for a task state. */
CREATE FUNCTION dagsched.state_colour(state text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE state
		WHEN 'success' THEN '#8fd694'
		WHEN 'failed' THEN '#f28b82'
		WHEN 'upstream_failed' THEN '#ffb74d'
		WHEN 'running' THEN '#64b5f6'
		WHEN 'queued' THEN '#cfcfcf'
		WHEN 'pending' THEN '#cfcfcf'
		WHEN 'skipped' THEN '#eeeeee'
		WHEN 'cancelled' THEN '#8c8c8c'
		WHEN 'retry_wait' THEN '#fff176'
		WHEN 'sensing' THEN '#ce93d8'
		ELSE '#ffffff'
	END
$$;

COMMENT ON FUNCTION dagsched.state_colour(text) IS
'fill colour used by graph() for a task state: success green, failed red, upstream_failed orange, running blue, queued/pending grey, skipped light grey, cancelled dark grey, retry_wait yellow, sensing (a sensor between pokes) purple';

/*
 * graph(): the DAG as Graphviz DOT or a Mermaid flowchart.
 */
CREATE FUNCTION dagsched.graph(dag_name text, run_id bigint DEFAULT NULL,
							   format text DEFAULT 'dot')
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_dag		text := graph.dag_name;
	v_run		bigint := graph.run_id;
	v_fmt		text := lower(btrim(graph.format));
	run_dag		text;
	result		text;
BEGIN
	IF v_fmt IS NULL OR v_fmt NOT IN ('dot', 'mermaid') THEN
		RAISE EXCEPTION 'unknown graph format "%"', dagsched.shorten(graph.format)
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Use ''dot'' (Graphviz) or ''mermaid''.';
	END IF;

	IF v_run IS NOT NULL THEN
		SELECT r.dag_name INTO run_dag
		  FROM dagsched.dag_run r WHERE r.run_id = v_run;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'run % does not exist', v_run
				USING ERRCODE = 'undefined_object';
		END IF;
		IF v_dag IS NULL THEN
			v_dag := run_dag;
		ELSIF v_dag <> run_dag THEN
			RAISE EXCEPTION 'run % belongs to DAG "%", not "%"', v_run, run_dag, dagsched.shorten(v_dag)
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	ELSIF v_dag IS NULL OR NOT EXISTS (SELECT 1 FROM dagsched.dag d
										WHERE d.dag_name = v_dag) THEN
		RAISE EXCEPTION 'DAG "%" does not exist', dagsched.shorten(v_dag)
			USING ERRCODE = 'undefined_object';
	END IF;

	WITH nodes AS (
		SELECT t.task_name, t.kind, t.depends_on,
			   NULL::text AS state, NULL::text AS took,
			   t.map_over IS NOT NULL AS mapped, NULL::text AS instances
		  FROM dagsched.task t
		 WHERE v_run IS NULL AND t.dag_name = v_dag
		UNION ALL
		SELECT t.task_name, t.kind, t.depends_on, t.state,
			   CASE
				WHEN t.started_at IS NULL THEN NULL
				WHEN t.state = 'running' THEN
					dagsched.format_duration(now() - t.started_at) || ' so far'
				WHEN t.state IN ('success', 'failed', 'cancelled')
					 AND t.finished_at IS NOT NULL THEN
					dagsched.format_duration(t.finished_at - t.started_at)
			   END,
			   t.map_over IS NOT NULL,
			   -- a mapped task is one node: its instances counted by state
			   (SELECT sum(s.n) || ' instances: '
					   || string_agg(s.n || ' ' || s.state, ', ' ORDER BY s.state)
				  FROM (SELECT i.state, count(*) AS n FROM dagsched.task_run i
						 WHERE i.run_id = t.run_id AND i.task_name = t.task_name
						   AND i.map_index IS NOT NULL
						 GROUP BY i.state) s)
		  FROM dagsched.task_run t
		 WHERE t.run_id = v_run AND t.map_index IS NULL
	),
	numbered AS (
		SELECT n.*,
			   row_number() OVER (ORDER BY n.task_name COLLATE "C") AS id,
			   n.task_name
				|| CASE WHEN n.kind <> 'sql' THEN ' (' || n.kind || ')' ELSE '' END
				|| CASE WHEN n.mapped THEN ' [mapped]' ELSE '' END
				|| CASE WHEN n.took IS NOT NULL THEN E'\n' || n.took ELSE '' END
				|| CASE WHEN n.instances IS NOT NULL THEN E'\n' || n.instances ELSE '' END
				AS label
		  FROM nodes n
	),
	edges AS (
		SELECT u.id AS up_id, d.id AS down_id,
			   u.task_name AS up_name, d.task_name AS down_name
		  FROM numbered d
		 CROSS JOIN LATERAL unnest(d.depends_on) AS dep(name)
		  JOIN numbered u ON u.task_name = dep.name
	)
	SELECT CASE v_fmt
	WHEN 'dot' THEN
		'digraph ' || dagsched.dot_quote(v_dag) || E' {\n'
		|| E'  rankdir=LR;\n'
		|| CASE WHEN v_run IS NOT NULL THEN
			'  label=' || dagsched.dot_quote(v_dag || ', run ' || v_run)
			|| E';\n  labelloc=t;\n' ELSE '' END
		|| E'  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];\n'
		|| coalesce((SELECT string_agg(
				'  ' || dagsched.dot_quote(n.task_name)
				|| ' [label=' || dagsched.dot_quote(n.label)
				|| CASE WHEN n.state IS NOT NULL THEN
					', fillcolor="' || dagsched.state_colour(n.state)
					|| '", tooltip=' || dagsched.dot_quote(n.state)
				   ELSE '' END
				|| E'];\n', '' ORDER BY n.id)
			FROM numbered n), '')
		|| coalesce((SELECT string_agg(
				'  ' || dagsched.dot_quote(e.up_name) || ' -> '
				|| dagsched.dot_quote(e.down_name) || E';\n', ''
				ORDER BY e.up_id, e.down_id)
			FROM edges e), '')
		|| '}'
	ELSE
		E'flowchart LR\n'
		|| coalesce((SELECT string_agg(
				'  n' || n.id || '["' || dagsched.mermaid_text(n.label) || E'"]\n',
				'' ORDER BY n.id)
			FROM numbered n), '')
		|| coalesce((SELECT string_agg(
				'  n' || e.up_id || ' --> n' || e.down_id || E'\n', ''
				ORDER BY e.up_id, e.down_id)
			FROM edges e), '')
		|| coalesce((SELECT string_agg(
				'  classDef ' || s.state || ' fill:' || dagsched.state_colour(s.state)
				|| ',stroke:#555555'
				|| CASE WHEN s.state = 'cancelled' THEN ',color:#ffffff' ELSE '' END
				|| E'\n  class ' || s.ids || ' ' || s.state || E'\n', ''
				ORDER BY s.state)
			FROM (SELECT n.state, string_agg('n' || n.id, ',' ORDER BY n.id) AS ids
					FROM numbered n WHERE n.state IS NOT NULL
				   GROUP BY n.state) s), '')
	END
	INTO result;

	RETURN rtrim(result, E'\n');
END
$$;

COMMENT ON FUNCTION dagsched.graph(text, bigint, text) IS
'the DAG as text for a picture. format ''dot'' gives Graphviz DOT (render with: dot -Tsvg), ''mermaid'' a Mermaid flowchart; edges run upstream -> downstream, nodes are labelled with the task name and, when not sql, its kind. Without run_id the current definition is drawn; with run_id the tasks as that run copied them, each filled with the colour of its state (success green, failed red, upstream_failed orange, running blue, queued/pending grey, skipped light grey, cancelled dark grey, retry_wait yellow) and labelled with its duration. A mapped task is one node marked [mapped], labelled in a run with its instances counted by state ("5000 instances: 4990 success, 10 failed"). dag_name may be NULL when run_id is given. Example: SELECT dagsched.graph(''daily_report'', 42, ''mermaid'');';

/*
 * gantt(): one bar per attempt.
 */
CREATE FUNCTION dagsched.gantt(run_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_run		bigint := gantt.run_id;
	v_dag		text;
	result		text;
BEGIN
	SELECT r.dag_name INTO v_dag FROM dagsched.dag_run r WHERE r.run_id = v_run;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'run % does not exist', v_run
			USING ERRCODE = 'undefined_object';
	END IF;

	WITH bars AS (
		SELECT a.task_name, a.map_index, a.attempt, a.state, a.started_at,
			   a.finished_at
		  FROM dagsched.task_attempt a
		 WHERE a.run_id = v_run AND a.started_at IS NOT NULL
		UNION ALL
		-- the attempt running now has no task_attempt row yet
		SELECT t.task_name, t.map_index, t.attempts, t.state, t.started_at,
			   greatest(now(), t.started_at)
		  FROM dagsched.task_run t
		 WHERE t.run_id = v_run AND t.state = 'running'
		   AND t.started_at IS NOT NULL
		   AND NOT EXISTS (SELECT 1 FROM dagsched.task_attempt a
							WHERE a.run_id = t.run_id
							  AND a.task_name = t.task_name
							  AND a.map_index IS NOT DISTINCT FROM t.map_index
							  AND a.attempt = t.attempts)
	),
	-- n: how many attempts the task (or the instance of a mapped task) had
	attempts AS (
		SELECT b.*, count(*) OVER (PARTITION BY b.task_name, b.map_index) AS n
		  FROM bars b
	),
	per_task AS (
		SELECT a.task_name, min(a.started_at) AS first_start
		  FROM attempts a GROUP BY a.task_name
	),
	sections AS (
		SELECT p.*,
			   row_number() OVER (ORDER BY p.first_start,
										   p.task_name COLLATE "C") AS pos
		  FROM per_task p
	)
	SELECT E'gantt\n'
		|| '  title ' || dagsched.mermaid_text(v_dag || ' run ' || v_run, ' ') || E'\n'
		|| E'  dateFormat x\n'
		|| E'  axisFormat %H:%M:%S\n'
		|| E'  todayMarker off\n'
		|| coalesce(string_agg(
			'  section ' || dagsched.mermaid_text(s.task_name, ' ') || E'\n'
			|| (SELECT string_agg(
					'    ' || dagsched.mermaid_text(a.task_name, ' ')
					|| CASE WHEN a.map_index IS NOT NULL
							THEN '[' || a.map_index || ']' ELSE '' END
					|| CASE WHEN a.n > 1 THEN ' (attempt ' || a.attempt || ')'
							ELSE '' END
					|| ' :'
					|| CASE a.state
						WHEN 'failed' THEN 'crit, done, '
						WHEN 'running' THEN 'active, '
						ELSE 'done, ' END
					|| round(extract(epoch FROM a.started_at) * 1000)::bigint
					|| ', '
					|| round(extract(epoch FROM coalesce(a.finished_at, a.started_at)) * 1000)::bigint
					|| E'\n', '' ORDER BY a.map_index NULLS FIRST, a.attempt)
				  FROM attempts a WHERE a.task_name = s.task_name),
			'' ORDER BY s.pos), '')
	  INTO result
	  FROM sections s;

	RETURN rtrim(result, E'\n');
END
$$;

COMMENT ON FUNCTION dagsched.gantt(bigint) IS
'the run''s timeline as a Mermaid gantt chart: one section per task (in order of first start), one bar per attempt (from task_attempt, plus the attempt running now; a mapped task has a bar of its own, from mapping to its last instance''s end, and one per attempt of each instance, named task[map_index]), times as epoch milliseconds (dateFormat x); failed attempts are marked crit, the running one active. Example: SELECT dagsched.gantt(42);';

/*
 * task_stats: how long does a task usually take, how often does it fail,
 * and was its last run markedly slower than usual?  Counted per run (a task
 * that needed three attempts in a run is one run), over the task's last 100
 * runs; the attempts that retries hide are counted apart.
 */
CREATE VIEW dagsched.task_stats WITH (security_invoker = true) AS
WITH att AS (
	SELECT r.dag_name, a.run_id, a.task_name, a.attempt, a.state,
		   a.started_at, a.finished_at, a.finished_at - a.started_at AS took
	  FROM dagsched.task_attempt a
	  JOIN dagsched.dag_run r ON r.run_id = a.run_id
	 WHERE a.state IN ('success', 'failed')
	   AND a.started_at IS NOT NULL AND a.finished_at IS NOT NULL
	   AND a.marked_by IS NULL
	   -- a mapped task counts once per run: its own attempt, which spans its
	   -- instances and fails when one of them failed
	   AND a.map_index IS NULL
),
per_run AS (
	SELECT dag_name, task_name, run_id,
		   (array_agg(state ORDER BY attempt DESC))[1] AS outcome,
		   count(*) AS attempts,
		   count(*) FILTER (WHERE state = 'failed') AS failed_attempts,
		   max(started_at) AS started_at
	  FROM att
	 GROUP BY dag_name, task_name, run_id
),
recent AS (
	SELECT per_run.*,
		   row_number() OVER (PARTITION BY dag_name, task_name
							  ORDER BY started_at DESC, run_id DESC) AS age
	  FROM per_run
),
runs AS (
	SELECT dag_name, task_name,
		   count(*) AS runs,
		   count(*) FILTER (WHERE outcome = 'success') AS successes,
		   count(*) FILTER (WHERE outcome = 'failed') AS failures,
		   sum(attempts) AS attempts,
		   sum(failed_attempts) AS failed_attempts
	  FROM recent
	 WHERE age <= 100
	 GROUP BY dag_name, task_name
),
agg AS (
	SELECT a.dag_name, a.task_name,
		   percentile_cont(0.5) WITHIN GROUP (ORDER BY a.took)
			   FILTER (WHERE a.state = 'success') AS p50,
		   percentile_cont(0.95) WITHIN GROUP (ORDER BY a.took)
			   FILTER (WHERE a.state = 'success') AS p95,
		   (array_agg(a.took ORDER BY a.started_at DESC, a.run_id DESC,
					  a.attempt DESC)
				FILTER (WHERE a.state = 'success'))[1] AS last_duration,
		   (array_agg(a.state ORDER BY a.started_at DESC, a.run_id DESC,
					  a.attempt DESC))[1] AS last_state,
		   max(a.finished_at) AS last_finished_at
	  FROM att a
	  JOIN recent r ON r.dag_name = a.dag_name AND r.task_name = a.task_name
				   AND r.run_id = a.run_id AND r.age <= 100
	 GROUP BY a.dag_name, a.task_name
),
ratio AS (
	SELECT runs.*, agg.p50, agg.p95, agg.last_duration, agg.last_state,
		   agg.last_finished_at,
		   CASE WHEN extract(epoch FROM agg.p50) > 0 THEN
				round(extract(epoch FROM agg.last_duration) / extract(epoch FROM agg.p50), 2)
		   END AS slowdown
	  FROM runs
	  JOIN agg USING (dag_name, task_name)
)
SELECT dag_name, task_name, runs, successes, failures,
	   round(successes::numeric / runs, 3) AS success_rate,
	   p50, p95, last_duration, last_state, last_finished_at, slowdown,
	   coalesce(slowdown > 2 AND successes >= 5, false) AS slow,
	   attempts, failed_attempts
  FROM ratio;

COMMENT ON VIEW dagsched.task_stats IS
'per DAG and task, over its last 100 runs that finished an attempt (success or failed; cancelled and dagsched.mark() outcomes do not count): runs, successes and failures (runs whose last attempt succeeded / failed), success_rate = successes / runs, p50/p95 duration of the successful attempts, last_duration (latest successful attempt), last_state (of the latest attempt), last_finished_at, slowdown = last_duration / p50 (2 decimals), slow = true when slowdown > 2 with at least 5 successful runs, attempts and failed_attempts (every attempt of those runs, so the failures retries hid stay visible). A mapped task counts as one task per run: its own attempt, from mapping to the end of its last instance, failed when an instance failed (the instances'' attempts are not counted apart). Example: SELECT * FROM dagsched.task_stats WHERE slow;';

/*
 * dag_stats: how is each DAG doing?
 */
CREATE VIEW dagsched.dag_stats WITH (security_invoker = true) AS
SELECT d.dag_name, d.schedule, d.paused, d.next_run_at,
	   l.run_id AS last_run_id, l.state AS last_run_state,
	   l.logical_time AS last_logical_time, l.finished_at AS last_finished_at,
	   c.active_runs, c.runs_last_day, c.failures_last_day,
	   p.p50, p.p95, c.missed_deadlines_last_day
  FROM dagsched.dag d
  LEFT JOIN LATERAL (
	SELECT r.run_id, r.state, r.logical_time, r.finished_at
	  FROM dagsched.dag_run r
	 WHERE r.dag_name = d.dag_name
	 ORDER BY r.created_at DESC, r.run_id DESC
	 LIMIT 1) l ON true
  CROSS JOIN LATERAL (
	SELECT count(*) FILTER (WHERE r.state IN ('queued', 'running')) AS active_runs,
		   count(*) FILTER (WHERE r.created_at >= now() - interval '1 day')
			   AS runs_last_day,
		   count(*) FILTER (WHERE r.state = 'failed'
							  AND r.finished_at >= now() - interval '1 day')
			   AS failures_last_day,
		   count(*) FILTER (WHERE r.missed_deadline
							  AND r.deadline_at >= now() - interval '1 day')
			   AS missed_deadlines_last_day
	  FROM dagsched.dag_run r
	 WHERE r.dag_name = d.dag_name
	   AND (r.state IN ('queued', 'running')
			OR r.created_at >= now() - interval '1 day'
			OR r.finished_at >= now() - interval '1 day'
			OR r.deadline_at >= now() - interval '1 day')) c
  CROSS JOIN LATERAL (
	SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY f.took) AS p50,
		   percentile_cont(0.95) WITHIN GROUP (ORDER BY f.took) AS p95
	  FROM (SELECT r.finished_at - r.started_at AS took
			  FROM dagsched.dag_run r
			 WHERE r.dag_name = d.dag_name
			   AND r.state IN ('success', 'failed')
			   AND r.started_at IS NOT NULL AND r.finished_at IS NOT NULL
			 ORDER BY r.finished_at DESC
			 LIMIT 100) f) p;

COMMENT ON VIEW dagsched.dag_stats IS
'per DAG: schedule, paused, next_run_at; the last run created (last_run_id, last_run_state, last_logical_time, last_finished_at); active_runs (queued or running now); runs_last_day (runs created in the last 24 hours) and failures_last_day (runs that ended failed in the last 24 hours); p50/p95 of run duration (finished_at - started_at) over the last 100 runs that ended success or failed; missed_deadlines_last_day (runs whose deadline, logical_time + dag.deadline, fell in the last 24 hours and found them unfinished). Example: SELECT dag_name, last_run_state, failures_last_day FROM dagsched.dag_stats;';

/*
 * running: what is running now, and is it taking longer than usual?
 */
CREATE VIEW dagsched.running WITH (security_invoker = true) AS
SELECT r.dag_name, t.run_id, t.task_name, t.attempts AS attempt, t.pid,
	   t.started_at, now() - t.started_at AS running_for,
	   s.p50 AS usual,
	   CASE WHEN extract(epoch FROM s.p50) > 0 THEN
			round(extract(epoch FROM now() - t.started_at)
				  / extract(epoch FROM s.p50), 2)
	   END AS ratio,
	   t.timeout
  FROM dagsched.task_run t
  JOIN dagsched.dag_run r ON r.run_id = t.run_id
  LEFT JOIN dagsched.task_stats s
	ON s.dag_name = r.dag_name AND s.task_name = t.task_name
 WHERE t.state = 'running';

COMMENT ON VIEW dagsched.running IS
'task attempts running now: DAG, run, task, attempt number, pid of the worker running it, started_at, running_for (now() - started_at), usual (the task''s p50 duration from task_stats) and ratio = running_for / usual (2 decimals), and the task''s timeout. Example: SELECT * FROM dagsched.running WHERE ratio > 2;';

/*
 * failure_impact(): the failed tasks of a run, and every task downstream of
 * them that did not run because of it.
 */
CREATE FUNCTION dagsched.failure_impact(run_id bigint)
RETURNS TABLE (task_name text, state text, cause text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	v_run		bigint := failure_impact.run_id;
	v_tasks		bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM dagsched.dag_run r WHERE r.run_id = v_run) THEN
		RAISE EXCEPTION 'run % does not exist', v_run
			USING ERRCODE = 'undefined_object';
	END IF;
	-- no path is longer than the run has tasks (a bound, should the copy
	-- ever hold a cycle)
	SELECT count(*) INTO v_tasks FROM dagsched.task_run t
	 WHERE t.run_id = v_run AND t.map_index IS NULL;

	RETURN QUERY
	WITH RECURSIVE walk (root, task_name, depth) AS (
		SELECT t.task_name, t.task_name, 0
		  FROM dagsched.task_run t
		 WHERE t.run_id = v_run AND t.state = 'failed' AND t.map_index IS NULL
		UNION
		SELECT w.root, c.task_name, w.depth + 1
		  FROM walk w
		  JOIN dagsched.task_run c
			ON c.run_id = v_run AND w.task_name = ANY (c.depends_on)
		   AND c.map_index IS NULL
		 WHERE c.state IN ('upstream_failed', 'skipped', 'cancelled')
		   AND w.depth < v_tasks
	),
	hit AS (
		SELECT w.task_name, min(w.depth) AS depth,
			   string_agg(DISTINCT w.root COLLATE "C", ', '
						  ORDER BY w.root COLLATE "C") AS roots
		  FROM walk w
		 WHERE w.depth > 0
		 GROUP BY w.task_name
	)
	SELECT x.task_name, x.state, x.cause
	  FROM (SELECT t.task_name, t.state, coalesce(t.error, 'failed') AS cause,
				   0 AS depth
			  FROM dagsched.task_run t
			 WHERE t.run_id = v_run AND t.state = 'failed' AND t.map_index IS NULL
			UNION ALL
			SELECT h.task_name, t.state, 'downstream of failed ' || h.roots,
				   h.depth
			  FROM hit h
			  JOIN dagsched.task_run t
				ON t.run_id = v_run AND t.task_name = h.task_name
			   AND t.map_index IS NULL
			 WHERE NOT EXISTS (SELECT 1 FROM dagsched.task_run f
								WHERE f.run_id = v_run
								  AND f.task_name = h.task_name
								  AND f.map_index IS NULL
								  AND f.state = 'failed')) x
	 ORDER BY x.depth, x.task_name COLLATE "C";
END
$$;

COMMENT ON FUNCTION dagsched.failure_impact(bigint) IS
'what a failure affected: each failed task of the run (cause = its error) and every task downstream of a failed one that did not run (upstream_failed, skipped or cancelled), with cause naming the failed task(s) it descends from; failed tasks first, then by distance from the failure. Example: SELECT * FROM dagsched.failure_impact(42);';

/*
 * Everything here reads the run tables as the caller (views are
 * security_invoker, functions SECURITY INVOKER): row-level security shows
 * each role the DAGs it owns and nothing else.
 */
/*
 * pool_stats: how full is each pool?  Counted over every DAG and run (the
 * view reads as its owner, past row-level security): a pool is shared, and
 * its occupancy says nothing of whose tasks fill it.
 */
CREATE VIEW dagsched.pool_stats AS
SELECT p.pool_name, p.slots,
	   -- a mapped task waiting for its instances (no pid) holds no slot
	   (SELECT count(*) FROM dagsched.task_run t
		 WHERE t.state = 'running' AND t.pid IS NOT NULL
		   AND t.pool = p.pool_name) AS running,
	   (SELECT count(*) FROM dagsched.task_run t
		 WHERE t.state = 'queued' AND t.pool = p.pool_name) AS queued,
	   p.description, p.owner
  FROM dagsched.pool p;

COMMENT ON VIEW dagsched.pool_stats IS
'per pool: slots, running (tasks of the pool running now, over every DAG and run), queued (tasks of the pool waiting for a slot or a worker), description, owner. Example: SELECT * FROM dagsched.pool_stats WHERE queued > 0;';

GRANT SELECT ON dagsched.pool_stats TO PUBLIC;
GRANT SELECT ON dagsched.task_stats, dagsched.dag_stats, dagsched.running
	TO PUBLIC;
