/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The PostgreSQL store of a fleet (store_pg.c): the API processes' view and
 * an agent's view (its parts of full captures as its captures), and the SQL
 * pieces that fleet_pg.c shares with it so that both read and write a
 * capture row alike.
 */
#ifndef XCAP_STORE_PG_H
#define XCAP_STORE_PG_H

#include "server/config.h"
#include "server/pg.h"
#include "server/store.h"

/*
 * The API processes' store on pg (not owned): credentials and accounts are
 * cfg's, and the accounts are copied into the database. NULL + errno.
 */
struct xcap_store *xcap_store_pg_open(struct xcap_pg *pg, const struct xcap_config *cfg);
/* The agent `host`'s store on pg (not owned): its parts as captures. NULL + errno. */
struct xcap_store *xcap_store_pg_open_agent(struct xcap_pg *pg, const char *host);

/* INSERT of a capture row, with the 18 parameters of xcap_store_pg_capture_params. */
extern const char xcap_store_pg_capture_upsert[];
void xcap_store_pg_capture_params(struct xcap_pg_params *p, const struct xcap_capture_rec *r);
/* "cols FROM parts p JOIN captures c ...": a part as a capture record; read with the next. */
extern const char xcap_store_pg_part_cols[];
void xcap_store_pg_read_capture(const PGresult *res, int row, struct xcap_capture_rec *r);
/* SELECT count(*) of the account ($1)'s full captures with a pending or running part. */
extern const char xcap_store_pg_active_full[];

#endif /* XCAP_STORE_PG_H */
