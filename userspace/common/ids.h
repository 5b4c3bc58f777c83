/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Random identifiers and secrets from getrandom(2). */
#ifndef XCAP_IDS_H
#define XCAP_IDS_H

#include <stddef.h>

/* Fills buf with len random bytes. 0 or -errno. */
int xcap_ids_random_bytes(void *buf, size_t len);
/* Writes 2 * nbytes lowercase hex characters and a NUL into out. 0 or -errno. */
int xcap_ids_random_hex(char *out, size_t nbytes);

#endif /* XCAP_IDS_H */
