/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Error messages for callers: a function that fails returns a negative errno
 * and writes why into the caller's buffer (err, err_size), in one call.
 */
#ifndef XCAP_ERR_H
#define XCAP_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* Writes the message into err (cut to fit) and returns ret, so that `return xcap_err_set(...)`. */
int xcap_err_set(int ret, char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int xcap_err_vset(int ret, char *err, size_t err_size, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
/* Adds to a message that already says what went wrong first. */
void xcap_err_append(char *err, size_t err_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* XCAP_ERR_H */
