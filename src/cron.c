/* stub: replaced by the real implementation */
#include "postgres.h"
