/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The recorder tests' shared opener: a recorder in the test's temporary folder. */
#ifndef XCAP_RECORDER_TEST_H
#define XCAP_RECORDER_TEST_H

#include "agent/recorder.h"
#include "test.h"

/* Opens (creating) the recorder folder NAME with these limits (0 = the defaults). */
static inline struct xcap_recorder *rec_open(const char *name, uint64_t max_bytes,
					     uint32_t max_rate, int64_t max_age_ns)
{
	struct xcap_recorder_opts o = {
		.max_age_ns = max_age_ns,
		.max_bytes = max_bytes,
		.max_rate = max_rate,
	};
	char dir[PATH_MAX];
	struct xcap_recorder *r;

	test_path(dir, PATH_MAX, name);
	o.dir = dir;
	r = xcap_recorder_open(&o);
	CHECK(r, "open %s: %s", dir, strerror(errno));
	return r;
}

#endif /* XCAP_RECORDER_TEST_H */
