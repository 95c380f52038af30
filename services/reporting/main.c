//  ticketflow-reporting: the archive stage and the metrics (reporting_service.c).
#include "reporting_service.h"

int
main (int argc, char **argv)
{
    return tf_engine_main (&reporting_service, "ticketflow-reporting", argc, argv);
}
