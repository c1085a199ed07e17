#!/bin/bash
#
# bench/mapped.sh - a mapped task's throughput against a plain fan-out
#
# Two DAGs in one cluster, dagsched.max_workers = 8:
#   * mapped: one task whose map_over is generate_series(1, N) (N = 5,000),
#     so N instances of `SELECT 1` made at run time;
#   * fanout: N independent `SELECT 1` tasks, defined beforehand.
# Runs of the two alternate (one warm-up each, not counted, then RUNS each),
# so both see the same load.  Per run: tasks/second = N / (dag_run.finished_at
# - dag_run.created_at), the whole run from trigger() to its end (for the
# fan-out that includes trigger() inserting its N task_run rows; for the
# mapped task, the mapping at run time); and the span of the N tasks or
# instances alone, N / (max(finished_at) - min(started_at)).  Prints the
# medians and the ratio mapped / fanout.
#
# Environment: N (5000), RUNS (3), plus those of bench/common.sh.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/mapped.sh

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"

N=${N:-5000}
RUNS=${RUNS:-3}

echo "dagsched benchmark: a mapped task of $N instances against a fan-out of $N tasks (8 workers)"
bench_init
bench_cluster_start "dagsched.max_workers = 8
dagsched.worker_idle_timeout = 600"
bench_sql "CREATE EXTENSION dagsched" 2>&1 | grep -v '^$' || true
bench_machine

bench_psql <<SQL
INSERT INTO dagsched.dag (dag_name) VALUES ('mapped'), ('fanout');
INSERT INTO dagsched.task (dag_name, task_name, command, map_over)
VALUES ('mapped', 'm', 'SELECT 1', 'SELECT g FROM generate_series(1, $N) g');
INSERT INTO dagsched.task (dag_name, task_name, command)
SELECT 'fanout', 't' || i, 'SELECT 1' FROM generate_series(1, $N) AS i;
SQL

# one run of DAG $1: prints "run_id run_tasks_per_s run_ms span_tasks_per_s"
one_run() {
	local dag=$1 run_id state
	run_id=$(bench_sql "SELECT dagsched.trigger('$dag')")
	state=$(bench_sql "SELECT dagsched.wait($run_id, '600 s')")
	if [[ $state != success ]]; then
		echo "error: run $run_id of $dag ended '$state'" >&2
		return 1
	fi
	# the N tasks, or the N instances (map_index set): not the mapped task's own row
	bench_sql "
		SELECT $run_id,
		       round($N / extract(epoch FROM r.finished_at - r.created_at), 1),
		       round(extract(epoch FROM r.finished_at - r.created_at) * 1000, 1),
		       round(count(*) / extract(epoch FROM max(t.finished_at) - min(t.started_at)), 1)
		FROM dagsched.dag_run r JOIN dagsched.task_run t ON t.run_id = r.run_id
		WHERE r.run_id = $run_id AND t.state = 'success'
		  AND (r.dag_name = 'fanout' OR t.map_index IS NOT NULL)
		GROUP BY r.finished_at, r.created_at
		HAVING count(*) = $N" | tr '|' ' '
}

m_rates=() f_rates=() m_spans=() f_spans=()
once() {
	local dag=$1 label=$2 rid rate ms span
	read -r rid rate ms span < <(one_run "$dag") || true
	[[ -n "$rate" ]] || { echo "error: $dag run failed" >&2; exit 1; }
	printf '%-8s %-7s run %-4s %9.1f tasks/s over the run (%8.1f ms)  %9.1f tasks/s over the tasks%s\n' \
		"$label" "$dag" "$rid" "$rate" "$ms" "$span" "$([[ $label == warm-up ]] && echo '  (not counted)')"
	[[ $label == warm-up ]] && return
	if [[ $dag == mapped ]]; then m_rates+=("$rate") m_spans+=("$span")
	else f_rates+=("$rate") f_spans+=("$span"); fi
}

section "alternating runs"
once mapped warm-up
once fanout warm-up
for ((i = 1; i <= RUNS; i++)); do
	once mapped "rep $i"
	once fanout "rep $i"
done

m=$(printf '%s\n' "${m_rates[@]}" | median)
f=$(printf '%s\n' "${f_rates[@]}" | median)
ms=$(printf '%s\n' "${m_spans[@]}" | median)
fs=$(printf '%s\n' "${f_spans[@]}" | median)
section "result (medians of $RUNS runs each)"
printf 'mapped task, %d instances: %9.1f tasks/s over the run, %9.1f over the instances\n' "$N" "$m" "$ms"
printf 'fan-out, %d tasks:         %9.1f tasks/s over the run, %9.1f over the tasks\n' "$N" "$f" "$fs"
printf 'ratio mapped / fan-out:     %9.2f over the run, %9.2f over the tasks\n' \
	"$(echo "$m / $f" | bc -l)" "$(echo "$ms / $fs" | bc -l)"
bench_load
