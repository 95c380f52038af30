//  ticketflow-sla: the handle stage and the deadline clocks (sla_service.c).
#include "sla_service.h"

int
main (int argc, char **argv)
{
    return tf_engine_main (&sla_service, "ticketflow-sla", argc, argv);
}
