//  ticketflow-notifier: the confirm stage and every outbound message (notifier_service.c).
#include "notifier_service.h"

int
main (int argc, char **argv)
{
    return tf_engine_main (&notifier_service, "ticketflow-notifier", argc, argv);
}
