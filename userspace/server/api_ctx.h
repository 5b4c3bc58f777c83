/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inside the API: what the router (api.c: routes, authentication, envelope,
 * error table) shares with the route handlers (api_captures.c,
 * api_buckets.c): the request being answered, the ids of the error table, and
 * the helpers that answer. Only server/api*.c include it.
 */
#ifndef XCAP_API_CTX_H
#define XCAP_API_CTX_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>
#include "server/api.h"
#include "server/config.h"
#include "server/store.h"

/* The errors of the API, one table row each (api.c). */
enum api_err {
	E_NO_ROUTE,
	E_BAD_ID,
	E_METHOD,
	E_NO_AUTH,
	E_BAD_TOKEN_FORMAT,
	E_BAD_EMAIL_FORMAT,
	E_BAD_KEY_FORMAT,
	E_BAD_TOKEN,
	E_AUTH,
	E_AUTH_ACCOUNT,
	E_AUTH_READ_ONLY,
	E_TOO_LARGE,
	E_CONTENT_TYPE,
	E_NOT_JSON,
	E_NOT_OBJECT,
	E_MISSING,
	E_TYPE,
	E_RANGE,
	E_ENUM,
	E_ADDRESS,
	E_OFFSET_TIME,
	E_COLO,
	E_DEST,
	E_DEST_NOT_VALIDATED,
	E_RATE_SIMPLE,
	E_FULL_BUSY,
	E_NO_INTERFACE,
	E_NO_SLOT,
	E_CAPTURE_NOT_FOUND,
	E_BUCKET_NOT_FOUND,
	E_STOP_STATE,
	E_DOWNLOAD_FULL,
	E_DOWNLOAD_STATE,
	E_CHALLENGE,
	E_CHALLENGE_NAME,
	E_BUCKET_WRITE,
	E_BUCKET_QUOTA,
	E_STORAGE_QUOTA,
	E_WORKERS_BUSY,
	E_COLO_NONE,
	E_DB_DOWN,
	E_STREAM_STATE,
	E_STREAM_REMOTE,
	E_INTERNAL,
};

struct xcap_api {
	const struct xcap_config *cfg;
	struct xcap_store *store;
	struct xcap_jobs *jobs;
	struct xcap_metrics *metrics; /* the requests answered */
	/*
	 * The API of a fleet: every route runs on the HTTP workers (the store is
	 * a database across the network), colo_name is checked against the live
	 * agents when the capture is created, and captures show their parts.
	 */
	bool fleet;
};

/* One request being answered: what a route handler reads, and its answer. */
struct api_ctx {
	struct xcap_api *api;
	const struct xcap_api_request *req;
	struct xcap_api_response *resp;
	const char *account; /* the {account_id} of the path */
	struct xcap_account acc; /* its record: quotas, S3 keys */
	const char *id; /* {pcap_id} or {ownership_id} */
	const char *route; /* its name in /metrics */
	json_object *body;
	int64_t now_ns;
};

/*
 * Answers with one error of the table; `pointer` is a JSON pointer into the
 * body or NULL; the table's format takes the arguments. Returns -1 so that
 * callers can `return api_fail(...)`.
 */
int api_fail(struct api_ctx *c, enum api_err err, const char *pointer, ...);
/*
 * A store call failed with err: 503 (E_DB_DOWN) while the database is
 * unreachable, else 500 saying what failed. Returns -1.
 */
int api_store_fail(struct api_ctx *c, int err, const char *what);
/* 200 with result in the envelope; 0. */
int api_respond_result(struct api_ctx *c, json_object *result);
/* 200 with a list and its result_info (total: all the account has); 0. */
int api_respond_list(struct api_ctx *c, json_object *items, int total);
/* An answer without a body (204); 0. */
int api_respond_empty(struct api_ctx *c, int status);

/* A time member as RFC 3339 ("" for 0). */
void api_add_time(json_object *o, const char *key, int64_t ns);
void api_add_u64(json_object *o, const char *key, uint64_t v);
/* destination_conf as answers show it: its secrets masked. */
json_object *api_masked_conf(const char *conf);

/* Parses the body as one JSON object into c->body; answers the error itself and returns -1. */
int api_parse_body(struct api_ctx *c);
/* A member; JSON null counts as absent. */
json_object *api_member(json_object *obj, const char *key);
/* The JSON pointer parent/key, for error sources. */
void api_pointer_of(char *buf, size_t size, const char *parent, const char *key);
/*
 * An integer member in [min, max]: JSON integers and numbers without a
 * fraction. Returns 1 when present, 0 when absent, -1 after answering an error.
 */
int api_get_int(struct api_ctx *c, json_object *obj, const char *parent, const char *key,
		bool required, long long min, long long max, long long *out);
/* A string member without NUL characters; same returns as api_get_int. */
int api_get_string(struct api_ctx *c, json_object *obj, const char *parent, const char *key,
		   bool required, const char **out);

/* The routes: each answers, and returns 0 or (after an error) -1. */
int api_captures_list(struct api_ctx *c);
int api_captures_create(struct api_ctx *c);
int api_captures_get(struct api_ctx *c);
int api_captures_download(struct api_ctx *c);
int api_captures_stop(struct api_ctx *c);
int api_captures_stream(struct api_ctx *c);
int api_buckets_list(struct api_ctx *c);
int api_buckets_add(struct api_ctx *c);
int api_buckets_validate(struct api_ctx *c);
int api_buckets_delete(struct api_ctx *c);
/*
 * The account's bucket named by conf (its newest record), or for a URI
 * without keys the one added with them (xcap_dest_unkeyed): 0, -ENOENT, -errno.
 */
int api_bucket_find(struct api_ctx *c, const char *conf, struct xcap_bucket_rec *out);

#endif /* XCAP_API_CTX_H */
