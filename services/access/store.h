/*
 * store.h - the access service's prepared statements (store.c); every
 * connection, the worker's too, prepares all of them.
 */
#ifndef CLEARANCE_ACC_STORE_H
#define CLEARANCE_ACC_STORE_H

#include <stddef.h>
#include "clearance/db.h"

extern const struct clr_db_stmt acc_stmts[];
extern const size_t acc_nstmts;

#endif
