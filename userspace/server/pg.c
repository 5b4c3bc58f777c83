// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The fleet's PostgreSQL connection and schema. Owns the connection, its lock
 * and the migrations: a list of numbered SQL scripts, each applied once in a
 * transaction that also records its number in xcap_schema, under an advisory
 * lock so that several processes starting at once apply each one once.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/clock.h"
#include "common/log.h"
#include "common/util.h"
#include "server/pg.h"
#include "server/store.h"

/* Any fixed number: the migrations of all processes take the same lock. */
#define MIGRATION_LOCK 0x78636170

/* The status numbers the SQL below spells out. */
_Static_assert(XCAP_ST_PENDING == 2 && XCAP_ST_RUNNING == 3 && XCAP_ST_CONVERSION_PENDING == 4 &&
		       XCAP_ST_CONVERSION_RUNNING == 5 && XCAP_ST_COMPLETE == 6 &&
		       XCAP_ST_FAILED == 7,
	       "the fleet's SQL spells the status numbers");

/*
 * Migration N is migrations[N - 1]. Never edit one that was released: add the
 * next. Counters are bigint (the unsigned 64-bit ones round-trip through the
 * cast); times that one host compares with another's are the server's clock.
 */
static const char *const migrations[] = {
	/* 1: records of the API, agents and their parts of full captures, shared counters */
	"CREATE TABLE captures ("
	"  seq bigserial NOT NULL,"
	"  id text PRIMARY KEY,"
	"  account text NOT NULL,"
	"  type integer NOT NULL,"
	"  status integer NOT NULL,"
	"  submitted_ns bigint NOT NULL,"
	"  stop_requested_ns bigint NOT NULL,"
	"  time_limit bigint NOT NULL,"
	"  packet_limit bigint NOT NULL,"
	"  byte_limit bigint NOT NULL,"
	"  offset_time_ns bigint NOT NULL,"
	"  filter_json text NOT NULL,"
	"  colo_name text NOT NULL,"
	"  destination_conf text NOT NULL,"
	"  packets_captured bigint NOT NULL,"
	"  bytes_captured bigint NOT NULL,"
	"  packets_matched bigint NOT NULL,"
	"  packets_lost bigint NOT NULL,"
	"  error_message text NOT NULL);"
	"CREATE INDEX captures_by_time ON captures (account, submitted_ns DESC, seq DESC);"
	"CREATE TABLE simple_files (capture_id text PRIMARY KEY, data bytea NOT NULL);"
	"CREATE TABLE buckets ("
	"  seq bigserial NOT NULL,"
	"  id text PRIMARY KEY,"
	"  account text NOT NULL,"
	"  destination_conf text NOT NULL,"
	"  filename text NOT NULL,"
	"  token text NOT NULL,"
	"  status integer NOT NULL,"
	"  submitted_ns bigint NOT NULL,"
	"  validated_ns bigint NOT NULL);"
	"CREATE INDEX buckets_by_conf ON buckets (account, destination_conf);"
	"CREATE TABLE accounts ("
	"  id text PRIMARY KEY,"
	"  simple_per_minute bigint NOT NULL,"
	"  full_active bigint NOT NULL,"
	"  s3_access_key_id text NOT NULL,"
	"  s3_secret_access_key text NOT NULL,"
	"  s3_session_token text NOT NULL);"
	"CREATE TABLE rate_windows ("
	"  account text PRIMARY KEY,"
	"  start_ns bigint NOT NULL,"
	"  count bigint NOT NULL);"
	"CREATE TABLE agents ("
	"  host text PRIMARY KEY,"
	"  colo text NOT NULL,"
	"  metro text NOT NULL,"
	"  interfaces text NOT NULL,"
	"  version text NOT NULL,"
	"  endpoint text NOT NULL,"
	"  started_at timestamptz NOT NULL,"
	"  heartbeat_at timestamptz NOT NULL,"
	"  state text NOT NULL);" /* live, lost (missed heartbeats), stopped (said goodbye) */
	"CREATE INDEX agents_by_colo ON agents (lower(colo));"
	"CREATE INDEX agents_by_metro ON agents (lower(metro));"
	"CREATE TABLE parts ("
	"  capture_id text NOT NULL REFERENCES captures (id) ON DELETE CASCADE,"
	"  agent text NOT NULL,"
	"  colo text NOT NULL,"
	"  status integer NOT NULL,"
	"  stop_requested_ns bigint NOT NULL DEFAULT 0,"
	"  packets_captured bigint NOT NULL DEFAULT 0,"
	"  bytes_captured bigint NOT NULL DEFAULT 0,"
	"  packets_matched bigint NOT NULL DEFAULT 0,"
	"  packets_lost bigint NOT NULL DEFAULT 0,"
	"  error_message text NOT NULL DEFAULT '',"
	"  object_key text NOT NULL,"
	"  updated_at timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (capture_id, agent));"
	"CREATE INDEX parts_by_agent ON parts (agent, status);"
	"CREATE INDEX parts_by_status ON parts (status);",
	/* 2: the direction taken (as xcap_filter.dirs: 0 both) and the file format (0 pcap, 1 pcapng) */
	"ALTER TABLE captures ADD COLUMN direction integer NOT NULL DEFAULT 0;"
	"ALTER TABLE captures ADD COLUMN format integer NOT NULL DEFAULT 0;",
	/* 3: the interfaces taken, "eth0,eth1" ('': every one); each agent takes those it has */
	"ALTER TABLE captures ADD COLUMN interfaces text NOT NULL DEFAULT '';",
	/* 4: the levels of a frame the filter matches at (enum xcap_tunnel: 0 any, 1 outer, 2 inner) */
	"ALTER TABLE captures ADD COLUMN tunnel integer NOT NULL DEFAULT 0;",
};

struct xcap_pg {
	pthread_mutex_t lock;
	PGconn *conn;
	char *conninfo;
	char who[64];
	int64_t last_try_ns; /* the last connection attempt (CLOCK_MONOTONIC) */
	bool down; /* said once in the log, until it is back */
	int version;
};

int xcap_pg_schema_latest(void)
{
	return ARRAY_SIZE(migrations);
}

int xcap_pg_schema_version(const struct xcap_pg *pg)
{
	return pg->version;
}

static void no_notices(void *arg, const PGresult *res)
{
	(void)arg;
	(void)res;
}

/* Connects (lock held); -ENOTCONN when the server cannot be reached. */
static int connect_now(struct xcap_pg *pg)
{
	const char *keys[] = { "dbname", "application_name", "connect_timeout", NULL };
	const char *vals[] = { pg->conninfo, pg->who, "3", NULL };

	PQfinish(pg->conn);
	pg->last_try_ns = xcap_clock_ns(CLOCK_MONOTONIC);
	/* expand_dbname: conninfo may be a URL or key=value pairs; its own values win. */
	pg->conn = PQconnectdbParams(keys, vals, 1);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		if (!pg->down)
			pr_warn("database: cannot connect: %s", PQerrorMessage(pg->conn));
		pg->down = true;
		return -ENOTCONN;
	}
	PQsetNoticeReceiver(pg->conn, no_notices, NULL);
	if (pg->down)
		pr_info("database: connected again\n");
	pg->down = false;
	return 0;
}

static PGresult *run_once(struct xcap_pg *pg, const char *what, const char *sql,
			  const struct xcap_pg_params *p, int *err);

int xcap_pg_lock(struct xcap_pg *pg)
{
	pthread_mutex_lock(&pg->lock);
	if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
		return 0;
	if (xcap_clock_ns(CLOCK_MONOTONIC) - pg->last_try_ns < XCAP_PG_RETRY_MS * NSEC_PER_MSEC)
		return -ENOTCONN;
	return connect_now(pg);
}

void xcap_pg_unlock(struct xcap_pg *pg)
{
	pthread_mutex_unlock(&pg->lock);
}

PGconn *xcap_pg_conn(struct xcap_pg *pg)
{
	return pg->conn;
}

PGresult *xcap_pg_run(struct xcap_pg *pg, const char *what, const char *sql,
		      const struct xcap_pg_params *p, int *err)
{
	PGresult *res;
	bool idle;

	idle = pg->conn && PQtransactionStatus(pg->conn) == PQTRANS_IDLE;
	res = run_once(pg, what, sql, p, err);
	/*
	 * Outside a transaction nothing was done when the connection turned out
	 * lost (the server restarted since the last statement): connect again
	 * and run it once more, now.
	 */
	if (!res && *err == -ENOTCONN && idle && !connect_now(pg))
		res = run_once(pg, what, sql, p, err);
	return res;
}

static PGresult *run_once(struct xcap_pg *pg, const char *what, const char *sql,
			  const struct xcap_pg_params *p, int *err)
{
	PGresult *res;
	const char *state;
	ExecStatusType st;

	if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
		*err = -ENOTCONN;
		return NULL;
	}
	/* Without parameters, several statements may follow each other (the migrations). */
	res = p ? PQexecParams(pg->conn, sql, p->n, NULL, p->v, p->len, p->fmt, 0) :
		  PQexec(pg->conn, sql);
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	/* Class 08 but 08P01 (a protocol violation is this statement's), and 57P: shutting down. */
	if (PQstatus(pg->conn) != CONNECTION_OK ||
	    (state && !strncmp(state, "08", 2) && strcmp(state, "08P01")) ||
	    (state && !strncmp(state, "57P", 3))) {
		/* Connection errors, and the server shutting down: the next lock reconnects. */
		if (!pg->down)
			pr_warn("database: %s: the connection is lost: %s", what,
				PQerrorMessage(pg->conn));
		pg->down = true;
		PQfinish(pg->conn);
		pg->conn = NULL;
		*err = -ENOTCONN;
	} else if (state && !strcmp(state, "23505")) {
		*err = -EEXIST;
	} else {
		pr_err("database: %s: %s", what, PQresultErrorMessage(res));
		*err = -EIO;
	}
	PQclear(res);
	return NULL;
}

int xcap_pg_exec(struct xcap_pg *pg, const char *what, const char *sql,
		 const struct xcap_pg_params *p, int *rows)
{
	PGresult *res;
	int err = 0;

	res = xcap_pg_run(pg, what, sql, p, &err);
	if (!res)
		return err;
	if (rows)
		*rows = atoi(PQcmdTuples(res));
	PQclear(res);
	return 0;
}

int xcap_pg_begin(struct xcap_pg *pg)
{
	return xcap_pg_exec(pg, "begin", "BEGIN", NULL, NULL);
}

int xcap_pg_commit(struct xcap_pg *pg)
{
	return xcap_pg_exec(pg, "commit", "COMMIT", NULL, NULL);
}

void xcap_pg_rollback(struct xcap_pg *pg)
{
	if (pg->conn && PQstatus(pg->conn) == CONNECTION_OK)
		xcap_pg_exec(pg, "rollback", "ROLLBACK", NULL, NULL);
}

int64_t xcap_pg_get_int(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

void xcap_pg_get_str(const PGresult *res, int row, int col, char *buf, size_t size)
{
	snprintf(buf, size, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

/* Applies the migrations the database lacks, in one transaction; -EPROTO when it is newer. */
static int migrate(struct xcap_pg *pg)
{
	struct xcap_pg_params p = {};
	PGresult *res;
	int err, have, i;

	err = xcap_pg_begin(pg);
	xcap_pg_int(&p, MIGRATION_LOCK);
	err = err   ?:
		      xcap_pg_exec(pg, "migration lock", "SELECT pg_advisory_xact_lock($1)", &p,
				   NULL);
	err = err   ?:
		      xcap_pg_exec(pg, "schema table",
				   "CREATE TABLE IF NOT EXISTS xcap_schema ("
				   "  version integer PRIMARY KEY,"
				   "  applied_at timestamptz NOT NULL DEFAULT now())",
				   NULL, NULL);
	if (err)
		goto out;
	res = xcap_pg_run(pg, "schema version", "SELECT coalesce(max(version), 0) FROM xcap_schema",
			  NULL, &err);
	if (!res)
		goto out;
	have = xcap_pg_get_int(res, 0, 0);
	PQclear(res);
	if (have > xcap_pg_schema_latest()) {
		pr_err("database: its schema is version %d, newer than this xcapd knows (%d): "
		       "upgrade xcapd (nothing was changed)\n",
		       have, xcap_pg_schema_latest());
		err = -EPROTO;
		goto out;
	}
	for (i = have; i < xcap_pg_schema_latest() && !err; i++) {
		p.n = 0;
		xcap_pg_int(&p, i + 1);
		err = xcap_pg_exec(pg, "migration", migrations[i], NULL, NULL) ?:
			      xcap_pg_exec(pg, "schema version",
					   "INSERT INTO xcap_schema (version) VALUES ($1)", &p,
					   NULL);
		if (!err)
			pr_info("database: schema migrated to version %d\n", i + 1);
	}
	err = err ?: xcap_pg_commit(pg);
	if (!err)
		pg->version = xcap_pg_schema_latest();
out:
	if (err)
		xcap_pg_rollback(pg);
	return err;
}

struct xcap_pg *xcap_pg_open(const char *conninfo, const char *who)
{
	struct xcap_pg *pg = calloc(1, sizeof(*pg));
	int err = -ENOMEM;

	if (!pg)
		goto fail;
	pthread_mutex_init(&pg->lock, NULL);
	snprintf(pg->who, sizeof(pg->who), "%s", who);
	pg->conninfo = strdup(conninfo);
	if (!pg->conninfo)
		goto fail;
	pthread_mutex_lock(&pg->lock);
	err = connect_now(pg) ?: migrate(pg);
	pthread_mutex_unlock(&pg->lock);
	if (!err)
		return pg;
	if (err == -ENOTCONN)
		pr_err("database: unreachable at start\n");
fail:
	xcap_pg_close(pg);
	errno = -err;
	return NULL;
}

void xcap_pg_close(struct xcap_pg *pg)
{
	if (!pg)
		return;
	PQfinish(pg->conn);
	free(pg->conninfo);
	pthread_mutex_destroy(&pg->lock);
	free(pg);
}
