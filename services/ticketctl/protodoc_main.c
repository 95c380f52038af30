//  ticketflow-protodoc: prints the generated message tables of proto/events.md.
#include "protodoc.h"
#include <string.h>

int
main (int argc, char **argv)
{
    if (argc > 1 && (strcmp (argv [1], "--help") == 0 || strcmp (argv [1], "-h") == 0)) {
        printf ("ticketflow-protodoc — prints the message tables of proto/events.md, generated\n"
                "from proto/events.def. Paste the output over the generated section of the\n"
                "document (tests/test_protodoc.c fails while they differ).\n"
                "With --settings, prints the settings table of README.md instead; with\n"
                "--statuses, the status and move tables of both documents (from\n"
                "proto/status.def).\n\n"
                "Usage: ticketflow-protodoc [--settings | --statuses]\n");
        return 0;
    }
    if (argc > 1 && strcmp (argv [1], "--settings") == 0)
        protodoc_write_settings (stdout);
    else
    if (argc > 1 && strcmp (argv [1], "--statuses") == 0)
        protodoc_write_statuses (stdout);
    else
        protodoc_write (stdout);
    return 0;
}
