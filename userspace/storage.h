/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Destinations ("buckets") named by a destination_conf URI: parsing, the
 * ownership challenge object, reading an object back, and delivering a
 * finished capture file. Supported: file:///DIR (a local directory).
 */
#ifndef XCAP_STORAGE_H
#define XCAP_STORAGE_H

#include <limits.h>
#include <stddef.h>

enum xcap_dest_scheme {
	XCAP_DEST_FILE,
};

struct xcap_dest {
	enum xcap_dest_scheme scheme;
	char dir[PATH_MAX]; /* file: the directory that acts as the bucket */
};

/* Parses a destination_conf; on error returns -EINVAL and a reason in err. */
int xcap_storage_parse(const char *conf, struct xcap_dest *d, char *err, size_t err_size);
/* Writes `data` as object `name`, atomically (temporary name, then rename). */
int xcap_storage_put(const struct xcap_dest *d, const char *name, const char *data, size_t len,
		     char *err, size_t err_size);
/* Reads object `name` into buf (NUL-terminated, at most size - 1 bytes). */
int xcap_storage_get(const struct xcap_dest *d, const char *name, char *buf, size_t size,
		     char *err, size_t err_size);
/* Copies the local file at `path` to object `name`, atomically. */
int xcap_storage_deliver(const struct xcap_dest *d, const char *path, const char *name, char *err,
			 size_t err_size);

#endif /* XCAP_STORAGE_H */
