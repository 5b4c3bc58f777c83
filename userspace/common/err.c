// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Error messages into the caller's buffer. */
#include <stdio.h>
#include <string.h>
#include "common/err.h"

int xcap_err_vset(int ret, char *err, size_t err_size, const char *fmt, va_list ap)
{
	if (err_size)
		vsnprintf(err, err_size, fmt, ap);
	return ret;
}

int xcap_err_set(int ret, char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	xcap_err_vset(ret, err, err_size, fmt, ap);
	va_end(ap);
	return ret;
}

void xcap_err_append(char *err, size_t err_size, const char *fmt, ...)
{
	size_t n = strnlen(err, err_size);
	va_list ap;

	if (n + 1 >= err_size)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, err_size - n, fmt, ap);
	va_end(ap);
}
