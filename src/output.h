/*-------------------------------------------------------------------------
 *
 * output.h
 *	  What a SQL task says: its command tag, row count and messages.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/output.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_OUTPUT_H
#define DAGSCHED_OUTPUT_H

#include "tcop/cmdtag.h"
#include "tcop/dest.h"
#include "utils/elog.h"

/* How much of a task's messages (NOTICE, INFO, WARNING) is kept: the tail */
#define OUTPUT_MESSAGES_MAX		(64 * 1024)

/* A receiver that counts the rows it is sent and keeps none of them. */
extern DestReceiver *OutputCreateCounter(void);
extern uint64 OutputCounted(DestReceiver *counter);

/* "SELECT 5", "VACUUM", "CALL": a tag as psql prints it */
extern char *OutputTagString(CommandTag tag, uint64 nprocessed);

/*
 * Run "command" through SPI, in the current transaction, with the rows of
 * its queries counted and thrown away.  Returns the command tag of its last
 * statement.  The caller has done SPI_connect.
 */
extern char *OutputExecuteSpi(const char *command);

/*
 * Keep the INFO, NOTICE and WARNING messages raised between Begin and End
 * (the last OUTPUT_MESSAGES_MAX bytes of them, from a line boundary).  End
 * returns "tag" followed by the messages, one per line, palloc'd in the
 * current context; it may be called on error paths and more than once.
 */
extern void OutputCaptureBegin(void);
extern char *OutputCaptureEnd(const char *tag);

/*
 * Where the kept tail of "len" bytes of text should start so that at most
 * "limit" bytes are kept: after a line break if there is one, else at a
 * character boundary.
 */
extern Size OutputTailStart(const char *data, Size len, Size limit);

/*
 * A hint for errors that name PostgreSQL internals the task never wrote
 * ("VACUUM cannot be executed from a function"), saying what a task may
 * not do and why; NULL for other errors.
 */
extern const char *OutputErrorHint(const ErrorData *edata);

#endif							/* DAGSCHED_OUTPUT_H */
