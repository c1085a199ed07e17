#!/bin/bash
#
# bench/history.sh - does a long history slow dagsched down?
#
# Measures, on an EMPTY history and again after inserting HIST_RUNS (200,000)
# synthetic finished runs x 5 tasks (1,000,000 task_run rows, finished within
# the last day so they are not purged):
#   - hop latency: a chain of N (200) `SELECT 1` tasks, median over the
#     chain of next.started_at - prev.finished_at, and chain time / N;
#   - scheduler tick: an every-second DAG, time from logical_time to its
#     first task's start, median over TICKS (20) ticks.
# Prints both and the ratio (target: within 10%).  Then defines NDAGS
# (10,000) more DAGs (all but 10 scheduled '0 0 1 1 *', i.e. not due) and
# reports the scheduler's RSS (VmRSS of the 'dagsched scheduler' backend)
# before and after, and the tick latency with them.
#
# Environment: N (200), RUNS (3), TICKS (20), HIST_RUNS (200000),
# NDAGS (10000), plus those of bench/common.sh.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/history.sh

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"

N=${N:-200}
RUNS=${RUNS:-3}
TICKS=${TICKS:-20}
HIST_RUNS=${HIST_RUNS:-200000}
NDAGS=${NDAGS:-10000}

echo "dagsched benchmark: hop and tick latency on an empty vs a long history"
bench_init
bench_cluster_start
bench_sql "CREATE EXTENSION dagsched" 2>&1 | grep -v '^$' || true
bench_machine

bench_psql <<SQL
INSERT INTO dagsched.dag (dag_name) VALUES ('chain');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
SELECT 'chain', 't' || i, 'SELECT 1',
       CASE WHEN i = 1 THEN '{}'::text[] ELSE ARRAY['t' || (i - 1)] END
FROM generate_series(1, $N) AS i;
INSERT INTO dagsched.dag (dag_name, schedule, paused) VALUES ('tick', '* * * * * *', true);
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('tick', 't', 'SELECT 1');
SQL

# median hop (ms) and chain time / N (ms), medians over RUNS chain runs
hop() {
	local meds=() pers=() run_id state
	for ((i = 0; i <= RUNS; i++)); do
		run_id=$(bench_sql "SELECT dagsched.trigger('chain')")
		state=$(bench_sql "SELECT dagsched.wait($run_id, '300 s')")
		[[ $state == success ]] || { echo "error: chain run $run_id ended $state" >&2; return 1; }
		((i == 0)) && continue # warm-up
		meds+=("$(bench_sql "
			SELECT round(extract(epoch FROM n.started_at - p.finished_at) * 1000, 3)
			FROM dagsched.task_run p
			JOIN dagsched.task_run n ON n.run_id = p.run_id AND n.depends_on = ARRAY[p.task_name]
			WHERE p.run_id = $run_id" | median)")
		pers+=("$(bench_sql "SELECT round(extract(epoch FROM max(finished_at) - min(started_at)) * 1000 / $N, 3)
			FROM dagsched.task_run WHERE run_id = $run_id")")
	done
	printf '%s %s\n' "$(printf '%s\n' "${meds[@]}" | median)" "$(printf '%s\n' "${pers[@]}" | median)"
}

# median tick latency (ms): logical_time -> first task start, over TICKS ticks
tick() {
	local first n
	first=$(bench_sql "SELECT coalesce(max(run_id), 0) FROM dagsched.dag_run")
	bench_sql "UPDATE dagsched.dag SET paused = false WHERE dag_name = 'tick'"
	for ((i = 0; i < TICKS * 30; i++)); do
		n=$(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'tick'
			AND run_id > $first AND trigger = 'schedule' AND state = 'success'")
		((n >= TICKS + 1)) && break
		sleep 0.1
	done
	bench_sql "UPDATE dagsched.dag SET paused = true WHERE dag_name = 'tick'"
	# skip the first tick after unpausing
	bench_sql "SELECT round(extract(epoch FROM t.started_at - r.logical_time) * 1000, 3)
		FROM dagsched.dag_run r JOIN dagsched.task_run t USING (run_id)
		WHERE r.dag_name = 'tick' AND r.run_id > $first AND r.trigger = 'schedule'
		  AND t.started_at IS NOT NULL
		ORDER BY r.run_id OFFSET 1 LIMIT $TICKS" | median
}

sched_rss() {
	local pid
	pid=$(bench_sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'dagsched scheduler'")
	awk '/^VmRSS/ { print $2 }' "/proc/$pid/status"
}

section "empty history"
read -r hop0 per0 < <(hop)
tick0=$(tick)
rss0=$(sched_rss)
printf 'median hop %.3f ms   chain/N %.3f ms   tick %.3f ms   scheduler RSS %s kB\n' \
	"$hop0" "$per0" "$tick0" "$rss0"

section "inserting $HIST_RUNS runs x 5 tasks of finished history"
t0=$(date +%s.%N)
bench_insert_history "$HIST_RUNS" '23 hours' '200 ms'
printf 'inserted %s task_run rows in %.1f s\n' \
	"$(bench_sql "SELECT count(*) FROM dagsched.task_run")" \
	"$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"

section "long history"
read -r hop1 per1 < <(hop)
tick1=$(tick)
rss1=$(sched_rss)
printf 'median hop %.3f ms   chain/N %.3f ms   tick %.3f ms   scheduler RSS %s kB\n' \
	"$hop1" "$per1" "$tick1" "$rss1"

section "$NDAGS more DAGs (all but 10 not due)"
t0=$(date +%s.%N)
bench_psql <<SQL
INSERT INTO dagsched.dag (dag_name, schedule)
SELECT 'many' || g, CASE WHEN g <= 10 THEN '*/5 * * * *' ELSE '0 0 1 1 *' END
  FROM generate_series(1, $NDAGS) g;
INSERT INTO dagsched.task (dag_name, task_name, command)
SELECT 'many' || g, 't', 'SELECT 1' FROM generate_series(1, $NDAGS) g;
SQL
printf 'defined in %.1f s\n' "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')"
sleep 2
tick2=$(tick)
rss2=$(sched_rss)
printf 'tick %.3f ms   scheduler RSS %s kB\n' "$tick2" "$rss2"

section "result"
printf '                        empty history   %7s runs x 5 tasks   ratio\n' "$HIST_RUNS"
printf 'median hop (ms)         %12.3f   %20.3f   %s\n' "$hop0" "$hop1" "$(ratio "$hop1" "$hop0")"
printf 'chain time / N (ms)     %12.3f   %20.3f   %s\n' "$per0" "$per1" "$(ratio "$per1" "$per0")"
printf 'tick latency (ms)       %12.3f   %20.3f   %s\n' "$tick0" "$tick1" "$(ratio "$tick1" "$tick0")"
printf 'target: ratios within 1.10 (hop %s, tick %s)\n' \
	"$(awk -v a="$hop1" -v b="$hop0" 'BEGIN { print (a <= 1.1 * b) ? "MET" : "NOT MET" }')" \
	"$(awk -v a="$tick1" -v b="$tick0" 'BEGIN { print (a <= 1.1 * b) ? "MET" : "NOT MET" }')"
printf 'scheduler RSS (kB): empty %s, long history %s, +%s DAGs %s\n' "$rss0" "$rss1" "$NDAGS" "$rss2"
printf 'tick latency with %s more DAGs: %.3f ms (ratio to empty %s)\n' "$NDAGS" "$tick2" \
	"$(ratio "$tick2" "$tick0")"
printf 'load average at the end     %s\n' "$(bench_load)"
