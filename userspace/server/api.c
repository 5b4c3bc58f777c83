// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The PCAP collection API: routes, authentication, validation and the one
 * error table. The order of checks is: route, method, id syntax, credentials,
 * permission, account, then the route's own validation. Nothing is stored for
 * a refused request.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <json-c/json.h>
#include "common/util.h"
#include "server/api.h"
#include "server/config.h"
#include "common/file.h"
#include "common/filter.h"
#include "common/ids.h"
#include "server/jobs.h"
#include "common/clock.h"
#include "common/log.h"
#include "server/storage.h"
#include "server/store.h"

#define BASE_PATH "/client/v4"
#define DAY_NS (86400 * NSEC_PER_SEC)
#define OFFSET_SKEW_NS (60 * NSEC_PER_SEC) /* clocks of client and host may differ a little */
#define JSON_DEPTH_MAX 16
#define DOWNLOAD_MAX (4 << 20) /* a simple capture: 10000 samples of 160 bytes at most */
#define WORKERS_RETRY_AFTER_S 5

/* --- the error table --- */

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
	E_BUCKET_WRITE,
	E_WORKERS_BUSY,
	E_INTERNAL,
};

static const struct {
	int status;
	int code;
	int chain_code; /* 6003 carries the precise reason in error_chain */
	const char *fmt;
} api_errors[] = {
	[E_NO_ROUTE] = { 404, 7000, 0, "No route for that URI" },
	[E_BAD_ID] = { 400, 7003, 0,
		       "Could not route to %s, perhaps your object identifier is invalid?" },
	[E_METHOD] = { 405, 10405, 0, "Method %s not allowed for this route" },
	[E_NO_AUTH] = { 400, 9106, 0, "Missing X-Auth-Key, X-Auth-Email or Authorization headers" },
	[E_BAD_TOKEN_FORMAT] = { 400, 6003, 6111, "Invalid format for Authorization header" },
	[E_BAD_EMAIL_FORMAT] = { 400, 6003, 6102, "Invalid format for X-Auth-Email header" },
	[E_BAD_KEY_FORMAT] = { 400, 6003, 6103, "Invalid format for X-Auth-Key header" },
	[E_BAD_TOKEN] = { 403, 9109, 0, "Invalid access token" },
	[E_AUTH] = { 403, 10000, 0, "Authentication error" },
	[E_TOO_LARGE] = { 413, 1001, 0, "request body is larger than 65536 bytes" },
	[E_CONTENT_TYPE] = { 415, 1002, 0, "Content-Type must be application/json" },
	[E_NOT_JSON] = { 400, 1003, 0, "request body is not valid JSON: %s" },
	[E_NOT_OBJECT] = { 400, 1004, 0, "request body must be a JSON object" },
	[E_MISSING] = { 400, 1005, 0, "%s is required" },
	[E_TYPE] = { 400, 1006, 0, "%s must be %s" },
	[E_RANGE] = { 400, 1007, 0, "%s must be between %lld and %lld" },
	[E_ENUM] = { 400, 1008, 0, "%s must be %s" },
	[E_ADDRESS] = { 400, 1009, 0, "%s must be an IPv4 or IPv6 address or prefix" },
	[E_OFFSET_TIME] = { 400, 1010, 0,
			    "offset_time must be an RFC 3339 time within the last 24 hours" },
	[E_COLO] = { 400, 1011, 0, "colo_name must be this host's site (%s) or metro (%s)" },
	[E_DEST] = { 400, 1012, 0, "destination_conf: %s" },
	[E_DEST_NOT_VALIDATED] = { 400, 1013, 0,
				   "destination_conf is not a validated bucket of this account" },
	[E_RATE_SIMPLE] = { 429, 1014, 0, "rate limited: %u simple capture(s) per minute" },
	[E_FULL_BUSY] = { 400, 1015, 0,
			  "%u full capture(s) already pending or running for this account" },
	[E_NO_INTERFACE] = { 400, 1016, 0, "%s" },
	[E_NO_SLOT] = { 503, 1017, 0, "%s; try again when a capture ends" },
	[E_CAPTURE_NOT_FOUND] = { 404, 1404, 0, "capture not found" },
	[E_BUCKET_NOT_FOUND] = { 404, 1405, 0, "bucket not found" },
	[E_STOP_STATE] = { 400, 1018, 0,
			   "only a pending or running full capture can be stopped; "
			   "this one is %s %s" },
	[E_DOWNLOAD_FULL] = { 400, 1019, 0,
			      "a full capture is delivered to its bucket, not downloaded" },
	[E_DOWNLOAD_STATE] = { 400, 1020, 0, "the capture is %s; download needs status success" },
	[E_CHALLENGE] = { 400, 1021, 0, "the ownership challenge does not match %s" },
	[E_BUCKET_WRITE] = { 400, 1022, 0, "cannot write the ownership challenge: %s" },
	[E_WORKERS_BUSY] = { 503, 1023, 0,
			     "too many bucket requests in progress; try again later" },
	[E_INTERNAL] = { 500, 1500, 0, "internal error: %s" },
};

static const char *const status_names[] = {
	[XCAP_ST_UNKNOWN] = "unknown",
	[XCAP_ST_SUCCESS] = "success",
	[XCAP_ST_PENDING] = "pending",
	[XCAP_ST_RUNNING] = "running",
	[XCAP_ST_CONVERSION_PENDING] = "conversion_pending",
	[XCAP_ST_CONVERSION_RUNNING] = "conversion_running",
	[XCAP_ST_COMPLETE] = "complete",
	[XCAP_ST_FAILED] = "failed",
};

static const char *const bucket_status_names[] = {
	[XCAP_BUCKET_PENDING] = "pending",
	[XCAP_BUCKET_SUCCESS] = "success",
	[XCAP_BUCKET_FAILED] = "failed",
};

struct rate_window {
	int64_t start_ns;
	uint32_t count;
};

/* Requests answered, by route and HTTP status (a handful of pairs in practice). */
struct request_count {
	const char *route;
	int status;
	uint64_t n;
};

#define REQUEST_COUNTS_MAX 128

struct xcap_api {
	const struct xcap_config *cfg;
	struct xcap_store *store;
	struct xcap_jobs *jobs;
	struct rate_window simple_rate[XCAP_CFG_MAX_ACCOUNTS];
	pthread_mutex_t requests_lock; /* blocking routes are answered on workers */
	struct request_count requests[REQUEST_COUNTS_MAX];
	int n_requests;
};

/* One request being answered. */
struct ctx {
	struct xcap_api *api;
	const struct xcap_api_request *req;
	struct xcap_api_response *resp;
	const char *account; /* the {account_id} of the path */
	int account_idx;
	const char *id; /* {pcap_id} or {ownership_id} */
	const char *route; /* its name in /metrics */
	json_object *body;
	int64_t now_ns;
};

/* --- responses --- */

static void respond(struct ctx *c, int status, json_object *doc)
{
	const char *text;

	c->resp->status = status;
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	c->resp->body = strdup(text);
	c->resp->body_len = c->resp->body ? strlen(text) : 0;
	c->resp->content_type = "application/json";
	json_object_put(doc);
}

static json_object *envelope(bool success, json_object *errors, json_object *result)
{
	json_object *doc = json_object_new_object();

	json_object_object_add(doc, "success", json_object_new_boolean(success));
	json_object_object_add(doc, "errors", errors ?: json_object_new_array());
	json_object_object_add(doc, "messages", json_object_new_array());
	json_object_object_add(doc, "result", result);
	return doc;
}

static int respond_result(struct ctx *c, json_object *result)
{
	respond(c, 200, envelope(true, NULL, result));
	return 0;
}

static int respond_list(struct ctx *c, json_object *items, int total)
{
	json_object *doc = envelope(true, NULL, items), *info = json_object_new_object();
	int n = json_object_array_length(items);

	json_object_object_add(info, "page", json_object_new_int(1));
	json_object_object_add(info, "per_page", json_object_new_int(XCAP_LIST_MAX));
	json_object_object_add(info, "count", json_object_new_int(n));
	json_object_object_add(info, "total_count", json_object_new_int(total));
	json_object_object_add(doc, "result_info", info);
	respond(c, 200, doc);
	return 0;
}

static int respond_empty(struct ctx *c, int status)
{
	c->resp->status = status;
	return 0;
}

static json_object *error_item(int code, const char *message)
{
	json_object *e = json_object_new_object();

	json_object_object_add(e, "code", json_object_new_int(code));
	json_object_object_add(e, "message", json_object_new_string(message));
	return e;
}

/* Length of the valid UTF-8 sequence at s, or 0 (bytes of a request may be anything). */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 :
	    s[0] >= 0xe0		 ? 3 :
	    s[0] >= 0xc2 && s[0] < 0xe0	 ? 2 :
					   0;
	for (i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong 3- and 4-byte forms, surrogates and code points past U+10FFFF. */
	if ((n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) ||
	    (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))))
		return 0;
	return n;
}

/* Messages quote request bytes and are cut at a fixed size: keep them valid UTF-8 for JSON. */
static void utf8_scrub(char *msg)
{
	unsigned char *s = (unsigned char *)msg;
	size_t n;

	while (*s) {
		n = utf8_len(s);
		if (!n)
			*s = '?';
		s += n ?: 1;
	}
}

/*
 * Answers with one error of the table; `pointer` is a JSON pointer into the
 * body or NULL. Returns -1 so that callers can `return fail(...)`.
 */
static int fail(struct ctx *c, enum api_err err, const char *pointer, ...)
{
	char message[1024];
	json_object *e, *chain, *errors = json_object_new_array();
	int code = api_errors[err].code;
	va_list ap;

	va_start(ap, pointer);
	vsnprintf(message, sizeof(message), api_errors[err].fmt, ap);
	va_end(ap);
	utf8_scrub(message);
	if (api_errors[err].chain_code) {
		e = error_item(code, "Invalid request headers");
		chain = json_object_new_array();
		json_object_array_add(chain, error_item(api_errors[err].chain_code, message));
		json_object_object_add(e, "error_chain", chain);
	} else {
		e = error_item(code, message);
	}
	if (pointer) {
		json_object *source = json_object_new_object();

		json_object_object_add(source, "pointer", json_object_new_string(pointer));
		json_object_object_add(e, "source", source);
	}
	json_object_array_add(errors, e);
	respond(c, api_errors[err].status, envelope(false, errors, NULL));
	return -1;
}

/* --- rendering --- */

static void add_time(json_object *o, const char *key, int64_t ns)
{
	char buf[32] = "";

	if (ns)
		xcap_clock_format(ns, buf, sizeof(buf));
	json_object_object_add(o, key, json_object_new_string(buf));
}

static void add_u64(json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

/* destination_conf as answers show it: secret keys of r2:// masked. */
static json_object *masked_conf(const char *conf)
{
	char masked[1024];

	xcap_storage_mask(conf, masked, sizeof(masked));
	return json_object_new_string(masked);
}

static json_object *capture_json(const struct xcap_api *api, const struct xcap_capture_rec *r)
{
	json_object *o = json_object_new_object(), *ifaces;
	int i;

	json_object_object_add(o, "id", json_object_new_string(r->id));
	json_object_object_add(
		o, "type", json_object_new_string(r->type == XCAP_TYPE_FULL ? "full" : "simple"));
	json_object_object_add(o, "system", json_object_new_string("magic-transit"));
	json_object_object_add(o, "status", json_object_new_string(status_names[r->status]));
	add_time(o, "submitted", r->submitted_ns);
	json_object_object_add(o, "time_limit", json_object_new_int(r->time_limit));
	json_object_object_add(o, "filter_v1", json_tokener_parse(r->filter_json));
	if (r->packet_limit)
		json_object_object_add(o, "packet_limit", json_object_new_int(r->packet_limit));
	if (r->type == XCAP_TYPE_SIMPLE) {
		add_time(o, "offset_time", r->offset_time_ns);
	} else {
		json_object_object_add(o, "colo_name", json_object_new_string(r->colo_name));
		json_object_object_add(o, "destination_conf", masked_conf(r->destination_conf));
		if (r->byte_limit)
			add_u64(o, "byte_limit", r->byte_limit);
		if (r->stop_requested_ns)
			add_time(o, "stop_requested", r->stop_requested_ns);
		ifaces = json_object_new_array();
		for (i = 0; i < api->cfg->n_ifaces; i++)
			json_object_array_add(ifaces, json_object_new_string(api->cfg->ifaces[i]));
		json_object_object_add(o, "interfaces", ifaces);
	}
	add_u64(o, "packets_captured", r->packets_captured);
	add_u64(o, "bytes_captured", r->bytes_captured);
	add_u64(o, "packets_matched", r->packets_matched);
	add_u64(o, "packets_lost", r->packets_lost);
	if (r->error_message[0])
		json_object_object_add(o, "error_message",
				       json_object_new_string(r->error_message));
	return o;
}

static json_object *bucket_json(const struct xcap_bucket_rec *b)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "id", json_object_new_string(b->id));
	json_object_object_add(o, "destination_conf", masked_conf(b->destination_conf));
	json_object_object_add(o, "filename", json_object_new_string(b->filename));
	json_object_object_add(o, "status", json_object_new_string(bucket_status_names[b->status]));
	add_time(o, "submitted", b->submitted_ns);
	add_time(o, "validated", b->validated_ns);
	return o;
}

/* --- body parsing and validation --- */

static bool is_json_content_type(const char *ct)
{
	static const char want[] = "application/json";

	if (!ct || strncasecmp(ct, want, strlen(want)))
		return false;
	ct += strlen(want);
	while (*ct == ' ')
		ct++;
	return !*ct || *ct == ';';
}

/* Parses the body as one JSON object; answers the error itself and returns -1 on failure. */
static int parse_body(struct ctx *c)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;

	if (c->req->body_too_large)
		return fail(c, E_TOO_LARGE, NULL);
	if (!is_json_content_type(c->req->content_type))
		return fail(c, E_CONTENT_TYPE, NULL);
	tok = json_tokener_new_ex(JSON_DEPTH_MAX);
	if (!tok)
		return fail(c, E_INTERNAL, NULL, "out of memory");
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	c->body = json_tokener_parse_ex(tok, c->req->body ?: "", c->req->body_len);
	jerr = json_tokener_get_error(tok);
	if (jerr == json_tokener_success && json_tokener_get_parse_end(tok) != c->req->body_len)
		jerr = json_tokener_error_parse_unexpected;
	/* A number or literal at the top ends only at the end of the input: tell the tokener. */
	if (jerr == json_tokener_continue) {
		c->body = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
	}
	json_tokener_free(tok);
	if (jerr != json_tokener_success) {
		json_object_put(c->body);
		c->body = NULL;
		fail(c, E_NOT_JSON, NULL,
		     jerr == json_tokener_continue ? "unexpected end of input" :
						     json_tokener_error_desc(jerr));
		return -1;
	}
	if (!json_object_is_type(c->body, json_type_object))
		return fail(c, E_NOT_OBJECT, NULL);
	return 0;
}

/* A member; JSON null counts as absent. */
static json_object *member(json_object *obj, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(obj, key, &v);
	return v;
}

static void pointer_of(char *buf, size_t size, const char *parent, const char *key)
{
	snprintf(buf, size, "%s/%s", parent, key);
}

/*
 * An integer member in [min, max]: JSON integers and numbers without a
 * fraction. Returns 1 when present, 0 when absent, -1 after answering an error.
 */
static int get_int(struct ctx *c, json_object *obj, const char *parent, const char *key,
		   bool required, long long min, long long max, long long *out)
{
	json_object *v = member(obj, key);
	char ptr[128];
	double d;

	pointer_of(ptr, sizeof(ptr), parent, key);
	if (!v) {
		if (required)
			return fail(c, E_MISSING, ptr, key);
		return 0;
	}
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		*out = json_object_get_int64(v);
		/* json-c clamps numbers beyond 64 bits; the range check below catches them. */
	} else if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (!isfinite(d) || d != floor(d))
			return fail(c, E_TYPE, ptr, key, "a whole number");
		if (d < (double)min || d > (double)max)
			return fail(c, E_RANGE, ptr, key, min, max);
		*out = (long long)d;
	} else {
		return fail(c, E_TYPE, ptr, key, "a number");
	}
	if (*out < min || *out > max)
		return fail(c, E_RANGE, ptr, key, min, max);
	return 1;
}

/* A string member; same returns as get_int. */
static int get_string(struct ctx *c, json_object *obj, const char *parent, const char *key,
		      bool required, const char **out)
{
	json_object *v = member(obj, key);
	char ptr[128];

	pointer_of(ptr, sizeof(ptr), parent, key);
	if (!v) {
		if (required)
			return fail(c, E_MISSING, ptr, key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return fail(c, E_TYPE, ptr, key, "a string");
	*out = json_object_get_string(v);
	/* json-c keeps a \u0000 in the string; C would see only what stands before it. */
	if (strlen(*out) != (size_t)json_object_get_string_len(v))
		return fail(c, E_TYPE, ptr, key, "a string without NUL characters");
	return 1;
}

static int get_address(struct ctx *c, json_object *filter, const char *key, struct xcap_prefix *out,
		       json_object *canon)
{
	const char *s;
	char buf[64];
	int ret;

	ret = get_string(c, filter, "/filter_v1", key, false, &s);
	if (ret <= 0)
		return ret;
	if (xcap_filter_parse_prefix(s, out)) {
		pointer_of(buf, sizeof(buf), "/filter_v1", key);
		return fail(c, E_ADDRESS, buf, key);
	}
	xcap_filter_format_prefix(out, buf, sizeof(buf));
	json_object_object_add(canon, key, json_object_new_string(buf));
	return 1;
}

static int get_filter_int(struct ctx *c, json_object *filter, const char *key, long long max,
			  int32_t *out, json_object *canon)
{
	long long v;
	int ret = get_int(c, filter, "/filter_v1", key, false, 0, max, &v);

	if (ret > 0) {
		*out = v;
		json_object_object_add(canon, key, json_object_new_int(v));
	}
	return ret;
}

/* filter_v1: parses into f and writes its canonical JSON into r. Returns -1 after an error. */
static int get_filter(struct ctx *c, struct xcap_filter *f, struct xcap_capture_rec *r)
{
	json_object *filter = member(c->body, "filter_v1"), *canon = json_object_new_object();
	int ret = 0;

	xcap_filter_init(f);
	if (filter && !json_object_is_type(filter, json_type_object)) {
		ret = -1;
		fail(c, E_TYPE, "/filter_v1", "filter_v1", "an object");
	}
	if (filter && !ret &&
	    (get_address(c, filter, "source_address", &f->src, canon) < 0 ||
	     get_address(c, filter, "destination_address", &f->dst, canon) < 0 ||
	     get_filter_int(c, filter, "source_port", 65535, &f->sport, canon) < 0 ||
	     get_filter_int(c, filter, "destination_port", 65535, &f->dport, canon) < 0 ||
	     get_filter_int(c, filter, "protocol", 255, &f->proto, canon) < 0))
		ret = -1;
	snprintf(r->filter_json, sizeof(r->filter_json), "%s",
		 json_object_to_json_string_ext(canon, JSON_C_TO_STRING_PLAIN));
	json_object_put(canon);
	return ret;
}

/* Validates the members that only simple captures have. */
static int get_simple(struct ctx *c, struct xcap_capture_rec *r)
{
	const char *s;
	long long v;
	int ret;

	if (get_int(c, c->body, "", "time_limit", true, 1, 300, &v) < 0)
		return -1;
	r->time_limit = v;
	if (get_int(c, c->body, "", "packet_limit", true, 1, 10000, &v) < 0)
		return -1;
	r->packet_limit = v;
	ret = get_string(c, c->body, "", "offset_time", false, &s);
	if (ret < 0)
		return -1;
	r->offset_time_ns = c->now_ns;
	if (ret > 0 &&
	    (xcap_clock_parse(s, &r->offset_time_ns) || r->offset_time_ns < c->now_ns - DAY_NS ||
	     r->offset_time_ns > c->now_ns + OFFSET_SKEW_NS))
		return fail(c, E_OFFSET_TIME, "/offset_time");
	return 0;
}

static bool colo_matches(const struct xcap_config *cfg, const char *colo)
{
	return !strcasecmp(colo, cfg->colo) || !strcasecmp(colo, cfg->metro);
}

/* Validates the members that only full captures have. */
static int get_full(struct ctx *c, struct xcap_capture_rec *r)
{
	const struct xcap_config *cfg = c->api->cfg;
	struct xcap_bucket_rec b;
	const char *colo, *dest, *key = "colo_name";
	char ptr[32];
	long long v;
	int ret;

	if (get_int(c, c->body, "", "time_limit", true, 1, 86400, &v) < 0)
		return -1;
	r->time_limit = v;
	ret = get_int(c, c->body, "", "packet_limit", false, 1, 10000, &v);
	if (ret < 0)
		return -1;
	r->packet_limit = ret ? v : 0;
	ret = get_int(c, c->body, "", "byte_limit", false, 1, 1000000000, &v);
	if (ret < 0)
		return -1;
	r->byte_limit = ret ? v : 0;
	/* `colo` is accepted as an alias. */
	if (!member(c->body, key) && member(c->body, "colo"))
		key = "colo";
	if (get_string(c, c->body, "", key, true, &colo) < 0)
		return -1;
	pointer_of(ptr, sizeof(ptr), "", key);
	if (!colo_matches(cfg, colo))
		return fail(c, E_COLO, ptr, cfg->colo, cfg->metro);
	snprintf(r->colo_name, sizeof(r->colo_name), "%s", colo);
	if (get_string(c, c->body, "", "destination_conf", true, &dest) < 0)
		return -1;
	if (strlen(dest) >= sizeof(r->destination_conf))
		return fail(c, E_DEST, "/destination_conf", "too long");
	if (xcap_store_bucket_find(c->api->store, c->account, dest, &b) ||
	    b.status != XCAP_BUCKET_SUCCESS)
		return fail(c, E_DEST_NOT_VALIDATED, "/destination_conf");
	snprintf(r->destination_conf, sizeof(r->destination_conf), "%s", dest);
	return 0;
}

/* Per-account limits: simple creates per minute, full captures at once. */
static int check_limits(struct ctx *c, const struct xcap_capture_rec *r)
{
	const struct xcap_account *acc = &c->api->cfg->accounts[c->account_idx];
	struct rate_window *w = &c->api->simple_rate[c->account_idx];
	int64_t elapsed = c->now_ns - w->start_ns;
	int active;

	if (r->type == XCAP_TYPE_SIMPLE) {
		if (elapsed >= 60 * NSEC_PER_SEC || elapsed < 0) {
			w->start_ns = c->now_ns;
			w->count = 0;
			elapsed = 0;
		}
		if (acc->simple_per_minute && w->count >= acc->simple_per_minute) {
			c->resp->retry_after =
				(60 * NSEC_PER_SEC - elapsed + NSEC_PER_SEC - 1) / NSEC_PER_SEC;
			return fail(c, E_RATE_SIMPLE, NULL, acc->simple_per_minute);
		}
		return 0;
	}
	active = xcap_store_capture_count_active_full(c->api->store, c->account);
	if (active < 0)
		return fail(c, E_INTERNAL, NULL, "cannot read the store");
	if (acc->full_active && (uint32_t)active >= acc->full_active)
		return fail(c, E_FULL_BUSY, NULL, (unsigned int)active);
	return 0;
}

/* --- handlers --- */

static int create_capture(struct ctx *c)
{
	struct xcap_capture_rec r = { .status = XCAP_ST_PENDING };
	struct xcap_filter f;
	const char *type, *system;
	char err[256];
	int ret;

	if (parse_body(c) || get_string(c, c->body, "", "type", true, &type) < 0)
		return -1;
	if (strcmp(type, "simple") && strcmp(type, "full"))
		return fail(c, E_ENUM, "/type", "type", "\"simple\" or \"full\"");
	if (get_string(c, c->body, "", "system", true, &system) < 0)
		return -1;
	if (strcmp(system, "magic-transit"))
		return fail(c, E_ENUM, "/system", "system", "\"magic-transit\"");
	r.type = strcmp(type, "full") ? XCAP_TYPE_SIMPLE : XCAP_TYPE_FULL;
	if ((r.type == XCAP_TYPE_FULL ? get_full(c, &r) : get_simple(c, &r)) ||
	    get_filter(c, &f, &r) || check_limits(c, &r))
		return -1;
	if (xcap_ids_random_hex(r.id, XCAP_ID_LEN / 2))
		return fail(c, E_INTERNAL, NULL, "no randomness");
	snprintf(r.account, sizeof(r.account), "%s", c->account);
	r.submitted_ns = c->now_ns;
	ret = xcap_jobs_start(c->api->jobs, &r, &f, err, sizeof(err));
	if (ret == -ENODEV)
		return fail(c, E_NO_INTERFACE, NULL, err);
	if (ret == -EBUSY)
		return fail(c, E_NO_SLOT, NULL, err);
	if (ret)
		return fail(c, E_INTERNAL, NULL, err);
	if (r.type == XCAP_TYPE_SIMPLE)
		c->api->simple_rate[c->account_idx].count++;
	return respond_result(c, capture_json(c->api, &r));
}

static int list_captures(struct ctx *c)
{
	struct xcap_capture_rec *recs = calloc(XCAP_LIST_MAX, sizeof(*recs));
	json_object *items;
	int i, n = 0, total;

	total = xcap_store_capture_count(c->api->store, c->account);
	if (!recs || total < 0 ||
	    xcap_store_capture_list(c->api->store, c->account, recs, XCAP_LIST_MAX, &n)) {
		free(recs);
		return fail(c, E_INTERNAL, NULL, "cannot read the store");
	}
	items = json_object_new_array();
	for (i = 0; i < n; i++) {
		xcap_jobs_live(c->api->jobs, &recs[i]);
		json_object_array_add(items, capture_json(c->api, &recs[i]));
	}
	free(recs);
	return respond_list(c, items, total);
}

/* Loads the capture of the path; answers 404 itself. */
static int load_capture(struct ctx *c, struct xcap_capture_rec *r)
{
	int err = xcap_store_capture_get(c->api->store, c->account, c->id, r);

	if (err == -ENOENT)
		return fail(c, E_CAPTURE_NOT_FOUND, NULL);
	if (err)
		return fail(c, E_INTERNAL, NULL, "cannot read the store");
	xcap_jobs_live(c->api->jobs, r);
	return 0;
}

static int get_capture(struct ctx *c)
{
	struct xcap_capture_rec r;

	if (load_capture(c, &r))
		return -1;
	return respond_result(c, capture_json(c->api, &r));
}

static int download_capture(struct ctx *c)
{
	struct xcap_capture_rec r;
	char path[PATH_MAX + 64];
	size_t len;

	if (load_capture(c, &r))
		return -1;
	if (r.type == XCAP_TYPE_FULL)
		return fail(c, E_DOWNLOAD_FULL, NULL);
	if (r.status != XCAP_ST_SUCCESS)
		return fail(c, E_DOWNLOAD_STATE, NULL, status_names[r.status]);
	xcap_jobs_simple_file(c->api->jobs, r.id, path, sizeof(path));
	if (xcap_file_read(path, DOWNLOAD_MAX, &c->resp->body, &len))
		return fail(c, E_INTERNAL, NULL, "the capture file cannot be read");
	c->resp->status = 200;
	c->resp->body_len = len;
	c->resp->content_type = "application/vnd.tcpdump.pcap";
	return 0;
}

static int stop_capture(struct ctx *c)
{
	struct xcap_capture_rec r;

	if (load_capture(c, &r))
		return -1;
	if (r.type != XCAP_TYPE_FULL ||
	    (r.status != XCAP_ST_PENDING && r.status != XCAP_ST_RUNNING))
		return fail(c, E_STOP_STATE, NULL, r.type == XCAP_TYPE_FULL ? "full" : "simple",
			    status_names[r.status]);
	if (xcap_jobs_stop(c->api->jobs, &r, c->now_ns))
		return fail(c, E_INTERNAL, NULL, "the capture could not be stopped");
	return respond_empty(c, 204);
}

static int add_bucket(struct ctx *c)
{
	struct xcap_bucket_rec b = { .status = XCAP_BUCKET_PENDING };
	struct xcap_dest d;
	const char *conf;
	char err[512];

	if (parse_body(c) || get_string(c, c->body, "", "destination_conf", true, &conf) < 0)
		return -1;
	if (strlen(conf) >= sizeof(b.destination_conf))
		return fail(c, E_DEST, "/destination_conf", "too long");
	if (xcap_storage_parse(conf, &c->api->cfg->accounts[c->account_idx], &d, err, sizeof(err)))
		return fail(c, E_DEST, "/destination_conf", err);
	if (xcap_ids_random_hex(b.id, XCAP_ID_LEN / 2) || xcap_ids_random_hex(b.token, 32))
		return fail(c, E_INTERNAL, NULL, "no randomness");
	snprintf(b.account, sizeof(b.account), "%s", c->account);
	snprintf(b.destination_conf, sizeof(b.destination_conf), "%s", conf);
	snprintf(b.filename, sizeof(b.filename), "ownership-challenge-%s.txt", b.id);
	b.submitted_ns = c->now_ns;
	if (xcap_storage_put(&d, b.filename, b.token, strlen(b.token), err, sizeof(err)))
		return fail(c, E_BUCKET_WRITE, NULL, err);
	if (xcap_store_bucket_put(c->api->store, &b))
		return fail(c, E_INTERNAL, NULL, "cannot store the bucket");
	return respond_result(c, bucket_json(&b));
}

static int list_buckets(struct ctx *c)
{
	struct xcap_bucket_rec *recs = calloc(XCAP_LIST_MAX, sizeof(*recs));
	json_object *items;
	int i, n = 0;

	if (!recs || xcap_store_bucket_list(c->api->store, c->account, recs, XCAP_LIST_MAX, &n)) {
		free(recs);
		return fail(c, E_INTERNAL, NULL, "cannot read the store");
	}
	items = json_object_new_array();
	for (i = 0; i < n; i++)
		json_object_array_add(items, bucket_json(&recs[i]));
	free(recs);
	return respond_list(c, items, n);
}

/* The caller proves ownership with the token, or with the file name when we can read it back. */
static bool challenge_ok(const struct xcap_account *acc, const struct xcap_bucket_rec *b,
			 const char *answer)
{
	char content[128], err[256];
	struct xcap_dest d;
	size_t n;

	if (!strcmp(answer, b->token))
		return true;
	if (strcmp(answer, b->filename) ||
	    xcap_storage_parse(b->destination_conf, acc, &d, err, sizeof(err)) ||
	    xcap_storage_get(&d, b->filename, content, sizeof(content), err, sizeof(err)))
		return false;
	n = strcspn(content, "\r\n");
	content[n] = '\0';
	return !strcmp(content, b->token);
}

static int validate_bucket(struct ctx *c)
{
	struct xcap_bucket_rec b;
	const char *conf, *answer;
	int err;

	if (parse_body(c) || get_string(c, c->body, "", "destination_conf", true, &conf) < 0 ||
	    get_string(c, c->body, "", "ownership_challenge", true, &answer) < 0)
		return -1;
	err = xcap_store_bucket_find(c->api->store, c->account, conf, &b);
	if (err == -ENOENT)
		return fail(c, E_BUCKET_NOT_FOUND, "/destination_conf");
	if (err)
		return fail(c, E_INTERNAL, NULL, "cannot read the store");
	if (challenge_ok(&c->api->cfg->accounts[c->account_idx], &b, answer)) {
		b.status = XCAP_BUCKET_SUCCESS;
		b.validated_ns = c->now_ns;
	} else if (b.status == XCAP_BUCKET_SUCCESS) {
		/* A wrong answer proves nothing: a validated bucket stays validated. */
		return fail(c, E_CHALLENGE, "/ownership_challenge", b.filename);
	} else {
		b.status = XCAP_BUCKET_FAILED;
	}
	if (xcap_store_bucket_put(c->api->store, &b))
		return fail(c, E_INTERNAL, NULL, "cannot store the bucket");
	if (b.status == XCAP_BUCKET_FAILED)
		return fail(c, E_CHALLENGE, "/ownership_challenge", b.filename);
	return respond_result(c, bucket_json(&b));
}

static int delete_bucket(struct ctx *c)
{
	int err = xcap_store_bucket_delete(c->api->store, c->account, c->id);

	if (err == -ENOENT)
		return fail(c, E_BUCKET_NOT_FOUND, NULL);
	if (err)
		return fail(c, E_INTERNAL, NULL, "cannot write the store");
	return respond_empty(c, 204);
}

/* --- metrics --- */

#define METRICS_PATH "/metrics"

static void count_request(struct xcap_api *api, const char *route, int status)
{
	int i;

	pthread_mutex_lock(&api->requests_lock);
	for (i = 0; i < api->n_requests; i++)
		if (api->requests[i].route == route && api->requests[i].status == status)
			break;
	if (i < api->n_requests)
		api->requests[i].n++;
	else if (i < REQUEST_COUNTS_MAX)
		api->requests[api->n_requests++] = (struct request_count){ route, status, 1 };
	pthread_mutex_unlock(&api->requests_lock);
}

static const struct xcap_credential *authenticate(struct ctx *c);

/* Prometheus text format; any valid credential may read it. */
static int serve_metrics(struct ctx *c)
{
	struct xcap_api *api = c->api;
	size_t len = 0;
	char *text = NULL;
	FILE *f;
	int i;

	c->route = "metrics";
	if (strcmp(c->req->method, "GET")) {
		snprintf(c->resp->allow, sizeof(c->resp->allow), "GET");
		return fail(c, E_METHOD, NULL, c->req->method);
	}
	if (!authenticate(c))
		return -1;
	f = open_memstream(&text, &len);
	if (!f)
		return fail(c, E_INTERNAL, NULL, "out of memory");
	fprintf(f, "# HELP xcap_api_requests_total API requests answered, by route and status.\n"
		   "# TYPE xcap_api_requests_total counter\n");
	pthread_mutex_lock(&api->requests_lock);
	for (i = 0; i < api->n_requests; i++)
		fprintf(f, "xcap_api_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
			api->requests[i].route, api->requests[i].status,
			(unsigned long long)api->requests[i].n);
	pthread_mutex_unlock(&api->requests_lock);
	xcap_jobs_metrics(api->jobs, f);
	if (fclose(f)) {
		free(text);
		return fail(c, E_INTERNAL, NULL, "out of memory");
	}
	c->resp->status = 200;
	c->resp->body = text;
	c->resp->body_len = len;
	c->resp->content_type = "text/plain; version=0.0.4";
	return 0;
}

/* --- routing and authentication --- */

#define ANY_ID "*"

static const struct route {
	const char *name; /* for /metrics */
	const char *method;
	const char *after_pcaps[2]; /* path segments after /accounts/{a}/pcaps */
	bool write;
	int (*handle)(struct ctx *c);
	bool blocks; /* may wait on a network peer: the transport runs it off its thread */
} routes[] = {
	/* `ownership` is routed before {pcap_id}. */
	{ "list", "GET", { NULL }, false, list_captures, false },
	{ "create", "POST", { NULL }, true, create_capture, false },
	{ "bucket_list", "GET", { "ownership" }, false, list_buckets, false },
	{ "bucket_add", "POST", { "ownership" }, true, add_bucket, true },
	{ "bucket_validate", "POST", { "ownership", "validate" }, true, validate_bucket, true },
	{ "bucket_delete", "DELETE", { "ownership", ANY_ID }, true, delete_bucket, false },
	{ "get", "GET", { ANY_ID }, false, get_capture, false },
	{ "download", "GET", { ANY_ID, "download" }, false, download_capture, false },
	{ "stop", "PUT", { ANY_ID, "stop" }, true, stop_capture, false },
};

#define MAX_SEGS 6

/* Splits the path after the base into segments; empty segments make it unroutable. */
static int split_path(const char *path, char *buf, size_t size, char *segs[MAX_SEGS])
{
	int n = 0;
	char *p;

	if (strncmp(path, BASE_PATH "/", strlen(BASE_PATH) + 1) ||
	    snprintf(buf, size, "%s", path + strlen(BASE_PATH) + 1) >= (int)size)
		return -1;
	for (p = buf; n < MAX_SEGS; n++) {
		segs[n] = p;
		p = strchr(p, '/');
		if (p)
			*p++ = '\0';
		if (!*segs[n])
			return -1;
		if (!p)
			return n + 1;
	}
	return -1;
}

static bool route_matches(const struct route *r, char **rest, int n)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (!r->after_pcaps[i])
			return i == n;
		if (i >= n ||
		    (strcmp(r->after_pcaps[i], ANY_ID) && strcmp(r->after_pcaps[i], rest[i])))
			return false;
	}
	return n == 2;
}

static bool valid_id(const char *id)
{
	size_t n = strlen(id), i;

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]))
			return false;
	return n >= 1 && n <= XCAP_ID_LEN;
}

static bool printable_token(const char *s)
{
	for (; *s; s++)
		if (*s <= ' ' || *s > '~')
			return false;
	return true;
}

/* Compares secrets in time that depends on their lengths only. */
static bool secret_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char diff = la != lb;

	for (i = 0; i < la; i++)
		diff |= a[i] ^ b[i < lb ? i : 0];
	return !diff;
}

/* Checks the form of the credential headers: an error of the table, or -1 when well formed. */
static int auth_form_error(const struct xcap_api_request *req)
{
	const char *token;

	if (req->authorization) {
		token = req->authorization + 7;
		if (strncasecmp(req->authorization, "Bearer ", 7) || !*token ||
		    !printable_token(token))
			return E_BAD_TOKEN_FORMAT;
		return -1;
	}
	if (!req->auth_email || !req->auth_key)
		return E_NO_AUTH;
	if (!strchr(req->auth_email, '@') || !printable_token(req->auth_email))
		return E_BAD_EMAIL_FORMAT;
	if (!*req->auth_key || !printable_token(req->auth_key))
		return E_BAD_KEY_FORMAT;
	return -1;
}

static const struct xcap_credential *find_credential(const struct xcap_config *cfg,
						     const struct xcap_api_request *req)
{
	const char *token = req->authorization ? req->authorization + 7 : NULL;
	int i;

	for (i = 0; i < cfg->n_creds; i++) {
		const struct xcap_credential *cr = &cfg->creds[i];

		if (token ? !cr->email[0] && secret_equal(cr->secret, token) :
			    cr->email[0] && !strcasecmp(cr->email, req->auth_email) &&
				    secret_equal(cr->secret, req->auth_key))
			return cr;
	}
	return NULL;
}

/* Finds the credential of the request; answers the error itself and returns NULL. */
static const struct xcap_credential *authenticate(struct ctx *c)
{
	const struct xcap_credential *cred;
	int err = auth_form_error(c->req);

	if (err < 0) {
		cred = find_credential(c->api->cfg, c->req);
		if (cred)
			return cred;
		err = c->req->authorization ? E_BAD_TOKEN : E_AUTH;
	}
	fail(c, err, NULL);
	return NULL;
}

static int route(struct ctx *c)
{
	const struct xcap_credential *cred;
	const struct route *found = NULL;
	char buf[1024], *segs[MAX_SEGS];
	bool path_known = false;
	size_t i;
	int n;

	if (!strcmp(c->req->path, METRICS_PATH))
		return serve_metrics(c);
	n = split_path(c->req->path, buf, sizeof(buf), segs);
	if (n < 3 || strcmp(segs[0], "accounts") || strcmp(segs[2], "pcaps"))
		return fail(c, E_NO_ROUTE, NULL);
	for (i = 0; i < ARRAY_SIZE(routes) && !found; i++) {
		if (!route_matches(&routes[i], segs + 3, n - 3))
			continue;
		path_known = true;
		snprintf(c->resp->allow + strlen(c->resp->allow),
			 sizeof(c->resp->allow) - strlen(c->resp->allow), "%s%s",
			 c->resp->allow[0] ? ", " : "", routes[i].method);
		if (!strcmp(routes[i].method, c->req->method))
			found = &routes[i];
	}
	if (!found)
		return path_known ? fail(c, E_METHOD, NULL, c->req->method) :
				    fail(c, E_NO_ROUTE, NULL);
	c->resp->allow[0] = '\0';
	c->route = found->name;
	c->account = segs[1];
	c->id = n > 3 && strcmp(segs[3], "ownership") ? segs[3] : n > 4 ? segs[4] : NULL;
	if (!valid_id(c->account) || (c->id && !valid_id(c->id)))
		return fail(c, E_BAD_ID, NULL, c->req->path);
	cred = authenticate(c);
	if (!cred)
		return -1;
	c->account_idx = xcap_config_account(c->api->cfg, c->account);
	if ((found->write && !cred->write) || c->account_idx < 0 ||
	    !(cred->accounts & (1ULL << c->account_idx)))
		return fail(c, E_AUTH, NULL);
	if (found->blocks && c->req->blocking == XCAP_API_DEFER) {
		c->resp->deferred = true;
		return 0;
	}
	if (found->blocks && c->req->blocking == XCAP_API_REFUSE) {
		/* A worker frees up when its peer answers or the S3 timeouts end the wait. */
		c->resp->retry_after = WORKERS_RETRY_AFTER_S;
		return fail(c, E_WORKERS_BUSY, NULL);
	}
	return found->handle(c);
}

void xcap_api_handle(struct xcap_api *api, const struct xcap_api_request *req,
		     struct xcap_api_response *resp)
{
	struct ctx c = { .api = api, .req = req, .resp = resp };

	c.now_ns = xcap_clock_ns(CLOCK_REALTIME);
	c.route = "other";
	memset(resp, 0, sizeof(*resp));
	route(&c);
	json_object_put(c.body);
	if (resp->deferred)
		return; /* counted when it is answered */
	if (!resp->status)
		fail(&c, E_INTERNAL, NULL, "no answer");
	count_request(api, c.route, resp->status);
}

void xcap_api_response_free(struct xcap_api_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

struct xcap_api *xcap_api_new(const struct xcap_config *cfg, struct xcap_store *store,
			      struct xcap_jobs *jobs)
{
	struct xcap_api *api = calloc(1, sizeof(*api));

	if (!api)
		return NULL;
	api->cfg = cfg;
	api->store = store;
	api->jobs = jobs;
	pthread_mutex_init(&api->requests_lock, NULL);
	return api;
}

void xcap_api_free(struct xcap_api *api)
{
	if (!api)
		return;
	pthread_mutex_destroy(&api->requests_lock);
	free(api);
}
