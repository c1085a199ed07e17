#!/bin/bash
#
# bench/fanout.sh - fan-out throughput: 2,000 independent tasks, 8 workers
#
# dagsched: one run of N (2,000) independent `SELECT 1` tasks with
# dagsched.max_workers = 8; tasks/second = N / (max(finished_at) -
# min(started_at)).  One warm-up run (not counted), then the median of RUNS.
#
# Baselines, same cluster, same run:
#   * `pgbench -n -N -c 8 -j 2 -T T` tps (median of PGBENCH_RUNS);
#     target: dagsched >= 0.5 x pgbench tps.
#   * pg_cron (postgresql-15-cron) running N jobs `SELECT 1`, all scheduled
#     '* * * * *' and so due at the same minute, in its two modes:
#       - default mode: a libpq connection per job (cron.host = the socket
#         directory, trust auth, max_connections = 300);
#       - background-worker mode: cron.use_background_workers = on,
#         max_worker_processes = 128 (a postmaster setting: the cluster is
#         restarted between the modes).
#     All other pg_cron settings are defaults (cron.max_running_jobs = 32).
#     jobs/second = completed / (max(end_time) - min(start_time)) over each
#     job's first run at that minute, from cron.job_run_details.
#     target: dagsched >= 10 x pg_cron jobs/second.
#   If pg_cron cannot complete in a mode, what happened is printed and the
#   script goes on.
#
# dagsched runs alternate with the pgbench runs, and RUNS_AFTER (2) more
# dagsched runs follow the pg_cron measurements, so that the median is not
# taken under different load from the baselines'.
#
# Environment: N (2000), RUNS (3), RUNS_AFTER (2), PGBENCH_RUNS (3), PGBENCH_T (10 s),
# CRON_DEADLINE (180 s after the minute boundary), SKIP_PGCRON=1,
# plus those of bench/common.sh.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/fanout.sh

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"

N=${N:-2000}
RUNS=${RUNS:-3}
PGBENCH_RUNS=${PGBENCH_RUNS:-3}
PGBENCH_T=${PGBENCH_T:-10}
CRON_DEADLINE=${CRON_DEADLINE:-180}

have_cron=
if [[ -z "${SKIP_PGCRON:-}" && -f "$("$PG_CONFIG" --pkglibdir)/pg_cron.so" ]]; then
	have_cron=1
fi

echo "dagsched benchmark: fan-out ($N independent SELECT 1 tasks, 8 workers)"
bench_init
if [[ -n $have_cron ]]; then
	bench_cluster_start "shared_preload_libraries = 'dagsched,pg_cron'
cron.database_name = 'postgres'
cron.host = '$BENCH_DIR'
max_connections = 300"
else
	bench_cluster_start "max_connections = 300"
fi
bench_sql "CREATE EXTENSION dagsched" 2>&1 | grep -v '^$' || true
[[ -n $have_cron ]] && bench_sql "CREATE EXTENSION pg_cron"
bench_machine
echo "settings:   dagsched.max_workers=$(bench_sql 'SHOW dagsched.max_workers')," \
	"max_worker_processes=$(bench_sql 'SHOW max_worker_processes')," \
	"max_connections=$(bench_sql 'SHOW max_connections')," \
	"synchronous_commit=$(bench_sql 'SHOW synchronous_commit'), fsync=$(bench_sql 'SHOW fsync')"

bench_psql <<SQL
INSERT INTO dagsched.dag (dag_name) VALUES ('fan');
INSERT INTO dagsched.task (dag_name, task_name, command)
SELECT 'fan', 't' || i, 'SELECT 1' FROM generate_series(1, $N) AS i;
SQL

# ---------------------------------------------------------------- dagsched
# one run: prints "run_id tasks_per_s span_ms max_concurrency_seen"
fan_run() {
	local run_id state
	run_id=$(bench_sql "SELECT dagsched.trigger('fan')")
	state=$(bench_sql "SELECT dagsched.wait($run_id, '300 s')")
	if [[ $state != success ]]; then
		echo "error: run $run_id ended '$state'" >&2
		bench_sql "SELECT state, count(*) FROM dagsched.task_run WHERE run_id = $run_id GROUP BY 1" >&2
		return 1
	fi
	bench_sql "
		SELECT $run_id,
		       round(count(*) / extract(epoch FROM max(finished_at) - min(started_at)), 1),
		       round(extract(epoch FROM max(finished_at) - min(started_at)) * 1000, 1),
		       count(DISTINCT pid)
		FROM dagsched.task_run WHERE run_id = $run_id AND state = 'success'
		HAVING count(*) = $N" | tr '|' ' '
}

# dagsched runs and pgbench runs alternate, so both see the same load
section "dagsched: $N independent tasks, alternating with pgbench -n -N -c 8 -j 2 -T $PGBENCH_T"
bench_pgbench -i -s 1 -q >/dev/null 2>&1
rates=() tpss=()
ds_once() {
	local label=$1 rid r= s p
	read -r rid r s p < <(fan_run) || true
	[[ -n "$r" ]] || { echo "error: dagsched run failed" >&2; exit 1; }
	printf '%-8s dagsched run %-4s  %9.1f tasks/s  span %8.1f ms  worker pids %s%s\n' \
		"$label" "$rid" "$r" "$s" "$p" "$([[ $label == warm-up ]] && echo '  (not counted)')"
	[[ $label == warm-up ]] || rates+=("$r")
}
pgb_once() {
	local out t
	out=$(bench_pgbench -n -N -c 8 -j 2 -T "$PGBENCH_T" 2>&1)
	t=$(pgbench_field "$out" tps)
	printf '%-8s pgbench           %9.1f tps      latency average %.3f ms\n' "$1" "$t" "$(pgbench_field "$out" latency)"
	tpss+=("$t")
}
ds_once warm-up
for ((i = 1; i <= RUNS || i <= PGBENCH_RUNS; i++)); do
	((i <= RUNS)) && ds_once "rep $i"
	((i <= PGBENCH_RUNS)) && pgb_once "rep $i"
done
pgb_tps=$(printf '%s\n' "${tpss[@]}" | median)

# ---------------------------------------------------------------- pg_cron
# pgcron_measure LABEL: schedule N jobs for the next minute, wait for their
# first runs, unschedule; sets cron_rate (or leaves it empty) and prints.
cron_rate=
pgcron_measure() {
	local label=$1 base now_s wait_s boundary deadline st done ok failed running line
	cron_rate=
	echo "pg_cron settings: use_background_workers=$(bench_sql 'SHOW cron.use_background_workers')," \
		"max_running_jobs=$(bench_sql 'SHOW cron.max_running_jobs')," \
		"max_connections=$(bench_sql 'SHOW max_connections')," \
		"max_worker_processes=$(bench_sql 'SHOW max_worker_processes')," \
		"cron.host=$(bench_sql 'SHOW cron.host')"
	base=$(bench_sql "SELECT coalesce(max(runid), 0) FROM cron.job_run_details")
	# leave pg_cron time to load the jobs before the boundary
	now_s=$(bench_sql "SELECT extract(second FROM now())::int")
	if ((now_s > 50)); then
		sleep $((61 - now_s))
	fi
	bench_sql "SELECT count(cron.schedule('j' || i, '* * * * *', 'SELECT 1'))
	           FROM generate_series(1, $N) AS i" >/dev/null
	boundary=$(bench_sql "SELECT date_trunc('minute', now()) + interval '1 minute'")
	wait_s=$(bench_sql "SELECT ceil(extract(epoch FROM '$boundary'::timestamptz - now()))::int")
	echo "$label: $N jobs scheduled '* * * * *'; due at $boundary (in ${wait_s} s); deadline ${CRON_DEADLINE} s after it"
	deadline=$(($(date +%s) + wait_s + CRON_DEADLINE))
	# each job's first run after the boundary
	local first="
		WITH f AS (
			SELECT DISTINCT ON (jobid) jobid, status, start_time, end_time, return_message
			FROM cron.job_run_details
			WHERE runid > $base AND start_time >= '$boundary'
			ORDER BY jobid, runid)"
	sleep "$wait_s"
	while :; do
		line=$(bench_sql "$first
			SELECT count(*) FILTER (WHERE status IN ('succeeded', 'failed')),
			       count(*) FILTER (WHERE status = 'succeeded'),
			       count(*) FILTER (WHERE status = 'failed'),
			       count(*) FILTER (WHERE status NOT IN ('succeeded', 'failed'))
			FROM f" | tr '|' ' ')
		read -r done ok failed running <<<"$line"
		if ((done >= N)) || (($(date +%s) >= deadline)); then
			break
		fi
		sleep 2
	done
	bench_sql "SELECT count(cron.unschedule(jobid)) FROM cron.job" >/dev/null
	echo "$label: first runs finished $done of $N (succeeded $ok, failed $failed, still running $running)"
	if ((failed > 0)); then
		echo "$label: failure messages:"
		bench_sql "$first SELECT '  ' || count(*) || ' x ' || coalesce(return_message, '?')
			FROM f WHERE status = 'failed' GROUP BY return_message ORDER BY count(*) DESC LIMIT 5"
	fi
	if ((done < N)); then
		echo "$label: pg_cron did not complete all $N jobs within ${CRON_DEADLINE} s of the boundary"
	fi
	if ((ok > 0)); then
		line=$(bench_sql "$first
			SELECT round(count(*) / nullif(extract(epoch FROM max(end_time) - min(start_time)), 0), 1),
			       round(extract(epoch FROM max(end_time) - min(start_time)) * 1000, 1),
			       round(extract(epoch FROM min(start_time) - '$boundary'::timestamptz) * 1000, 1),
			       round(extract(epoch FROM max(end_time) - '$boundary'::timestamptz) * 1000, 1)
			FROM f WHERE status = 'succeeded'" | tr '|' ' ')
		read -r cron_rate span first_ms last_ms <<<"$line"
		printf '%s: %s jobs/s over the succeeded first runs (first start %s ms after the boundary, span %s ms, last end %s ms after the boundary)\n' \
			"$label" "$cron_rate" "$first_ms" "$span" "$last_ms"
		echo "$label: later runs (next minute) started before unscheduling: $(bench_sql "
			SELECT count(*) - count(DISTINCT jobid) FROM cron.job_run_details
			WHERE runid > $base AND start_time >= '$boundary'")"
		((done >= N)) || cron_rate="$cron_rate (incomplete)"
	fi
}

cron_default=
cron_bgw=
if [[ -n $have_cron ]]; then
	section "baseline: pg_cron, default mode (libpq connections)"
	if pgcron_measure "pg_cron default"; then cron_default=$cron_rate; else
		echo "pg_cron default: measurement failed (see above)"
	fi

	section "baseline: pg_cron, background-worker mode"
	bench_conf "cron.use_background_workers = on
max_worker_processes = 128"
	if bench_cluster_restart; then
		if pgcron_measure "pg_cron bgw"; then cron_bgw=$cron_rate; else
			echo "pg_cron bgw: measurement failed (see above)"
		fi
	else
		echo "pg_cron bgw: restart with cron.use_background_workers = on failed"
	fi
else
	section "pg_cron baseline skipped (pg_cron.so not installed or SKIP_PGCRON set)"
fi

if [[ -n $have_cron && ${RUNS_AFTER:-2} -gt 0 ]]; then
	section "dagsched again, after pg_cron (same cluster, pg_cron jobs unscheduled)"
	for ((i = 1; i <= ${RUNS_AFTER:-2}; i++)); do
		ds_once "after $i"
	done
fi
ds_rate=$(printf '%s\n' "${rates[@]}" | median)

# ---------------------------------------------------------------- result
vs_cron() {
	if [[ -z "$1" ]]; then
		echo "n/a"
	else
		local x
		x=$(ratio "$ds_rate" "${1%% *}")
		echo "${x}x  (target >= 10x: $(awk -v r="$x" 'BEGIN { print (r >= 10) ? "MET" : "NOT MET" }'))"
	fi
}
r=$(ratio "$ds_rate" "$pgb_tps")
section "result (medians over ${#rates[@]} dagsched runs, $PGBENCH_RUNS pgbench runs)"
printf 'dagsched                   %10.1f tasks/s\n' "$ds_rate"
printf 'pgbench -N -c 8 -j 2       %10.1f tps\n' "$pgb_tps"
printf 'pg_cron default mode       %10s jobs/s\n' "${cron_default:-n/a}"
printf 'pg_cron background workers %10s jobs/s\n' "${cron_bgw:-n/a}"
printf 'load average at the end     %s\n' "$(bench_load)"
printf 'dagsched / pgbench tps     = %s   (target >= 0.5: %s)\n' "$r" \
	"$(awk -v r="$r" 'BEGIN { print (r != "nan" && r >= 0.5) ? "MET" : "NOT MET" }')"
printf 'dagsched / pg_cron default = %s\n' "$(vs_cron "$cron_default")"
printf 'dagsched / pg_cron bgw     = %s\n' "$(vs_cron "$cron_bgw")"
