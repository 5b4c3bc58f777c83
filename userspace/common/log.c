// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Leveled logging: one sink (stderr) for xcap, libbpf and libxdp. */
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "common/log.h"

enum xcap_log_level xcap_log_level = XCAP_LOG_INFO;

static const char *const level_names[] = {
	[XCAP_LOG_ERR] = "error",   [XCAP_LOG_WARN] = "warning", [XCAP_LOG_INFO] = "info",
	[XCAP_LOG_DEBUG] = "debug", [XCAP_LOG_TRACE] = "trace",
};

/* One write per message, so lines of the delivery worker and the main loop never mix. */
static void vlog(enum xcap_log_level level, const char *fmt, va_list ap)
{
	char msg[1024];
	int n;

	n = snprintf(msg, sizeof(msg), "xcap: %s: ", level_names[level]);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	fputs(msg, stderr);
}

void xcap_log_print(enum xcap_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

/*
 * Library messages rank below ours: libxdp's feature probes make libbpf warn
 * about loads that are expected to fail, so a library warning is our debug.
 */
static int lib_print(enum xcap_log_level level, const char *fmt, va_list ap)
{
	if (level <= xcap_log_level)
		vlog(level, fmt, ap);
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return lib_print(level == LIBBPF_WARN ? XCAP_LOG_DEBUG : XCAP_LOG_TRACE, fmt, ap);
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return lib_print(level == LIBXDP_WARN ? XCAP_LOG_DEBUG : XCAP_LOG_TRACE, fmt, ap);
}

void xcap_log_set_level(enum xcap_log_level level)
{
	xcap_log_level = level;
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}
