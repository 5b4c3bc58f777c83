/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Clocks in nanoseconds, and RFC 3339 times (the API's format) <-> epoch nanoseconds. */
#ifndef XCAP_CLOCK_H
#define XCAP_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* clock_gettime(id) in nanoseconds. */
int64_t xcap_clock_ns(clockid_t id);
/* "2026-11-29T01:30:10Z": UTC, whole seconds. */
void xcap_clock_format(int64_t ns, char *buf, size_t size);
/* "2020-01-01T08:00:00Z", with an optional fraction and a Z or +hh:mm offset. 0 or -EINVAL. */
int xcap_clock_parse(const char *s, int64_t *ns);

#endif /* XCAP_CLOCK_H */
