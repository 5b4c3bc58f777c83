// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The PCAP collection API: the router, authentication, the envelope and the
 * one error table; the routes are in api_captures.c and api_buckets.c. The
 * order of checks is: route, method, id syntax, credentials, permission,
 * account, then the route's own validation. Nothing is stored for a refused
 * request.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <json-c/json.h>
#include "common/clock.h"
#include "common/util.h"
#include "server/api.h"
#include "server/api_ctx.h"
#include "server/dest.h"
#include "server/jobs.h"
#include "server/metrics.h"
#include "server/store.h"
#include "server/stream.h"

#define BASE_PATH "/client/v4"
#define JSON_DEPTH_MAX 16
#define WORKERS_RETRY_AFTER_S 5
#define DB_RETRY_AFTER_S 5

/* --- the error table --- */

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
	/* Cloudflare's code and message, then what a valid credential lacks. */
	[E_AUTH_ACCOUNT] = { 403, 10000, 0,
			     "Authentication error: the %s is valid, but not for account %s" },
	[E_AUTH_READ_ONLY] = { 403, 10000, 0,
			       "Authentication error: the %s may read account %s, but not write" },
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
	[E_CHALLENGE_NAME] = { 400, 1021, 0,
			       "the file name %s alone proves nothing for a file:// bucket or "
			       "one written with xcapd's own keys: send the file's content" },
	[E_BUCKET_WRITE] = { 400, 1022, 0, "cannot write the ownership challenge: %s" },
	[E_BUCKET_QUOTA] = { 400, 1024, 0,
			     "the account has %d buckets, as many as buckets_per_account "
			     "allows: delete one first" },
	[E_STORAGE_QUOTA] = { 400, 1025, 0,
			      "the account's capture files take %llu MiB of the %u MiB that "
			      "account_storage_mib allows: wait for them to expire" },
	[E_WORKERS_BUSY] = { 503, 1023, 0,
			     "too many bucket requests in progress; try again later" },
	[E_COLO_NONE] = { 400, 1011, 0, "colo_name: %s" },
	[E_DB_DOWN] = { 503, 1026, 0,
			"the database is unreachable; nothing was changed, try again later" },
	[E_STREAM_STATE] = { 400, 1030, 0,
			     "only a running full capture can be streamed; this one is %s %s" },
	[E_STREAM_REMOTE] = { 501, 1031, 0,
			      "streaming is served by the agent; not through the fleet API yet" },
	[E_INTERNAL] = { 500, 1500, 0, "internal error: %s" },
};

/* --- responses --- */

static void respond(struct api_ctx *c, int status, json_object *doc)
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

int api_respond_result(struct api_ctx *c, json_object *result)
{
	respond(c, 200, envelope(true, NULL, result));
	return 0;
}

int api_respond_list(struct api_ctx *c, json_object *items, int total)
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

int api_respond_empty(struct api_ctx *c, int status)
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
	/* 0xf5..0xff lead nothing: they are not 3-byte leads either. */
	n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 :
	    s[0] >= 0xe0 && s[0] < 0xf0	 ? 3 :
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
 * body or NULL. Returns -1 so that callers can `return api_fail(...)`.
 */
int api_fail(struct api_ctx *c, enum api_err err, const char *pointer, ...)
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

int api_store_fail(struct api_ctx *c, int err, const char *what)
{
	if (err == -XCAP_STORE_EDOWN) {
		c->resp->retry_after = DB_RETRY_AFTER_S;
		return api_fail(c, E_DB_DOWN, NULL);
	}
	return api_fail(c, E_INTERNAL, NULL, what);
}

/* --- rendering shared by the routes --- */

void api_add_time(json_object *o, const char *key, int64_t ns)
{
	char buf[32] = "";

	if (ns)
		xcap_clock_format(ns, buf, sizeof(buf));
	json_object_object_add(o, key, json_object_new_string(buf));
}

void api_add_u64(json_object *o, const char *key, uint64_t v)
{
	json_object_object_add(o, key, json_object_new_int64(v));
}

/* destination_conf as answers show it: secret keys of r2:// masked. */
json_object *api_masked_conf(const char *conf)
{
	char masked[1024];

	xcap_dest_mask(conf, masked, sizeof(masked));
	return json_object_new_string(masked);
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
int api_parse_body(struct api_ctx *c)
{
	struct json_tokener *tok;
	enum json_tokener_error jerr;

	if (c->req->body_too_large)
		return api_fail(c, E_TOO_LARGE, NULL);
	if (!is_json_content_type(c->req->content_type))
		return api_fail(c, E_CONTENT_TYPE, NULL);
	tok = json_tokener_new_ex(JSON_DEPTH_MAX);
	if (!tok)
		return api_fail(c, E_INTERNAL, NULL, "out of memory");
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
		api_fail(c, E_NOT_JSON, NULL,
			 jerr == json_tokener_continue ? "unexpected end of input" :
							 json_tokener_error_desc(jerr));
		return -1;
	}
	if (!json_object_is_type(c->body, json_type_object))
		return api_fail(c, E_NOT_OBJECT, NULL);
	return 0;
}

/* A member; JSON null counts as absent. */
json_object *api_member(json_object *obj, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(obj, key, &v);
	return v;
}

void api_pointer_of(char *buf, size_t size, const char *parent, const char *key)
{
	snprintf(buf, size, "%s/%s", parent, key);
}

/*
 * An integer member in [min, max]: JSON integers and numbers without a
 * fraction. Returns 1 when present, 0 when absent, -1 after answering an error.
 */
int api_get_int(struct api_ctx *c, json_object *obj, const char *parent, const char *key,
		bool required, long long min, long long max, long long *out)
{
	json_object *v = api_member(obj, key);
	char ptr[128];
	double d;

	api_pointer_of(ptr, sizeof(ptr), parent, key);
	if (!v) {
		if (required)
			return api_fail(c, E_MISSING, ptr, key);
		return 0;
	}
	if (json_object_is_type(v, json_type_int)) {
		errno = 0;
		*out = json_object_get_int64(v);
		/* json-c clamps numbers beyond 64 bits; the range check below catches them. */
	} else if (json_object_is_type(v, json_type_double)) {
		d = json_object_get_double(v);
		if (!isfinite(d) || d != floor(d))
			return api_fail(c, E_TYPE, ptr, key, "a whole number");
		if (d < (double)min || d > (double)max)
			return api_fail(c, E_RANGE, ptr, key, min, max);
		*out = (long long)d;
	} else {
		return api_fail(c, E_TYPE, ptr, key, "a number");
	}
	if (*out < min || *out > max)
		return api_fail(c, E_RANGE, ptr, key, min, max);
	return 1;
}

/* A string member; same returns as get_int. */
int api_get_string(struct api_ctx *c, json_object *obj, const char *parent, const char *key,
		   bool required, const char **out)
{
	json_object *v = api_member(obj, key);
	char ptr[128];

	api_pointer_of(ptr, sizeof(ptr), parent, key);
	if (!v) {
		if (required)
			return api_fail(c, E_MISSING, ptr, key);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return api_fail(c, E_TYPE, ptr, key, "a string");
	*out = json_object_get_string(v);
	/* json-c keeps a \u0000 in the string; C would see only what stands before it. */
	if (strlen(*out) != (size_t)json_object_get_string_len(v))
		return api_fail(c, E_TYPE, ptr, key, "a string without NUL characters");
	return 1;
}

/* --- metrics --- */

#define METRICS_PATH "/metrics"

static bool authenticate(struct api_ctx *c, const char *account, struct xcap_grant *grant);
static struct xcap_auth auth_of(const struct xcap_api_request *req);

/*
 * Keeps the series of the captures of the credential's own accounts: a
 * capture's id is all another account needs to plant a link where its file
 * goes, or to watch its traffic. Engine-wide counters stay.
 */
static void only_own_runs(struct api_ctx *c, struct xcap_host_stats *h)
{
	struct xcap_auth auth = auth_of(c->req);
	struct xcap_grant g;
	int i, n = 0;

	for (i = 0; i < h->n_runs; i++)
		if (!xcap_store_credential_find(c->api->store, &auth, h->runs[i].account, &g) &&
		    g.account)
			h->runs[n++] = h->runs[i];
	h->n_runs = n;
}

/* Prometheus text format; any valid credential may read it, its own captures' series only. */
static int serve_metrics(struct api_ctx *c)
{
	struct xcap_jobs_stats *st = NULL;
	struct xcap_grant grant;
	size_t len = 0;
	char *text = NULL;
	FILE *f = NULL;

	c->route = "metrics";
	if (strcmp(c->req->method, "GET")) {
		snprintf(c->resp->allow, sizeof(c->resp->allow), "GET");
		return api_fail(c, E_METHOD, NULL, c->req->method);
	}
	if (!authenticate(c, NULL, &grant))
		return -1;
	st = malloc(sizeof(*st)); /* the host's counters: kilobytes */
	if (st)
		f = open_memstream(&text, &len);
	if (f) {
		xcap_jobs_stats(c->api->jobs, st);
		only_own_runs(c, &st->host);
		xcap_metrics_write(c->api->metrics, st, f);
	}
	free(st);
	if (!f || fclose(f)) {
		free(text);
		return api_fail(c, E_INTERNAL, NULL, "out of memory");
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
	int (*handle)(struct api_ctx *c);
	bool blocks; /* may wait on a network peer: the transport runs it off its thread */
} routes[] = {
	/* `ownership` is routed before {pcap_id}. */
	{ "list", "GET", { NULL }, false, api_captures_list, false },
	{ "create", "POST", { NULL }, true, api_captures_create, false },
	{ "bucket_list", "GET", { "ownership" }, false, api_buckets_list, false },
	{ "bucket_add", "POST", { "ownership" }, true, api_buckets_add, true },
	{ "bucket_validate", "POST", { "ownership", "validate" }, true, api_buckets_validate, true },
	{ "bucket_delete", "DELETE", { "ownership", ANY_ID }, true, api_buckets_delete, false },
	{ "get", "GET", { ANY_ID }, false, api_captures_get, false },
	{ "download", "GET", { ANY_ID, "download" }, false, api_captures_download, false },
	{ "stop", "PUT", { ANY_ID, "stop" }, true, api_captures_stop, false },
	/* Answered here, then read on this thread as the capture writes (server/stream.h). */
	{ "stream", "GET", { ANY_ID, "stream" }, false, api_captures_stream, false },
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

/* A {pcap_id} is never the literal `ownership`: those paths belong to the bucket routes. */
static bool seg_matches(const char *want, const char *seg, int i)
{
	if (!strcmp(want, ANY_ID))
		return i > 0 || strcmp(seg, "ownership");
	return !strcmp(want, seg);
}

static bool route_matches(const struct route *r, char **rest, int n)
{
	int i;

	for (i = 0; i < 2; i++) {
		if (!r->after_pcaps[i])
			return i == n;
		if (i >= n || !seg_matches(r->after_pcaps[i], rest[i], i))
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

/* The credential a request presents (its form checked by auth_form_error). */
static struct xcap_auth auth_of(const struct xcap_api_request *req)
{
	return (struct xcap_auth){
		.token = req->authorization ? req->authorization + 7 : NULL,
		.email = req->auth_email,
		.key = req->auth_key,
	};
}

/* Finds what the credential of the request grants; answers the error itself and returns false. */
static bool authenticate(struct api_ctx *c, const char *account, struct xcap_grant *grant)
{
	const struct xcap_api_request *req = c->req;
	struct xcap_auth auth = auth_of(req);
	int err = auth_form_error(req), ret;

	if (err < 0) {
		ret = xcap_store_credential_find(c->api->store, &auth, account, grant);
		if (!ret)
			return true;
		if (ret != -ENOENT) {
			api_store_fail(c, ret, "cannot read the store");
			return false;
		}
		err = req->authorization ? E_BAD_TOKEN : E_AUTH;
	}
	api_fail(c, err, NULL);
	return false;
}

/* What the request authenticated with, for the messages of a valid credential. */
static const char *credential_name(const struct xcap_api_request *req)
{
	return req->authorization ? "token" : "e-mail and key";
}

static int route(struct api_ctx *c)
{
	const struct route *found = NULL;
	struct xcap_grant grant;
	char buf[1024], *segs[MAX_SEGS];
	bool path_known = false;
	size_t i;
	int n;

	if (!strcmp(c->req->path, METRICS_PATH))
		return serve_metrics(c);
	n = split_path(c->req->path, buf, sizeof(buf), segs);
	if (n < 3 || strcmp(segs[0], "accounts") || strcmp(segs[2], "pcaps"))
		return api_fail(c, E_NO_ROUTE, NULL);
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
		return path_known ? api_fail(c, E_METHOD, NULL, c->req->method) :
				    api_fail(c, E_NO_ROUTE, NULL);
	c->resp->allow[0] = '\0';
	c->route = found->name;
	c->account = segs[1];
	c->id = n > 3 && strcmp(segs[3], "ownership") ? segs[3] : n > 4 ? segs[4] : NULL;
	if (!valid_id(c->account) || (c->id && !valid_id(c->id)))
		return api_fail(c, E_BAD_ID, NULL, c->req->path);
	if (!authenticate(c, c->account, &grant))
		return -1;
	if (!grant.account)
		return api_fail(c, E_AUTH_ACCOUNT, NULL, credential_name(c->req), c->account);
	if (found->write && !grant.write)
		return api_fail(c, E_AUTH_READ_ONLY, NULL, credential_name(c->req), c->account);
	n = xcap_store_account_get(c->api->store, c->account, &c->acc);
	if (n)
		return api_store_fail(c, n, "cannot read the store");
	if ((found->blocks || c->api->fleet) && c->req->blocking == XCAP_API_DEFER) {
		c->resp->deferred = true;
		return 0;
	}
	if ((found->blocks || c->api->fleet) && c->req->blocking == XCAP_API_REFUSE) {
		/* A worker frees up when its peer answers or the S3 timeouts end the wait. */
		c->resp->retry_after = WORKERS_RETRY_AFTER_S;
		return api_fail(c, E_WORKERS_BUSY, NULL);
	}
	return found->handle(c);
}

void xcap_api_handle(struct xcap_api *api, const struct xcap_api_request *req,
		     struct xcap_api_response *resp)
{
	struct api_ctx c = { .api = api, .req = req, .resp = resp };

	c.now_ns = xcap_clock_ns(CLOCK_REALTIME);
	c.route = "other";
	memset(resp, 0, sizeof(*resp));
	route(&c);
	json_object_put(c.body);
	if (resp->deferred)
		return; /* counted when it is answered */
	if (!resp->status)
		api_fail(&c, E_INTERNAL, NULL, "no answer");
	xcap_metrics_count_request(api->metrics, c.route, resp->status);
}

void xcap_api_response_free(struct xcap_api_response *resp)
{
	free(resp->body);
	resp->body = NULL;
	xcap_stream_free(resp->stream);
	resp->stream = NULL;
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
	api->metrics = xcap_metrics_new();
	if (!api->metrics) {
		free(api);
		return NULL;
	}
	return api;
}

void xcap_api_set_fleet(struct xcap_api *api)
{
	api->fleet = true;
}

void xcap_api_free(struct xcap_api *api)
{
	if (api)
		xcap_metrics_free(api->metrics);
	free(api);
}
