// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: the API (routing, authentication, validation, the envelope and
 * the error table) without a socket, on an in-memory store and the jobs over
 * a fake runner. Buckets are file:// folders in the test's temporary folder.
 */
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

#define CHECK_STR(got, want) CHECK(!strcmp(got, want), "got '%s', want '%s'", got, want)

/* The API on its seams. */
struct env {
	struct xcap_config cfg;
	struct store_mem *store;
	struct runner_fake *runner;
	struct xcap_jobs *jobs;
	struct xcap_api *api;
	int64_t now;
	char bucket[PATH_MAX];
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
	test_path(dir, sizeof(dir), name);
	mkdir(dir, 0700);
	snprintf(env->cfg.state_dir, sizeof(env->cfg.state_dir), "%s/state", dir);
	mkdir(env->cfg.state_dir, 0700);
	snprintf(env->bucket, sizeof(env->bucket), "%s/bucket", dir);
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
	xcap_api_handle(env->api, &req, &a->resp);
	a->doc = a->resp.body && a->resp.content_type &&
				 !strcmp(a->resp.content_type, "application/json") ?
			 json_tokener_parse(a->resp.body) :
			 NULL;
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

static const char *get_str(json_object *o, const char *key)
{
	return json_object_get_string(get(o, key)) ?: "";
}

/* The failure envelope: status, success false, result null, errors[0] with code (and pointer). */
static void check_failure(const struct answer *a, int status, int code, const char *pointer)
{
	json_object *err = json_object_array_get_idx(get(a->doc, "errors"), 0);

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
	answer_free(&a);
	call(&a, "POST", BASE ACC_A "/pcaps", TOK_R,
	     "{\"type\":\"simple\",\"system\":\"magic-transit\",\"time_limit\":10,"
	     "\"packet_limit\":10}");
	check_failure(&a, 403, 10000, NULL);
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

/* A file:// bucket: add writes the challenge, validate checks it, then captures may use it. */
static void buckets_are_added_validated_and_used(void)
{
	char conf[PATH_MAX + 64], body[2 * PATH_MAX], token[128] = "", file[PATH_MAX + 128];
	const char *id = NULL;
	struct answer a;
	FILE *f;

	snprintf(conf, sizeof(conf), "file://%s", env->bucket);
	snprintf(body, sizeof(body), "{\"destination_conf\":\"%s\"}", conf);
	call(&a, "POST", BASE ACC_A "/pcaps/ownership", TOK_W, body);
	CHECK_EQ(a.resp.status, 200);
	CHECK_STR(get_str(get(a.doc, "result"), "status"), "pending");
	snprintf(file, sizeof(file), "%s/%s", env->bucket,
		 get_str(get(a.doc, "result"), "filename"));
	answer_free(&a);
	f = fopen(file, "r");
	CHECK(f && fgets(token, sizeof(token), f), "no challenge at %s", file);
	if (f)
		fclose(f);

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

	snprintf(body, sizeof(body),
		 "{\"type\":\"full\",\"system\":\"magic-transit\",\"time_limit\":10,"
		 "\"colo_name\":\"LOCAL\",\"destination_conf\":\"%s\"}",
		 conf);
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
	CHECK_EQ(json_object_array_length(get(a.doc, "result")), 1);
	id = get_str(json_object_array_get_idx(get(a.doc, "result"), 0), "id");
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
	RUN_API_TEST(metrics_need_a_credential_and_count_requests);
	RUN_API_TEST(create_takes_the_tunnel_extension);
	return tests_failed_total ? 1 : 0;
}
