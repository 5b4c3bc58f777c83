// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit tier: S3 destinations (URI parsing, masking, S3 error bodies, retries
 * against a closed port). With S3_TEST_ENDPOINT set (tests/integ/test_s3_client.sh
 * does it), the live cases instead, against that server: s3rver behind the
 * SigV4-checking proxy of tests/integ/s3/server.js, whose fault injection
 * (/__xcap_test/...) stands for a failing or stopped server. Without it they
 * are not run at all (no skip lines: the integ tier runs them and checks that
 * every RUN_LIVE case below reported a result).
 *   S3_TEST_ENDPOINT  http://127.0.0.1:PORT (the proxy)
 *   S3_TEST_BUCKET    an existing bucket
 *   S3_TEST_KEY_ID, S3_TEST_SECRET  a key pair the proxy knows
 */
#define _GNU_SOURCE /* setenv, memmem */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <curl/curl.h>
#include "server/s3.h"
#include "common/util.h"
#include "server/dest.h"
#include "test.h"

static const char *endpoint, *bucket, *key_id, *secret;
/* The config's s3_endpoints: those the URIs below name. */
static struct xcap_config cfg;

static void allow_endpoint(const char *ep)
{
	snprintf(cfg.s3_endpoints[cfg.n_endpoints++], XCAP_CFG_ENDPOINT_MAX, "%s", ep);
}

/* --- offline --- */

static void clear_aws_env(void)
{
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	unsetenv("AWS_SESSION_TOKEN");
	unsetenv("XCAP_S3_PART_SIZE");
	unsetenv("XCAP_S3_ATTEMPTS");
	unsetenv("XCAP_S3_BACKOFF_MS");
	unsetenv("XCAP_S3_TIMEOUT_MS");
}

static void parse_s3_uri(void)
{
	struct xcap_account acc = { .id = "a1",
				    .s3_access_key_id = "AKACC",
				    .s3_secret_access_key = "skacc",
				    .s3_session_token = "tokacc" };
	struct xcap_dest d;
	char err[256] = "";

	clear_aws_env();
	CHECK_EQ(xcap_dest_parse("s3://pcaps-bucket?region=us-east-1", &cfg, &acc, &d, err,
				 sizeof(err)),
		 0);
	CHECK(d.type == &xcap_dest_s3, "type %s", d.type->scheme);
	CHECK(d.own_keys, "the account's keys are not its own");
	CHECK(!strcmp(d.s3.bucket, "pcaps-bucket"), "%s", d.s3.bucket);
	CHECK(!strcmp(d.s3.prefix, ""), "%s", d.s3.prefix);
	CHECK(!strcmp(d.s3.region, "us-east-1"), "%s", d.s3.region);
	CHECK(!strcmp(d.s3.endpoint, "https://s3.us-east-1.amazonaws.com"), "%s", d.s3.endpoint);
	CHECK(!strcmp(d.s3.access_key_id, "AKACC") && !strcmp(d.s3.secret_access_key, "skacc") &&
		      !strcmp(d.s3.session_token, "tokacc"),
	      "the account's keys are not used");
	CHECK_EQ(d.s3.opts.part_size, 8u << 20);
	CHECK_EQ(d.s3.opts.attempts, 5);

	/* A prefix (trailing '/' or not), and an endpoint of s3_endpoints, in another case. */
	CHECK_EQ(xcap_dest_parse("s3://b.k-1/dir/sub/?region=eu-west-3&endpoint=HTTP://"
				 "127.0.0.1:9000/",
				 &cfg, &acc, &d, err, sizeof(err)),
		 0);
	CHECK(!strcmp(d.s3.bucket, "b.k-1"), "%s", d.s3.bucket);
	CHECK(!strcmp(d.s3.prefix, "dir/sub/"), "%s", d.s3.prefix);
	CHECK(!strcasecmp(d.s3.endpoint, "http://127.0.0.1:9000"), "%s", d.s3.endpoint);
	/* An account without keys falls back on the environment, session token included. */
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "sk/env+1", 1);
	setenv("AWS_SESSION_TOKEN", "tokenv", 1);
	acc.s3_access_key_id[0] = '\0';
	CHECK_EQ(xcap_dest_parse("s3://bkt/x?region=auto", &cfg, &acc, &d, err, sizeof(err)), 0);
	CHECK(!strcmp(d.s3.access_key_id, "AKENV") && !strcmp(d.s3.secret_access_key, "sk/env+1") &&
		      !strcmp(d.s3.session_token, "tokenv"),
	      "no fallback on the environment");
	CHECK(!d.own_keys, "xcapd's own keys count as the account's");
	CHECK(!strcmp(d.s3.endpoint, "https://s3.auto.amazonaws.com"), "%s", d.s3.endpoint);
	CHECK(!strcmp(d.s3.prefix, "x/"), "%s", d.s3.prefix);
	clear_aws_env();
}

/*
 * endpoint= reaches only the config's s3_endpoints, and xcapd's own keys (the
 * environment's) never go to an endpoint a request named, listed or not.
 */
static void endpoint_allow_list(void)
{
	static const char *const refused[] = {
		"s3://bkt?region=us-east-1&endpoint=http://127.0.0.1:6379",
		"s3://bkt?region=us-east-1&endpoint=http://127.0.0.1:9000/x",
		"r2://bkt?account-id=a&access-key-id=k&secret-access-key=s&endpoint=http://10.0.0.1",
		"gs://bkt?access-key-id=k&secret-access-key=s&endpoint=https://[::1]:8443",
	};
	struct xcap_account acc = { .id = "a1",
				    .s3_access_key_id = "AKACC",
				    .s3_secret_access_key = "skacc" };
	struct xcap_dest d;
	char err[256];
	size_t i;
	int ret;

	clear_aws_env();
	for (i = 0; i < ARRAY_SIZE(refused); i++) {
		ret = xcap_dest_parse(refused[i], &cfg, &acc, &d, err, sizeof(err));
		CHECK(ret == -EPERM || ret == -EINVAL, "%s: %d", refused[i], ret);
		CHECK(strstr(err, "s3_endpoints") || strstr(err, "endpoint is http"), "%s: %s",
		      refused[i], err);
	}
	/* Without a config nothing is listed. */
	ret = xcap_dest_parse("s3://bkt?region=us-east-1&endpoint=http://127.0.0.1:9000", NULL,
			      &acc, &d, err, sizeof(err));
	CHECK(ret == -EPERM && strstr(err, "is not in s3_endpoints"), "%d %s", ret, err);
	/* Listed, but the keys would be xcapd's own: refused, and the message names no key. */
	setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTKEY", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "hostsecret", 1);
	ret = xcap_dest_parse("s3://bkt?region=us-east-1&endpoint=http://127.0.0.1:9000", &cfg,
			      NULL, &d, err, sizeof(err));
	CHECK(ret == -EPERM && strstr(err, "needs the account's own keys") &&
		      !strstr(err, "AKIAHOSTKEY"),
	      "%d %s", ret, err);
	/* The same with the account's keys is fine. */
	ret = xcap_dest_parse("s3://bkt?region=us-east-1&endpoint=http://127.0.0.1:9000", &cfg,
			      &acc, &d, err, sizeof(err));
	CHECK(!ret && !strcmp(d.s3.access_key_id, "AKACC"), "%d %s", ret, err);
	clear_aws_env();
	CHECK(xcap_dest_endpoint_valid("https://s3.example.com:8443/"), "valid endpoint refused");
	CHECK(!xcap_dest_endpoint_valid("https://s3.example.com/path"), "a path accepted");
	CHECK(!xcap_dest_endpoint_valid("s3.example.com"), "no scheme accepted");
}

static void parse_gs_uri(void)
{
	struct xcap_dest d;
	char err[256] = "";

	CHECK_EQ(xcap_dest_parse("gs://my-bucket/caps?access-key-id=GOOG1EABC"
				 "&secret-access-key=a%2Bb",
				 &cfg, NULL, &d, err, sizeof(err)),
		 0);
	CHECK(d.type == &xcap_dest_gs, "type %s", d.type ? d.type->scheme : "none");
	CHECK(!strcmp(d.s3.endpoint, "https://storage.googleapis.com"), "%s", d.s3.endpoint);
	CHECK(!strcmp(d.s3.region, "auto"), "%s", d.s3.region);
	CHECK(!strcmp(d.s3.bucket, "my-bucket") && !strcmp(d.s3.prefix, "caps/"), "%s %s",
	      d.s3.bucket, d.s3.prefix);
	CHECK(!strcmp(d.s3.access_key_id, "GOOG1EABC") && !strcmp(d.s3.secret_access_key, "a+b"),
	      "the HMAC key is not used");
	CHECK(d.own_keys, "a gs:// HMAC key is the account's own");
	xcap_dest_close(&d);
	CHECK_EQ(xcap_dest_parse("gs://bkt?access-key-id=k&secret-access-key=s&region=us-east1",
				 &cfg, NULL, &d, err, sizeof(err)),
		 0);
	CHECK(!strcmp(d.s3.region, "us-east1"), "%s", d.s3.region);
	CHECK(xcap_dest_parse("gs://bkt/dir", &cfg, NULL, &d, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "gs:// needs access-key-id and secret-access-key"),
	      "%s", err);
}

/* A URI without its keys, as a client names a bucket it added with them. */
static void unkeyed_uri(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "r2://b/p?account-id=acc&access-key-id=AK&secret-access-key=SK",
		  "r2://b/p?account-id=acc" },
		{ "r2://b?access-key-id=AK&account-id=acc&secret-access-key=SK&endpoint=http://h",
		  "r2://b?account-id=acc&endpoint=http://h" },
		{ "gs://b?access-key-id=AK&secret-access-key=SK", "gs://b" },
		{ "s3://b?region=us-east-1", "s3://b?region=us-east-1" },
		{ "file:///x", "file:///x" },
	};
	char out[256];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		CHECK_EQ(xcap_dest_unkeyed(cases[i].in, out, sizeof(out)), 0);
		CHECK(!strcmp(out, cases[i].out), "%s: got %s", cases[i].in, out);
	}
}

static void parse_r2_uri(void)
{
	struct xcap_dest d;
	char err[256] = "";

	clear_aws_env();
	CHECK_EQ(xcap_dest_parse("r2://my-bucket/cap?account-id=023e105f4ecef8ad9ca31a8372d0c353"
				 "&access-key-id=AKR2&secret-access-key=a%2Bb%2Fc+d",
				 NULL, NULL, &d, err, sizeof(err)),
		 0);
	CHECK(d.type == &xcap_dest_r2, "type %s", d.type->scheme);
	CHECK(!strcmp(d.s3.endpoint,
		      "https://023e105f4ecef8ad9ca31a8372d0c353.r2.cloudflarestorage."
		      "com"),
	      "%s", d.s3.endpoint);
	CHECK(!strcmp(d.s3.region, "auto"), "%s", d.s3.region);
	CHECK(!strcmp(d.s3.bucket, "my-bucket") && !strcmp(d.s3.prefix, "cap/"), "%s %s",
	      d.s3.bucket, d.s3.prefix);
	CHECK(!strcmp(d.s3.access_key_id, "AKR2"), "%s", d.s3.access_key_id);
	/* Percent-decoded, and '+' is no space: AWS-style secrets hold it. */
	CHECK(!strcmp(d.s3.secret_access_key, "a+b/c+d"), "the secret is decoded wrong");
	CHECK(d.own_keys, "r2:// keys are the account's own");
	CHECK_EQ(xcap_dest_parse("r2://bkt?account-id=acc&access-key-id=K&secret-access-key=S"
				 "&endpoint=http://localhost:4568",
				 &cfg, NULL, &d, err, sizeof(err)),
		 0);
	CHECK(!strcmp(d.s3.endpoint, "http://localhost:4568"), "%s", d.s3.endpoint);
}

struct bad_uri {
	const char *conf;
	const char *msg;
};

static void parse_errors(void)
{
	static const struct bad_uri cases[] = {
		{ "az://bucket/dir", "unsupported destination 'az://'; supported schemes: file://, "
				     "s3://, r2://, gs://" },
		{ "ftp://host/x", "unsupported destination 'ftp://'" },
		{ "bucket", "supported schemes: file://, s3://, r2://, gs://" },
		{ "", "supported schemes" },
		{ "s3://bucket", "s3:// needs ?region=REGION" },
		{ "s3://bucket?region=", "parameter region needs a value" },
		{ "s3://bucket?region=US_EAST", "region is made of [a-z0-9-]" },
		{ "s3://bucket?region=us-east-1&region=us-east-2", "parameter region given twice" },
		{ "s3://bucket?region=us-east-1&foo=1", "unknown parameter 'foo' (known: region, "
							"endpoint)" },
		{ "s3://bucket?region=us-east-1&secret-access-key=x",
		  "unknown parameter 'secret-access-key'" },
		{ "s3://b?region=us-east-1", "the bucket name is 3..63 characters" },
		{ "s3://-bucket?region=us-east-1", "the bucket name" },
		{ "s3://buc ket?region=us-east-1", "the bucket name" },
		{ "s3://bucket/a/../b?region=us-east-1", "the prefix is at most 500 characters" },
		{ "s3://bucket/a//b?region=us-east-1", "no empty, '.' or '..' segment" },
		{ "s3://bucket/a%20b?region=us-east-1", "the prefix" },
		{ "s3://bucket?region=us-east-1&endpoint=ftp://h",
		  "endpoint is http(s)://HOST[:PORT]" },
		{ "s3://bucket?region=us-east-1&endpoint=http://h/path", "endpoint is http(s)://" },
		{ "s3://bucket?region=us-east-1&endpoint=http://u@h", "endpoint is http(s)://" },
		{ "s3://bucket?region=us-east-1&endpoint=http://h:99999", "endpoint is" },
		{ "s3://bucket?region=us-east-1&endpoint=http://h:", "endpoint is" },
		{ "s3://bucket?region=us-east-1&endpoint=http://%zz", "parameter endpoint needs a "
								      "value" },
		{ "s3://bucket?region=us-east-1", "no S3 keys for s3:// buckets" },
		{ "r2://bucket?account-id=a&access-key-id=k",
		  "r2:// needs access-key-id and secret-access-key" },
		{ "r2://bucket?access-key-id=k&secret-access-key=s",
		  "r2:// needs account-id, access-key-id and secret-access-key" },
		{ "r2://bucket?account-id=a.b&access-key-id=k&secret-access-key=s",
		  "account-id is made of [0-9a-zA-Z]" },
		{ "r2://bucket?account-id=a&access-key-id=k&secret-access-key=s&region=auto",
		  "unknown parameter 'region' (known: endpoint, account-id, access-key-id, "
		  "secret-access-key)" },
		{ "r2://bucket?account-id=a&access-key-id=k&secret-access-key=s%0aX",
		  "parameter secret-access-key needs a value" },
		{ "file://relative/dir", "file:///ABSOLUTE/DIR" },
	};
	struct xcap_dest d;
	char err[256];
	size_t i;
	int ret;

	clear_aws_env();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		ret = xcap_dest_parse(cases[i].conf, &cfg, NULL, &d, err, sizeof(err));
		CHECK(ret == -EINVAL, "%s: returned %d (%s)", cases[i].conf, ret, err);
		CHECK(strstr(err, cases[i].msg), "%s: message \"%s\" lacks \"%s\"", cases[i].conf,
		      err, cases[i].msg);
	}
	/* Messages never quote a secret's value. */
	ret = xcap_dest_parse("r2://bucket?account-id=a&access-key-id=k&secret-access-key="
			      "TOPSECRET&secret-access-key=TOPSECRET2",
			      NULL, NULL, &d, err, sizeof(err));
	CHECK(ret == -EINVAL && !strstr(err, "TOPSECRET"), "%d %s", ret, err);
}

static void test_knobs(void)
{
	struct xcap_dest d;
	char err[256] = "";

	clear_aws_env();
	setenv("XCAP_S3_PART_SIZE", "65536", 1);
	setenv("XCAP_S3_ATTEMPTS", "2", 1);
	setenv("XCAP_S3_BACKOFF_MS", "10", 1);
	setenv("XCAP_S3_TIMEOUT_MS", "1500", 1);
	CHECK_EQ(xcap_dest_parse("r2://bkt?account-id=a&access-key-id=k&secret-access-key=s", NULL,
				 NULL, &d, err, sizeof(err)),
		 0);
	CHECK_EQ(d.s3.opts.part_size, 65536);
	CHECK_EQ(d.s3.opts.attempts, 2);
	CHECK_EQ(d.s3.opts.backoff_ms, 10);
	CHECK_EQ(d.s3.opts.timeout_ms, 1500);
	setenv("XCAP_S3_ATTEMPTS", "0", 1);
	CHECK(xcap_dest_parse("r2://bkt?account-id=a&access-key-id=k&secret-access-key=s", NULL,
			      NULL, &d, err, sizeof(err)) == -EINVAL &&
		      strstr(err, "XCAP_S3_ATTEMPTS: expected an integer 1..20"),
	      "%s", err);
	clear_aws_env();
}

static void mask_secrets(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "r2://b?account-id=acc&access-key-id=AK1&secret-access-key=SK1",
		  "r2://b?account-id=acc&access-key-id=***&secret-access-key=***" },
		{ "r2://b/p?Secret-Access-Key=SK1&endpoint=http://h:1&session-token=T",
		  "r2://b/p?Secret-Access-Key=***&endpoint=http://h:1&session-token=***" },
		{ "s3://b/p?region=us-east-1", "s3://b/p?region=us-east-1" },
		{ "file:///tmp/b", "file:///tmp/b" },
		{ "r2://b?&&access-key-id&x=1", "r2://b?&&access-key-id&x=1" },
	};
	char out[256];
	size_t i;
	int want;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(xcap_dest_mask(cases[i].in, out, sizeof(out)), 0);
		CHECK(!strcmp(out, cases[i].out), "%s: got %s", cases[i].in, out);
	}
	/* Cut short: -ENOSPC, NUL-terminated, and no part of a secret. */
	for (i = 1; i < 40; i++) {
		want = i > strlen("r2://b?secret-access-key=***") ? 0 : -ENOSPC;
		CHECK(xcap_dest_mask("r2://b?secret-access-key=ABCDEFGHIJKLMNOPQRSTUVWXYZ", out,
				     i) == want,
		      "size %zu", i);
		CHECK(strlen(out) < i && !strstr(out, "ABC"), "size %zu: %s", i, out);
	}
}

static void xml_error_bodies(void)
{
	static const char body[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"
				   "NoSuchBucket</Code><Message>The specified bucket does not "
				   "exist</Message><BucketName>b</BucketName></Error>";
	static const char amp[] = "<Error><Code>A&amp;B</Code><Message>x &lt;y&gt; &quot;q&quot; "
				  "&apos;s&apos; &bogus;\nend</Message></Error>";
	static const char empty[] = "<Error><Code>AccessDenied</Code><Message></Message></Error>";
	static const char last[] = "<Error><Code>A&lt;</Code><Message>x&gt;</Message></Error>";
	char out[128], small[8];

	xcap_s3_error_text(404, body, strlen(body), out, sizeof(out));
	CHECK(!strcmp(out, "NoSuchBucket: the bucket does not exist"), "%s", out);
	/* Never the server's own words: a code that is no word is no code either. */
	xcap_s3_error_text(400, amp, strlen(amp), out, sizeof(out));
	CHECK(!strcmp(out, "HTTP 400"), "%s", out);
	xcap_s3_error_text(400, "<Error><Code>Weird</Code><Message>internal text</Message></Error>",
			   63, out, sizeof(out));
	CHECK(!strcmp(out, "Weird"), "%s", out);
	xcap_s3_error_text(403, "<Error><Code>AccessDenied</Code></Error>", 40, out, sizeof(out));
	CHECK(!strcmp(out, "AccessDenied: access denied"), "%s", out);
	/* An empty message is no message (and no message is ever quoted). */
	xcap_s3_error_text(403, empty, strlen(empty), out, sizeof(out));
	CHECK(!strcmp(out, "AccessDenied: access denied"), "%s", out);
	/* An entity that ends the text is decoded too; "A<" is then no code. */
	CHECK_EQ(xcap_s3_xml_text(last, strlen(last), "Code", out, sizeof(out)), 0);
	CHECK(!strcmp(out, "A<"), "%s", out);
	CHECK_EQ(xcap_s3_xml_text(last, strlen(last), "Message", out, sizeof(out)), 0);
	CHECK(!strcmp(out, "x>"), "%s", out);
	xcap_s3_error_text(400, last, strlen(last), out, sizeof(out));
	CHECK(!strcmp(out, "HTTP 400"), "%s", out);
	xcap_s3_error_text(502, "<html>Bad gateway</html>", 24, out, sizeof(out));
	CHECK(!strcmp(out, "HTTP 502"), "%s", out);
	xcap_s3_error_text(500, NULL, 0, out, sizeof(out));
	CHECK(!strcmp(out, "HTTP 500"), "%s", out);
	/* The length bounds the search: no reading past a body that is not NUL-terminated. */
	xcap_s3_error_text(404, body, 60, out, sizeof(out));
	CHECK(!strcmp(out, "HTTP 404"), "%s", out);
	CHECK_EQ(xcap_s3_xml_text(body, strlen(body), "Code", small, sizeof(small)), -ENOSPC);
	CHECK(!strcmp(small, "NoSuchB"), "%s", small);
	CHECK_EQ(xcap_s3_xml_text(body, strlen(body), "UploadId", small, sizeof(small)), -ENOENT);
	CHECK_EQ(xcap_s3_xml_text("<UploadId>abc", 13, "UploadId", small, sizeof(small)), -ENOENT);
}

/* A port nothing listens on: retries with backoff, then a message that says so. */
static void closed_port_retried(void)
{
	struct xcap_s3 s = {
		.endpoint = "http://127.0.0.1:1",
		.region = "us-east-1",
		.bucket = "bkt",
		.access_key_id = "AK",
		.secret_access_key = "SK",
	};
	char err[512] = "";
	int ret;

	xcap_s3_opts_init(&s.opts);
	s.opts.attempts = 3;
	s.opts.backoff_ms = 10;
	ret = xcap_s3_put(&s, "obj", "x", 1, err, sizeof(err));
	CHECK_EQ(ret, -ECONNREFUSED);
	/* Neither the address nor the port: libcurl's words go to the log only. */
	CHECK(strstr(err, "cannot reach the bucket's endpoint: could not connect") &&
		      strstr(err, "gave up after 3 attempts") && !strstr(err, "SK") &&
		      !strstr(err, "127.0.0.1") && !strstr(err, "port"),
	      "%s", err);
	ret = xcap_s3_put(&s, "a b", "x", 1, err, sizeof(err));
	CHECK(ret == -EINVAL && strstr(err, "invalid object name a b"), "%d %s", ret, err);
}

/* --- live, against S3_TEST_ENDPOINT --- */

static void live_target(struct xcap_s3 *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->endpoint, sizeof(s->endpoint), "%s", endpoint);
	snprintf(s->region, sizeof(s->region), "us-east-1");
	snprintf(s->bucket, sizeof(s->bucket), "%s", bucket);
	snprintf(s->access_key_id, sizeof(s->access_key_id), "%s", key_id);
	snprintf(s->secret_access_key, sizeof(s->secret_access_key), "%s", secret);
	xcap_s3_opts_init(&s->opts);
	s->opts.attempts = 3;
	s->opts.backoff_ms = 50;
	s->opts.timeout_ms = 10000;
}

/* The start of an answer of the proxy's control calls. */
struct reply {
	char buf[256];
	size_t len;
};

static size_t on_reply(char *p, size_t size, size_t n, void *arg)
{
	struct reply *out = arg;
	size_t len = size * n, room = sizeof(out->buf) - 1 - out->len;

	memcpy(out->buf + out->len, p, len < room ? len : room);
	out->len += len < room ? len : room;
	out->buf[out->len] = '\0';
	return len;
}

/* One unsigned call of the proxy's fault injection; returns its "requests" count. */
static long control(const char *method, const char *what)
{
	struct reply out = { "", 0 };
	char url[512];
	long requests = -1;
	CURL *h = curl_easy_init();
	const char *p;

	if (!h)
		return -1;
	snprintf(url, sizeof(url), "%s/__xcap_test/%s", endpoint, what);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
	if (!curl_easy_perform(h) && (p = strstr(out.buf, "\"requests\":")))
		requests = strtol(p + 11, NULL, 10);
	curl_easy_cleanup(h);
	return requests;
}

static long requests_since_reset(void)
{
	return control("GET", "stats");
}

/* Waits (5 s at most) until the proxy answers again after a simulated stop. */
static void wait_server_up(void)
{
	int i;

	for (i = 0; i < 100 && control("GET", "stats") < 0; i++)
		usleep(50000);
	control("POST", "reset");
}

static void fill_random(char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = seed >> 16;
	}
}

static int write_tmp(const char *name, const char *data, size_t len, char *path, size_t size)
{
	FILE *f;

	test_path(path, size, name);
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	if (fwrite(data, 1, len, f) != len) {
		fclose(f);
		return -EIO;
	}
	return fclose(f) ? -errno : 0;
}

/* Reads object name back and compares it with want, byte for byte. */
static void check_object(const struct xcap_s3 *s, const char *name, const char *want, size_t len)
{
	char *got = malloc(len + 1), err[512] = "";
	size_t n = 0;
	int ret;

	CHECK(got, "no memory");
	if (!got)
		return;
	ret = xcap_s3_get(s, name, got, len + 1, &n, err, sizeof(err));
	CHECK(!ret, "GET %s: %d %s", name, ret, err);
	CHECK_EQ(n, len);
	CHECK(!ret && n == len && !memcmp(got, want, len), "%s differs from what was sent", name);
	free(got);
}

static void live_wrong_secret_refused(void)
{
	struct xcap_s3 s;
	char err[512] = "";
	int ret;

	live_target(&s);
	snprintf(s.secret_access_key, sizeof(s.secret_access_key), "not-%s", secret);
	control("POST", "reset");
	ret = xcap_s3_put(&s, "wrong-secret.txt", "x", 1, err, sizeof(err));
	CHECK_EQ(ret, -EACCES);
	CHECK(strstr(err, "SignatureDoesNotMatch: the secret key does not match") &&
		      strstr(err, "HTTP 403 on PUT /"),
	      "%s", err);
	CHECK(!strstr(err, s.secret_access_key), "the secret is in the message");
	/* A 4xx is final: one request, no retry. */
	CHECK_EQ(requests_since_reset(), 1);
}

static void live_unknown_key_refused(void)
{
	struct xcap_s3 s;
	char err[512] = "";
	int ret;

	live_target(&s);
	snprintf(s.access_key_id, sizeof(s.access_key_id), "AKIDUNKNOWN");
	ret = xcap_s3_put(&s, "unknown-key.txt", "x", 1, err, sizeof(err));
	CHECK_EQ(ret, -EACCES);
	CHECK(strstr(err, "InvalidAccessKeyId: the access key id is not known"), "%s", err);
}

static void live_put_get_round_trip(void)
{
	char data[3000], err[512] = "";
	struct xcap_s3 s;
	int ret;

	live_target(&s);
	fill_random(data, sizeof(data), 1); /* NUL bytes included */
	ret = xcap_s3_put(&s, "small.bin", data, sizeof(data), err, sizeof(err));
	CHECK(!ret, "%d %s", ret, err);
	check_object(&s, "small.bin", data, sizeof(data));
	/* Empty objects too. */
	ret = xcap_s3_put(&s, "empty.bin", "", 0, err, sizeof(err));
	CHECK(!ret, "%d %s", ret, err);
	check_object(&s, "empty.bin", "", 0);
}

static void live_session_token_signed(void)
{
	struct xcap_s3 s;
	char err[512] = "";
	int ret;

	/* The proxy refuses any x-amz-* header left out of the signature. */
	live_target(&s);
	snprintf(s.session_token, sizeof(s.session_token), "FwoGZXIvYXdzEXAMPLETOKEN//+=");
	ret = xcap_s3_put(&s, "with-token.txt", "t", 1, err, sizeof(err));
	CHECK(!ret, "%d %s", ret, err);
}

static void live_get_bounded(void)
{
	char data[100], buf[50], exact[101], err[512] = "";
	struct xcap_s3 s;
	size_t n = 0;
	int ret;

	live_target(&s);
	fill_random(data, sizeof(data), 2);
	ret = xcap_s3_put(&s, "hundred.bin", data, sizeof(data), err, sizeof(err));
	CHECK(!ret, "%d %s", ret, err);
	ret = xcap_s3_get(&s, "hundred.bin", buf, sizeof(buf), NULL, err, sizeof(err));
	CHECK(ret == -EFBIG && strstr(err, "object hundred.bin is larger than 49 bytes"), "%d %s",
	      ret, err);
	/* Exactly the buffer's size leaves no room for the NUL; one byte more does. */
	memset(exact, 'x', sizeof(exact));
	ret = xcap_s3_get(&s, "hundred.bin", exact, 100, NULL, err, sizeof(err));
	CHECK(ret == -EFBIG && strstr(err, "object hundred.bin is larger than 99 bytes"), "%d %s",
	      ret, err);
	CHECK(exact[100] == 'x', "a byte past the buffer was written");
	ret = xcap_s3_get(&s, "hundred.bin", exact, 101, &n, err, sizeof(err));
	CHECK(!ret && n == 100 && !memcmp(exact, data, 100) && !exact[100], "%d %s", ret, err);
}

static void live_multipart_round_trip(void)
{
	size_t len = (10 << 20) + 123 * 1024; /* 3 parts of S3's smallest size, 5 MiB */
	char *data = malloc(len), path[256], err[512] = "";
	struct xcap_s3 s;
	int ret;

	CHECK(data, "no memory");
	if (!data)
		return;
	live_target(&s);
	s.opts.part_size = 5 << 20;
	fill_random(data, len, 3);
	CHECK(!write_tmp("multi.pcap", data, len, path, sizeof(path)), "write %s", path);
	control("POST", "reset");
	ret = xcap_s3_upload_file(&s, "dir/multi.pcap", path, err, sizeof(err));
	CHECK(!ret, "%d %s", ret, err);
	/* Create, 3 parts, complete: the multipart path was taken. */
	CHECK_EQ(requests_since_reset(), 5);
	check_object(&s, "dir/multi.pcap", data, len);
	/* At the part size exactly: one PUT. */
	CHECK(!write_tmp("one.pcap", data, s.opts.part_size, path, sizeof(path)), "write");
	control("POST", "reset");
	ret = xcap_s3_upload_file(&s, "one.pcap", path, err, sizeof(err));
	CHECK(!ret, "%d %s", ret, err);
	CHECK_EQ(requests_since_reset(), 1);
	check_object(&s, "one.pcap", data, s.opts.part_size);
	free(data);
}

static void live_missing_bucket(void)
{
	char buf[64], err[512] = "";
	struct xcap_s3 s;
	int ret;

	live_target(&s);
	snprintf(s.bucket, sizeof(s.bucket), "no-such-bucket-here");
	control("POST", "reset");
	ret = xcap_s3_put(&s, "x.txt", "x", 1, err, sizeof(err));
	CHECK_EQ(ret, -ENOENT);
	CHECK(strstr(err, "NoSuchBucket: the bucket does not exist"), "%s", err);
	CHECK_EQ(requests_since_reset(), 1);
	live_target(&s);
	ret = xcap_s3_get(&s, "never-written.txt", buf, sizeof(buf), NULL, err, sizeof(err));
	CHECK(ret == -ENOENT && strstr(err, "NoSuchKey"), "%d %s", ret, err);
}

static void live_5xx_retried(void)
{
	struct xcap_s3 s;
	char err[512] = "";
	int ret;

	live_target(&s);
	control("POST", "reset");
	control("POST", "fail?count=2&status=503");
	ret = xcap_s3_put(&s, "after-503.txt", "ok", 2, err, sizeof(err));
	CHECK(!ret, "%d %s", ret, err);
	CHECK_EQ(requests_since_reset(), 3);
	control("POST", "fail?count=10&status=500");
	ret = xcap_s3_put(&s, "after-500.txt", "ok", 2, err, sizeof(err));
	CHECK(ret == -EIO && strstr(err, "InternalError: the service failed") &&
		      strstr(err, "gave up after 3 attempts"),
	      "%d %s", ret, err);
	control("POST", "reset");
}

static void live_timeout_retried(void)
{
	struct xcap_s3 s;
	char err[512] = "";
	int ret;

	live_target(&s);
	s.opts.timeout_ms = 500;
	control("POST", "reset");
	control("POST", "hang?count=1");
	ret = xcap_s3_put(&s, "after-hang.txt", "ok", 2, err, sizeof(err));
	CHECK(!ret, "%d %s", ret, err);
	CHECK_EQ(requests_since_reset(), 2);
	control("POST", "hang?count=5");
	s.opts.attempts = 2;
	ret = xcap_s3_put(&s, "hang.txt", "ok", 2, err, sizeof(err));
	CHECK(ret == -ETIMEDOUT && strstr(err, "cannot reach") && strstr(err, "imed out") &&
		      strstr(err, "gave up after 2 attempts"),
	      "%d %s", ret, err);
	control("POST", "reset");
}

/* The server stops after the first part and stays away longer than the retries last. */
static void live_server_stopped_mid_upload(void)
{
	size_t len = 4 * 64 * 1024;
	char *data = malloc(len), path[256], err[512] = "";
	struct xcap_s3 s;
	int ret;

	CHECK(data, "no memory");
	if (!data)
		return;
	live_target(&s);
	s.opts.part_size = 64 * 1024;
	s.opts.backoff_ms = 100; /* 100 + 200 ms of retries, the server is away for 3 s */
	fill_random(data, len, 4);
	CHECK(!write_tmp("stopped.pcap", data, len, path, sizeof(path)), "write");
	control("POST", "reset");
	control("POST", "down?after=2&ms=3000");
	ret = xcap_s3_upload_file(&s, "stopped.pcap", path, err, sizeof(err));
	CHECK_EQ(ret, -ECONNREFUSED);
	CHECK(strstr(err, "cannot reach ") && strstr(err, "gave up after 3 attempts") &&
		      strstr(err, "aborting the multipart upload failed too"),
	      "%s", err);
	wait_server_up();
	/* A server that comes back within the retries: the upload goes through. */
	s.opts.attempts = 5;
	s.opts.backoff_ms = 200; /* 200 + 400 + 800 ms, the server is away for 300 ms */
	control("POST", "down?after=3&ms=300");
	ret = xcap_s3_upload_file(&s, "restarted.pcap", path, err, sizeof(err));
	CHECK(!ret, "%d %s", ret, err);
	wait_server_up();
	check_object(&s, "restarted.pcap", data, len);
	free(data);
}

/* The destination layer end to end: a URI, the challenge's put and get, a delivery. */
static void storage_round_trip(const char *conf, const struct xcap_account *acc, const char *prefix)
{
	char uri[1024], buf[128], path[256], name[600], err[512] = "";
	size_t len = 5000;
	char *data = malloc(len);
	struct xcap_dest d;
	struct xcap_s3 raw;
	int ret;

	CHECK(data, "no memory");
	if (!data)
		return;
	snprintf(uri, sizeof(uri), conf, bucket, endpoint);
	ret = xcap_dest_parse(uri, &cfg, acc, &d, err, sizeof(err));
	CHECK(!ret, "%d %s", ret, err);
	if (ret)
		goto out;
	ret = xcap_dest_put(&d, "ownership-challenge-1.txt", "token123", 8, err, sizeof(err));
	CHECK(!ret, "put: %d %s", ret, err);
	ret = xcap_dest_get(&d, "ownership-challenge-1.txt", buf, sizeof(buf), err, sizeof(err));
	CHECK(!ret && !strcmp(buf, "token123"), "get: %d %s %s", ret, err, buf);
	fill_random(data, len, 5);
	CHECK(!write_tmp("deliver.pcap", data, len, path, sizeof(path)), "write");
	ret = xcap_dest_deliver(&d, path, "pcap_1.pcap", err, sizeof(err));
	CHECK(!ret, "deliver: %d %s", ret, err);
	/* The object is under the prefix of the URI. */
	live_target(&raw);
	snprintf(name, sizeof(name), "%spcap_1.pcap", prefix);
	if (!ret)
		check_object(&raw, name, data, len);
	xcap_dest_close(&d);
out:
	free(data);
}

static void live_storage_s3_uri(void)
{
	struct xcap_account acc = { .id = "a1" };

	snprintf(acc.s3_access_key_id, sizeof(acc.s3_access_key_id), "%s", key_id);
	snprintf(acc.s3_secret_access_key, sizeof(acc.s3_secret_access_key), "%s", secret);
	clear_aws_env();
	storage_round_trip("s3://%s/caps/site1?region=us-east-1&endpoint=%s", &acc, "caps/site1/");
	clear_aws_env();
}

static void live_storage_gs_uri(void)
{
	char conf[512];

	/* GCS's XML API takes SigV4 with an HMAC key; the proxy checks it in region "auto". */
	snprintf(conf, sizeof(conf),
		 "gs://%%s/gspfx?access-key-id=%s&secret-access-key=%s&endpoint=%%s", key_id,
		 secret);
	storage_round_trip(conf, NULL, "gspfx/");
}

static void live_storage_r2_uri(void)
{
	char conf[512];

	/* Percent-encoded keys in the URI; the proxy checks the signature in region "auto". */
	snprintf(conf, sizeof(conf),
		 "r2://%%s/r2pfx?account-id=0123abcd&access-key-id=%s&secret-access-key=%s"
		 "&endpoint=%%s",
		 key_id, secret);
	storage_round_trip(conf, NULL, "r2pfx/");
}

static void live_storage_wrong_keys(void)
{
	char uri[512], buf[64], err[512] = "";
	struct xcap_dest d;
	int ret;

	snprintf(uri, sizeof(uri),
		 "r2://%s?account-id=a&access-key-id=%s&secret-access-key=wrong&endpoint=%s",
		 bucket, key_id, endpoint);
	ret = xcap_dest_parse(uri, &cfg, NULL, &d, err, sizeof(err));
	CHECK(!ret, "%d %s", ret, err);
	ret = xcap_dest_put(&d, "ownership-challenge-2.txt", "x", 1, err, sizeof(err));
	CHECK(ret == -EACCES && strstr(err, "SignatureDoesNotMatch"), "%d %s", ret, err);
	ret = xcap_dest_get(&d, "ownership-challenge-1.txt", buf, sizeof(buf), err, sizeof(err));
	CHECK(ret == -EACCES && strstr(err, "SignatureDoesNotMatch"), "%d %s", ret, err);
	xcap_dest_close(&d);
}

/* tests/integ/test_s3_client.sh counts the lines of this form to know how many must run. */
#define RUN_LIVE(fn)                  \
	do {                          \
		if (endpoint)         \
			RUN_TEST(fn); \
	} while (0)

int main(void)
{
	endpoint = getenv("S3_TEST_ENDPOINT");
	bucket = getenv("S3_TEST_BUCKET");
	key_id = getenv("S3_TEST_KEY_ID");
	secret = getenv("S3_TEST_SECRET");
	if (endpoint && (!bucket || !key_id || !secret)) {
		printf("not ok - s3 setup: S3_TEST_ENDPOINT needs S3_TEST_BUCKET, "
		       "S3_TEST_KEY_ID and S3_TEST_SECRET\n");
		return 1;
	}
	if (test_tmpdir_init("s3"))
		return 1;
	allow_endpoint("http://127.0.0.1:9000");
	allow_endpoint("http://localhost:4568");
	if (endpoint)
		allow_endpoint(endpoint);
	/* The unit tier runs these; the integ tier, with an endpoint, only the live ones. */
	if (!endpoint) {
		RUN_TEST(parse_s3_uri);
		RUN_TEST(parse_r2_uri);
		RUN_TEST(parse_gs_uri);
		RUN_TEST(endpoint_allow_list);
		RUN_TEST(unkeyed_uri);
		RUN_TEST(parse_errors);
		RUN_TEST(test_knobs);
		RUN_TEST(mask_secrets);
		RUN_TEST(xml_error_bodies);
		RUN_TEST(closed_port_retried);
		printf("# the live cases run in the integ tier (tests/integ/test_s3_client.sh)\n");
	}
	RUN_LIVE(live_wrong_secret_refused);
	RUN_LIVE(live_unknown_key_refused);
	RUN_LIVE(live_put_get_round_trip);
	RUN_LIVE(live_session_token_signed);
	RUN_LIVE(live_get_bounded);
	RUN_LIVE(live_multipart_round_trip);
	RUN_LIVE(live_missing_bucket);
	RUN_LIVE(live_5xx_retried);
	RUN_LIVE(live_timeout_retried);
	RUN_LIVE(live_server_stopped_mid_upload);
	RUN_LIVE(live_storage_s3_uri);
	RUN_LIVE(live_storage_r2_uri);
	RUN_LIVE(live_storage_gs_uri);
	RUN_LIVE(live_storage_wrong_keys);
	curl_global_cleanup();
	return tests_failed_total ? 1 : 0;
}
