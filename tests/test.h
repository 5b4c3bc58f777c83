/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Minimal test harness shared by the C test tiers. Each test prints one line:
 *   ok - NAME | not ok - NAME: why | skip - NAME: why
 * tests/run counts these lines over all tiers.
 */
#ifndef XCAP_TEST_H
#define XCAP_TEST_H

#include <stdio.h>
#include <string.h>

static int test_failed; /* set by a failed CHECK in the running test */
static int tests_failed_total;

#define CHECK(cond, fmt, ...)                                                              \
	do {                                                                               \
		if (!(cond)) {                                                             \
			printf("#   %s:%d: CHECK(%s) failed: " fmt "\n", __FILE__, __LINE__, \
			       #cond, ##__VA_ARGS__);                                      \
			test_failed = 1;                                                   \
		}                                                                          \
	} while (0)

/* Compares two unsigned integers and prints both on failure. */
#define CHECK_EQ(got, want)                                                                 \
	CHECK((unsigned long long)(got) == (unsigned long long)(want), "got %llu, want %llu", \
	      (unsigned long long)(got), (unsigned long long)(want))

#define RUN_TEST(fn)                                                  \
	do {                                                          \
		test_failed = 0;                                      \
		fn();                                                 \
		printf("%s - %s\n", test_failed ? "not ok" : "ok", #fn); \
		tests_failed_total += test_failed;                    \
		fflush(stdout);                                       \
	} while (0)

#define SKIP_TEST(fn, why) printf("skip - %s: %s\n", #fn, why)

#endif /* XCAP_TEST_H */
