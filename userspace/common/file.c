// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Whole-file reads and complete writes. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "common/file.h"

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
