/* flotilla: the controller CLI and daemon; everything lives in flt_controller. */
#include "flt/controller.h"

int main(int argc, char **argv)
{
	return flt_controller_cli(argc, argv);
}
