#!/bin/bash
#
# bench/hop.sh - cost of one dependency hop
#
# A chain of N (200) `SELECT 1` tasks, task i depending on task i-1.  For each
# run: trigger, then wait in a separate statement.  A hop is
# next.started_at - prev.finished_at over consecutive tasks: what dagsched
# spends between one task's end and the next one's start (commit of the
# finished task + queueing + wake-up + claim).  Prints median and p99 hop
# and the whole chain time (max finished_at - min started_at) per run, and
# medians over RUNS runs (after one warm-up run that is not counted).  Chain
# runs alternate with the pgbench runs, so both see the same machine load.
#
# Baseline, same cluster, same run: `pgbench -n -N -c 1 -T T` average
# latency (one small write transaction + commit), median of PGBENCH_RUNS.
# Target: median hop <= 1.5 x that latency.
#
# Environment: N (200), RUNS (5), PGBENCH_RUNS (3), PGBENCH_T (10 s),
# plus those of bench/common.sh.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/hop.sh

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"

N=${N:-200}
RUNS=${RUNS:-5}
PGBENCH_RUNS=${PGBENCH_RUNS:-3}
PGBENCH_T=${PGBENCH_T:-10}

echo "dagsched benchmark: dependency hop (chain of $N SELECT 1 tasks)"
bench_init
bench_cluster_start
bench_sql "CREATE EXTENSION dagsched" 2>&1 | grep -v '^$' || true
bench_machine
echo "settings:   dagsched.max_workers=$(bench_sql 'SHOW dagsched.max_workers')," \
	"max_worker_processes=$(bench_sql 'SHOW max_worker_processes')," \
	"synchronous_commit=$(bench_sql 'SHOW synchronous_commit'), fsync=$(bench_sql 'SHOW fsync')"

bench_psql <<SQL
INSERT INTO dagsched.dag (dag_name) VALUES ('chain');
INSERT INTO dagsched.task (dag_name, task_name, command, depends_on)
SELECT 'chain', 't' || i, 'SELECT 1',
       CASE WHEN i = 1 THEN '{}'::text[] ELSE ARRAY['t' || (i - 1)] END
FROM generate_series(1, $N) AS i;
SQL

# one run; prints "median_ms p99_ms chain_ms hops" and appends hops to $hops_file
hops_file=$BENCH_DIR/hops.txt
: >"$hops_file"
chain_run() {
	local run_id state
	run_id=$(bench_sql "SELECT dagsched.trigger('chain')")
	state=$(bench_sql "SELECT dagsched.wait($run_id, '120 s')")
	if [[ $state != success ]]; then
		echo "error: run $run_id ended '$state'" >&2
		bench_sql "SELECT state, count(*) FROM dagsched.task_run WHERE run_id = $run_id GROUP BY 1" >&2
		return 1
	fi
	bench_sql "
		SELECT round(extract(epoch FROM n.started_at - p.finished_at) * 1000, 3)
		FROM dagsched.task_run p
		JOIN dagsched.task_run n ON n.run_id = p.run_id AND n.depends_on = ARRAY[p.task_name]
		WHERE p.run_id = $run_id" >"$BENCH_DIR/hops.$run_id"
	if [[ -n "${2:-}" ]]; then cat "$BENCH_DIR/hops.$run_id" >>"$hops_file"; fi
	printf '%s %s %s %s %s\n' "$run_id" \
		"$(median <"$BENCH_DIR/hops.$run_id")" "$(p99 <"$BENCH_DIR/hops.$run_id")" \
		"$(bench_sql "SELECT round(extract(epoch FROM max(finished_at) - min(started_at)) * 1000, 1)
		              FROM dagsched.task_run WHERE run_id = $run_id")" \
		"$(wc -l <"$BENCH_DIR/hops.$run_id")"
}

# chain runs and pgbench runs alternate, so both see the same load
section "dagsched chain runs, alternating with pgbench -n -N -c 1 -T $PGBENCH_T"
bench_pgbench -i -s 1 -q >/dev/null 2>&1
read -r rid m p c h < <(chain_run warmup) || true
[[ -n "${m:-}" ]] || exit 1
printf 'warm-up  chain run %-4s  median hop %7.3f ms  p99 hop %7.3f ms  chain %7.1f ms  (%s hops; not counted)\n' \
	"$rid" "$m" "$p" "$c" "$h"
meds=() p99s=() chains=() lats=()
for ((i = 1; i <= RUNS || i <= PGBENCH_RUNS; i++)); do
	if ((i <= RUNS)); then
		m=
		read -r rid m p c h < <(chain_run "run$i" count) || true
		[[ -n "$m" ]] || exit 1
		printf 'rep %-3s  chain run %-4s  median hop %7.3f ms  p99 hop %7.3f ms  chain %7.1f ms  (%s hops)\n' \
			"$i" "$rid" "$m" "$p" "$c" "$h"
		meds+=("$m") p99s+=("$p") chains+=("$c")
	fi
	if ((i <= PGBENCH_RUNS)); then
		out=$(bench_pgbench -n -N -c 1 -T "$PGBENCH_T" 2>&1)
		l=$(pgbench_field "$out" latency)
		printf 'rep %-3s  pgbench             latency average %7.3f ms  tps %.1f\n' "$i" "$l" "$(pgbench_field "$out" tps)"
		lats+=("$l")
	fi
done

med_hop=$(printf '%s\n' "${meds[@]}" | median)
p99_hop=$(printf '%s\n' "${p99s[@]}" | median)
pooled_med=$(median <"$hops_file")
pooled_p99=$(p99 <"$hops_file")
chain=$(printf '%s\n' "${chains[@]}" | median)
lat=$(printf '%s\n' "${lats[@]}" | median)
r=$(ratio "$med_hop" "$lat")

section "result (medians over $RUNS chain runs, $PGBENCH_RUNS pgbench runs)"
printf 'median hop                 %8.3f ms   (pooled over all %d hops: %.3f ms)\n' \
	"$med_hop" "$(wc -l <"$hops_file")" "$pooled_med"
printf 'p99 hop                    %8.3f ms   (pooled: %.3f ms)\n' "$p99_hop" "$pooled_p99"
printf 'whole chain (%d tasks)    %8.1f ms\n' "$N" "$chain"
printf 'pgbench -N -c 1 latency    %8.3f ms\n' "$lat"
printf 'load average at the end     %s\n' "$(bench_load)"
printf 'ratio median hop / pgbench latency = %s   (target <= 1.5: %s)\n' "$r" \
	"$(awk -v r="$r" 'BEGIN { print (r != "nan" && r <= 1.5) ? "MET" : "NOT MET" }')"
# The worker claims the next task in the transaction that records the
# previous one's success, so next.started_at and prev.finished_at are stamped
# in one transaction, before its commit: the hop above does not include the
# commit.  The chain's wall time per task does -- the honest cost of a hop.
per_task=$(awk -v c="$chain" -v n="$N" 'BEGIN { printf "%.3f", c / n }')
r2=$(ratio "$per_task" "$lat")
printf 'chain wall time per task   %8.3f ms   (includes each task'"'"'s commit)\n' "$per_task"
printf 'ratio per-task time / pgbench latency = %s   (target <= 1.5: %s)\n' "$r2" \
	"$(awk -v r="$r2" 'BEGIN { print (r != "nan" && r <= 1.5) ? "MET" : "NOT MET" }')"
