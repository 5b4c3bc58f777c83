// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * file:///DIR destinations: a local directory acts as the bucket. Objects are
 * written through a temporary name, so a reader never sees half a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/err.h"
#include "common/file.h"
#include "server/dest.h"

/* True when a component of the path is "..". */
static bool has_dotdot(const char *path)
{
	const char *p;

	for (p = strstr(path, ".."); p; p = strstr(p + 1, ".."))
		if (p[-1] == '/' && (!p[2] || p[2] == '/'))
			return true;
	return false;
}

static int parse_file(const char *path, const struct xcap_account *acc, struct xcap_dest *d,
		      char *err, size_t err_size)
{
	struct stat st;

	(void)acc; /* a directory needs no keys */
	if (path[0] != '/' || has_dotdot(path) || strchr(path, '?') ||
	    strlen(path) >= sizeof(d->dir))
		return xcap_err_set(
			-EINVAL, err, err_size,
			"a file:// destination is file:///ABSOLUTE/DIR, without '..' or a query");
	if (stat(path, &st) || !S_ISDIR(st.st_mode))
		return xcap_err_set(-ENOENT, err, err_size, "bucket directory %s does not exist",
				    path);
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
		return xcap_err_set(-EINVAL, err, err_size, "invalid object name %s", name);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return xcap_err_set(-errno, err, err_size, "cannot create %s: %s", tmp,
				    strerror(errno));
	ret = copy(fd, src, len);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, dst))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return xcap_err_set(ret, err, err_size, "cannot write %s: %s", dst, strerror(-ret));
	}
	return 0;
}

static int copy_buffer(int fd, const void *src, size_t len)
{
	return xcap_file_write_all(fd, src, len);
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
			ret = xcap_file_write_all(fd, buf, n);
	}
	close(in);
	return ret;
}

static int get_file(const struct xcap_dest *d, const char *name, char *buf, size_t size, char *err,
		    size_t err_size)
{
	char path[PATH_MAX + 8];
	size_t n;
	FILE *f;

	if (object_path(d, name, "", path, sizeof(path)))
		return xcap_err_set(-EINVAL, err, err_size, "invalid object name %s", name);
	f = fopen(path, "rb");
	if (!f)
		return xcap_err_set(-errno, err, err_size, "cannot read %s: %s", path,
				    strerror(errno));
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

static int put_file(const struct xcap_dest *d, const char *name, const char *data, size_t len,
		    char *err, size_t err_size)
{
	return put_atomic(d, name, copy_buffer, data, len, err, err_size);
}

/*
 * On the bucket's filesystem a finished spool file is linked into place, not
 * copied: fsync it, link it under the temporary name, rename that over the
 * object. The spool name stays until the caller drops it, as after a copy.
 * 1 when the link cannot be made (another filesystem, no hard links): copy.
 */
static int link_file(const struct xcap_dest *d, const char *path, const char *name, char *err,
		     size_t err_size)
{
	char tmp[PATH_MAX + 16], dst[PATH_MAX + 8];
	int fd, ret = 0;

	if (object_path(d, name, ".part", tmp, sizeof(tmp)) ||
	    object_path(d, name, "", dst, sizeof(dst)))
		return xcap_err_set(-EINVAL, err, err_size, "invalid object name %s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return xcap_err_set(-errno, err, err_size, "cannot read %s: %s", path,
				    strerror(errno));
	if (fsync(fd))
		ret = -errno;
	close(fd);
	if (ret)
		return xcap_err_set(ret, err, err_size, "cannot sync %s: %s", path, strerror(-ret));
	unlink(tmp); /* a leftover of a crash */
	if (link(path, tmp))
		return 1;
	if (rename(tmp, dst)) {
		ret = -errno;
		unlink(tmp);
		return xcap_err_set(ret, err, err_size, "cannot write %s: %s", dst, strerror(-ret));
	}
	return 0;
}

static int deliver_file(const struct xcap_dest *d, const char *path, const char *name, char *err,
			size_t err_size)
{
	int ret = link_file(d, path, name, err, err_size);

	return ret <= 0 ? ret : put_atomic(d, name, copy_file, path, 0, err, err_size);
}

/* A valid file:// conf has no query: masking it anyway hides a secret typed there by mistake. */
const struct xcap_dest_type xcap_dest_file = {
	.scheme = "file",
	.parse = parse_file,
	.put = put_file,
	.get = get_file,
	.deliver = deliver_file,
	.mask = xcap_dest_mask_query,
};
