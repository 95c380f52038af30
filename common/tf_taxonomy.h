/*  tf_taxonomy — loads the reference files into the database, each in one
    transaction, on every migrate:
    - the taxonomy (deploy/taxonomy/taxonomy.json: departments, categories
      with their sub-categories and deadlines, the SLA policy), by upserts;
    - the calendar (deploy/calendar.json: service hours per scope, public
      holidays and make-up working days), replacing what was there. The
      clocks (tf_business_add in deploy/sql/008_service_desk.sql) read it;
    - the customer message templates (deploy/messages.json: kind, channel,
      subject, text), replacing what was there; a template that uses a
      variable its kind lacks is refused (message_kinds in
      deploy/sql/009_conversations.sql).
*/
#ifndef TF_TAXONOMY_H
#define TF_TAXONOMY_H

#include "tf_db.h"
#include <stddef.h>

//  Returns the number of sub-categories loaded, or -1 with a message in err.
int tf_taxonomy_load (tf_db_t *db, const char *path, char *err, size_t errlen);

//  Returns the number of calendar days (holidays and make-up days) loaded,
//  or -1 with a message in err (nothing changed).
int tf_calendar_load (tf_db_t *db, const char *path, char *err, size_t errlen);

//  Returns the number of templates loaded, or -1 with a message in err
//  (nothing changed).
int tf_templates_load (tf_db_t *db, const char *path, char *err, size_t errlen);

#endif
