/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Leveled logging to stderr; libbpf and libxdp messages are routed here one level lower. */
#ifndef XCAP_LOG_H
#define XCAP_LOG_H

enum xcap_log_level {
	XCAP_LOG_ERR,
	XCAP_LOG_WARN,
	XCAP_LOG_INFO,
	XCAP_LOG_DEBUG,
	XCAP_LOG_TRACE, /* libraries' debug output */
};

extern enum xcap_log_level xcap_log_level;

void xcap_log_print(enum xcap_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void xcap_log_set_level(enum xcap_log_level level);

/* Formatting is skipped below the level. */
#define xcap_log(level, ...)                              \
	do {                                              \
		if ((level) <= xcap_log_level)            \
			xcap_log_print(level, __VA_ARGS__); \
	} while (0)

#define pr_err(...) xcap_log(XCAP_LOG_ERR, __VA_ARGS__)
#define pr_warn(...) xcap_log(XCAP_LOG_WARN, __VA_ARGS__)
#define pr_info(...) xcap_log(XCAP_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) xcap_log(XCAP_LOG_DEBUG, __VA_ARGS__)

#endif /* XCAP_LOG_H */
