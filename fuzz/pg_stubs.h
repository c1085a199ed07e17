/*-------------------------------------------------------------------------
 *
 * pg_stubs.h
 *	  What the fuzz harnesses need from the stand-ins for server symbols.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  fuzz/pg_stubs.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DAGSCHED_PG_STUBS_H
#define DAGSCHED_PG_STUBS_H

#include <setjmp.h>

/* The harnesses print with libc's printf family, not src/port's. */
#undef vsnprintf
#undef snprintf
#undef vsprintf
#undef sprintf
#undef vfprintf
#undef fprintf
#undef vprintf
#undef printf

/*
 * While a harness points this at a jump buffer, an ereport(ERROR) longjmps
 * there (the harness expected it); otherwise it aborts, which libFuzzer
 * reports as a crash with the message on stderr.
 */
extern sigjmp_buf *fuzz_error_jmp;

/* The last ERROR's primary message and SQLSTATE. */
extern char fuzz_error_msg[];
extern int	fuzz_error_code;

/* Live palloc'd chunks: a harness can check nothing leaks across a call. */
extern long fuzz_palloc_live;

#endif							/* DAGSCHED_PG_STUBS_H */
