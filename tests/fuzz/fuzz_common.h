/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared by the libFuzzer harnesses (tools/fuzz builds and runs them): a
 * private scratch folder, file helpers, quiet logging, and FUZZ_CHECK, which
 * reports a broken invariant and aborts so that libFuzzer keeps the input.
 *
 * Scratch folders go under $XCAP_FUZZ_TMP (tools/fuzz sets it and removes it
 * afterwards), else /dev/shm (fsync is free there), else /tmp.
 */
#ifndef XCAP_FUZZ_COMMON_H
#define XCAP_FUZZ_COMMON_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/log.h"

#define FUZZ_CHECK(cond, fmt, ...)                                                                \
	do {                                                                                      \
		if (!(cond)) {                                                                    \
			fprintf(stderr, "\nFUZZ INVARIANT BROKEN %s:%d: %s: " fmt "\n", __FILE__, \
				__LINE__, #cond, ##__VA_ARGS__);                                  \
			abort();                                                                  \
		}                                                                                 \
	} while (0)

/*
 * True when `id` is listed in $XCAP_FUZZ_KNOWN: a bug already reported (see
 * tests/data/fuzz/known-bugs) whose check is skipped while fuzzing, so that the
 * run explores past it. tools/fuzz sets it for fuzzing, never for the run of
 * the crash-* regression seeds, which keep failing until the bug is fixed.
 */
static inline bool fuzz_known(const char *id)
{
	const char *list = getenv("XCAP_FUZZ_KNOWN"), *p;
	size_t n = strlen(id);

	for (p = list; p && (p = strstr(p, id)); p += n)
		if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return true;
	return false;
}

static inline void fuzz_rm_rf(const char *dir, bool keep_top);

static char fuzz_tmp_made[PATH_MAX]; /* removed at exit */

static inline void fuzz_tmp_cleanup(void)
{
	if (fuzz_tmp_made[0])
		fuzz_rm_rf(fuzz_tmp_made, false);
}

/* Makes a fresh private folder (removed at a normal exit) and returns its path. */
static inline const char *fuzz_tmpdir(const char *tag)
{
	static char dir[PATH_MAX];
	const char *base = getenv("XCAP_FUZZ_TMP");
	struct stat st;

	if (!base || !*base)
		base = !stat("/dev/shm", &st) && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/xcap-fuzz-%s-XXXXXX", base, tag);
	if (!mkdtemp(dir)) {
		fprintf(stderr, "fuzz: mkdtemp %s: %s\n", dir, strerror(errno));
		abort();
	}
	if (!fuzz_tmp_made[0]) {
		strcpy(fuzz_tmp_made, dir);
		atexit(fuzz_tmp_cleanup);
	}
	return dir;
}

/* rm -r of a folder's contents (one level of subfolders is enough here), then the folder. */
static inline void fuzz_rm_rf(const char *dir, bool keep_top)
{
	char path[PATH_MAX];
	struct dirent *e;
	struct stat st;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (!lstat(path, &st) && S_ISDIR(st.st_mode))
			fuzz_rm_rf(path, false);
		else
			unlink(path);
	}
	closedir(d);
	if (!keep_top)
		rmdir(dir);
}

static inline void fuzz_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	const uint8_t *p = data;
	ssize_t n;

	if (fd < 0) {
		fprintf(stderr, "fuzz: open %s: %s\n", path, strerror(errno));
		abort();
	}
	while (len) {
		n = write(fd, p, len);
		if (n <= 0) {
			fprintf(stderr, "fuzz: write %s: %s\n", path, strerror(errno));
			abort();
		}
		p += n;
		len -= n;
	}
	close(fd);
}

/* Reads a whole file (NUL-terminated); NULL if it cannot. */
static inline uint8_t *fuzz_read_file(const char *path, size_t *len)
{
	uint8_t *buf = NULL;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return NULL;
	if (!fstat(fd, &st) && (buf = malloc(st.st_size + 1))) {
		n = read(fd, buf, st.st_size);
		if (n != st.st_size) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			*len = n;
		}
	}
	close(fd);
	return buf;
}

/* xcap logs warnings for every corrupt input; only errors are worth seeing while fuzzing. */
static inline void fuzz_quiet(void)
{
	const char *v = getenv("XCAP_FUZZ_VERBOSE");

	xcap_log_level = v && *v == '1' ? XCAP_LOG_DEBUG : XCAP_LOG_ERR;
}

/* Rotates letters and digits within their class: same length, same validity, other content. */
static inline char fuzz_rot(char c)
{
	if (c >= 'a' && c <= 'z')
		return c == 'z' ? 'a' : c + 1;
	if (c >= 'A' && c <= 'Z')
		return c == 'Z' ? 'A' : c + 1;
	if (c >= '0' && c <= '9')
		return c == '9' ? '0' : c + 1;
	return c;
}

#endif /* XCAP_FUZZ_COMMON_H */
