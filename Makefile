# Makefile for dagsched (PGXS)

MODULE_big = dagsched
OBJS = \
	src/dagsched.o \
	src/cron.o \
	src/schedule_funcs.o \
	src/validate.o \
	src/shmem.o \
	src/dag.o \
	src/catalog.o \
	src/transition.o \
	src/run.o \
	src/run_create.o \
	src/run_slot.o \
	src/taskexec.o \
	src/sensor.o \
	src/atcommit.o \
	src/notify.o \
	src/scheduler.o \
	src/worker.o \
	src/shell.o \
	src/dbtask.o \
	src/remote.o \
	src/output.o \
	src/results.o \
	src/mapped.o \
	src/autocommit.o \
	src/api.o \
	src/version.o

EXTENSION = dagsched
# The install script of the current version is assembled from sql/parts, one
# file per concern.  Released versions are frozen byte for byte
# (sql/dagsched--0.1.sql is what 0.1 shipped) and reach the current version
# through the upgrade scripts.  The install and upgrade scripts of 0.2 get
# the state names and the name-length limit from src/states.h
# (scripts/sql_names.sh fills in their @...@ placeholders).
DATA = sql/dagsched--0.1.sql
DATA_built = sql/dagsched--0.2.sql sql/dagsched--0.1--0.2.sql
EXTRA_CLEAN = sql/dagsched--0.2.sql sql/dagsched--0.1--0.2.sql
PGFILEDESC = "dagsched - DAG scheduler inside PostgreSQL"

DAGSCHED_REGRESS = $(patsubst test/sql/%.sql,%,$(sort $(wildcard test/sql/*.sql)))
TAP_TESTS = 1

# isolation tests (test/specs/iso_*.spec -> test/expected/iso_*.out), run by
# `make installcheck` after pg_regress, with a live scheduler.  The scheduler
# watches dagsched.database_name (contrib_regression in test/dagsched.conf),
# so the isolation database must have that name: PGXS appends
# --dbname=$(ISOLATION_TESTDB), hence the override.
DAGSCHED_ISOLATION = $(patsubst test/specs/%.spec,%,$(sort $(wildcard test/specs/iso_*.spec)))
override ISOLATION_TESTDB = contrib_regression

# Where `make installcheck` runs pg_regress and the isolation specs:
#  - by default (the PGXS convention) on the server already running (PGHOST,
#    PGPORT, PGUSER as for psql), which must preload the library with
#    dagsched.database_name = 'contrib_regression' (test/dagsched.conf);
#  - with TEMP_INSTANCE=1 on throwaway instances configured by
#    test/dagsched.conf (what `make test` does).
# The TAP tests (t/*.pl) always start their own clusters.
ifdef TEMP_INSTANCE
REGRESS = $(DAGSCHED_REGRESS)
ISOLATION = $(DAGSCHED_ISOLATION)
REGRESS_OPTS = --inputdir=test --outputdir=test \
	--temp-instance=test/tmp_instance --temp-config=test/dagsched.conf \
	--dbname=contrib_regression
ISOLATION_OPTS = --inputdir=test --outputdir=test/isolation_output \
	--temp-instance=test/tmp_isolation --temp-config=test/dagsched.conf \
	--load-extension=dagsched
else
# (REGRESS and ISOLATION stay unset for PGXS: see installcheck-running-server)
REGRESS_OPTS = --inputdir=test --outputdir=test --dbname=contrib_regression
ISOLATION_OPTS = --inputdir=test --outputdir=test/isolation_output \
	--load-extension=dagsched --dbname=contrib_regression
EXTRA_CLEAN += test/results test/regression.diffs test/regression.out \
	test/isolation_output
endif

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

# PGXS tracks no header dependencies: a changed struct in src/*.h must
# rebuild every object (and its LTO bitcode), or a stale object reads the
# old layout and crashes.
$(OBJS) $(OBJS:.o=.bc): $(wildcard src/*.h)
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

sql/dagsched--0.2.sql: $(sort $(wildcard sql/parts/*.sql)) src/states.h scripts/sql_names.sh
	cat $(sort $(wildcard sql/parts/*.sql)) | bash scripts/sql_names.sh '$(CC)' > $@.tmp
	mv $@.tmp $@

sql/dagsched--0.1--0.2.sql: sql/dagsched--0.1--0.2.sql.in src/states.h scripts/sql_names.sh
	bash scripts/sql_names.sh '$(CC)' < $< > $@.tmp
	mv $@.tmp $@

# On a running server, pg_regress and the isolation tester each drop and
# create contrib_regression, which PostgreSQL refuses while the scheduler and
# idle task workers are connected to it.  So before each of the two, dagsched's
# own processes in that database are asked to exit (the postmaster restarts
# the scheduler 5 s later; by then the database is new): PGXS's installcheck
# recipe runs pg_regress and the isolation tester; here both run as the
# prerequisite, PGXS's recipe only the TAP tests.
ifndef TEMP_INSTANCE
ifneq ($(wildcard $(PGXS)),)
dagsched_release_db = '$(bindir)/psql' -X -q -At -d postgres -c \
	"SELECT count(pg_catalog.pg_terminate_backend(pid)) FROM pg_catalog.pg_stat_activity \
	 WHERE datname = 'contrib_regression' \
	   AND backend_type IN ('dagsched scheduler', 'dagsched worker')" >/dev/null

installcheck: installcheck-running-server

.PHONY: installcheck-running-server
installcheck-running-server: submake $(REGRESS_PREP)
ifneq ($(strip $(DAGSCHED_REGRESS)),)
	$(dagsched_release_db)
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(DAGSCHED_REGRESS)
endif
ifneq ($(strip $(DAGSCHED_ISOLATION)),)
	$(dagsched_release_db)
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(DAGSCHED_ISOLATION)
endif
endif
endif

.PHONY: test demo

# Build, install (as root) and run every test: pg_regress then TAP.
test:
	bash scripts/test.sh

# Build, install and run the example DAG on a throwaway cluster.
demo:
	bash scripts/demo.sh

.PHONY: indent

# src/ in pgindent's format (needs pg_bsd_indent: apt-get install pg-bsd-indent)
indent:
	bash scripts/pgindent.sh

.PHONY: fuzz

# libFuzzer harnesses (clang) for the cron and DAG logic, outside the server;
# FUZZ_SECONDS per harness, default 60.  See fuzz/README.md.
fuzz:
	$(MAKE) -C fuzz run
