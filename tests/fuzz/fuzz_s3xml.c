// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness: the S3 client's reader of error bodies (s3.c:
 * xcap_s3_xml_text, xcap_s3_error_text). The body comes from the S3 server,
 * and what is read ends up in logs, capture records and API answers.
 *
 * Input: byte 0 sets the output buffer's size (1..256), byte 1 the tag
 * (Code, Message, UploadId, ETag); the rest is the body, in a buffer of its
 * exact size (no terminator: a read past it is an ASan report).
 * Invariants: 0, -ENOENT or -ENOSPC; the output is NUL-terminated within its
 * buffer, holds no control character, is empty on -ENOENT, and on 0 is the
 * element's text with entities decoded, as a reference decoder here reads it.
 */
#define _GNU_SOURCE /* memmem */
#include "fuzz_common.h"
#include "server/s3.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet();
	return 0;
}

/* The reference: first <tag>, then the first </tag> after it; &lt; &gt; &amp; &quot; &apos;. */
static int reference(const char *xml, size_t len, const char *tag, char *out, size_t *n)
{
	static const char *const names[] = { "&lt;", "&gt;", "&amp;", "&quot;", "&apos;" };
	static const char chars[] = "<>&\"'";
	char open[64], close[64];
	const char *p, *end;
	size_t k;

	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	p = memmem(xml, len, open, strlen(open));
	if (!p)
		return -ENOENT;
	p += strlen(open);
	end = memmem(p, xml + len - p, close, strlen(close));
	if (!end)
		return -ENOENT;
	for (*n = 0; p < end; (*n)++) {
		char c = *p++;

		if (c == '&') {
			for (k = 0; k < 5; k++) {
				size_t l = strlen(names[k]);

				if ((size_t)(end - p + 1) >= l && !memcmp(p - 1, names[k], l)) {
					c = chars[k];
					p += l - 1;
					break;
				}
			}
		}
		out[*n] = (unsigned char)c < 0x20 ? ' ' : c;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = { "Code", "Message", "UploadId", "ETag" };
	char out[257], text[1024];
	static char want[1 << 16];
	const char *tag;
	size_t out_size, len, n = 0, i;
	char *body;
	int ret, ref;

	if (size < 2 || size - 2 > sizeof(want))
		return 0;
	out_size = data[0] % 256 + 1;
	tag = tags[data[1] % 4];
	len = size - 2;
	body = malloc(len ?: 1);
	if (!body)
		abort();
	memcpy(body, data + 2, len);

	memset(out, 0x5a, sizeof(out));
	ret = xcap_s3_xml_text(body, len, tag, out, out_size);
	FUZZ_CHECK(ret == 0 || ret == -ENOENT || ret == -ENOSPC, "ret %d", ret);
	FUZZ_CHECK(memchr(out, '\0', out_size), "output not terminated within %zu bytes", out_size);
	FUZZ_CHECK(out[out_size] == 0x5a, "wrote past the buffer");
	for (i = 0; out[i]; i++)
		FUZZ_CHECK((unsigned char)out[i] >= 0x20, "control character 0x%02x", out[i]);
	ref = reference(body, len, tag, want, &n);
	if (ref == -ENOENT) {
		FUZZ_CHECK(ret == -ENOENT && !out[0], "found what is not there: %d", ret);
	} else if (n + 1 <= out_size) {
		FUZZ_CHECK(ret == 0 && strlen(out) == n && !memcmp(out, want, n),
			   "text differs from the reference (ret %d)", ret);
	} else {
		FUZZ_CHECK(ret == -ENOSPC && strlen(out) == out_size - 1 &&
				   !memcmp(out, want, out_size - 1),
			   "a cut text differs from the reference (ret %d)", ret);
	}

	memset(text, 0x5a, sizeof(text));
	xcap_s3_error_text(503, body, len, text, out_size);
	FUZZ_CHECK(memchr(text, '\0', out_size), "error text not terminated");
	FUZZ_CHECK(text[out_size] == 0x5a, "error text past the buffer");
	free(body);
	return 0;
}
