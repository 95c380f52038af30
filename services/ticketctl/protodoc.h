/*  protodoc — prints the message tables of proto/events.md from
    proto/events.def, so the document and the codec share one definition.
*/
#ifndef PROTODOC_H
#define PROTODOC_H

#include <stdio.h>

//  Writes the generated section (between its BEGIN/END marker lines).
void protodoc_write (FILE *out);

//  Writes the settings table of README.md (from common/tf_config.c).
void protodoc_write_settings (FILE *out);

//  Writes the status and move tables of proto/events.md and README.md
//  (from proto/status.def).
void protodoc_write_statuses (FILE *out);

#define PROTODOC_BEGIN "<!-- BEGIN GENERATED: bin/ticketflow-protodoc; do not edit by hand -->"
#define PROTODOC_END   "<!-- END GENERATED -->"

#endif
