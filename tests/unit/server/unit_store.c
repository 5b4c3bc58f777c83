// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tier: the SQLite store, each test on its own database in a temporary folder. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>
#include "server/store.h"
#include "test.h"

#define ACC_A "0123456789abcdef0123456789abcdef"
#define ACC_B "fedcba9876543210fedcba9876543210"

#define CHECK_STR(got, want) CHECK(!strcmp(got, want), "got '%s', want '%s'", got, want)

/* A fresh folder per test, so that no test sees another's records. */
static void test_dir(char *buf, size_t size, const char *name)
{
	test_path(buf, size, name);
	mkdir(buf, 0700);
}

static struct xcap_store *open_fresh(const char *name)
{
	struct xcap_store *s;
	char dir[256];

	test_dir(dir, sizeof(dir), name);
	s = xcap_store_sqlite_open(dir, NULL);
	CHECK(s, "open %s: %s", dir, strerror(errno));
	return s;
}

/* A bucket by its id, through the path the API reads buckets by: the account's list. */
static int bucket_by_id(struct xcap_store *s, const char *account, const char *id,
			struct xcap_bucket_rec *out)
{
	static struct xcap_bucket_rec recs[XCAP_LIST_MAX];
	int i, n = 0, err;

	err = xcap_store_bucket_list(s, account, recs, XCAP_LIST_MAX, &n);
	for (i = 0; i < n && !err; i++) {
		if (!strcmp(recs[i].id, id)) {
			*out = recs[i];
			return 0;
		}
	}
	return err ?: -ENOENT;
}

/* Ids are opaque to the store: a counter makes them distinct and readable. */
static void make_capture(struct xcap_capture_rec *r, int n, const char *account, int64_t ns,
			 enum xcap_capture_type type, enum xcap_status status)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%032x", n);
	snprintf(r->account, sizeof(r->account), "%s", account);
	r->type = type;
	r->status = status;
	r->submitted_ns = ns;
	strcpy(r->filter_json, "{}");
}

static void make_bucket(struct xcap_bucket_rec *r, int n, const char *account, const char *conf,
			int64_t ns)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%032x", n);
	snprintf(r->account, sizeof(r->account), "%s", account);
	snprintf(r->destination_conf, sizeof(r->destination_conf), "%s", conf);
	snprintf(r->filename, sizeof(r->filename), "ownership-challenge-%08x.txt", n);
	memset(r->token, 'a' + n % 26, sizeof(r->token) - 1);
	r->submitted_ns = ns;
}

/* Every field set, the unsigned ones above INT64_MAX to catch a signed round trip. */
static void full_capture(struct xcap_capture_rec *r)
{
	make_capture(r, 7, ACC_A, 1700000000123456789LL, XCAP_TYPE_FULL,
		     XCAP_ST_CONVERSION_RUNNING);
	r->stop_requested_ns = 1700000000987654321LL;
	r->time_limit = 300;
	r->packet_limit = 4000000000u;
	r->byte_limit = UINT64_MAX - 1;
	r->offset_time_ns = -5;
	snprintf(r->filter_json, sizeof(r->filter_json), "{\"dst_port\":443,\"name\":\"it's\"}");
	snprintf(r->colo_name, sizeof(r->colo_name), "lab-1");
	snprintf(r->destination_conf, sizeof(r->destination_conf), "s3://bucket/prefix?region=x");
	r->packets_captured = 1;
	r->bytes_captured = (1ULL << 63) + 3;
	r->packets_matched = 123456789012ULL;
	r->packets_lost = UINT64_MAX;
	snprintf(r->error_message, sizeof(r->error_message), "quote ' and \" survive");
	r->tunnel = 1;
	r->dirs = 2; /* out */
	r->format = 1; /* pcapng */
	snprintf(r->ifaces, sizeof(r->ifaces), "eth0,veth-a.10");
}

static void check_capture(const struct xcap_capture_rec *got, const struct xcap_capture_rec *want)
{
	CHECK_STR(got->id, want->id);
	CHECK_STR(got->account, want->account);
	CHECK_EQ(got->type, want->type);
	CHECK_EQ(got->status, want->status);
	CHECK_EQ(got->submitted_ns, want->submitted_ns);
	CHECK_EQ(got->stop_requested_ns, want->stop_requested_ns);
	CHECK_EQ(got->time_limit, want->time_limit);
	CHECK_EQ(got->packet_limit, want->packet_limit);
	CHECK_EQ(got->byte_limit, want->byte_limit);
	CHECK_EQ(got->offset_time_ns, want->offset_time_ns);
	CHECK_STR(got->filter_json, want->filter_json);
	CHECK_STR(got->colo_name, want->colo_name);
	CHECK_STR(got->destination_conf, want->destination_conf);
	CHECK_EQ(got->packets_captured, want->packets_captured);
	CHECK_EQ(got->bytes_captured, want->bytes_captured);
	CHECK_EQ(got->packets_matched, want->packets_matched);
	CHECK_EQ(got->packets_lost, want->packets_lost);
	CHECK_STR(got->error_message, want->error_message);
	CHECK_EQ(got->tunnel, want->tunnel);
	CHECK_EQ(got->dirs, want->dirs);
	CHECK_EQ(got->format, want->format);
	CHECK_STR(got->ifaces, want->ifaces);
}

static void check_bucket(const struct xcap_bucket_rec *got, const struct xcap_bucket_rec *want)
{
	CHECK_STR(got->id, want->id);
	CHECK_STR(got->account, want->account);
	CHECK_STR(got->destination_conf, want->destination_conf);
	CHECK_STR(got->filename, want->filename);
	CHECK_STR(got->token, want->token);
	CHECK_EQ(got->status, want->status);
	CHECK_EQ(got->submitted_ns, want->submitted_ns);
	CHECK_EQ(got->validated_ns, want->validated_ns);
}

static void capture_round_trips_every_field(void)
{
	struct xcap_store *s = open_fresh("capture_rt");
	struct xcap_capture_rec in, out;

	if (!s)
		return;
	full_capture(&in);
	CHECK_EQ(xcap_store_capture_put(s, &in), 0);
	memset(&out, 0x55, sizeof(out));
	CHECK_EQ(xcap_store_capture_get(s, ACC_A, in.id, &out), 0);
	check_capture(&out, &in);
	xcap_store_close(s);
}

static void bucket_round_trips_every_field(void)
{
	struct xcap_store *s = open_fresh("bucket_rt");
	struct xcap_bucket_rec in, out;

	if (!s)
		return;
	make_bucket(&in, 3, ACC_A, "s3://b/p?region=us-east-1", 1700000000000000001LL);
	in.status = XCAP_BUCKET_SUCCESS;
	in.validated_ns = 1700000000000000002LL;
	CHECK_EQ(xcap_store_bucket_put(s, &in), 0);
	memset(&out, 0x55, sizeof(out));
	CHECK_EQ(bucket_by_id(s, ACC_A, in.id, &out), 0);
	check_bucket(&out, &in);
	xcap_store_close(s);
}

static void put_with_the_same_id_replaces(void)
{
	struct xcap_store *s = open_fresh("replace");
	struct xcap_capture_rec c, out;
	struct xcap_bucket_rec b, bout;

	if (!s)
		return;
	full_capture(&c);
	CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	c.status = XCAP_ST_FAILED;
	c.packets_lost = 9;
	snprintf(c.error_message, sizeof(c.error_message), "interface went away");
	CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	CHECK_EQ(xcap_store_capture_get(s, ACC_A, c.id, &out), 0);
	check_capture(&out, &c);
	CHECK_EQ(xcap_store_capture_count(s, ACC_A), 1);

	make_bucket(&b, 1, ACC_A, "s3://b", 10);
	CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	b.status = XCAP_BUCKET_FAILED;
	b.validated_ns = 11;
	CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	CHECK_EQ(bucket_by_id(s, ACC_A, b.id, &bout), 0);
	check_bucket(&bout, &b);
	xcap_store_close(s);
}

/* An id never moves to another account, and the record keeps its content. */
static void put_refuses_an_id_of_another_account(void)
{
	struct xcap_store *s = open_fresh("steal");
	struct xcap_capture_rec c, thief, out;
	struct xcap_bucket_rec b, bthief, bout;

	if (!s)
		return;
	full_capture(&c);
	CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	thief = c;
	snprintf(thief.account, sizeof(thief.account), "%s", ACC_B);
	CHECK_EQ(-xcap_store_capture_put(s, &thief), EEXIST);
	CHECK_EQ(xcap_store_capture_get(s, ACC_A, c.id, &out), 0);
	check_capture(&out, &c);
	CHECK_EQ(-xcap_store_capture_get(s, ACC_B, c.id, &out), ENOENT);

	make_bucket(&b, 1, ACC_A, "s3://b", 10);
	CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	bthief = b;
	snprintf(bthief.account, sizeof(bthief.account), "%s", ACC_B);
	CHECK_EQ(-xcap_store_bucket_put(s, &bthief), EEXIST);
	CHECK_EQ(bucket_by_id(s, ACC_A, b.id, &bout), 0);
	xcap_store_close(s);
}

static void get_of_another_account_is_enoent(void)
{
	struct xcap_store *s = open_fresh("other_account");
	struct xcap_capture_rec c, out;
	struct xcap_bucket_rec b, bout;

	if (!s)
		return;
	make_capture(&c, 1, ACC_A, 1, XCAP_TYPE_SIMPLE, XCAP_ST_SUCCESS);
	make_bucket(&b, 2, ACC_A, "s3://b", 1);
	CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	CHECK_EQ(-xcap_store_capture_get(s, ACC_B, c.id, &out), ENOENT);
	CHECK_EQ(-xcap_store_capture_get(s, ACC_A, "nope", &out), ENOENT);
	CHECK_EQ(-bucket_by_id(s, ACC_B, b.id, &bout), ENOENT);
	CHECK_EQ(-bucket_by_id(s, ACC_A, "nope", &bout), ENOENT);
	xcap_store_close(s);
}

/* Inserted out of order; ids 3 and 4 share a time: the later insert comes first. */
static void capture_list_is_newest_first_and_limited(void)
{
	static const struct {
		int id;
		int64_t ns;
	} rows[] = { { 1, 100 }, { 2, 500 }, { 3, 300 }, { 4, 300 }, { 5, 200 } };
	static const int want[] = { 2, 4, 3, 5, 1 };
	struct xcap_capture_rec c, out[XCAP_LIST_MAX];
	struct xcap_store *s = open_fresh("list");
	char id[XCAP_ID_LEN + 1];
	size_t i;
	int n;

	if (!s)
		return;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		make_capture(&c, rows[i].id, ACC_A, rows[i].ns, XCAP_TYPE_SIMPLE, XCAP_ST_SUCCESS);
		CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	}
	make_capture(&c, 99, ACC_B, 1000, XCAP_TYPE_SIMPLE, XCAP_ST_SUCCESS);
	CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	/* An update keeps the place among equal times. */
	make_capture(&c, 3, ACC_A, 300, XCAP_TYPE_SIMPLE, XCAP_ST_COMPLETE);
	CHECK_EQ(xcap_store_capture_put(s, &c), 0);

	CHECK_EQ(xcap_store_capture_list(s, ACC_A, out, XCAP_LIST_MAX, &n), 0);
	CHECK_EQ(n, 5);
	for (i = 0; i < 5 && i < (size_t)n; i++) {
		snprintf(id, sizeof(id), "%032x", want[i]);
		CHECK(!strcmp(out[i].id, id), "position %zu: %s, want %s", i, out[i].id, id);
	}
	CHECK_EQ(xcap_store_capture_list(s, ACC_A, out, 3, &n), 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(out[2].status, XCAP_ST_COMPLETE);
	CHECK_EQ(xcap_store_capture_list(s, "nobody", out, XCAP_LIST_MAX, &n), 0);
	CHECK_EQ(n, 0);
	xcap_store_close(s);
}

static void bucket_list_is_newest_first_and_limited(void)
{
	struct xcap_store *s = open_fresh("bucket_list");
	struct xcap_bucket_rec b, out[4];
	int i, n;

	if (!s)
		return;
	for (i = 1; i <= 4; i++) {
		make_bucket(&b, i, ACC_A, "s3://b", i * 10);
		CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	}
	make_bucket(&b, 9, ACC_B, "s3://b", 100);
	CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	CHECK_EQ(xcap_store_bucket_list(s, ACC_A, out, 2, &n), 0);
	CHECK_EQ(n, 2);
	CHECK_EQ(out[0].submitted_ns, 40);
	CHECK_EQ(out[1].submitted_ns, 30);
	CHECK_EQ(xcap_store_bucket_list(s, ACC_A, out, 4, &n), 0);
	CHECK_EQ(n, 4);
	CHECK_EQ(out[3].submitted_ns, 10);
	xcap_store_close(s);
}

static void capture_counts(void)
{
	static const struct {
		const char *account;
		enum xcap_capture_type type;
		enum xcap_status status;
	} rows[] = {
		{ ACC_A, XCAP_TYPE_FULL, XCAP_ST_PENDING },
		{ ACC_A, XCAP_TYPE_FULL, XCAP_ST_RUNNING },
		{ ACC_A, XCAP_TYPE_FULL, XCAP_ST_COMPLETE },
		{ ACC_A, XCAP_TYPE_FULL, XCAP_ST_CONVERSION_PENDING },
		{ ACC_A, XCAP_TYPE_SIMPLE, XCAP_ST_PENDING },
		{ ACC_A, XCAP_TYPE_SIMPLE, XCAP_ST_RUNNING },
		{ ACC_B, XCAP_TYPE_FULL, XCAP_ST_RUNNING },
	};
	struct xcap_store *s = open_fresh("counts");
	struct xcap_capture_rec c;
	size_t i;

	if (!s)
		return;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		make_capture(&c, i, rows[i].account, i, rows[i].type, rows[i].status);
		CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	}
	CHECK_EQ(xcap_store_capture_count(s, ACC_A), 6);
	CHECK_EQ(xcap_store_capture_count(s, ACC_B), 1);
	CHECK_EQ(xcap_store_capture_count(s, "nobody"), 0);
	CHECK_EQ(xcap_store_capture_count_active_full(s, ACC_A), 2);
	CHECK_EQ(xcap_store_capture_count_active_full(s, ACC_B), 1);
	CHECK_EQ(xcap_store_capture_count_active_full(s, "nobody"), 0);
	xcap_store_close(s);
}

struct each_ctx {
	struct xcap_store *s;
	int calls;
	int stop_after; /* return 1 from this call on; 0 = never */
	char seen[8][XCAP_ID_LEN + 1];
};

/* Marks the capture failed, as restart recovery does: a put from inside the walk. */
static int fail_capture(void *arg, struct xcap_capture_rec *r)
{
	struct each_ctx *ctx = arg;

	if (ctx->calls < 8)
		snprintf(ctx->seen[ctx->calls], sizeof(ctx->seen[0]), "%s", r->id);
	ctx->calls++;
	if (ctx->stop_after && ctx->calls >= ctx->stop_after)
		return 1;
	r->status = XCAP_ST_FAILED;
	return xcap_store_capture_put(ctx->s, r);
}

static void capture_each_walks_a_status_mask(void)
{
	static const enum xcap_status st[] = { XCAP_ST_PENDING, XCAP_ST_RUNNING, XCAP_ST_COMPLETE,
					       XCAP_ST_CONVERSION_RUNNING, XCAP_ST_RUNNING };
	const uint32_t active = 1u << XCAP_ST_PENDING | 1u << XCAP_ST_RUNNING;
	struct xcap_store *s = open_fresh("each");
	struct each_ctx ctx = { .s = s };
	struct xcap_capture_rec c;
	size_t i;

	if (!s)
		return;
	for (i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		make_capture(&c, i, i % 2 ? ACC_B : ACC_A, 100 - i, XCAP_TYPE_FULL, st[i]);
		CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	}
	/* fn's non-zero return stops the walk and is returned. */
	ctx.stop_after = 1;
	CHECK_EQ(xcap_store_capture_each(s, active, fail_capture, &ctx), 1);
	CHECK_EQ(ctx.calls, 1);

	memset(&ctx, 0, sizeof(ctx));
	ctx.s = s;
	CHECK_EQ(xcap_store_capture_each(s, active, fail_capture, &ctx), 0);
	CHECK_EQ(ctx.calls, 3); /* ids 0, 1, 4 over both accounts, oldest first */
	CHECK_STR(ctx.seen[0], "00000000000000000000000000000004");
	CHECK_STR(ctx.seen[2], "00000000000000000000000000000000");

	memset(&ctx, 0, sizeof(ctx));
	ctx.s = s;
	CHECK_EQ(xcap_store_capture_each(s, active, fail_capture, &ctx), 0);
	CHECK_EQ(ctx.calls, 0);
	CHECK_EQ(xcap_store_capture_each(s, 1u << XCAP_ST_FAILED, fail_capture, &ctx), 0);
	CHECK_EQ(ctx.calls, 3);
	CHECK_EQ(xcap_store_capture_each(s, 0, fail_capture, &ctx), 0);
	CHECK_EQ(ctx.calls, 3);
	xcap_store_close(s);
}

static void bucket_find_by_destination(void)
{
	struct xcap_store *s = open_fresh("find");
	struct xcap_bucket_rec b, out;

	if (!s)
		return;
	make_bucket(&b, 1, ACC_A, "s3://one", 10);
	CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	make_bucket(&b, 2, ACC_A, "s3://one", 20);
	CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	make_bucket(&b, 3, ACC_A, "s3://two", 30);
	CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	make_bucket(&b, 4, ACC_B, "s3://three", 40);
	CHECK_EQ(xcap_store_bucket_put(s, &b), 0);

	CHECK_EQ(xcap_store_bucket_find(s, ACC_A, "s3://one", &out), 0);
	CHECK_STR(out.id, "00000000000000000000000000000002");
	CHECK_EQ(xcap_store_bucket_find(s, ACC_A, "s3://two", &out), 0);
	CHECK_EQ(out.submitted_ns, 30);
	CHECK_EQ(-xcap_store_bucket_find(s, ACC_A, "s3://three", &out), ENOENT);
	CHECK_EQ(-xcap_store_bucket_find(s, ACC_A, "s3://on", &out), ENOENT);
	xcap_store_close(s);
}

static void bucket_delete(void)
{
	struct xcap_store *s = open_fresh("delete");
	struct xcap_bucket_rec b, out;

	if (!s)
		return;
	make_bucket(&b, 1, ACC_A, "s3://one", 10);
	CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	CHECK_EQ(-xcap_store_bucket_delete(s, ACC_B, b.id), ENOENT);
	CHECK_EQ(bucket_by_id(s, ACC_A, b.id, &out), 0);
	CHECK_EQ(-xcap_store_bucket_delete(s, ACC_A, "unknown"), ENOENT);
	CHECK_EQ(xcap_store_bucket_delete(s, ACC_A, b.id), 0);
	CHECK_EQ(-bucket_by_id(s, ACC_A, b.id, &out), ENOENT);
	CHECK_EQ(-xcap_store_bucket_delete(s, ACC_A, b.id), ENOENT);
	xcap_store_close(s);
}

/*
 * What quotas and retention read: bucket counts, the bytes of capture files
 * kept in the state folder, the oldest ended captures, and deletes.
 */
static void quota_and_retention_queries(void)
{
	static const struct {
		const char *account;
		enum xcap_capture_type type;
		enum xcap_status status;
		int64_t ns;
	} rows[] = {
		{ ACC_A, XCAP_TYPE_SIMPLE, XCAP_ST_SUCCESS, 10 }, /* a file: counted, expires */
		{ ACC_A, XCAP_TYPE_SIMPLE, XCAP_ST_FAILED, 20 }, /* no file, expires */
		{ ACC_A, XCAP_TYPE_FULL, XCAP_ST_FAILED, 30 }, /* a kept spool file, expires */
		{ ACC_A, XCAP_TYPE_FULL, XCAP_ST_COMPLETE, 40 }, /* delivered: not counted */
		{ ACC_A, XCAP_TYPE_FULL, XCAP_ST_CONVERSION_PENDING, 5 }, /* counted, stays */
		{ ACC_B, XCAP_TYPE_SIMPLE, XCAP_ST_SUCCESS, 50 }, /* another account's */
		{ ACC_A, XCAP_TYPE_SIMPLE, XCAP_ST_SUCCESS, 1000 }, /* too new to expire */
	};
	struct xcap_store *s = open_fresh("quota");
	struct xcap_capture_rec c, out[8];
	struct xcap_bucket_rec b;
	uint64_t bytes;
	size_t i;
	int n;

	if (!s)
		return;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		make_capture(&c, i, rows[i].account, rows[i].ns, rows[i].type, rows[i].status);
		c.packets_captured = 10;
		c.bytes_captured = 1000;
		CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	}
	/* Rows 0, 2, 4 and 6 of A: each 1000 + 16 * 10 + 24 bytes. */
	CHECK_EQ(xcap_store_capture_stored_bytes(s, ACC_A, &bytes), 0);
	CHECK_EQ(bytes, 4 * 1184);
	CHECK_EQ(xcap_store_capture_stored_bytes(s, "nobody", &bytes), 0);
	CHECK_EQ(bytes, 0);

	CHECK_EQ(xcap_store_capture_expired(s, 100, out, 2, &n), 0);
	CHECK_EQ(n, 2);
	CHECK_STR(out[0].id, "00000000000000000000000000000000");
	CHECK_STR(out[1].id, "00000000000000000000000000000001");
	CHECK_EQ(xcap_store_capture_expired(s, 100, out, 8, &n), 0);
	CHECK_EQ(n, 5); /* not the conversion, not the new one */
	CHECK_EQ(xcap_store_capture_delete(s, ACC_A, out[0].id), 0);
	CHECK_EQ(-xcap_store_capture_delete(s, ACC_A, out[0].id), ENOENT);
	CHECK_EQ(-xcap_store_capture_delete(s, ACC_B, out[1].id), ENOENT);
	CHECK_EQ(xcap_store_capture_count(s, ACC_A), 5);

	for (i = 0; i < 3; i++) {
		make_bucket(&b, i, i < 2 ? ACC_A : ACC_B, "s3://x", i);
		CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	}
	CHECK_EQ(xcap_store_bucket_count(s, ACC_A), 2);
	CHECK_EQ(xcap_store_bucket_count(s, ACC_B), 1);
	CHECK_EQ(xcap_store_bucket_count(s, "nobody"), 0);
	xcap_store_close(s);
}

/* Finding 9: the database (it holds r2 keys) is 0600 whatever the umask or an older mode. */
static void database_file_is_private(void)
{
	char dir[256], path[300];
	mode_t old = umask(0);
	struct xcap_store *s;
	struct stat st;

	test_dir(dir, sizeof(dir), "private");
	snprintf(path, sizeof(path), "%s/xcap.db", dir);
	s = xcap_store_sqlite_open(dir, NULL);
	CHECK(s, "open");
	xcap_store_close(s);
	CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0600, "mode %o", st.st_mode & 0777);
	chmod(path, 0644);
	s = xcap_store_sqlite_open(dir, NULL);
	CHECK(s, "reopen");
	CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0600, "mode %o", st.st_mode & 0777);
	snprintf(path, sizeof(path), "%s/xcap.db-wal", dir);
	CHECK(stat(path, &st) || (st.st_mode & 0777) == 0600, "wal mode %o", st.st_mode & 0777);
	xcap_store_close(s);
	umask(old);
}

static void records_persist_across_reopen(void)
{
	struct xcap_store *s = open_fresh("persist");
	struct xcap_capture_rec c, out;
	struct xcap_bucket_rec b, bout;
	char dir[256];

	if (!s)
		return;
	full_capture(&c);
	make_bucket(&b, 5, ACC_A, "s3://p", 5);
	CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	xcap_store_close(s);

	test_dir(dir, sizeof(dir), "persist");
	s = xcap_store_sqlite_open(dir, NULL);
	CHECK(s, "reopen: %s", strerror(errno));
	if (!s)
		return;
	CHECK_EQ(xcap_store_capture_get(s, ACC_A, c.id, &out), 0);
	check_capture(&out, &c);
	CHECK_EQ(bucket_by_id(s, ACC_A, b.id, &bout), 0);
	check_bucket(&bout, &b);
	xcap_store_close(s);
}

/* Runs one query on the raw database file and returns the first column as text. */
static void raw_query(const char *name, const char *sql, char *val, size_t size)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	char path[300];

	snprintf(path, sizeof(path), "%s/%s/xcap.db", test_tmpdir, name);
	val[0] = '\0';
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) ||
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL)) {
		CHECK(0, "%s: %s", sql, sqlite3_errmsg(db));
		goto out;
	}
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(val, size, "%s", (const char *)sqlite3_column_text(st, 0));
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static void database_uses_wal_and_typed_columns(void)
{
	struct xcap_store *s = open_fresh("wal");
	struct xcap_capture_rec c;
	struct xcap_bucket_rec b;
	char val[128];

	if (!s)
		return;
	full_capture(&c);
	make_bucket(&b, 1, ACC_A, "s3://b", 1);
	CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	CHECK_EQ(xcap_store_bucket_put(s, &b), 0);
	raw_query("wal", "PRAGMA journal_mode", val, sizeof(val));
	CHECK_STR(val, "wal");
	raw_query("wal", "PRAGMA user_version", val, sizeof(val));
	CHECK_STR(val, "4");
	CHECK_EQ(xcap_store_schema_version(s), 4);
	raw_query(
		"wal",
		"SELECT typeof(id) || typeof(account) || typeof(filter_json) || typeof(status) || "
		"typeof(submitted_ns) || typeof(packets_lost) FROM captures",
		val, sizeof(val));
	CHECK_STR(val, "texttexttextintegerintegerinteger");
	raw_query("wal",
		  "SELECT typeof(token) || typeof(status) || typeof(validated_ns) FROM buckets",
		  val, sizeof(val));
	CHECK_STR(val, "textintegerinteger");
	xcap_store_close(s);
}

static void open_refuses_a_missing_folder(void)
{
	struct stat st;
	char dir[256];

	snprintf(dir, sizeof(dir), "%s/missing", test_tmpdir);
	errno = 0;
	CHECK(!xcap_store_sqlite_open(dir, NULL), "opened %s", dir);
	CHECK_EQ(errno, ENOENT);
	CHECK(stat(dir, &st) && errno == ENOENT, "%s was created", dir);
}

static void open_refuses_a_corrupt_file(void)
{
	char dir[256], path[300], junk[8192];
	FILE *f;

	test_dir(dir, sizeof(dir), "corrupt");
	snprintf(path, sizeof(path), "%s/xcap.db", dir);
	memset(junk, 'x', sizeof(junk));
	f = fopen(path, "wb");
	CHECK(f && fwrite(junk, 1, sizeof(junk), f) == sizeof(junk), "cannot write %s", path);
	if (f)
		fclose(f);
	errno = 0;
	CHECK(!xcap_store_sqlite_open(dir, NULL), "opened a corrupt %s", path);
	CHECK_EQ(errno, EIO);
}

/* Schema 3 (before the captures' tunnel column) is upgraded in place; its records stay. */
static void open_upgrades_schema_3(void)
{
	struct xcap_store *s = open_fresh("upgrade");
	struct xcap_capture_rec c, got;
	char dir[256], val[32];

	if (!s)
		return;
	full_capture(&c);
	CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	xcap_store_close(s);
	/* What an xcapd of schema 3 left. */
	raw_query("upgrade", "ALTER TABLE captures DROP COLUMN tunnel", val, sizeof(val));
	raw_query("upgrade", "PRAGMA user_version = 3", val, sizeof(val));
	test_dir(dir, sizeof(dir), "upgrade");
	s = xcap_store_sqlite_open(dir, NULL);
	CHECK(s, "cannot open a schema 3 database: %s", strerror(errno));
	if (!s)
		return;
	CHECK_EQ(xcap_store_schema_version(s), 4);
	CHECK_EQ(xcap_store_capture_get(s, c.account, c.id, &got), 0);
	CHECK_EQ(got.tunnel, 0); /* the column's default: the filter matched at any level */
	CHECK(!strcmp(got.filter_json, c.filter_json), "the record changed");
	c.tunnel = 2;
	CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	CHECK_EQ(xcap_store_capture_get(s, c.account, c.id, &got), 0);
	CHECK_EQ(got.tunnel, 2);
	xcap_store_close(s);
	raw_query("upgrade", "PRAGMA user_version", val, sizeof(val));
	CHECK(!strcmp(val, "4"), "user_version %s", val);
}

/* A database from a newer xcapd is left alone rather than misread. */
static void open_refuses_a_newer_schema(void)
{
	struct xcap_store *s = open_fresh("newer");
	char dir[256], val[32];

	if (!s)
		return;
	xcap_store_close(s);
	raw_query("newer", "PRAGMA user_version = 99", val, sizeof(val));
	test_dir(dir, sizeof(dir), "newer");
	errno = 0;
	CHECK(!xcap_store_sqlite_open(dir, NULL), "opened a version 99 database");
	CHECK_EQ(errno, EPROTO);
}

/* On one host the credentials and accounts are the config's; the store answers for them. */
static void credentials_and_accounts_come_from_the_config(void)
{
	static struct xcap_config cfg;
	struct xcap_auth token = { .token = "tok-write" }, wrong = { .token = "tok-writ" };
	struct xcap_auth key = { .email = "OPS@example.com", .key = "k1" };
	struct xcap_grant g;
	struct xcap_account acc;
	struct xcap_store *s;
	char dir[256];

	xcap_config_init(&cfg);
	cfg.n_accounts = 2;
	snprintf(cfg.accounts[0].id, sizeof(cfg.accounts[0].id), "%s", ACC_A);
	snprintf(cfg.accounts[1].id, sizeof(cfg.accounts[1].id), "%s", ACC_B);
	cfg.accounts[1].simple_per_minute = 7;
	cfg.n_creds = 2;
	cfg.creds[0] =
		(struct xcap_credential){ .secret = "tok-write", .write = true, .accounts = 1 };
	cfg.creds[1] = (struct xcap_credential){ .email = "ops@example.com",
						 .secret = "k1",
						 .accounts = 3 };
	test_dir(dir, sizeof(dir), "creds");
	s = xcap_store_sqlite_open(dir, &cfg);
	CHECK(s, "open: %s", strerror(errno));
	if (!s)
		return;
	CHECK_EQ(xcap_store_credential_find(s, &token, ACC_A, &g), 0);
	CHECK(g.write && g.account, "token on A: write %d account %d", g.write, g.account);
	CHECK_EQ(xcap_store_credential_find(s, &token, ACC_B, &g), 0);
	CHECK(!g.account, "the token reaches B");
	CHECK_EQ(xcap_store_credential_find(s, &key, ACC_B, &g), 0);
	CHECK(!g.write && g.account, "key on B: write %d account %d", g.write, g.account);
	CHECK_EQ(xcap_store_credential_find(s, &key, "unknown", &g), 0);
	CHECK(!g.account, "an unknown account is reached");
	CHECK_EQ(-xcap_store_credential_find(s, &wrong, NULL, &g), ENOENT);
	CHECK_EQ(xcap_store_account_get(s, ACC_B, &acc), 0);
	CHECK_EQ(acc.simple_per_minute, 7);
	CHECK_EQ(-xcap_store_account_get(s, "unknown", &acc), ENOENT);
	xcap_store_close(s);
}

/* A window counts per account, refuses past its limit until it ends, and gives back. */
static void rate_window_per_account(void)
{
	static struct xcap_config cfg;
	const int64_t min = 60 * 1000000000LL, t0 = 1000 * min;
	struct xcap_store *s;
	int64_t retry = 0;
	char dir[256];

	xcap_config_init(&cfg);
	cfg.n_accounts = 2;
	snprintf(cfg.accounts[0].id, sizeof(cfg.accounts[0].id), "%s", ACC_A);
	snprintf(cfg.accounts[1].id, sizeof(cfg.accounts[1].id), "%s", ACC_B);
	test_dir(dir, sizeof(dir), "rate");
	s = xcap_store_sqlite_open(dir, &cfg);
	CHECK(s, "open: %s", strerror(errno));
	if (!s)
		return;
	CHECK_EQ(xcap_store_rate_take(s, ACC_A, t0, min, 2, &retry), 0);
	CHECK_EQ(xcap_store_rate_take(s, ACC_A, t0 + 1, min, 2, &retry), 0);
	CHECK_EQ(-xcap_store_rate_take(s, ACC_A, t0 + 10, min, 2, &retry), EAGAIN);
	CHECK_EQ(retry, min - 10);
	CHECK_EQ(xcap_store_rate_take(s, ACC_B, t0 + 10, min, 2, &retry), 0);
	xcap_store_rate_refund(s, ACC_A);
	CHECK_EQ(xcap_store_rate_take(s, ACC_A, t0 + 20, min, 2, &retry), 0);
	CHECK_EQ(-xcap_store_rate_take(s, ACC_A, t0 + 30, min, 2, &retry), EAGAIN);
	CHECK_EQ(xcap_store_rate_take(s, ACC_A, t0 + min, min, 2, &retry), 0);
	CHECK_EQ(xcap_store_rate_take(s, ACC_A, t0 + min, min, 0, &retry), 0);
	CHECK_EQ(-xcap_store_rate_take(s, "unknown", t0, min, 2, &retry), ENOENT);
	xcap_store_close(s);
}

/* The schema of version 1 (xcapd before `direction` and `format`), with one capture. */
static const char schema_v1[] =
	"CREATE TABLE captures (id TEXT PRIMARY KEY NOT NULL, account TEXT NOT NULL,"
	" type INTEGER NOT NULL, status INTEGER NOT NULL, submitted_ns INTEGER NOT NULL,"
	" stop_requested_ns INTEGER NOT NULL, time_limit INTEGER NOT NULL,"
	" packet_limit INTEGER NOT NULL, byte_limit INTEGER NOT NULL,"
	" offset_time_ns INTEGER NOT NULL, filter_json TEXT NOT NULL, colo_name TEXT NOT NULL,"
	" destination_conf TEXT NOT NULL, packets_captured INTEGER NOT NULL,"
	" bytes_captured INTEGER NOT NULL, packets_matched INTEGER NOT NULL,"
	" packets_lost INTEGER NOT NULL, error_message TEXT NOT NULL) STRICT;"
	"CREATE INDEX captures_by_time ON captures (account, submitted_ns);"
	"CREATE TABLE buckets (id TEXT PRIMARY KEY NOT NULL, account TEXT NOT NULL,"
	" destination_conf TEXT NOT NULL, filename TEXT NOT NULL, token TEXT NOT NULL,"
	" status INTEGER NOT NULL, submitted_ns INTEGER NOT NULL,"
	" validated_ns INTEGER NOT NULL) STRICT;"
	"CREATE INDEX buckets_by_conf ON buckets (account, destination_conf);"
	"INSERT INTO captures VALUES ('00000000000000000000000000000001', '" ACC_A "', 1, 6,"
	" 1700000000000000000, 0, 60, 10, 0, 0, '{}', 'lab', 'file:///x', 3, 300, 3, 0, '');"
	"PRAGMA user_version = 1;";

/*
 * A database of version 1 is upgraded in place, through every migration: its
 * captures read as both directions, pcap, every interface, any level.
 */
static void open_upgrades_a_version_1_database(void)
{
	struct xcap_capture_rec c, got;
	struct xcap_store *s;
	char dir[256], path[300];
	sqlite3 *db = NULL;

	test_dir(dir, sizeof(dir), "v1");
	snprintf(path, sizeof(path), "%s/xcap.db", dir);
	CHECK(!sqlite3_open(path, &db) && !sqlite3_exec(db, schema_v1, NULL, NULL, NULL),
	      "cannot make a version 1 database: %s", sqlite3_errmsg(db));
	sqlite3_close(db);
	s = xcap_store_sqlite_open(dir, NULL);
	CHECK(s, "open %s: %s", dir, strerror(errno));
	if (!s)
		return;
	CHECK_EQ(xcap_store_schema_version(s), 4);
	CHECK_EQ(xcap_store_capture_get(s, ACC_A, "00000000000000000000000000000001", &got), 0);
	CHECK_EQ(got.packets_captured, 3);
	CHECK_EQ(got.dirs, 0);
	CHECK_EQ(got.format, 0);
	CHECK_STR(got.ifaces, "");
	CHECK_EQ(got.tunnel, 0);
	full_capture(&c);
	CHECK_EQ(xcap_store_capture_put(s, &c), 0);
	CHECK_EQ(xcap_store_capture_get(s, ACC_A, c.id, &got), 0);
	check_capture(&got, &c);
	xcap_store_close(s);
}

int main(void)
{
	if (test_tmpdir_init("store"))
		return 1;
	RUN_TEST(capture_round_trips_every_field);
	RUN_TEST(bucket_round_trips_every_field);
	RUN_TEST(put_with_the_same_id_replaces);
	RUN_TEST(put_refuses_an_id_of_another_account);
	RUN_TEST(get_of_another_account_is_enoent);
	RUN_TEST(capture_list_is_newest_first_and_limited);
	RUN_TEST(bucket_list_is_newest_first_and_limited);
	RUN_TEST(capture_counts);
	RUN_TEST(capture_each_walks_a_status_mask);
	RUN_TEST(bucket_find_by_destination);
	RUN_TEST(bucket_delete);
	RUN_TEST(quota_and_retention_queries);
	RUN_TEST(database_file_is_private);
	RUN_TEST(records_persist_across_reopen);
	RUN_TEST(database_uses_wal_and_typed_columns);
	RUN_TEST(open_refuses_a_missing_folder);
	RUN_TEST(open_refuses_a_corrupt_file);
	RUN_TEST(open_refuses_a_newer_schema);
	RUN_TEST(open_upgrades_schema_3);
	RUN_TEST(open_upgrades_a_version_1_database);
	RUN_TEST(credentials_and_accounts_come_from_the_config);
	RUN_TEST(rate_window_per_account);
	return tests_failed_total ? 1 : 0;
}
