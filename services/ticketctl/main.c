//  ticketctl: the command-line client; see ticketctl.c.
#include "ticketctl.h"

int
main (int argc, char **argv)
{
    return ticketctl_run (argc, argv, stdout, stderr);
}
