/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The PCAP collection API (spec/api.md): router, authentication, validation,
 * the envelope and the one error table. Transport-free: http.c hands it a
 * parsed request and sends what it answers, so tests and fuzzers can call it
 * without a socket.
 */
#ifndef XCAP_API_H
#define XCAP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XCAP_API_BODY_MAX (64 * 1024)

struct xcap_config;
struct xcap_store;
struct xcap_jobs;
struct xcap_stream;

/*
 * Where a route that may wait on a network peer (bucket add and validate talk
 * to S3) runs. Its handler shares only the store and the request counters,
 * both locked, so it may run on any thread; every other route touches the jobs
 * and the engine, which have no locks: only their owner's thread may handle it.
 */
enum xcap_api_blocking {
	XCAP_API_RUN_HERE = 0, /* run every route now (tests, fuzzers, workers) */
	XCAP_API_DEFER, /* once authorized, answer nothing and set resp->deferred */
	XCAP_API_REFUSE, /* once authorized, 503 with Retry-After: no worker is free */
};

struct xcap_api_request {
	const char *method;
	const char *path; /* without the query string */
	const char *authorization;
	const char *auth_email;
	const char *auth_key;
	const char *content_type;
	const char *body; /* not NUL-terminated */
	size_t body_len;
	bool body_too_large; /* more than XCAP_API_BODY_MAX bytes were sent */
	enum xcap_api_blocking blocking;
};

struct xcap_api_response {
	int status;
	char *body; /* malloc'd; NULL for an empty body */
	size_t body_len;
	const char *content_type; /* NULL with an empty body */
	unsigned int retry_after; /* seconds; 0 = no header */
	char allow[32]; /* a 405's Allow header: the route's methods; "" = no header */
	bool deferred; /* XCAP_API_DEFER: handle it again with XCAP_API_RUN_HERE, off this thread */
	/*
	 * Instead of body: a body read as it grows (a live stream), sent chunked,
	 * on the thread that handled the request; whoever sends it frees it.
	 */
	struct xcap_stream *stream;
};

struct xcap_api;

struct xcap_api *xcap_api_new(const struct xcap_config *cfg, struct xcap_store *store,
			      struct xcap_jobs *jobs);
void xcap_api_free(struct xcap_api *api);
/* The API of a fleet (xcapd api): see struct xcap_api in api_ctx.h. */
void xcap_api_set_fleet(struct xcap_api *api);
/* Answers one request; always fills resp (500 on an internal error) unless it is deferred. */
void xcap_api_handle(struct xcap_api *api, const struct xcap_api_request *req,
		     struct xcap_api_response *resp);
void xcap_api_response_free(struct xcap_api_response *resp);

#endif /* XCAP_API_H */
