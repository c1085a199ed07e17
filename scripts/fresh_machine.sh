#!/usr/bin/env bash
# scripts/fresh_machine.sh -- the README's two commands on a machine that has
# only PostgreSQL 15, the way a new user meets them.
#
#   sudo bash scripts/fresh_machine.sh [DIR]
#
# 1. debootstrap --variant=minbase bookworm DIR (a minimal Debian 12 root,
#    from Debian's archive; DIR defaults to /var/tmp/dagsched-fresh, and is
#    recreated);
# 2. inside it: apt-get install postgresql-15 gcc make git, nothing else
#    (no recommends);
# 3. a fresh clone of this repository's HEAD (git clone inside the root, from
#    a read-only bind mount), in /root/dagsched as a user would have it;
# 4. in a chroot, as root: `make demo`, then `make test` -- they must install
#    what they lack themselves (scripts/deps.sh) and pass.
#
# /proc, /sys and /dev are mounted inside for the duration and unmounted at
# the end (also on failure); the root is left in DIR for inspection (delete
# it with: rm -rf DIR, after checking `findmnt -R DIR` shows nothing).  Services
# are not started inside (usr/sbin/policy-rc.d), so the Debian package's own
# cluster stays down.  Keep a log with: ... 2>&1 | tee fresh_machine.log
#
# Environment:
#   FRESH_MIRROR   Debian mirror (default http://deb.debian.org/debian)
#   FRESH_REPO     repository to clone (default: the one holding this script)
#   FRESH_REV      revision to check out (default: HEAD of FRESH_REPO)
#   FRESH_REUSE=1  keep an existing DIR with postgresql-15 already installed
#                  (skips steps 1-2; the clone and both commands run anew)
#
# Exits non-zero when a step fails.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
	echo "error: debootstrap and chroot need root: sudo bash $0 $*" >&2
	exit 1
fi
command -v debootstrap >/dev/null || {
	echo "error: debootstrap is not installed: apt-get install -y debootstrap" >&2
	exit 1
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=${1:-/var/tmp/dagsched-fresh}
root=$(realpath -m "$root")
mirror=${FRESH_MIRROR:-http://deb.debian.org/debian}
# the repository itself (for a worktree: the main .git, which holds all objects)
repo=${FRESH_REPO:-$(git -C "$here" rev-parse --path-format=absolute --git-common-dir)}
rev=${FRESH_REV:-$(git -C "$here" rev-parse HEAD)}

case "$root" in
	/ | /bin* | /boot* | /dev* | /etc* | /lib* | /proc* | /sys* | /usr* | /work*)
		echo "error: refusing to use $root as the new root" >&2
		exit 1
		;;
esac

section() { printf '\n==== %s ====\n' "$*"; }

mounts=()
unmount_all() {
	local i m
	for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
		m=${mounts[$i]}
		umount -R "$m" 2>/dev/null || umount -R -l "$m" 2>/dev/null || true
	done
	mounts=()
}
on_exit() {
	local rc=$?
	# servers the tests may have left up inside would keep /dev busy
	if [[ -d "$root/proc" ]]; then
		local p
		for p in /proc/[0-9]*; do
			if [[ "$(readlink "$p/root" 2>/dev/null)" == "$root" ]]; then
				kill -9 "${p#/proc/}" 2>/dev/null || true
			fi
		done
	fi
	unmount_all
	if findmnt -R "$root" >/dev/null 2>&1 && [[ -n "$(findmnt -n -R -o TARGET "$root" | grep -v "^$root\$" || true)" ]]; then
		echo "warning: still mounted under $root:" >&2
		findmnt -R "$root" >&2 || true
	fi
	if [[ $rc -eq 0 ]]; then
		section "fresh machine: make demo and make test passed (root kept in $root)"
	else
		section "fresh machine: FAILED (exit $rc); root kept in $root"
	fi
	exit $rc
}
trap on_exit EXIT

mount_into() {
	# mount_into TYPE|--rbind SOURCE TARGET-inside-root
	local target=$root$3
	mkdir -p "$target"
	if [[ "$1" == --rbind ]]; then
		mount --rbind "$2" "$target"
		mount --make-rslave "$target"
	else
		mount -t "$1" "$2" "$target"
	fi
	mounts+=("$target")
}

in_root() {
	# a clean login-like environment, as a user would have in a root shell
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		DEBIAN_FRONTEND=noninteractive "$@"
}

# ---------------------------------------------------------------- 1. root
if [[ -n "${FRESH_REUSE:-}" && -x "$root/usr/lib/postgresql/15/bin/postgres" ]]; then
	section "reusing $root (FRESH_REUSE)"
else
	section "1. debootstrap --variant=minbase bookworm $root $mirror"
	if findmnt -R "$root" 2>/dev/null | grep -q . && [[ -n "$(findmnt -n -R -o TARGET "$root" | grep -v "^$root\$" || true)" ]]; then
		echo "error: something is mounted under $root; unmount it first" >&2
		exit 1
	fi
	rm -rf "$root"
	mkdir -p "$root"
	debootstrap --variant=minbase bookworm "$root" "$mirror"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
# no service starts inside the chroot (the package's default cluster)
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

mount_into proc proc /proc
mount_into sysfs sysfs /sys
mount_into --rbind /dev /dev

# ---------------------------------------------------------------- 2. packages
if [[ -z "${FRESH_REUSE:-}" || ! -x "$root/usr/lib/postgresql/15/bin/postgres" ]]; then
	section "2. apt-get install postgresql-15 gcc make git"
	echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
	in_root apt-get -q update
	in_root apt-get -q install -y --no-install-recommends postgresql-15 gcc make git
fi
echo "inside: $(in_root /usr/lib/postgresql/15/bin/postgres --version); $(in_root gcc --version | head -n 1)"
for p in postgresql-server-dev-15 libipc-run-perl clang-14 locales; do
	if in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		echo "$p: installed before make (expected: not)"
	else
		echo "$p: not installed (make demo / make test must see to it)"
	fi
done

# ---------------------------------------------------------------- 3. clone
section "3. git clone ($rev)"
mount_into --rbind "$repo" /mnt/dagsched-src
mount -o remount,bind,ro "$root/mnt/dagsched-src" 2>/dev/null || true
rm -rf "$root/root/dagsched"
in_root git -c safe.directory='*' clone -q /mnt/dagsched-src /root/dagsched
in_root git -c safe.directory='*' -C /root/dagsched checkout -q "$rev"
in_root git -C /root/dagsched log -1 --format='%h %s'
umount -R "$root/mnt/dagsched-src"
unset 'mounts[-1]'

# ---------------------------------------------------------------- 4. make
section "4a. make demo (chroot, as root, in /root/dagsched)"
in_root bash -c 'cd /root/dagsched && make demo'

section "4b. make test (chroot, as root, in /root/dagsched)"
# t/044 must find the German locale that make test generates, not skip
in_root bash -c 'cd /root/dagsched && DAGSCHED_REQUIRE_TEST_LOCALE=1 make test'
