/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The client side of the PCAP collection API (libcurl + json-c): one
 * connection reused across requests, the Cloudflare envelope unpacked, and
 * every failure sorted into "the server said no", "the answer is not the
 * API's" and "no answer", which are what a caller decides on.
 */
#ifndef XCAP_CLIENT_H
#define XCAP_CLIENT_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

struct xcap_client;

struct xcap_client_opts {
	const char *url; /* the API's base, e.g. http://127.0.0.1:8080/client/v4 */
	const char *token; /* sent as Bearer; NULL: the e-mail + key scheme */
	const char *email;
	const char *key;
	const char *cacert; /* PEM bundle to verify HTTPS servers with; NULL: the system's */
	long timeout_ms; /* the whole of each request, connection included */
	bool verbose; /* one line per request on stderr */
	const volatile sig_atomic_t *cancel; /* once set, a request ends with -EINTR */
};

/* What a request got back. Zero it before the first use; each request frees the previous one. */
struct xcap_reply {
	long status; /* HTTP status, 0 without an answer */
	json_object *doc; /* the JSON answer, or NULL */
	json_object *result; /* its `result` (borrowed from doc), or NULL */
	char error[1024]; /* why it failed, e.g. "error 1007: packet_limit must be ..." */
};

/*
 * Returns of the requests:
 *   0            a 2xx answer (a JSON one carries the envelope)
 *   -EREMOTEIO   the server refused: an error envelope, its codes and messages in error
 *   -EPROTO      an answer that is not the API's (no envelope, not JSON, too large)
 *   -EINTR       cancelled
 *   xcap_client_unreachable(): no answer (refused, unreachable, timed out, broken)
 *   other        a local failure: -ENOMEM, -EINVAL (bad URL), or writing `out` failed
 */
static inline bool xcap_client_unreachable(int err)
{
	return err == -ECONNREFUSED || err == -EHOSTUNREACH || err == -ETIMEDOUT || err == -ECOMM;
}

struct xcap_client *xcap_client_new(const struct xcap_client_opts *o);
void xcap_client_free(struct xcap_client *c);

/*
 * A request to the base URL plus the NULL-terminated path segments (each
 * escaped). body: a JSON object to send, or NULL (a PUT then sends an empty
 * body, as the SDK does).
 */
int xcap_client_call(struct xcap_client *c, const char *method, const char *const *path,
		     json_object *body, struct xcap_reply *r);

/* A GET whose 2xx body is written to out as it arrives; *bytes counts it. */
int xcap_client_download(struct xcap_client *c, const char *const *path, FILE *out, uint64_t *bytes,
			 struct xcap_reply *r);

/*
 * A GET of a live stream: like download, each piece flushed to out as it
 * comes, for as long as the server sends (no overall timeout). *missed: the
 * packets the server skipped (the Xcap-Packets-Missed trailer), -1 without it.
 */
int xcap_client_stream(struct xcap_client *c, const char *const *path, FILE *out, uint64_t *bytes,
		       int64_t *missed, struct xcap_reply *r);

void xcap_reply_free(struct xcap_reply *r);

/* Members of answers; NULL, 0 or -1 when absent or of another type (o may be NULL). */
json_object *xcap_json_get(json_object *o, const char *key);
const char *xcap_json_string(json_object *o, const char *key);
uint64_t xcap_json_u64(json_object *o, const char *key);
/* An RFC 3339 time ("2024-01-01T08:00:00Z", fractions and offsets too) in seconds of the epoch. */
int64_t xcap_json_time(json_object *o, const char *key);

#endif /* XCAP_CLIENT_H */
