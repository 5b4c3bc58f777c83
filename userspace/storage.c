// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Destinations: file:// buckets (a local directory per bucket). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "storage.h"

static int fail(int err, char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(int err, char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return err;
}

int xcap_storage_parse(const char *conf, struct xcap_dest *d, char *err, size_t err_size)
{
	static const char file[] = "file://";
	const char *path;
	struct stat st;

	if (strncmp(conf, file, strlen(file)))
		return fail(-EINVAL, err, err_size,
			    "unsupported destination '%.*s...'; supported schemes: file://",
			    (int)strcspn(conf, ":"), conf);
	path = conf + strlen(file);
	if (path[0] != '/' || strstr(path, "/../") || strchr(path, '?') || strlen(path) >= sizeof(d->dir))
		return fail(-EINVAL, err, err_size,
			    "a file:// destination is file:///ABSOLUTE/DIR, without '..' or a query");
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return fail(-ENOENT, err, err_size, "bucket directory %s does not exist", path);
	d->scheme = XCAP_DEST_FILE;
	snprintf(d->dir, sizeof(d->dir), "%s", path);
	return 0;
}

/* Object names are single path components chosen by xcapd. */
static int object_path(const struct xcap_dest *d, const char *name, const char *suffix, char *buf,
		       size_t size)
{
	if (strchr(name, '/') || !strcmp(name, "..") ||
	    snprintf(buf, size, "%s/%s%s", d->dir, name, suffix) >= (int)size)
		return -EINVAL;
	return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= n;
	}
	return 0;
}

/*
 * Writes an object through a temporary name, fsync and rename, so a reader
 * never sees half a file and a crash leaves the old state or the new one.
 * `copy` fills the temporary file.
 */
static int put_atomic(const struct xcap_dest *d, const char *name,
		      int (*copy)(int fd, const void *src, size_t len), const void *src, size_t len,
		      char *err, size_t err_size)
{
	char tmp[PATH_MAX + 16], dst[PATH_MAX + 8];
	int fd, ret;

	if (object_path(d, name, ".part", tmp, sizeof(tmp)) ||
	    object_path(d, name, "", dst, sizeof(dst)))
		return fail(-EINVAL, err, err_size, "invalid object name %s", name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(-errno, err, err_size, "cannot create %s: %s", tmp, strerror(errno));
	ret = copy(fd, src, len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, dst))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return fail(ret, err, err_size, "cannot write %s: %s", dst, strerror(-ret));
	}
	return 0;
}

static int copy_buffer(int fd, const void *src, size_t len)
{
	return write_all(fd, src, len);
}

static int copy_file(int fd, const void *src, size_t len)
{
	char buf[65536];
	int in, ret = 0;
	ssize_t n;

	(void)len;
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -errno;
	while (!ret && (n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0)
			ret = errno == EINTR ? 0 : -errno;
		else
			ret = write_all(fd, buf, n);
	}
	close(in);
	return ret;
}

int xcap_storage_put(const struct xcap_dest *d, const char *name, const char *data, size_t len,
		     char *err, size_t err_size)
{
	return put_atomic(d, name, copy_buffer, data, len, err, err_size);
}

int xcap_storage_deliver(const struct xcap_dest *d, const char *path, const char *name, char *err,
			 size_t err_size)
{
	return put_atomic(d, name, copy_file, path, 0, err, err_size);
}

int xcap_storage_get(const struct xcap_dest *d, const char *name, char *buf, size_t size,
		     char *err, size_t err_size)
{
	char path[PATH_MAX + 8];
	size_t n;
	FILE *f;

	if (object_path(d, name, "", path, sizeof(path)))
		return fail(-EINVAL, err, err_size, "invalid object name %s", name);
	f = fopen(path, "rb");
	if (!f)
		return fail(-errno, err, err_size, "cannot read %s: %s", path, strerror(errno));
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}
