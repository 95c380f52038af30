//  ticketflow-intake: the receive stage (intake_service.c).
#include "intake_service.h"

int
main (int argc, char **argv)
{
    return tf_engine_main (&intake_service, "ticketflow-intake", argc, argv);
}
