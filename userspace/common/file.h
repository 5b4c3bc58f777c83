/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Whole-file reads and complete writes, the way every module needs them. */
#ifndef XCAP_FILE_H
#define XCAP_FILE_H

#include <stddef.h>

/*
 * Reads the whole file at path (a pipe too) into a malloc'd buffer with a NUL
 * after the data. 0, -EFBIG when larger than max bytes, or -errno.
 */
int xcap_file_read(const char *path, size_t max, char **out, size_t *len);
/* Writes all len bytes, going on after short writes and EINTR. 0 or -errno. */
int xcap_file_write_all(int fd, const void *buf, size_t len);

#endif /* XCAP_FILE_H */
