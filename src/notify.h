/*-------------------------------------------------------------------------
 *
 * notify.h
 *	  NOTIFY dagsched, sent only when some backend listens.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/notify.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_NOTIFY_H
#define DAGSCHED_NOTIFY_H

extern void DagschedNotifyInit(void);
extern void DagschedNotify(const char *payload);

#endif							/* DAGSCHED_NOTIFY_H */
