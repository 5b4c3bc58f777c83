// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: the API's request handling, xcap_api_handle() (api.c),
 * with routing, authentication, validation and the handlers, on a real config
 * (loaded from a file), a real store (SQLite in a scratch folder) and jobs
 * on a local runner without engine or recorder (full captures fail with "no
 * interface", simple ones are stored failed), exactly as xcapd wires them,
 * without a socket.
 *
 * Input (text, one request):
 *   METHOD SP PATH LF
 *   header lines, each "X:value" LF with X one of A (Authorization),
 *     E (X-Auth-Email), K (X-Auth-Key), C (Content-Type); a line "T" marks the
 *     body as too large (as http.c does past XCAP_API_BODY_MAX bytes)
 *   LF
 *   body (any bytes; "@B" stands for the file:// bucket folder's path)
 * The config (below) has accounts a1 and b2 and the credentials that the
 * seeds in tests/data/fuzz/api/ use; every reset the store is seeded with
 * captures c1..c4 and buckets k1..k3.
 *
 * Invariants of every answer:
 *   - status 200..599, never 500 (the store is healthy: a 500 is a bug);
 *   - 204: no body; a pcap: 200 and the pcap magic; /metrics: text;
 *   - else a JSON object (strict parse, valid UTF-8) with success, errors,
 *     messages and result; success is status < 400; a failure has errors[]
 *     of {code >= 1000, message}; Retry-After with 429 only, Allow with 405 only;
 *   - a 2xx needs a known credential with access to the path's account, and
 *     write permission for POST, PUT and DELETE;
 *   - nothing is stored for a refused request (a failed ownership challenge
 *     excepted: it records the failure, by design);
 *   - no answer shows a configured secret (tokens, keys, S3 keys, an r2://
 *     secret of a stored bucket) that the request did not itself contain;
 *   - a created capture can be read back with GET.
 * Sandbox: curl_easy_perform is replaced below (it always fails to connect),
 * so s3:// and r2:// buckets never reach the network; the scratch folder is
 * the one file_bucket_root, and open() refuses to create or write files
 * outside it besides.
 *
 * State is kept between inputs for speed and reset every XCAP_FUZZ_RESET
 * inputs (default 100): set XCAP_FUZZ_RESET=1 to reproduce an input alone,
 * XCAP_FUZZ_PRINT=1 to see each request and its answer.
 */
#define _GNU_SOURCE /* memmem */
#include <dlfcn.h>
#include <stdarg.h>
#include <strings.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include "server/api.h"
#include "server/config.h"
#include "fuzz_common.h"
#include "server/jobs.h"
#include "server/runner.h"
#include "agent/pcap.h"
#include "xcap_abi.h"
#include "server/store.h"

#define TOKEN_W "fuzz-write-token-a1b2"
#define TOKEN_R "fuzz-read-token-a1"
#define TOKEN_B "fuzz-write-token-b2"
#define EMAIL "ops@example.com"
#define KEY_W "fuzz-key-a1-write"
#define S3_ID "AKIAFUZZB2KEYID"
#define S3_SECRET "fuzzb2secretaccesskey0123456789"
#define R2_ID "AKIDFUZZR2ID42"
#define R2_SECRET "fuzzr2secretvalue987654321"

static const char *const secrets[] = { TOKEN_W, TOKEN_R,   TOKEN_B, KEY_W,
				       S3_ID,	S3_SECRET, R2_ID,   R2_SECRET };

static char top[PATH_MAX], state_dir[PATH_MAX + 16], bucket_dir[PATH_MAX + 16];
static struct xcap_config *cfg;
static struct xcap_store *store;
static struct xcap_runner *runner;
static struct xcap_jobs *jobs;
static struct xcap_api *api;
static unsigned long runs, reset_every = 100;
static bool print_answers; /* XCAP_FUZZ_PRINT=1: each request and its answer on stderr */

/*
 * No file created outside the scratch folder: a fuzzed file:///DIR bucket would otherwise
 * get its challenge file written into any folder of the machine (as root, in CI). Every
 * open() that may create or write a file is refused (EACCES, as on a read-only folder)
 * unless its folder resolves inside the scratch folder.
 */
static char top_real[PATH_MAX];
static unsigned long writes_refused;

static bool inside_top(const char *path)
{
	char dir[PATH_MAX], real[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0, t = strlen(top_real);

	if (!slash || path[0] != '/' || n >= sizeof(dir))
		return false;
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (!realpath(n ? dir : "/", real))
		return false;
	return !strncmp(real, top_real, t) && (real[t] == '/' || !real[t]);
}

int open(const char *path, int flags, ...)
{
	static int (*real_open)(const char *, int, ...);
	mode_t mode = 0;
	va_list ap;

	bool creates = (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;

	if (creates) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (top_real[0] && (creates || (flags & (O_WRONLY | O_RDWR | O_TRUNC))) &&
	    !inside_top(path)) {
		writes_refused++;
		errno = EACCES;
		return -1;
	}
	if (!real_open)
		real_open = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	return real_open(path, flags, mode);
}

/* No network while fuzzing: every S3 request fails to connect, at once. */
CURLcode curl_easy_perform(CURL *curl)
{
	(void)curl;
	return CURLE_COULDNT_CONNECT;
}

static void seed_store(void)
{
	struct xcap_capture_rec c = {
		.account = "a1",
		.type = XCAP_TYPE_SIMPLE,
		.status = XCAP_ST_SUCCESS,
		.submitted_ns = 1700000000000000000LL,
		.time_limit = 60,
		.packet_limit = 10,
		.offset_time_ns = 1700000000000000000LL,
		.filter_json = "{\"protocol\":17}",
		.packets_captured = 2,
		.bytes_captured = 120,
		.packets_matched = 2,
	};
	struct xcap_bucket_rec b = {
		.account = "a1",
		.filename = "ownership-challenge-k1.txt",
		.token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		.status = XCAP_BUCKET_SUCCESS,
		.submitted_ns = 1700000000000000000LL,
		.validated_ns = 1700000001000000000LL,
	};
	static const uint8_t frame[60] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2,
					   0,	 0,    0,    0,	   1,	 0x08, 0x00 };
	char path[PATH_MAX + 64];
	struct xcap_pcap *p;
	int err = 0;

	/* c1: a simple capture with its file; c2: failed; c3, c4: full, ended. */
	snprintf(c.id, sizeof(c.id), "c1");
	err |= xcap_store_capture_put(store, &c);
	snprintf(path, sizeof(path), "%s/simple/c1.pcap", state_dir);
	p = xcap_pcap_open(path, XCAP_SAMPLE_BYTES);
	if (!p)
		abort();
	xcap_pcap_write(p, 1700000000000000000ULL, frame, 60, 60);
	xcap_pcap_write(p, 1700000000500000000ULL, frame, 60, 1500);
	err |= xcap_pcap_close(p);
	snprintf(c.id, sizeof(c.id), "c2");
	c.status = XCAP_ST_FAILED;
	snprintf(c.error_message, sizeof(c.error_message), "no sampled packet matched");
	err |= xcap_store_capture_put(store, &c);
	c.type = XCAP_TYPE_FULL;
	c.status = XCAP_ST_COMPLETE;
	c.error_message[0] = '\0';
	snprintf(c.colo_name, sizeof(c.colo_name), "local");
	snprintf(c.destination_conf, sizeof(c.destination_conf), "file://%s", bucket_dir);
	snprintf(c.id, sizeof(c.id), "c3");
	err |= xcap_store_capture_put(store, &c);
	c.status = XCAP_ST_FAILED;
	snprintf(c.id, sizeof(c.id), "c4");
	err |= xcap_store_capture_put(store, &c);

	/* k1: the validated file:// bucket; k2: pending; k3: b2's r2:// bucket with secrets. */
	snprintf(b.id, sizeof(b.id), "k1");
	snprintf(b.destination_conf, sizeof(b.destination_conf), "file://%s", bucket_dir);
	err |= xcap_store_bucket_put(store, &b);
	snprintf(b.id, sizeof(b.id), "k2");
	snprintf(b.destination_conf, sizeof(b.destination_conf), "file://%s/", bucket_dir);
	snprintf(b.filename, sizeof(b.filename), "ownership-challenge-k2.txt");
	b.status = XCAP_BUCKET_PENDING;
	b.validated_ns = 0;
	err |= xcap_store_bucket_put(store, &b);
	snprintf(b.id, sizeof(b.id), "k3");
	snprintf(b.account, sizeof(b.account), "b2");
	snprintf(b.destination_conf, sizeof(b.destination_conf),
		 "r2://bkt/pre?account-id=acc0&access-key-id=" R2_ID
		 "&secret-access-key=" R2_SECRET);
	snprintf(b.filename, sizeof(b.filename), "ownership-challenge-k3.txt");
	err |= xcap_store_bucket_put(store, &b);
	if (err)
		abort();
}

static void service_stop(void)
{
	xcap_api_free(api);
	xcap_jobs_free(jobs);
	xcap_runner_free(runner);
	xcap_store_close(store);
	api = NULL;
	jobs = NULL;
	runner = NULL;
	store = NULL;
}

static void service_start(void)
{
	fuzz_rm_rf(state_dir, false);
	fuzz_rm_rf(bucket_dir, false);
	if (mkdir(state_dir, 0700) || mkdir(bucket_dir, 0700))
		abort();
	store = xcap_store_sqlite_open(state_dir, cfg);
	runner = store ? xcap_runner_local_new(NULL, NULL, NULL, 0) : NULL;
	jobs = runner ? xcap_jobs_new(cfg, store, runner) : NULL;
	api = jobs ? xcap_api_new(cfg, store, jobs) : NULL;
	if (!api) {
		fprintf(stderr, "fuzz_api: cannot start the service in %s\n", state_dir);
		abort();
	}
	seed_store();
}

static void cleanup(void)
{
	if (api)
		service_stop();
	top_real[0] = '\0';
	fuzz_rm_rf(top, false);
	if (print_answers)
		fprintf(stderr, "fuzz_api: %lu writes outside %s refused\n", writes_refused, top);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[PATH_MAX + 16], err[512], text[2048];
	const char *v;

	(void)argc;
	(void)argv;
	fuzz_quiet();
	v = getenv("XCAP_FUZZ_PRINT");
	print_answers = v && *v == '1';
	v = getenv("XCAP_FUZZ_RESET");
	if (v && atol(v) > 0)
		reset_every = atol(v);
	setenv("XCAP_S3_ATTEMPTS", "1", 1);
	setenv("XCAP_S3_BACKOFF_MS", "0", 1);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	snprintf(top, sizeof(top), "%s", fuzz_tmpdir("api"));
	snprintf(state_dir, sizeof(state_dir), "%s/state", top);
	snprintf(bucket_dir, sizeof(bucket_dir), "%s/bucket", top);
	if (!realpath(top, top_real))
		abort();

	snprintf(text, sizeof(text),
		 "{\"state_dir\": \"%s\", \"colo\": \"ord02\", \"metro\": \"ORD\",\n"
		 " \"file_bucket_roots\": [\"%s\"],\n"
		 " \"accounts\": [\n"
		 "  {\"id\": \"a1\", \"limits\": {\"simple_per_minute\": 0, \"full_active\": 1}},\n"
		 "  {\"id\": \"b2\", \"s3_access_key_id\": \"" S3_ID "\","
		 " \"s3_secret_access_key\": \"" S3_SECRET "\"}],\n"
		 " \"credentials\": [\n"
		 "  {\"token\": \"" TOKEN_W
		 "\", \"permission\": \"write\", \"accounts\": [\"a1\", \"b2\"]},\n"
		 "  {\"token\": \"" TOKEN_R
		 "\", \"permission\": \"read\", \"accounts\": [\"a1\"]},\n"
		 "  {\"email\": \"" EMAIL "\", \"key\": \"" KEY_W "\", \"permission\": \"write\","
		 " \"accounts\": [\"a1\"]},\n"
		 "  {\"token\": \"" TOKEN_B
		 "\", \"permission\": \"write\", \"accounts\": [\"b2\"]}]}\n",
		 state_dir, top);
	snprintf(path, sizeof(path), "%s/xcapd.json", top);
	fuzz_write_file(path, text, strlen(text));
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		abort();
	xcap_config_init(cfg);
	if (xcap_config_load(cfg, path, err, sizeof(err)) ||
	    xcap_config_make_state(cfg, err, sizeof(err))) {
		fprintf(stderr, "fuzz_api: config: %s\n", err);
		abort();
	}
	unlink(path);
	service_start();
	atexit(cleanup);
	return 0;
}

/* --- the request --- */

struct request {
	char *method, *path;
	char *hdr[4]; /* A, E, K, C */
	bool too_large;
	char *body;
	size_t body_len;
};

static char *dup_n(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* C strings end at a NUL, as libmicrohttpd's do. */
static char *dup_str(const uint8_t *p, size_t n)
{
	return dup_n(p, strnlen((const char *)p, n));
}

/* The body, exactly sized (no terminator: api.c must not read past body_len), @B expanded. */
static void set_body(struct request *r, const uint8_t *p, size_t n)
{
	size_t i, len = 0, dlen = strlen(bucket_dir);
	char *b;

	for (i = 0; i < n; i++)
		len += i + 1 < n && p[i] == '@' && p[i + 1] == 'B' ? (i++, dlen) : 1;
	if (len > XCAP_API_BODY_MAX) {
		r->too_large = true;
		len = XCAP_API_BODY_MAX;
	}
	b = malloc(len ?: 1);
	if (!b)
		abort();
	for (i = 0; i < n && r->body_len < len; i++) {
		if (i + 1 < n && p[i] == '@' && p[i + 1] == 'B') {
			size_t k = dlen < len - r->body_len ? dlen : len - r->body_len;

			memcpy(b + r->body_len, bucket_dir, k);
			r->body_len += k;
			i++;
		} else {
			b[r->body_len++] = p[i];
		}
	}
	r->body = b;
}

static void parse_request(const uint8_t *data, size_t size, struct request *r)
{
	static const char letters[] = "AEKC";
	const uint8_t *p = data, *end = data + size, *nl, *sp;
	const char *which;

	memset(r, 0, sizeof(*r));
	nl = memchr(p, '\n', end - p) ?: end;
	sp = memchr(p, ' ', nl - p) ?: nl;
	r->method = dup_str(p, sp - p);
	r->path = dup_str(sp + (sp < nl), nl - sp - (sp < nl));
	p = nl + (nl < end);
	while (p < end && *p != '\n') {
		nl = memchr(p, '\n', end - p) ?: end;
		if (nl - p == 1 && *p == 'T') {
			r->too_large = true;
		} else if (nl - p >= 2 && p[1] == ':' && (which = memchr(letters, *p, 4))) {
			free(r->hdr[which - letters]);
			r->hdr[which - letters] = dup_str(p + 2, nl - p - 2);
		}
		p = nl + (nl < end);
	}
	if (p < end) /* the empty line */
		set_body(r, p + 1, end - p - 1);
}

static void free_request(struct request *r)
{
	int i;

	free(r->method);
	free(r->path);
	for (i = 0; i < 4; i++)
		free(r->hdr[i]);
	free(r->body);
}

/* --- invariants --- */

/* The credential that the request presents, or -1 (find_credential's rules). */
static int presented(const struct request *r, bool *write, uint64_t *accounts)
{
	const char *auth = r->hdr[0], *email = r->hdr[1], *key = r->hdr[2];
	int i;

	for (i = 0; i < cfg->n_creds; i++) {
		const struct xcap_credential *c = &cfg->creds[i];
		bool ok;

		if (auth)
			ok = !strncasecmp(auth, "Bearer ", 7) && !c->email[0] &&
			     !strcmp(auth + 7, c->secret);
		else
			ok = email && key && c->email[0] && !strcasecmp(email, c->email) &&
			     !strcmp(key, c->secret);
		if (ok) {
			*write = c->write;
			*accounts = c->accounts;
			return i;
		}
	}
	return -1;
}

static bool request_contains(const struct request *r, const char *s)
{
	size_t n = strlen(s), i;

	if (strstr(r->path, s) || strstr(r->method, s))
		return true;
	for (i = 1; i < 4; i++) /* not Authorization: that one is checked, never echoed */
		if (r->hdr[i] && strstr(r->hdr[i], s))
			return true;
	for (i = 0; r->body && i + n <= r->body_len; i++)
		if (!memcmp(r->body + i, s, n))
			return true;
	return false;
}

static void check_error_item(json_object *e, bool chain)
{
	json_object *code, *msg, *sub;
	size_t i;

	FUZZ_CHECK(json_object_is_type(e, json_type_object), "an error is not an object");
	FUZZ_CHECK(json_object_object_get_ex(e, "code", &code) &&
			   json_object_is_type(code, json_type_int) &&
			   json_object_get_int(code) >= 1000,
		   "error code missing or < 1000");
	FUZZ_CHECK(json_object_object_get_ex(e, "message", &msg) &&
			   json_object_is_type(msg, json_type_string) &&
			   json_object_get_string_len(msg) > 0,
		   "error message missing");
	if (json_object_object_get_ex(e, "error_chain", &sub)) {
		FUZZ_CHECK(!chain && json_object_is_type(sub, json_type_array) &&
				   json_object_array_length(sub) > 0,
			   "bad error_chain");
		for (i = 0; i < json_object_array_length(sub); i++)
			check_error_item(json_object_array_get_idx(sub, i), true);
	}
}

/* Returns the parsed answer (to be put) for a JSON answer. */
static json_object *check_json(const struct xcap_api_response *a)
{
	json_object *doc, *v, *errors;
	struct json_tokener *tok;
	bool ok = a->status < 400;
	size_t i, n;

	FUZZ_CHECK(a->content_type && !strcmp(a->content_type, "application/json"),
		   "status %d with content type %s", a->status, a->content_type ?: "(none)");
	FUZZ_CHECK(a->body && a->body_len == strlen(a->body), "JSON body length");
	tok = json_tokener_new();
	/* known-bugs: utf8-echo (messages quote request bytes as they came, or cut mid-character). */
	json_tokener_set_flags(tok,
			       JSON_TOKENER_STRICT |
				       (fuzz_known("utf8-echo") ? 0 : JSON_TOKENER_VALIDATE_UTF8));
	doc = json_tokener_parse_ex(tok, a->body, a->body_len);
	FUZZ_CHECK(doc && json_tokener_get_parse_end(tok) == a->body_len,
		   "not valid JSON (%s): %.300s",
		   json_tokener_error_desc(json_tokener_get_error(tok)), a->body);
	json_tokener_free(tok);
	FUZZ_CHECK(json_object_is_type(doc, json_type_object), "not an object");
	FUZZ_CHECK(json_object_object_get_ex(doc, "success", &v) &&
			   json_object_is_type(v, json_type_boolean) &&
			   json_object_get_boolean(v) == ok,
		   "success does not match status %d: %.300s", a->status, a->body);
	FUZZ_CHECK(json_object_object_get_ex(doc, "errors", &errors) &&
			   json_object_is_type(errors, json_type_array),
		   "no errors array");
	FUZZ_CHECK(json_object_object_get_ex(doc, "messages", &v) &&
			   json_object_is_type(v, json_type_array),
		   "no messages array");
	FUZZ_CHECK(json_object_object_get_ex(doc, "result", &v), "no result");
	n = json_object_array_length(errors);
	FUZZ_CHECK(ok ? n == 0 : n > 0, "status %d with %zu errors", a->status, n);
	FUZZ_CHECK(ok || !v, "a failure with a result");
	for (i = 0; i < n; i++)
		check_error_item(json_object_array_get_idx(errors, i), false);
	return doc;
}

/* What a refused request must leave as it was: counts, and the buckets' states. */
static uint64_t fingerprint(void)
{
	static struct xcap_bucket_rec recs[XCAP_LIST_MAX];
	static const char *const accounts[] = { "a1", "b2" };
	uint64_t h = 1469598103934665603ULL;
	int a, i, n;

	for (a = 0; a < 2; a++) {
		h = (h ^ (uint64_t)xcap_store_capture_count(store, accounts[a])) * 1099511628211ULL;
		n = -1;
		xcap_store_bucket_list(store, accounts[a], recs, XCAP_LIST_MAX, &n);
		h = (h ^ (uint64_t)n) * 1099511628211ULL;
		for (i = 0; i < n; i++) {
			for (const char *p = recs[i].id; *p; p++)
				h = (h ^ (uint8_t)*p) * 1099511628211ULL;
			h = (h ^ recs[i].status ^ (uint64_t)recs[i].validated_ns) *
			    1099511628211ULL;
		}
	}
	return h;
}

/* The id of a created capture answers GET with the same record. */
static void check_created(const struct request *r, json_object *doc)
{
	struct xcap_api_request req = { .method = "GET" };
	struct xcap_api_response a;
	json_object *result, *id, *doc2, *id2;
	char path[256];
	const char *acc;

	FUZZ_CHECK(json_object_object_get_ex(doc, "result", &result) &&
			   json_object_object_get_ex(result, "id", &id) &&
			   json_object_get_string_len(id) == XCAP_ID_LEN,
		   "a created capture without an id");
	acc = strstr(r->path, "/accounts/") + strlen("/accounts/");
	snprintf(path, sizeof(path), "/client/v4/accounts/%.*s/pcaps/%s", (int)strcspn(acc, "/"),
		 acc, json_object_get_string(id));
	req.path = path;
	req.authorization = r->hdr[0];
	req.auth_email = r->hdr[1];
	req.auth_key = r->hdr[2];
	xcap_api_handle(api, &req, &a);
	FUZZ_CHECK(a.status == 200, "GET of a created capture: %d %.300s", a.status, a.body ?: "");
	doc2 = check_json(&a);
	FUZZ_CHECK(json_object_object_get_ex(doc2, "result", &result) &&
			   json_object_object_get_ex(result, "id", &id2) &&
			   !strcmp(json_object_get_string(id), json_object_get_string(id2)),
		   "GET answered another capture");
	json_object_put(doc2);
	xcap_api_response_free(&a);
}

/*
 * known-bugs: clock-overflow. True when the body holds a string that starts like an RFC 3339
 * time ("YYYY-) whose year is out of int64 nanoseconds' range: skipped while fuzzing.
 */
static bool far_year(const struct request *r)
{
	char buf[5];
	size_t i;
	int y;

	for (i = 0; r->body && i + 6 <= r->body_len; i++) {
		if (r->body[i] != '"' || r->body[i + 5] != '-')
			continue;
		memcpy(buf, r->body + i + 1, 4);
		buf[4] = '\0';
		if (sscanf(buf, "%4d", &y) == 1 && (y < 1678 || y > 2261))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xcap_api_response a;
	struct xcap_api_request req;
	struct request r;
	json_object *doc = NULL, *errors, *e, *code;
	uint64_t before, accounts = 0;
	bool write = false, is_write, ok;
	int cred;
	size_t i;

	if (runs && runs % reset_every == 0) {
		service_stop();
		service_start();
	}
	runs++;
	parse_request(data, size, &r);
	if (fuzz_known("clock-overflow") && far_year(&r)) {
		free_request(&r);
		return 0;
	}
	req = (struct xcap_api_request){
		.method = r.method,
		.path = r.path,
		.authorization = r.hdr[0],
		.auth_email = r.hdr[1],
		.auth_key = r.hdr[2],
		.content_type = r.hdr[3],
		.body = r.body,
		.body_len = r.body_len,
		.body_too_large = r.too_large,
	};
	before = fingerprint();
	xcap_api_handle(api, &req, &a);
	if (print_answers)
		fprintf(stderr, "%s %s -> %d %.*s\n", r.method, r.path, a.status,
			a.content_type && !strcmp(a.content_type, "application/json") ?
				(int)a.body_len :
				0,
			a.body ?: "");

	FUZZ_CHECK(a.status >= 200 && a.status <= 599, "status %d", a.status);
	FUZZ_CHECK(a.status != 500, "internal error: %.300s", a.body ?: "");
	FUZZ_CHECK(!a.retry_after == (a.status != 429), "Retry-After %u with %d", a.retry_after,
		   a.status);
	/* known-bugs: metrics-allow (a 405 of /metrics has no Allow). */
	FUZZ_CHECK(memchr(a.allow, '\0', sizeof(a.allow)) &&
			   (!a.allow[0] == (a.status != 405) ||
			    (fuzz_known("metrics-allow") && !strcmp(r.path, "/metrics"))),
		   "Allow \"%.*s\" with %d", (int)sizeof(a.allow), a.allow, a.status);
	if (a.status == 204) {
		FUZZ_CHECK(!a.body && !a.body_len && !a.content_type, "a 204 with a body");
	} else if (a.content_type && !strcmp(a.content_type, "application/vnd.tcpdump.pcap")) {
		FUZZ_CHECK(a.status == 200 && a.body_len >= 24 &&
				   !memcmp(a.body, "\x4d\x3c\xb2\xa1", 4),
			   "a pcap answer that is not one");
	} else if (a.content_type && !strncmp(a.content_type, "text/plain", 10)) {
		FUZZ_CHECK(a.status == 200 && !strcmp(r.path, "/metrics"), "text answer to %s",
			   r.path);
	} else {
		doc = check_json(&a);
	}

	/* Authorization: a success needs a credential that may do it. */
	cred = presented(&r, &write, &accounts);
	is_write = strcmp(r.method, "GET");
	if (a.status < 300) {
		FUZZ_CHECK(cred >= 0, "%s %s answered %d without a valid credential", r.method,
			   r.path, a.status);
		FUZZ_CHECK(!is_write || write, "%s %s answered %d to a read-only credential",
			   r.method, r.path, a.status);
		if (strcmp(r.path, "/metrics")) {
			int idx = -1;
			const char *acc = strstr(r.path, "/accounts/");

			FUZZ_CHECK(acc, "success on %s", r.path);
			acc += strlen("/accounts/");
			for (int k = 0; k < cfg->n_accounts; k++)
				if (!strncmp(acc, cfg->accounts[k].id, strcspn(acc, "/")) &&
				    strlen(cfg->accounts[k].id) == strcspn(acc, "/"))
					idx = k;
			FUZZ_CHECK(idx >= 0 && (accounts >> idx & 1),
				   "%s %s answered %d for an account the credential lacks",
				   r.method, r.path, a.status);
		}
	}

	/* Refused: nothing stored (a failed ownership challenge records its failure). */
	if (a.status >= 400) {
		ok = false;
		if (doc && json_object_object_get_ex(doc, "errors", &errors) &&
		    (e = json_object_array_get_idx(errors, 0)) &&
		    json_object_object_get_ex(e, "code", &code))
			ok = json_object_get_int(code) == 1021;
		FUZZ_CHECK(ok || fingerprint() == before,
			   "a refused request (%d) changed the store", a.status);
	}

	/* No configured secret in an answer, unless the request brought it. */
	for (i = 0; a.body && i < sizeof(secrets) / sizeof(secrets[0]); i++)
		FUZZ_CHECK(!memmem(a.body, a.body_len, secrets[i], strlen(secrets[i])) ||
				   request_contains(&r, secrets[i]),
			   "the answer shows the secret %s", secrets[i]);

	if (a.status == 200 && !strcmp(r.method, "POST") && doc && strstr(r.path, "/pcaps") &&
	    !strstr(r.path, "/ownership"))
		check_created(&r, doc);

	json_object_put(doc);
	xcap_api_response_free(&a);
	free_request(&r);
	return 0;
}
