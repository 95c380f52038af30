/*  tf_taxonomy — loads the taxonomy file (deploy/taxonomy/taxonomy.json:
    departments, categories with their sub-categories, the SLA policy) into
    the database: one transaction, upserts, so it runs on every migrate.
*/
#ifndef TF_TAXONOMY_H
#define TF_TAXONOMY_H

#include "tf_db.h"
#include <stddef.h>

//  Returns the number of sub-categories loaded, or -1 with a message in err.
int tf_taxonomy_load (tf_db_t *db, const char *path, char *err, size_t errlen);

#endif
