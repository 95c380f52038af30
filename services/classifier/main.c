//  ticketflow-classifier: the classify stage (classifier_service.c).
#include "classifier_service.h"

int
main (int argc, char **argv)
{
    return tf_engine_main (&classifier_service, "ticketflow-classifier", argc, argv);
}
