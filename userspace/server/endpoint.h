/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * An agent's internal endpoint: the one thing the API processes ask an agent
 * directly, the newest samples of a window that match a filter (a simple
 * capture's share of one host), as a pcap file. Nothing of the public API is
 * served there. Each request carries a signature made with the fleet secret:
 *   X-Xcap-Fleet-Auth: <unix time ns>.<hex HMAC-SHA256(secret, time "\n" path "\n" body)>
 * accepted within XCAP_ENDPOINT_SKEW_S of the agent's clock, so a request
 * cannot be made, changed or replayed later without the secret.
 *
 *   POST /fleet/v1/query {"from_ns":N,"to_ns":N,"limit":N,"filter_v1":{...}}
 *   200: the pcap (nanosecond magic); X-Xcap-Matched, X-Xcap-Oldest-Ns,
 *        X-Xcap-Newest-Ns: the query's statistics. 401: a bad signature.
 */
#ifndef XCAP_ENDPOINT_H
#define XCAP_ENDPOINT_H

#include <stddef.h>
#include <stdint.h>

#define XCAP_ENDPOINT_QUERY_PATH "/fleet/v1/query"
#define XCAP_ENDPOINT_AUTH_HEADER "X-Xcap-Fleet-Auth"
#define XCAP_ENDPOINT_SKEW_S 30

struct xcap_jobs;
struct xcap_endpoint;

/*
 * Listens on addr:port (an address literal; port 0: any) on its own thread
 * and answers queries through jobs; temporary files go under tmp_dir.
 * NULL + errno.
 */
struct xcap_endpoint *xcap_endpoint_start(const char *addr, uint16_t port, const char *secret,
					  struct xcap_jobs *jobs, const char *tmp_dir);
uint16_t xcap_endpoint_port(const struct xcap_endpoint *e);
void xcap_endpoint_stop(struct xcap_endpoint *e);

/* The value of the auth header for a request of path with body, at time now_ns. */
void xcap_endpoint_sign(const char *secret, int64_t now_ns, const char *path, const char *body,
			size_t len, char *out, size_t size);
/* 0 when value signs path and body with secret within the allowed skew of now_ns, else -EPERM. */
int xcap_endpoint_verify(const char *secret, int64_t now_ns, const char *value, const char *path,
			 const char *body, size_t len);

#endif /* XCAP_ENDPOINT_H */
