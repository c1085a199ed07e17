/* stub: replaced by the real implementation */
#include "postgres.h"
#include "shell.h"

void
ShellCheckPrivilege(const char *owner)
{
}

bool
ShellRunTask(const ClaimedTask *task, char **output, char **error)
{
	*output = NULL;
	*error = pstrdup("shell tasks are not supported yet");
	return false;
}
