/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Minimal test harness shared by the C test tiers. Each test prints one line:
 *   ok - NAME | not ok - NAME: why | skip - NAME: why
 * tests/run counts these lines over all tiers.
 */
#ifndef XCAP_TEST_H
#define XCAP_TEST_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int test_failed; /* set by a failed CHECK in the running test */
static int tests_failed_total;

#define CHECK(cond, fmt, ...)                                                                \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			printf("#   %s:%d: CHECK(%s) failed: " fmt "\n", __FILE__, __LINE__, \
			       #cond, ##__VA_ARGS__);                                        \
			test_failed = 1;                                                     \
		}                                                                            \
	} while (0)

/* Compares two unsigned integers and prints both on failure. */
#define CHECK_EQ(got, want)                                                                   \
	CHECK((unsigned long long)(got) == (unsigned long long)(want), "got %llu, want %llu", \
	      (unsigned long long)(got), (unsigned long long)(want))

#define RUN_TEST(fn)                                                     \
	do {                                                             \
		test_failed = 0;                                         \
		fn();                                                    \
		printf("%s - %s\n", test_failed ? "not ok" : "ok", #fn); \
		tests_failed_total += test_failed;                       \
		fflush(stdout);                                          \
	} while (0)

#define SKIP_TEST(fn, why) printf("skip - %s: %s\n", #fn, why)

/* The test binary's temporary folder, removed with all it holds at exit. */
static char test_tmpdir[64] __attribute__((unused));

static inline void test_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", test_tmpdir, name);
}

/* rm -rf PATH (no symlink is followed). */
static inline void test_rm_rf(const char *path)
{
	char child[PATH_MAX];
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (lstat(path, &st))
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path))) {
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
			test_rm_rf(child);
		}
		closedir(d);
	}
	remove(path);
}

static inline void test_tmpdir_remove(void)
{
	test_rm_rf(test_tmpdir);
}

/* Makes /tmp/xcap-NAME-XXXXXX; prints a `not ok` line and returns -1 when it cannot. */
static inline int test_tmpdir_init(const char *name)
{
	snprintf(test_tmpdir, sizeof(test_tmpdir), "/tmp/xcap-%s-XXXXXX", name);
	if (!mkdtemp(test_tmpdir)) {
		printf("not ok - %s setup: mkdtemp: %s\n", name, strerror(errno));
		return -1;
	}
	atexit(test_tmpdir_remove);
	return 0;
}

#endif /* XCAP_TEST_H */
