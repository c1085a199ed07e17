#!/bin/bash
#
# bench/validate.sh - cost of validating a 10,000-task DAG
#
# Inserts a 10,000-task DAG in one transaction, twice: as a chain (each task
# depends on the one before) and as a wide fan-in (one task depends on the
# other 9,999).  Times BEGIN + INSERT + COMMIT, so the deferred graph check
# that runs at COMMIT is included, and reports the median of RUNS runs.  The
# baseline inserts the same rows into a plain copy of dagsched.task (same
# columns, defaults, primary key and indexes; no triggers, no foreign key),
# so the ratio is what validation costs.
#
# Connects through the usual PGHOST, PGPORT, PGDATABASE, PGUSER; assumes
# dagsched is installed there.  Leaves nothing behind.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/validate.sh
#
set -euo pipefail

N=${N:-10000}
RUNS=${RUNS:-3}
DAG=v_bench_validate
PSQL=(psql -X -q -v ON_ERROR_STOP=1)

# the rows of each shape, as a SELECT over generate_series
chain_rows="SELECT '$DAG', 't' || i, 'SELECT 1',
       CASE WHEN i = 1 THEN '{}'::text[] ELSE ARRAY['t' || (i - 1)] END
FROM generate_series(1, $N) AS i"
fanin_rows="SELECT '$DAG', 't' || i, 'SELECT 1',
       CASE WHEN i < $N THEN '{}'::text[]
            ELSE ARRAY(SELECT 't' || j FROM generate_series(1, $N - 1) AS j) END
FROM generate_series(1, $N) AS i"

setup() {
	"${PSQL[@]}" <<SQL
SET client_min_messages = warning;
DROP TABLE IF EXISTS public.v_bench_plain_task;
CREATE TABLE public.v_bench_plain_task (LIKE dagsched.task INCLUDING ALL);
DELETE FROM dagsched.dag WHERE dag_name = '$DAG';
INSERT INTO dagsched.dag (dag_name) VALUES ('$DAG');
SQL
}

cleanup() {
	"${PSQL[@]}" <<SQL >/dev/null 2>&1 || true
DROP TABLE IF EXISTS public.v_bench_plain_task;
DELETE FROM dagsched.dag WHERE dag_name = '$DAG';
SQL
}
trap cleanup EXIT

# one timed transaction, in milliseconds; then empty the table again
time_once() {
	local table=$1 rows=$2 ms
	ms=$("${PSQL[@]}" <<SQL | awk '/^Time:/ { s += $2 } END { printf "%.1f", s }'
\timing on
BEGIN;
INSERT INTO $table (dag_name, task_name, command, depends_on) $rows;
COMMIT;
SQL
)
	"${PSQL[@]}" -c "DELETE FROM $table WHERE dag_name = '$DAG'" >/dev/null
	echo "$ms"
}

median() {
	tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

bench() {
	local label=$1 rows=$2 t b i ts=() bs=()
	for ((i = 0; i < RUNS; i++)); do
		ts+=("$(time_once dagsched.task "$rows")")
		bs+=("$(time_once public.v_bench_plain_task "$rows")")
	done
	t=$(echo "${ts[@]}" | median)
	b=$(echo "${bs[@]}" | median)
	printf "%-8s %6d tasks  dagsched.task %8.1f ms  plain table %8.1f ms  ratio %5.1fx  (runs: %s)\n" \
		"$label" "$N" "$t" "$b" "$(echo "$t $b" | awk '{ printf "%.1f", $1 / $2 }')" "${ts[*]}"
}

setup
bench chain "$chain_rows"
bench fan-in "$fanin_rows"
