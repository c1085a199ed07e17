/*-------------------------------------------------------------------------
 *
 * version.c
 *	  Is the dagsched catalog of this database the version this library was
 *	  built for?
 *
 * A package upgrade replaces the shared library and restarts the server
 * before anyone runs ALTER EXTENSION dagsched UPDATE.  Until then the tables
 * lack what the new code reads and writes, so the scheduler must not touch
 * them: it asks here at the top of every loop, says once in the log what to
 * run, and waits; once the update has committed it carries on by itself.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/version.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "dagsched.h"
#include "version.h"

/* the catalog version whose mismatch was logged last ("" = none) */
static char logged_version[NAMEDATALEN] = "";

/*
 * The installed version of extension dagsched, palloc'd, or NULL when it is
 * not installed in this database.  Needs a transaction.
 */
static char *
version_installed(void)
{
	Relation	rel;
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tuple;
	char	   *result = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("dagsched"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		datum;

		datum = heap_getattr(tuple, Anum_pg_extension_extversion,
							 RelationGetDescr(rel), &isnull);
		if (!isnull)
			result = text_to_cstring(DatumGetTextPP(datum));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return result;
}

/*
 * Where the catalog of this database stands for this library.  Logs once per
 * catalog version that does not match, and once when it matches again.
 * Call inside a transaction.
 */
DagschedCatalogState
DagschedCatalogCheck(void)
{
	char	   *installed = version_installed();

	if (installed == NULL)
		return DAGSCHED_CATALOG_MISSING;

	if (strcmp(installed, DAGSCHED_VERSION) == 0)
	{
		if (logged_version[0] != '\0')
		{
			ereport(LOG,
					(errmsg("dagsched catalog in database \"%s\" is now version %s; the scheduler carries on",
							DagschedDatabaseName, installed)));
			logged_version[0] = '\0';
		}
		pfree(installed);
		return DAGSCHED_CATALOG_READY;
	}

	if (strcmp(installed, logged_version) != 0)
	{
		ereport(LOG,
				(errmsg("dagsched catalog in database \"%s\" is version %s, but the library is version %s",
						DagschedDatabaseName, installed, DAGSCHED_VERSION),
				 errdetail("The scheduler runs no DAG until the versions match."),
				 errhint("Run ALTER EXTENSION dagsched UPDATE in database \"%s\".",
						 DagschedDatabaseName)));
		strlcpy(logged_version, installed, sizeof(logged_version));
	}
	pfree(installed);
	return DAGSCHED_CATALOG_OTHER_VERSION;
}
