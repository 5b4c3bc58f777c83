// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* S3 requests on libcurl: one runner with timeouts and retries serves every operation. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include "common/util.h"
#include "common/err.h"
#include "common/log.h"
#include "server/s3.h"

#define RESP_MAX (64u << 10) /* the most we keep of an answer that is not an object */
#define BACKOFF_MAX_MS 30000L
#define ETAG_MAX 128
#define PARTS_MAX 10000 /* S3's limit on the parts of one upload */
#define QUERY_MAX 1024

/* A growing buffer with a hard limit. */
struct buf {
	char *p;
	size_t len, cap, max;
	bool overflow; /* an append went past max */
};

/* One S3 request: what to send, and the answer once s3_run returns. */
struct s3_req {
	const char *method; /* GET, PUT, POST or DELETE */
	const char *name; /* the object, relative to the prefix */
	const char *query; /* canonical (sorted, encoded) query, or NULL */
	const void *body;
	size_t body_len;
	const char *content_type;
	bool md5; /* send Content-MD5, so that S3 checks what it received */
	bool error_in_2xx; /* the answer may be a 200 whose body is an <Error> */
	size_t resp_max;
	long status;
	struct buf resp;
	char etag[ETAG_MAX];
	size_t sent; /* upload position of the running attempt */
};

void xcap_s3_opts_init(struct xcap_s3_opts *o)
{
	o->connect_timeout_ms = 10000;
	o->timeout_ms = 300000;
	o->low_speed_secs = 20;
	o->attempts = 5;
	o->backoff_ms = 500;
	o->part_size = XCAP_S3_PART_SIZE;
}

/* --- buffers and digests --- */

static int buf_append(struct buf *b, const void *data, size_t n)
{
	size_t cap;
	char *p;

	if (n > b->max - b->len) {
		b->overflow = true;
		return -EFBIG;
	}
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 1024;
		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int __attribute__((format(printf, 2, 3))) buf_printf(struct buf *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(line))
		return -EINVAL;
	return buf_append(b, line, n);
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The payload's SHA-256 in hex (x-amz-content-sha256) and its MD5 in base64 (Content-MD5). */
static int payload_digests(const void *data, size_t len, char sha256[65], char md5[25])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n;

	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL))
		return -EIO;
	hex(md, n, sha256);
	if (!EVP_Digest(data, len, md, &n, EVP_md5(), NULL))
		return -EIO;
	EVP_EncodeBlock((unsigned char *)md5, md, n);
	return 0;
}

/* --- XML answers --- */

static size_t xml_entity(const char *p, size_t n, char *c)
{
	static const struct {
		const char *name;
		char c;
	} entities[] = { { "&amp;", '&' },
			 { "&lt;", '<' },
			 { "&gt;", '>' },
			 { "&quot;", '"' },
			 { "&apos;", '\'' } };
	size_t i, len;

	for (i = 0; i < ARRAY_SIZE(entities); i++) {
		len = strlen(entities[i].name);
		if (len <= n && !memcmp(p, entities[i].name, len)) {
			*c = entities[i].c;
			return len;
		}
	}
	*c = '&';
	return 1;
}

int xcap_s3_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t size)
{
	char open[64], close[64];
	const char *p, *end;
	size_t n = 0;
	char c;

	if (!size)
		return -ENOSPC;
	out[0] = '\0';
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	p = xml ? memmem(xml, len, open, strlen(open)) : NULL;
	if (!p)
		return -ENOENT;
	p += strlen(open);
	end = memmem(p, xml + len - p, close, strlen(close));
	if (!end)
		return -ENOENT;
	while (p < end) {
		if (n + 1 >= size) {
			out[n] = '\0';
			return -ENOSPC;
		}
		if (*p == '&') {
			p += xml_entity(p, end - p, &c);
		} else {
			c = *p++;
		}
		/* The text ends up on one log line and in a JSON string. */
		out[n++] = (unsigned char)c < 0x20 ? ' ' : c;
	}
	out[n] = '\0';
	return 0;
}

/* The codes S3, R2 and GCS answer most, in our words. */
static const struct {
	const char *code;
	const char *text;
} known_codes[] = {
	{ "NoSuchBucket", "the bucket does not exist" },
	{ "NoSuchKey", "no such object" },
	{ "AccessDenied", "access denied" },
	{ "SignatureDoesNotMatch", "the secret key does not match" },
	{ "InvalidAccessKeyId", "the access key id is not known" },
	{ "InvalidToken", "the session token is not valid" },
	{ "ExpiredToken", "the session token has expired" },
	{ "AuthorizationHeaderMalformed", "the region or the key id is wrong for this bucket" },
	{ "RequestTimeTooSkewed", "the clocks of xcapd and the service differ too much" },
	{ "PermanentRedirect", "the bucket is in another region" },
	{ "InvalidBucketName", "the bucket name is not valid" },
	{ "EntityTooLarge", "the object is too large" },
	{ "BadDigest", "the object arrived damaged" },
	{ "InvalidDigest", "the object arrived damaged" },
	{ "NoSuchUpload", "the multipart upload is gone" },
	{ "SlowDown", "the service asks to slow down" },
	{ "InternalError", "the service failed" },
	{ "ServiceUnavailable", "the service is unavailable" },
	{ "NotImplemented", "the service does not implement this request" },
};

/*
 * The error's Code (a word) with our text for it: never the server's own
 * Message or body, which an API client must not read through xcapd (the
 * endpoint may be a server of the host's network).
 */
void xcap_s3_error_text(long status, const char *body, size_t len, char *out, size_t size)
{
	char code[128];
	size_t i, n;

	n = xcap_s3_xml_text(body, len, "Code", code, sizeof(code)) ? 0 : strlen(code);
	if (!n || n > 64 ||
	    strspn(code, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.") != n) {
		snprintf(out, size, "HTTP %ld", status);
		return;
	}
	for (i = 0; i < ARRAY_SIZE(known_codes) && strcmp(code, known_codes[i].code); i++)
		;
	if (i < ARRAY_SIZE(known_codes))
		snprintf(out, size, "%s: %s", code, known_codes[i].text);
	else
		snprintf(out, size, "%s", code);
}

/* --- the request runner --- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/*
 * Names go into the URL unescaped, so they keep to what needs no escaping, in
 * segments that libcurl does not squash ("." and "..").
 */
static bool valid_name(const char *name)
{
	const char *seg;
	size_t len;

	for (seg = name;; seg += len + 1) {
		len = strcspn(seg, "/");
		if (!len || (len == 1 && seg[0] == '.') || (len == 2 && !strncmp(seg, "..", 2)) ||
		    strspn(seg,
			   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
			    len)
			return false;
		if (!seg[len])
			return true;
	}
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct s3_req *r = arg;

	return buf_append(&r->resp, data, size * n) ? 0 : size * n;
}

static size_t on_upload(char *data, size_t size, size_t n, void *arg)
{
	struct s3_req *r = arg;
	size_t left = r->body_len - r->sent;

	if (left > size * n)
		left = size * n;
	memcpy(data, (const char *)r->body + r->sent, left);
	r->sent += left;
	return left;
}

/* libcurl rewinds when it sends the body again on a new connection. */
static int on_seek(void *arg, curl_off_t offset, int origin)
{
	struct s3_req *r = arg;

	if (origin != SEEK_SET || offset < 0 || (size_t)offset > r->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	r->sent = offset;
	return CURL_SEEKFUNC_OK;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
	struct s3_req *r = arg;
	size_t len = size * n, i = 5;

	/* A 100 Continue comes before the answer: keep the last answer's ETag only. */
	if (len >= 5 && !strncmp(data, "HTTP/", 5))
		r->etag[0] = '\0';
	if (len < 5 || strncasecmp(data, "etag:", 5))
		return len;
	while (i < len && (data[i] == ' ' || data[i] == '\t'))
		i++;
	while (len > i && (data[len - 1] == '\r' || data[len - 1] == '\n' || data[len - 1] == ' '))
		len--;
	if (len - i < sizeof(r->etag)) {
		memcpy(r->etag, data + i, len - i);
		r->etag[len - i] = '\0';
	}
	return size * n;
}

static int __attribute__((format(printf, 2, 3)))
add_header(struct curl_slist **list, const char *fmt, ...)
{
	char line[sizeof(((struct xcap_s3 *)0)->session_token) + 32];
	struct curl_slist *l;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	l = curl_slist_append(*list, line);
	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}

static int build_headers(const struct xcap_s3 *s, const struct s3_req *r, struct curl_slist **out)
{
	char sha256[65], md5[25];
	int ret;

	*out = NULL;
	ret = payload_digests(r->body, r->body_len, sha256, md5);
	/* libcurl 7.88 signs this header's value as the payload hash; S3 checks it. */
	ret = ret ?: add_header(out, "x-amz-content-sha256: %s", sha256);
	if (!ret && r->md5)
		ret = add_header(out, "Content-MD5: %s", md5);
	if (!ret && s->session_token[0])
		ret = add_header(out, "x-amz-security-token: %s", s->session_token);
	/*
	 * No "Expect:" to turn 100-continue off: libcurl 7.88 would sign that
	 * header it does not send, and S3 would refuse the signature.
	 */
	if (!ret && r->content_type)
		ret = add_header(out, "Content-Type: %s", r->content_type);
	if (ret) {
		curl_slist_free_all(*out);
		*out = NULL;
	}
	return ret;
}

static void set_method(CURL *h, struct s3_req *r)
{
	if (!strcmp(r->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
	} else if (!strcmp(r->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
}

static CURL *new_handle(const struct xcap_s3 *s, struct s3_req *r, const char *url,
			struct curl_slist *headers, char *sigv4, char *curl_err)
{
	const struct xcap_s3_opts *o = &s->opts;
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* we run on a worker thread */
	curl_easy_setopt(h, CURLOPT_USERAGENT, "xcapd");
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
	curl_easy_setopt(h, CURLOPT_USERNAME, s->access_key_id);
	curl_easy_setopt(h, CURLOPT_PASSWORD, s->secret_access_key);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1024L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, o->low_speed_secs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
	set_method(h, r);
	return h;
}

/* Transport failures worth another try: the server or the path to it may come back. */
static bool curl_retryable(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static int curl_errno(CURLcode rc)
{
	if (rc == CURLE_OPERATION_TIMEDOUT)
		return -ETIMEDOUT;
	if (rc == CURLE_COULDNT_CONNECT)
		return -ECONNREFUSED;
	return -EIO;
}

/*
 * What failed on the way, in a few words: libcurl's own text names the
 * address and port and quotes the peer; it goes to xcapd's log only.
 */
static const char *curl_reason(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
		return "the name does not resolve";
	case CURLE_COULDNT_CONNECT:
		return "could not connect";
	case CURLE_OPERATION_TIMEDOUT:
		return "timed out";
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return "TLS failed";
	default:
		return "the transfer failed";
	}
}

/* Judges one attempt: 0, or an error with *retry saying whether another try may help. */
static int judge(const struct xcap_s3 *s, struct s3_req *r, const char *path, CURLcode rc,
		 const char *curl_err, bool *retry, char *err, size_t err_size)
{
	char text[512];
	int ret;

	*retry = false;
	if (rc == CURLE_WRITE_ERROR && r->resp.overflow)
		return xcap_err_set(-EFBIG, err, err_size,
				    "the answer to %s %s is larger than %zu bytes", r->method, path,
				    r->resp_max);
	if (rc != CURLE_OK) {
		*retry = curl_retryable(rc);
		pr_debug("S3: %s %s at %s: %s\n", r->method, path, s->endpoint,
			 curl_err[0] ? curl_err : curl_easy_strerror(rc));
		return xcap_err_set(curl_errno(rc), err, err_size,
				    "cannot reach the bucket's endpoint: %s", curl_reason(rc));
	}
	if (r->status >= 200 && r->status < 300 &&
	    !(r->error_in_2xx && memmem(r->resp.p ?: "", r->resp.len, "<Error>", 7)))
		return 0;
	xcap_s3_error_text(r->status, r->resp.p, r->resp.len, text, sizeof(text));
	ret = r->status == 403 ? -EACCES : r->status == 404 ? -ENOENT : -EIO;
	/* Below 300 here: an <Error> in a 200, which S3 documents as worth a retry. */
	*retry = r->status >= 500 || r->status < 300;
	return xcap_err_set(ret, err, err_size, "%s (HTTP %ld on %s %s)", text, r->status,
			    r->method, path);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * Sends r, retrying with exponential backoff while judge() says another try
 * may help. Without jitter: one delivery worker is no thundering herd.
 */
static int s3_run(const struct xcap_s3 *s, struct s3_req *r, char *err, size_t err_size)
{
	char path[sizeof(s->bucket) + sizeof(s->prefix) + 256], curl_err[CURL_ERROR_SIZE];
	char url[sizeof(s->endpoint) + sizeof(path) + QUERY_MAX], sigv4[sizeof(s->region) + 16];
	struct curl_slist *headers = NULL;
	int ret, attempt = 0;
	CURL *h = NULL;
	CURLcode rc;
	long delay;
	bool retry;

	r->resp = (struct buf){ .max = r->resp_max };
	if (!valid_name(r->name))
		return xcap_err_set(-EINVAL, err, err_size, "invalid object name %s", r->name);
	if (pthread_once(&curl_once, curl_init) || curl_init_rc != CURLE_OK)
		return xcap_err_set(-ENOMEM, err, err_size, "libcurl cannot start");
	ret = snprintf(path, sizeof(path), "/%s/%s%s", s->bucket, s->prefix, r->name);
	if (ret < 0 || ret >= (int)sizeof(path) ||
	    snprintf(url, sizeof(url), "%s%s%s%s", s->endpoint, path, r->query ? "?" : "",
		     r->query ?: "") >= (int)sizeof(url))
		return xcap_err_set(-EINVAL, err, err_size, "the URL of %s is too long", r->name);
	snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", s->region);
	if (!r->body)
		r->body = "";
	ret = build_headers(s, r, &headers);
	h = ret ? NULL : new_handle(s, r, url, headers, sigv4, curl_err);
	if (!h) {
		ret = xcap_err_set(ret ?: -ENOMEM, err, err_size, "cannot prepare %s %s", r->method,
				   path);
		goto out;
	}
	for (;;) {
		attempt++;
		r->sent = 0;
		r->resp.len = 0;
		r->resp.overflow = false;
		r->etag[0] = '\0';
		r->status = 0;
		curl_err[0] = '\0';
		rc = curl_easy_perform(h);
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
		ret = judge(s, r, path, rc, curl_err, &retry, err, err_size);
		if (!ret || !retry || attempt >= s->opts.attempts)
			break;
		delay = s->opts.backoff_ms << (attempt - 1 < 16 ? attempt - 1 : 16);
		if (delay > BACKOFF_MAX_MS)
			delay = BACKOFF_MAX_MS;
		pr_warn("S3: %s; try %d of %d in %ld ms\n", err, attempt + 1, s->opts.attempts,
			delay);
		sleep_ms(delay);
	}
	if (ret && attempt > 1)
		xcap_err_append(err, err_size, "; gave up after %d attempts", attempt);
out:
	curl_easy_cleanup(h);
	curl_slist_free_all(headers);
	return ret;
}

static void req_free(struct s3_req *r)
{
	free(r->resp.p);
	r->resp.p = NULL;
}

/* --- operations --- */

static const char *content_type(const char *name)
{
	size_t n = strlen(name);

	if (n > 5 && !strcmp(name + n - 5, ".pcap"))
		return "application/vnd.tcpdump.pcap";
	if (n > 4 && !strcmp(name + n - 4, ".txt"))
		return "text/plain";
	return "application/octet-stream";
}

int xcap_s3_put(const struct xcap_s3 *s, const char *name, const void *data, size_t len, char *err,
		size_t err_size)
{
	struct s3_req r = {
		.method = "PUT",
		.name = name,
		.body = data,
		.body_len = len,
		.content_type = content_type(name),
		.md5 = true,
		.resp_max = RESP_MAX,
	};
	int ret = s3_run(s, &r, err, err_size);

	req_free(&r);
	return ret;
}

int xcap_s3_get(const struct xcap_s3 *s, const char *name, char *buf, size_t size, size_t *len,
		char *err, size_t err_size)
{
	/* Room for an error body even when the caller expects a few bytes. */
	struct s3_req r = { .method = "GET",
			    .name = name,
			    .resp_max = size > RESP_MAX ? size : RESP_MAX };
	int ret;

	if (!size)
		return xcap_err_set(-EINVAL, err, err_size, "no room to read %s", name);
	ret = s3_run(s, &r, err, err_size);
	if (!ret && r.resp.len >= size)
		ret = xcap_err_set(-EFBIG, err, err_size, "object %s is larger than %zu bytes",
				   name, size - 1);
	if (!ret) {
		memcpy(buf, r.resp.p ?: "", r.resp.len);
		buf[r.resp.len] = '\0';
		if (len)
			*len = r.resp.len;
	}
	req_free(&r);
	return ret;
}

/* Query values are encoded as SigV4 canonicalizes them: libcurl 7.88 signs the query as it is. */
static void query_escape(const char *in, char *out, size_t size)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *in && n + 4 < size; in++) {
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~",
			   *in)) {
			out[n++] = *in;
		} else {
			out[n++] = '%';
			out[n++] = digits[(unsigned char)*in >> 4];
			out[n++] = digits[*in & 15];
		}
	}
	out[n] = '\0';
}

/* A multipart upload in progress. */
struct upload {
	const struct xcap_s3 *s;
	const char *name;
	char id[512]; /* the UploadId, query-escaped */
	char (*etags)[ETAG_MAX];
	int n_parts;
};

static int upload_create(struct upload *u, char *err, size_t err_size)
{
	/* "uploads=": libcurl 7.88 signs a valueless parameter without the '=' SigV4 wants. */
	struct s3_req r = {
		.method = "POST",
		.name = u->name,
		.query = "uploads=",
		.content_type = content_type(u->name),
		.resp_max = RESP_MAX,
	};
	char id[sizeof(u->id) / 3];
	int ret;

	ret = s3_run(u->s, &r, err, err_size);
	if (!ret && (xcap_s3_xml_text(r.resp.p, r.resp.len, "UploadId", id, sizeof(id)) || !id[0]))
		ret = xcap_err_set(-EPROTO, err, err_size,
				   "no UploadId in the answer to POST %s?uploads", u->name);
	if (!ret)
		query_escape(id, u->id, sizeof(u->id));
	req_free(&r);
	return ret;
}

static int upload_part(struct upload *u, int number, const void *data, size_t len, char *err,
		       size_t err_size)
{
	char query[QUERY_MAX];
	struct s3_req r = {
		.method = "PUT",
		.name = u->name,
		.query = query,
		.body = data,
		.body_len = len,
		.md5 = true,
		.resp_max = RESP_MAX,
	};
	int ret;

	snprintf(query, sizeof(query), "partNumber=%d&uploadId=%s", number, u->id);
	ret = s3_run(u->s, &r, err, err_size);
	if (!ret && !r.etag[0])
		ret = xcap_err_set(-EPROTO, err, err_size, "no ETag in the answer to part %d of %s",
				   number, u->name);
	if (!ret)
		snprintf(u->etags[number - 1], ETAG_MAX, "%s", r.etag);
	req_free(&r);
	return ret;
}

static int upload_complete(struct upload *u, char *err, size_t err_size)
{
	struct buf xml = { .max = (size_t)u->n_parts * (ETAG_MAX + 64) + 256 };
	char query[QUERY_MAX];
	struct s3_req r = {
		.method = "POST",
		.name = u->name,
		.query = query,
		.content_type = "application/xml",
		.md5 = true,
		.error_in_2xx = true,
		.resp_max = RESP_MAX,
	};
	int i, ret;

	ret = buf_printf(&xml, "<CompleteMultipartUpload>");
	for (i = 0; !ret && i < u->n_parts; i++)
		ret = buf_printf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
				 i + 1, u->etags[i]);
	ret = ret ?: buf_printf(&xml, "</CompleteMultipartUpload>");
	if (ret) {
		ret = xcap_err_set(ret, err, err_size, "cannot build the completion of %s",
				   u->name);
		goto out;
	}
	snprintf(query, sizeof(query), "uploadId=%s", u->id);
	r.body = xml.p;
	r.body_len = xml.len;
	ret = s3_run(u->s, &r, err, err_size);
out:
	req_free(&r);
	free(xml.p);
	return ret;
}

/* Frees the parts S3 keeps for an upload that will not complete; says so in err. */
static void upload_abort(struct upload *u, char *err, size_t err_size)
{
	char query[QUERY_MAX], why[256];
	struct s3_req r = {
		.method = "DELETE",
		.name = u->name,
		.query = query,
		.resp_max = RESP_MAX,
	};

	snprintf(query, sizeof(query), "uploadId=%s", u->id);
	if (s3_run(u->s, &r, why, sizeof(why)))
		xcap_err_append(err, err_size, "; aborting the multipart upload failed too: %s",
				why);
	else
		xcap_err_append(err, err_size, "; the multipart upload was aborted");
	req_free(&r);
}

static int read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (!n)
			return -ENODATA; /* the file shrank under us */
		done += n;
	}
	return 0;
}

static const char *read_error(int ret)
{
	return ret == -ENODATA ? "the file got shorter during the upload" : strerror(-ret);
}

static int upload_parts(struct upload *u, int fd, size_t size, size_t part, char *buf, char *err,
			size_t err_size)
{
	size_t off, len;
	int i, ret = 0;

	for (i = 0, off = 0; !ret && off < size; i++, off += len) {
		len = size - off < part ? size - off : part;
		ret = read_full(fd, buf, len);
		if (ret)
			return xcap_err_set(ret, err, err_size,
					    "cannot read part %d of the file: %s", i + 1,
					    read_error(ret));
		ret = upload_part(u, i + 1, buf, len, err, err_size);
	}
	return ret;
}

static int upload_multipart(const struct xcap_s3 *s, const char *name, int fd, size_t size,
			    char *buf, size_t part, char *err, size_t err_size)
{
	struct upload u = { .s = s, .name = name };
	int ret;

	u.n_parts = (size + part - 1) / part;
	u.etags = calloc(u.n_parts, sizeof(*u.etags));
	if (!u.etags)
		return xcap_err_set(-ENOMEM, err, err_size, "no memory for %d parts", u.n_parts);
	ret = upload_create(&u, err, err_size);
	if (ret)
		goto out;
	ret = upload_parts(&u, fd, size, part, buf, err, err_size) ?:
		      upload_complete(&u, err, err_size);
	if (ret)
		upload_abort(&u, err, err_size);
out:
	free(u.etags);
	return ret;
}

int xcap_s3_upload_file(const struct xcap_s3 *s, const char *name, const char *path, char *err,
			size_t err_size)
{
	size_t size, part = s->opts.part_size ?: XCAP_S3_PART_SIZE;
	char *buf = NULL;
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return xcap_err_set(-errno, err, err_size, "cannot open %s: %s", path,
				    strerror(errno));
	if (fstat(fd, &st)) {
		ret = xcap_err_set(-errno, err, err_size, "cannot stat %s: %s", path,
				   strerror(errno));
		goto out;
	}
	size = st.st_size;
	/* Larger parts rather than more than S3 takes. */
	if (size / part >= PARTS_MAX)
		part = size / (PARTS_MAX - 1);
	buf = malloc(size < part ? size + 1 : part);
	if (!buf) {
		ret = xcap_err_set(-ENOMEM, err, err_size, "no memory for a part of %zu bytes",
				   part);
		goto out;
	}
	if (size <= part) {
		ret = read_full(fd, buf, size);
		ret = ret ? xcap_err_set(ret, err, err_size, "cannot read %s: %s", path,
					 read_error(ret)) :
			    xcap_s3_put(s, name, buf, size, err, err_size);
	} else {
		ret = upload_multipart(s, name, fd, size, buf, part, err, err_size);
	}
out:
	free(buf);
	close(fd);
	return ret;
}
