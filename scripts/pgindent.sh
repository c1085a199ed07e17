#!/usr/bin/env bash
# scripts/pgindent.sh -- format src/*.c and src/*.h as PostgreSQL's pgindent
# does, without a PostgreSQL source tree: Debian's pg_bsd_indent (package
# pg-bsd-indent) with pgindent's options, and a typedef list gathered from
# the server's and libpq's headers and ours (pgindent's own list is built
# from a compiled PostgreSQL tree, which a user of PGXS does not have).
#
#   bash scripts/pgindent.sh           rewrite the files that differ
#   bash scripts/pgindent.sh --check   print the differences; exit 1 if any
#
# Like pgindent, it then puts a definition's pointer return type back as
# "type *" on its own line (pg_bsd_indent aligns it like a declaration).
#
# Copyright (c) 2026, dagsched developers
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
check=0
[[ "${1:-}" == "--check" ]] && check=1

indent=$(command -v pg_bsd_indent || true)
if [[ -z "$indent" ]]; then
	echo "pgindent.sh: pg_bsd_indent not found (apt-get install pg-bsd-indent)" >&2
	exit 2
fi
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# every name a typedef, a struct/union/enum closed by "} Name;" or a
# function-pointer typedef declares
{
	grep -rhoE '^\}\s*[A-Za-z_][A-Za-z0-9_]*\s*;' \
		"$("$PG_CONFIG" --includedir-server)" "$("$PG_CONFIG" --includedir)" src |
		sed -E 's/^\}\s*//; s/\s*;//'
	grep -rhoE '^typedef\s+[^;(]*[ *]([A-Za-z_][A-Za-z0-9_]*)\s*;' \
		"$("$PG_CONFIG" --includedir-server)" "$("$PG_CONFIG" --includedir)" src |
		sed -E 's/.*[ *]([A-Za-z_][A-Za-z0-9_]*)\s*;/\1/'
	grep -rhoE '^typedef\s+[^;]*\(\s*\*\s*[A-Za-z_][A-Za-z0-9_]*\s*\)' \
		"$("$PG_CONFIG" --includedir-server)" "$("$PG_CONFIG" --includedir)" src |
		sed -E 's/.*\(\s*\*\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)/\1/'
} | sort -u >"$work/typedefs"

status=0
for f in src/*.c src/*.h; do
	out="$work/$(basename "$f")"
	"$indent" -bad -bap -bbb -bc -bl -cli1 -cp33 -cdb -nce -d0 -di12 -nfc1 \
		-i4 -l79 -lp -lpl -nip -npro -sac -tpg -ts4 -U"$work/typedefs" \
		"$f" "$out"
	sed -i -E 's/^([A-Za-z_][A-Za-z0-9_ ]*[A-Za-z0-9_])\t+ *\*$/\1 */' "$out"
	if ! cmp -s "$f" "$out"; then
		if ((check)); then
			diff -u "$f" "$out" || true
			status=1
		else
			cp "$out" "$f"
			echo "formatted $f"
		fi
	fi
done
exit $status
