// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Random identifiers: capture and bucket ids, challenge tokens. */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include "common/ids.h"

int xcap_ids_random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len) {
		n = getrandom(p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= n;
	}
	return 0;
}

int xcap_ids_random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t buf[64];
	size_t i;
	int err;

	if (nbytes > sizeof(buf))
		return -EINVAL;
	err = xcap_ids_random_bytes(buf, nbytes);
	if (err)
		return err;
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[buf[i] >> 4];
		out[2 * i + 1] = hex[buf[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return 0;
}
