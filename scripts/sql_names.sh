#!/usr/bin/env bash
# scripts/sql_names.sh -- SQL text on stdin, with the names src/states.h
# defines put in for their placeholders, on stdout.  The Makefile builds the
# install script (from sql/parts) and the upgrade script (from
# sql/dagsched--0.1--0.2.sql.in) through it, so that the catalog's state
# CHECKs, its unfinished-task and unfinished-run predicates and its
# name-length limit come from the same header as the C code:
#
#   @TS_ALL@       'pending', 'queued', ...   (TS_ALL_LIST)
#   @TS_ACTIVE@    TS_ACTIVE_LIST, the same way
#   @RS_ALL@       RS_ALL_LIST
#   @RS_ACTIVE@    RS_ACTIVE_LIST
#   @MAX_NAME_LEN@ DAGSCHED_MAX_NAME_LEN
#
# The C preprocessor expands the header's macros (lists are built from
# other macros).  Usage: bash scripts/sql_names.sh [cc] < in.sql > out.sql
#
# Copyright (c) 2026, dagsched developers
set -euo pipefail

cc=${1:-cc}
header="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/src/states.h"

# one "NAME value" line per placeholder; string pieces joined, quotes gone
values=$(printf '%s\n' \
	'#include "'"$header"'"' \
	'@TS_ALL@ TS_ALL_LIST' \
	'@TS_ACTIVE@ TS_ACTIVE_LIST' \
	'@RS_ALL@ RS_ALL_LIST' \
	'@RS_ACTIVE@ RS_ACTIVE_LIST' \
	'@MAX_NAME_LEN@ DAGSCHED_MAX_NAME_LEN' |
	$cc -E -P -x c - | grep '^@' | sed -E 's/" *"//g; s/"//g')

script=""
while read -r name value; do
	case "$name" in
		@MAX_NAME_LEN@) sql=$value ;;
		*) sql="'${value//,/\', \'}'" ;;
	esac
	[[ -n "$value" ]] || { echo "sql_names.sh: $name is empty" >&2; exit 1; }
	script+="s/$name/$sql/g;"
done <<<"$values"
out=$(sed -e "$script")
if grep -nE '@[A-Z][A-Z_]*@' <<<"$out" >&2; then
	echo "sql_names.sh: a placeholder above is not one states.h fills in" >&2
	exit 1
fi
printf '%s\n' "$out"
