/*
 * migrate.h - applies sql/NNN_*.sql migrations (clearance-ctl migrate).
 *
 * Used by the ctl program and by the unit tests that need the schema.
 */
#ifndef CLEARANCE_CTL_MIGRATE_H
#define CLEARANCE_CTL_MIGRATE_H

#include <stdio.h>
#include "clearance/db.h"

/*
 * Applies, in name order, every file of dir named NNN_*.sql (three or more
 * digits, then [a-z0-9_]) whose version (the name without ".sql") is not
 * in schema_migrations, each in its own transaction together with the row
 * that records it.  A transaction-scoped advisory lock serialises
 * concurrent migrators.  Writes "applied <file>" per migration, or
 * "up to date", to out (may be NULL); errors go to stderr.  *napplied
 * (may be NULL) gets the count.  Stops at the first failing file.
 */
enum clr_rc ctl_migrate(struct clr_db *db, const char *dir, FILE *out, int *napplied) CLR_MUSTCHECK;

/*
 * Finds the migrations directory when none was given: $CLEARANCE_SQL_DIR,
 * else ./sql, else <binary dir>/../share/clearance/sql.  Returns a pointer
 * to buf (filled) or NULL when none exists.
 */
const char *ctl_sql_dir(char *buf, size_t cap);

#endif
