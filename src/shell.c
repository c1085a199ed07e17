/*-------------------------------------------------------------------------
 *
 * shell.c
 *	  Running shell tasks: /bin/sh -c in its own process group, with a clean
 *	  environment, its output captured through one pipe and bounded to its
 *	  last 64 kB, and timeouts, cancellation and shutdown killing the whole
 *	  process tree rather than just the shell.
 *
 * The program runs in a child of a task worker, outside any transaction.
 * Two things shape the code.  First, the worker is a PostgreSQL backend:
 * between fork() and exec() the child may touch nothing of the server
 * (no palloc, no ereport, no shared memory), so everything the child needs
 * is prepared before the fork, and the child drops the server's signal
 * dispositions and file descriptors before exec.  Second, the worker must
 * stay responsive while the program runs: cancel(), shutdown and postmaster
 * death are noticed within a latch wakeup, and the process group is killed
 * before the interrupt is allowed to throw, so no program outlives the
 * attempt that started it.
 *
 * Copyright (c) 2026, dagsched developers
 *
 * IDENTIFICATION
 *	  src/shell.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/postmaster.h"
#include "storage/ipc.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "storage/pmsignal.h"
#include "utils/acl.h"
#include "utils/timestamp.h"

#include "results.h"
#include "shell.h"
#include "taskexec.h"

/* how much of the program's output is kept: its tail */
#define SHELL_OUTPUT_MAX		(64 * 1024)

/* longest the worker sleeps before looking at the child and interrupts */
#define SHELL_POLL_MS			100

/* after SIGTERM on timeout, how long the program may take to clean up */
#define SHELL_TIMEOUT_GRACE_MS	5000

/* after SIGTERM on cancel or shutdown: shorter, someone is waiting */
#define SHELL_CANCEL_GRACE_MS	2000

/*
 * After the shell exits, how long its background children may keep writing
 * into the pipe before they are killed.
 */
#define SHELL_DRAIN_MS			1000

#define SHELL_DIR_NAME			"dagsched_shell"

/* The output's tail: a ring buffer plus the count of everything read */
typedef struct ShellOutput
{
	char	   *buf;			/* SHELL_OUTPUT_MAX bytes */
	uint64		total;			/* bytes read so far, kept or not */
} ShellOutput;

static char **shell_build_env(const ClaimedTask *task,
							  const ShellResultFiles *files);
static char *shell_workdir(void);
static void shell_exec_child(int outfd, const char *workdir, char **argv,
							 char **envp) pg_attribute_noreturn();
static bool shell_read_pipe(int fd, ShellOutput *out);
static bool shell_reap(pid_t pid, int *status);
static void shell_kill_group(pid_t pgid, pid_t pid, int *status,
							 int grace_ms, int fd, ShellOutput *out);
static char *shell_output_text(const ShellOutput *out);
static void shell_check_role(Oid roleid, const char *owner);
static void shell_check_access(const ClaimedTask *task,
							   const TaskOwner *owner);
static bool shell_run(const ClaimedTask *task, const TaskOwner *owner,
					  char **output, char **error);

/* The runner of shell tasks (see taskexec.h) */
const TaskRunner TaskRunnerShell = {
	.name = "shell",
	.mode = TASK_RUNNER_OUTSIDE_XACT,
	.check_access = shell_check_access,
	.run = shell_run,
};

/* pg_execute_server_program is checked again at run time: it may be revoked */
static void
shell_check_access(const ClaimedTask *task, const TaskOwner *owner)
{
	shell_check_role(owner->roleid, owner->name);
}

/*
 * The program's result files, next to the programs' working directory and
 * named after this worker (it runs one task at a time): the upstream
 * results written before the start, the result read after a success.
 */
static void
shell_result_files(const ClaimedTask *task, ShellResultFiles *files)
{
	char	   *workdir = shell_workdir();
	char	   *upstream = ResultsUpstreamObject(task->run_id, task->task_name);
	FILE	   *f;

	files->result = psprintf("%s/result.%d.json", workdir, MyProcPid);
	files->results = psprintf("%s/results.%d.json", workdir, MyProcPid);
	if (unlink(files->result) < 0 && errno != ENOENT)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not remove file \"%s\": %m", files->result)));
	f = AllocateFile(files->results, PG_BINARY_W);
	if (f == NULL ||
		fwrite(upstream, 1, strlen(upstream), f) != strlen(upstream) ||
		FreeFile(f) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", files->results)));
}

/*
 * What the program wrote to $DAGSCHED_RESULT_FILE, if anything, becomes
 * the pending result.  A file that is not JSON (or too large) fails the
 * task: a downstream task would otherwise read a result that is not there.
 */
static bool
shell_collect_result(const ShellResultFiles *files, char **error)
{
	struct stat st;
	FILE	   *f;
	char	   *text;
	size_t		len;

	if (stat(files->result, &st) < 0 || st.st_size == 0)
		return true;
	if (st.st_size > DagschedMaxResultSize)
	{
		*error = psprintf("%s: result in $DAGSCHED_RESULT_FILE of %lld bytes exceeds dagsched.max_result_size (%d bytes)",
						  unpack_sql_state(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						  (long long) st.st_size, DagschedMaxResultSize);
		return false;
	}
	f = AllocateFile(files->result, PG_BINARY_R);
	if (f == NULL)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", files->result)));
	text = palloc(st.st_size + 1);

	len = fread(text, 1, st.st_size, f);
	FreeFile(f);
	return ResultsSetFromText(text, len, "$DAGSCHED_RESULT_FILE", error);
}

static bool
shell_run(const ClaimedTask *task, const TaskOwner *owner, char **output,
		  char **error)
{
	ShellResultFiles files;
	bool		ok;

	shell_result_files(task, &files);
	ok = ShellRunTask(task, &files, output, error);
	if (ok)
		ok = shell_collect_result(&files, error);
	(void) unlink(files.result);
	(void) unlink(files.results);
	return ok;
}

void
ShellCheckPrivilege(const char *owner)
{
	Oid			roleid;

	roleid = get_role_oid(owner, true);
	if (!OidIsValid(roleid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("owner role \"%s\" of the DAG does not exist", owner)));
	shell_check_role(roleid, owner);
}

/* ERROR unless roleid may run programs on the server */
static void
shell_check_role(Oid roleid, const char *owner)
{
	if (superuser_arg(roleid) ||
		has_privs_of_role(roleid, ROLE_PG_EXECUTE_SERVER_PROGRAM))
		return;

	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("owner role \"%s\" may not run shell tasks", owner),
			 errdetail("Shell tasks run programs on the database server as its operating system user."),
			 errhint("Grant pg_execute_server_program to the role, or make the task a SQL task.")));
}

/* A running program, as the worker watches it */
typedef struct ShellChild
{
	pid_t		pid;			/* the shell; also its process group */
	int			fd;				/* read end of the output pipe */
	int			status;			/* wait status, once exited */
	bool		exited;
	bool		eof;			/* every writer closed the pipe */
	bool		timed_out;
	ShellOutput out;
	TimestampTz deadline;		/* the task's timeout, 0 = none */
	TimestampTz drain_until;	/* after exit: how long leftovers may write */
	TimestampTz eof_at;
} ShellChild;

/*
 * Fork the shell with its output going to a pipe.  Everything the child
 * needs is built before the fork: the child may not palloc.
 */
static void
shell_start(const ClaimedTask *task, const ShellResultFiles *files,
			ShellChild *c)
{
	char	   *argv[4];
	char	  **envp;
	char	   *workdir;
	int			pipefd[2];

	argv[0] = "sh";
	argv[1] = "-c";
	argv[2] = task->command;
	argv[3] = NULL;
	envp = shell_build_env(task, files);
	workdir = shell_workdir();

	if (pipe(pipefd) < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create pipe for shell task: %m")));

	/* buffered output would otherwise be written twice, once by the child */
	fflush(stdout);
	fflush(stderr);

	c->pid = fork();
	if (c->pid < 0)
	{
		int			save_errno = errno;

		close(pipefd[0]);
		close(pipefd[1]);
		errno = save_errno;
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not fork shell task: %m")));
	}
	if (c->pid == 0)
		shell_exec_child(pipefd[1], workdir, argv, envp);

	/*
	 * Also set the group from the parent, so that a kill(-pid) issued before
	 * the child got to run its own setpgid still reaches it.  EACCES (the
	 * child has exec'd already) and ESRCH mean the child did it itself.
	 */
	(void) setpgid(c->pid, c->pid);

	close(pipefd[1]);
	c->fd = pipefd[0];
	/* read what is there, then go back to waiting: never block in read() */
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0)
		elog(WARNING, "could not set shell task pipe to non-blocking mode: %m");
}

/*
 * The interrupt would throw from here without the child being stopped; kill
 * the group first, then let CHECK_FOR_INTERRUPTS throw the cancel or
 * terminate error.
 */
static void
shell_stop_if_interrupted(ShellChild *c)
{
	if (!QueryCancelPending && !ProcDiePending)
		return;
	if (!c->exited)
		shell_kill_group(c->pid, c->pid, &c->status, SHELL_CANCEL_GRACE_MS,
						 -1, NULL);
	else
		(void) kill(-c->pid, SIGKILL);
	close(c->fd);
	CHECK_FOR_INTERRUPTS();
	/* a pending interrupt that did not throw: held off, shouldn't be */
	elog(ERROR, "shell task interrupted");
}

/*
 * How long to sleep, and on what: until output arrives, a signal sets the
 * latch, or the next look at the child is due.  Once the pipe is at EOF it
 * would always be readable, so then only the latch and the clock wake us,
 * often at first: a shell that closed its output is usually exiting.  One
 * that goes on running without output is polled at the usual pace.
 */
static void
shell_sleep(ShellChild *c, TimestampTz now)
{
	int			events = WL_LATCH_SET | WL_TIMEOUT | WL_POSTMASTER_DEATH;
	long		wait_ms = SHELL_POLL_MS;
	int			rc;

	if (!c->eof)
		events |= WL_SOCKET_READABLE;
	else
	{
		if (c->eof_at == 0)
			c->eof_at = now;
		if (!TimestampDifferenceExceeds(c->eof_at, now, 200))
			wait_ms = 10;
	}
	if (!c->exited && c->deadline != 0)
		wait_ms = Min(wait_ms,
					  Max(TimestampDifferenceMilliseconds(now, c->deadline), 1));
	else if (c->exited)
		wait_ms = Min(wait_ms,
					  Max(TimestampDifferenceMilliseconds(now, c->drain_until), 1));

	rc = WaitLatchOrSocket(MyLatch, events,
						   c->eof ? PGINVALID_SOCKET : c->fd,
						   wait_ms, PG_WAIT_EXTENSION);
	if (rc & WL_POSTMASTER_DEATH)
	{
		/* nobody will record the outcome; leave nothing running behind */
		(void) kill(-c->pid, SIGKILL);
		(void) shell_reap(c->pid, &c->status);
		proc_exit(1);
	}
	if (rc & WL_LATCH_SET)
		ResetLatch(MyLatch);
}

/*
 * Watch the program until it is done: the shell is gone and so is the
 * pipe's last writer, or the shell is gone and its leftover children have
 * had their chance to finish writing -- or its time is up.
 */
static void
shell_watch(ShellChild *c)
{
	for (;;)
	{
		TimestampTz now;

		shell_stop_if_interrupted(c);
		if (!c->eof && shell_read_pipe(c->fd, &c->out))
			c->eof = true;
		if (!c->exited && shell_reap(c->pid, &c->status))
		{
			c->exited = true;
			c->drain_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
														 SHELL_DRAIN_MS);
		}

		now = GetCurrentTimestamp();
		if (c->exited && (c->eof || now >= c->drain_until))
			return;
		if (!c->exited && c->deadline != 0 && now >= c->deadline)
		{
			c->timed_out = true;
			shell_kill_group(c->pid, c->pid, &c->status, SHELL_TIMEOUT_GRACE_MS,
							 c->eof ? -1 : c->fd, &c->out);
			c->exited = true;
			return;
		}
		shell_sleep(c, now);
	}
}

/* What the wait status (or the timeout) says, as the task's outcome */
static bool
shell_outcome(const ShellChild *c, int timeout_ms, char **error)
{
	if (c->timed_out)
	{
		*error = psprintf("timed out after %d ms", timeout_ms);
		return false;
	}
	if (WIFEXITED(c->status))
	{
		if (WEXITSTATUS(c->status) == 0)
			return true;
		*error = psprintf("exit status %d", WEXITSTATUS(c->status));
		return false;
	}
	if (WIFSIGNALED(c->status))
	{
		*error = psprintf("killed by signal %d", WTERMSIG(c->status));
		return false;
	}
	*error = psprintf("unrecognized wait status %d", c->status);
	return false;
}

bool
ShellRunTask(const ClaimedTask *task, const ShellResultFiles *files,
			 char **output, char **error)
{
	ShellChild	c;

	*output = NULL;
	*error = NULL;
	memset(&c, 0, sizeof(c));
	c.out.buf = palloc(SHELL_OUTPUT_MAX);

	shell_start(task, files, &c);
	if (task->timeout_ms > 0)
		c.deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
												 task->timeout_ms);
	shell_watch(&c);

	/*
	 * Whatever the shell left running in its group (daemons, a background job
	 * still holding the pipe) goes with it: a task ends when its shell does.
	 */
	(void) kill(-c.pid, SIGKILL);
	if (!c.eof)
		(void) shell_read_pipe(c.fd, &c.out);
	close(c.fd);

	*output = shell_output_text(&c.out);
	pfree(c.out.buf);
	return shell_outcome(&c, task->timeout_ms, error);
}

/*
 * The child's environment, built from scratch: the server's own (PGDATA,
 * PG* connection settings, whatever the init system put there) is none of
 * the program's business.
 */
static char **
shell_build_env(const ClaimedTask *task, const ShellResultFiles *files)
{
	char	  **envp = palloc0(sizeof(char *) * 18);
	int			n = 0;
	const char *home = getenv("HOME");
	const char *lang = getenv("LANG");

	envp[n++] = pstrdup("PATH=/usr/local/bin:/usr/bin:/bin");
	if (home != NULL && home[0] != '\0')
		envp[n++] = psprintf("HOME=%s", home);
	envp[n++] = psprintf("LANG=%s",
						 (lang != NULL && lang[0] != '\0') ? lang : "C.UTF-8");
	envp[n++] = psprintf("DAGSCHED_RUN_ID=%lld", (long long) task->run_id);
	envp[n++] = psprintf("DAGSCHED_LOGICAL_TIME=%s",
						 task->logical_time ? task->logical_time : "");
	envp[n++] = psprintf("DAGSCHED_DAG=%s",
						 task->dag_name ? task->dag_name : "");
	envp[n++] = psprintf("DAGSCHED_TASK=%s",
						 task->task_name ? task->task_name : "");
	envp[n++] = psprintf("DAGSCHED_PARAMS=%s",
						 task->params ? task->params : "{}");
	envp[n++] = psprintf("DAGSCHED_ATTEMPT=%d", task->attempt);
	envp[n++] = psprintf("DAGSCHED_RESULT_FILE=%s", files->result);
	envp[n++] = psprintf("DAGSCHED_RESULTS_FILE=%s", files->results);
	/* an instance of a mapped task: its row of map_over, and its position */
	if (task->map_index >= 0)
	{
		envp[n++] = psprintf("DAGSCHED_MAP_ITEM=%s",
							 task->map_item ? task->map_item : "null");
		envp[n++] = psprintf("DAGSCHED_MAP_INDEX=%d", task->map_index);
	}
	envp[n] = NULL;
	return envp;
}

/*
 * The directory programs start in: their own, so that a careless relative
 * path writes next to other shell tasks' files, not into the data directory.
 */
static char *
shell_workdir(void)
{
	char	   *path = psprintf("%s/%s", DataDir, SHELL_DIR_NAME);

	if (mkdir(path, S_IRWXU) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", path)));
	return path;
}

/*
 * In the child, between fork and exec.  Only async-signal-safe calls: the
 * server's memory, locks and error machinery belong to the parent.
 */
static void
shell_exec_child(int outfd, const char *workdir, char **argv, char **envp)
{
	sigset_t	none;
	int			sig;
	int			devnull;
	long		maxfd;
	long		fd;

	/* its own group, so that killing the group reaches every descendant */
	(void) setpgid(0, 0);

	/*
	 * A backend blocks signals at times and handles or ignores others
	 * (SIGPIPE is ignored, which exec would keep); the program gets defaults.
	 */
	for (sig = 1; sig < NSIG; sig++)
		(void) signal(sig, SIG_DFL);
	sigemptyset(&none);
	(void) sigprocmask(SIG_SETMASK, &none, NULL);

	if (chdir(workdir) < 0)
	{
		static const char msg[] = "dagsched: could not change to the shell task directory\n";

		if (write(outfd, msg, sizeof(msg) - 1) < 0)
			_exit(126);
		_exit(126);
	}

	devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0 && devnull != STDIN_FILENO)
	{
		(void) dup2(devnull, STDIN_FILENO);
		(void) close(devnull);
	}
	else if (devnull < 0)
		(void) close(STDIN_FILENO);
	if (outfd != STDOUT_FILENO)
		(void) dup2(outfd, STDOUT_FILENO);
	if (outfd != STDERR_FILENO)
		(void) dup2(outfd, STDERR_FILENO);

	/*
	 * No server descriptor may leak into the program: client sockets, data
	 * files, the postmaster-death pipe, the latch's self-pipe.  This also
	 * closes both ends of our pipe, now that stdout and stderr hold it.
	 */
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0) == 0)
		goto closed;
#endif
	maxfd = sysconf(_SC_OPEN_MAX);
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	for (fd = 3; fd < maxfd; fd++)
		(void) close((int) fd);
#ifdef SYS_close_range
closed:
#endif

	execve("/bin/sh", argv, envp);
	{
		static const char msg[] = "dagsched: could not execute /bin/sh\n";

		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
			_exit(127);
	}
	_exit(127);
}

/*
 * Read everything available now into the ring.  Returns true at EOF (every
 * writer has closed the pipe) or on a read error, after which the pipe is
 * not read again.
 */
static bool
shell_read_pipe(int fd, ShellOutput *out)
{
	for (;;)
	{
		size_t		pos = out->total % SHELL_OUTPUT_MAX;
		ssize_t		n;

		n = read(fd, out->buf + pos, SHELL_OUTPUT_MAX - pos);
		if (n > 0)
		{
			out->total += n;
			continue;
		}
		if (n == 0)
			return true;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return false;
		elog(WARNING, "could not read output of shell task: %m");
		return true;
	}
}

/* waitpid without blocking; true once the child has been reaped */
static bool
shell_reap(pid_t pid, int *status)
{
	for (;;)
	{
		pid_t		rc = waitpid(pid, status, WNOHANG);

		if (rc == pid)
			return true;
		if (rc == 0)
			return false;
		if (errno == EINTR)
			continue;

		/*
		 * ECHILD: someone else reaped it, or SIGCHLD is ignored.  Either way
		 * there is nothing left to wait for, and no status to report.
		 */
		elog(WARNING, "could not wait for shell task process %d: %m",
			 (int) pid);
		*status = 0;
		return true;
	}
}

/*
 * Stop the whole group: SIGTERM so the program can clean up, SIGKILL for
 * whatever is still there after grace_ms, then reap the shell.  Output that
 * arrives meanwhile is still collected when fd >= 0: it often says why the
 * program was slow.  Interrupts are not checked here; the caller does that
 * once nothing is left running.
 */
static void
shell_kill_group(pid_t pgid, pid_t pid, int *status, int grace_ms,
				 int fd, ShellOutput *out)
{
	TimestampTz give_up;
	bool		eof = (fd < 0);

	(void) kill(-pgid, SIGTERM);
	/* a stopped program would never act on the SIGTERM */
	(void) kill(-pgid, SIGCONT);

	give_up = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), grace_ms);
	while (GetCurrentTimestamp() < give_up)
	{
		if (!eof)
			eof = shell_read_pipe(fd, out);
		if (shell_reap(pid, status))
		{
			(void) kill(-pgid, SIGKILL);
			return;
		}
		if (!PostmasterIsAlive())
			break;
		pg_usleep(10 * 1000L);
	}

	(void) kill(-pgid, SIGKILL);
	while (waitpid(pid, status, 0) < 0)
	{
		if (errno != EINTR)
		{
			*status = 0;
			break;
		}
	}
	if (!eof)
		(void) shell_read_pipe(fd, out);
}

/*
 * The kept tail as text that the task_run.output column accepts: a note on
 * what was dropped, then the tail with NUL bytes and byte sequences invalid
 * in the database encoding replaced by '?'.
 */
static char *
shell_output_text(const ShellOutput *out)
{
	StringInfoData text;
	char	   *raw;
	size_t		len;
	size_t		i;
	int			encoding = GetDatabaseEncoding();

	if (out->total == 0)
		return NULL;

	if (out->total <= SHELL_OUTPUT_MAX)
	{
		raw = out->buf;
		len = out->total;
	}
	else
	{
		size_t		pos = out->total % SHELL_OUTPUT_MAX;

		/* unroll the ring: oldest kept byte first */
		raw = palloc(SHELL_OUTPUT_MAX);
		memcpy(raw, out->buf + pos, SHELL_OUTPUT_MAX - pos);
		memcpy(raw + SHELL_OUTPUT_MAX - pos, out->buf, pos);
		len = SHELL_OUTPUT_MAX;
	}

	initStringInfo(&text);
	if (out->total > SHELL_OUTPUT_MAX)
	{
		char	   *nl = memchr(raw, '\n', len);
		uint64		dropped = out->total - SHELL_OUTPUT_MAX;

		/*
		 * The cut most likely split a line; a reader wants whole lines, so
		 * start after the first line break.  Without one, start at least at a
		 * whole character.
		 */
		if (nl != NULL && nl + 1 < raw + len)
			i = nl + 1 - raw;
		else if (encoding == PG_UTF8)
			for (i = 0; i < 3 && i < len && (raw[i] & 0xC0) == 0x80; i++)
				;
		else
			i = 0;
		raw += i;
		len -= i;
		appendStringInfo(&text, "[... " UINT64_FORMAT " bytes of output dropped ...]\n",
						 dropped + i);
	}

	i = 0;
	while (i < len)
	{
		int			clen;

		if (raw[i] == '\0')
		{
			appendStringInfoChar(&text, '?');
			i++;
			continue;
		}
		if (!IS_HIGHBIT_SET(raw[i]))
		{
			appendStringInfoChar(&text, raw[i]);
			i++;
			continue;
		}
		clen = pg_encoding_verifymbchar(encoding, raw + i, len - i);
		if (clen <= 0)
		{
			appendStringInfoChar(&text, '?');
			i++;
			continue;
		}
		appendBinaryStringInfo(&text, raw + i, clen);
		i += clen;
	}
	return text.data;
}
