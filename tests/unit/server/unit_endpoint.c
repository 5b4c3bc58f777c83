// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tier: the fleet secret's signatures on the agents' internal endpoint. */
#include <string.h>
#include "common/util.h"
#include "server/endpoint.h"
#include "test.h"

#define SECRET "fleet-0123456789abcdef"
#define NOW (1800000000LL * NSEC_PER_SEC)
#define BODY "{\"from_ns\":1,\"to_ns\":2,\"limit\":3}"

static void sign(const char *secret, int64_t ns, const char *path, const char *body, char *out,
		 size_t size)
{
	xcap_endpoint_sign(secret, ns, path, body, strlen(body), out, size);
}

static int verify(const char *value, int64_t now, const char *path, const char *body)
{
	return xcap_endpoint_verify(SECRET, now, value, path, body, strlen(body));
}

static void a_signed_request_is_accepted(void)
{
	char v[160];

	sign(SECRET, NOW, XCAP_ENDPOINT_QUERY_PATH, BODY, v, sizeof(v));
	CHECK_EQ(verify(v, NOW, XCAP_ENDPOINT_QUERY_PATH, BODY), 0);
	CHECK_EQ(verify(v, NOW + (XCAP_ENDPOINT_SKEW_S - 1) * NSEC_PER_SEC,
			XCAP_ENDPOINT_QUERY_PATH, BODY),
		 0);
}

static void another_secret_body_or_path_is_refused(void)
{
	char v[160];

	sign("fleet-another-secret-00", NOW, XCAP_ENDPOINT_QUERY_PATH, BODY, v, sizeof(v));
	CHECK_EQ(verify(v, NOW, XCAP_ENDPOINT_QUERY_PATH, BODY), -EPERM);
	sign(SECRET, NOW, XCAP_ENDPOINT_QUERY_PATH, BODY, v, sizeof(v));
	CHECK_EQ(verify(v, NOW, XCAP_ENDPOINT_QUERY_PATH, "{\"from_ns\":0}"), -EPERM);
	CHECK_EQ(verify(v, NOW, "/client/v4/accounts", BODY), -EPERM);
}

static void an_old_or_malformed_signature_is_refused(void)
{
	char v[160];

	sign(SECRET, NOW, XCAP_ENDPOINT_QUERY_PATH, BODY, v, sizeof(v));
	CHECK_EQ(verify(v, NOW + (XCAP_ENDPOINT_SKEW_S + 1) * NSEC_PER_SEC,
			XCAP_ENDPOINT_QUERY_PATH, BODY),
		 -EPERM);
	CHECK_EQ(verify(NULL, NOW, XCAP_ENDPOINT_QUERY_PATH, BODY), -EPERM);
	CHECK_EQ(verify("", NOW, XCAP_ENDPOINT_QUERY_PATH, BODY), -EPERM);
	CHECK_EQ(verify("12.34", NOW, XCAP_ENDPOINT_QUERY_PATH, BODY), -EPERM);
	/* The time is signed: another time with the same MAC is refused. */
	v[3] = v[3] == '9' ? '8' : '9';
	CHECK_EQ(verify(v, NOW, XCAP_ENDPOINT_QUERY_PATH, BODY), -EPERM);
	/* An empty secret signs nothing. */
	CHECK_EQ(xcap_endpoint_verify("", NOW, v, XCAP_ENDPOINT_QUERY_PATH, BODY, strlen(BODY)),
		 -EPERM);
}

int main(void)
{
	RUN_TEST(a_signed_request_is_accepted);
	RUN_TEST(another_secret_body_or_path_is_refused);
	RUN_TEST(an_old_or_malformed_signature_is_refused);
	return tests_failed_total ? 1 : 0;
}
