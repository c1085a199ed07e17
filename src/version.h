/*-------------------------------------------------------------------------
 *
 * version.h
 *	  The catalog version check of the scheduler.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/version.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_VERSION_H
#define DAGSCHED_VERSION_H

/*
 * The extension version this library was built for: default_version of
 * dagsched.control, passed in by the Makefile.
 */
#ifndef DAGSCHED_VERSION
#error "DAGSCHED_VERSION must be defined (the Makefile reads it from dagsched.control)"
#endif

/* how often the scheduler looks again while the catalog is another version */
#define DAGSCHED_CATALOG_POLL_MS	1000

typedef enum DagschedCatalogState
{
	DAGSCHED_CATALOG_MISSING,	/* CREATE EXTENSION not run in this database */
	DAGSCHED_CATALOG_OTHER_VERSION, /* waits for ALTER EXTENSION ... UPDATE */
	DAGSCHED_CATALOG_READY
} DagschedCatalogState;

extern DagschedCatalogState DagschedCatalogCheck(void);

#endif							/* DAGSCHED_VERSION_H */
