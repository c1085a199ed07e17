#!/bin/bash
#
# bench/result_memory.sh - does a task's result live in the worker's memory?
#
# Runs SQL tasks whose query returns ROWS (1,000,000) rows of WIDTH (200)
# bytes -- once as an ordinary task (run by a task worker, inside its
# transaction) and once in another database (run by a helper process) --
# and prints each process's peak RSS (VmHWM from /proc, sampled every 50 ms
# while the helper lives) next to that of an idle worker that ran
# `SELECT 1`.  Before 0.2 the worker held every row (298 MB for 1,000,000
# rows of 200 bytes); now it counts them and keeps the command tag.
#
# Environment: ROWS (1000000), WIDTH (200), plus those of bench/common.sh.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/result_memory.sh

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=bench/common.sh
. "$here/common.sh"

ROWS=${ROWS:-1000000}
WIDTH=${WIDTH:-200}

echo "dagsched benchmark: worker memory for a task returning $ROWS rows of $WIDTH bytes"
bench_init
bench_cluster_start "dagsched.worker_idle_timeout = 600"
bench_sql "CREATE EXTENSION dagsched" 2>&1 | grep -v '^$' || true
bench_sql "CREATE DATABASE other" >/dev/null
bench_machine

bench_psql <<SQL
INSERT INTO dagsched.dag (dag_name) VALUES ('small'), ('big'), ('big_other');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES ('small', 't', 'SELECT 1');
INSERT INTO dagsched.task (dag_name, task_name, command) VALUES
	('big', 't', 'SELECT i, repeat(''x'', $WIDTH) FROM generate_series(1, $ROWS) i');
INSERT INTO dagsched.task (dag_name, task_name, command, database) VALUES
	('big_other', 't', 'SELECT i, repeat(''x'', $WIDTH) FROM generate_series(1, $ROWS) i', 'other');
SQL

hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

run_and_report() {
	local dag=$1 run_id state pid output
	run_id=$(bench_sql "SELECT dagsched.trigger('$dag')")
	state=$(bench_sql "SELECT dagsched.wait($run_id, '600 s')")
	pid=$(bench_sql "SELECT pid FROM dagsched.task_run WHERE run_id = $run_id")
	output=$(bench_sql "SELECT output FROM dagsched.task_run WHERE run_id = $run_id")
	printf '%-10s %-8s output %-16s worker %6s peak RSS %8s kB\n' \
		"$dag" "$state" "'$output'" "$pid" "$(hwm_kb "$pid")"
}

section "a task worker (run in the worker's own transaction)"
run_and_report small
run_and_report big

section "a task in another database (run by a helper process)"
# the helper exits with the task: sample its peak while it lives
peak=0
run_id=$(bench_sql "SELECT dagsched.trigger('big_other')")
while [[ $(bench_sql "SELECT state FROM dagsched.dag_run WHERE run_id = $run_id") =~ ^(queued|running)$ ]]; do
	for p in $(bench_sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'dagsched database task'"); do
		h=$(hwm_kb "$p")
		((h > peak)) && peak=$h
	done
	sleep 0.05
done
printf '%-10s %-8s output %-16s helper peak RSS %8s kB (sampled)\n' big_other \
	"$(bench_sql "SELECT state FROM dagsched.dag_run WHERE run_id = $run_id")" \
	"'$(bench_sql "SELECT output FROM dagsched.task_run WHERE run_id = $run_id")'" "$peak"
