// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* HTTP transport on libmicrohttpd: body accumulation with a hard limit, one answer path. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>
#include "server/api.h"
#include "common/file.h"
#include "common/clock.h"
#include "server/http.h"
#include "common/log.h"

#define PEM_MAX (1 << 20) /* a certificate chain is far smaller */

struct xcap_http {
	struct MHD_Daemon *mhd;
	struct xcap_api *api;
	char *cert; /* PEM contents: libmicrohttpd takes them from memory */
	char *key;
};

/* One request in flight: the body so far. */
struct http_req {
	char *body;
	size_t len;
	bool too_large;
	int64_t start_ns;
};

static void mhd_log(void *arg, const char *fmt, va_list ap)
{
	char msg[512];

	(void)arg;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	pr_debug("libmicrohttpd: %s", msg);
}

static int append_body(struct http_req *r, const char *data, size_t size)
{
	char *body;

	if (r->too_large || r->len + size > XCAP_API_BODY_MAX) {
		/* Keep reading so the client gets the answer, but keep nothing. */
		r->too_large = true;
		return 0;
	}
	body = realloc(r->body, r->len + size);
	if (!body)
		return -ENOMEM;
	memcpy(body + r->len, data, size);
	r->body = body;
	r->len += size;
	return 0;
}

/*
 * The path is routed as sent: decoded, %2F would be a separator and %00 would
 * end an id early. Ids are [0-9A-Za-z], so a '%' in one is a malformed id.
 */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls;
	(void)c;
	return strlen(s);
}

static const char *header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static enum MHD_Result send_answer(struct MHD_Connection *c, struct xcap_api_response *a)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char retry[16];

	resp = MHD_create_response_from_buffer(a->body_len, a->body, MHD_RESPMEM_MUST_FREE);
	if (!resp)
		return MHD_NO;
	a->body = NULL; /* owned by the response now */
	if (a->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type);
	if (a->allow[0])
		MHD_add_response_header(resp, "Allow", a->allow);
	if (a->retry_after) {
		snprintf(retry, sizeof(retry), "%u", a->retry_after);
		MHD_add_response_header(resp, "Retry-After", retry);
	}
	ret = MHD_queue_response(c, a->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct xcap_http *h = cls;
	struct http_req *r = *con_cls;
	struct xcap_api_response a = {};
	struct xcap_api_request req;
	enum MHD_Result ret;

	(void)version;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->start_ns = xcap_clock_ns(CLOCK_MONOTONIC);
		*con_cls = r;
		return MHD_YES;
	}
	if (*data_size) {
		if (append_body(r, data, *data_size))
			return MHD_NO;
		*data_size = 0;
		return MHD_YES;
	}
	req = (struct xcap_api_request){
		.method = method,
		.path = url,
		.authorization = header(c, MHD_HTTP_HEADER_AUTHORIZATION),
		.auth_email = header(c, "X-Auth-Email"),
		.auth_key = header(c, "X-Auth-Key"),
		.content_type = header(c, MHD_HTTP_HEADER_CONTENT_TYPE),
		.body = r->body,
		.body_len = r->len,
		.body_too_large = r->too_large,
	};
	xcap_api_handle(h->api, &req, &a);
	pr_info("%s %s %d %.1f ms\n", method, url, a.status,
		(xcap_clock_ns(CLOCK_MONOTONIC) - r->start_ns) / 1e6);
	ret = send_answer(c, &a);
	xcap_api_response_free(&a);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_req *r = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (r) {
		free(r->body);
		free(r);
		*con_cls = NULL;
	}
}

static int load_pem(const char *key, const char *path, char **out)
{
	size_t len;
	int err = xcap_file_read(path, PEM_MAX, out, &len);

	if (err)
		pr_err("%s: cannot read %s: %s\n", key, path, strerror(-err));
	return err;
}

static int load_tls(struct xcap_http *h, const struct xcap_http_opts *o)
{
	return load_pem("tls_cert", o->tls_cert, &h->cert) ?:
							     load_pem("tls_key", o->tls_key, &h->key);
}

struct xcap_http *xcap_http_start(const struct xcap_http_opts *o, struct xcap_api *api)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(o->port) };
	struct sockaddr_in sa4 = { .sin_family = AF_INET, .sin_port = htons(o->port) };
	struct sockaddr *sa = (struct sockaddr *)&sa4;
	struct xcap_http *h;
	int err = -EINVAL;

	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->api = api;
	if (inet_pton(AF_INET6, o->addr, &sa6.sin6_addr) == 1) {
		sa = (struct sockaddr *)&sa6;
		flags |= MHD_USE_IPv6;
	} else if (inet_pton(AF_INET, o->addr, &sa4.sin_addr) != 1) {
		pr_err("listen: '%s' is not an IP address\n", o->addr);
		goto err;
	}
	if (o->tls_cert && o->tls_key) {
		err = load_tls(h, o);
		if (err)
			goto err;
		flags |= MHD_USE_TLS;
	}
	h->mhd = MHD_start_daemon(
		flags, o->port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
		NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_CONNECTION_LIMIT,
		(unsigned int)256, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
		/* Without TLS the option list ends here. */
		h->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->cert,
		MHD_OPTION_HTTPS_MEM_KEY, h->key, MHD_OPTION_END);
	if (!h->mhd) {
		err = -EADDRINUSE;
		pr_err("cannot listen on %s port %u (in use, or TLS files invalid)\n", o->addr,
		       o->port);
		goto err;
	}
	pr_info("listening on %s://%s%s%s:%u\n", h->cert ? "https" : "http",
		flags & MHD_USE_IPv6 ? "[" : "", o->addr, flags & MHD_USE_IPv6 ? "]" : "",
		xcap_http_port(h));
	return h;
err:
	xcap_http_stop(h);
	errno = -err;
	return NULL;
}

void xcap_http_stop(struct xcap_http *h)
{
	if (!h)
		return;
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	free(h->cert);
	free(h->key);
	free(h);
}

int xcap_http_epoll_fd(const struct xcap_http *h)
{
	return MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
}

uint16_t xcap_http_port(const struct xcap_http *h)
{
	return MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
}

int xcap_http_timeout_ms(struct xcap_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms;

	if (MHD_get_timeout(h->mhd, &ms) != MHD_YES)
		return -1;
	return ms > 1000 ? 1000 : (int)ms;
}

int xcap_http_run(struct xcap_http *h)
{
	return MHD_run(h->mhd) == MHD_YES ? 0 : -EIO;
}
