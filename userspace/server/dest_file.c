// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * file:///DIR destinations: a local directory acts as the bucket. A request
 * names the directory, so it must lie in one of the config's
 * file_bucket_roots, checked on its real path; it is then opened from its root
 * one component at a time without following a link, and used only through
 * that descriptor: a link planted later cannot move it, and no object is
 * written through a link or over a file (xcap_file_put_new).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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

/* The part of path below root ("" for root itself), or NULL when path is not root or below it. */
static const char *below(const char *path, const char *root)
{
	size_t n = strlen(root);

	if (strncmp(path, root, n) || (path[n] && path[n] != '/'))
		return NULL;
	return path + n + strspn(path + n, "/");
}

/* The index of the root that path lies in, as written (real: false) or resolved, or -1. */
static int find_root(const struct xcap_config *cfg, const char *path, bool real)
{
	int i;

	for (i = 0; cfg && i < cfg->n_roots; i++)
		if (below(path, real ? cfg->file_bucket_real[i] : cfg->file_bucket_roots[i]) ||
		    below(path, cfg->file_bucket_real[i]))
			return i;
	return -1;
}

/*
 * Opens root/rel from the root down, each component a directory reached
 * without following a link: what realpath() saw cannot be swapped for a link
 * before the open. The fd or -errno.
 */
static int open_below(const char *root, const char *rel)
{
	char comp[NAME_MAX + 1];
	int fd, next;
	size_t n;

	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (rel += strspn(rel, "/"); *rel; rel += n, rel += strspn(rel, "/")) {
		n = strcspn(rel, "/");
		if (n > NAME_MAX) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(comp, rel, n);
		comp[n] = '\0';
		next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (next < 0)
			return -errno;
		fd = next;
	}
	return fd;
}

static int parse_file(const char *path, const struct xcap_config *cfg,
		      const struct xcap_account *acc, struct xcap_dest *d, char *err,
		      size_t err_size)
{
	char real[PATH_MAX];
	int root, fd;

	(void)acc; /* a directory needs no keys */
	if (path[0] != '/' || has_dotdot(path) || strchr(path, '?') ||
	    strlen(path) >= sizeof(d->file.dir))
		return xcap_err_set(
			-EINVAL, err, err_size,
			"a file:// destination is file:///ABSOLUTE/DIR, without '..' or a query");
	/* Nothing outside the roots is even looked at: no answer tells what exists there. */
	if (find_root(cfg, path, false) < 0)
		return xcap_err_set(-EPERM, err, err_size,
				    "bucket directory %s is not in file_bucket_roots "
				    "(xcapd's config)",
				    path);
	if (!realpath(path, real))
		return xcap_err_set(-ENOENT, err, err_size, "bucket directory %s does not exist",
				    path);
	root = find_root(cfg, real, true);
	if (root < 0)
		return xcap_err_set(-EPERM, err, err_size,
				    "bucket directory %s leads out of file_bucket_roots "
				    "(xcapd's config) through a link",
				    path);
	fd = open_below(cfg->file_bucket_real[root], below(real, cfg->file_bucket_real[root]));
	if (fd < 0)
		return xcap_err_set(fd == -ENOENT ? -ENOENT : -EINVAL, err, err_size,
				    "bucket directory %s cannot be opened: %s", path,
				    fd == -ELOOP ? "it changed into a link" : strerror(-fd));
	d->file.dirfd = fd;
	snprintf(d->file.dir, sizeof(d->file.dir), "%s", path);
	return 0;
}

/* Object names are single path components chosen by xcapd. */
static bool valid_name(const char *name)
{
	return *name && *name != '.' && !strchr(name, '/') && strlen(name) <= NAME_MAX - 32;
}

static int fill_buffer(int fd, const void *arg)
{
	const struct {
		const char *data;
		size_t len;
	} *b = arg;

	return xcap_file_write_all(fd, b->data, b->len);
}

/* The local file is xcapd's own spool file: never read through a link either. */
static int fill_copy(int fd, const void *src)
{
	char buf[65536];
	int in, ret = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
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

static int put_new(const struct xcap_dest *d, const char *name,
		   int (*fill)(int fd, const void *arg), const void *arg, char *err,
		   size_t err_size)
{
	int ret;

	if (!valid_name(name))
		return xcap_err_set(-EINVAL, err, err_size, "invalid object name %s", name);
	ret = xcap_file_put_new(d->file.dirfd, name, fill, arg);
	if (ret == -EEXIST)
		return xcap_err_set(ret, err, err_size, "%s/%s exists already: it is not replaced",
				    d->file.dir, name);
	if (ret)
		return xcap_err_set(ret, err, err_size, "cannot write %s/%s: %s", d->file.dir, name,
				    strerror(-ret));
	return 0;
}

static int put_file(const struct xcap_dest *d, const char *name, const char *data, size_t len,
		    char *err, size_t err_size)
{
	const struct {
		const char *data;
		size_t len;
	} b = { data, len };

	return put_new(d, name, fill_buffer, &b, err, err_size);
}

/*
 * The spool file, on the bucket's file system, becomes the object without a
 * copy: synced, then linked in under a new name (xcap_file_link_new). 1 when
 * it cannot be linked (another file system): the caller copies.
 */
static int link_spool(const struct xcap_dest *d, const char *path, const char *name, char *err,
		      size_t err_size)
{
	int fd, ret = 0;

	if (!valid_name(name))
		return xcap_err_set(-EINVAL, err, err_size, "invalid object name %s", name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return xcap_err_set(-errno, err, err_size, "cannot read %s: %s", path,
				    strerror(errno));
	/* The object is this very file: private as a copy would be. */
	if (fchmod(fd, 0600) || fsync(fd))
		ret = -errno;
	close(fd);
	if (ret)
		return xcap_err_set(ret, err, err_size, "cannot sync %s: %s", path, strerror(-ret));
	ret = xcap_file_link_new(path, d->file.dirfd, name);
	if (ret == -EEXIST)
		return xcap_err_set(ret, err, err_size, "%s/%s exists already: it is not replaced",
				    d->file.dir, name);
	return ret ? 1 : 0;
}

static int deliver_file(const struct xcap_dest *d, const char *path, const char *name, char *err,
			size_t err_size)
{
	int ret = link_spool(d, path, name, err, err_size);

	return ret <= 0 ? ret : put_new(d, name, fill_copy, path, err, err_size);
}

/* Only a regular file is read: a FIFO planted under the name would block the reader. */
static int get_file(const struct xcap_dest *d, const char *name, char *buf, size_t size, char *err,
		    size_t err_size)
{
	struct stat st;
	ssize_t n = 0;
	int fd;

	if (!valid_name(name))
		return xcap_err_set(-EINVAL, err, err_size, "invalid object name %s", name);
	fd = openat(d->file.dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || (n = read(fd, buf, size - 1)) < 0) {
		if (fd >= 0)
			close(fd);
		return xcap_err_set(-EIO, err, err_size, "cannot read %s/%s", d->file.dir, name);
	}
	buf[n] = '\0';
	close(fd);
	return 0;
}

static void close_file(struct xcap_dest *d)
{
	close(d->file.dirfd);
	d->file.dirfd = -1;
}

/* A valid file:// conf has no query: masking it anyway hides a secret typed there by mistake. */
const struct xcap_dest_type xcap_dest_file = {
	.scheme = "file",
	.parse = parse_file,
	.put = put_file,
	.get = get_file,
	.deliver = deliver_file,
	.mask = xcap_dest_mask_query,
	.close = close_file,
};
