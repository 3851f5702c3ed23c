/* flotilla-agent: the device daemon and its tools; everything lives in flt_agent. */
#include "flt/agent.h"

int main(int argc, char **argv)
{
	return flt_agent_cli(argc, argv);
}
