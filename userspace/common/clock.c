// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Clocks in nanoseconds, and RFC 3339 times (the API's format) <-> epoch nanoseconds. */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include "common/util.h"
#include "common/clock.h"


int64_t xcap_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

void xcap_clock_format(int64_t ns, char *buf, size_t size)
{
	time_t secs = ns / NSEC_PER_SEC;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* True when s starts with the pattern: '9' a digit, 'T' a T or t, anything else itself. */
static bool has_shape(const char *s, const char *pattern)
{
	for (; *pattern; s++, pattern++) {
		if (*pattern == '9' ? !isdigit((unsigned char)*s) :
		    *pattern == 'T' ? *s != 'T' && *s != 't' :
				      *s != *pattern)
			return false;
	}
	return true;
}

int xcap_clock_parse(const char *s, int64_t *ns)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 1;
	long frac = 0, scale = 1;
	struct tm tm = {};
	time_t t;

	/* The shape first: sscanf alone would take signs and spaces. */
	if (!has_shape(s, "9999-99-99T99:99:99") ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
		return -EINVAL;
	s += 19;
	if (*s == '.') {
		for (s++; isdigit((unsigned char)*s); s++)
			if (scale < NSEC_PER_SEC) {
				frac = frac * 10 + (*s - '0');
				scale *= 10;
			}
		if (scale == 1)
			return -EINVAL;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		if (!has_shape(s + 1, "99:99") || sscanf(s + 1, "%2d:%2d", &oh, &om) != 2 ||
		    oh > 23 || om > 59)
			return -EINVAL;
		s += 6;
	} else {
		return -EINVAL;
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	tm = (struct tm){ .tm_year = y - 1900,
			  .tm_mon = mo - 1,
			  .tm_mday = d,
			  .tm_hour = h,
			  .tm_min = mi,
			  .tm_sec = sec };
	t = timegm(&tm);
	if (tm.tm_mday != d) /* timegm normalized an impossible date such as Feb 30 */
		return -EINVAL;
	t -= sign * (oh * 3600 + om * 60);
	/* Nanoseconds since the epoch fit in 64 bits from 1677 to 2262 only. */
	if (t <= INT64_MIN / NSEC_PER_SEC || t >= INT64_MAX / NSEC_PER_SEC)
		return -EINVAL;
	*ns = t * NSEC_PER_SEC + frac * (NSEC_PER_SEC / scale);
	return 0;
}
