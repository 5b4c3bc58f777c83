// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Whole-file reads, complete writes, and files created without following a planted link. */
#define _GNU_SOURCE /* renameat2 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "common/file.h"
#include "common/ids.h"

#define READ_CHUNK 65536

int xcap_file_read(const char *path, size_t max, char **out, size_t *len)
{
	size_t cap = 0, n = 0;
	char *buf = NULL, *p;
	int fd, ret = 0;
	ssize_t got;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (n == cap) {
			if (cap >= max) {
				ret = -EFBIG;
				goto out;
			}
			cap += READ_CHUNK;
			p = realloc(buf, cap + 1);
			if (!p) {
				ret = -ENOMEM;
				goto out;
			}
			buf = p;
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			ret = -errno;
			goto out;
		}
		if (!got)
			break;
		n += got;
	}
	if (n > max) {
		ret = -EFBIG;
		goto out;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return ret;
}

int xcap_file_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

int xcap_file_create_at(int dirfd, const char *name, mode_t mode)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);

	return fd < 0 ? -errno : fd;
}

/* ".PREFIX.<16 random hex>.tmp": a name nobody can predict. */
static int temp_name(const char *prefix, char *name, size_t size)
{
	char rnd[17];
	int ret = xcap_ids_random_hex(rnd, 8);

	if (!ret && snprintf(name, size, ".%s.%s.tmp", prefix, rnd) >= (int)size)
		ret = -ENAMETOOLONG;
	return ret;
}

int xcap_file_create_temp(int dirfd, const char *prefix, char *name, size_t size)
{
	int fd, tries;

	for (tries = 0; tries < 8; tries++) {
		fd = temp_name(prefix, name, size);
		if (fd)
			return fd;
		fd = xcap_file_create_at(dirfd, name, 0600);
		if (fd != -EEXIST)
			return fd;
	}
	return -EEXIST;
}

int xcap_file_link_new(const char *path, int dirfd, const char *name)
{
	char tmp[NAME_MAX + 1];
	int ret = -EEXIST, tries;

	for (tries = 0; tries < 8 && ret == -EEXIST; tries++) {
		ret = temp_name(name, tmp, sizeof(tmp));
		/* No AT_SYMLINK_FOLLOW, and the new name is one nobody could plant. */
		if (!ret && linkat(AT_FDCWD, path, dirfd, tmp, 0))
			ret = -errno;
	}
	if (ret)
		return ret;
	ret = xcap_file_rename_new(dirfd, tmp, name);
	if (ret) {
		unlinkat(dirfd, tmp, 0);
		return ret;
	}
	fsync(dirfd);
	return 0;
}

int xcap_file_rename_new(int dirfd, const char *tmp, const char *name)
{
	if (!renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	/* Without RENAME_NOREPLACE (some file systems): a hard link fails too when name exists. */
	if (linkat(dirfd, tmp, dirfd, name, 0))
		return -errno;
	unlinkat(dirfd, tmp, 0);
	return 0;
}

int xcap_file_put_new(int dirfd, const char *name, int (*fill)(int fd, const void *arg),
		      const void *arg)
{
	char tmp[NAME_MAX + 1];
	int fd, ret;

	fd = xcap_file_create_temp(dirfd, name, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	ret = fill(fd, arg);
	if (!ret && fsync(fd))
		ret = -errno;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret)
		ret = xcap_file_rename_new(dirfd, tmp, name);
	if (ret) {
		unlinkat(dirfd, tmp, 0);
		return ret;
	}
	/* The name is in place: a failed sync of the folder only risks it after a crash. */
	fsync(dirfd);
	return 0;
}
