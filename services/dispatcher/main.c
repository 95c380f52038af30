//  ticketflow-dispatcher: the assign stage (dispatcher_service.c).
#include "dispatcher_service.h"

int
main (int argc, char **argv)
{
    return tf_engine_main (&dispatcher_service, "ticketflow-dispatcher", argc, argv);
}
