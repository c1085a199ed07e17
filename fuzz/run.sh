#!/bin/bash
#
# run.sh: replay the regression inputs, then fuzz each harness for
# FUZZ_SECONDS (default 60) on a scratch copy of its seed corpus, so that
# nothing the fuzzer finds is written into the repository.  Exits non-zero
# if a regression input fails or a crash is found; a crash's input is kept
# under fuzz/build/artifacts/ and named in the output.
#
# Copyright (c) 2026, dagsched developers

set -u
cd "$(dirname "$0")"
SECONDS_EACH=${FUZZ_SECONDS:-60}
BUILD=build
status=0

for h in cron dag; do
	bin=$BUILD/${h}_fuzz
	work=$(mktemp -d "${TMPDIR:-/tmp}/dagsched-fuzz-$h.XXXXXX")
	mkdir -p "$work/corpus" "$BUILD/artifacts"
	cp corpus/$h/* "$work/corpus/"

	# every crash found so far must stay fixed
	if compgen -G "regressions/$h/*" >/dev/null; then
		echo "== $h: regression inputs"
		if ! "$bin" -runs=0 regressions/$h/* >"$work/regress.log" 2>&1; then
			tail -40 "$work/regress.log"
			echo "FAIL: $h regression input crashes"
			status=1
		fi
	fi

	echo "== $h: fuzzing for $SECONDS_EACH s"
	"$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 \
		-timeout=25 -rss_limit_mb=2048 -max_len=4096 \
		-artifact_prefix="$BUILD/artifacts/$h-" \
		"$work/corpus" >"$work/fuzz.log" 2>&1
	rc=$?
	grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::|^Done ' "$work/fuzz.log"
	if [ $rc -ne 0 ]; then
		grep -E -A3 'check failed|ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error' "$work/fuzz.log" | head -30
		grep -E 'Test unit written to' "$work/fuzz.log"
		echo "FAIL: $h harness found a crash (exit $rc); log $work/fuzz.log"
		status=1
	else
		rm -rf "$work"
	fi
done
exit $status
