// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The store of a fleet, in PostgreSQL (the tables of pg.c's migrations). Two
 * views of the same tables, one ops table each:
 *
 * - The API's (xcap_store_pg_open): captures, buckets, rate windows, simple
 *   capture files. A full capture's status and counters are derived from its
 *   parts when it is read: running while a part is pending or running;
 *   conversion while one delivers; complete when all ended and one delivered
 *   (error_message names the hosts that failed); failed when all failed.
 *   Credentials and accounts are the config's (every API process reads the
 *   same file); the accounts are copied into the database at open for the
 *   agents (bucket keys) and the quota check of xcap_fleet_create.
 * - An agent's (xcap_store_pg_open_agent): its parts of full captures seen as
 *   captures, so that the single-host state machine (jobs.c) and the delivery
 *   worker run them unchanged: a put stores the part's status and counters.
 *
 * Every function returns -ENOTCONN (XCAP_STORE_EDOWN) while the server is
 * unreachable; a transaction is all or nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "server/credentials.h"
#include "server/fleet.h"
#include "server/pg.h"
#include "server/store.h"
#include "server/store_pg.h"

struct store_pg {
	struct xcap_store base;
	struct xcap_pg *pg;
	const struct xcap_config *cfg; /* the API's credentials and accounts */
	char host[XCAP_FLEET_HOST_MAX]; /* the agent's view: its host name */
};

static struct store_pg *store_of(struct xcap_store *base)
{
	return (struct store_pg *)base;
}

#define CAPTURE_COLS                                                                             \
	"c.id, c.account, c.type, c.status, c.submitted_ns, c.stop_requested_ns, c.time_limit, " \
	"c.packet_limit, c.byte_limit, c.offset_time_ns, c.filter_json, c.colo_name, "           \
	"c.destination_conf, c.packets_captured, c.bytes_captured, c.packets_matched, "          \
	"c.packets_lost, c.error_message, c.direction, c.format, c.interfaces, c.tunnel"
#define N_CAPTURE_COLS 22

/* The parts' summary after CAPTURE_COLS (API view), in the order read_parts_summary reads. */
#define PARTS_SUMMARY                                                                           \
	", p.n, p.pending, p.running, p.conv_pending, p.conv_running, p.complete, p.captured, " \
	"p.bytes, p.matched, p.lost, p.failed_hosts FROM captures c LEFT JOIN LATERAL ("        \
	"SELECT count(*) n, count(*) FILTER (WHERE status = 2) pending,"                        \
	" count(*) FILTER (WHERE status = 3) running,"                                          \
	" count(*) FILTER (WHERE status = 4) conv_pending,"                                     \
	" count(*) FILTER (WHERE status = 5) conv_running,"                                     \
	" count(*) FILTER (WHERE status = 6) complete,"                                         \
	" coalesce(sum(packets_captured), 0) captured, coalesce(sum(bytes_captured), 0) bytes," \
	" coalesce(sum(packets_matched), 0) matched, coalesce(sum(packets_lost), 0) lost,"      \
	" coalesce(string_agg(CASE WHEN status = 7 THEN agent || ' (' || error_message || ')'"  \
	" END, '; ' ORDER BY agent), '') failed_hosts "                                         \
	"FROM parts WHERE capture_id = c.id) p ON true "

static void read_capture(const PGresult *res, int row, struct xcap_capture_rec *r)
{
	int c = 0;

	memset(r, 0, sizeof(*r));
	xcap_pg_get_str(res, row, c++, r->id, sizeof(r->id));
	xcap_pg_get_str(res, row, c++, r->account, sizeof(r->account));
	r->type = xcap_pg_get_int(res, row, c++);
	r->status = xcap_pg_get_int(res, row, c++);
	r->submitted_ns = xcap_pg_get_int(res, row, c++);
	r->stop_requested_ns = xcap_pg_get_int(res, row, c++);
	r->time_limit = xcap_pg_get_int(res, row, c++);
	r->packet_limit = xcap_pg_get_int(res, row, c++);
	r->byte_limit = xcap_pg_get_int(res, row, c++);
	r->offset_time_ns = xcap_pg_get_int(res, row, c++);
	xcap_pg_get_str(res, row, c++, r->filter_json, sizeof(r->filter_json));
	xcap_pg_get_str(res, row, c++, r->colo_name, sizeof(r->colo_name));
	xcap_pg_get_str(res, row, c++, r->destination_conf, sizeof(r->destination_conf));
	r->packets_captured = xcap_pg_get_int(res, row, c++);
	r->bytes_captured = xcap_pg_get_int(res, row, c++);
	r->packets_matched = xcap_pg_get_int(res, row, c++);
	r->packets_lost = xcap_pg_get_int(res, row, c++);
	xcap_pg_get_str(res, row, c++, r->error_message, sizeof(r->error_message));
	r->dirs = xcap_pg_get_int(res, row, c++);
	r->format = xcap_pg_get_int(res, row, c++) == XCAP_PCAPNG ? XCAP_PCAPNG : XCAP_PCAP;
	xcap_pg_get_str(res, row, c++, r->ifaces, sizeof(r->ifaces));
	r->tunnel = xcap_pg_get_int(res, row, c++);
}

/* A full capture's status and counters from its parts (the API view). */
static void derive(const PGresult *res, int row, struct xcap_capture_rec *r)
{
	int c = N_CAPTURE_COLS;
	int64_t n = xcap_pg_get_int(res, row, c), pending = xcap_pg_get_int(res, row, c + 1),
		running = xcap_pg_get_int(res, row, c + 2),
		conv_pending = xcap_pg_get_int(res, row, c + 3),
		conv_running = xcap_pg_get_int(res, row, c + 4),
		complete = xcap_pg_get_int(res, row, c + 5);
	char failed[sizeof(r->error_message)];

	if (r->type != XCAP_TYPE_FULL || !n)
		return;
	r->packets_captured = xcap_pg_get_int(res, row, c + 6);
	r->bytes_captured = xcap_pg_get_int(res, row, c + 7);
	r->packets_matched = xcap_pg_get_int(res, row, c + 8);
	r->packets_lost = xcap_pg_get_int(res, row, c + 9);
	xcap_pg_get_str(res, row, c + 10, failed, sizeof(failed));
	r->error_message[0] = '\0';
	if (pending == n)
		r->status = XCAP_ST_PENDING;
	else if (pending || running)
		r->status = XCAP_ST_RUNNING;
	else if (conv_pending && !conv_running)
		r->status = XCAP_ST_CONVERSION_PENDING;
	else if (conv_pending || conv_running)
		r->status = XCAP_ST_CONVERSION_RUNNING;
	else if (complete)
		r->status = XCAP_ST_COMPLETE;
	else
		r->status = XCAP_ST_FAILED;
	if (failed[0])
		snprintf(r->error_message, sizeof(r->error_message), "%s: %s",
			 r->status == XCAP_ST_FAILED ? "every host failed" : "hosts that failed",
			 failed);
}

/* Runs a statement under the lock: the result, or NULL and *err. */
static PGresult *run(struct store_pg *s, const char *what, const char *sql,
		     const struct xcap_pg_params *p, int *err)
{
	PGresult *res = NULL;

	*err = xcap_pg_lock(s->pg);
	if (!*err)
		res = xcap_pg_run(s->pg, what, sql, p, err);
	xcap_pg_unlock(s->pg);
	return res;
}

static int exec(struct store_pg *s, const char *what, const char *sql,
		const struct xcap_pg_params *p, int *rows)
{
	int err = xcap_pg_lock(s->pg);

	if (!err)
		err = xcap_pg_exec(s->pg, what, sql, p, rows);
	xcap_pg_unlock(s->pg);
	return err;
}

/* Reads one row of a query's result into out. */
typedef void (*row_reader)(const PGresult *res, int row, void *out);

/* Reads up to max rows of a query, records of `size` bytes: how many, or -errno. */
static int fetch(struct store_pg *s, const char *what, const char *sql,
		 const struct xcap_pg_params *p, row_reader read, void *out, size_t size, int max)
{
	PGresult *res;
	int err, i, n;

	res = run(s, what, sql, p, &err);
	if (!res)
		return err;
	n = PQntuples(res) < max ? PQntuples(res) : max;
	for (i = 0; i < n; i++)
		read(res, i, (char *)out + i * size);
	PQclear(res);
	return n;
}

/* The one row of a query: 0, -ENOENT or -errno. */
static int get(struct store_pg *s, const char *what, const char *sql,
	       const struct xcap_pg_params *p, row_reader read, void *out)
{
	int n = fetch(s, what, sql, p, read, out, 0, 1);

	return n < 0 ? n : n ? 0 : -ENOENT;
}

/* Up to max rows of a query into out, *n of them: 0 or -errno. */
static int list(struct store_pg *s, const char *what, const char *sql,
		const struct xcap_pg_params *p, row_reader read, void *out, size_t size, int max,
		int *n)
{
	int got = fetch(s, what, sql, p, read, out, size, max);

	*n = got < 0 ? 0 : got;
	return got < 0 ? got : 0;
}

/* A capture as the API shows it: its columns and what its parts add up to. */
static void read_capture_view(const PGresult *res, int row, void *out)
{
	read_capture(res, row, out);
	derive(res, row, out);
}

static void close_pg(struct xcap_store *base)
{
	free(base);
}

static int schema_version(struct xcap_store *base)
{
	return xcap_pg_schema_version(store_of(base)->pg);
}

static void capture_params(struct xcap_pg_params *p, const struct xcap_capture_rec *r)
{
	xcap_pg_str(p, r->id);
	xcap_pg_str(p, r->account);
	xcap_pg_int(p, r->type);
	xcap_pg_int(p, r->status);
	xcap_pg_int(p, r->submitted_ns);
	xcap_pg_int(p, r->stop_requested_ns);
	xcap_pg_int(p, r->time_limit);
	xcap_pg_int(p, r->packet_limit);
	xcap_pg_int(p, (int64_t)r->byte_limit);
	xcap_pg_int(p, r->offset_time_ns);
	xcap_pg_str(p, r->filter_json);
	xcap_pg_str(p, r->colo_name);
	xcap_pg_str(p, r->destination_conf);
	xcap_pg_int(p, (int64_t)r->packets_captured);
	xcap_pg_int(p, (int64_t)r->bytes_captured);
	xcap_pg_int(p, (int64_t)r->packets_matched);
	xcap_pg_int(p, (int64_t)r->packets_lost);
	xcap_pg_str(p, r->error_message);
	xcap_pg_int(p, r->dirs);
	xcap_pg_int(p, r->format);
	xcap_pg_str(p, r->ifaces);
	xcap_pg_int(p, r->tunnel);
}

/* The insert of a capture row; xcap_fleet_create uses it too. */
const char xcap_store_pg_capture_upsert[] =
	"INSERT INTO captures (id, account, type, status, submitted_ns, stop_requested_ns, "
	"time_limit, packet_limit, byte_limit, offset_time_ns, filter_json, colo_name, "
	"destination_conf, packets_captured, bytes_captured, packets_matched, packets_lost, "
	"error_message, direction, format, interfaces, tunnel) VALUES ($1, $2, $3, $4, $5, $6, $7, "
	"$8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) "
	"ON CONFLICT (id) DO UPDATE SET status = $4, stop_requested_ns = $6, "
	"packets_captured = $14, bytes_captured = $15, packets_matched = $16, packets_lost = $17, "
	"error_message = $18 WHERE captures.account = $2";

void xcap_store_pg_capture_params(struct xcap_pg_params *p, const struct xcap_capture_rec *r)
{
	capture_params(p, r);
}

static int capture_put(struct xcap_store *base, const struct xcap_capture_rec *r)
{
	struct xcap_pg_params p = {};
	int err, rows = 0;

	capture_params(&p, r);
	err = exec(store_of(base), "capture put", xcap_store_pg_capture_upsert, &p, &rows);
	return err ?: rows ? 0 : -EEXIST;
}

static int capture_get(struct xcap_store *base, const char *account, const char *id,
		       struct xcap_capture_rec *out)
{
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, account);
	xcap_pg_str(&p, id);
	return get(store_of(base), "capture get",
		   "SELECT " CAPTURE_COLS PARTS_SUMMARY "WHERE c.account = $1 AND c.id = $2", &p,
		   read_capture_view, out);
}

static int capture_list(struct xcap_store *base, const char *account, struct xcap_capture_rec *out,
			int max, int *n)
{
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, account);
	xcap_pg_int(&p, max);
	return list(store_of(base), "capture list",
		    "SELECT " CAPTURE_COLS PARTS_SUMMARY "WHERE c.account = $1 "
		    "ORDER BY c.submitted_ns DESC, c.seq DESC LIMIT $2",
		    &p, read_capture_view, out, sizeof(*out), max, n);
}

static int count(struct store_pg *s, const char *what, const char *sql,
		 const struct xcap_pg_params *p)
{
	PGresult *res;
	int err, n;

	res = run(s, what, sql, p, &err);
	if (!res)
		return err;
	n = xcap_pg_get_int(res, 0, 0);
	PQclear(res);
	return n;
}

static int capture_count(struct xcap_store *base, const char *account)
{
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, account);
	return count(store_of(base), "capture count",
		     "SELECT count(*) FROM captures WHERE account = $1", &p);
}

/* Full captures with a part that is pending or running (the quota's count). */
#define ACTIVE_FULL_SQL                                                        \
	"SELECT count(*) FROM captures c WHERE c.account = $1 AND c.type = 1 " \
	"AND EXISTS (SELECT 1 FROM parts p WHERE p.capture_id = c.id AND p.status IN (2, 3))"
_Static_assert(XCAP_TYPE_FULL == 1, "ACTIVE_FULL_SQL spells the type");
const char xcap_store_pg_active_full[] = ACTIVE_FULL_SQL;

static int capture_count_active_full(struct xcap_store *base, const char *account)
{
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, account);
	return count(store_of(base), "capture count active", ACTIVE_FULL_SQL, &p);
}

/* Walks the rows of a query in pages, so that fn may use the store. */
static int each(struct store_pg *s, const char *what, const char *sql, const char *host,
		uint32_t statuses, bool derived, int (*fn)(void *arg, struct xcap_capture_rec *r),
		void *arg)
{
	struct xcap_capture_rec *recs = NULL;
	struct xcap_pg_params p;
	PGresult *res;
	int64_t after = 0;
	int err = 0, i, n;

	recs = calloc(XCAP_LIST_MAX, sizeof(*recs));
	if (!recs)
		return -ENOMEM;
	do {
		int64_t seqs[XCAP_LIST_MAX];

		p = (struct xcap_pg_params){};
		xcap_pg_int(&p, statuses);
		xcap_pg_int(&p, after);
		xcap_pg_int(&p, XCAP_LIST_MAX);
		if (host)
			xcap_pg_str(&p, host);
		res = run(s, what, sql, &p, &err);
		if (!res)
			break;
		n = PQntuples(res);
		for (i = 0; i < n; i++) {
			read_capture(res, i, &recs[i]);
			if (derived)
				derive(res, i, &recs[i]);
			seqs[i] = xcap_pg_get_int(res, i, PQnfields(res) - 1);
		}
		PQclear(res);
		for (i = 0; i < n && !err; i++) {
			after = seqs[i];
			err = fn(arg, &recs[i]);
		}
	} while (!err && n == XCAP_LIST_MAX);
	free(recs);
	return err;
}

static int capture_each(struct xcap_store *base, uint32_t statuses,
			int (*fn)(void *arg, struct xcap_capture_rec *r), void *arg)
{
	/* The API view: captures by their stored status (simple ones, and full ones as created). */
	return each(store_of(base), "capture each",
		    "SELECT " CAPTURE_COLS PARTS_SUMMARY
		    ", c.seq WHERE ((1 << c.status) & $1) <> 0 "
		    "AND c.seq > $2 ORDER BY c.seq LIMIT $3",
		    NULL, statuses, true, fn, arg);
}

#define BUCKET_COLS                                                              \
	"id, account, destination_conf, filename, token, status, submitted_ns, " \
	"validated_ns"

static void read_bucket(const PGresult *res, int row, void *out)
{
	struct xcap_bucket_rec *r = out;
	int c = 0;

	memset(r, 0, sizeof(*r));
	xcap_pg_get_str(res, row, c++, r->id, sizeof(r->id));
	xcap_pg_get_str(res, row, c++, r->account, sizeof(r->account));
	xcap_pg_get_str(res, row, c++, r->destination_conf, sizeof(r->destination_conf));
	xcap_pg_get_str(res, row, c++, r->filename, sizeof(r->filename));
	xcap_pg_get_str(res, row, c++, r->token, sizeof(r->token));
	r->status = xcap_pg_get_int(res, row, c++);
	r->submitted_ns = xcap_pg_get_int(res, row, c++);
	r->validated_ns = xcap_pg_get_int(res, row, c++);
}

static int bucket_put(struct xcap_store *base, const struct xcap_bucket_rec *r)
{
	struct xcap_pg_params p = {};
	int err, rows = 0;

	xcap_pg_str(&p, r->id);
	xcap_pg_str(&p, r->account);
	xcap_pg_str(&p, r->destination_conf);
	xcap_pg_str(&p, r->filename);
	xcap_pg_str(&p, r->token);
	xcap_pg_int(&p, r->status);
	xcap_pg_int(&p, r->submitted_ns);
	xcap_pg_int(&p, r->validated_ns);
	err = exec(store_of(base), "bucket put",
		   "INSERT INTO buckets (" BUCKET_COLS ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
		   "ON CONFLICT (id) DO UPDATE SET destination_conf = $3, filename = $4, "
		   "token = $5, status = $6, submitted_ns = $7, validated_ns = $8 "
		   "WHERE buckets.account = $2",
		   &p, &rows);
	return err ?: rows ? 0 : -EEXIST;
}

static int bucket_find(struct xcap_store *base, const char *account, const char *conf,
		       struct xcap_bucket_rec *out)
{
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, account);
	xcap_pg_str(&p, conf);
	return get(store_of(base), "bucket find",
		   "SELECT " BUCKET_COLS " FROM buckets WHERE account = $1 AND "
		   "destination_conf = $2 ORDER BY submitted_ns DESC, seq DESC LIMIT 1",
		   &p, read_bucket, out);
}

static int bucket_list(struct xcap_store *base, const char *account, struct xcap_bucket_rec *out,
		       int max, int *n)
{
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, account);
	xcap_pg_int(&p, max);
	return list(store_of(base), "bucket list",
		    "SELECT " BUCKET_COLS " FROM buckets WHERE account = $1 "
		    "ORDER BY submitted_ns DESC, seq DESC LIMIT $2",
		    &p, read_bucket, out, sizeof(*out), max, n);
}

static int bucket_delete(struct xcap_store *base, const char *account, const char *id)
{
	struct xcap_pg_params p = {};
	int err, rows = 0;

	xcap_pg_str(&p, account);
	xcap_pg_str(&p, id);
	err = exec(store_of(base), "bucket delete",
		   "DELETE FROM buckets WHERE account = $1 AND id = $2", &p, &rows);
	return err ?: rows ? 0 : -ENOENT;
}

static int bucket_count(struct xcap_store *base, const char *account)
{
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, account);
	return count(store_of(base), "bucket count",
		     "SELECT count(*) FROM buckets WHERE account = $1", &p);
}

/*
 * What the API processes keep for an account: its simple captures' files (in
 * the database). A full capture's part stays on its agent until delivered.
 */
static int capture_stored_bytes(struct xcap_store *base, const char *account, uint64_t *bytes)
{
	struct xcap_pg_params p = {};
	PGresult *res;
	int err;

	xcap_pg_str(&p, account);
	res = run(store_of(base), "capture stored bytes",
		  "SELECT coalesce(sum(length(f.data)), 0) FROM simple_files f "
		  "JOIN captures c ON c.id = f.capture_id WHERE c.account = $1",
		  &p, &err);
	if (!res)
		return err;
	*bytes = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

/*
 * Ended captures submitted before before_ns, oldest first: a simple one that
 * ended, a full one none of whose parts is still pending, running or delivering.
 */
static int capture_expired(struct xcap_store *base, int64_t before_ns, struct xcap_capture_rec *out,
			   int max, int *n)
{
	struct xcap_pg_params p = {};

	xcap_pg_int(&p, before_ns);
	xcap_pg_int(&p, max);
	return list(store_of(base), "capture expired",
		    "SELECT " CAPTURE_COLS PARTS_SUMMARY "WHERE c.submitted_ns < $1 AND "
		    "((c.type = 0 AND c.status IN (1, 7)) OR (c.type = 1 AND NOT EXISTS "
		    "(SELECT 1 FROM parts q WHERE q.capture_id = c.id "
		    "AND q.status IN (2, 3, 4, 5)))) ORDER BY c.submitted_ns, c.seq LIMIT $2",
		    &p, read_capture_view, out, sizeof(*out), max, n);
}
_Static_assert(XCAP_TYPE_SIMPLE == 0 && XCAP_ST_SUCCESS == 1 && XCAP_ST_PENDING == 2 &&
		       XCAP_ST_CONVERSION_RUNNING == 5 && XCAP_ST_FAILED == 7,
	       "capture_expired spells the types and statuses");

/* The record, its parts (ON DELETE CASCADE) and its simple file. */
static int capture_delete(struct xcap_store *base, const char *account, const char *id)
{
	struct store_pg *s = store_of(base);
	struct xcap_pg_params p = {};
	int err, rows = 0;

	xcap_pg_str(&p, account);
	xcap_pg_str(&p, id);
	err = exec(s, "capture delete",
		   "DELETE FROM simple_files WHERE capture_id = $2 "
		   "AND capture_id IN (SELECT id FROM captures WHERE account = $1)",
		   &p, NULL);
	err = err   ?:
		      exec(s, "capture delete",
			   "DELETE FROM captures WHERE account = $1 AND id = $2", &p, &rows);
	return err ?: rows ? 0 : -ENOENT;
}

static int credential_find(struct xcap_store *base, const struct xcap_auth *auth,
			   const char *account, struct xcap_grant *out)
{
	struct store_pg *s = store_of(base);

	return s->cfg ? xcap_credentials_grant(s->cfg, auth, account, out) : -ENOENT;
}

static int account_get(struct xcap_store *base, const char *id, struct xcap_account *out)
{
	struct store_pg *s = store_of(base);
	int i = s->cfg ? xcap_config_account(s->cfg, id) : -1;

	if (i < 0)
		return -ENOENT;
	*out = s->cfg->accounts[i];
	return 0;
}

/*
 * One statement: a new window when the last one ended (or the clock went
 * back), else one more in it unless the limit is reached (no row then).
 */
static int rate_take(struct xcap_store *base, const char *account, int64_t now_ns,
		     int64_t window_ns, uint32_t limit, int64_t *retry_ns)
{
	struct store_pg *s = store_of(base);
	struct xcap_pg_params p = {};
	PGresult *res;
	int err, n;

	xcap_pg_str(&p, account);
	xcap_pg_int(&p, now_ns);
	xcap_pg_int(&p, window_ns);
	xcap_pg_int(&p, limit);
	res = run(s, "rate take",
		  "INSERT INTO rate_windows AS w (account, start_ns, count) VALUES ($1, $2, 1) "
		  "ON CONFLICT (account) DO UPDATE SET "
		  "start_ns = CASE WHEN $2 - w.start_ns >= $3 OR $2 < w.start_ns THEN $2 "
		  "ELSE w.start_ns END, "
		  "count = CASE WHEN $2 - w.start_ns >= $3 OR $2 < w.start_ns THEN 1 "
		  "ELSE w.count + 1 END "
		  "WHERE $4 = 0 OR $2 - w.start_ns >= $3 OR $2 < w.start_ns OR w.count < $4 "
		  "RETURNING start_ns",
		  &p, &err);
	if (!res)
		return err;
	n = PQntuples(res);
	PQclear(res);
	if (n)
		return 0;
	p.n = 1;
	res = run(s, "rate window", "SELECT start_ns FROM rate_windows WHERE account = $1", &p,
		  &err);
	if (!res)
		return err;
	*retry_ns = window_ns - (now_ns - xcap_pg_get_int(res, 0, 0));
	PQclear(res);
	return -EAGAIN;
}

static void rate_refund(struct xcap_store *base, const char *account)
{
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, account);
	exec(store_of(base), "rate refund",
	     "UPDATE rate_windows SET count = count - 1 WHERE account = $1 AND count > 0", &p,
	     NULL);
}

static int capture_parts(struct xcap_store *base, const char *id, struct xcap_part *out, int max,
			 int *n)
{
	struct xcap_pg_params p = {};
	PGresult *res;
	int err, i;

	xcap_pg_str(&p, id);
	res = run(store_of(base), "capture parts",
		  "SELECT agent, colo, status, packets_captured, bytes_captured, packets_lost, "
		  "object_key, error_message FROM parts WHERE capture_id = $1 ORDER BY agent",
		  &p, &err);
	if (!res)
		return err;
	for (i = 0; i < PQntuples(res) && i < max; i++) {
		struct xcap_part *o = &out[i];

		memset(o, 0, sizeof(*o));
		xcap_pg_get_str(res, i, 0, o->host, sizeof(o->host));
		xcap_pg_get_str(res, i, 1, o->colo, sizeof(o->colo));
		o->status = xcap_pg_get_int(res, i, 2);
		o->packets_captured = xcap_pg_get_int(res, i, 3);
		o->bytes_captured = xcap_pg_get_int(res, i, 4);
		o->packets_lost = xcap_pg_get_int(res, i, 5);
		xcap_pg_get_str(res, i, 6, o->object_key, sizeof(o->object_key));
		xcap_pg_get_str(res, i, 7, o->error_message, sizeof(o->error_message));
	}
	*n = i;
	PQclear(res);
	return 0;
}

static int simple_put(struct xcap_store *base, const char *id, const char *data, size_t len)
{
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, id);
	xcap_pg_bin(&p, data, len);
	return exec(store_of(base), "simple file put",
		    "INSERT INTO simple_files (capture_id, data) VALUES ($1, $2) "
		    "ON CONFLICT (capture_id) DO UPDATE SET data = $2",
		    &p, NULL);
}

static int simple_get(struct xcap_store *base, const char *id, size_t max, char **data, size_t *len)
{
	struct xcap_pg_params p = {};
	unsigned char *bin = NULL;
	PGresult *res;
	size_t n = 0;
	int err;

	xcap_pg_str(&p, id);
	res = run(store_of(base), "simple file get",
		  "SELECT data FROM simple_files WHERE capture_id = $1", &p, &err);
	if (!res)
		return err;
	err = -ENOENT;
	if (PQntuples(res)) {
		bin = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 0), &n);
		err = !bin ? -ENOMEM : n > max ? -EFBIG : 0;
	}
	if (!err) {
		*data = malloc(n ?: 1);
		err = *data ? 0 : -ENOMEM;
	}
	if (!err) {
		memcpy(*data, bin, n);
		*len = n;
	}
	PQfreemem(bin);
	PQclear(res);
	return err;
}

static const struct xcap_store_ops api_ops = {
	.name = "postgresql",
	.close = close_pg,
	.schema_version = schema_version,
	.capture_put = capture_put,
	.capture_get = capture_get,
	.capture_list = capture_list,
	.capture_count = capture_count,
	.capture_each = capture_each,
	.capture_count_active_full = capture_count_active_full,
	.capture_stored_bytes = capture_stored_bytes,
	.capture_expired = capture_expired,
	.capture_delete = capture_delete,
	.bucket_put = bucket_put,
	.bucket_find = bucket_find,
	.bucket_list = bucket_list,
	.bucket_count = bucket_count,
	.bucket_delete = bucket_delete,
	.credential_find = credential_find,
	.account_get = account_get,
	.rate_take = rate_take,
	.rate_refund = rate_refund,
	.capture_parts = capture_parts,
	.simple_put = simple_put,
	.simple_get = simple_get,
};

/* The config's accounts, for the agents (bucket keys) and the quota check in the database. */
static int sync_accounts(struct store_pg *s)
{
	const struct xcap_config *cfg = s->cfg;
	struct xcap_pg_params p;
	int err, i;

	err = xcap_pg_lock(s->pg);
	for (i = 0; i < cfg->n_accounts && !err; i++) {
		const struct xcap_account *a = &cfg->accounts[i];

		p = (struct xcap_pg_params){};
		xcap_pg_str(&p, a->id);
		xcap_pg_int(&p, a->simple_per_minute);
		xcap_pg_int(&p, a->full_active);
		xcap_pg_str(&p, a->s3_access_key_id);
		xcap_pg_str(&p, a->s3_secret_access_key);
		xcap_pg_str(&p, a->s3_session_token);
		err = xcap_pg_exec(
			s->pg, "account sync",
			"INSERT INTO accounts (id, simple_per_minute, full_active, "
			"s3_access_key_id, s3_secret_access_key, s3_session_token) "
			"VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET "
			"simple_per_minute = $2, full_active = $3, s3_access_key_id = $4, "
			"s3_secret_access_key = $5, s3_session_token = $6",
			&p, NULL);
	}
	xcap_pg_unlock(s->pg);
	return err;
}

struct xcap_store *xcap_store_pg_open(struct xcap_pg *pg, const struct xcap_config *cfg)
{
	struct store_pg *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return NULL;
	s->base.ops = &api_ops;
	s->pg = pg;
	s->cfg = cfg;
	err = sync_accounts(s);
	if (err) {
		pr_err("database: cannot store the accounts: %s\n", strerror(-err));
		free(s);
		errno = -err;
		return NULL;
	}
	return &s->base;
}

/* --- the agent's view: its parts as captures --- */

#define PART_COLS                                                                                \
	"c.id, c.account, c.type, p.status, c.submitted_ns, p.stop_requested_ns, c.time_limit, " \
	"c.packet_limit, c.byte_limit, c.offset_time_ns, c.filter_json, c.colo_name, "           \
	"c.destination_conf, p.packets_captured, p.bytes_captured, p.packets_matched, "          \
	"p.packets_lost, p.error_message, c.direction, c.format, c.interfaces, c.tunnel, p.object_key"
#define PART_FROM " FROM parts p JOIN captures c ON c.id = p.capture_id "

const char xcap_store_pg_part_cols[] = PART_COLS PART_FROM;

void xcap_store_pg_read_capture(const PGresult *res, int row, struct xcap_capture_rec *r)
{
	read_capture(res, row, r);
	xcap_pg_get_str(res, row, N_CAPTURE_COLS, r->object_key, sizeof(r->object_key));
}

/*
 * A part's transition. A part that ended (complete, or failed: by the agent,
 * or by the API's sweep when the agent was lost) stays ended.
 */
static int part_put(struct xcap_store *base, const struct xcap_capture_rec *r)
{
	struct store_pg *s = store_of(base);
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, r->id);
	xcap_pg_str(&p, s->host);
	xcap_pg_int(&p, r->status);
	xcap_pg_int(&p, r->stop_requested_ns);
	xcap_pg_int(&p, (int64_t)r->packets_captured);
	xcap_pg_int(&p, (int64_t)r->bytes_captured);
	xcap_pg_int(&p, (int64_t)r->packets_matched);
	xcap_pg_int(&p, (int64_t)r->packets_lost);
	xcap_pg_str(&p, r->error_message);
	return exec(s, "part put",
		    "UPDATE parts SET status = $3, stop_requested_ns = greatest(stop_requested_ns, "
		    "$4), packets_captured = $5, bytes_captured = $6, packets_matched = $7, "
		    "packets_lost = $8, error_message = $9, updated_at = now() "
		    "WHERE capture_id = $1 AND agent = $2 AND status NOT IN (6, 7)",
		    &p, NULL);
}

static void read_part(const PGresult *res, int row, void *out)
{
	xcap_store_pg_read_capture(res, row, out);
}

static int part_get(struct xcap_store *base, const char *account, const char *id,
		    struct xcap_capture_rec *out)
{
	struct store_pg *s = store_of(base);
	struct xcap_pg_params p = {};

	xcap_pg_str(&p, account);
	xcap_pg_str(&p, id);
	xcap_pg_str(&p, s->host);
	return get(s, "part get",
		   "SELECT " PART_COLS PART_FROM
		   "WHERE c.account = $1 AND p.capture_id = $2 AND p.agent = $3",
		   &p, read_part, out);
}

static int part_each(struct xcap_store *base, uint32_t statuses,
		     int (*fn)(void *arg, struct xcap_capture_rec *r), void *arg)
{
	struct store_pg *s = store_of(base);

	/*
	 * Pending parts are not this process's yet: the claim takes them. The
	 * others were claimed by this host, in this process or an earlier one.
	 */
	return each(s, "part each",
		    "SELECT " PART_COLS ", c.seq" PART_FROM
		    "WHERE ((1 << p.status) & $1 & ~4) <> 0 AND c.seq > $2 AND p.agent = $4 "
		    "ORDER BY c.seq LIMIT $3",
		    s->host, statuses, false, fn, arg);
}

static int no_list(struct xcap_store *base, const char *account, struct xcap_capture_rec *out,
		   int max, int *n)
{
	(void)base;
	(void)account;
	(void)out;
	(void)max;
	*n = 0;
	return -EOPNOTSUPP;
}

static int no_count(struct xcap_store *base, const char *account)
{
	(void)base;
	(void)account;
	return -EOPNOTSUPP;
}

static int no_bucket_put(struct xcap_store *base, const struct xcap_bucket_rec *r)
{
	(void)base;
	(void)r;
	return -EOPNOTSUPP;
}

static int no_bucket_find(struct xcap_store *base, const char *account, const char *conf,
			  struct xcap_bucket_rec *out)
{
	(void)base;
	(void)account;
	(void)conf;
	(void)out;
	return -EOPNOTSUPP;
}

static int no_bucket_list(struct xcap_store *base, const char *account, struct xcap_bucket_rec *out,
			  int max, int *n)
{
	(void)base;
	(void)account;
	(void)out;
	(void)max;
	*n = 0;
	return -EOPNOTSUPP;
}

static int no_bucket_delete(struct xcap_store *base, const char *account, const char *id)
{
	(void)base;
	(void)account;
	(void)id;
	return -EOPNOTSUPP;
}

static int no_credential(struct xcap_store *base, const struct xcap_auth *auth, const char *account,
			 struct xcap_grant *out)
{
	(void)base;
	(void)auth;
	(void)account;
	(void)out;
	return -ENOENT;
}

/* The account as the API stored it: the delivery worker takes its bucket keys. */
static int agent_account_get(struct xcap_store *base, const char *id, struct xcap_account *out)
{
	struct xcap_pg_params p = {};
	PGresult *res;
	int err;

	xcap_pg_str(&p, id);
	res = run(store_of(base), "account get",
		  "SELECT id, simple_per_minute, full_active, s3_access_key_id, "
		  "s3_secret_access_key, s3_session_token FROM accounts WHERE id = $1",
		  &p, &err);
	if (!res)
		return err;
	err = PQntuples(res) ? 0 : -ENOENT;
	if (!err) {
		memset(out, 0, sizeof(*out));
		xcap_pg_get_str(res, 0, 0, out->id, sizeof(out->id));
		out->simple_per_minute = xcap_pg_get_int(res, 0, 1);
		out->full_active = xcap_pg_get_int(res, 0, 2);
		xcap_pg_get_str(res, 0, 3, out->s3_access_key_id, sizeof(out->s3_access_key_id));
		xcap_pg_get_str(res, 0, 4, out->s3_secret_access_key,
				sizeof(out->s3_secret_access_key));
		xcap_pg_get_str(res, 0, 5, out->s3_session_token, sizeof(out->s3_session_token));
	}
	PQclear(res);
	return err;
}

static int no_rate(struct xcap_store *base, const char *account, int64_t now_ns, int64_t window_ns,
		   uint32_t limit, int64_t *retry_ns)
{
	(void)base;
	(void)account;
	(void)now_ns;
	(void)window_ns;
	(void)limit;
	(void)retry_ns;
	return -EOPNOTSUPP;
}

static int no_stored_bytes(struct xcap_store *base, const char *account, uint64_t *bytes)
{
	(void)base;
	(void)account;
	(void)bytes;
	return -EOPNOTSUPP;
}

static int no_expired(struct xcap_store *base, int64_t before_ns, struct xcap_capture_rec *out,
		      int max, int *n)
{
	(void)base;
	(void)before_ns;
	(void)out;
	(void)max;
	*n = 0;
	return -EOPNOTSUPP;
}

static int no_delete(struct xcap_store *base, const char *account, const char *id)
{
	(void)base;
	(void)account;
	(void)id;
	return -EOPNOTSUPP;
}

static void no_refund(struct xcap_store *base, const char *account)
{
	(void)base;
	(void)account;
}

/* What an agent does not serve (the public API is the API processes') answers -EOPNOTSUPP. */
static const struct xcap_store_ops agent_ops = {
	.name = "postgresql (agent parts)",
	.close = close_pg,
	.schema_version = schema_version,
	.capture_put = part_put,
	.capture_get = part_get,
	.capture_list = no_list,
	.capture_count = no_count,
	.capture_each = part_each,
	.capture_count_active_full = no_count,
	.capture_stored_bytes = no_stored_bytes,
	.capture_expired = no_expired,
	.capture_delete = no_delete,
	.bucket_put = no_bucket_put,
	.bucket_find = no_bucket_find,
	.bucket_list = no_bucket_list,
	.bucket_count = no_count,
	.bucket_delete = no_bucket_delete,
	.credential_find = no_credential,
	.account_get = agent_account_get,
	.rate_take = no_rate,
	.rate_refund = no_refund,
};

struct xcap_store *xcap_store_pg_open_agent(struct xcap_pg *pg, const char *host)
{
	struct store_pg *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->base.ops = &agent_ops;
	s->pg = pg;
	snprintf(s->host, sizeof(s->host), "%s", host);
	return &s->base;
}
