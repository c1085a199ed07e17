# Makefile for dagsched (PGXS)

MODULE_big = dagsched
OBJS = \
	src/dagsched.o \
	src/cron.o \
	src/schedule_funcs.o \
	src/validate.o \
	src/shmem.o \
	src/dag.o \
	src/run.o \
	src/scheduler.o \
	src/worker.o \
	src/shell.o \
	src/dbtask.o \
	src/remote.o \
	src/api.o \
	src/version.o

EXTENSION = dagsched
# The install script of the current version is assembled from sql/parts, one
# file per concern.  Released versions are frozen byte for byte
# (sql/dagsched--0.1.sql is what 0.1 shipped) and reach the current version
# through the upgrade scripts.
DATA = sql/dagsched--0.1.sql sql/dagsched--0.1--0.2.sql
DATA_built = sql/dagsched--0.2.sql
EXTRA_CLEAN = sql/dagsched--0.2.sql
PGFILEDESC = "dagsched - DAG scheduler inside PostgreSQL"

REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
REGRESS_OPTS = --inputdir=test --outputdir=test \
	--temp-instance=test/tmp_instance --temp-config=test/dagsched.conf \
	--dbname=contrib_regression
TAP_TESTS = 1

# isolation tests (test/specs/iso_*.spec -> test/expected/iso_*.out), run by
# `make installcheck` after pg_regress, on their own throwaway instance with a
# live scheduler.  The scheduler watches dagsched.database_name
# (contrib_regression in test/dagsched.conf), so the isolation database must
# have that name: PGXS appends --dbname=$(ISOLATION_TESTDB), hence the override.
ISOLATION = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/iso_*.spec)))
ISOLATION_OPTS = --inputdir=test --outputdir=test/isolation_output \
	--temp-instance=test/tmp_isolation --temp-config=test/dagsched.conf \
	--load-extension=dagsched
override ISOLATION_TESTDB = contrib_regression

# the extension version, one place: default_version in dagsched.control.  The
# library is built for that catalog version (src/version.c).
DAGSCHED_VERSION := $(shell sed -n "s/^default_version *= *'\(.*\)'.*/\1/p" dagsched.control)

# remote tasks (task.conninfo) use libpq
PG_CPPFLAGS = -I$(shell $(PG_CONFIG) --includedir) \
	-DDAGSCHED_VERSION='"$(DAGSCHED_VERSION)"'
SHLIB_LINK = -lpq

# CI builds with warnings as errors
ifneq ($(CI)$(WERROR),)
PG_CFLAGS += -Werror
endif

# PostgreSQL 15 is the version built and tested; Debian puts its pg_config
# here.  Another one: make PG_CONFIG=/path/to/pg_config
ifndef PG_CONFIG
PG_CONFIG := $(firstword $(wildcard /usr/lib/postgresql/15/bin/pg_config) pg_config)
endif
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)
ifneq ($(wildcard $(PGXS)),)
include $(PGXS)
else
# No PGXS yet (postgresql-server-dev-15 missing).  `make demo` and `make test`
# set the machine up themselves; any other target asks scripts/deps.sh too
# (as root on Debian it installs what is missing, otherwise it prints the
# command to run), then starts again with PGXS in place.
.DEFAULT_GOAL := all
all install uninstall installcheck clean distclean:
ifdef DAGSCHED_DEPS_CHECKED
	@echo "error: no PGXS for $(PG_CONFIG) even after scripts/deps.sh" >&2; exit 1
else
	@PG_CONFIG=$(PG_CONFIG) bash scripts/deps.sh build
	@$(MAKE) $@ DAGSCHED_DEPS_CHECKED=1
endif
endif

# the version is compiled in
src/version.o src/version.bc: dagsched.control

sql/dagsched--0.2.sql: $(sort $(wildcard sql/parts/*.sql))
	cat $^ > $@

.PHONY: test demo

# Build, install (as root) and run every test: pg_regress then TAP.
test:
	bash scripts/test.sh

# Build, install and run the example DAG on a throwaway cluster.
demo:
	bash scripts/demo.sh

.PHONY: fuzz

# libFuzzer harnesses (clang) for the cron and DAG logic, outside the server;
# FUZZ_SECONDS per harness, default 60.  See fuzz/README.md.
fuzz:
	$(MAKE) -C fuzz run
