// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: the HTTP transport (http.c) on 127.0.0.1, a free port, driven
 * with raw sockets from the test thread while a thread of the test runs the
 * loop as xcapd does (poll xcap_http_epoll_fd, then xcap_http_run). Behind it
 * is the real API on an in-memory store and the jobs over a fake runner.
 * Bucket add is the route that runs on the workers: the store holds its puts
 * (store_mem_hold_bucket_puts) for as long as a test wants a peer that never
 * answers, so what is running, queued or refused is known exactly.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <json-c/json.h>
#include "common/log.h"
#include "runner_fake.h"
#include "server/api.h"
#include "server/http.h"
#include "server/jobs.h"
#include "store_mem.h"
#include "test.h"

#define ACC_A "acca"
#define TOK_W "token-write-a"
#define TOK_R "token-read-a"
#define BASE "/client/v4/accounts/"
#define PCAPS BASE ACC_A "/pcaps"
#define OWNERSHIP BASE ACC_A "/pcaps/ownership"

/* http.c's HTTP_WORKERS and HTTP_QUEUE_MAX, written out: the test pins them. */
#define WORKERS 4
#define QUEUE_MAX 8
#define WAIT_MS 10000 /* every wait of a test is bounded by this */

#define CHECK_STR(got, want) CHECK(!strcmp(got, want), "got '%s', want '%s'", got, want)

/* The service on its seams, and the thread that runs its loop. */
struct env {
	struct xcap_config cfg;
	struct store_mem *store;
	struct runner_fake *runner;
	struct xcap_jobs *jobs;
	struct xcap_api *api;
	struct xcap_http *http;
	int64_t now;
	uint16_t port;
	int stop_fd; /* eventfd: the loop thread ends */
	pthread_t loop;
	bool looping;
	char bucket[PATH_MAX];
	char add_body[PATH_MAX + 64]; /* a bucket add of the file:// bucket */
};

static struct env *env;

static void add_token(struct xcap_config *cfg, const char *token, bool write, int account)
{
	struct xcap_credential *cr = &cfg->creds[cfg->n_creds++];

	snprintf(cr->secret, sizeof(cr->secret), "%s", token);
	cr->write = write;
	cr->accounts = 1ULL << account;
}

/* xcapd's main loop, without signals and jobs ticks. */
static void *loop_main(void *arg)
{
	struct env *e = arg;
	struct pollfd fds[2] = {
		{ .fd = xcap_http_epoll_fd(e->http), .events = POLLIN },
		{ .fd = e->stop_fd, .events = POLLIN },
	};
	int timeout;

	for (;;) {
		timeout = xcap_http_timeout_ms(e->http);
		if (poll(fds, 2, timeout < 0 || timeout > 100 ? 100 : timeout) < 0 &&
		    errno != EINTR)
			return NULL;
		if (fds[1].revents)
			return NULL;
		xcap_http_run(e->http);
	}
}

static int env_start(const char *name)
{
	struct xcap_http_opts ho = { .addr = "127.0.0.1", .port = 0 };
	char dir[PATH_MAX];

	env = calloc(1, sizeof(*env));
	if (!env)
		return -1;
	env->stop_fd = -1;
	xcap_config_init(&env->cfg);
	env->cfg.n_accounts = 1;
	snprintf(env->cfg.accounts[0].id, sizeof(env->cfg.accounts[0].id), ACC_A);
	env->cfg.accounts[0].simple_per_minute = 100;
	add_token(&env->cfg, TOK_W, true, 0);
	add_token(&env->cfg, TOK_R, false, 0);
	test_path(dir, sizeof(dir), name);
	mkdir(dir, 0700);
	snprintf(env->cfg.state_dir, sizeof(env->cfg.state_dir), "%s/state", dir);
	mkdir(env->cfg.state_dir, 0700);
	snprintf(env->bucket, sizeof(env->bucket), "%s/bucket", dir);
	mkdir(env->bucket, 0700);
	/* The bucket's folder is the one bucket root (what xcap_config_make_state finds). */
	snprintf(env->cfg.file_bucket_roots[0], PATH_MAX, "%s", env->bucket);
	if (!realpath(env->bucket, env->cfg.file_bucket_real[0]))
		return -1;
	env->cfg.n_roots = 1;
	snprintf(env->add_body, sizeof(env->add_body), "{\"destination_conf\":\"file://%s\"}",
		 env->bucket);
	env->store = store_mem_new(&env->cfg);
	env->runner = runner_fake_new(&env->now);
	if (env->store && env->runner)
		env->jobs = xcap_jobs_new(&env->cfg, &env->store->base, &env->runner->base);
	if (env->jobs)
		env->api = xcap_api_new(&env->cfg, &env->store->base, env->jobs);
	if (env->api)
		env->http = xcap_http_start(&ho, env->api);
	if (!env->http)
		return -1;
	env->port = xcap_http_port(env->http);
	env->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (env->stop_fd < 0 || pthread_create(&env->loop, NULL, loop_main, env))
		return -1;
	env->looping = true;
	return 0;
}

/* Ends the loop thread, as xcapd's loop ends on a signal. */
static void env_stop_loop(void)
{
	if (!env->looping)
		return;
	eventfd_write(env->stop_fd, 1);
	pthread_join(env->loop, NULL);
	env->looping = false;
}

static void env_stop(void)
{
	if (!env)
		return;
	/* A test that failed with puts held must not hang the stop. */
	if (env->store)
		store_mem_release_puts(env->store);
	env_stop_loop();
	xcap_http_stop(env->http);
	xcap_api_free(env->api);
	xcap_jobs_free(env->jobs);
	xcap_runner_free(env->runner ? &env->runner->base : NULL);
	xcap_store_close(env->store ? &env->store->base : NULL);
	if (env->stop_fd >= 0)
		close(env->stop_fd);
	free(env);
	env = NULL;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Polls cond every millisecond for ms at most; its last value. */
#define WAIT_FOR_MS(cond, ms)                               \
	({                                                  \
		int64_t end_ = mono_ms() + (ms);            \
		bool ok_;                                   \
                                                            \
		while (!(ok_ = (cond)) && mono_ms() < end_) \
			usleep(1000);                       \
		ok_;                                        \
	})
#define WAIT_FOR(cond) WAIT_FOR_MS(cond, WAIT_MS)

/* --- a raw HTTP/1.1 client --- */

static int client_connect(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(env->port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		CHECK(0, "connect to port %u: %s", env->port, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static bool send_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			CHECK(0, "send: %s", strerror(errno));
			return false;
		}
		buf += n;
		len -= n;
	}
	return true;
}

/* A request's text; the server closes the connection after answering it. */
static char *request_text(const char *method, const char *path, const char *token, const char *body,
			  size_t *len)
{
	size_t body_len = body ? strlen(body) : 0;
	char *text = NULL, auth[128] = "";
	FILE *f = open_memstream(&text, len);

	if (!f)
		return NULL;
	if (token)
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n", token);
	fprintf(f, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s", method, path,
		auth);
	if (body)
		fprintf(f, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			body_len, body);
	else
		fputs("\r\n", f);
	return fclose(f) ? NULL : text;
}

/* Connects and sends one request whole; the socket, or -1 (the test failed). */
static int send_request(const char *method, const char *path, const char *token, const char *body)
{
	size_t len;
	char *text = request_text(method, path, token, body, &len);
	int fd = text ? client_connect() : -1;

	if (fd >= 0 && !send_all(fd, text, len)) {
		close(fd);
		fd = -1;
	}
	free(text);
	return fd;
}

/* An answer: status 0 when the server closed without one. */
struct reply {
	int status;
	char *raw; /* status line, headers and body, NUL-terminated */
	size_t len;
	const char *body;
	json_object *doc;
};

static void reply_free(struct reply *r)
{
	json_object_put(r->doc);
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

/* Reads until the server closes (WAIT_MS at most), then parses what came. */
static void read_reply(int fd, struct reply *r)
{
	int64_t end = mono_ms() + WAIT_MS;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t cap = 0;
	ssize_t n;
	char *sep;

	memset(r, 0, sizeof(*r));
	for (;;) {
		if (cap - r->len < 4097) {
			cap = cap ? 2 * cap : 8192;
			r->raw = realloc(r->raw, cap);
			if (!r->raw)
				return;
		}
		if (poll(&p, 1, (int)(end - mono_ms() > 0 ? end - mono_ms() : 0)) <= 0) {
			CHECK(0, "no end of the answer within %d ms", WAIT_MS);
			break;
		}
		n = recv(fd, r->raw + r->len, cap - r->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* closed (a reset counts as closed) */
		r->len += n;
	}
	r->raw[r->len] = '\0';
	close(fd);
	if (sscanf(r->raw, "HTTP/1.1 %d ", &r->status) != 1)
		r->status = 0;
	sep = strstr(r->raw, "\r\n\r\n");
	r->body = sep ? sep + 4 : "";
	if (r->status && *r->body)
		r->doc = json_tokener_parse(r->body);
}

/* One request whole, and its answer. */
static void call(struct reply *r, const char *method, const char *path, const char *token,
		 const char *body)
{
	int fd = send_request(method, path, token, body);

	memset(r, 0, sizeof(*r));
	if (fd >= 0)
		read_reply(fd, r);
}

/* True when the server sent nothing on fd yet (and has not closed it). */
static bool no_answer_yet(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);

	return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* The value of a response header ("" when absent), in buf. */
static const char *header_of(const struct reply *r, const char *name, char *buf, size_t size)
{
	const char *p = r->raw, *end = r->body;
	size_t n = strlen(name);

	buf[0] = '\0';
	while (p && p < end && (p = strstr(p, "\r\n")) && p < end) {
		p += 2;
		if (!strncasecmp(p, name, n) && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			snprintf(buf, size, "%.*s", (int)strcspn(p, "\r"), p);
			break;
		}
	}
	return buf;
}

static json_object *get(json_object *o, const char *key)
{
	json_object *v = NULL;

	json_object_object_get_ex(o, key, &v);
	return v;
}

/* The length of an array, or -1 for anything else (json-c asserts on those). */
static int array_len(json_object *o)
{
	return json_object_is_type(o, json_type_array) ? (int)json_object_array_length(o) : -1;
}

/* Item idx of an array, or NULL for anything else. */
static json_object *item(json_object *o, int idx)
{
	return idx < array_len(o) ? json_object_array_get_idx(o, idx) : NULL;
}

static const char *get_str(json_object *o, const char *key)
{
	return json_object_get_string(get(o, key)) ?: "";
}

/* The failure envelope with one error: code and (unless NULL) source.pointer. */
static void check_failure(const struct reply *r, int status, int code, const char *pointer)
{
	json_object *err = item(get(r->doc, "errors"), 0);
	char ct[64];

	CHECK_EQ(r->status, status);
	CHECK_STR(header_of(r, "Content-Type", ct, sizeof(ct)), "application/json");
	CHECK(r->doc, "no JSON body: %s", r->raw ?: "(nothing)");
	if (!r->doc)
		return;
	CHECK(json_object_is_type(get(r->doc, "success"), json_type_boolean) &&
		      !json_object_get_boolean(get(r->doc, "success")),
	      "success is not false");
	CHECK(json_object_object_get_ex(r->doc, "result", NULL) && !get(r->doc, "result"),
	      "result is not null");
	CHECK_EQ(array_len(get(r->doc, "errors")), 1);
	CHECK_EQ(json_object_get_int(get(err, "code")), code);
	if (pointer)
		CHECK_STR(get_str(get(err, "source"), "pointer"), pointer);
}

/* A bucket add's answer: 200 with a pending bucket of the test's folder. */
static void check_bucket_added(const struct reply *r)
{
	json_object *res = get(r->doc, "result");

	CHECK_EQ(r->status, 200);
	CHECK(json_object_get_boolean(get(r->doc, "success")), "success is not true");
	CHECK_STR(get_str(res, "status"), "pending");
	CHECK(!strncmp(get_str(res, "filename"), "ownership-challenge-", 20), "filename '%s'",
	      get_str(res, "filename"));
}

/* Sends n bucket adds, each on its own connection, into fds. */
static void send_bucket_adds(int *fds, int n)
{
	int i;

	for (i = 0; i < n; i++)
		fds[i] = send_request("POST", OWNERSHIP, TOK_W, env->add_body);
}

/* Holds every worker with a bucket add (into fds[0..WORKERS)) that waits at the store. */
static bool hold_all_workers(int *fds)
{
	bool ok;

	store_mem_hold_bucket_puts(env->store);
	send_bucket_adds(fds, WORKERS);
	ok = WAIT_FOR(store_mem_puts_held(env->store) == WORKERS);
	CHECK(ok, "%d handlers run, want %d", store_mem_puts_held(env->store), WORKERS);
	return ok;
}

/*
 * With every worker held: sends QUEUE_MAX + 1 bucket adds (into
 * fds[0..QUEUE_MAX]). QUEUE_MAX are queued and one is answered at once; which
 * one depends on the order the loop reads them. That answer goes to *refused
 * and its fd is set to -1: once it came, QUEUE_MAX requests are queued.
 */
static bool fill_the_queue(int *fds, struct reply *refused)
{
	struct pollfd p[QUEUE_MAX + 1];
	int i, ready;

	memset(refused, 0, sizeof(*refused));
	send_bucket_adds(fds, QUEUE_MAX + 1);
	for (i = 0; i < QUEUE_MAX + 1; i++)
		p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
	ready = poll(p, QUEUE_MAX + 1, WAIT_MS);
	CHECK(ready == 1, "%d answers while every worker waits, want 1", ready);
	for (i = 0; i < QUEUE_MAX + 1; i++) {
		if (p[i].revents) {
			read_reply(fds[i], refused);
			fds[i] = -1;
			return ready == 1;
		}
	}
	return false;
}

/* Releases the held bucket puts and reads the answers of fds[0..n) that were not read. */
static void release_and_check_added(int *fds, int n)
{
	struct reply r;
	int i;

	store_mem_release_puts(env->store);
	for (i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		read_reply(fds[i], &r);
		check_bucket_added(&r);
		reply_free(&r);
	}
}

/* --- the tests --- */

static void a_request_is_answered_with_the_envelope(void)
{
	struct reply r;
	char ct[64];

	call(&r, "GET", PCAPS, TOK_R, NULL);
	CHECK_EQ(r.status, 200);
	CHECK_STR(header_of(&r, "Content-Type", ct, sizeof(ct)), "application/json");
	CHECK_STR(r.body, "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":[],"
			  "\"result_info\":{\"page\":1,\"per_page\":50,\"count\":0,"
			  "\"total_count\":0}}");
	reply_free(&r);
}

static void a_405_carries_the_allow_header(void)
{
	struct reply r;
	char allow[64];

	call(&r, "DELETE", PCAPS, TOK_W, NULL);
	check_failure(&r, 405, 10405, NULL);
	CHECK_STR(header_of(&r, "Allow", allow, sizeof(allow)), "GET, POST");
	reply_free(&r);
	call(&r, "GET", PCAPS, TOK_W, NULL);
	CHECK_STR(header_of(&r, "Allow", allow, sizeof(allow)), "");
	reply_free(&r);
}

/* Decoded, %2F would be a separator and route to download (404 1404); kept, the id is malformed. */
static void an_escaped_slash_is_not_a_path_separator(void)
{
	struct reply r;

	call(&r, "GET", PCAPS "/abc%2Fdownload", TOK_R, NULL);
	check_failure(&r, 400, 7003, NULL);
	reply_free(&r);
}

/* {"type":"simple"} padded with spaces to `size` bytes. */
static char *padded_body(size_t size)
{
	static const char json[] = "{\"system\":\"magic-transit\"}";
	char *body = malloc(size + 1);

	if (body) {
		memset(body, ' ', size);
		memcpy(body, json, strlen(json));
		body[size] = '\0';
	}
	return body;
}

/* 65536 bytes are kept whole: the JSON is parsed and validated (type is missing). */
static void a_body_of_exactly_64_kib_is_read(void)
{
	char *body = padded_body(65536);
	struct reply r;

	if (!body)
		return;
	call(&r, "POST", PCAPS, TOK_W, body);
	check_failure(&r, 400, 1005, "/type");
	reply_free(&r);
	free(body);
}

static void a_body_over_64_kib_is_answered_413_with_the_envelope(void)
{
	char *body = padded_body(65537);
	json_object *err;
	struct reply r;

	if (!body)
		return;
	call(&r, "POST", PCAPS, TOK_W, body);
	check_failure(&r, 413, 1001, NULL);
	err = item(get(r.doc, "errors"), 0);
	CHECK_STR(get_str(err, "message"), "request body is larger than 65536 bytes");
	CHECK(!get(err, "source"), "a source without a member");
	reply_free(&r);
	free(body);
	CHECK_EQ(env->store->capture_puts, 0);
}

/* The limit counts the body across chunks: 70 chunks of 1000 bytes. */
static void a_chunked_body_over_64_kib_is_answered_413(void)
{
	static const char head[] = "POST " PCAPS " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				   "Connection: close\r\nAuthorization: Bearer " TOK_W "\r\n"
				   "Content-Type: application/json\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	char chunk[1000 + 16];
	struct reply r;
	int fd = client_connect(), i;

	if (fd < 0)
		return;
	memcpy(chunk, "3e8\r\n", 5);
	memset(chunk + 5, ' ', 1000);
	memcpy(chunk + 1005, "\r\n", 2);
	send_all(fd, head, strlen(head));
	for (i = 0; i < 70; i++)
		send_all(fd, chunk, 1007);
	send_all(fd, "0\r\n\r\n", 5);
	read_reply(fd, &r);
	check_failure(&r, 413, 1001, NULL);
	reply_free(&r);
}

/*
 * Headers beyond libmicrohttpd's connection memory (32 KiB by default, which
 * http.c keeps) are refused by libmicrohttpd itself, before the API; the
 * server goes on answering.
 */
static void headers_over_32_kib_are_refused_and_the_server_goes_on(void)
{
	size_t fill = 40 * 1024;
	char *text = malloc(fill + 256);
	struct reply r;
	int fd, n;

	if (!text)
		return;
	n = snprintf(text, 256,
		     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Fill: ", PCAPS);
	memset(text + n, 'a', fill);
	memcpy(text + n + fill, "\r\n\r\n", 5);
	fd = client_connect();
	if (fd >= 0) {
		send_all(fd, text, strlen(text));
		read_reply(fd, &r);
		CHECK_EQ(r.status, 431);
		reply_free(&r);
	}
	free(text);
	call(&r, "GET", PCAPS, TOK_R, NULL);
	CHECK_EQ(r.status, 200);
	reply_free(&r);
}

/* A create sent one byte per write (TCP_NODELAY, paced): the same answer as sent at once. */
static void a_request_in_one_byte_writes_is_answered(void)
{
	const char *body = "{\"type\":\"simple\",\"system\":\"magic-transit\",\"time_limit\":10,"
			   "\"packet_limit\":10}";
	struct reply r;
	size_t len, i;
	char *text = request_text("POST", PCAPS, TOK_W, body, &len);
	int fd = text ? client_connect() : -1;

	env->runner->query_packets = 3;
	for (i = 0; fd >= 0 && i < len; i++) {
		if (!send_all(fd, text + i, 1))
			break;
		usleep(200); /* pacing, so that the server reads the request in pieces */
	}
	if (fd >= 0) {
		read_reply(fd, &r);
		CHECK_EQ(r.status, 200);
		CHECK_STR(get_str(get(r.doc, "result"), "status"), "success");
		CHECK_EQ(json_object_get_int(get(get(r.doc, "result"), "packets_captured")), 3);
		reply_free(&r);
	}
	free(text);
}

static void a_bucket_add_runs_on_a_worker_and_its_answer_arrives(void)
{
	struct reply r;
	int fd;

	store_mem_hold_bucket_puts(env->store);
	fd = send_request("POST", OWNERSHIP, TOK_W, env->add_body);
	if (fd < 0)
		return;
	CHECK(WAIT_FOR(store_mem_puts_held(env->store) == 1), "the handler never ran");
	CHECK(no_answer_yet(fd), "answered while its handler waits");
	store_mem_release_puts(env->store);
	read_reply(fd, &r);
	check_bucket_added(&r);
	reply_free(&r);
	CHECK_EQ(store_mem_n_buckets(env->store), 1);
}

/* Every worker waits on its peer: the main loop answers the other routes meanwhile. */
static void other_requests_are_answered_while_every_worker_waits(void)
{
	int fds[WORKERS], i;
	struct reply r;

	memset(fds, -1, sizeof(fds));
	if (!hold_all_workers(fds))
		return;
	call(&r, "GET", PCAPS, TOK_R, NULL);
	CHECK_EQ(r.status, 200);
	reply_free(&r);
	call(&r, "GET", OWNERSHIP, TOK_R, NULL);
	CHECK_EQ(r.status, 200);
	CHECK_EQ(array_len(get(r.doc, "result")), 0);
	reply_free(&r);
	for (i = 0; i < WORKERS; i++)
		CHECK(fds[i] < 0 || no_answer_yet(fds[i]), "add %d answered while held", i);
	release_and_check_added(fds, WORKERS);
	CHECK_EQ(store_mem_n_buckets(env->store), WORKERS);
}

/*
 * 4 running and 8 queued: one more bucket add is answered 503 (1023,
 * Retry-After: 5) at once, while every worker still waits; the others are
 * answered once their peer is.
 */
static void a_full_worker_queue_is_answered_503_at_once(void)
{
	int fds[WORKERS + QUEUE_MAX + 1], i;
	struct reply r = {};
	char retry[16];

	memset(fds, -1, sizeof(fds));
	if (!hold_all_workers(fds) || !fill_the_queue(fds + WORKERS, &r))
		goto out;
	check_failure(&r, 503, 1023, NULL);
	CHECK_STR(header_of(&r, "Retry-After", retry, sizeof(retry)), "5");
	CHECK_EQ(store_mem_puts_held(env->store), WORKERS);
	for (i = 0; i < (int)ARRAY_SIZE(fds); i++)
		CHECK(fds[i] < 0 || no_answer_yet(fds[i]), "add %d answered while held", i);
out:
	reply_free(&r);
	release_and_check_added(fds, ARRAY_SIZE(fds));
	/*
	 * The held adds each made a record (none was stored yet); a queued one runs
	 * once its worker stored its own, and answers that record (add is idempotent).
	 */
	CHECK_EQ(store_mem_n_buckets(env->store), WORKERS);
}

/* A refused bucket add never takes a worker: with none free it is still a 403, not a 503. */
static void credentials_are_checked_before_a_worker_is_needed(void)
{
	int fds[WORKERS + QUEUE_MAX + 1];
	struct reply r = {};

	memset(fds, -1, sizeof(fds));
	if (!hold_all_workers(fds) || !fill_the_queue(fds + WORKERS, &r))
		goto out;
	reply_free(&r);
	call(&r, "POST", OWNERSHIP, "no-such-token", env->add_body);
	check_failure(&r, 403, 9109, NULL);
	reply_free(&r);
	call(&r, "POST", OWNERSHIP, TOK_R, env->add_body);
	check_failure(&r, 403, 10000, NULL);
out:
	reply_free(&r);
	release_and_check_added(fds, ARRAY_SIZE(fds));
}

/* xcap_http_stop on another thread, so that the test can release what it waits for. */
static void *stopper(void *arg)
{
	(void)arg;
	xcap_http_stop(env->http);
	__atomic_store_n(&env->http, NULL, __ATOMIC_RELEASE);
	return NULL;
}

/* What a log line said, from stderr sent to a file while the test runs. */
static bool log_has(const char *path, const char *text)
{
	char buf[8192];
	size_t n = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return strstr(buf, text);
}

/*
 * Stop with 4 bucket adds on the workers and 8 queued: it waits for the 4
 * handlers to end (their buckets are stored when it returns), runs none of
 * the queued ones, and every connection is closed without an answer.
 */
static void stop_waits_for_running_handlers_and_drops_queued_ones(void)
{
	int fds[WORKERS + QUEUE_MAX + 1], i, saved_err = -1, fd;
	char log_path[PATH_MAX];
	struct reply r = {};
	bool stopping;
	pthread_t t;

	memset(fds, -1, sizeof(fds));
	if (!hold_all_workers(fds) || !fill_the_queue(fds + WORKERS, &r))
		goto out;
	reply_free(&r);
	env_stop_loop(); /* as xcapd's loop ends on SIGTERM */
	/* The stop says that it waits (the only sign of it): stderr goes to a file meanwhile. */
	test_path(log_path, sizeof(log_path), "stop.log");
	fflush(stderr);
	saved_err = dup(STDERR_FILENO);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (saved_err < 0 || fd < 0 || dup2(fd, STDERR_FILENO) < 0) {
		CHECK(0, "cannot send stderr to %s", log_path);
		goto out;
	}
	close(fd);
	xcap_log_set_level(XCAP_LOG_INFO);
	if (pthread_create(&t, NULL, stopper, NULL)) {
		CHECK(0, "cannot start the stopping thread");
		goto out;
	}
	stopping = WAIT_FOR(log_has(log_path, "waiting for 4 request(s) to a bucket to end"));
	CHECK(stopping, "the stop did not say that it waits for 4 requests");
	/* It cannot end before the release; 100 ms to see one that does not wait. */
	CHECK(!WAIT_FOR_MS(!__atomic_load_n(&env->http, __ATOMIC_ACQUIRE), 100),
	      "the stop returned while 4 handlers still ran");
	CHECK_EQ(store_mem_n_buckets(env->store), 0);
	store_mem_release_puts(env->store);
	pthread_join(t, NULL);
	CHECK_EQ(store_mem_n_buckets(env->store), WORKERS);
	for (i = 0; i < (int)ARRAY_SIZE(fds); i++) {
		if (fds[i] < 0)
			continue;
		read_reply(fds[i], &r);
		fds[i] = -1;
		CHECK(!r.len, "request %d got %zu bytes: %.40s", i, r.len, r.raw);
		reply_free(&r);
	}
out:
	xcap_log_set_level(XCAP_LOG_ERR);
	if (saved_err >= 0) {
		fflush(stderr);
		dup2(saved_err, STDERR_FILENO);
		close(saved_err);
	}
	for (i = 0; i < (int)ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Each test on a fresh server: no state leaks from one to the next. */
#define RUN_HTTP_TEST(fn)                                                         \
	do {                                                                      \
		if (env_start(#fn)) {                                             \
			printf("not ok - %s: cannot start the server: %s\n", #fn, \
			       strerror(errno));                                  \
			tests_failed_total++;                                     \
			env_stop();                                               \
			break;                                                    \
		}                                                                 \
		RUN_TEST(fn);                                                     \
		env_stop();                                                       \
	} while (0)

int main(void)
{
	if (test_tmpdir_init("http"))
		return 1;
	xcap_log_set_level(XCAP_LOG_ERR);
	RUN_HTTP_TEST(a_request_is_answered_with_the_envelope);
	RUN_HTTP_TEST(a_405_carries_the_allow_header);
	RUN_HTTP_TEST(an_escaped_slash_is_not_a_path_separator);
	RUN_HTTP_TEST(a_body_of_exactly_64_kib_is_read);
	RUN_HTTP_TEST(a_body_over_64_kib_is_answered_413_with_the_envelope);
	RUN_HTTP_TEST(a_chunked_body_over_64_kib_is_answered_413);
	RUN_HTTP_TEST(headers_over_32_kib_are_refused_and_the_server_goes_on);
	RUN_HTTP_TEST(a_request_in_one_byte_writes_is_answered);
	RUN_HTTP_TEST(a_bucket_add_runs_on_a_worker_and_its_answer_arrives);
	RUN_HTTP_TEST(other_requests_are_answered_while_every_worker_waits);
	RUN_HTTP_TEST(a_full_worker_queue_is_answered_503_at_once);
	RUN_HTTP_TEST(credentials_are_checked_before_a_worker_is_needed);
	RUN_HTTP_TEST(stop_waits_for_running_handlers_and_drops_queued_ones);
	return tests_failed_total ? 1 : 0;
}
