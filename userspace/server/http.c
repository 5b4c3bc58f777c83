// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * HTTP transport on libmicrohttpd: body accumulation with a hard limit, one
 * answer path, and workers for the requests that wait on a network peer.
 *
 * Threads. libmicrohttpd runs in external epoll mode inside xcapd's main loop:
 * that thread accepts, reads, routes and answers every request, so handlers
 * keep touching the jobs, the engine and the recorder from the one thread that
 * owns them, without locks. A route flagged as blocking in api.c (bucket add
 * and validate: S3 requests, up to 2 x 20 s against a peer that never answers)
 * is authorized there, then its connection is suspended and the request queued
 * for HTTP_WORKERS threads (HTTP_QUEUE_MAX waiting at most); a worker runs the
 * handler, resumes the connection and wakes the main loop through an eventfd
 * (libmicrohttpd drops its own wake-up channel, MHD_USE_ITC, in external
 * mode). A full queue is answered 503 with Retry-After at once: the main
 * thread never waits for a worker or a peer.
 *
 * Not libmicrohttpd's own threads (MHD_USE_INTERNAL_POLLING_THREAD or a thread
 * pool): every handler would then run beside the main loop, and the jobs, the
 * engine and the recorder have no locks. What blocking handlers share with
 * the main thread is the store and the API's request counters, both locked.
 *
 * Slow clients (slowloris). libmicrohttpd's timeout counts from the last byte
 * received, so a client that sends one header line every few seconds would
 * keep its connection, and enough of them every connection. So: each address
 * may hold max_conns_per_ip connections, the last quarter of max_conns is
 * kept for addresses that hold none (a flood from many addresses still leaves
 * room for one more), and a client has request_timeout_s to send a whole
 * request (headers and body) from its connection or its previous answer on;
 * then the connection's socket is shut down, and libmicrohttpd closes it at
 * its next read. The table of connections lives on the main thread.
 *
 * Live streams (an answer with a stream instead of a body) are sent chunked
 * from a content reader on the main thread. With nothing to send, the
 * reader suspends its connection; every STREAM_POLL_MS the main loop resumes
 * them all to look again (a capture's file grows at its flushes, every
 * 100 ms at most). A stream reads the capture's file, so however slow its
 * client, it never holds the capture up; a client that takes nothing for
 * the connection timeout is closed. At the end, the Xcap-Packets-Missed
 * trailer says how many packets the stream skipped.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include "server/api.h"
#include "server/stream.h"
#include "common/file.h"
#include "common/clock.h"
#include "common/util.h"
#include "server/http.h"
#include "common/log.h"

#define PEM_MAX (1 << 20) /* a certificate chain is far smaller */
/* Peers are waited on, not computed for: a few threads cover many slow buckets. */
#define HTTP_WORKERS 4
#define HTTP_QUEUE_MAX 8
#define HTTP_WORKERS_MAX 64
#define STREAM_POLL_MS 100
#define STREAM_BLOCK (64 << 10) /* chunks of a live stream: several packets each */
#define MISSED_TRAILER "Xcap-Packets-Missed"

/* One request in flight: the body so far, and its answer when a worker made it. */
struct http_req {
	struct http_req *next; /* in the worker queue */
	struct MHD_Connection *conn;
	char *body;
	size_t len;
	bool too_large;
	int64_t start_ns;
	struct xcap_api_request req; /* the strings live in the connection, which waits */
	struct xcap_api_response resp;
	bool answered; /* resp is a worker's answer */
};

/* One open connection: where from, and since when it owes a whole request. */
struct http_conn {
	struct http_conn *next, *prev;
	struct MHD_Connection *conn;
	struct sockaddr_storage addr;
	int64_t since_ns; /* connected, or its last answer sent (CLOCK_MONOTONIC) */
	bool received; /* its request is all in: it waits on xcapd, not on the client */
	bool shut; /* its deadline passed: shut down, closing */
};

/* A live stream being sent: the content reader's state, freed with its response. */
struct http_stream {
	struct xcap_http *h;
	struct MHD_Connection *conn;
	struct MHD_Response *resp;
	struct xcap_stream *stream;
	struct http_stream *next; /* in xcap_http.idle while suspended */
};

struct xcap_http {
	struct MHD_Daemon *mhd;
	unsigned int max_conns, max_conns_per_ip;
	int64_t request_timeout_ns;
	struct http_conn conns; /* the list head: main thread only */
	unsigned int n_conns;
	struct xcap_api *api;
	char *cert; /* PEM contents: libmicrohttpd takes them from memory */
	char *key;
	int epfd; /* libmicrohttpd's epoll fd and wake_fd: what the main loop watches */
	int wake_fd; /* eventfd: a worker resumed a connection */
	pthread_mutex_t lock; /* the queue and stopping */
	pthread_cond_t queued;
	struct http_req *head; /* suspended connections no worker took yet */
	struct http_req **tail;
	unsigned int waiting;
	unsigned int running; /* taken by a worker, not answered yet */
	bool stopping;
	unsigned int want_workers; /* HTTP_WORKERS unless the options say */
	unsigned int queue_max; /* HTTP_QUEUE_MAX unless the options say */
	pthread_t workers[HTTP_WORKERS_MAX];
	unsigned int n_workers;
	/* The main thread's alone. */
	struct http_stream *idle; /* streams suspended with nothing to send */
	int64_t polled_ns; /* CLOCK_MONOTONIC of the last look at them */
	bool closing; /* streams end at once */
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

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *hs = cls;
	char missed[24];
	ssize_t n;

	(void)pos;
	if (hs->h->closing)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	n = xcap_stream_read(hs->stream, buf, max);
	if (n > 0)
		return n;
	if (!n) {
		/* libmicrohttpd asks again at once after a 0: wait for the next look instead. */
		MHD_suspend_connection(hs->conn);
		hs->next = hs->h->idle;
		hs->h->idle = hs;
		return 0;
	}
	if (n != -ENODATA) {
		pr_warn("a live stream ends early: %s\n", strerror((int)-n));
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	snprintf(missed, sizeof(missed), "%llu",
		 (unsigned long long)xcap_stream_missed(hs->stream));
	MHD_add_response_footer(hs->resp, MISSED_TRAILER, missed);
	return MHD_CONTENT_READER_END_OF_STREAM;
}

static void free_stream(void *cls)
{
	struct http_stream *hs = cls;

	xcap_stream_free(hs->stream);
	free(hs);
}

/* Resumes the streams that had nothing to send, to look again. */
static void poll_streams(struct xcap_http *h, bool now)
{
	int64_t t = xcap_clock_ns(CLOCK_MONOTONIC);
	struct http_stream *hs;

	if (!now && t - h->polled_ns < STREAM_POLL_MS * 1000000LL)
		return;
	h->polled_ns = t;
	while ((hs = h->idle)) {
		h->idle = hs->next;
		MHD_resume_connection(hs->conn);
	}
}

/* A stream's response: chunked (its length is unknown), the count of what it skipped at the end. */
static struct MHD_Response *stream_response(struct xcap_http *h, struct MHD_Connection *c,
					    struct xcap_api_response *a)
{
	struct http_stream *hs = calloc(1, sizeof(*hs));
	struct MHD_Response *resp;

	if (!hs)
		return NULL;
	*hs = (struct http_stream){ .h = h, .conn = c, .stream = a->stream };
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, read_stream, hs,
						 free_stream);
	if (!resp) {
		free(hs);
		return NULL;
	}
	a->stream = NULL; /* the response's now */
	hs->resp = resp;
	MHD_add_response_header(resp, "Trailer", MISSED_TRAILER);
	return resp;
}

static enum MHD_Result send_answer(struct xcap_http *h, struct MHD_Connection *c,
				   struct xcap_api_response *a)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char retry[16];

	if (a->stream) {
		resp = stream_response(h, c, a);
	} else {
		resp = MHD_create_response_from_buffer(a->body_len, a->body, MHD_RESPMEM_MUST_FREE);
		if (resp)
			a->body = NULL; /* owned by the response now */
	}
	if (!resp)
		return MHD_NO;
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

/* Wakes the main loop: xcap_http_run then lets libmicrohttpd take the resumed connection. */
static void wake(struct xcap_http *h)
{
	/* Only an overflow of the counter could fail, and it is read on every run. */
	(void)eventfd_write(h->wake_fd, 1);
}

static void *worker(void *arg)
{
	struct xcap_http *h = arg;
	struct http_req *r;

	for (;;) {
		pthread_mutex_lock(&h->lock);
		while (!h->head && !h->stopping)
			pthread_cond_wait(&h->queued, &h->lock);
		r = h->stopping ? NULL : h->head;
		if (r) {
			h->head = r->next;
			if (!h->head)
				h->tail = &h->head;
			h->waiting--;
			h->running++;
		}
		pthread_mutex_unlock(&h->lock);
		if (!r)
			return NULL; /* xcap_http_stop resumes what is left */
		r->req.blocking = XCAP_API_RUN_HERE;
		xcap_api_handle(h->api, &r->req, &r->resp);
		r->answered = true;
		pthread_mutex_lock(&h->lock);
		h->running--;
		pthread_mutex_unlock(&h->lock);
		/* Last touch of r: once resumed, the main thread answers and may free it. */
		MHD_resume_connection(r->conn);
		wake(h);
	}
}

/* Hands a deferred request to the workers, or -EBUSY when HTTP_QUEUE_MAX already wait. */
static int queue_request(struct xcap_http *h, struct http_req *r)
{
	int err = -EBUSY;

	pthread_mutex_lock(&h->lock);
	if (h->waiting < h->queue_max) {
		/* Before a worker can see it: resuming a connection not suspended is undefined. */
		MHD_suspend_connection(r->conn);
		r->next = NULL;
		*h->tail = r;
		h->tail = &r->next;
		h->waiting++;
		pthread_cond_signal(&h->queued);
		err = 0;
	}
	pthread_mutex_unlock(&h->lock);
	return err;
}

/*
 * The final call of a request, and again once a worker resumed its connection.
 * Blocking routes are deferred to the workers after the API authorized them, so
 * refused requests never take a worker.
 */
static enum MHD_Result handle(struct xcap_http *h, struct http_req *r, const char *url,
			      const char *method)
{
	struct MHD_Connection *c = r->conn;
	const union MHD_ConnectionInfo *ci;
	enum MHD_Result ret;

	/* The whole request is in: from here on it waits on xcapd, not on the client. */
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ci && ci->socket_context)
		((struct http_conn *)ci->socket_context)->received = true;
	if (!r->answered) {
		r->req = (struct xcap_api_request){
			.method = method,
			.path = url,
			.authorization = header(c, MHD_HTTP_HEADER_AUTHORIZATION),
			.auth_email = header(c, "X-Auth-Email"),
			.auth_key = header(c, "X-Auth-Key"),
			.content_type = header(c, MHD_HTTP_HEADER_CONTENT_TYPE),
			.body = r->body,
			.body_len = r->len,
			.body_too_large = r->too_large,
			.blocking = XCAP_API_DEFER,
		};
		xcap_api_handle(h->api, &r->req, &r->resp);
		if (r->resp.deferred && !queue_request(h, r))
			return MHD_YES;
		if (r->resp.deferred) {
			r->req.blocking = XCAP_API_REFUSE;
			xcap_api_handle(h->api, &r->req, &r->resp);
		}
	}
	pr_info("%s %s %d %.1f ms\n", method, url, r->resp.status,
		(xcap_clock_ns(CLOCK_MONOTONIC) - r->start_ns) / 1e6);
	ret = send_answer(h, c, &r->resp);
	xcap_api_response_free(&r->resp);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **con_cls)
{
	struct http_req *r = *con_cls;

	(void)version;
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return MHD_NO;
		r->conn = c;
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
	return handle(cls, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct http_req *r = *con_cls;
	struct http_conn *hc;

	(void)cls;
	(void)toe;
	/* The next request on this connection has its own time. */
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	hc = ci ? ci->socket_context : NULL;
	if (hc) {
		hc->since_ns = xcap_clock_ns(CLOCK_MONOTONIC);
		hc->received = false;
	}
	if (r) {
		/* A worker's answer that was never sent: the daemon stopped, or the client left. */
		xcap_api_response_free(&r->resp);
		free(r->body);
		free(r);
		*con_cls = NULL;
	}
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	const struct sockaddr_in *a4 = (const void *)a, *b4 = (const void *)b;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET)
		return a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	return b->sa_family == AF_INET6 &&
	       !memcmp(&a6->sin6_addr, &b6->sin6_addr, sizeof(a6->sin6_addr));
}

/*
 * Before libmicrohttpd takes a connection: at most max_conns_per_ip from one
 * address, and the last quarter of max_conns only for an address without one.
 */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct xcap_http *h = cls;
	unsigned int mine = 0, reserved = h->max_conns / 4;
	struct http_conn *hc;

	(void)len;
	for (hc = h->conns.next; hc != &h->conns; hc = hc->next)
		mine += same_address(&hc->addr, addr);
	if (mine >= h->max_conns_per_ip || h->n_conns >= h->max_conns ||
	    (mine && h->n_conns >= h->max_conns - reserved)) {
		pr_debug("http: a connection refused: %u open, %u from its address\n", h->n_conns,
			 mine);
		return MHD_NO;
	}
	return MHD_YES;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	struct xcap_http *h = cls;
	struct http_conn *hc = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		if (!hc)
			return;
		hc->prev->next = hc->next;
		hc->next->prev = hc->prev;
		h->n_conns--;
		free(hc);
		*socket_context = NULL;
		return;
	}
	hc = calloc(1, sizeof(*hc));
	if (!hc)
		return; /* not counted: on_accept errs on the generous side */
	hc->conn = c;
	hc->since_ns = xcap_clock_ns(CLOCK_MONOTONIC);
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr)
		memcpy(&hc->addr, ci->client_addr,
		       ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
								sizeof(struct sockaddr_in));
	hc->next = &h->conns;
	hc->prev = h->conns.prev;
	h->conns.prev->next = hc;
	h->conns.prev = hc;
	h->n_conns++;
	*socket_context = hc;
}

/*
 * Connections that did not send a whole request in time are shut down:
 * libmicrohttpd reads the end of the stream next and closes them.
 */
static void close_slow(struct xcap_http *h)
{
	int64_t now = xcap_clock_ns(CLOCK_MONOTONIC);
	const union MHD_ConnectionInfo *ci;
	struct http_conn *hc;

	for (hc = h->conns.next; hc != &h->conns; hc = hc->next) {
		if (hc->received || hc->shut || now - hc->since_ns < h->request_timeout_ns)
			continue;
		ci = MHD_get_connection_info(hc->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (ci)
			shutdown(ci->connect_fd, SHUT_RDWR);
		hc->shut = true;
		pr_debug("http: a connection closed: no whole request within %lld s\n",
			 (long long)(h->request_timeout_ns / NSEC_PER_SEC));
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

/*
 * libmicrohttpd says only that it could not start: check the pair here, so that
 * an unusable file is named by its key before anything listens.
 */
static int check_tls_pair(const struct xcap_http *h, const struct xcap_http_opts *o)
{
	BIO *cb = BIO_new_mem_buf(h->cert, -1), *kb = BIO_new_mem_buf(h->key, -1);
	X509 *cert = cb ? PEM_read_bio_X509(cb, NULL, NULL, NULL) : NULL;
	EVP_PKEY *key = kb ? PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL) : NULL;
	int err = -EINVAL;

	if (!cert)
		pr_err("tls_cert: %s is not a PEM certificate\n", o->tls_cert);
	else if (!key)
		pr_err("tls_key: %s is not a PEM private key (without a passphrase)\n", o->tls_key);
	else if (X509_check_private_key(cert, key) != 1)
		pr_err("tls_key: %s is not the key of tls_cert %s\n", o->tls_key, o->tls_cert);
	else
		err = 0;
	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(kb);
	BIO_free(cb);
	return err;
}

static int load_tls(struct xcap_http *h, const struct xcap_http_opts *o)
{
	return load_pem("tls_cert", o->tls_cert, &h->cert)	?:
		       load_pem("tls_key", o->tls_key, &h->key) ?:
								  check_tls_pair(h, o);
}

static int watch(int epfd, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* One fd for the main loop: libmicrohttpd's sockets and the workers' wake-ups. */
static int start_wakeup(struct xcap_http *h)
{
	int err;

	h->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->wake_fd < 0)
		return -errno;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0)
		return -errno;
	err = watch(h->epfd, MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd);
	return err ?: watch(h->epfd, h->wake_fd);
}

static int start_workers(struct xcap_http *h)
{
	int err;

	while (h->n_workers < h->want_workers) {
		err = pthread_create(&h->workers[h->n_workers], NULL, worker, h);
		if (err) {
			pr_err("cannot start an HTTP worker: %s\n", strerror(err));
			return -err;
		}
		h->n_workers++;
	}
	return 0;
}

struct xcap_http *xcap_http_start(const struct xcap_http_opts *o, struct xcap_api *api)
{
	unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6, .sin6_port = htons(o->port) };
	struct sockaddr_in sa4 = { .sin_family = AF_INET, .sin_port = htons(o->port) };
	struct sockaddr *sa = (struct sockaddr *)&sa4;
	struct xcap_http *h;
	int err = -EINVAL;

	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->api = api;
	h->want_workers = o->workers ? o->workers : HTTP_WORKERS;
	if (h->want_workers > HTTP_WORKERS_MAX)
		h->want_workers = HTTP_WORKERS_MAX;
	h->queue_max = o->queue_max ? o->queue_max : HTTP_QUEUE_MAX;
	h->epfd = h->wake_fd = -1;
	h->tail = &h->head;
	h->conns.next = h->conns.prev = &h->conns;
	h->max_conns = o->max_conns ?: 512;
	h->max_conns_per_ip = o->max_conns_per_ip ?: h->max_conns;
	h->request_timeout_ns = (int64_t)(o->request_timeout_s ?: 10) * NSEC_PER_SEC;
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->queued, NULL);
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
		flags, o->port, on_accept, h, on_request, h, MHD_OPTION_SOCK_ADDR, sa,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h, MHD_OPTION_NOTIFY_CONNECTION,
		on_connection, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_CONNECTION_LIMIT,
		h->max_conns, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL,
		/* Without TLS the option list ends here. */
		h->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->cert,
		MHD_OPTION_HTTPS_MEM_KEY, h->key, MHD_OPTION_END);
	if (!h->mhd) {
		err = -EADDRINUSE;
		pr_err("cannot listen on %s port %u: the port is in use or not permitted\n",
		       o->addr, o->port);
		goto err;
	}
	err = start_wakeup(h) ?: start_workers(h);
	if (err)
		goto err;
	pr_info("listening on %s://%s%s%s:%u\n", h->cert ? "https" : "http",
		flags & MHD_USE_IPv6 ? "[" : "", o->addr, flags & MHD_USE_IPv6 ? "]" : "",
		xcap_http_port(h));
	return h;
err:
	xcap_http_stop(h);
	errno = -err;
	return NULL;
}

/*
 * Requests on a worker end first (the S3 timeouts bound them): their handlers
 * use the API, which is freed after this. Then every connection still
 * suspended is resumed, as MHD_stop_daemon requires, and closed unanswered.
 */
void xcap_http_stop(struct xcap_http *h)
{
	struct http_req *r;
	unsigned int i;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	h->stopping = true;
	pthread_cond_broadcast(&h->queued);
	if (h->running)
		pr_info("waiting for %u request(s) to a bucket to end\n", h->running);
	pthread_mutex_unlock(&h->lock);
	for (i = 0; i < h->n_workers; i++)
		pthread_join(h->workers[i], NULL);
	for (r = h->head; r; r = r->next)
		MHD_resume_connection(r->conn);
	h->closing = true;
	poll_streams(h, true);
	if (h->mhd)
		MHD_stop_daemon(h->mhd);
	if (h->epfd >= 0)
		close(h->epfd);
	if (h->wake_fd >= 0)
		close(h->wake_fd);
	pthread_cond_destroy(&h->queued);
	pthread_mutex_destroy(&h->lock);
	free(h->cert);
	free(h->key);
	free(h);
}

int xcap_http_epoll_fd(const struct xcap_http *h)
{
	return h->epfd;
}

uint16_t xcap_http_port(const struct xcap_http *h)
{
	return MHD_get_daemon_info(h->mhd, MHD_DAEMON_INFO_BIND_PORT)->port;
}

int xcap_http_timeout_ms(struct xcap_http *h)
{
	MHD_UNSIGNED_LONG_LONG ms = 1000;
	int64_t next;

	if (MHD_get_timeout(h->mhd, &ms) != MHD_YES && !h->idle)
		return -1;
	if (h->idle) {
		next = (h->polled_ns - xcap_clock_ns(CLOCK_MONOTONIC)) / 1000000 + STREAM_POLL_MS;
		if ((MHD_UNSIGNED_LONG_LONG)(next > 0 ? next : 0) < ms)
			ms = next > 0 ? next : 0;
	}
	return ms > 1000 ? 1000 : (int)ms;
}

int xcap_http_run(struct xcap_http *h)
{
	eventfd_t n;

	/* Read before MHD_run: a wake-up that comes during it stays for the next turn. */
	(void)eventfd_read(h->wake_fd, &n);
	close_slow(h);
	poll_streams(h, false);
	return MHD_run(h->mhd) == MHD_YES ? 0 : -EIO;
}
