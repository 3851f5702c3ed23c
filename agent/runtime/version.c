/* Runtime version, reported by the agent as a capability. */
#include "flt/runtime.h"

const char *flt_runtime_version(void)
{
	return "0.1.0";
}
