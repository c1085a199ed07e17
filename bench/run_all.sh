#!/bin/bash
#
# bench/run_all.sh - run every dagsched benchmark, one after the other
#
# Runs bench/hop.sh, bench/fanout.sh and bench/schedule_lag.sh (each on its
# own throwaway cluster), prints their output and, at the end, the result
# sections together.  A benchmark that fails does not stop the others; the
# exit status is non-zero if any failed.  BENCH_OUT=file also writes the
# whole output to that file.  All variables of the individual scripts and of
# bench/common.sh pass through.  Takes about 6-8 minutes.
#
# Copyright (c) 2026, dagsched developers
#
# IDENTIFICATION
#	  bench/run_all.sh
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${BENCH_OUT:-}
tmp=$(mktemp -d /tmp/dagsched-bench-all.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

main() {
	local b rc failed=()
	for b in hop fanout schedule_lag; do
		printf '\n################ bench/%s.sh ################\n' "$b"
		"$here/$b.sh" 2>&1 | tee "$tmp/$b.out"
		rc=${PIPESTATUS[0]}
		if ((rc != 0)); then
			echo "bench/$b.sh FAILED (exit $rc)"
			failed+=("$b")
		fi
	done
	printf '\n################ summary ################\n'
	grep -m4 -E '^(date|machine|PostgreSQL|load):' "$tmp/hop.out" || true
	for b in hop fanout schedule_lag; do
		echo "--- $b ---"
		sed -n '/^==== result/,$p' "$tmp/$b.out" | sed 1d
	done
	if ((${#failed[@]})); then
		echo "FAILED: ${failed[*]}"
		return 1
	fi
}

if [[ -n $out ]]; then
	main | tee "$out"
	exit "${PIPESTATUS[0]}"
fi
main
