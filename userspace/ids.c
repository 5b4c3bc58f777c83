// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Random identifiers: capture and bucket ids, challenge tokens. */
#include <errno.h>
#include <stdint.h>
#include <sys/random.h>
#include "ids.h"

int xcap_ids_random_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t buf[64];
	size_t i;

	if (nbytes > sizeof(buf))
		return -EINVAL;
	if (getrandom(buf, nbytes, 0) != (ssize_t)nbytes)
		return -EIO;
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[buf[i] >> 4];
		out[2 * i + 1] = hex[buf[i] & 15];
	}
	out[2 * nbytes] = '\0';
	return 0;
}
