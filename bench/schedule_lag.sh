#!/bin/bash
#
# bench/schedule_lag.sh - how late a scheduled run starts
#
# A DAG scheduled every second ('* * * * * *': 6-field cron with a leading
# seconds field; falls back to 'every 1 second' if that is rejected), one
# `SELECT 1` task, paused = false.  Waits until TICKS (30) scheduled runs
# exist (deadline 2 x TICKS seconds), pauses the DAG, lets the runs in flight
# finish, then for every scheduled run:
#     lag = first task started_at - dag_run.logical_time
# and prints p50 / p99 in ms (targets: p50 <= 5 ms, p99 <= 50 ms), split
# into scheduler lag (dag_run.created_at - logical_time) and pickup
# (task started_at - created_at).  Also checks that logical_time advances
# by exactly 1 s from run to run: no duplicates, no gaps.
#
# Baseline for context, same cluster, same run: `pgbench -n -S -c 1 -T T`
# average latency (one primary-key SELECT round trip), median of
# PGBENCH_RUNS.
#
# Environment: TICKS (30), SCHEDULE ('* * * * * *'), PGBENCH_RUNS (3),
# PGBENCH_T (10 s), plus those of bench/common.sh.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/schedule_lag.sh

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"

TICKS=${TICKS:-30}
SCHEDULE=${SCHEDULE:-'* * * * * *'}
PGBENCH_RUNS=${PGBENCH_RUNS:-3}
PGBENCH_T=${PGBENCH_T:-10}

echo "dagsched benchmark: schedule lag (DAG every second, $TICKS ticks)"
bench_init
bench_cluster_start
bench_sql "CREATE EXTENSION dagsched" 2>&1 | grep -v '^$' || true
bench_machine
echo "settings:   dagsched.max_workers=$(bench_sql 'SHOW dagsched.max_workers')," \
	"max_worker_processes=$(bench_sql 'SHOW max_worker_processes')," \
	"synchronous_commit=$(bench_sql 'SHOW synchronous_commit'), fsync=$(bench_sql 'SHOW fsync')"

# ---------------------------------------------------------------- baseline first
section "baseline: pgbench -n -S -c 1 -T $PGBENCH_T"
bench_pgbench -i -s 1 -q >/dev/null 2>&1
lats=()
for ((i = 1; i <= PGBENCH_RUNS; i++)); do
	out=$(bench_pgbench -n -S -c 1 -T "$PGBENCH_T" 2>&1)
	l=$(pgbench_field "$out" latency)
	printf 'rep %-3s  latency average %7.3f ms  tps %10.1f\n' "$i" "$l" "$(pgbench_field "$out" tps)"
	lats+=("$l")
done
lat=$(printf '%s\n' "${lats[@]}" | median)

# ---------------------------------------------------------------- the DAG
section "dagsched: schedule '$SCHEDULE'"
sched=$SCHEDULE
if ! bench_psql -v sched="$sched" <<'SQL' 2>"$BENCH_DIR/insert.err"; then
BEGIN;
INSERT INTO dagsched.dag (dag_name, schedule, paused) VALUES ('tick', :'sched', false);
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('tick', 'one', 'SELECT 1');
COMMIT;
SQL
	echo "schedule '$sched' rejected: $(cat "$BENCH_DIR/insert.err")"
	sched='every 1 second'
	echo "falling back to '$sched'"
	bench_psql -v sched="$sched" <<'SQL'
BEGIN;
INSERT INTO dagsched.dag (dag_name, schedule, paused) VALUES ('tick', :'sched', false);
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('tick', 'one', 'SELECT 1');
COMMIT;
SQL
fi
echo "defined at $(bench_sql "SELECT now()"); next_run_at = $(bench_sql "SELECT next_run_at FROM dagsched.dag WHERE dag_name = 'tick'")"

deadline=$(($(date +%s) + 2 * TICKS))
runs=0
while :; do
	runs=$(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'tick' AND trigger = 'schedule'")
	((runs >= TICKS)) && break
	if (($(date +%s) >= deadline)); then
		echo "error: only $runs scheduled runs after $((2 * TICKS)) s (expected $TICKS)" >&2
		bench_sql "SELECT run_id, logical_time, trigger, state FROM dagsched.dag_run ORDER BY run_id" >&2
		exit 1
	fi
	sleep 0.5
done
bench_sql "UPDATE dagsched.dag SET paused = true WHERE dag_name = 'tick'"
echo "$runs scheduled runs; paused at $(bench_sql "SELECT now()")"
# let the runs in flight end (polling, bounded)
for ((i = 0; i < 100; i++)); do
	left=$(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'tick' AND state IN ('queued', 'running')")
	((left == 0)) && break
	sleep 0.1
done
sleep 2    # a tick after pausing would show up here
after=$(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'tick' AND trigger = 'schedule'")

# ---------------------------------------------------------------- figures
bench_sql "
	SELECT round(extract(epoch FROM t.started_at - r.logical_time) * 1000, 3),
	       round(extract(epoch FROM r.created_at - r.logical_time) * 1000, 3),
	       round(extract(epoch FROM t.started_at - r.created_at) * 1000, 3)
	FROM dagsched.dag_run r
	JOIN dagsched.task_run t ON t.run_id = r.run_id
	WHERE r.dag_name = 'tick' AND r.trigger = 'schedule' AND t.started_at IS NOT NULL
	ORDER BY r.logical_time" | tr '|' ' ' >"$BENCH_DIR/lags"
n=$(wc -l <"$BENCH_DIR/lags")
col() { awk -v c="$1" '{ print $c }' "$BENCH_DIR/lags"; }
p50=$(col 1 | median) p99v=$(col 1 | p99)
echo "lag per run (ms, in logical_time order): $(col 1 | tr '\n' ' ')"

states=$(bench_sql "SELECT string_agg(state || '=' || c, ', ') FROM (SELECT state, count(*) c FROM dagsched.dag_run WHERE dag_name = 'tick' GROUP BY 1 ORDER BY 1) s")
read -r steps ones dups gaps other first last < <(bench_sql "
	WITH r AS (
		SELECT logical_time,
		       logical_time - lag(logical_time) OVER (ORDER BY logical_time) AS d
		FROM dagsched.dag_run WHERE dag_name = 'tick' AND trigger = 'schedule')
	SELECT count(d), count(*) FILTER (WHERE d = '1 s'),
	       count(*) FILTER (WHERE d = '0'), count(*) FILTER (WHERE d > '1 s'),
	       count(*) FILTER (WHERE d > '0' AND d <> '1 s' AND d < '1 s'),
	       to_char(min(logical_time) AT TIME ZONE 'UTC', 'HH24:MI:SS.US'),
	       to_char(max(logical_time) AT TIME ZONE 'UTC', 'HH24:MI:SS.US')
	FROM r" | tr '|' ' ')

section "result"
printf 'schedule                      %s\n' "$sched"
printf 'scheduled runs                %d (%d after pausing + 2 s; states: %s)\n' "$runs" "$after" "$states"
printf 'lag p50 (task start - tick)   %8.3f ms   (target <= 5 ms: %s)\n' "$p50" \
	"$(awk -v v="$p50" 'BEGIN { print (v <= 5) ? "MET" : "NOT MET" }')"
printf 'lag p99 (task start - tick)   %8.3f ms   (target <= 50 ms: %s; nearest rank over %d runs)\n' "$p99v" \
	"$(awk -v v="$p99v" 'BEGIN { print (v <= 50) ? "MET" : "NOT MET" }')" "$n"
printf '  of which scheduler lag      p50 %8.3f ms  p99 %8.3f ms   (dag_run.created_at - logical_time)\n' \
	"$(col 2 | median)" "$(col 2 | p99)"
printf '  of which worker pickup      p50 %8.3f ms  p99 %8.3f ms   (task started_at - created_at)\n' \
	"$(col 3 | median)" "$(col 3 | p99)"
printf 'pgbench -S -c 1 latency       %8.3f ms   (context; lag p50 / that = %s)\n' "$lat" "$(ratio "$p50" "$lat")"
printf 'load average at the end       %s\n' "$(bench_load)"
cont="OK"
if ((dups > 0 || gaps > 0 || other > 0 || ones != steps)); then cont="BROKEN"; fi
printf 'logical_time continuity       %s: %d steps from %s to %s UTC, %d of exactly 1 s, %d duplicates, %d gaps, %d other\n' \
	"$cont" "$steps" "$first" "$last" "$ones" "$dups" "$gaps" "$other"
