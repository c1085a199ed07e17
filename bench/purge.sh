#!/bin/bash
#
# bench/purge.sh - does purging a long history slow the workers down?
#
# Inserts HIST_RUNS (200,000) finished runs x 5 tasks (1,000,000 task_run
# rows) backdated beyond dagsched.history_retention, measures the cost of a
# dependency hop (chain of N `SELECT 1` tasks: chain time / N, which includes
# each task's commit) with the scheduler's purge paused out of the way
# (retention raised), then lowers the retention back so the scheduler purges
# in batches of 500 runs per transaction, and measures the same chains while
# the purge runs.  Prints both, the ratio (target: within 2x), how long the
# purge took and that it removed everything it should and nothing else.
#
# Environment: N (200), HIST_RUNS (200000), plus those of bench/common.sh.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/purge.sh

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"

N=${N:-200}
HIST_RUNS=${HIST_RUNS:-200000}

echo "dagsched benchmark: hop cost while the scheduler purges a long history"
bench_init
bench_cluster_start
bench_sql "CREATE EXTENSION dagsched" 2>&1 | grep -v '^$' || true
bench_machine

# keep the purge out of the way while the history is loaded
bench_sql "ALTER SYSTEM SET dagsched.history_retention = '3650d'" >/dev/null
bench_sql "SELECT pg_reload_conf()" >/dev/null

bench_psql <<SQL
INSERT INTO dagsched.dag (dag_name) VALUES ('chain');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
SELECT 'chain', 't' || i, 'SELECT 1',
       CASE WHEN i = 1 THEN '{}'::text[] ELSE ARRAY['t' || (i - 1)] END
FROM generate_series(1, $N) AS i;
SQL
bench_insert_history "$HIST_RUNS" '60 days' '1 second'
echo "history: $(bench_sql "SELECT count(*) FROM dagsched.task_run") task_run rows"

# one chain run: chain time / N in ms
chain_once() {
	local run_id state
	run_id=$(bench_sql "SELECT dagsched.trigger('chain')")
	state=$(bench_sql "SELECT dagsched.wait($run_id, '300 s')")
	[[ $state == success ]] || { echo "error: chain run $run_id ended $state" >&2; return 1; }
	bench_sql "SELECT round(extract(epoch FROM max(finished_at) - min(started_at)) * 1000 / $N, 3)
		FROM dagsched.task_run WHERE run_id = $run_id"
}

section "before the purge (history kept)"
chain_once >/dev/null # warm-up
before=()
for i in 1 2 3 4 5; do before+=("$(chain_once)"); done
b=$(printf '%s\n' "${before[@]}" | median)
printf 'chain time / task: %s ms (median of 5: %s)\n' "$b" "${before[*]}"

section "during the purge (retention 30 days: the scheduler purges)"
bench_sql "ALTER SYSTEM RESET dagsched.history_retention" >/dev/null
bench_sql "SELECT pg_reload_conf()" >/dev/null
t0=$(date +%s.%N)
during=()
for ((i = 0; i < 600; i++)); do
	left=$(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'hist'")
	((left == 0)) && break
	# only chains that ran entirely while history was left count
	per=$(chain_once) || exit 1
	left2=$(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'hist'")
	((left2 > 0)) && during+=("$per")
done
t1=$(date +%s.%N)
left=$(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'hist'")
if ((${#during[@]} == 0)); then
	echo "the purge ended before a chain could run alongside it"
	exit 1
fi
d=$(printf '%s\n' "${during[@]}" | median)
printf 'chain time / task: %s ms (median of %d chains run during the purge)\n' "$d" "${#during[@]}"
printf 'purge of %s runs (%s task_run rows) took %.1f s; runs left: %s\n' \
	"$HIST_RUNS" "$((HIST_RUNS * 5))" \
	"$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$left"
echo "chain runs kept: $(bench_sql "SELECT count(*) FROM dagsched.dag_run WHERE dag_name = 'chain'")"

section "result"
r=$(ratio "$d" "$b")
printf 'ratio during / before = %s   (target <= 2: %s)\n' "$r" \
	"$(awk -v r="$r" 'BEGIN { print (r != "nan" && r <= 2) ? "MET" : "NOT MET" }')"
