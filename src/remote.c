/*-------------------------------------------------------------------------
 *
 * remote.c
 *	  Running a SQL task on another PostgreSQL server (or a distributed
 *	  PostgreSQL) named by the task's conninfo, over libpq.
 *
 * The task worker drives the remote session with libpq's asynchronous API
 * and waits on its latch and the connection's socket together, so that a
 * cancel or shutdown aimed at the worker, the task's timeout and the death
 * of the postmaster are all noticed while the remote server works; each of
 * them cancels the remote query before the connection is closed, so nothing
 * is left running over there.  As with tasks in another database, the
 * remote effects and their recorded success are two transactions on two
 * servers: a crash between them runs the task again (at-least-once).
 *
 * Passwords never leave the connection string's parser: errors name the
 * target by host, port and database only, and the worker reports the task's
 * command, never its conninfo, in pg_stat_activity.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/remote.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "libpq-fe.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "remote.h"
#include "taskexec.h"

/* how long a cancelled query may take to report back before we hang up */
#define REMOTE_CANCEL_GRACE_MS	5000

static char *remote_parse_error(const char *message);
static char *remote_password(const char *conninfo);
static char *remote_scrub(char *text, const char *password);
static char *remote_target(PGconn *conn);
static void remote_discard_notice(void *arg, const PGresult *res);
static void remote_cancel(PGconn *conn);
static int	remote_wait(PGconn *conn, int socket_events, TimestampTz deadline);
static void remote_check_access(const ClaimedTask *task,
								const TaskOwner *owner);
static bool remote_run(const ClaimedTask *task, const TaskOwner *owner,
					   char **output, char **error);

/* The runner of tasks with a conninfo (see taskexec.h) */
const TaskRunner TaskRunnerRemote = {
	.name = "remote",
	.mode = TASK_RUNNER_OUTSIDE_XACT,
	.check_access = remote_check_access,
	.run = remote_run,
};

static void
remote_check_access(const ClaimedTask *task, const TaskOwner *owner)
{
	RemoteCheckAccess(task, owner->superuser);
}

static bool
remote_run(const ClaimedTask *task, const TaskOwner *owner, char **output,
		   char **error)
{
	return RemoteRunTask(task, owner->superuser, output, error);
}

/*
 * Who may use which conninfo.
 *
 * Superuser owners: no restriction; they could read any secret on this
 * server anyway.
 *
 * Non-superuser owners, following the reasoning of dblink and postgres_fdw
 * (dblink_security_check, check_conn_params): the connection is opened by
 * the server's operating system user, from the server's host, so without a
 * rule an owner would borrow the server's ambient credentials -- "trust" or
 * "peer" authentication on the local socket, ident, a client certificate in
 * ~/.postgresql -- and could log in to this very server as any role,
 * superusers included.  Hence two rules:
 *
 * 1. The conninfo may not contain a password.  It is stored in
 *	  dagsched.task and copied into dagsched.task_run, which everybody can
 *	  read, so an inline password would be published; and a secret the owner
 *	  wrote down in plain text is not one we want to authenticate with.  The
 *	  password belongs in a password file (passfile, ~/.pgpass of the server's
 *	  OS user) or a connection service file, which the administrator
 *	  maintains: each entry there is in effect a grant to every DAG owner, so
 *	  such files must never hold a superuser's password.
 *
 * 2. The remote server must actually have asked for a password
 *	  (PQconnectionUsedPassword, checked in RemoteRunTask once connected),
 *	  exactly as dblink requires: a connection that succeeded without one
 *	  used the server's ambient identity, not anything the administrator
 *	  handed out, and is refused.
 *
 * dblink's other half -- the password must be in the connection string --
 * is replaced here by rule 1 and the administrator-maintained files, which
 * is what keeps passwords out of the catalog.
 *
 * owner_is_superuser comes from the caller, who looked the owner up in the
 * catalog for this very attempt.
 */
void
RemoteCheckAccess(const ClaimedTask *task, bool owner_is_superuser)
{
	bool		super = owner_is_superuser;
	PQconninfoOption *opts;
	char	   *parse_err = NULL;
	bool		has_password = false;

	/* parse even for superusers: a bad string is better reported now */
	opts = PQconninfoParse(task->conninfo, &parse_err);
	if (opts == NULL)
	{
		char	   *detail;

		if (parse_err == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		detail = remote_parse_error(parse_err);
		PQfreemem(parse_err);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid conninfo of task \"%s\" of DAG \"%s\": %s",
						task->task_name, task->dag_name, detail)));
	}
	for (PQconninfoOption *opt = opts; opt->keyword != NULL; opt++)
	{
		if (strcmp(opt->keyword, "password") == 0 && opt->val != NULL)
			has_password = true;
	}
	PQconninfoFree(opts);

	if (has_password && !super)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("conninfo of task \"%s\" of DAG \"%s\" may not contain a password",
						task->task_name, task->dag_name),
				 errdetail("The DAG's owner \"%s\" is not a superuser, and the catalog is readable by all users.",
						   task->owner),
				 errhint("Put the password in a password file (passfile) or a connection service file of the server's operating system user.")));
}

/* One remote attempt: the connection and what has come back so far */
typedef struct RemoteSession
{
	PGconn	   *conn;
	const char *password;		/* only to scrub it from messages */
	TimestampTz deadline;		/* the task's timeout, 0 = none */
	int			timeout_ms;
	bool		timed_out;		/* cancelled for the timeout */
	TimestampTz grace;			/* after that, hang up at this time */
	bool		copy_out;		/* reading (and dropping) COPY data */
	char	   *last_tag;		/* command tag of the last statement */
	char	   *remote_error;	/* "SQLSTATE: message" of the first error */
} RemoteSession;

/* An error about the connection, with any password scrubbed out. */
static char *
remote_conn_error(RemoteSession *s, const char *what)
{
	return remote_scrub(psprintf("%s: %s", what,
								 pchomp(PQerrorMessage(s->conn))),
						s->password);
}

/*
 * Connect, without ever blocking on the network.  The task's conninfo is
 * expanded in place of dbname; what follows it overrides it, so the remote
 * pg_stat_activity always names the task.  Returns NULL when connected,
 * else the failure's text.
 */
static char *
remote_connect(RemoteSession *s, const ClaimedTask *task, bool super)
{
	const char *keywords[4];
	const char *values[4];
	PostgresPollingStatusType poll = PGRES_POLLING_WRITING;

	keywords[0] = "fallback_application_name";
	values[0] = "dagsched worker";
	keywords[1] = "dbname";
	values[1] = task->conninfo;
	keywords[2] = "application_name";
	values[2] = psprintf("dagsched task %s.%s", task->dag_name,
						 task->task_name);
	keywords[3] = NULL;
	values[3] = NULL;

	s->conn = PQconnectStartParams(keywords, values, 1);
	if (s->conn == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));

	while (PQstatus(s->conn) != CONNECTION_BAD &&
		   poll != PGRES_POLLING_OK && poll != PGRES_POLLING_FAILED)
	{
		int			rc = remote_wait(s->conn,
									 poll == PGRES_POLLING_READING ?
									 WL_SOCKET_READABLE : WL_SOCKET_WRITEABLE,
									 s->deadline);

		if (s->deadline != 0 && GetCurrentTimestamp() >= s->deadline)
			return psprintf("timed out after %d ms while connecting to the task's server",
							s->timeout_ms);
		if (rc & (WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE))
			poll = PQconnectPoll(s->conn);
	}
	if (PQstatus(s->conn) != CONNECTION_OK)
		return remote_conn_error(s, "could not connect to the task's server");

	/* rule 2 of RemoteCheckAccess */
	if (!super && !PQconnectionUsedPassword(s->conn))
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required to connect to the task's server %s",
						remote_target(s->conn)),
				 errdetail("The DAG's owner \"%s\" is not a superuser, and the server authenticated the connection without a password.",
						   task->owner),
				 errhint("Have the task's server require password authentication for this user, and keep the password in a password file or service file.")));

	/* remote notices would otherwise go to this server's stderr */
	PQsetNoticeReceiver(s->conn, remote_discard_notice, NULL);
	if (PQsetnonblocking(s->conn, 1) != 0)
		return remote_conn_error(s, "could not use the connection to the task's server");
	return NULL;
}

/*
 * Send the task's context, as session settings of the remote session.
 * Values go as parameters, never spliced into SQL.  dagsched need not be
 * installed there: unknown "dagsched.*" names become placeholders, and
 * where the library is loaded they are its own settings.
 */
static bool
remote_send_context(RemoteSession *s, const ClaimedTask *task)
{
	char		num_run[32];
	char		num_attempt[32];
	const char *params[6];

	snprintf(num_run, sizeof(num_run), INT64_FORMAT, task->run_id);
	snprintf(num_attempt, sizeof(num_attempt), "%d", task->attempt);
	params[0] = num_run;
	params[1] = num_attempt;
	params[2] = task->dag_name;
	params[3] = task->task_name;
	params[4] = task->logical_time;
	params[5] = task->params;
	return PQsendQueryParams(s->conn,
							 "SELECT pg_catalog.set_config('dagsched.run_id', $1, false), "
							 "pg_catalog.set_config('dagsched.attempt', $2, false), "
							 "pg_catalog.set_config('dagsched.dag_name', $3, false), "
							 "pg_catalog.set_config('dagsched.task_name', $4, false), "
							 "pg_catalog.set_config('dagsched.logical_time', $5, false), "
							 "pg_catalog.set_config('dagsched.params', $6, false)",
							 6, NULL, params, NULL, NULL, 0) != 0;
}

/* Take in one result: remember the tag (keep_tag) or the first error. */
static void
remote_take_result(RemoteSession *s, PGresult *res, bool keep_tag)
{
	switch (PQresultStatus(res))
	{
		case PGRES_COMMAND_OK:
		case PGRES_TUPLES_OK:
			if (keep_tag)
			{
				if (s->last_tag)
					pfree(s->last_tag);
				s->last_tag = pstrdup(PQcmdStatus(res));
			}
			break;
		case PGRES_COPY_OUT:
			/* read and drop the data: a task has no client */
			s->copy_out = true;
			break;
		case PGRES_COPY_IN:
		case PGRES_COPY_BOTH:
			/* there is nothing to send; fail the COPY */
			(void) PQputCopyEnd(s->conn,
								"COPY FROM STDIN is not supported in dagsched remote tasks");
			break;
		case PGRES_FATAL_ERROR:
			if (s->remote_error == NULL)
			{
				const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
				const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

				if (msg == NULL)
					msg = pchomp(PQresultErrorMessage(res));
				s->remote_error = remote_scrub(psprintf("%s: %s",
														state ? state : "XX000",
														msg),
											   s->password);
			}
			break;
		default:
			break;
	}
}

/*
 * Read what the server has sent without blocking.  Returns 1 when every
 * result of the query is in, 0 when more is to come, -1 when the
 * connection broke.
 */
static int
remote_read_available(RemoteSession *s, bool keep_tag)
{
	if (!PQconsumeInput(s->conn))
		return -1;
	if (s->copy_out)
	{
		char	   *buf;
		int			n;

		while ((n = PQgetCopyData(s->conn, &buf, 1)) > 0)
			PQfreemem(buf);
		if (n == 0)
			return 0;
		s->copy_out = false;
	}
	while (!PQisBusy(s->conn))
	{
		PGresult   *res = PQgetResult(s->conn);

		if (res == NULL)
			return 1;
		remote_take_result(s, res, keep_tag);
		PQclear(res);
		if (s->copy_out)
			return 0;
	}
	return 0;
}

/*
 * Collect every result of the query sent last, waiting on the socket, the
 * latch and the deadline.  At the deadline the remote query is cancelled;
 * its results are still awaited for a grace period, then we hang up.
 * Returns false when the connection broke (remote_error says how).
 */
static bool
remote_collect(RemoteSession *s, bool keep_tag)
{
	for (;;)
	{
		int			flush = PQflush(s->conn);
		int			events = WL_SOCKET_READABLE;
		TimestampTz wait_until = s->deadline;
		int			rc;

		/* a long command may not fit the socket buffer at once */
		if (flush < 0)
			break;
		if (flush > 0)
			events |= WL_SOCKET_WRITEABLE;

		rc = remote_read_available(s, keep_tag);
		if (rc < 0)
			break;
		if (rc > 0)
			return true;

		if (s->timed_out)
		{
			if (GetCurrentTimestamp() >= s->grace)
				return true;
			wait_until = s->grace;
		}
		(void) remote_wait(s->conn, events, wait_until);
		if (!s->timed_out && s->deadline != 0 &&
			GetCurrentTimestamp() >= s->deadline)
		{
			s->timed_out = true;
			remote_cancel(s->conn);
			s->grace = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												   REMOTE_CANCEL_GRACE_MS);
		}
	}
	if (s->remote_error == NULL && !s->timed_out)
		s->remote_error = remote_scrub(psprintf("lost the connection to the task's server %s: %s",
												remote_target(s->conn),
												pchomp(PQerrorMessage(s->conn))),
									   s->password);
	return false;
}

/*
 * Connect, set the context, run the command; the outcome goes to *output
 * or *error.  The command goes through the simple query protocol, which
 * runs a string of several statements as one implicit transaction (unless
 * the string has its own BEGIN/COMMIT): the task commits or fails whole.
 */
static bool
remote_session_run(RemoteSession *s, const ClaimedTask *task, bool super,
				   char **output, char **error)
{
	if ((*error = remote_connect(s, task, super)) != NULL)
		return false;
	if (!remote_send_context(s, task))
	{
		*error = remote_conn_error(s, "could not send to the task's server");
		return false;
	}
	if (remote_collect(s, false) && !s->timed_out && s->remote_error == NULL)
	{
		if (!PQsendQuery(s->conn, task->command))
		{
			*error = remote_conn_error(s, "could not send to the task's server");
			return false;
		}
		(void) remote_collect(s, true);
	}

	if (s->timed_out)
		*error = psprintf("timed out after %d ms", task->timeout_ms);
	else if (s->remote_error != NULL)
		*error = s->remote_error;
	else
	{
		*output = s->last_tag;
		return true;
	}
	return false;
}

bool
RemoteRunTask(const ClaimedTask *task, bool owner_is_superuser,
			  char **output, char **error)
{
	RemoteSession s;
	char	   *volatile password = NULL;
	PGconn	   *volatile *conn = &s.conn;
	volatile bool success = false;

	*output = NULL;
	*error = NULL;
	memset(&s, 0, sizeof(s));
	s.timeout_ms = task->timeout_ms;
	if (task->timeout_ms > 0)
		s.deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												 task->timeout_ms);

	PG_TRY();
	{
		/* only to scrub it from messages; never reported */
		password = remote_password(task->conninfo);
		s.password = password;
		success = remote_session_run(&s, task, owner_is_superuser,
									 output, error);
	}
	PG_FINALLY();
	{
		if (*conn != NULL)
			PQfinish(*conn);
		if (password != NULL)
		{
			explicit_bzero(password, strlen(password));
			pfree(password);
		}
	}
	PG_END_TRY();

	return success;
}

/*
 * Sleep until the connection's socket is ready for socket_events, the latch
 * is set or the deadline (0: none) passes.  A cancel or shutdown of this
 * worker cancels the remote query and throws (the caller's PG_FINALLY closes
 * the connection); postmaster death cancels it and exits.
 */
static int
remote_wait(PGconn *conn, int socket_events, TimestampTz deadline)
{
	long		wait_ms = -1;
	int			events = WL_LATCH_SET | WL_POSTMASTER_DEATH | socket_events;
	int			rc;

	if (QueryCancelPending || ProcDiePending)
	{
		remote_cancel(conn);
		CHECK_FOR_INTERRUPTS();
		/* a pending interrupt that did not throw: held off, shouldn't be */
		elog(ERROR, "remote task interrupted");
	}

	if (deadline != 0)
	{
		wait_ms = TimestampDifferenceMilliseconds(GetCurrentTimestamp(),
												  deadline);
		events |= WL_TIMEOUT;
	}

	/* no socket yet or any more: only the latch and the clock */
	if (PQsocket(conn) < 0)
		events &= ~(WL_SOCKET_READABLE | WL_SOCKET_WRITEABLE);

	rc = WaitLatchOrSocket(MyLatch, events, PQsocket(conn), wait_ms,
						   PG_WAIT_EXTENSION);
	if (rc & WL_POSTMASTER_DEATH)
	{
		/* nobody will record the outcome; leave nothing running remotely */
		remote_cancel(conn);
		PQfinish(conn);
		proc_exit(1);
	}
	if (rc & WL_LATCH_SET)
	{
		ResetLatch(MyLatch);
		if (QueryCancelPending || ProcDiePending)
		{
			remote_cancel(conn);
			CHECK_FOR_INTERRUPTS();
			elog(ERROR, "remote task interrupted");
		}
	}
	return rc;
}

/*
 * Ask the remote server to cancel what the connection runs.  Best effort: if
 * it cannot be reached, closing the connection is all we can do.
 */
static void
remote_cancel(PGconn *conn)
{
	PGcancel   *cancel;
	char		errbuf[256];

	if (PQstatus(conn) != CONNECTION_OK ||
		PQtransactionStatus(conn) != PQTRANS_ACTIVE)
		return;
	cancel = PQgetCancel(conn);
	if (cancel == NULL)
		return;
	if (!PQcancel(cancel, errbuf, sizeof(errbuf)))
		ereport(LOG,
				(errmsg("dagsched: could not cancel the remote query: %s",
						errbuf)));
	PQfreeCancel(cancel);
}

static void
remote_discard_notice(void *arg, const PGresult *res)
{
}

/* "host:port/dbname" of a connection, to name it without its conninfo */
static char *
remote_target(PGconn *conn)
{
	const char *host = PQhost(conn);
	const char *port = PQport(conn);
	const char *db = PQdb(conn);

	return psprintf("\"%s:%s/%s\"", host ? host : "", port ? port : "",
					db ? db : "");
}

/* the password in a conninfo, or NULL */
static char *
remote_password(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	char	   *password = NULL;

	if (opts == NULL)
		return NULL;
	for (PQconninfoOption *opt = opts; opt->keyword != NULL; opt++)
	{
		if (strcmp(opt->keyword, "password") == 0 && opt->val != NULL &&
			opt->val[0] != '\0')
			password = pstrdup(opt->val);
	}
	PQconninfoFree(opts);
	return password;
}

/* text with every occurrence of password replaced by asterisks */
static char *
remote_scrub(char *text, const char *password)
{
	size_t		len;
	char	   *p;

	if (password == NULL || (len = strlen(password)) == 0)
		return text;

	while ((p = strstr(text, password)) != NULL)
		memset(p, '*', len);
	return text;
}

/*
 * PQconninfoParse's message without the parts of the connection string it
 * may quote: in a malformed string the parser cannot know where a password
 * ends, and some of its messages quote a whole URI.  A quoted word that is a
 * libpq keyword names the problem and is kept; anything else becomes "...".
 */
static char *
remote_parse_error(const char *message)
{
	StringInfoData buf;
	const char *p = message;
	PQconninfoOption *defaults = PQconndefaults();

	initStringInfo(&buf);
	while (*p)
	{
		const char *close;
		int			n;
		bool		keyword = false;

		if (*p != '"' || (close = strchr(p + 1, '"')) == NULL)
		{
			appendStringInfoChar(&buf, *p++);
			continue;
		}
		n = close - (p + 1);
		for (PQconninfoOption *opt = defaults;
			 opt != NULL && opt->keyword != NULL; opt++)
		{
			if (strlen(opt->keyword) == n &&
				strncmp(opt->keyword, p + 1, n) == 0)
				keyword = true;
		}
		/* single punctuation, as in 'missing "=" after ...' */
		if (n == 1 && !isalnum((unsigned char) p[1]))
			keyword = true;
		if (keyword)
			appendBinaryStringInfo(&buf, p, n + 2);
		else
			appendStringInfoString(&buf, "\"...\"");
		p = close + 1;
	}
	if (defaults)
		PQconninfoFree(defaults);
	/* one line, no trailing newline */
	while (buf.len > 0 && buf.data[buf.len - 1] == '\n')
		buf.data[--buf.len] = '\0';
	return buf.data;
}
