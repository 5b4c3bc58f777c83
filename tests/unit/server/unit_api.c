// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: the API (routing, authentication, validation, the envelope and
 * the error table) without a socket, on an in-memory store and the jobs over
 * a fake runner. Buckets are file:// folders in the test's temporary folder.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include "common/log.h"
#include "runner_fake.h"
#include "server/api.h"
#include "server/jobs.h"
#include "store_mem.h"
#include "test.h"

#define ACC_A "acca"
#define ACC_B "accb"
#define TOK_W "token-write-a"
#define TOK_R "token-read-a"
#define TOK_B "token-write-b"
#define BASE "/client/v4/accounts/"
#define PCAPS BASE ACC_A "/pcaps"
#define EMAIL "ops@example.com"
#define KEY "key-a"
#define ID "0123456789abcdef0123456789abcdef" /* 32 characters: the longest id */
#define T_SUB (1700000000LL * NSEC_PER_SEC) /* 2023-11-14T22:13:20Z */

#define CHECK_STR(got, want) CHECK(!strcmp(got, want), "got '%s', want '%s'", got, want)

/* The API on its seams. */
struct env {
	struct xcap_config cfg;
	struct store_mem *store;
	struct runner_fake *runner;
	struct xcap_jobs *jobs;
	struct xcap_api *api;
	int64_t now;
	char root[PATH_MAX]; /* the file_bucket_roots */
	char bucket[PATH_MAX]; /* a bucket folder in it */
};

static struct env *env;

static void add_token(struct xcap_config *cfg, const char *token, bool write, int account)
{
	struct xcap_credential *cr = &cfg->creds[cfg->n_creds++];

	snprintf(cr->secret, sizeof(cr->secret), "%s", token);
	cr->write = write;
	cr->accounts = 1ULL << account;
}

static int env_start(const char *name)
{
	char dir[PATH_MAX];

	env = calloc(1, sizeof(*env));
	if (!env)
		return -1;
	xcap_config_init(&env->cfg);
	env->cfg.n_accounts = 2;
	snprintf(env->cfg.accounts[0].id, sizeof(env->cfg.accounts[0].id), ACC_A);
	snprintf(env->cfg.accounts[1].id, sizeof(env->cfg.accounts[1].id), ACC_B);
	env->cfg.accounts[0].simple_per_minute = 1;
	env->cfg.accounts[0].full_active = 1;
	add_token(&env->cfg, TOK_W, true, 0);
	add_token(&env->cfg, TOK_R, false, 0);
	add_token(&env->cfg, TOK_B, true, 1);
	add_token(&env->cfg, KEY, true, 0);
	snprintf(env->cfg.creds[env->cfg.n_creds - 1].email, sizeof(env->cfg.creds[0].email),
		 EMAIL);
	test_path(dir, sizeof(dir), name);
	mkdir(dir, 0700);
	snprintf(env->cfg.state_dir, sizeof(env->cfg.state_dir), "%s/state", dir);
	mkdir(env->cfg.state_dir, 0700);
	/* The test's folder is the one bucket root (what xcap_config_prepare finds). */
	snprintf(env->root, sizeof(env->root), "%s/roots", dir);
	mkdir(env->root, 0700);
	snprintf(env->cfg.file_bucket_roots[0], PATH_MAX, "%s", env->root);
	if (!realpath(env->root, env->cfg.file_bucket_real[0]))
		return -1;
	env->cfg.n_roots = 1;
	snprintf(env->bucket, sizeof(env->bucket), "%s/bucket", env->root);
	mkdir(env->bucket, 0700);
	env->store = store_mem_new(&env->cfg);
	env->runner = runner_fake_new(&env->now);
	if (env->store && env->runner)
		env->jobs = xcap_jobs_new(&env->cfg, &env->store->base, &env->runner->base);
	if (env->jobs)
		env->api = xcap_api_new(&env->cfg, &env->store->base, env->jobs);
	return env->api ? 0 : -1;
}

static void env_stop(void)
{
	xcap_api_free(env->api);
	xcap_jobs_free(env->jobs);
	xcap_runner_free(env->runner ? &env->runner->base : NULL);
	xcap_store_close(env->store ? &env->store->base : NULL);
	free(env);
	env = NULL;
}

/* One request and its answer: status, the parsed JSON body (NULL if none). */
struct answer {
	struct xcap_api_response resp;
	json_object *doc;
};

static void call_req(struct answer *a, const struct xcap_api_request *req)
{
	xcap_api_handle(env->api, req, &a->resp);
	a->doc = a->resp.body && a->resp.content_type &&
				 !strcmp(a->resp.content_type, "application/json") ?
			 json_tokener_parse(a->resp.body) :
			 NULL;
}

static void call(struct answer *a, const char *method, const char *path, const char *token,
		 const char *body)
{
	char auth[128];
	struct xcap_api_request req = {
		.method = method,
		.path = path,
		.authorization = token ? auth : NULL,
		.content_type = body ? "application/json" : NULL,
		.body = body,
		.body_len = body ? strlen(body) : 0,
	};

	snprintf(auth, sizeof(auth), "Bearer %s", token ?: "");
	call_req(a, &req);
}

/* A request with the credential headers given as they are (NULL: absent). */
static void call_auth(struct answer *a, const char *path, const char *authorization,
		      const char *email, const char *key)
{
	struct xcap_api_request req = {
		.method = "GET",
		.path = path,
		.authorization = authorization,
		.auth_email = email,
		.auth_key = key,
	};

	call_req(a, &req);
}

/* A body route with this Content-Type (NULL: none) and body. */
static void call_body(struct answer *a, const char *path, const char *content_type,
		      const char *body)
{
	struct xcap_api_request req = {
		.method = "POST",
		.path = path,
		.authorization = "Bearer " TOK_W,
		.content_type = content_type,
		.body = body,
		.body_len = strlen(body),
	};

	call_req(a, &req);
}

static void answer_free(struct answer *a)
{
	json_object_put(a->doc);
	xcap_api_response_free(&a->resp);
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

/* The failure envelope: status, success false, result null, errors[0] with code (and pointer). */
static void check_failure(const struct answer *a, int status, int code, const char *pointer)
{
	json_object *err = item(get(a->doc, "errors"), 0);

	CHECK_EQ(a->resp.status, status);
	CHECK(a->doc, "no JSON body");
	if (!a->doc)
		return;
	CHECK(!json_object_get_boolean(get(a->doc, "success")), "success is true");
	CHECK(json_object_object_get_ex(a->doc, "result", NULL) && !get(a->doc, "result"),
	      "result is not null");
	CHECK(json_object_is_type(get(a->doc, "messages"), json_type_array), "no messages array");
	CHECK_EQ(json_object_get_int(get(err, "code")), code);
	CHECK(*get_str(err, "message"), "an error without a message");
	if (pointer)
		CHECK_STR(get_str(get(err, "source"), "pointer"), pointer);
}

static const char *error_message(const struct answer *a)
{
	return get_str(json_object_array_get_idx(get(a->doc, "errors"), 0), "message");
}

static void unknown_routes_and_methods_answer_the_envelope(void)
{
	struct answer a;

	call(&a, "GET", "/client/v4/zones", TOK_W, NULL);
	check_failure(&a, 404, 7000, NULL);
	answer_free(&a);
	call(&a, "DELETE", BASE ACC_A "/pcaps", TOK_W, NULL);
	check_failure(&a, 405, 10405, NULL);
	CHECK_STR(a.resp.allow, "GET, POST");
	answer_free(&a);
	call(&a, "GET", BASE ACC_A "/pcaps/not-hex!", TOK_W, NULL);
	check_failure(&a, 400, 7003, NULL);
	answer_free(&a);
}

static void credentials_are_checked_before_the_route_runs(void)
{
	struct answer a;
	int before = env->store->n_caps;

	call(&a, "GET", BASE ACC_A "/pcaps", NULL, NULL);
	check_failure(&a, 400, 9106, NULL);
	answer_free(&a);
	call(&a, "GET", BASE ACC_A "/pcaps", "no-such-token", NULL);
	check_failure(&a, 403, 9109, NULL);
	answer_free(&a);
	call(&a, "GET", BASE ACC_A "/pcaps", TOK_B, NULL);
	check_failure(&a, 403, 10000, NULL);
	CHECK_STR(error_message(&a),
		  "Authentication error: the token is valid, but not for account " ACC_A);
	answer_free(&a);
	call(&a, "GET", BASE "1234/pcaps", TOK_W, NULL);
	check_failure(&a, 403, 10000, NULL);
	CHECK_STR(error_message(&a),
		  "Authentication error: the token is valid, but not for account 1234");
	answer_free(&a);
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_R,
	     "{\"type\":\"simple\",\"system\":\"magic-transit\",\"time_limit\":10,"
	     "\"packet_limit\":10}");
	check_failure(&a, 403, 10000, NULL);
	CHECK_STR(error_message(&a),
		  "Authentication error: the token may read account " ACC_A ", but not write");
	answer_free(&a);
	call(&a, "GET", BASE ACC_A "/pcaps", TOK_R, NULL);
	CHECK_EQ(a.resp.status, 200);
	CHECK(json_object_get_boolean(get(a.doc, "success")), "success is false");
	answer_free(&a);
	CHECK_EQ(env->store->n_caps, before);
}

static void create_validation_names_the_member(void)
{
	static const struct {
		const char *body;
		int status, code;
		const char *pointer;
	} cases[] = {
		{ "[1]", 400, 1004, NULL },
		{ "{\"system\":\"magic-transit\"}", 400, 1005, "/type" },
		{ "{\"type\":\"other\",\"system\":\"magic-transit\"}", 400, 1008, "/type" },
		{ "{\"type\":\"simple\",\"system\":\"magic-transit\",\"time_limit\":301,"
		  "\"packet_limit\":10}",
		  400, 1007, "/time_limit" },
		{ "{\"type\":\"simple\",\"system\":\"magic-transit\",\"time_limit\":10,"
		  "\"packet_limit\":10,\"filter_v1\":{\"source_address\":\"10.0.0.300\"}}",
		  400, 1009, "/filter_v1/source_address" },
		{ "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":10,"
		  "\"colo_name\":\"elsewhere\",\"destination_conf\":\"file:///tmp\"}",
		  400, 1011, "/colo_name" },
		{ "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":10,"
		  "\"colo_name\":\"local\",\"destination_conf\":\"file:///tmp\"}",
		  400, 1013, "/destination_conf" },
	};
	struct answer a;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, cases[i].body);
		check_failure(&a, cases[i].status, cases[i].code, cases[i].pointer);
		if (test_failed)
			printf("#   case %zu: %s\n", i, cases[i].body);
		answer_free(&a);
	}
	CHECK_EQ(env->store->n_caps, 0);
}

/* One simple create per minute for account A: the second is 429 with Retry-After. */
static void simple_creates_are_rate_limited_per_account(void)
{
	const char *body = "{\"type\":\"simple\",\"system\":\"magic-transit\",\"time_limit\":10,"
			   "\"packet_limit\":10}";
	struct answer a;
	char path[256];

	env->runner->query_packets = 2;
	env->store->fail_puts = 1; /* a create that fails is not counted */
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
	check_failure(&a, 500, 1500, NULL);
	answer_free(&a);
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(get_str(get(a.doc, "result"), "status"), "success");
	snprintf(path, sizeof(path), BASE ACC_A "/pcaps/%s/download",
		 get_str(get(a.doc, "result"), "id"));
	answer_free(&a);
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
	check_failure(&a, 429, 1014, NULL);
	CHECK(a.resp.retry_after >= 59 && a.resp.retry_after <= 60, "Retry-After %u",
	      a.resp.retry_after);
	answer_free(&a);
	call(&a, "POST", BASE ACC_B "/pcaps", TOK_B, body);
	CHECK_EQ(a.resp.status, 200);
	answer_free(&a);
	call(&a, "GET", path, TOK_R, NULL);
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(a.resp.content_type ?: "", "application/vnd.tcpdump.pcap");
	answer_free(&a);
}

/* The first line of a file (a challenge); false when it cannot be read. */
static bool read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	bool ok = f && fgets(buf, size, f);

	if (f)
		fclose(f);
	return ok;
}

/* A full capture of 10 s into the bucket conf. */
static void full_body(char *body, size_t size, const char *conf)
{
	snprintf(body, size,
		 "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":10,"
		 "\"colo_name\":\"LOCAL\",\"destination_conf\":\"%s\"}",
		 conf);
}

/* A file:// bucket: add writes the challenge, validate checks it, then captures may use it. */
static void buckets_are_added_validated_and_used(void)
{
	char conf[PATH_MAX + 64], body[2 * PATH_MAX], token[128] = "", file[PATH_MAX + 128];
	const char *id = NULL;
	struct answer a;

	snprintf(conf, sizeof(conf), "file://%s", env->bucket);
	snprintf(body, sizeof(body), "{\"destination_conf\":\"%s\"}", conf);
	call(&a, "POST", BASE ACC_A "/pcaps/ownership", TOK_W, body);
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(get_str(get(a.doc, "result"), "status"), "pending");
	snprintf(file, sizeof(file), "%s/%s", env->bucket,
		 get_str(get(a.doc, "result"), "filename"));
	answer_free(&a);
	CHECK(read_line(file, token, sizeof(token)), "no challenge at %s", file);

	snprintf(body, sizeof(body),
		 "{\"destination_conf\":\"%s\",\"ownership_challenge\":\"wrong\"}", conf);
	call(&a, "POST", BASE ACC_A "/pcaps/ownership/validate", TOK_W, body);
	check_failure(&a, 400, 1021, "/ownership_challenge");
	answer_free(&a);
	snprintf(body, sizeof(body), "{\"destination_conf\":\"%s\",\"ownership_challenge\":\"%s\"}",
		 conf, token);
	call(&a, "POST", BASE ACC_A "/pcaps/ownership/validate", TOK_W, body);
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(get_str(get(a.doc, "result"), "status"), "success");
	answer_free(&a);

	full_body(body, sizeof(body), conf);
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(get_str(get(a.doc, "result"), "status"), "running");
	answer_free(&a);
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
	check_failure(&a, 400, 1015, NULL); /* one full capture at once for account A */
	answer_free(&a);
	call(&a, "POST", BASE ACC_B "/pcaps", TOK_B, body);
	check_failure(&a, 400, 1013, "/destination_conf"); /* A's bucket is not B's */
	answer_free(&a);

	call(&a, "GET", BASE ACC_A "/pcaps/ownership", TOK_R, NULL);
	CHECK_EQ(array_len(get(a.doc, "result")), 1);
	id = get_str(item(get(a.doc, "result"), 0), "id");
	snprintf(body, sizeof(body), BASE ACC_A "/pcaps/ownership/%s", id);
	answer_free(&a);
	call(&a, "DELETE", body, TOK_W, NULL);
	CHECK_EQ(a.resp.status, 204);
	CHECK(!a.resp.body, "a 204 with a body");
	answer_free(&a);
	call(&a, "DELETE", body, TOK_W, NULL);
	check_failure(&a, 404, 1405, NULL);
	answer_free(&a);
}

/* POSTs a bucket add of conf as tok; the answer stays in a. */
static void add_bucket(struct answer *a, const char *account, const char *tok, const char *conf)
{
	char path[128], body[2 * PATH_MAX];

	snprintf(path, sizeof(path), BASE "%s/pcaps/ownership", account);
	snprintf(body, sizeof(body), "{\"destination_conf\":\"%s\"}", conf);
	call(a, "POST", path, tok, body);
}

static void validate_bucket(struct answer *a, const char *conf, const char *answer)
{
	char body[3 * PATH_MAX];

	snprintf(body, sizeof(body), "{\"destination_conf\":\"%s\",\"ownership_challenge\":\"%s\"}",
		 conf, answer);
	call(a, "POST", BASE ACC_A "/pcaps/ownership/validate", TOK_W, body);
}

/* Issue 14, finding 1: a directory outside file_bucket_roots is refused before anything is written. */
static void buckets_outside_the_roots_are_refused(void)
{
	char conf[PATH_MAX + 64], link[PATH_MAX], outside[PATH_MAX];
	struct answer a;

	add_bucket(&a, ACC_A, TOK_W, "file:///etc");
	check_failure(&a, 400, 1012, "/destination_conf");
	CHECK(strstr(get_str(json_object_array_get_idx(get(a.doc, "errors"), 0), "message"),
		     "file_bucket_roots"),
	      "the message does not name the key");
	answer_free(&a);
	/* /proc/self/cwd and friends: the real path decides, not the name. */
	snprintf(outside, sizeof(outside), "%s/../outside", env->root);
	mkdir(outside, 0700);
	snprintf(link, sizeof(link), "%s/escape", env->root);
	CHECK(!symlink(outside, link), "symlink: %s", strerror(errno));
	snprintf(conf, sizeof(conf), "file://%s", link);
	add_bucket(&a, ACC_A, TOK_W, conf);
	check_failure(&a, 400, 1012, "/destination_conf");
	answer_free(&a);
	add_bucket(&a, ACC_A, TOK_W, "file:///proc/self/cwd");
	check_failure(&a, 400, 1012, "/destination_conf");
	answer_free(&a);
	CHECK_EQ(env->store->n_buckets, 0);
	CHECK(rmdir(outside) == 0, "something was written outside the roots");
}

/* Finding 1: the file name alone (which xcapd itself wrote) proves nothing for file://. */
static void a_file_bucket_needs_the_challenge_content(void)
{
	char conf[PATH_MAX + 64], file[PATH_MAX + 128], token[128] = "", name[128];
	struct answer a;
	FILE *f;

	snprintf(conf, sizeof(conf), "file://%s", env->bucket);
	add_bucket(&a, ACC_A, TOK_W, conf);
	CHECK_EQ(a.resp.status, 200);
	snprintf(name, sizeof(name), "%s", get_str(get(a.doc, "result"), "filename"));
	answer_free(&a);
	validate_bucket(&a, conf, name);
	check_failure(&a, 400, 1021, "/ownership_challenge");
	CHECK(strstr(get_str(json_object_array_get_idx(get(a.doc, "errors"), 0), "message"),
		     "send the file's content"),
	      "the message does not say what proves ownership");
	answer_free(&a);
	snprintf(file, sizeof(file), "%s/%s", env->bucket, name);
	f = fopen(file, "r");
	CHECK(f && fgets(token, sizeof(token), f), "no challenge at %s", file);
	if (f)
		fclose(f);
	validate_bucket(&a, conf, token);
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(get_str(get(a.doc, "result"), "status"), "success");
	answer_free(&a);
}

/* Finding 6: the same bucket twice is one record; a new one beyond buckets_per_account is refused. */
static void buckets_are_counted_per_account(void)
{
	char conf[PATH_MAX + 64], dir[PATH_MAX], id[64];
	struct answer a;
	int i;

	env->cfg.buckets_per_account = 2;
	for (i = 0; i < 3; i++) {
		snprintf(dir, sizeof(dir), "%s/b%d", env->root, i);
		mkdir(dir, 0700);
		snprintf(conf, sizeof(conf), "file://%s", dir);
		add_bucket(&a, ACC_A, TOK_W, conf);
		if (i < 2)
			CHECK_EQ(a.resp.status, 200);
		else
			check_failure(&a, 400, 1024, NULL);
		if (!i)
			snprintf(id, sizeof(id), "%s", get_str(get(a.doc, "result"), "id"));
		answer_free(&a);
	}
	/* Adding b0 again answers its record: no new file, no new record. */
	snprintf(conf, sizeof(conf), "file://%s/b0", env->root);
	add_bucket(&a, ACC_A, TOK_W, conf);
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(get_str(get(a.doc, "result"), "id"), id);
	answer_free(&a);
	CHECK_EQ(env->store->n_buckets, 2);
	/* Another account has its own count. */
	add_bucket(&a, ACC_B, TOK_B, conf);
	CHECK_EQ(a.resp.status, 200);
	answer_free(&a);
}

/* Finding 10: result_info.total_count is all the account has, not the page. */
static void the_bucket_list_counts_them_all(void)
{
	char conf[PATH_MAX + 64], dir[PATH_MAX];
	struct answer a;
	int i;

	for (i = 0; i < XCAP_LIST_MAX + 5; i++) {
		snprintf(dir, sizeof(dir), "%s/l%d", env->root, i);
		mkdir(dir, 0700);
		snprintf(conf, sizeof(conf), "file://%s", dir);
		add_bucket(&a, ACC_A, TOK_W, conf);
		CHECK_EQ(a.resp.status, 200);
		answer_free(&a);
	}
	call(&a, "GET", BASE ACC_A "/pcaps/ownership", TOK_R, NULL);
	CHECK_EQ(json_object_array_length(get(a.doc, "result")), XCAP_LIST_MAX);
	CHECK_EQ(json_object_get_int(get(get(a.doc, "result_info"), "count")), XCAP_LIST_MAX);
	CHECK_EQ(json_object_get_int(get(get(a.doc, "result_info"), "total_count")),
		 XCAP_LIST_MAX + 5);
	answer_free(&a);
}

/* A validated bucket record of account A, put in the store as the routes would. */
static void put_validated(const char *account, const char *id, const char *conf)
{
	struct xcap_bucket_rec b = { .status = XCAP_BUCKET_SUCCESS, .submitted_ns = 1 };

	snprintf(b.id, sizeof(b.id), "%s", id);
	snprintf(b.account, sizeof(b.account), "%s", account);
	snprintf(b.destination_conf, sizeof(b.destination_conf), "%s", conf);
	snprintf(b.filename, sizeof(b.filename), "ownership-challenge-%s.txt", id);
	CHECK_EQ(xcap_store_bucket_put(&env->store->base, &b), 0);
}

/*
 * Finding 7: full_active 0 means "up to full_slots_per_account", never every
 * slot of the host: account B still gets one.
 */
static void no_account_takes_every_full_slot(void)
{
	char body[2 * PATH_MAX];
	struct answer a;
	int i;

	env->cfg.accounts[0].full_active = 0;
	env->cfg.full_slots_per_account = 3;
	put_validated(ACC_A, "b1", "file:///a");
	put_validated(ACC_B, "b2", "file:///b");
	full_body(body, sizeof(body), "file:///a");
	for (i = 0; i < 3; i++) {
		call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
		CHECK_EQ(a.resp.status, 200);
		answer_free(&a);
	}
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
	check_failure(&a, 400, 1015, NULL);
	answer_free(&a);
	full_body(body, sizeof(body), "file:///b");
	call(&a, "POST", BASE ACC_B "/pcaps", TOK_B, body);
	CHECK_EQ(a.resp.status, 200);
	answer_free(&a);
}

/* Finding 6: capture files beyond account_storage_mib refuse creates; a full capture gets what is left. */
static void stored_files_are_bounded_per_account(void)
{
	struct xcap_capture_rec r = { .type = XCAP_TYPE_SIMPLE, .status = XCAP_ST_SUCCESS };
	const char *simple = "{\"type\":\"simple\",\"system\":\"magic-transit\","
			     "\"time_limit\":10,\"packet_limit\":10}";
	char body[2 * PATH_MAX];
	struct answer a;

	env->cfg.account_storage_mib = 2;
	env->cfg.accounts[0].simple_per_minute = 0;
	snprintf(r.id, sizeof(r.id), "old1");
	snprintf(r.account, sizeof(r.account), ACC_A);
	r.submitted_ns = 1;
	r.bytes_captured = 1 << 20;
	CHECK_EQ(xcap_store_capture_put(&env->store->base, &r), 0);
	put_validated(ACC_A, "b1", "file:///a");
	full_body(body, sizeof(body), "file:///a");
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
	CHECK_EQ(a.resp.status, 200);
	CHECK(env->runner->runs[0].used && env->runner->runs[0].byte_limit > 0 &&
		      env->runner->runs[0].byte_limit <= (1 << 20),
	      "the full capture may write %llu bytes",
	      (unsigned long long)env->runner->runs[0].byte_limit);
	answer_free(&a);
	snprintf(r.id, sizeof(r.id), "old2");
	CHECK_EQ(xcap_store_capture_put(&env->store->base, &r), 0);
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, simple);
	check_failure(&a, 400, 1025, NULL);
	answer_free(&a);
	/* Account B has its own. */
	call(&a, "POST", BASE ACC_B "/pcaps", TOK_B, simple);
	CHECK_EQ(a.resp.status, 200);
	answer_free(&a);
}

/*
 * An r2:// bucket added with its keys is named by the URI without them
 * (validate, full captures); a URI with other keys names nothing.
 */
static void a_bucket_is_named_without_its_keys(void)
{
	const char *keyed = "r2://bkt/p?account-id=acc&access-key-id=AK&secret-access-key=SK";
	char body[2 * PATH_MAX];
	struct answer a;

	put_validated(ACC_A, "b1", keyed);
	full_body(body, sizeof(body), "r2://bkt/p?account-id=acc");
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(get_str(get(a.doc, "result"), "destination_conf"),
		  "r2://bkt/p?account-id=acc&access-key-id=***&secret-access-key=***");
	answer_free(&a);
	full_body(body, sizeof(body),
		  "r2://bkt/p?account-id=acc&access-key-id=AK&secret-access-key=OTHER");
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
	check_failure(&a, 400, 1013, "/destination_conf");
	answer_free(&a);
	/* Another account's record is never found so. */
	full_body(body, sizeof(body), "r2://bkt/p?account-id=acc");
	call(&a, "POST", BASE ACC_B "/pcaps", TOK_B, body);
	check_failure(&a, 400, 1013, "/destination_conf");
	answer_free(&a);
}

/* Finding 8: /metrics shows a capture's series to its accounts' credentials only. */
static void metrics_show_only_the_credentials_captures(void)
{
	char body[2 * PATH_MAX], id[64];
	struct answer a;

	put_validated(ACC_A, "b1", "file:///a");
	full_body(body, sizeof(body), "file:///a");
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
	CHECK_EQ(a.resp.status, 200);
	snprintf(id, sizeof(id), "%s", get_str(get(a.doc, "result"), "id"));
	answer_free(&a);
	call(&a, "GET", "/metrics", TOK_B, NULL);
	CHECK_EQ(a.resp.status, 200);
	CHECK(a.resp.body && !strstr(a.resp.body, id) && !strstr(a.resp.body, ACC_A "\""),
	      "account B sees A's capture");
	CHECK(a.resp.body && strstr(a.resp.body, "xcap_deliveries_total"), "no engine counters");
	answer_free(&a);
	call(&a, "GET", "/metrics", TOK_R, NULL);
	CHECK(a.resp.body && strstr(a.resp.body, id), "account A does not see its capture");
	answer_free(&a);
}

/* The files of the bucket folder, for a bucket added more than once. */
static int bucket_files(void)
{
	struct dirent *de;
	DIR *d = opendir(env->bucket);
	int n = 0;

	while (d && (de = readdir(d)))
		n += de->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

/* Adds the bucket and checks that the answer is its one record: id, filename and status. */
static void add_same(const char *body, const char *id, const char *filename, const char *status)
{
	struct answer a;

	call(&a, "POST", BASE ACC_A "/pcaps/ownership", TOK_W, body);
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(get_str(get(a.doc, "result"), "id"), id);
	CHECK_STR(get_str(get(a.doc, "result"), "filename"), filename);
	CHECK_STR(get_str(get(a.doc, "result"), "status"), status);
	answer_free(&a);
	call(&a, "GET", BASE ACC_A "/pcaps/ownership", TOK_R, NULL);
	CHECK_EQ(json_object_array_length(get(a.doc, "result")), 1);
	answer_free(&a);
	CHECK_EQ(bucket_files(), 1);
}

/* Adding a bucket the account has is idempotent, before and after validation. */
static void adding_a_bucket_again_answers_the_same_record(void)
{
	char conf[PATH_MAX + 64], body[2 * PATH_MAX], token[128] = "", file[PATH_MAX + 128];
	char id[64] = "", filename[64] = "", again[128] = "";
	struct answer a;

	snprintf(conf, sizeof(conf), "file://%s", env->bucket);
	snprintf(body, sizeof(body), "{\"destination_conf\":\"%s\"}", conf);
	call(&a, "POST", BASE ACC_A "/pcaps/ownership", TOK_W, body);
	CHECK_EQ(a.resp.status, 200);
	snprintf(id, sizeof(id), "%s", get_str(get(a.doc, "result"), "id"));
	snprintf(filename, sizeof(filename), "%s", get_str(get(a.doc, "result"), "filename"));
	answer_free(&a);
	snprintf(file, sizeof(file), "%s/%s", env->bucket, filename);
	CHECK(read_line(file, token, sizeof(token)), "no challenge at %s", file);
	/* The challenge file is written again, with the same content, while pending. */
	unlink(file);
	add_same(body, id, filename, "pending");
	CHECK(read_line(file, again, sizeof(again)) && !strcmp(again, token), "challenge changed");

	snprintf(body, sizeof(body), "{\"destination_conf\":\"%s\",\"ownership_challenge\":\"%s\"}",
		 conf, token);
	call(&a, "POST", BASE ACC_A "/pcaps/ownership/validate", TOK_W, body);
	CHECK_STR(get_str(get(a.doc, "result"), "status"), "success");
	answer_free(&a);
	snprintf(body, sizeof(body), "{\"destination_conf\":\"%s\"}", conf);
	add_same(body, id, filename, "success");

	/* Still the validated bucket: a full capture may use it (not 1013). */
	full_body(body, sizeof(body), conf);
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
	CHECK_EQ(a.resp.status, 200);
	answer_free(&a);
}

static void metrics_need_a_credential_and_count_requests(void)
{
	struct answer a;

	call(&a, "GET", "/metrics", NULL, NULL);
	check_failure(&a, 400, 9106, NULL);
	answer_free(&a);
	call(&a, "GET", "/metrics", TOK_R, NULL);
	CHECK_EQ(a.resp.status, 200);
	CHECK(a.resp.body && strstr(a.resp.body, "xcap_api_requests_total{route=\"metrics\","
						 "status=\"400\"} 1"),
	      "%s", a.resp.body ?: "(no body)");
	CHECK(a.resp.body && strstr(a.resp.body, "xcap_deliveries_total{result=\"ok\"} 0"),
	      "no deliveries counter");
	answer_free(&a);
}

/* The extension `tunnel`: validated, echoed when it is not "any", kept by the store. */
static void create_takes_the_tunnel_extension(void)
{
	static const char *const bad[][2] = {
		{ "\"both\"", "1008" },
		{ "6", "1006" },
		{ "\"Inner\"", "1008" },
	};
	char body[512], path[256];
	struct answer a;
	size_t i;

	env->runner->query_packets = 1;
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		snprintf(body, sizeof(body),
			 "{\"type\":\"simple\",\"system\":\"magic-transit\",\"time_limit\":10,"
			 "\"packet_limit\":10,\"tunnel\":%s}",
			 bad[i][0]);
		call(&a, "POST", BASE ACC_A "/pcaps", TOK_W, body);
		check_failure(&a, 400, atoi(bad[i][1]), "/tunnel");
		answer_free(&a);
	}
	CHECK_EQ(env->store->n_caps, 0);
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_W,
	     "{\"type\":\"simple\",\"system\":\"magic-transit\",\"time_limit\":10,"
	     "\"packet_limit\":10,\"tunnel\":\"inner\",\"filter_v1\":{\"protocol\":6}}");
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(get_str(get(a.doc, "result"), "tunnel"), "inner");
	snprintf(path, sizeof(path), BASE ACC_A "/pcaps/%s", get_str(get(a.doc, "result"), "id"));
	answer_free(&a);
	call(&a, "GET", path, TOK_R, NULL);
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(get_str(get(a.doc, "result"), "tunnel"), "inner");
	answer_free(&a);
	/* "any" is the default, which answers do not show (account B: A's minute is taken). */
	call(&a, "POST", BASE ACC_B "/pcaps", TOK_B,
	     "{\"type\":\"simple\",\"system\":\"magic-transit\",\"time_limit\":10,"
	     "\"packet_limit\":10,\"tunnel\":\"any\"}");
	CHECK_EQ(a.resp.status, 200);
	CHECK(!get(get(a.doc, "result"), "tunnel"), "tunnel any is shown");
	answer_free(&a);
}

/* The message of the first error. */
static const char *message_of(const struct answer *a)
{
	return get_str(item(get(a->doc, "errors"), 0), "message");
}

/* A capture record of account A, stored as an earlier request would have. */
static void put_capture(const char *id, enum xcap_capture_type type, enum xcap_status status,
			int64_t submitted_ns)
{
	struct xcap_capture_rec r = {
		.type = type,
		.status = status,
		.submitted_ns = submitted_ns,
		.time_limit = 60,
		.packet_limit = 100,
	};

	snprintf(r.id, sizeof(r.id), "%s", id);
	snprintf(r.account, sizeof(r.account), ACC_A);
	snprintf(r.filter_json, sizeof(r.filter_json), "{\"protocol\":6}");
	if (type == XCAP_TYPE_FULL) {
		snprintf(r.colo_name, sizeof(r.colo_name), "local");
		snprintf(r.destination_conf, sizeof(r.destination_conf), "file:///srv/pcaps");
	} else {
		r.offset_time_ns = submitted_ns;
	}
	r.packets_captured = 5;
	r.bytes_captured = 500;
	r.packets_matched = 6;
	r.packets_lost = 1;
	CHECK_EQ(xcap_store_capture_put(&env->store->base, &r), 0);
}

/* The test's bucket folder, validated for account A as add and validate would leave it. */
static void put_validated_bucket(void)
{
	struct xcap_bucket_rec b = { .status = XCAP_BUCKET_SUCCESS, .submitted_ns = T_SUB };

	snprintf(b.id, sizeof(b.id), "b0");
	snprintf(b.account, sizeof(b.account), ACC_A);
	snprintf(b.destination_conf, sizeof(b.destination_conf), "file://%s", env->bucket);
	CHECK_EQ(xcap_store_bucket_put(&env->store->base, &b), 0);
}

/* A full create of the validated bucket, with extra members (", ..." or ""). */
static void call_full_create(struct answer *a, const char *extra)
{
	char body[PATH_MAX + 256];

	snprintf(body, sizeof(body),
		 "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":10,"
		 "\"colo_name\":\"local\",\"destination_conf\":\"file://%s\"%s}",
		 env->bucket, extra);
	call(a, "POST", PCAPS, TOK_W, body);
}

/* The method is checked before the id and the credentials: no token, and still a 405. */
static void each_route_answers_405_with_its_allow_header(void)
{
	static const struct {
		const char *method, *path, *allow, *message;
	} cases[] = {
		{ "PUT", PCAPS, "GET, POST", "Method PUT not allowed for this route" },
		{ "GET", PCAPS "/ownership/" ID, "DELETE",
		  "Method GET not allowed for this route" },
		{ "POST", PCAPS "/" ID, "GET", "Method POST not allowed for this route" },
		{ "DELETE", PCAPS "/" ID "/download", "GET",
		  "Method DELETE not allowed for this route" },
		{ "GET", PCAPS "/" ID "/stop", "PUT", "Method GET not allowed for this route" },
		{ "PUT", PCAPS "/not-an-id!/stop", "PUT", "Method PUT not allowed for this route" },
		/* `ownership` is never a {pcap_id}: only the bucket routes answer there. */
		{ "DELETE", PCAPS "/ownership", "GET, POST",
		  "Method DELETE not allowed for this route" },
		{ "PUT", PCAPS "/ownership/stop", "DELETE",
		  "Method PUT not allowed for this route" },
		{ "POST", "/metrics", "GET", "Method POST not allowed for this route" },
	};
	struct answer a;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		call(&a, cases[i].method, cases[i].path, NULL, NULL);
		if (!strcmp(cases[i].path, PCAPS "/not-an-id!/stop")) {
			/* the right method: now the id is checked */
			check_failure(&a, 400, 7003, NULL);
			CHECK_STR(a.resp.allow, "");
		} else {
			check_failure(&a, 405, 10405, NULL);
			CHECK_STR(a.resp.allow, cases[i].allow);
			CHECK_STR(message_of(&a), cases[i].message);
		}
		if (test_failed)
			printf("#   case %zu: %s %s\n", i, cases[i].method, cases[i].path);
		answer_free(&a);
	}
}

/* Ids are 1..32 characters of [0-9A-Za-z], checked before the credentials. */
static void malformed_ids_answer_7003_before_credentials(void)
{
	static const struct {
		const char *method, *path;
	} cases[] = {
		{ "GET", BASE "acc-a/pcaps" },
		{ "GET", BASE "a23456789012345678901234567890123/pcaps" },
		{ "GET", PCAPS "/abc!" },
		{ "GET", PCAPS "/" ID "0/download" },
		{ "DELETE", PCAPS "/ownership/a.b" },
		{ "PUT", PCAPS "/%41/stop" },
	};
	struct answer a;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		call(&a, cases[i].method, cases[i].path, NULL, NULL);
		check_failure(&a, 400, 7003, NULL);
		if (test_failed)
			printf("#   case %zu: %s %s\n", i, cases[i].method, cases[i].path);
		answer_free(&a);
	}
	call(&a, "GET", BASE "acc-a/pcaps", NULL, NULL);
	CHECK_STR(message_of(&a),
		  "Could not route to /client/v4/accounts/acc-a/pcaps, perhaps your "
		  "object identifier is invalid?");
	answer_free(&a);
	/* 32 characters are an id: the route runs, and finds nothing. */
	call(&a, "GET", PCAPS "/" ID, TOK_R, NULL);
	check_failure(&a, 404, 1404, NULL);
	answer_free(&a);
}

static void unknown_paths_answer_7000(void)
{
	static const char *const paths[] = {
		"/",
		"/client/v4",
		"/client/v4/accounts",
		"/client/v4/accounts/acca",
		"/client/v4/accounts/acca/pcaps/",
		"/client/v4/accounts//pcaps",
		"/client/v4/accounts/acca/pcapsx",
		"/client/v4/zones/acca/pcaps",
		"/client/v4/accounts/acca/pcaps/" ID "/other",
		"/client/v4/accounts/acca/pcaps/ownership/validate/x",
		"/client/v4/accounts/acca/pcaps/a/b/c/d",
		"/metrics/",
		"/client/v5/accounts/acca/pcaps",
	};
	struct answer a;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		call(&a, "GET", paths[i], TOK_W, NULL);
		check_failure(&a, 404, 7000, NULL);
		CHECK_STR(message_of(&a), "No route for that URI");
		CHECK_STR(a.resp.allow, "");
		if (test_failed)
			printf("#   case %zu: %s\n", i, paths[i]);
		answer_free(&a);
	}
}

/* 6003 "Invalid request headers" carries the precise reason in error_chain. */
static void malformed_credentials_answer_6003_with_the_reason_in_its_chain(void)
{
	static const struct {
		const char *authorization, *email, *key;
		int chain_code;
		const char *chain_message;
	} cases[] = {
		{ "Basic dXNlcjpwYXNz", NULL, NULL, 6111,
		  "Invalid format for Authorization header" },
		{ "Bearer ", NULL, NULL, 6111, "Invalid format for Authorization header" },
		{ "Bearer tok en", NULL, NULL, 6111, "Invalid format for Authorization header" },
		{ "Bearer tok\x7f", NULL, NULL, 6111, "Invalid format for Authorization header" },
		{ "Bearer", EMAIL, KEY, 6111, "Invalid format for Authorization header" },
		{ NULL, "ops.example.com", KEY, 6102, "Invalid format for X-Auth-Email header" },
		{ NULL, "ops @example.com", KEY, 6102, "Invalid format for X-Auth-Email header" },
		{ NULL, EMAIL, "", 6103, "Invalid format for X-Auth-Key header" },
		{ NULL, EMAIL, "key\ta", 6103, "Invalid format for X-Auth-Key header" },
	};
	json_object *err, *chain;
	struct answer a;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		call_auth(&a, PCAPS, cases[i].authorization, cases[i].email, cases[i].key);
		check_failure(&a, 400, 6003, NULL);
		CHECK_STR(message_of(&a), "Invalid request headers");
		err = item(get(a.doc, "errors"), 0);
		chain = get(err, "error_chain");
		CHECK_EQ(array_len(chain), 1);
		CHECK_EQ(json_object_get_int(get(item(chain, 0), "code")), cases[i].chain_code);
		CHECK_STR(get_str(item(chain, 0), "message"), cases[i].chain_message);
		if (test_failed)
			printf("#   case %zu\n", i);
		answer_free(&a);
	}
}

static void missing_credentials_answer_9106(void)
{
	static const struct {
		const char *email, *key;
	} cases[] = { { NULL, NULL }, { EMAIL, NULL }, { NULL, KEY } };
	struct answer a;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		call_auth(&a, PCAPS, NULL, cases[i].email, cases[i].key);
		check_failure(&a, 400, 9106, NULL);
		CHECK_STR(message_of(&a),
			  "Missing X-Auth-Key, X-Auth-Email or Authorization headers");
		if (test_failed)
			printf("#   case %zu\n", i);
		answer_free(&a);
	}
}

/* An unknown token is 9109; an unknown e-mail and key pair is 10000. */
static void unknown_credentials_answer_9109_for_a_token_and_10000_for_a_key(void)
{
	struct answer a;

	call_auth(&a, PCAPS, "Bearer no-such-token", NULL, NULL);
	check_failure(&a, 403, 9109, NULL);
	CHECK_STR(message_of(&a), "Invalid access token");
	answer_free(&a);
	call_auth(&a, PCAPS, NULL, EMAIL, "wrong-key");
	check_failure(&a, 403, 10000, NULL);
	CHECK_STR(message_of(&a), "Authentication error");
	answer_free(&a);
	call_auth(&a, PCAPS, NULL, "nobody@example.com", KEY);
	check_failure(&a, 403, 10000, NULL);
	answer_free(&a);
	/* A key is not a token, even when the strings are equal. */
	call_auth(&a, PCAPS, "Bearer " KEY, NULL, NULL);
	check_failure(&a, 403, 9109, NULL);
	answer_free(&a);
	call_auth(&a, BASE "nosuchaccount/pcaps", "Bearer " TOK_W, NULL, NULL);
	check_failure(&a, 403, 10000, NULL);
	answer_free(&a);
}

/* Both schemes; the e-mail in any case, "bearer" in any case; Authorization wins over a pair. */
static void both_credential_schemes_are_accepted(void)
{
	struct answer a;

	call_auth(&a, PCAPS, NULL, EMAIL, KEY);
	CHECK_EQ(a.resp.status, 200);
	answer_free(&a);
	call_auth(&a, PCAPS, NULL, "OPS@Example.COM", KEY);
	CHECK_EQ(a.resp.status, 200);
	answer_free(&a);
	call_auth(&a, PCAPS, "bearer " TOK_R, NULL, NULL);
	CHECK_EQ(a.resp.status, 200);
	answer_free(&a);
	call_auth(&a, PCAPS, "Bearer no-such-token", EMAIL, KEY);
	check_failure(&a, 403, 9109, NULL);
	answer_free(&a);
	call_auth(&a, PCAPS, "Bearer " TOK_R, EMAIL, "wrong-key");
	CHECK_EQ(a.resp.status, 200);
	answer_free(&a);
}

/* Body errors before the members: size, type, JSON, object. */
static void body_errors_answer_1001_to_1004(void)
{
	static const struct {
		const char *content_type, *body;
		int status, code;
		const char *message;
	} cases[] = {
		{ "text/plain", "{}", 415, 1002, "Content-Type must be application/json" },
		{ NULL, "{}", 415, 1002, "Content-Type must be application/json" },
		{ "application/jsonx", "{}", 415, 1002, "Content-Type must be application/json" },
		{ "application/json", "{", 400, 1003, NULL },
		{ "application/json", "", 400, 1003, NULL },
		{ "application/json", "{} x", 400, 1003, NULL },
		{ "application/json", "{\"type\":\"\xff\"}", 400, 1003, NULL },
		{ "application/json", "{\"a\":[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]}", 400, 1003,
		  NULL },
		{ "Application/JSON; charset=utf-8", "42", 400, 1004,
		  "request body must be a JSON object" },
		{ "application/json", "[]", 400, 1004, "request body must be a JSON object" },
		{ "application/json", "null", 400, 1004, "request body must be a JSON object" },
	};
	struct xcap_api_request req = {
		.method = "POST",
		.path = PCAPS,
		.authorization = "Bearer " TOK_W,
		.content_type = "application/json",
		.body = "{}",
		.body_len = 2,
		.body_too_large = true,
	};
	struct answer a;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		call_body(&a, PCAPS, cases[i].content_type, cases[i].body);
		check_failure(&a, cases[i].status, cases[i].code, NULL);
		CHECK(!get(item(get(a.doc, "errors"), 0), "source"),
		      "a pointer for the whole body");
		if (cases[i].message)
			CHECK_STR(message_of(&a), cases[i].message);
		if (cases[i].code == 1003) /* then json-c's words */
			CHECK(!strncmp(message_of(&a), "request body is not valid JSON: ", 32),
			      "'%s'", message_of(&a));
		if (test_failed)
			printf("#   case %zu: %s\n", i, cases[i].body);
		answer_free(&a);
	}
	call_req(&a, &req);
	check_failure(&a, 413, 1001, NULL);
	CHECK_STR(message_of(&a), "request body is larger than 65536 bytes");
	answer_free(&a);
	CHECK_EQ(env->store->capture_puts, 0);
}

/* Each member error of a create: code, pointer and message, written out. */
static void member_errors_name_the_member_and_the_rule(void)
{
#define SIMPLE "{\"type\":\"simple\",\"system\":\"magic-transit\","
#define FULL "{\"type\":\"full\",\"system\":\"magic-transit\","
	static const struct {
		const char *body;
		int code;
		const char *pointer, *message;
	} cases[] = {
		{ "{\"type\":1}", 1006, "/type", "type must be a string" },
		{ "{\"type\":\"simple\"}", 1005, "/system", "system is required" },
		{ "{\"type\":\"simple\",\"system\":null}", 1005, "/system", "system is required" },
		{ "{\"type\":\"simple\",\"system\":\"spectrum\"}", 1008, "/system",
		  "system must be \"magic-transit\"" },
		{ "{\"type\":\"Simple\",\"system\":\"magic-transit\"}", 1008, "/type",
		  "type must be \"simple\" or \"full\"" },
		{ "{\"type\":\"simple\\u0000\",\"system\":\"magic-transit\"}", 1006, "/type",
		  "type must be a string without NUL characters" },
		{ SIMPLE "\"packet_limit\":10}", 1005, "/time_limit", "time_limit is required" },
		{ SIMPLE "\"time_limit\":\"10\"}", 1006, "/time_limit",
		  "time_limit must be a number" },
		{ SIMPLE "\"time_limit\":true}", 1006, "/time_limit",
		  "time_limit must be a number" },
		{ SIMPLE "\"time_limit\":10.5}", 1006, "/time_limit",
		  "time_limit must be a whole number" },
		{ SIMPLE "\"time_limit\":0}", 1007, "/time_limit",
		  "time_limit must be between 1 and 300" },
		{ SIMPLE "\"time_limit\":301}", 1007, "/time_limit",
		  "time_limit must be between 1 and 300" },
		{ SIMPLE "\"time_limit\":1e300}", 1007, "/time_limit",
		  "time_limit must be between 1 and 300" },
		{ SIMPLE "\"time_limit\":10.0}", 1005, "/packet_limit",
		  "packet_limit is required" },
		{ SIMPLE "\"time_limit\":10,\"packet_limit\":10001}", 1007, "/packet_limit",
		  "packet_limit must be between 1 and 10000" },
		{ SIMPLE "\"time_limit\":10,\"packet_limit\":10,\"offset_time\":\"yesterday\"}",
		  1010, "/offset_time",
		  "offset_time must be an RFC 3339 time within the last 24 hours" },
		{ SIMPLE "\"time_limit\":10,\"packet_limit\":10,\"offset_time\":"
			 "\"2000-01-01T00:00:00Z\"}",
		  1010, "/offset_time",
		  "offset_time must be an RFC 3339 time within the last 24 hours" },
		{ SIMPLE "\"time_limit\":10,\"packet_limit\":10,\"offset_time\":5}", 1006,
		  "/offset_time", "offset_time must be a string" },
		{ SIMPLE "\"time_limit\":10,\"packet_limit\":10,\"filter_v1\":"
			 "{\"source_port\":65536}}",
		  1007, "/filter_v1/source_port", "source_port must be between 0 and 65535" },
		{ SIMPLE "\"time_limit\":10,\"packet_limit\":10,\"filter_v1\":"
			 "{\"destination_address\":\"10.0.0.0/33\"}}",
		  1009, "/filter_v1/destination_address",
		  "destination_address must be an IPv4 or IPv6 address or prefix" },
		{ SIMPLE "\"time_limit\":10,\"packet_limit\":10,\"filter_v1\":[]}", 1006,
		  "/filter_v1", NULL },
		{ FULL "\"time_limit\":86401}", 1007, "/time_limit",
		  "time_limit must be between 1 and 86400" },
		{ FULL "\"time_limit\":10,\"packet_limit\":0}", 1007, "/packet_limit",
		  "packet_limit must be between 1 and 10000" },
		{ FULL "\"time_limit\":10,\"byte_limit\":1000000001}", 1007, "/byte_limit",
		  "byte_limit must be between 1 and 1000000000" },
		{ FULL "\"time_limit\":10}", 1005, "/colo_name", "colo_name is required" },
		{ FULL "\"time_limit\":10,\"colo\":\"ord02\"}", 1011, "/colo",
		  "colo_name must be this host's site (local) or metro (LOCAL)" },
		{ FULL "\"time_limit\":10,\"colo_name\":7}", 1006, "/colo_name",
		  "colo_name must be a string" },
		{ FULL "\"time_limit\":10,\"colo_name\":\"Local\"}", 1005, "/destination_conf",
		  "destination_conf is required" },
		{ FULL
		  "\"time_limit\":10,\"colo\":\"LOCAL\",\"destination_conf\":\"file:///none\"}",
		  1013, "/destination_conf",
		  "destination_conf is not a validated bucket of this account" },
	};
#undef SIMPLE
#undef FULL
	struct answer a;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		call(&a, "POST", PCAPS, TOK_W, cases[i].body);
		check_failure(&a, 400, cases[i].code, cases[i].pointer);
		if (cases[i].message)
			CHECK_STR(message_of(&a), cases[i].message);
		if (test_failed)
			printf("#   case %zu: %s\n", i, cases[i].body);
		answer_free(&a);
	}
	CHECK_EQ(env->store->capture_puts, 0);
}

/* The bucket routes' own errors: 1005, 1012, 1405 with their pointers. */
static void bucket_errors_name_the_member(void)
{
	char body[PATH_MAX + 128];
	struct answer a;

	call(&a, "POST", PCAPS "/ownership", TOK_W, "{}");
	check_failure(&a, 400, 1005, "/destination_conf");
	answer_free(&a);
	snprintf(body, sizeof(body), "{\"destination_conf\":\"file://%s/no-such-dir\"}", env->root);
	call(&a, "POST", PCAPS "/ownership", TOK_W, body);
	check_failure(&a, 400, 1012, "/destination_conf");
	snprintf(body, sizeof(body),
		 "destination_conf: bucket directory %s/no-such-dir does not exist", env->root);
	CHECK_STR(message_of(&a), body);
	answer_free(&a);
	call(&a, "POST", PCAPS "/ownership", TOK_W,
	     "{\"destination_conf\":\"file:///no/such/dir\"}");
	check_failure(&a, 400, 1012, "/destination_conf");
	CHECK_STR(message_of(&a),
		  "destination_conf: bucket directory /no/such/dir is not in file_bucket_roots "
		  "(xcapd's config)");
	answer_free(&a);
	call(&a, "POST", PCAPS "/ownership", TOK_W, "{\"destination_conf\":\"file://rel/dir\"}");
	check_failure(&a, 400, 1012, "/destination_conf");
	answer_free(&a);
	snprintf(body, sizeof(body), "{\"destination_conf\":\"file://%s\"}", env->bucket);
	call(&a, "POST", PCAPS "/ownership/validate", TOK_W, body);
	check_failure(&a, 400, 1005, "/ownership_challenge");
	answer_free(&a);
	snprintf(body, sizeof(body),
		 "{\"destination_conf\":\"file://%s\",\"ownership_challenge\":\"x\"}", env->bucket);
	call(&a, "POST", PCAPS "/ownership/validate", TOK_W, body);
	check_failure(&a, 404, 1405, "/destination_conf");
	CHECK_STR(message_of(&a), "bucket not found");
	answer_free(&a);
	call(&a, "DELETE", PCAPS "/ownership/" ID, TOK_W, NULL);
	check_failure(&a, 404, 1405, NULL);
	answer_free(&a);
	CHECK_EQ(env->store->n_buckets, 0);
}

/* 1016 and 1017: what the runner says, as the message; nothing stored. */
static void runner_refusals_answer_1016_and_1017(void)
{
	struct answer a;

	env->cfg.accounts[0].full_active = 0; /* no per-account limit */
	put_validated_bucket();
	env->runner->no_interface = true;
	call_full_create(&a, "");
	check_failure(&a, 400, 1016, NULL);
	CHECK_STR(message_of(&a), "fake: no interface");
	answer_free(&a);
	env->runner->no_interface = false;
	env->runner->slots = 1;
	call_full_create(&a, "");
	CHECK_EQ(a.resp.status, 200);
	answer_free(&a);
	call_full_create(&a, "");
	check_failure(&a, 503, 1017, NULL);
	CHECK_STR(message_of(&a), "fake: all 1 slots are in use; try again when a capture ends");
	answer_free(&a);
	CHECK_EQ(env->store->n_caps, 1);
}

/* The interfaces member of an answer's result, as compact JSON ("" when it has none). */
static const char *result_ifaces(const struct answer *a)
{
	json_object *result = a->doc ? json_object_object_get(a->doc, "result") : NULL;
	json_object *v = result ? json_object_object_get(result, "interfaces") : NULL;

	return v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "";
}

/* The extension `interfaces`: names of this host's interfaces, checked, armed, kept and shown. */
static void interfaces_are_this_hosts(void)
{
	static const char array[] = "interfaces must be an array of 1 to 16 interface names";
	static const struct {
		const char *extra, *pointer, *message;
		int code;
	} bad[] = {
		{ ",\"interfaces\":\"eth0\"", "/interfaces", array, 1006 },
		{ ",\"interfaces\":[]", "/interfaces", array, 1006 },
		{ ",\"interfaces\":[\"eth0\",7]", "/interfaces/1",
		  "interfaces[1] must be an interface name", 1006 },
		{ ",\"interfaces\":[\"eth0\",\"a/b\"]", "/interfaces/1",
		  "interfaces[1] must be an interface name", 1006 },
		{ ",\"interfaces\":[\"eth0\",\"eth9\"]", "/interfaces/1",
		  "interfaces[1]: eth9 is not one of this xcapd's interfaces (eth0, eth1)", 1032 },
	};
	struct answer a;
	size_t i;

	env->cfg.accounts[0].full_active = 0; /* no per-account limit */
	env->cfg.n_ifaces = 2;
	snprintf(env->cfg.ifaces[0], IF_NAMESIZE, "eth0");
	snprintf(env->cfg.ifaces[1], IF_NAMESIZE, "eth1");
	put_validated_bucket();
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		call_full_create(&a, bad[i].extra);
		check_failure(&a, 400, bad[i].code, bad[i].pointer);
		CHECK_STR(message_of(&a), bad[i].message);
		answer_free(&a);
	}
	CHECK_EQ(env->store->capture_puts, 0);
	call_full_create(&a, ",\"interfaces\":[\"eth1\",\"eth1\"]");
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(result_ifaces(&a), "[\"eth1\"]");
	answer_free(&a);
	CHECK_STR(env->runner->runs[0].ifaces, "eth1");
	CHECK_STR(env->store->caps[0].ifaces, "eth1");
	/* Without the member: every interface, as before. */
	call_full_create(&a, "");
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(result_ifaces(&a), "[\"eth0\",\"eth1\"]");
	answer_free(&a);
	CHECK_STR(env->runner->runs[1].ifaces, "");
}

/* The errors of get, download and stop on stored captures. */
static void capture_routes_answer_by_type_and_status(void)
{
	static const char *full_done = "f0000000000000000000000000000001",
			  *simple_failed = "50000000000000000000000000000002",
			  *simple_ok = "50000000000000000000000000000003";
	char path[256];
	struct answer a;

	put_capture(full_done, XCAP_TYPE_FULL, XCAP_ST_COMPLETE, T_SUB);
	put_capture(simple_failed, XCAP_TYPE_SIMPLE, XCAP_ST_FAILED, T_SUB);
	put_capture(simple_ok, XCAP_TYPE_SIMPLE, XCAP_ST_SUCCESS, T_SUB);
	snprintf(path, sizeof(path), PCAPS "/%s/download", full_done);
	call(&a, "GET", path, TOK_R, NULL);
	check_failure(&a, 400, 1019, NULL);
	CHECK_STR(message_of(&a), "a full capture is delivered to its bucket, not downloaded");
	answer_free(&a);
	snprintf(path, sizeof(path), PCAPS "/%s/download", simple_failed);
	call(&a, "GET", path, TOK_R, NULL);
	check_failure(&a, 400, 1020, NULL);
	CHECK_STR(message_of(&a), "the capture is failed; download needs status success");
	answer_free(&a);
	snprintf(path, sizeof(path), PCAPS "/%s/stop", full_done);
	call(&a, "PUT", path, TOK_W, NULL);
	check_failure(&a, 400, 1018, NULL);
	CHECK_STR(message_of(&a), "only a pending or running full capture can be stopped; this one "
				  "is full complete");
	answer_free(&a);
	snprintf(path, sizeof(path), PCAPS "/%s/stop", simple_ok);
	call(&a, "PUT", path, TOK_W, NULL);
	check_failure(&a, 400, 1018, NULL);
	CHECK_STR(message_of(&a), "only a pending or running full capture can be stopped; this one "
				  "is simple success");
	answer_free(&a);
	/* Its file is gone (this test never wrote one): an internal error, not a crash. */
	snprintf(path, sizeof(path), PCAPS "/%s/download", simple_ok);
	call(&a, "GET", path, TOK_R, NULL);
	check_failure(&a, 500, 1500, NULL);
	CHECK_STR(message_of(&a), "internal error: the capture file cannot be read");
	answer_free(&a);
	/* Another account's capture is not found, as an unknown one. */
	snprintf(path, sizeof(path), BASE ACC_B "/pcaps/%s", full_done);
	call(&a, "GET", path, TOK_B, NULL);
	check_failure(&a, 404, 1404, NULL);
	CHECK_STR(message_of(&a), "capture not found");
	answer_free(&a);
}

/*
 * A stop ends the capture at once: 204 without a body, then the record says it
 * was stopped; nothing matched, so it is delivered empty (not failed).
 */
static void stop_answers_204_and_the_capture_ends(void)
{
	json_object *res;
	char path[256];
	struct answer a;

	put_validated_bucket();
	call_full_create(&a, "");
	CHECK_EQ(a.resp.status, 200);
	snprintf(path, sizeof(path), PCAPS "/%s/stop", get_str(get(a.doc, "result"), "id"));
	answer_free(&a);
	call(&a, "PUT", path, TOK_W, NULL);
	CHECK_EQ(a.resp.status, 204);
	CHECK(!a.resp.body && !a.resp.content_type, "a 204 with a body");
	answer_free(&a);
	CHECK_EQ(env->runner->stopped, 1);
	path[strlen(path) - strlen("/stop")] = '\0';
	call(&a, "GET", path, TOK_R, NULL);
	res = get(a.doc, "result");
	CHECK(strstr(" conversion_pending conversion_running complete ", get_str(res, "status")),
	      "status %s", get_str(res, "status"));
	CHECK(!get(res, "error_message"), "error_message %s", get_str(res, "error_message"));
	CHECK(*get_str(res, "stop_requested"), "no stop_requested");
	answer_free(&a);
}

/* A capture as GET shows it: every member, written out (full, then simple). */
static void get_answers_the_capture_in_the_envelope(void)
{
	struct answer a;

	put_capture("f0000000000000000000000000000001", XCAP_TYPE_FULL, XCAP_ST_COMPLETE, T_SUB);
	put_capture("50000000000000000000000000000002", XCAP_TYPE_SIMPLE, XCAP_ST_SUCCESS, T_SUB);
	call(&a, "GET", PCAPS "/f0000000000000000000000000000001", TOK_R, NULL);
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(a.resp.content_type ?: "", "application/json");
	CHECK_STR(a.resp.body ?: "",
		  "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":{"
		  "\"id\":\"f0000000000000000000000000000001\",\"type\":\"full\","
		  "\"system\":\"magic-transit\",\"status\":\"complete\","
		  "\"submitted\":\"2023-11-14T22:13:20Z\",\"time_limit\":60,"
		  "\"filter_v1\":{\"protocol\":6},\"direction\":\"inout\",\"format\":\"pcap\","
		  "\"packet_limit\":100,\"colo_name\":\"local\","
		  "\"destination_conf\":\"file:///srv/pcaps\",\"interfaces\":[],"
		  "\"packets_captured\":5,\"bytes_captured\":500,\"packets_matched\":6,"
		  "\"packets_lost\":1}}");
	answer_free(&a);
	call(&a, "GET", PCAPS "/50000000000000000000000000000002", TOK_R, NULL);
	CHECK_STR(a.resp.body ?: "",
		  "{\"success\":true,\"errors\":[],\"messages\":[],\"result\":{"
		  "\"id\":\"50000000000000000000000000000002\",\"type\":\"simple\","
		  "\"system\":\"magic-transit\",\"status\":\"success\","
		  "\"submitted\":\"2023-11-14T22:13:20Z\",\"time_limit\":60,"
		  "\"filter_v1\":{\"protocol\":6},\"direction\":\"inout\",\"format\":\"pcap\","
		  "\"packet_limit\":100,"
		  "\"offset_time\":\"2023-11-14T22:13:20Z\","
		  "\"packets_captured\":5,\"bytes_captured\":500,\"packets_matched\":6,"
		  "\"packets_lost\":1}}");
	answer_free(&a);
}

/*
 * 52 captures of account A stored out of order (and 3 of B): the list shows
 * A's 50 newest, newest first, and counts all 52.
 */
static void list_shows_the_50_newest_first_and_counts_all(void)
{
	json_object *items, *info;
	char id[XCAP_ID_LEN + 1];
	struct answer a;
	int i, k;

	for (i = 0; i < 52; i++) {
		k = i * 7 % 52; /* 7 and 52 are coprime: every k once */
		snprintf(id, sizeof(id), "%032d", k);
		put_capture(id, XCAP_TYPE_SIMPLE, XCAP_ST_SUCCESS, T_SUB + k * NSEC_PER_SEC);
	}
	for (i = 0; i < 3; i++) {
		struct xcap_capture_rec r = { .type = XCAP_TYPE_SIMPLE, .status = XCAP_ST_SUCCESS };

		snprintf(r.id, sizeof(r.id), "b%031d", i);
		snprintf(r.account, sizeof(r.account), ACC_B);
		snprintf(r.filter_json, sizeof(r.filter_json), "{}");
		r.submitted_ns = T_SUB + 100 * NSEC_PER_SEC;
		CHECK_EQ(xcap_store_capture_put(&env->store->base, &r), 0);
	}
	call(&a, "GET", PCAPS, TOK_R, NULL);
	CHECK_EQ(a.resp.status, 200);
	items = get(a.doc, "result");
	info = get(a.doc, "result_info");
	CHECK_EQ(array_len(items), 50);
	CHECK_STR(json_object_to_json_string_ext(info, JSON_C_TO_STRING_PLAIN),
		  "{\"page\":1,\"per_page\":50,\"count\":50,\"total_count\":52}");
	CHECK_STR(get_str(item(items, 0), "id"), "00000000000000000000000000000051");
	CHECK_STR(get_str(item(items, 1), "id"), "00000000000000000000000000000050");
	CHECK_STR(get_str(item(items, 49), "id"), "00000000000000000000000000000002");
	CHECK_STR(get_str(item(items, 0), "submitted"), "2023-11-14T22:14:11Z");
	answer_free(&a);
}

/*
 * How the transport runs bucket add and validate off its thread: deferred
 * only once authorized, refused with 503 and Retry-After when no worker is
 * free; every other route is answered at once whatever the mode.
 */
static void blocking_routes_are_deferred_only_once_authorized(void)
{
	char body[PATH_MAX + 64];
	struct xcap_api_request req = {
		.method = "POST",
		.path = PCAPS "/ownership",
		.authorization = "Bearer " TOK_W,
		.content_type = "application/json",
		.body = body,
		.blocking = XCAP_API_DEFER,
	};
	struct answer a;

	snprintf(body, sizeof(body), "{\"destination_conf\":\"file://%s\"}", env->bucket);
	req.body_len = strlen(body);
	call_req(&a, &req);
	CHECK(a.resp.deferred, "bucket add answered on the loop's thread");
	CHECK_EQ(a.resp.status, 0);
	CHECK(!a.resp.body, "a deferred request with a body");
	answer_free(&a);
	CHECK_EQ(env->store->n_buckets, 0);

	req.path = PCAPS "/ownership/validate";
	call_req(&a, &req);
	CHECK(a.resp.deferred, "validate answered on the loop's thread");
	answer_free(&a);

	req.authorization = "Bearer " TOK_R;
	call_req(&a, &req);
	CHECK(!a.resp.deferred, "a refused credential was deferred");
	check_failure(&a, 403, 10000, NULL);
	answer_free(&a);

	req.authorization = "Bearer " TOK_W;
	req.blocking = XCAP_API_REFUSE;
	call_req(&a, &req);
	check_failure(&a, 503, 1023, NULL);
	CHECK_EQ(a.resp.retry_after, 5);
	CHECK_STR(message_of(&a), "too many bucket requests in progress; try again later");
	answer_free(&a);

	req.method = "GET";
	req.path = PCAPS "/ownership";
	req.blocking = XCAP_API_DEFER;
	call_req(&a, &req);
	CHECK(!a.resp.deferred, "bucket list deferred");
	CHECK_EQ(a.resp.status, 200);
	answer_free(&a);
	CHECK_EQ(env->store->n_buckets, 0);
}

/* Each test on a fresh API: no state leaks from one to the next. */
#define RUN_API_TEST(fn)                                                     \
	do {                                                                 \
		if (env_start(#fn)) {                                        \
			printf("not ok - %s: cannot set up the API\n", #fn); \
			tests_failed_total++;                                \
			break;                                               \
		}                                                            \
		RUN_TEST(fn);                                                \
		env_stop();                                                  \
	} while (0)

int main(void)
{
	if (test_tmpdir_init("api"))
		return 1;
	xcap_log_set_level(XCAP_LOG_ERR);
	RUN_API_TEST(unknown_routes_and_methods_answer_the_envelope);
	RUN_API_TEST(credentials_are_checked_before_the_route_runs);
	RUN_API_TEST(create_validation_names_the_member);
	RUN_API_TEST(simple_creates_are_rate_limited_per_account);
	RUN_API_TEST(buckets_are_added_validated_and_used);
	RUN_API_TEST(adding_a_bucket_again_answers_the_same_record);
	RUN_API_TEST(metrics_need_a_credential_and_count_requests);
	RUN_API_TEST(create_takes_the_tunnel_extension);
	RUN_API_TEST(buckets_outside_the_roots_are_refused);
	RUN_API_TEST(a_file_bucket_needs_the_challenge_content);
	RUN_API_TEST(buckets_are_counted_per_account);
	RUN_API_TEST(the_bucket_list_counts_them_all);
	RUN_API_TEST(no_account_takes_every_full_slot);
	RUN_API_TEST(stored_files_are_bounded_per_account);
	RUN_API_TEST(a_bucket_is_named_without_its_keys);
	RUN_API_TEST(metrics_show_only_the_credentials_captures);
	RUN_API_TEST(each_route_answers_405_with_its_allow_header);
	RUN_API_TEST(malformed_ids_answer_7003_before_credentials);
	RUN_API_TEST(unknown_paths_answer_7000);
	RUN_API_TEST(malformed_credentials_answer_6003_with_the_reason_in_its_chain);
	RUN_API_TEST(missing_credentials_answer_9106);
	RUN_API_TEST(unknown_credentials_answer_9109_for_a_token_and_10000_for_a_key);
	RUN_API_TEST(both_credential_schemes_are_accepted);
	RUN_API_TEST(body_errors_answer_1001_to_1004);
	RUN_API_TEST(member_errors_name_the_member_and_the_rule);
	RUN_API_TEST(bucket_errors_name_the_member);
	RUN_API_TEST(runner_refusals_answer_1016_and_1017);
	RUN_API_TEST(interfaces_are_this_hosts);
	RUN_API_TEST(capture_routes_answer_by_type_and_status);
	RUN_API_TEST(stop_answers_204_and_the_capture_ends);
	RUN_API_TEST(get_answers_the_capture_in_the_envelope);
	RUN_API_TEST(list_shows_the_50_newest_first_and_counts_all);
	RUN_API_TEST(blocking_routes_are_deferred_only_once_authorized);
	return tests_failed_total ? 1 : 0;
}
