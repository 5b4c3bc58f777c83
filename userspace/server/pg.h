/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * One PostgreSQL connection (libpq) shared by the threads of a process: a
 * lock held across a statement or a transaction, a reconnection at most every
 * XCAP_PG_RETRY_MS after the server went away, errors mapped to an errno, and
 * the numbered schema migrations of the fleet's tables (applied at open,
 * refused when the database is newer than this binary). Only store_pg.c and
 * fleet_pg.c include it.
 */
#ifndef XCAP_PG_H
#define XCAP_PG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <postgresql/libpq-fe.h>

#define XCAP_PG_RETRY_MS 300
#define XCAP_PG_PARAMS_MAX 24

struct xcap_pg;

/*
 * Connects with conninfo (a libpq URL or key=value string) and applies the
 * migrations this binary has that the database lacks. who names the process
 * in the server's pg_stat_activity. NULL + errno: ENOTCONN (unreachable),
 * EPROTO (the database is newer), EIO.
 */
struct xcap_pg *xcap_pg_open(const char *conninfo, const char *who);
void xcap_pg_close(struct xcap_pg *pg);
/* The schema version of the database once migrated. */
int xcap_pg_schema_version(const struct xcap_pg *pg);
/* The schema version this binary knows. */
int xcap_pg_schema_latest(void);

/*
 * Takes the connection (reconnecting if it was lost): 0, or -ENOTCONN while
 * the server is unreachable. The lock is held either way: xcap_pg_unlock.
 */
int xcap_pg_lock(struct xcap_pg *pg);
void xcap_pg_unlock(struct xcap_pg *pg);

/* Text parameters of one statement. */
struct xcap_pg_params {
	int n;
	const char *v[XCAP_PG_PARAMS_MAX];
	int len[XCAP_PG_PARAMS_MAX];
	int fmt[XCAP_PG_PARAMS_MAX];
	char num[XCAP_PG_PARAMS_MAX][24];
};

static inline void xcap_pg_str(struct xcap_pg_params *p, const char *s)
{
	p->v[p->n] = s;
	p->len[p->n] = 0;
	p->fmt[p->n++] = 0;
}

static inline void xcap_pg_int(struct xcap_pg_params *p, int64_t v)
{
	snprintf(p->num[p->n], sizeof(p->num[0]), "%lld", (long long)v);
	xcap_pg_str(p, p->num[p->n]);
}

/* A binary parameter (bytea). */
static inline void xcap_pg_bin(struct xcap_pg_params *p, const void *data, int len)
{
	p->v[p->n] = data;
	p->len[p->n] = len;
	p->fmt[p->n++] = 1;
}

/*
 * Runs one statement with the lock held (p may be NULL); what names it in
 * logs. The result (PQclear it), or NULL with *err: -ENOTCONN (the connection
 * is lost), -EEXIST (a unique key), -EIO.
 */
PGresult *xcap_pg_run(struct xcap_pg *pg, const char *what, const char *sql,
		      const struct xcap_pg_params *p, int *err);
/* xcap_pg_run without rows: 0 or *err as there; *rows (may be NULL) the rows it changed. */
int xcap_pg_exec(struct xcap_pg *pg, const char *what, const char *sql,
		 const struct xcap_pg_params *p, int *rows);
/* BEGIN, COMMIT, ROLLBACK with the lock held. ROLLBACK never fails the caller. */
int xcap_pg_begin(struct xcap_pg *pg);
int xcap_pg_commit(struct xcap_pg *pg);
void xcap_pg_rollback(struct xcap_pg *pg);

/* Column helpers: a NULL value reads as 0 or "". */
int64_t xcap_pg_get_int(const PGresult *res, int row, int col);
void xcap_pg_get_str(const PGresult *res, int row, int col, char *buf, size_t size);

/* The raw connection, with the lock held (LISTEN and notifications). */
PGconn *xcap_pg_conn(struct xcap_pg *pg);

#endif /* XCAP_PG_H */
