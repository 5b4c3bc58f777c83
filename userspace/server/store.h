/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The store: every piece of shared state the API and the jobs decide from
 * (capture and bucket records per account, credentials and accounts, rate
 * windows and quotas, the schema version), behind one table of functions
 * (the redis ConnectionType pattern). A put returns once the record is
 * durable, so the API may answer 200 after it. Implementations, one file
 * each: store_sqlite.c (one host: SQLite, the config's credentials);
 * store_pg.c (a fleet: PostgreSQL shared by the API processes, and by the
 * agents, each of which sees its parts of full captures as its captures).
 */
#ifndef XCAP_STORE_H
#define XCAP_STORE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "server/config.h"
#include "server/credentials.h"

#define XCAP_ID_LEN 32 /* lowercase hex of a random 128-bit value */
#define XCAP_LIST_MAX 50 /* the list routes return the 50 newest */

enum xcap_status {
	XCAP_ST_UNKNOWN,
	XCAP_ST_SUCCESS,
	XCAP_ST_PENDING,
	XCAP_ST_RUNNING,
	XCAP_ST_CONVERSION_PENDING,
	XCAP_ST_CONVERSION_RUNNING,
	XCAP_ST_COMPLETE,
	XCAP_ST_FAILED,
};

enum xcap_capture_type {
	XCAP_TYPE_SIMPLE,
	XCAP_TYPE_FULL,
};

struct xcap_capture_rec {
	char id[XCAP_ID_LEN + 1];
	char account[XCAP_ID_LEN + 1];
	enum xcap_capture_type type;
	enum xcap_status status;
	int64_t submitted_ns; /* epoch */
	int64_t stop_requested_ns; /* 0 = not requested */
	uint32_t time_limit; /* seconds */
	uint32_t packet_limit; /* 0 = not given */
	uint64_t byte_limit; /* 0 = not given */
	int64_t offset_time_ns; /* simple: end of the window; 0 = not given */
	char filter_json[512]; /* filter_v1 as canonical JSON ("{}" when empty) */
	uint32_t
		dirs; /* the directions taken, as xcap_filter.dirs: 0 both (extension `direction`) */
	uint32_t format; /* enum xcap_pcap_format of its file (extension `format`) */
	/* The interfaces taken, "eth0,eth1" ("": every one), as xcap_filter_format_ifaces writes */
	char ifaces[XCAP_MAX_IFACES * IF_NAMESIZE];
	uint32_t
		tunnel; /* enum xcap_tunnel: the levels filter_json matches at (extension `tunnel`) */
	char colo_name[64];
	char destination_conf[1024];
	uint64_t packets_captured;
	uint64_t bytes_captured;
	uint64_t packets_matched;
	uint64_t packets_lost;
	char error_message[512];
	/* The object a delivery writes; "": pcap_<id>.pcap (a fleet's agent: its part's key). */
	char object_key[128];
};

enum xcap_bucket_status {
	XCAP_BUCKET_PENDING,
	XCAP_BUCKET_SUCCESS,
	XCAP_BUCKET_FAILED,
};

struct xcap_bucket_rec {
	char id[XCAP_ID_LEN + 1];
	char account[XCAP_ID_LEN + 1];
	char destination_conf[1024];
	char filename[64]; /* ownership-challenge-<hex>.txt */
	char token[65]; /* the secret content of the challenge file */
	enum xcap_bucket_status status;
	int64_t submitted_ns;
	int64_t validated_ns; /* 0 = not validated */
};

/* One host's part of a full capture in a fleet (the `parts` member of the API's answers). */
struct xcap_part {
	char host[64];
	char colo[64];
	enum xcap_status status;
	uint64_t packets_captured;
	uint64_t bytes_captured;
	uint64_t packets_lost;
	char object_key[128]; /* the object the host delivers, in the capture's bucket */
	char error_message[256];
};

struct xcap_store;

/*
 * Every function returns 0 or a negative errno (-EIO when the backend
 * failed); the caller's strings are not kept. Callers may be on several
 * threads: an implementation serializes what must be.
 */
struct xcap_store_ops {
	const char *name; /* for logs */
	void (*close)(struct xcap_store *s);
	/* The schema version of the data the store holds (>= 1). */
	int (*schema_version)(struct xcap_store *s);

	/* Inserts or replaces the record with this id; -EEXIST: an id of another account. */
	int (*capture_put)(struct xcap_store *s, const struct xcap_capture_rec *r);
	/* -ENOENT when the id is not a capture of this account. */
	int (*capture_get)(struct xcap_store *s, const char *account, const char *id,
			   struct xcap_capture_rec *out);
	/* The newest `max` captures of the account, newest first; *n is set to how many. */
	int (*capture_list)(struct xcap_store *s, const char *account, struct xcap_capture_rec *out,
			    int max, int *n);
	/* Number of captures of the account, all of them (for result_info.total_count). */
	int (*capture_count)(struct xcap_store *s, const char *account);
	/*
	 * Calls fn for every capture (any account) whose status is in `statuses`
	 * (bit 1 << status), oldest first. fn may put; a non-zero return from fn
	 * stops the walk and is returned.
	 */
	int (*capture_each)(struct xcap_store *s, uint32_t statuses,
			    int (*fn)(void *arg, struct xcap_capture_rec *r), void *arg);
	/* Full captures of the account that are pending or running (a quota). */
	int (*capture_count_active_full)(struct xcap_store *s, const char *account);
	/*
	 * What the account's capture files take in the state folder, pcap headers
	 * included (a quota): simple captures that succeeded, full captures
	 * waiting for delivery or failed (their file is kept).
	 */
	int (*capture_stored_bytes)(struct xcap_store *s, const char *account, uint64_t *bytes);
	/*
	 * The oldest `max` ended captures (success, complete, failed) of any
	 * account submitted before before_ns, oldest first; *n is set to how many.
	 */
	int (*capture_expired)(struct xcap_store *s, int64_t before_ns,
			       struct xcap_capture_rec *out, int max, int *n);
	/* -ENOENT when the id is not a capture of this account. */
	int (*capture_delete)(struct xcap_store *s, const char *account, const char *id);

	int (*bucket_put)(struct xcap_store *s, const struct xcap_bucket_rec *r);
	/* The bucket record of the account with this destination_conf (newest), or -ENOENT. */
	int (*bucket_find)(struct xcap_store *s, const char *account, const char *conf,
			   struct xcap_bucket_rec *out);
	int (*bucket_list)(struct xcap_store *s, const char *account, struct xcap_bucket_rec *out,
			   int max, int *n);
	/* Number of bucket records of the account (a quota, result_info.total_count). */
	int (*bucket_count)(struct xcap_store *s, const char *account);
	/* -ENOENT when the id is not a bucket of this account. */
	int (*bucket_delete)(struct xcap_store *s, const char *account, const char *id);

	/*
	 * What the credential presented by auth grants on `account` (NULL: no
	 * account, as for /metrics); -ENOENT when no credential matches.
	 */
	int (*credential_find)(struct xcap_store *s, const struct xcap_auth *auth,
			       const char *account, struct xcap_grant *out);
	/* The account's record (quotas, S3 keys); -ENOENT when there is no such account. */
	int (*account_get)(struct xcap_store *s, const char *id, struct xcap_account *out);
	/*
	 * The account's rate window of simple captures: counts one in a window of
	 * window_ns that starts at the first one counted. -EAGAIN when `limit`
	 * (0: none) are counted already, with *retry_ns the time until the window
	 * ends; nothing is counted then.
	 */
	int (*rate_take)(struct xcap_store *s, const char *account, int64_t now_ns,
			 int64_t window_ns, uint32_t limit, int64_t *retry_ns);
	/* Gives back what rate_take counted, for a request that failed after it. */
	void (*rate_refund)(struct xcap_store *s, const char *account);

	/*
	 * Optional (NULL: one host). The parts of a full capture, by host; *n = 0
	 * for a capture that has none.
	 */
	int (*capture_parts)(struct xcap_store *s, const char *id, struct xcap_part *out, int max,
			     int *n);
	/*
	 * Optional (NULL: the file stays on this host only). Keeps a simple
	 * capture's pcap file for every API process; get returns a malloc'd copy.
	 */
	int (*simple_put)(struct xcap_store *s, const char *id, const char *data, size_t len);
	int (*simple_get)(struct xcap_store *s, const char *id, size_t max, char **data,
			  size_t *len);
};

/* An implementation's state starts with this. */
struct xcap_store {
	const struct xcap_store_ops *ops;
};

/*
 * Opens (creating if needed) DIR/xcap.db; credentials and accounts are cfg's
 * (NULL: none). NULL + errno on error, logged.
 */
struct xcap_store *xcap_store_sqlite_open(const char *dir, const struct xcap_config *cfg);

static inline void xcap_store_close(struct xcap_store *s)
{
	if (s)
		s->ops->close(s);
}

static inline int xcap_store_schema_version(struct xcap_store *s)
{
	return s->ops->schema_version(s);
}

static inline int xcap_store_capture_put(struct xcap_store *s, const struct xcap_capture_rec *r)
{
	return s->ops->capture_put(s, r);
}

static inline int xcap_store_capture_get(struct xcap_store *s, const char *account, const char *id,
					 struct xcap_capture_rec *out)
{
	return s->ops->capture_get(s, account, id, out);
}

static inline int xcap_store_capture_list(struct xcap_store *s, const char *account,
					  struct xcap_capture_rec *out, int max, int *n)
{
	return s->ops->capture_list(s, account, out, max, n);
}

static inline int xcap_store_capture_count(struct xcap_store *s, const char *account)
{
	return s->ops->capture_count(s, account);
}

static inline int xcap_store_capture_each(struct xcap_store *s, uint32_t statuses,
					  int (*fn)(void *arg, struct xcap_capture_rec *r),
					  void *arg)
{
	return s->ops->capture_each(s, statuses, fn, arg);
}

static inline int xcap_store_capture_count_active_full(struct xcap_store *s, const char *account)
{
	return s->ops->capture_count_active_full(s, account);
}

static inline int xcap_store_capture_stored_bytes(struct xcap_store *s, const char *account,
						  uint64_t *bytes)
{
	return s->ops->capture_stored_bytes(s, account, bytes);
}

static inline int xcap_store_capture_expired(struct xcap_store *s, int64_t before_ns,
					     struct xcap_capture_rec *out, int max, int *n)
{
	return s->ops->capture_expired(s, before_ns, out, max, n);
}

static inline int xcap_store_capture_delete(struct xcap_store *s, const char *account,
					    const char *id)
{
	return s->ops->capture_delete(s, account, id);
}

static inline int xcap_store_bucket_put(struct xcap_store *s, const struct xcap_bucket_rec *r)
{
	return s->ops->bucket_put(s, r);
}

static inline int xcap_store_bucket_find(struct xcap_store *s, const char *account,
					 const char *conf, struct xcap_bucket_rec *out)
{
	return s->ops->bucket_find(s, account, conf, out);
}

static inline int xcap_store_bucket_list(struct xcap_store *s, const char *account,
					 struct xcap_bucket_rec *out, int max, int *n)
{
	return s->ops->bucket_list(s, account, out, max, n);
}

static inline int xcap_store_bucket_count(struct xcap_store *s, const char *account)
{
	return s->ops->bucket_count(s, account);
}

static inline int xcap_store_bucket_delete(struct xcap_store *s, const char *account,
					   const char *id)
{
	return s->ops->bucket_delete(s, account, id);
}

static inline int xcap_store_credential_find(struct xcap_store *s, const struct xcap_auth *auth,
					     const char *account, struct xcap_grant *out)
{
	return s->ops->credential_find(s, auth, account, out);
}

static inline int xcap_store_account_get(struct xcap_store *s, const char *id,
					 struct xcap_account *out)
{
	return s->ops->account_get(s, id, out);
}

static inline int xcap_store_rate_take(struct xcap_store *s, const char *account, int64_t now_ns,
				       int64_t window_ns, uint32_t limit, int64_t *retry_ns)
{
	return s->ops->rate_take(s, account, now_ns, window_ns, limit, retry_ns);
}

static inline void xcap_store_rate_refund(struct xcap_store *s, const char *account)
{
	s->ops->rate_refund(s, account);
}

static inline int xcap_store_capture_parts(struct xcap_store *s, const char *id,
					   struct xcap_part *out, int max, int *n)
{
	*n = 0;
	return s->ops->capture_parts ? s->ops->capture_parts(s, id, out, max, n) : 0;
}

/*
 * The database is unreachable: every function of a store that has one may
 * return it, and the API answers 503 then.
 */
#define XCAP_STORE_EDOWN ENOTCONN

/* A rate window kept in one process's memory, for stores that serve one process. */
struct xcap_store_window {
	int64_t start_ns;
	uint32_t count;
};

/* rate_take on one window. */
static inline int xcap_store_window_take(struct xcap_store_window *w, int64_t now_ns,
					 int64_t window_ns, uint32_t limit, int64_t *retry_ns)
{
	int64_t elapsed = now_ns - w->start_ns;

	/* A clock set back starts a new window rather than blocking until it catches up. */
	if (elapsed >= window_ns || elapsed < 0) {
		w->start_ns = now_ns;
		w->count = 0;
		elapsed = 0;
	}
	if (limit && w->count >= limit) {
		*retry_ns = window_ns - elapsed;
		return -EAGAIN;
	}
	w->count++;
	return 0;
}

/* rate_refund on one window. */
static inline void xcap_store_window_refund(struct xcap_store_window *w)
{
	if (w->count)
		w->count--;
}

#endif /* XCAP_STORE_H */
