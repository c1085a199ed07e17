/* stub: replaced by the real implementation */
#include "postgres.h"
#include "remote.h"

void
RemoteCheckAccess(const ClaimedTask *task)
{
}

bool
RemoteRunTask(const ClaimedTask *task, char **output, char **error)
{
	*output = NULL;
	*error = pstrdup("remote tasks are not supported yet");
	return false;
}
