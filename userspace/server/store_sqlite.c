// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Durable records in SQLite. This module owns DIR/xcap.db: its schema and
 * schema version (PRAGMA user_version), the one connection and its prepared
 * statements, and the mapping between table rows and the record structs.
 * Nothing else opens the database.
 *
 * WAL with synchronous=FULL makes every commit reach the disk before
 * sqlite3_step() returns, so a put is durable when it returns.
 *
 * On one host the credentials and accounts are the config's (the config file,
 * credentials.json) and the rate windows live in this process's memory: one
 * process owns the database file. A store shared by several API processes
 * keeps those in its tables too.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include "common/log.h"
#include "common/util.h"
#include "server/credentials.h"
#include "server/store.h"

#define STORE_FILE "xcap.db"
#define STORE_SCHEMA_VERSION 4
#define STR(x) #x
#define XSTR(x) STR(x)
/* Another process (sqlite3 CLI, a backup) may hold a lock for a moment. */
#define STORE_BUSY_MS 5000
#define PRAGMA_VALUE_LEN 32

/*
 * The column order of each table is the order of its bind_*() and read_*()
 * functions below; the statements use these lists so the three cannot drift.
 */
#define CAPTURE_COLS                                                                             \
	"id, account, type, status, submitted_ns, stop_requested_ns, time_limit, packet_limit, " \
	"byte_limit, offset_time_ns, filter_json, colo_name, destination_conf, "                 \
	"packets_captured, bytes_captured, packets_matched, packets_lost, error_message, "       \
	"direction, format, interfaces, tunnel"
#define BUCKET_COLS \
	"id, account, destination_conf, filename, token, status, submitted_ns, validated_ns"

/* STRICT: a value of the wrong type is an error instead of a silent conversion. */
static const char schema_sql[] =
	"BEGIN IMMEDIATE;"
	"CREATE TABLE IF NOT EXISTS captures ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  account TEXT NOT NULL,"
	"  type INTEGER NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  submitted_ns INTEGER NOT NULL,"
	"  stop_requested_ns INTEGER NOT NULL,"
	"  time_limit INTEGER NOT NULL,"
	"  packet_limit INTEGER NOT NULL,"
	"  byte_limit INTEGER NOT NULL,"
	"  offset_time_ns INTEGER NOT NULL,"
	"  filter_json TEXT NOT NULL,"
	"  colo_name TEXT NOT NULL,"
	"  destination_conf TEXT NOT NULL,"
	"  packets_captured INTEGER NOT NULL,"
	"  bytes_captured INTEGER NOT NULL,"
	"  packets_matched INTEGER NOT NULL,"
	"  packets_lost INTEGER NOT NULL,"
	"  error_message TEXT NOT NULL,"
	"  direction INTEGER NOT NULL DEFAULT 0,"
	"  format INTEGER NOT NULL DEFAULT 0,"
	"  interfaces TEXT NOT NULL DEFAULT '',"
	"  tunnel INTEGER NOT NULL DEFAULT 0"
	") STRICT;"
	/* The list order; an index entry ends with the rowid, the tie breaker. */
	"CREATE INDEX IF NOT EXISTS captures_by_time ON captures (account, submitted_ns);"
	"CREATE TABLE IF NOT EXISTS buckets ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  account TEXT NOT NULL,"
	"  destination_conf TEXT NOT NULL,"
	"  filename TEXT NOT NULL,"
	"  token TEXT NOT NULL,"
	"  status INTEGER NOT NULL,"
	"  submitted_ns INTEGER NOT NULL,"
	"  validated_ns INTEGER NOT NULL"
	") STRICT;"
	"CREATE INDEX IF NOT EXISTS buckets_by_conf ON buckets (account, destination_conf);"
	"PRAGMA user_version = " XSTR(STORE_SCHEMA_VERSION) "; COMMIT;";

/*
 * migrations[v] takes a database of schema v to v + 1; the captures that an
 * older xcapd stored read as it wrote them: both directions, pcap, every
 * interface, any level.
 */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
	[1] = "BEGIN IMMEDIATE;"
	      "ALTER TABLE captures ADD COLUMN direction INTEGER NOT NULL DEFAULT 0;"
	      "ALTER TABLE captures ADD COLUMN format INTEGER NOT NULL DEFAULT 0;"
	      "PRAGMA user_version = 2; COMMIT;",
	[2] = "BEGIN IMMEDIATE;"
	      "ALTER TABLE captures ADD COLUMN interfaces TEXT NOT NULL DEFAULT '';"
	      "PRAGMA user_version = 3; COMMIT;",
	/* The capture's tunnel mode (filter levels, enum xcap_tunnel). */
	[3] = "BEGIN IMMEDIATE;"
	      "ALTER TABLE captures ADD COLUMN tunnel INTEGER NOT NULL DEFAULT 0;"
	      "PRAGMA user_version = 4; COMMIT;",
};

enum stmt_id {
	CAPTURE_PUT,
	CAPTURE_GET,
	CAPTURE_LIST,
	CAPTURE_COUNT,
	CAPTURE_EACH,
	CAPTURE_ACTIVE_FULL,
	CAPTURE_STORED_BYTES,
	CAPTURE_EXPIRED,
	CAPTURE_DELETE,
	BUCKET_PUT,
	BUCKET_FIND,
	BUCKET_LIST,
	BUCKET_COUNT,
	BUCKET_DELETE,
	NR_STMTS,
};

/*
 * A put is an upsert rather than INSERT OR REPLACE: the row keeps its rowid
 * (the list order among equal times), and the WHERE refuses to move an id
 * from one account to another (no row changes, reported as -EEXIST).
 */
static const struct {
	const char *name; /* for the log */
	const char *sql;
} stmts[NR_STMTS] = {
	[CAPTURE_PUT] = { "capture put",
			  "INSERT INTO captures (" CAPTURE_COLS
			  ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
			  "?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22) "
			  "ON CONFLICT (id) DO UPDATE SET type = ?3, status = ?4, submitted_ns = ?5, "
			  "stop_requested_ns = ?6, time_limit = ?7, packet_limit = ?8, "
			  "byte_limit = ?9, offset_time_ns = ?10, filter_json = ?11, colo_name = ?12, "
			  "destination_conf = ?13, packets_captured = ?14, bytes_captured = ?15, "
			  "packets_matched = ?16, packets_lost = ?17, error_message = ?18, "
			  "direction = ?19, format = ?20, interfaces = ?21, tunnel = ?22 WHERE account = ?2" },
	[CAPTURE_GET] = { "capture get",
			  "SELECT " CAPTURE_COLS " FROM captures WHERE account = ?1 AND id = ?2" },
	[CAPTURE_LIST] = { "capture list",
			   "SELECT " CAPTURE_COLS " FROM captures WHERE account = ?1 "
			   "ORDER BY submitted_ns DESC, rowid DESC LIMIT ?2" },
	[CAPTURE_COUNT] = { "capture count", "SELECT count(*) FROM captures WHERE account = ?1" },
	[CAPTURE_EACH] = { "capture each",
			   "SELECT " CAPTURE_COLS " FROM captures "
			   "WHERE (1 << status) & ?1 ORDER BY submitted_ns, rowid" },
	[CAPTURE_ACTIVE_FULL] = { "capture count active",
				  "SELECT count(*) FROM captures "
				  "WHERE account = ?1 AND type = ?2 AND status IN (?3, ?4)" },
	/* A pcap file is a 24-byte header and a 16-byte header per packet. */
	[CAPTURE_STORED_BYTES] = { "capture stored bytes",
				   "SELECT coalesce(sum(bytes_captured + 16 * packets_captured + 24), "
				   "0) FROM captures WHERE account = ?1 AND ((type = ?2 AND status = "
				   "?3) OR (type = ?4 AND status IN (?5, ?6, ?7)))" },
	[CAPTURE_EXPIRED] = { "capture expired",
			      "SELECT " CAPTURE_COLS " FROM captures "
			      "WHERE submitted_ns < ?1 AND status IN (?2, ?3, ?4) "
			      "ORDER BY submitted_ns LIMIT ?5" },
	[CAPTURE_DELETE] = { "capture delete",
			     "DELETE FROM captures WHERE account = ?1 AND id = ?2" },
	[BUCKET_PUT] = { "bucket put",
			 "INSERT INTO buckets (" BUCKET_COLS
			 ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
			 "ON CONFLICT (id) DO UPDATE SET destination_conf = ?3, filename = ?4, "
			 "token = ?5, status = ?6, submitted_ns = ?7, validated_ns = ?8 "
			 "WHERE account = ?2" },
	[BUCKET_FIND] = { "bucket find", "SELECT " BUCKET_COLS " FROM buckets "
					 "WHERE account = ?1 AND destination_conf = ?2 "
					 "ORDER BY submitted_ns DESC, rowid DESC LIMIT 1" },
	[BUCKET_LIST] = { "bucket list", "SELECT " BUCKET_COLS " FROM buckets WHERE account = ?1 "
					 "ORDER BY submitted_ns DESC, rowid DESC LIMIT ?2" },
	[BUCKET_COUNT] = { "bucket count", "SELECT count(*) FROM buckets WHERE account = ?1" },
	[BUCKET_DELETE] = { "bucket delete", "DELETE FROM buckets WHERE account = ?1 AND id = ?2" },
};

struct store_sqlite {
	struct xcap_store base;
	const struct xcap_config *cfg; /* credentials and accounts; NULL: none */
	sqlite3 *db;
	sqlite3_stmt *stmt[NR_STMTS];
	/*
	 * Callers may be on several threads (API handlers, jobs) and share the
	 * statements: a bind..step..reset sequence must not interleave with another.
	 */
	pthread_mutex_t lock;
	char path[4096];
	int version; /* of the schema, once set up */
	pthread_mutex_t rate_lock;
	struct xcap_store_window simple_rate[XCAP_CFG_MAX_ACCOUNTS]; /* by account index */
};

static struct store_sqlite *store_of(struct xcap_store *base)
{
	return (struct store_sqlite *)base;
}

/* One use of a prepared statement: parameters are bound in order, errors are sticky. */
struct query {
	struct store_sqlite *s;
	enum stmt_id id;
	sqlite3_stmt *st;
	int param; /* the last bound parameter */
	int rc; /* first binding error */
};

typedef void (*row_reader)(sqlite3_stmt *st, void *out);

/* Logs the connection's last error and maps the SQLite code to an errno. */
static int db_err(struct store_sqlite *s, const char *what, int rc)
{
	int sys = sqlite3_system_errno(s->db);

	pr_err("store %s: %s: %s\n", s->path, what, sqlite3_errmsg(s->db));
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CANTOPEN:
		/* Say why the file could not be opened (ENOENT: no such folder). */
		return sys > 0 ? -sys : -EIO;
	default:
		return -EIO;
	}
}

/* Locked until query_end(). */
static struct query query_start(struct store_sqlite *s, enum stmt_id id)
{
	struct query q = { .s = s, .id = id, .st = s->stmt[id] };

	pthread_mutex_lock(&s->lock);
	return q;
}

/*
 * Resetting also ends the statement's read transaction: an open one would
 * keep WAL checkpoints from completing.
 */
static void query_end(struct query *q)
{
	sqlite3_reset(q->st);
	/* The text parameters are the callers' buffers (SQLITE_STATIC). */
	sqlite3_clear_bindings(q->st);
	pthread_mutex_unlock(&q->s->lock);
}

static void bind_int(struct query *q, int64_t v)
{
	if (!q->rc)
		q->rc = sqlite3_bind_int64(q->st, ++q->param, v);
}

/* len -1: up to the NUL, as in sqlite3_bind_text(). */
static void bind_text(struct query *q, const char *v, int len)
{
	if (!q->rc)
		q->rc = sqlite3_bind_text(q->st, ++q->param, v, len, SQLITE_STATIC);
}

/* A record's char array need not hold a terminating NUL. */
#define bind_field(q, f) bind_text(q, f, strnlen(f, sizeof(f)))

/* 1 on a row, 0 when done, or -errno (logged); a binding error fails here. */
static int query_step(struct query *q)
{
	int rc = q->rc ? q->rc : sqlite3_step(q->st);

	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_err(q->s, stmts[q->id].name, rc);
}

/* Runs a write: the number of rows it changed, or -errno. */
static int query_exec(struct query *q)
{
	int err = query_step(q);

	if (err >= 0)
		err = sqlite3_changes(q->s->db);
	query_end(q);
	return err;
}

/* Reads up to max rows into out[]: how many, or -errno. */
static int query_fetch(struct query *q, row_reader read, void *out, size_t size, int max)
{
	int n = 0, err = 0;

	while (n < max && (err = query_step(q)) == 1)
		read(q->st, (char *)out + (size_t)n++ * size);
	query_end(q);
	return err < 0 ? err : n;
}

/* The single integer a count(*) returns, or -errno. */
static int query_count(struct query *q)
{
	int err = query_step(q);

	if (err == 1)
		err = sqlite3_column_int64(q->st, 0);
	query_end(q);
	return err;
}

static int put(struct query *q, const char *id)
{
	int err = query_exec(q);

	if (err == 0) {
		pr_err("store %s: %s: id %.*s belongs to another account\n", q->s->path,
		       stmts[q->id].name, XCAP_ID_LEN, id);
		err = -EEXIST;
	}
	return err < 0 ? err : 0;
}

static int get(struct query *q, row_reader read, void *out, size_t size)
{
	int n = query_fetch(q, read, out, size, 1);

	return n < 0 ? n : n ? 0 : -ENOENT;
}

static int list(struct query *q, const char *account, row_reader read, void *out, size_t size,
		int max, int *n)
{
	int err;

	bind_text(q, account, -1);
	bind_int(q, max);
	err = query_fetch(q, read, out, size, max);
	*n = err < 0 ? 0 : err;
	return err < 0 ? err : 0;
}

static void col_text(sqlite3_stmt *st, int col, char *buf, size_t size)
{
	const unsigned char *v = sqlite3_column_text(st, col);

	snprintf(buf, size, "%s", v ? (const char *)v : "");
}

/* SQLite integers are signed 64-bit; the unsigned counters round-trip through the cast. */
static void bind_capture(struct query *q, const struct xcap_capture_rec *r)
{
	bind_field(q, r->id);
	bind_field(q, r->account);
	bind_int(q, r->type);
	bind_int(q, r->status);
	bind_int(q, r->submitted_ns);
	bind_int(q, r->stop_requested_ns);
	bind_int(q, r->time_limit);
	bind_int(q, r->packet_limit);
	bind_int(q, (int64_t)r->byte_limit);
	bind_int(q, r->offset_time_ns);
	bind_field(q, r->filter_json);
	bind_field(q, r->colo_name);
	bind_field(q, r->destination_conf);
	bind_int(q, (int64_t)r->packets_captured);
	bind_int(q, (int64_t)r->bytes_captured);
	bind_int(q, (int64_t)r->packets_matched);
	bind_int(q, (int64_t)r->packets_lost);
	bind_field(q, r->error_message);
	bind_int(q, r->dirs);
	bind_int(q, r->format);
	bind_field(q, r->ifaces);
	bind_int(q, r->tunnel);
}

static void read_capture(sqlite3_stmt *st, void *out)
{
	struct xcap_capture_rec *r = out;
	int c = 0;

	/* What the table does not keep (object_key: a fleet's) reads as empty. */
	memset(r, 0, sizeof(*r));
	col_text(st, c++, r->id, sizeof(r->id));
	col_text(st, c++, r->account, sizeof(r->account));
	r->type = sqlite3_column_int64(st, c++);
	r->status = sqlite3_column_int64(st, c++);
	r->submitted_ns = sqlite3_column_int64(st, c++);
	r->stop_requested_ns = sqlite3_column_int64(st, c++);
	r->time_limit = sqlite3_column_int64(st, c++);
	r->packet_limit = sqlite3_column_int64(st, c++);
	r->byte_limit = sqlite3_column_int64(st, c++);
	r->offset_time_ns = sqlite3_column_int64(st, c++);
	col_text(st, c++, r->filter_json, sizeof(r->filter_json));
	col_text(st, c++, r->colo_name, sizeof(r->colo_name));
	col_text(st, c++, r->destination_conf, sizeof(r->destination_conf));
	r->packets_captured = sqlite3_column_int64(st, c++);
	r->bytes_captured = sqlite3_column_int64(st, c++);
	r->packets_matched = sqlite3_column_int64(st, c++);
	r->packets_lost = sqlite3_column_int64(st, c++);
	col_text(st, c++, r->error_message, sizeof(r->error_message));
	r->dirs = sqlite3_column_int64(st, c++);
	r->format = sqlite3_column_int64(st, c++);
	col_text(st, c++, r->ifaces, sizeof(r->ifaces));
	r->tunnel = sqlite3_column_int64(st, c++);
}

static void bind_bucket(struct query *q, const struct xcap_bucket_rec *r)
{
	bind_field(q, r->id);
	bind_field(q, r->account);
	bind_field(q, r->destination_conf);
	bind_field(q, r->filename);
	bind_field(q, r->token);
	bind_int(q, r->status);
	bind_int(q, r->submitted_ns);
	bind_int(q, r->validated_ns);
}

static void read_bucket(sqlite3_stmt *st, void *out)
{
	struct xcap_bucket_rec *r = out;
	int c = 0;

	col_text(st, c++, r->id, sizeof(r->id));
	col_text(st, c++, r->account, sizeof(r->account));
	col_text(st, c++, r->destination_conf, sizeof(r->destination_conf));
	col_text(st, c++, r->filename, sizeof(r->filename));
	col_text(st, c++, r->token, sizeof(r->token));
	r->status = sqlite3_column_int64(st, c++);
	r->submitted_ns = sqlite3_column_int64(st, c++);
	r->validated_ns = sqlite3_column_int64(st, c++);
}

static int pragma_value(void *arg, int ncols, char **vals, char **names)
{
	(void)names;
	if (ncols > 0 && vals[0])
		snprintf(arg, PRAGMA_VALUE_LEN, "%s", vals[0]);
	return 0;
}

/* Runs SQL without parameters; the first column of the last row it returns goes to val. */
static int db_exec(struct store_sqlite *s, const char *what, const char *sql,
		   char val[PRAGMA_VALUE_LEN])
{
	int rc;

	val[0] = '\0';
	rc = sqlite3_exec(s->db, sql, pragma_value, val, NULL);
	return rc ? db_err(s, what, rc) : 0;
}

/*
 * The database holds r2 keys: 0600 whatever the umask, also when an older
 * xcapd made it 0644; SQLite gives its -wal and -shm files the mode of the
 * database. Created here without following a link.
 */
static int make_private(const char *path)
{
	static const char *const suffixes[] = { "-wal", "-shm" };
	char aux[4200];
	size_t i;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || fchmod(fd, 0600)) {
		pr_err("store %s: cannot create it private: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	close(fd);
	for (i = 0; i < ARRAY_SIZE(suffixes); i++) {
		snprintf(aux, sizeof(aux), "%s%s", path, suffixes[i]);
		fd = open(aux, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && fchmod(fd, 0600))
			pr_warn("store %s: chmod 600: %s\n", aux, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

static int db_open(struct store_sqlite *s, const char *dir)
{
	int rc, err;

	if (snprintf(s->path, sizeof(s->path), "%s/%s", dir, STORE_FILE) >= (int)sizeof(s->path)) {
		pr_err("store %s/%s: path too long\n", dir, STORE_FILE);
		return -ENAMETOOLONG;
	}
	err = make_private(s->path);
	if (err)
		return err;
	/* No SQLITE_OPEN_URI: the folder name is a plain path. */
	rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc)
		return db_err(s, "open", rc);
	sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
	return 0;
}

/* SQLite reads the file lazily: one that is not a database fails here, at the first pragma. */
static int db_setup(struct store_sqlite *s)
{
	char val[PRAGMA_VALUE_LEN];
	long version;
	int err;

	err = db_exec(s, "journal_mode", "PRAGMA journal_mode = WAL", val);
	if (err)
		return err;
	/* WAL can be refused (no shared memory on the file system): durability relies on it. */
	if (strcmp(val, "wal")) {
		pr_err("store %s: journal_mode is %s, not wal\n", s->path, val);
		return -EIO;
	}
	err = db_exec(s, "synchronous", "PRAGMA synchronous = FULL", val);
	if (!err)
		err = db_exec(s, "user_version", "PRAGMA user_version", val);
	if (err)
		return err;
	version = strtol(val, NULL, 10);
	s->version = STORE_SCHEMA_VERSION;
	if (version == 0)
		err = db_exec(s, "schema", schema_sql, val);
	/* A newer schema is left alone rather than misread. */
	if (version > STORE_SCHEMA_VERSION || version < 0) {
		pr_err("store %s: schema version %ld, this program knows %d\n", s->path, version,
		       STORE_SCHEMA_VERSION);
		return -EPROTO;
	}
	for (; !err && version && version < STORE_SCHEMA_VERSION; version++) {
		pr_info("store %s: schema version %ld to %ld\n", s->path, version, version + 1);
		err = db_exec(s, "migration", migrations[version], val);
	}
	/* Expiry reads the oldest captures first; stores made before it lack the index. */
	return err   ?:
		       db_exec(s, "expiry index",
			       "CREATE INDEX IF NOT EXISTS captures_by_submitted "
			       "ON captures (submitted_ns)",
			       val);
}

static int db_prepare(struct store_sqlite *s)
{
	int i, rc;

	for (i = 0; i < NR_STMTS; i++) {
		rc = sqlite3_prepare_v3(s->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
					&s->stmt[i], NULL);
		if (rc)
			return db_err(s, stmts[i].name, rc);
	}
	return 0;
}

static void sqlite_close(struct xcap_store *base)
{
	struct store_sqlite *s = store_of(base);
	int i;

	for (i = 0; i < NR_STMTS; i++)
		sqlite3_finalize(s->stmt[i]);
	/* The last connection checkpoints the WAL into the database here. */
	if (sqlite3_close(s->db))
		pr_err("store %s: close: %s\n", s->path, sqlite3_errmsg(s->db));
	pthread_mutex_destroy(&s->rate_lock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int sqlite_schema_version(struct xcap_store *base)
{
	return store_of(base)->version;
}

static int capture_put(struct xcap_store *base, const struct xcap_capture_rec *r)
{
	struct query q = query_start(store_of(base), CAPTURE_PUT);

	bind_capture(&q, r);
	return put(&q, r->id);
}

static int capture_get(struct xcap_store *base, const char *account, const char *id,
		       struct xcap_capture_rec *out)
{
	struct query q = query_start(store_of(base), CAPTURE_GET);

	bind_text(&q, account, -1);
	bind_text(&q, id, -1);
	return get(&q, read_capture, out, sizeof(*out));
}

static int capture_list(struct xcap_store *base, const char *account, struct xcap_capture_rec *out,
			int max, int *n)
{
	struct query q = query_start(store_of(base), CAPTURE_LIST);

	return list(&q, account, read_capture, out, sizeof(*out), max, n);
}

static int capture_count(struct xcap_store *base, const char *account)
{
	struct query q = query_start(store_of(base), CAPTURE_COUNT);

	bind_text(&q, account, -1);
	return query_count(&q);
}

/*
 * The rows are read first and fn runs after the statement is reset and the
 * lock released, so fn may put (even change the status being selected on).
 */
static int capture_each(struct xcap_store *base, uint32_t statuses,
			int (*fn)(void *arg, struct xcap_capture_rec *r), void *arg)
{
	struct store_sqlite *s = store_of(base);
	struct query q = query_start(s, CAPTURE_EACH);
	struct xcap_capture_rec *recs = NULL, *more;
	int i, n = 0, cap = 0, err;

	bind_int(&q, statuses);
	while ((err = query_step(&q)) == 1) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			more = realloc(recs, cap * sizeof(*recs));
			if (!more) {
				pr_err("store %s: capture each: out of memory\n", s->path);
				err = -ENOMEM;
				break;
			}
			recs = more;
		}
		read_capture(q.st, &recs[n++]);
	}
	query_end(&q);
	for (i = 0; i < n && !err; i++)
		err = fn(arg, &recs[i]);
	free(recs);
	return err;
}

static int capture_count_active_full(struct xcap_store *base, const char *account)
{
	struct query q = query_start(store_of(base), CAPTURE_ACTIVE_FULL);

	bind_text(&q, account, -1);
	bind_int(&q, XCAP_TYPE_FULL);
	bind_int(&q, XCAP_ST_PENDING);
	bind_int(&q, XCAP_ST_RUNNING);
	return query_count(&q);
}

static int capture_stored_bytes(struct xcap_store *base, const char *account, uint64_t *bytes)
{
	struct query q = query_start(store_of(base), CAPTURE_STORED_BYTES);
	int err;

	bind_text(&q, account, -1);
	bind_int(&q, XCAP_TYPE_SIMPLE);
	bind_int(&q, XCAP_ST_SUCCESS);
	bind_int(&q, XCAP_TYPE_FULL);
	bind_int(&q, XCAP_ST_CONVERSION_PENDING);
	bind_int(&q, XCAP_ST_CONVERSION_RUNNING);
	bind_int(&q, XCAP_ST_FAILED);
	err = query_step(&q);
	*bytes = err == 1 ? (uint64_t)sqlite3_column_int64(q.st, 0) : 0;
	query_end(&q);
	return err < 0 ? err : 0;
}

static int capture_expired(struct xcap_store *base, int64_t before_ns, struct xcap_capture_rec *out,
			   int max, int *n)
{
	struct query q = query_start(store_of(base), CAPTURE_EXPIRED);
	int err;

	bind_int(&q, before_ns);
	bind_int(&q, XCAP_ST_SUCCESS);
	bind_int(&q, XCAP_ST_COMPLETE);
	bind_int(&q, XCAP_ST_FAILED);
	bind_int(&q, max);
	err = query_fetch(&q, read_capture, out, sizeof(*out), max);
	*n = err < 0 ? 0 : err;
	return err < 0 ? err : 0;
}

static int delete_one(struct query *q, const char *account, const char *id)
{
	int err;

	bind_text(q, account, -1);
	bind_text(q, id, -1);
	err = query_exec(q);
	return err < 0 ? err : err ? 0 : -ENOENT;
}

static int capture_delete(struct xcap_store *base, const char *account, const char *id)
{
	struct query q = query_start(store_of(base), CAPTURE_DELETE);

	return delete_one(&q, account, id);
}

static int bucket_put(struct xcap_store *base, const struct xcap_bucket_rec *r)
{
	struct query q = query_start(store_of(base), BUCKET_PUT);

	bind_bucket(&q, r);
	return put(&q, r->id);
}

static int bucket_find(struct xcap_store *base, const char *account, const char *conf,
		       struct xcap_bucket_rec *out)
{
	struct query q = query_start(store_of(base), BUCKET_FIND);

	bind_text(&q, account, -1);
	bind_text(&q, conf, -1);
	return get(&q, read_bucket, out, sizeof(*out));
}

static int bucket_list(struct xcap_store *base, const char *account, struct xcap_bucket_rec *out,
		       int max, int *n)
{
	struct query q = query_start(store_of(base), BUCKET_LIST);

	return list(&q, account, read_bucket, out, sizeof(*out), max, n);
}

static int bucket_count(struct xcap_store *base, const char *account)
{
	struct query q = query_start(store_of(base), BUCKET_COUNT);

	bind_text(&q, account, -1);
	return query_count(&q);
}

static int bucket_delete(struct xcap_store *base, const char *account, const char *id)
{
	struct query q = query_start(store_of(base), BUCKET_DELETE);

	return delete_one(&q, account, id);
}

static int credential_find(struct xcap_store *base, const struct xcap_auth *auth,
			   const char *account, struct xcap_grant *out)
{
	struct store_sqlite *s = store_of(base);

	return s->cfg ? xcap_credentials_grant(s->cfg, auth, account, out) : -ENOENT;
}

/* The config's index of the account: its rate window's too. */
static int account_index(struct store_sqlite *s, const char *id)
{
	return s->cfg ? xcap_config_account(s->cfg, id) : -1;
}

static int account_get(struct xcap_store *base, const char *id, struct xcap_account *out)
{
	struct store_sqlite *s = store_of(base);
	int i = account_index(s, id);

	if (i < 0)
		return -ENOENT;
	*out = s->cfg->accounts[i];
	return 0;
}

static int rate_take(struct xcap_store *base, const char *account, int64_t now_ns,
		     int64_t window_ns, uint32_t limit, int64_t *retry_ns)
{
	struct store_sqlite *s = store_of(base);
	int i = account_index(s, account), err;

	if (i < 0)
		return -ENOENT;
	pthread_mutex_lock(&s->rate_lock);
	err = xcap_store_window_take(&s->simple_rate[i], now_ns, window_ns, limit, retry_ns);
	pthread_mutex_unlock(&s->rate_lock);
	return err;
}

static void rate_refund(struct xcap_store *base, const char *account)
{
	struct store_sqlite *s = store_of(base);
	int i = account_index(s, account);

	if (i < 0)
		return;
	pthread_mutex_lock(&s->rate_lock);
	xcap_store_window_refund(&s->simple_rate[i]);
	pthread_mutex_unlock(&s->rate_lock);
}

static const struct xcap_store_ops sqlite_ops = {
	.name = "sqlite",
	.close = sqlite_close,
	.schema_version = sqlite_schema_version,
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
};

struct xcap_store *xcap_store_sqlite_open(const char *dir, const struct xcap_config *cfg)
{
	struct store_sqlite *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s) {
		pr_err("store %s: out of memory\n", dir);
		err = -ENOMEM;
		goto out;
	}
	s->base.ops = &sqlite_ops;
	s->cfg = cfg;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->rate_lock, NULL);
	err = db_open(s, dir);
	if (!err)
		err = db_setup(s);
	if (!err)
		err = db_prepare(s);
out:
	if (err) {
		if (s)
			sqlite_close(&s->base);
		errno = -err;
		return NULL;
	}
	return &s->base;
}
