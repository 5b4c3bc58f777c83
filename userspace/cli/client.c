// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The API client: a libcurl easy handle kept for the whole run (polling reuses
 * its connection), a body sink that streams a 2xx download to a file but keeps
 * an error answer in memory, and the envelope turned into one line per error.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include "cli/client.h"
#include "common/clock.h"

#define ANSWER_MAX (16 << 20) /* a JSON answer larger than this is not the API's */
#define CONNECT_TIMEOUT_MS 10000L
#define USER_AGENT "xcapctl/1 (libcurl)"

struct xcap_client {
	CURL *curl;
	char *base; /* without a trailing '/' */
	char *auth[2]; /* the credential's headers; auth[1] is NULL for a token */
	const char *cacert;
	long timeout_ms;
	bool verbose;
	const volatile sig_atomic_t *cancel;
	char curl_err[CURL_ERROR_SIZE];
};

/* Where a body goes: a 2xx one to `out` when there is one, anything else to memory. */
struct sink {
	CURL *curl;
	FILE *out;
	bool flush; /* a live stream: each piece reaches `out`'s reader as it comes */
	uint64_t written;
	int write_err;
	char *buf;
	size_t len;
	size_t cap;
	bool too_large;
};

static bool header_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

/* "NAME: SCHEMEVALUE"; a value that could end the header line is refused (EINVAL). */
static char *header(const char *name, const char *scheme, const char *value)
{
	char *h = NULL;

	if (!value || !*value || !header_safe(value)) {
		errno = EINVAL;
		return NULL;
	}
	if (asprintf(&h, "%s: %s%s", name, scheme, value) < 0) {
		errno = ENOMEM;
		return NULL;
	}
	return h;
}

struct xcap_client *xcap_client_new(const struct xcap_client_opts *o)
{
	struct xcap_client *c;
	size_t n;
	int err;

	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		errno = ENOMEM;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		curl_global_cleanup();
		errno = ENOMEM;
		return NULL;
	}
	c->cacert = o->cacert;
	c->timeout_ms = o->timeout_ms;
	c->verbose = o->verbose;
	c->cancel = o->cancel;
	c->curl = curl_easy_init();
	c->base = strdup(o->url);
	errno = 0;
	if (o->token) {
		c->auth[0] = header("Authorization", "Bearer ", o->token);
	} else {
		c->auth[0] = header("X-Auth-Email", "", o->email);
		c->auth[1] = header("X-Auth-Key", "", o->key);
	}
	if (!c->curl || !c->base || !c->auth[0] || (!o->token && !c->auth[1])) {
		err = errno == EINVAL ? EINVAL : ENOMEM;
		xcap_client_free(c);
		errno = err;
		return NULL;
	}
	for (n = strlen(c->base); n && c->base[n - 1] == '/'; n--)
		c->base[n - 1] = '\0';
	return c;
}

void xcap_client_free(struct xcap_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c->auth[0]);
	free(c->auth[1]);
	free(c->base);
	free(c);
	curl_global_cleanup();
}

void xcap_reply_free(struct xcap_reply *r)
{
	json_object_put(r->doc);
	memset(r, 0, sizeof(*r));
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t len = size * nmemb;
	long status = 0;
	char *p;

	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	if (s->out && status >= 200 && status < 300) {
		if (fwrite(data, 1, len, s->out) != len || (s->flush && fflush(s->out))) {
			s->write_err = errno ?: EIO;
			return 0;
		}
		s->written += len;
		return len;
	}
	if (s->len + len >= ANSWER_MAX) {
		s->too_large = true;
		return 0;
	}
	if (s->len + len >= s->cap) {
		s->cap = (s->len + len + 1) * 2;
		p = realloc(s->buf, s->cap);
		if (!p)
			return 0;
		s->buf = p;
	}
	memcpy(s->buf + s->len, data, len);
	s->len += len;
	s->buf[s->len] = '\0';
	return len;
}

/* libcurl calls this about once a second even when nothing moves: a Ctrl-C ends the wait. */
static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct xcap_client *c = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return c->cancel && *c->cancel;
}

/* The base URL and the escaped segments; NULL with errno set. */
static char *make_url(struct xcap_client *c, const char *const *path)
{
	char *url = NULL, *seg;
	size_t size = 0;
	FILE *f = open_memstream(&url, &size);
	int i;

	if (!f)
		return NULL;
	fputs(c->base, f);
	for (i = 0; path[i]; i++) {
		seg = curl_easy_escape(c->curl, path[i], 0);
		if (!seg)
			break;
		fprintf(f, "/%s", seg);
		curl_free(seg);
	}
	if (fclose(f) || path[i]) {
		free(url);
		errno = ENOMEM;
		return NULL;
	}
	return url;
}

static struct curl_slist *add_header(struct curl_slist *list, const char *h, bool *failed)
{
	struct curl_slist *l = curl_slist_append(list, h);

	if (!l)
		*failed = true;
	return l ?: list;
}

static struct curl_slist *make_headers(struct xcap_client *c, const char *accept, bool body)
{
	struct curl_slist *h = NULL;
	bool failed = false;

	h = add_header(h, c->auth[0], &failed);
	if (c->auth[1])
		h = add_header(h, c->auth[1], &failed);
	h = add_header(h, accept, &failed);
	/* A body is JSON; no body (PUT .../stop) goes without a content type, like the SDK's. */
	h = add_header(h, body ? "Content-Type: application/json" : "Content-Type:", &failed);
	h = add_header(h, "Expect:", &failed);
	if (failed) {
		curl_slist_free_all(h);
		return NULL;
	}
	return h;
}

static void set_options(struct xcap_client *c, const char *url, struct curl_slist *headers,
			struct sink *s)
{
	CURL *h = c->curl;

	curl_easy_reset(h); /* keeps the connection for the next request */
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 c->timeout_ms < CONNECT_TIMEOUT_MS ? c->timeout_ms : CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	if (c->cacert)
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
}

/* The method and the body: GET, a JSON body, an empty PUT, or a bodiless DELETE. */
static void set_method(CURL *h, const char *method, const char *body)
{
	if (!strcmp(method, "GET")) {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
		return;
	}
	if (body || !strcmp(method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ?: "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
}

/* A libcurl failure as an errno, with a message naming the server. */
static int transport_error(struct xcap_client *c, CURLcode rc, const struct sink *s,
			   struct xcap_reply *r)
{
	const char *why = c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc);

	if (rc == CURLE_ABORTED_BY_CALLBACK) {
		snprintf(r->error, sizeof(r->error), "interrupted");
		return -EINTR;
	}
	if (rc == CURLE_WRITE_ERROR && s->write_err) {
		snprintf(r->error, sizeof(r->error), "writing the file: %s",
			 strerror(s->write_err));
		return -s->write_err;
	}
	if (rc == CURLE_WRITE_ERROR) {
		snprintf(r->error, sizeof(r->error), "the answer of %s is %s", c->base,
			 s->too_large ? "too large for an API answer" : "beyond the memory");
		return s->too_large ? -EPROTO : -ENOMEM;
	}
	snprintf(r->error, sizeof(r->error), "cannot reach %s: %s", c->base, why);
	switch (rc) {
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		snprintf(r->error, sizeof(r->error), "bad URL %s: %s", c->base, why);
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(r->error, sizeof(r->error), "no answer from %s within %ld ms: %s", c->base,
			 c->timeout_ms, why);
		return -ETIMEDOUT;
	default:
		return -ECOMM;
	}
}

static void append(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void append(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n >= size - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + n, size - n, fmt, ap);
	va_end(ap);
}

json_object *xcap_json_get(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (json_object_is_type(o, json_type_object))
		json_object_object_get_ex(o, key, &v);
	return v;
}

const char *xcap_json_string(json_object *o, const char *key)
{
	json_object *v = xcap_json_get(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

uint64_t xcap_json_u64(json_object *o, const char *key)
{
	json_object *v = xcap_json_get(o, key);

	return json_object_is_type(v, json_type_int) ? (uint64_t)json_object_get_int64(v) : 0;
}

int64_t xcap_json_time(json_object *o, const char *key)
{
	const char *s = xcap_json_string(o, key);
	int64_t ns;

	if (!s || xcap_clock_parse(s, &ns))
		return -1;
	return ns / 1000000000LL;
}

static void append_items(char *buf, size_t size, json_object *items, const char *sep)
{
	json_object *e, *chain;
	size_t i, n = json_object_array_length(items);

	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(items, i);
		append(buf, size, "%serror %d: %s", i ? sep : "",
		       json_object_get_int(json_object_object_get(e, "code")),
		       xcap_json_string(e, "message") ?: "(no message)");
		/* 6003 "Invalid request headers" names the bad header in its chain. */
		chain = xcap_json_get(e, "error_chain");
		if (json_object_is_type(chain, json_type_array)) {
			append(buf, size, " (");
			append_items(buf, size, chain, ", ");
			append(buf, size, ")");
		}
	}
}

/* "error CODE: MESSAGE" for each error of the envelope, with the hints a user needs. */
static void describe_errors(struct xcap_client *c, json_object *errors, struct xcap_reply *r)
{
	struct curl_header *h;

	r->error[0] = '\0';
	append_items(r->error, sizeof(r->error), errors, "; ");
	if (curl_easy_header(c->curl, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		append(r->error, sizeof(r->error), " (retry after %s s)", h->value);
	if (strstr(r->error, "error 7000:"))
		append(r->error, sizeof(r->error),
		       " (is %s the API's base URL, such as http://127.0.0.1:8080/client/v4?)",
		       c->base);
}

static json_object *parse_json(const char *text, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	json_object *doc;

	if (!tok)
		return NULL;
	doc = json_tokener_parse_ex(tok, text, len);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(doc);
		doc = NULL;
	}
	json_tokener_free(tok);
	return doc;
}

/* Reads the envelope of a finished request; the returns of xcap_client_call. */
static int unpack(struct xcap_client *c, struct sink *s, struct xcap_reply *r)
{
	bool ok = r->status >= 200 && r->status < 300;
	json_object *errors, *success;

	if (ok && (s->out || !s->len))
		return 0; /* a download, or 204 */
	r->doc = s->len ? parse_json(s->buf, s->len) : NULL;
	success = xcap_json_get(r->doc, "success");
	errors = xcap_json_get(r->doc, "errors");
	r->result = xcap_json_get(r->doc, "result");
	if (!success || !json_object_is_type(errors, json_type_array)) {
		snprintf(r->error, sizeof(r->error),
			 "HTTP %ld from %s, and the answer is not an API envelope%s", r->status,
			 c->base,
			 r->status == 404 ? " (is the URL the API's base, such as "
					    "http://127.0.0.1:8080/client/v4?)" :
					    "");
		return -EPROTO;
	}
	if (ok && json_object_get_boolean(success))
		return 0;
	if (!json_object_array_length(errors)) {
		snprintf(r->error, sizeof(r->error), "HTTP %ld from %s without an error", r->status,
			 c->base);
		return -EPROTO;
	}
	describe_errors(c, errors, r);
	return -EREMOTEIO;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int perform(struct xcap_client *c, const char *method, const char *const *path,
		   const char *body, const char *accept, FILE *out, bool stream,
		   struct xcap_reply *r, uint64_t *written)
{
	struct sink s = { .curl = c->curl, .out = out, .flush = stream };
	struct curl_slist *headers = NULL;
	int64_t start = now_ms();
	char *url = NULL;
	CURLcode rc;
	int err;

	xcap_reply_free(r);
	c->curl_err[0] = '\0';
	url = make_url(c, path);
	headers = url ? make_headers(c, accept, body) : NULL;
	if (!headers) {
		snprintf(r->error, sizeof(r->error), "out of memory");
		err = -ENOMEM;
		goto out;
	}
	set_options(c, url, headers, &s);
	/* A live stream lasts as long as its capture: the timeout is the connection's only. */
	if (stream)
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, 0L);
	set_method(c->curl, method, body);
	rc = curl_easy_perform(c->curl);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (c->verbose)
		fprintf(stderr, "xcapctl: %s %s -> %ld (%lld ms)\n", method, url, r->status,
			(long long)(now_ms() - start));
	err = rc == CURLE_OK ? unpack(c, &s, r) : transport_error(c, rc, &s, r);
	if (written)
		*written = s.written;
out:
	curl_slist_free_all(headers);
	free(url);
	free(s.buf);
	return err;
}

int xcap_client_call(struct xcap_client *c, const char *method, const char *const *path,
		     json_object *body, struct xcap_reply *r)
{
	const char *text = NULL;

	if (body)
		text = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
								    JSON_C_TO_STRING_NOSLASHESCAPE);
	return perform(c, method, path, text, "Accept: application/json", NULL, false, r, NULL);
}

int xcap_client_download(struct xcap_client *c, const char *const *path, FILE *out, uint64_t *bytes,
			 struct xcap_reply *r)
{
	return perform(c, "GET", path, NULL,
		       "Accept: application/vnd.tcpdump.pcap, application/json", out, false, r,
		       bytes);
}

int xcap_client_stream(struct xcap_client *c, const char *const *path, FILE *out, uint64_t *bytes,
		       int64_t *missed, struct xcap_reply *r)
{
	struct curl_header *h;
	int err;

	err = perform(
		c, "GET", path, NULL,
		"Accept: application/vnd.tcpdump.pcap, application/x-pcapng, application/json", out,
		true, r, bytes);
	*missed = -1;
	if (!err &&
	    curl_easy_header(c->curl, "Xcap-Packets-Missed", 0, CURLH_TRAILER, -1, &h) == CURLHE_OK)
		*missed = strtoll(h->value, NULL, 10);
	return err;
}
