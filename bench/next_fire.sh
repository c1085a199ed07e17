#!/bin/bash
#
# bench/next_fire.sh - throughput of dagsched.next_fire()
#
# Calls next_fire() over N rows (default 1,000,000) with one schedule in a
# zone with DST, as a caller ranking many start times would, and reports
# calls per second, the median of RUNS runs (default 3).  The baseline is
# the same query with a trivial builtin (t + interval '1 minute') in place
# of next_fire(), so the ratio is what the cron engine costs per row over
# the executor's own overhead.
#
# Connects through the usual PGHOST, PGPORT, PGDATABASE, PGUSER; assumes
# dagsched is installed there.  Leaves nothing behind.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/next_fire.sh
#
set -euo pipefail

N=${N:-1000000}
RUNS=${RUNS:-3}
SCHEDULE=${SCHEDULE:-'*/5 * * * *'}
ZONE=${ZONE:-Europe/Warsaw}
PSQL=(psql -X -q -t -A -v ON_ERROR_STOP=1)

# one start time per minute from 2026-01-01, across both DST changes
rows="generate_series('2026-01-01 00:00+00'::timestamptz,
                      '2026-01-01 00:00+00'::timestamptz + ($N - 1) * interval '1 minute',
                      interval '1 minute') AS t"

# milliseconds the query takes, timed on the server so the client's share
# is left out
time_query() {
	"${PSQL[@]}" <<SQL
DO \$\$
DECLARE
	t0 timestamptz;
	n bigint;
BEGIN
	t0 := clock_timestamp();
	$1 INTO n;
	IF n <> $N THEN
		RAISE EXCEPTION 'expected $N rows, got %', n;
	END IF;
	RAISE NOTICE '%', round(extract(epoch FROM clock_timestamp() - t0) * 1000, 1);
END
\$\$;
SQL
}

median() {
	sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

run() {
	local i
	for ((i = 0; i < RUNS; i++)); do
		time_query "$1" 2>&1 | sed -n 's/^NOTICE: *//p'
	done | median
}

fire_sql="SELECT count(dagsched.next_fire('$SCHEDULE', t, '$ZONE')) FROM $rows"
base_sql="SELECT count(t + interval '1 minute') FROM $rows"

# warm up: load the library, the zone and the caches
time_query "$fire_sql" >/dev/null 2>&1

fire_ms=$(run "$fire_sql")
base_ms=$(run "$base_sql")

awk -v n="$N" -v f="$fire_ms" -v b="$base_ms" -v s="$SCHEDULE" -v z="$ZONE" 'BEGIN {
	printf "next_fire(%s, t, %s) over %d rows, median of runs\n", s, z, n
	printf "  next_fire: %9.1f ms  %12.0f calls/s\n", f, n / (f / 1000)
	printf "  baseline:  %9.1f ms  %12.0f rows/s  (t + interval)\n", b, n / (b / 1000)
	printf "  ratio:     %9.2f x baseline time\n", f / b
}'
