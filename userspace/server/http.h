/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The HTTP server (libmicrohttpd in external epoll mode): accumulates a
 * request body up to the API's limit, hands the request to the API and sends
 * its answer. xcapd's main loop calls xcap_http_run when the epoll fd is
 * ready; routes that wait on a network peer run on a few workers of its own
 * (bounded queue, 503 when full), which wake that fd when they are done.
 */
#ifndef XCAP_HTTP_H
#define XCAP_HTTP_H

#include <stdint.h>

struct xcap_api;
struct xcap_http;

struct xcap_http_opts {
	const char *addr; /* IPv4 or IPv6 literal */
	uint16_t port; /* 0 = any free port */
	const char *tls_cert; /* PEM files; NULL = plain HTTP */
	const char *tls_key;
	/*
	 * Slow clients: connections open at once (the last quarter kept for
	 * addresses that have none), from one address, and the seconds a client
	 * has to send a whole request from its connection or its last answer on.
	 */
	unsigned int max_conns;
	unsigned int max_conns_per_ip;
	unsigned int request_timeout_s;
	unsigned int workers; /* threads for deferred routes; 0 = 4 */
	unsigned int queue_max; /* deferred requests waiting for them at most; 0 = 8 */
};

struct xcap_http *xcap_http_start(const struct xcap_http_opts *o, struct xcap_api *api);
void xcap_http_stop(struct xcap_http *h);
int xcap_http_epoll_fd(const struct xcap_http *h);
/* The port actually bound (useful with port 0). */
uint16_t xcap_http_port(const struct xcap_http *h);
/* Milliseconds until xcap_http_run is due without I/O, or -1. */
int xcap_http_timeout_ms(struct xcap_http *h);
int xcap_http_run(struct xcap_http *h);

#endif /* XCAP_HTTP_H */
