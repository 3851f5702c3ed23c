/* flotilla-supervisor: thin main over flt_supervisor_main (firmware/supervisor.c). */
#include "flt/agentslot.h"

int main(int argc, char **argv)
{
	return flt_supervisor_main(argc, argv);
}
