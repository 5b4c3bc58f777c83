// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The flight recorder (see recorder.h). Files in its folder, integers in host
 * byte order (the files do not move between machines):
 *
 *   <minute>-<n>.seg  the n-th segment made for the minute starting at <minute>
 *                     (epoch seconds): struct seg_hdr, then records, each a
 *                     struct rec_hdr (CRC32C of the rest of the record first)
 *                     and cap_len <= 160 bytes of the frame. Only ever appended
 *                     to while open; a restart starts a new segment.
 *   <minute>-<n>.idx  its index, written when the segment is closed (rebuilt
 *                     from the records at open when it is missing or stale):
 *                     struct idx_hdr (valid length of the segment, count, time
 *                     range, bitmap of IP protocols) and a Bloom filter.
 *
 * The field table (common/fields.c) says what the index holds: the IP
 * protocols in the bitmap; in the Bloom filter, under each field's tag, the
 * values of its number fields (the ports, when the sample has them) and the
 * prefixes of its address fields at the lengths 8, 16, 24, 32 (IPv4) and 32,
 * 48, 64, 128 (IPv6); those of the packet inside a tunnel too (a filter
 * matches at either level), under the same tags.
 * A filter prefix is looked up at the longest of those lengths it covers: a
 * sample in the prefix has the same leading bits. A prefix shorter than them
 * all (a /4 or a v6 /20, say) cannot use the index. While a segment is open
 * the filter has 2^23 bits (1 MiB, memory); at close it is folded to the
 * smallest power of 2 (at least 2^13 bits) at which about a quarter of its
 * bits are set, which keeps false positives of a lookup near 2% (3 bits in
 * one 64-bit word per key) and the index small for quiet minutes. A minute
 * with more than about 800k distinct keys saturates the filter: queries then
 * read its segment, they never miss a sample.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/util.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/frame.h"
#include "agent/recorder.h"

#define SEG_SPAN_NS (60 * NSEC_PER_SEC) /* one segment per minute of sample time */
/*
 * The versions of the two files. A segment of another version is not read; an
 * index of another version is rebuilt from its segment at open. Index 2: the
 * packets inside tunnels are summarized too.
 */
#define SEG_VERSION 1
#define IDX_VERSION 2
#define WRITE_BUF_SIZE (256 << 10)
#define BLOOM_MAX_LOG2 23 /* bits of an open segment's filter: 1 MiB */
#define BLOOM_MIN_LOG2 13 /* folding stops at 1 KiB */
#define BLOOM_PROBES 3 /* bits per key */
#define BLOOM_BYTES(log2) ((size_t)1 << (log2) >> 3)
#define PREFIX_LENS 4
#define NAME_MAX_LEN 48 /* "<minute>-<n>.seg" */

struct seg_hdr {
	char magic[8]; /* "XCAPSEG" */
	uint32_t version;
	uint32_t pad;
};

struct rec_hdr {
	uint32_t crc; /* CRC32C of the rest of the header and the data */
	uint16_t cap_len;
	uint16_t flags; /* XCAP_REC_* */
	uint64_t ts_ns;
	uint32_t ifindex;
	uint32_t orig_len;
};
_Static_assert(sizeof(struct rec_hdr) == 24, "rec_hdr layout");

#define REC_MAX (sizeof(struct rec_hdr) + XCAP_SAMPLE_BYTES)

struct idx_hdr {
	char magic[8]; /* "XCAPIDX" */
	uint32_t version;
	uint32_t hdr_crc; /* CRC32C of this header, this field zero */
	uint64_t data_bytes; /* the segment's records end here */
	uint64_t count;
	uint64_t min_ts;
	uint64_t max_ts;
	uint32_t bloom_log2; /* the Bloom filter that follows has 1 << bloom_log2 bits */
	uint32_t bloom_crc;
	uint8_t protos[32]; /* bit p: some IP sample has protocol p */
};
_Static_assert(sizeof(struct idx_hdr) == 88, "idx_hdr layout");

static const char seg_magic[8] = "XCAPSEG", idx_magic[8] = "XCAPIDX";

/* What a segment holds, as far as a query can tell without reading it. */
struct summary {
	uint8_t protos[32];
	uint32_t log2;
	uint64_t keys; /* keys added that set a bit: about the distinct keys */
	uint64_t *bits;
};

struct seg {
	int64_t minute; /* from the name */
	uint32_t n; /* from the name */
	uint32_t no; /* creation order in this run (older segments first); orders equal times */
	uint64_t count;
	uint64_t min_ts;
	uint64_t max_ts;
	uint64_t data_bytes; /* header and intact records */
	uint64_t disk_bytes; /* segment and index files */
	uint32_t bloom_log2; /* 0: no usable index, every query reads the segment */
	uint32_t bloom_crc;
	uint8_t protos[32];
};

/*
 * One writer thread, readers on any thread (recorder.h). The writer reads its
 * own state without the lock (nobody else changes it) and takes the lock for
 * each change a reader may see: the segment list and its entries, which
 * segment is open (fd), its summary (live) and the buffer. Counters are
 * relaxed atomics, written by the writer only.
 */
struct xcap_recorder {
	char *dir;
	int64_t max_age_ns;
	uint64_t max_bytes;
	uint32_t max_rate;
	pthread_mutex_t lock;
	struct seg *segs; /* creation order; the open segment, if any, is the last */
	size_t nsegs;
	size_t cap;
	uint32_t next_no;
	int fd; /* of the open segment; -1 when none is open */
	struct summary live; /* the open segment's; scratch for rebuilds at open */
	uint8_t *buf; /* records not written yet, after the open segment's data_bytes */
	size_t buf_len;
	uint64_t buf_count;
	/* The writer's alone. */
	uint64_t rate_sec;
	uint32_t rate_count;
	int write_err; /* the last write's result, so that a run of errors is logged once */
	bool wait_flush; /* a segment could not be made: try again at the next flush */
	int64_t ticked; /* CLOCK_MONOTONIC of the last xcap_recorder_tick that did its work */
	/* Counters. */
	uint64_t written;
	uint64_t dropped_rate;
	uint64_t dropped_error;
	uint64_t expired;
};

/* A counter only the writer changes: readers load it with __atomic_load_n. */
static void count(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, *c + n, __ATOMIC_RELAXED);
}

/* CRC32C (Castagnoli): the SSE4.2 instruction where there is one, else a table. */
static uint32_t crc32c_table[256];
static bool crc32c_hw_ok;

__attribute__((constructor)) static void crc32c_init(void)
{
	uint32_t c;
	int i, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78 : c >> 1;
		crc32c_table[i] = c;
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	crc32c_hw_ok = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
							    size_t len)
{
	uint64_t c = crc, w;

	for (; len >= 8; len -= 8, p += 8) {
		memcpy(&w, p, 8);
		c = __builtin_ia32_crc32di(c, w);
	}
	for (; len; len--)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}
#endif

static uint32_t crc32c(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint32_t c = ~0U;

#if defined(__x86_64__)
	if (crc32c_hw_ok)
		return ~crc32c_hw(c, p, len);
#endif
	while (len--)
		c = crc32c_table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}

/* Summaries: a protocol bitmap and a Bloom filter over tagged keys. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Part of the file format: changing it needs a new IDX_VERSION. */
static uint64_t key_hash(uint8_t tag, uint32_t len, const uint8_t v[16])
{
	uint64_t a, b;

	memcpy(&a, v, 8);
	memcpy(&b, v + 8, 8);
	return mix64(mix64(a ^ (((uint64_t)tag << 32 | len) * 0x9e3779b97f4a7c15ULL)) ^ b);
}

/* A number of a field: its value big-endian in the field's whole bytes (a port in 2). */
static uint64_t num_key(int id, uint32_t num)
{
	int n = (xcap_fields[id].bits + 7) / 8, i;
	uint8_t v[16] = {};

	for (i = 0; i < n; i++)
		v[i] = num >> (8 * (n - 1 - i));
	return key_hash(xcap_fields[id].bloom_tag, 0, v);
}

/* The prefix of len bits (a multiple of 8) of an address. */
static uint64_t addr_key(uint8_t tag, uint8_t family, uint32_t len, const uint8_t *addr)
{
	uint8_t v[16] = {};

	memcpy(v, addr, len / 8);
	return key_hash(tag, family << 8 | len, v);
}

static const uint8_t *prefix_lens(uint8_t family)
{
	static const uint8_t v4[PREFIX_LENS] = { 8, 16, 24, 32 };
	static const uint8_t v6[PREFIX_LENS] = { 32, 48, 64, 128 };

	return family == 4 ? v4 : v6;
}

/*
 * A key's bits all lie in one 64-bit word (one cache miss per key), the word
 * taken modulo the size, so that folding keeps every key's bits.
 */
static uint64_t *bloom_word(const struct summary *s, uint64_t h)
{
	return &s->bits[(uint32_t)h & ((BLOOM_BYTES(s->log2) / 8) - 1)];
}

static uint64_t bloom_bits(uint64_t h)
{
	uint64_t bits = 0;
	int i;

	for (i = 0; i < BLOOM_PROBES; i++)
		bits |= 1ULL << (h >> (32 + 6 * i) & 63);
	return bits;
}

static bool bloom_has(const struct summary *s, uint64_t h)
{
	uint64_t bits = bloom_bits(h);

	return (*bloom_word(s, h) & bits) == bits;
}

static void bloom_add(struct summary *s, uint64_t h)
{
	uint64_t *word = bloom_word(s, h), bits = bloom_bits(h);

	s->keys += (*word & bits) != bits;
	*word |= bits;
}

static void summary_reset(struct summary *s)
{
	memset(s->protos, 0, sizeof(s->protos));
	s->log2 = BLOOM_MAX_LOG2;
	s->keys = 0;
	memset(s->bits, 0, BLOOM_BYTES(s->log2));
}

static void bitmap_add(struct summary *s, uint32_t v)
{
	s->protos[v / 8] |= 1 << (v % 8);
}

static bool bitmap_has(const struct summary *s, uint32_t v)
{
	return s->protos[v / 8] & 1 << (v % 8);
}

/*
 * A non-IP frame adds nothing: it has no field, so only a filter naming nothing
 * matches it, and that filter reads every segment.
 */
static void summary_add(struct summary *s, const struct xcap_tuple *t)
{
	const struct xcap_prefix *p;
	const uint8_t *lens;
	int id, i;

	for (id = 0; id < XCAP_FIELD_N; id++) {
		if (!(t->has & (1U << id)) || xcap_fields[id].index == XCAP_INDEX_NONE)
			continue;
		if (xcap_fields[id].index == XCAP_INDEX_BITMAP) {
			bitmap_add(s, t->v[id].num);
		} else if (xcap_fields[id].kind == XCAP_KIND_NUM) {
			bloom_add(s, num_key(id, t->v[id].num));
		} else {
			p = &t->v[id].prefix;
			lens = prefix_lens(p->family);
			for (i = 0; i < PREFIX_LENS; i++)
				bloom_add(s, addr_key(xcap_fields[id].bloom_tag, p->family, lens[i],
						      p->addr));
		}
	}
}

static bool summary_has_prefix(const struct summary *s, uint8_t tag, const struct xcap_prefix *p)
{
	const uint8_t *lens = prefix_lens(p->family);
	int i;

	for (i = PREFIX_LENS - 1; i >= 0; i--) {
		if (lens[i] <= p->len)
			return bloom_has(s, addr_key(tag, p->family, lens[i], p->addr));
	}
	return true; /* shorter than every summarized length: the index cannot tell */
}

/* False when no sample summarized by s can match f. */
static bool summary_may_match(const struct summary *s, const struct xcap_filter *f)
{
	const struct xcap_value *v;
	int id;

	for (id = 0; id < XCAP_FIELD_N; id++) {
		if (!(f->set & (1U << id)) || xcap_fields[id].index == XCAP_INDEX_NONE)
			continue;
		v = &f->v[id];
		if (xcap_fields[id].index == XCAP_INDEX_BITMAP) {
			if (!bitmap_has(s, v->num))
				return false;
		} else if (xcap_fields[id].kind == XCAP_KIND_NUM) {
			if (!bloom_has(s, num_key(id, v->num)))
				return false;
		} else if (!summary_has_prefix(s, xcap_fields[id].bloom_tag, &v->prefix)) {
			return false;
		}
	}
	return true;
}

/*
 * Folds the filter to the smallest size at which about a quarter of its bits
 * are set: n keys of 3 bits set 1 - e^(-3n/m) of m bits, a quarter at
 * m = 10.4 n. Word i lands on word i modulo the new size.
 */
static void summary_fold(struct summary *s)
{
	uint32_t log2 = BLOOM_MIN_LOG2;
	size_t words, i;

	while (log2 < s->log2 && ((uint64_t)1 << log2) < s->keys * 21 / 2)
		log2++;
	words = BLOOM_BYTES(log2) / 8;
	for (i = words; i < BLOOM_BYTES(s->log2) / 8; i++)
		s->bits[i & (words - 1)] |= s->bits[i];
	s->log2 = log2;
}

/* Files. */
static void seg_path(const struct xcap_recorder *r, const struct seg *s, const char *ext, char *buf)
{
	snprintf(buf, PATH_MAX, "%s/%lld-%u.%s", r->dir, (long long)s->minute, s->n, ext);
}

static int write_all(int fd, const void *data, size_t len, uint64_t off)
{
	const uint8_t *p = data;
	ssize_t n;

	while (len) {
		n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= n;
		off += n;
	}
	return 0;
}

/* Reads len bytes at off, and the file's size. 0, -EBADMSG when too short, or -errno. */
static int read_at(const char *path, void *buf, size_t len, uint64_t off, uint64_t *size)
{
	struct stat st;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	n = pread(fd, buf, len, off);
	if (n < 0)
		err = -errno;
	else if ((size_t)n < len)
		err = -EBADMSG;
	if (size)
		*size = st.st_size;
out:
	close(fd);
	return err;
}

/*
 * Maps the first *size bytes of a file read-only, fewer when the file is
 * shorter (a reader's copy of a segment may describe a file that retention
 * deleted and a new segment took the name of: a page past its end would
 * fault). NULL with errno set on error.
 */
static const uint8_t *map_file(const char *path, size_t *size)
{
	void *p = MAP_FAILED;
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (!fstat(fd, &st) && (uint64_t)st.st_size < *size)
		*size = st.st_size;
	p = *size ? mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	err = *size ? errno : ENODATA;
	close(fd);
	if (p == MAP_FAILED) {
		errno = err;
		return NULL;
	}
	madvise(p, *size, MADV_SEQUENTIAL);
	return p;
}

/* Records. */
typedef void (*rec_fn)(void *arg, const struct xcap_packet *pkt, uint64_t ordinal);

/* Decodes the record at off; returns its length, or 0 at the end or a torn or corrupt record. */
static size_t rec_decode(const uint8_t *base, size_t size, size_t off, struct xcap_packet *pkt)
{
	const size_t skip = offsetof(struct rec_hdr, cap_len);
	struct rec_hdr h;

	if (size - off < sizeof(h))
		return 0;
	memcpy(&h, base + off, sizeof(h));
	if (h.cap_len > XCAP_SAMPLE_BYTES || size - off - sizeof(h) < h.cap_len ||
	    crc32c(base + off + skip, sizeof(h) - skip + h.cap_len) != h.crc)
		return 0;
	*pkt = (struct xcap_packet){
		.ts_ns = h.ts_ns,
		.data = base + off + sizeof(h),
		.cap_len = h.cap_len,
		.orig_len = h.orig_len,
		.ifindex = h.ifindex,
		.flags = h.flags,
	};
	return sizeof(h) + h.cap_len;
}

/*
 * Calls fn for each intact record from off on (records numbered from *i on);
 * returns where they end.
 */
static size_t recs_walk(const uint8_t *base, size_t size, size_t off, rec_fn fn, void *arg,
			uint64_t *i)
{
	struct xcap_packet pkt;
	size_t n;

	while ((n = rec_decode(base, size, off, &pkt))) {
		fn(arg, &pkt, (*i)++);
		off += n;
	}
	return off;
}

/* Calls fn for each intact record of a mapped segment; returns where they end. */
static size_t seg_walk(const uint8_t *base, size_t size, rec_fn fn, void *arg)
{
	uint64_t i = 0;

	return recs_walk(base, size, sizeof(struct seg_hdr), fn, arg, &i);
}

/* Counts a sample, whose levels are fr, into a segment's time range and summary. */
static void seg_account(struct seg *s, struct summary *sum, const struct xcap_packet *pkt,
			const struct xcap_frame *fr)
{
	s->count++;
	if (pkt->ts_ns < s->min_ts)
		s->min_ts = pkt->ts_ns;
	if (pkt->ts_ns > s->max_ts)
		s->max_ts = pkt->ts_ns;
	summary_add(sum, &fr->lvl[XCAP_LEVEL_OUTER]);
	/* A filter matches at either level: the index answers for both (IDX_VERSION 2). */
	if (fr->inner)
		summary_add(sum, &fr->lvl[XCAP_LEVEL_INNER]);
}

/* The segment list. */
static bool seg_is_open(const struct xcap_recorder *r, size_t i)
{
	return r->fd >= 0 && i == r->nsegs - 1;
}

static struct seg *seg_open(struct xcap_recorder *r)
{
	return &r->segs[r->nsegs - 1];
}

/* Appends a segment; with fd >= 0 it becomes the open one (a reader sees both at once). */
static int seg_push(struct xcap_recorder *r, const struct seg *s, int fd)
{
	struct seg *segs;
	size_t cap;
	int err = 0;

	pthread_mutex_lock(&r->lock);
	if (r->nsegs == r->cap) {
		cap = r->cap ? 2 * r->cap : 64;
		segs = realloc(r->segs, cap * sizeof(*segs));
		if (!segs) {
			err = -ENOMEM;
			goto out;
		}
		r->segs = segs;
		r->cap = cap;
	}
	r->segs[r->nsegs++] = *s;
	if (fd >= 0)
		r->fd = fd;
out:
	pthread_mutex_unlock(&r->lock);
	return err;
}

/*
 * Deletes the files of segment i (index first: a segment without one is
 * rebuilt), then the entry. A reader that copied the entry before finds no
 * file and leaves the segment out.
 */
static void seg_delete(struct xcap_recorder *r, size_t i)
{
	char path[PATH_MAX];

	seg_path(r, &r->segs[i], "idx", path);
	unlink(path);
	seg_path(r, &r->segs[i], "seg", path);
	if (unlink(path) && errno != ENOENT)
		pr_warn("recorder: cannot delete %s: %s\n", path, strerror(errno));
	pthread_mutex_lock(&r->lock);
	memmove(&r->segs[i], &r->segs[i + 1], (r->nsegs - i - 1) * sizeof(r->segs[0]));
	r->nsegs--;
	pthread_mutex_unlock(&r->lock);
}

/* Indexes. */
static int idx_write(struct xcap_recorder *r, struct seg *s, struct summary *sum)
{
	struct idx_hdr h = {
		.version = IDX_VERSION,
		.data_bytes = s->data_bytes,
		.count = s->count,
		.min_ts = s->min_ts,
		.max_ts = s->max_ts,
	};
	char path[PATH_MAX];
	int fd, err;

	summary_fold(sum);
	memcpy(h.magic, idx_magic, sizeof(h.magic));
	memcpy(h.protos, sum->protos, sizeof(h.protos));
	h.bloom_log2 = sum->log2;
	h.bloom_crc = crc32c(sum->bits, BLOOM_BYTES(sum->log2));
	h.hdr_crc = crc32c(&h, sizeof(h));
	seg_path(r, s, "idx", path);
	/* A new file, never one written through a link planted under the name. */
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	err = write_all(fd, &h, sizeof(h), 0);
	if (!err)
		err = write_all(fd, sum->bits, BLOOM_BYTES(sum->log2), sizeof(h));
	close(fd);
	if (err)
		unlink(path);
out:
	if (err) {
		pr_warn("recorder: cannot write %s: %s; queries will read the whole segment\n",
			path, strerror(-err));
		return err;
	}
	/* Written: from now on a reader may use it. */
	pthread_mutex_lock(&r->lock);
	s->bloom_log2 = h.bloom_log2;
	s->bloom_crc = h.bloom_crc;
	memcpy(s->protos, h.protos, sizeof(s->protos));
	s->disk_bytes += sizeof(h) + BLOOM_BYTES(h.bloom_log2);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* Takes the index of a closed segment if it is intact and describes the segment file. */
static bool idx_load(const struct xcap_recorder *r, struct seg *s, uint64_t seg_size)
{
	char path[PATH_MAX];
	struct idx_hdr h;
	uint64_t size;
	uint32_t crc;

	seg_path(r, s, "idx", path);
	if (read_at(path, &h, sizeof(h), 0, &size))
		return false;
	crc = h.hdr_crc;
	h.hdr_crc = 0;
	if (memcmp(h.magic, idx_magic, sizeof(h.magic)) || h.version != IDX_VERSION ||
	    crc32c(&h, sizeof(h)) != crc || h.data_bytes < sizeof(struct seg_hdr) ||
	    h.data_bytes > seg_size || h.bloom_log2 < BLOOM_MIN_LOG2 ||
	    h.bloom_log2 > BLOOM_MAX_LOG2 || size != sizeof(h) + BLOOM_BYTES(h.bloom_log2))
		return false;
	s->data_bytes = h.data_bytes;
	s->count = h.count;
	s->min_ts = h.min_ts;
	s->max_ts = h.max_ts;
	s->bloom_log2 = h.bloom_log2;
	s->bloom_crc = h.bloom_crc;
	memcpy(s->protos, h.protos, sizeof(s->protos));
	s->disk_bytes += size;
	return true;
}

static int idx_load_bloom(const struct xcap_recorder *r, const struct seg *s, uint64_t *bits)
{
	char path[PATH_MAX];
	int err;

	seg_path(r, s, "idx", path);
	err = read_at(path, bits, BLOOM_BYTES(s->bloom_log2), sizeof(struct idx_hdr), NULL);
	if (!err && crc32c(bits, BLOOM_BYTES(s->bloom_log2)) != s->bloom_crc)
		err = -EBADMSG;
	/* -ENOENT: retention deleted the segment since the scan began; it is left out. */
	if (err && err != -ENOENT)
		pr_warn("recorder: index %s unusable: %s\n", path, strerror(-err));
	return err;
}

struct rebuild {
	struct seg *s;
	struct summary *sum;
};

static void rebuild_one(void *arg, const struct xcap_packet *pkt, uint64_t ordinal)
{
	struct rebuild *b = arg;
	struct xcap_frame fr;

	(void)ordinal;
	xcap_frame_parse_levels(pkt->data, pkt->cap_len, pkt->flags, &fr);
	seg_account(b->s, b->sum, pkt, &fr);
}

/*
 * Indexes a segment that was not closed cleanly from its intact records; a
 * torn tail is left out. -ENODATA when it holds no record.
 */
static int seg_rebuild(struct xcap_recorder *r, struct seg *s, const char *path, uint64_t size)
{
	struct rebuild b = { .s = s, .sum = &r->live };
	const uint8_t *base;
	size_t end;

	base = map_file(path, &size);
	if (!base)
		return -errno;
	summary_reset(&r->live);
	s->count = 0;
	s->min_ts = UINT64_MAX;
	s->max_ts = 0;
	end = seg_walk(base, size, rebuild_one, &b);
	munmap((void *)base, size);
	if (end < size)
		pr_warn("recorder: %s: torn or corrupt record at byte %zu; %llu bytes left out\n",
			path, end, (unsigned long long)(size - end));
	s->data_bytes = end;
	if (!s->count)
		return -ENODATA;
	pr_info("recorder: %s: index rebuilt (%llu samples)\n", path, (unsigned long long)s->count);
	idx_write(r, s, &r->live);
	return 0;
}

/* Adds a segment found at open, or ignores the file with a warning when it is not one. */
static int seg_load(struct xcap_recorder *r, int64_t minute, uint32_t n)
{
	struct seg s = { .minute = minute, .n = n };
	char path[PATH_MAX];
	struct seg_hdr h;
	uint64_t size;
	int err;

	seg_path(r, &s, "seg", path);
	err = read_at(path, &h, sizeof(h), 0, &size);
	if (err || memcmp(h.magic, seg_magic, sizeof(h.magic)) || h.version != SEG_VERSION) {
		pr_warn("recorder: %s is not a segment file (%s); ignored\n", path,
			err ? strerror(-err) : "bad header");
		return 0;
	}
	s.disk_bytes = size;
	if (!idx_load(r, &s, size)) {
		err = seg_rebuild(r, &s, path, size);
		if (err == -ENODATA) {
			pr_info("recorder: %s holds no sample; deleted\n", path);
			unlink(path);
			return 0;
		}
		if (err) {
			pr_warn("recorder: %s: %s; ignored\n", path, strerror(-err));
			return 0;
		}
	}
	return seg_push(r, &s, -1);
}

/* True when name is exactly "<minute>-<n>.<ext>" as seg_path writes it. */
static bool parse_name(const char *name, int64_t *minute, uint32_t *n, char ext[4])
{
	char canon[NAME_MAX_LEN];
	long long m;
	unsigned int k;

	if (strlen(name) >= sizeof(canon) || sscanf(name, "%lld-%u.%3s", &m, &k, ext) != 3)
		return false;
	snprintf(canon, sizeof(canon), "%lld-%u.%s", m, k, ext);
	*minute = m;
	*n = k;
	/* A minute no sample time can have is not ours (and seg_start_ns would wrap). */
	return m >= 0 && (unsigned long long)m <= UINT64_MAX / NSEC_PER_SEC && !strcmp(canon, name);
}

static int seg_cmp(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	if (x->minute != y->minute)
		return x->minute < y->minute ? -1 : 1;
	return x->n < y->n ? -1 : x->n > y->n;
}

/* Loads the segments of the folder; removes indexes whose segment is gone. */
static int load_dir(struct xcap_recorder *r)
{
	struct seg probe = {};
	char path[PATH_MAX], ext[4];
	struct dirent *e;
	int err = 0;
	size_t i;
	DIR *d;

	d = opendir(r->dir);
	if (!d)
		return -errno;
	while (!err && (e = readdir(d))) {
		if (!parse_name(e->d_name, &probe.minute, &probe.n, ext))
			continue;
		if (!strcmp(ext, "seg")) {
			err = seg_load(r, probe.minute, probe.n);
		} else if (!strcmp(ext, "idx")) {
			seg_path(r, &probe, "seg", path);
			if (access(path, F_OK) && errno == ENOENT) {
				seg_path(r, &probe, "idx", path);
				unlink(path);
			}
		}
	}
	closedir(d);
	if (r->nsegs)
		qsort(r->segs, r->nsegs, sizeof(r->segs[0]), seg_cmp);
	for (i = 0; i < r->nsegs; i++)
		r->segs[i].no = i;
	r->next_no = r->nsegs;
	return err;
}

/* Writing. */

/* Logs the first of a run of write errors and the recovery, nothing in between. */
static void note_write(struct xcap_recorder *r, int err)
{
	if (err && !r->write_err)
		pr_err("recorder %s: cannot write: %s; dropping samples (counted)\n", r->dir,
		       strerror(-err));
	else if (!err && r->write_err)
		pr_info("recorder %s: writing again\n", r->dir);
	r->write_err = err;
}

/*
 * Writes the buffer after the segment's data_bytes, unlocked: a reader copies
 * the buffer meanwhile and reads the file up to data_bytes only. Moving the
 * records from the buffer to the file is one change under the lock.
 */
static int seg_write_out(struct xcap_recorder *r)
{
	struct seg *s = seg_open(r);
	int err;

	if (!r->buf_len)
		return 0;
	err = write_all(r->fd, r->buf, r->buf_len, s->data_bytes);
	/*
	 * A torn record would hide every later one from readers. The next write
	 * goes to the same offset anyway; the cut is for a crash. No reader maps
	 * past data_bytes, which the cut keeps.
	 */
	if (err && ftruncate(r->fd, s->data_bytes))
		pr_debug("recorder: ftruncate: %s\n", strerror(errno));
	pthread_mutex_lock(&r->lock);
	if (err) {
		s->count -= r->buf_count;
		count(&r->dropped_error, r->buf_count);
	} else {
		s->data_bytes += r->buf_len;
		s->disk_bytes += r->buf_len;
	}
	r->buf_len = 0;
	r->buf_count = 0;
	pthread_mutex_unlock(&r->lock);
	note_write(r, err);
	return err;
}

/* The smallest n not yet used for a segment of this minute. */
static uint32_t seg_next_n(const struct xcap_recorder *r, int64_t minute)
{
	uint32_t n = 0;
	size_t i;

	for (i = 0; i < r->nsegs; i++) {
		if (r->segs[i].minute == minute && r->segs[i].n >= n)
			n = r->segs[i].n + 1;
	}
	return n;
}

static int seg_create(struct xcap_recorder *r, int64_t minute)
{
	struct seg_hdr h = { .version = SEG_VERSION };
	struct seg s = {
		.minute = minute,
		.n = seg_next_n(r, minute),
		.min_ts = UINT64_MAX,
		.data_bytes = sizeof(h),
		.disk_bytes = sizeof(h),
	};
	char path[PATH_MAX];
	int fd, tries, err;

	memcpy(h.magic, seg_magic, sizeof(h.magic));
	/* A foreign file may hold a name: take the next one. */
	for (tries = 0;; tries++) {
		seg_path(r, &s, "seg", path);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST || tries == 100)
			break;
		s.n++;
	}
	if (fd < 0)
		return -errno;
	s.no = r->next_no;
	/* No segment is open: no reader looks at the summary. */
	summary_reset(&r->live);
	err = write_all(fd, &h, sizeof(h), 0);
	if (!err)
		err = seg_push(r, &s, fd);
	if (err) {
		close(fd);
		unlink(path);
		return err;
	}
	/* An index of that name would describe another segment. */
	seg_path(r, &s, "idx", path);
	unlink(path);
	r->next_no++;
	return 0;
}

/* Writes what is buffered and the index; a segment that ends up empty is deleted. */
static void seg_close(struct xcap_recorder *r)
{
	struct seg *s;

	if (r->fd < 0)
		return;
	s = seg_open(r);
	seg_write_out(r);
	close(r->fd);
	/* Closed: readers stop using the summary, which idx_write folds. */
	pthread_mutex_lock(&r->lock);
	r->fd = -1;
	pthread_mutex_unlock(&r->lock);
	if (s->count)
		idx_write(r, s, &r->live);
	else
		seg_delete(r, r->nsegs - 1);
}

/* Makes the open segment one that takes a sample of time ts. */
/*
 * Unsigned: a sample's time is any u64, so its minute times 10^9 can pass
 * INT64_MAX (a clock set past 2262 must not be undefined behaviour).
 */
static uint64_t seg_start_ns(const struct seg *s)
{
	return (uint64_t)s->minute * NSEC_PER_SEC;
}

static int seg_for(struct xcap_recorder *r, uint64_t ts)
{
	uint64_t start;
	int err;

	if (r->fd >= 0) {
		start = seg_start_ns(seg_open(r));
		/*
		 * Samples from other CPUs' rings come a little late: up to a
		 * minute before its start, they stay in the open segment, whose
		 * time range widens. A clock stepped further back starts a new one.
		 */
		if (ts < start + SEG_SPAN_NS && ts + SEG_SPAN_NS >= start)
			return 0;
		seg_close(r);
	}
	/* Without this, a full disk would cost a failed open() per sample. */
	if (r->wait_flush)
		return r->write_err ?: -EIO;
	err = seg_create(r, ts / SEG_SPAN_NS * 60);
	if (err) {
		r->wait_flush = true;
		note_write(r, err);
	}
	return err;
}

/* Admits at most max_rate samples per second of sample time. */
static bool rate_admit(struct xcap_recorder *r, uint64_t ts)
{
	uint64_t sec = ts / NSEC_PER_SEC;

	/* A new second, or a clock stepped back: a new count. A late sample counts in the next. */
	if (sec > r->rate_sec || sec + 1 < r->rate_sec) {
		r->rate_sec = sec;
		r->rate_count = 0;
	}
	if (r->rate_count >= r->max_rate)
		return false;
	r->rate_count++;
	return true;
}

static void buf_append(struct xcap_recorder *r, const struct xcap_packet *p)
{
	const size_t skip = offsetof(struct rec_hdr, cap_len);
	struct rec_hdr h = {
		.cap_len = p->cap_len,
		.flags = p->flags,
		.ts_ns = p->ts_ns,
		.ifindex = p->ifindex,
		.orig_len = p->orig_len,
	};
	uint8_t *dst = r->buf + r->buf_len;

	memcpy(dst, &h, sizeof(h));
	memcpy(dst + sizeof(h), p->data, p->cap_len);
	h.crc = crc32c(dst + skip, sizeof(h) - skip + p->cap_len);
	memcpy(dst, &h.crc, sizeof(h.crc));
	r->buf_len += sizeof(h) + p->cap_len;
	r->buf_count++;
}

int xcap_recorder_add(void *recorder, const struct xcap_packet *pkt)
{
	struct xcap_recorder *r = recorder;
	struct xcap_packet p = *pkt;
	struct xcap_frame fr;
	int err;

	if (!rate_admit(r, p.ts_ns)) {
		count(&r->dropped_rate, 1);
		return -ENOBUFS;
	}
	err = seg_for(r, p.ts_ns);
	if (err) {
		count(&r->dropped_error, 1);
		return err;
	}
	if (p.cap_len > XCAP_SAMPLE_BYTES)
		p.cap_len = XCAP_SAMPLE_BYTES;
	if (p.orig_len < p.cap_len)
		p.orig_len = p.cap_len;
	/* A failed write drops what was buffered (counted); this sample starts anew. */
	if (r->buf_len + REC_MAX > WRITE_BUF_SIZE)
		seg_write_out(r);
	/* Parsed outside the lock: under it, only copies and a few bits set. */
	xcap_frame_parse_levels(p.data, p.cap_len, p.flags, &fr);
	pthread_mutex_lock(&r->lock);
	buf_append(r, &p);
	seg_account(seg_open(r), &r->live, &p, &fr);
	pthread_mutex_unlock(&r->lock);
	count(&r->written, 1);
	return 0;
}

int xcap_recorder_flush(struct xcap_recorder *r)
{
	r->wait_flush = false;
	return r->fd >= 0 ? seg_write_out(r) : 0;
}

static uint64_t disk_bytes(const struct xcap_recorder *r)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < r->nsegs; i++)
		sum += r->segs[i].disk_bytes;
	return sum;
}

void xcap_recorder_expire(struct xcap_recorder *r, uint64_t now_ns)
{
	uint64_t cutoff = now_ns > (uint64_t)r->max_age_ns ? now_ns - r->max_age_ns : 0;
	uint64_t bytes;
	size_t i;

	/* Late samples of its minute can no longer come: write its index now. */
	if (r->fd >= 0 &&
	    now_ns >= seg_start_ns(seg_open(r)) + 2 * SEG_SPAN_NS)
		seg_close(r);
	for (i = 0; i < r->nsegs;) {
		if (!seg_is_open(r, i) && r->segs[i].max_ts < cutoff) {
			seg_delete(r, i);
			count(&r->expired, 1);
		} else {
			i++;
		}
	}
	/* What is buffered is on its way to the disk. */
	bytes = disk_bytes(r) + r->buf_len;
	while (bytes > r->max_bytes && r->nsegs && !seg_is_open(r, 0)) {
		bytes -= r->segs[0].disk_bytes;
		seg_delete(r, 0);
		count(&r->expired, 1);
	}
}

void xcap_recorder_tick(void *recorder)
{
	struct xcap_recorder *r = recorder;
	int64_t now = xcap_clock_ns(CLOCK_MONOTONIC);

	if (r->ticked && now - r->ticked < NSEC_PER_SEC)
		return;
	r->ticked = now;
	xcap_recorder_flush(r);
	xcap_recorder_expire(r, xcap_clock_ns(CLOCK_REALTIME));
}

void xcap_recorder_stats(const struct xcap_recorder *r, struct xcap_recorder_stats *st)
{
	pthread_mutex_t *lock = (pthread_mutex_t *)&r->lock;
	const struct seg *s;
	size_t i;

	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(lock);
	for (i = 0; i < r->nsegs; i++) {
		s = &r->segs[i];
		st->bytes += s->disk_bytes;
		st->samples += s->count;
		if (!s->count)
			continue;
		if (!st->oldest_ns || s->min_ts < st->oldest_ns)
			st->oldest_ns = s->min_ts;
		if (s->max_ts > st->newest_ns)
			st->newest_ns = s->max_ts;
	}
	st->segments = r->nsegs;
	pthread_mutex_unlock(lock);
	st->written = __atomic_load_n(&r->written, __ATOMIC_RELAXED);
	st->dropped_rate = __atomic_load_n(&r->dropped_rate, __ATOMIC_RELAXED);
	st->dropped_error = __atomic_load_n(&r->dropped_error, __ATOMIC_RELAXED);
	st->expired = __atomic_load_n(&r->expired, __ATOMIC_RELAXED);
}

static void recorder_free(struct xcap_recorder *r)
{
	pthread_mutex_destroy(&r->lock);
	free(r->live.bits);
	free(r->buf);
	free(r->segs);
	free(r->dir);
	free(r);
}

struct xcap_recorder *xcap_recorder_open(const struct xcap_recorder_opts *opts)
{
	struct xcap_recorder *r;
	int err;

	if (!opts->dir || !*opts->dir || strlen(opts->dir) > PATH_MAX - NAME_MAX_LEN - 2) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	r->max_age_ns = opts->max_age_ns > 0 ? opts->max_age_ns : XCAP_RECORDER_MAX_AGE_NS;
	r->max_bytes = opts->max_bytes ?: XCAP_RECORDER_MAX_BYTES;
	r->max_rate = opts->max_rate ?: XCAP_RECORDER_MAX_RATE;
	r->dir = strdup(opts->dir);
	r->buf = malloc(WRITE_BUF_SIZE);
	r->live.bits = malloc(BLOOM_BYTES(BLOOM_MAX_LOG2));
	if (!r->dir || !r->buf || !r->live.bits) {
		err = -ENOMEM;
		goto err;
	}
	if (mkdir(r->dir, 0700) && errno != EEXIST) {
		err = -errno;
		pr_err("recorder %s: cannot create: %s\n", r->dir, strerror(-err));
		goto err;
	}
	err = load_dir(r);
	if (err) {
		pr_err("recorder %s: cannot open: %s\n", r->dir, strerror(-err));
		goto err;
	}
	return r;
err:
	recorder_free(r);
	errno = -err;
	return NULL;
}

void xcap_recorder_close(struct xcap_recorder *r)
{
	if (!r)
		return;
	seg_close(r);
	recorder_free(r);
}

/* Reading. */

/*
 * A segment as the scan found it under the lock: a copy of its entry, and
 * for the open one, what its summary said and the samples not written yet.
 */
struct scan_cand {
	struct seg seg;
	bool open;
	bool open_may_match;
};

struct scan_ctx {
	struct xcap_recorder_scan *s;
	uint64_t seq_base;
};

static void scan_one(void *arg, const struct xcap_packet *pkt, uint64_t ordinal)
{
	struct scan_ctx *c = arg;

	c->s->records++;
	if (pkt->ts_ns >= c->s->from_ns && pkt->ts_ns < c->s->to_ns)
		c->s->fn(c->s->arg, pkt, c->seq_base | ordinal);
}

/* False when the index of the candidate shows that no sample can match f. */
static bool seg_may_match(const struct xcap_recorder *r, const struct scan_cand *c,
			  const struct xcap_filter *f, uint64_t *scratch)
{
	struct summary sum = { .log2 = c->seg.bloom_log2, .bits = scratch };

	if (!f)
		return true;
	if (c->open)
		return c->open_may_match;
	if (!c->seg.bloom_log2 || idx_load_bloom(r, &c->seg, scratch))
		return true;
	memcpy(sum.protos, c->seg.protos, sizeof(sum.protos));
	return summary_may_match(&sum, f);
}

/*
 * Reads a candidate's file up to the data_bytes of the copy, then, for the
 * open segment, the copy of the samples not written yet, which follow them.
 */
static int seg_scan(const struct xcap_recorder *r, const struct scan_cand *cand, const uint8_t *buf,
		    size_t buf_len, struct xcap_recorder_scan *s)
{
	const struct seg *g = &cand->seg;
	struct scan_ctx c = { .s = s, .seq_base = (uint64_t)g->no << 32 };
	size_t end, size = g->data_bytes;
	char path[PATH_MAX];
	const uint8_t *base;
	uint64_t i = 0;
	int err;

	seg_path(r, g, "seg", path);
	base = map_file(path, &size);
	if (!base) {
		err = -errno;
		if (err == -ENOENT)
			return 0; /* deleted by retention since the scan began */
		pr_err("recorder: cannot read %s: %s\n", path, strerror(-err));
		return err;
	}
	end = recs_walk(base, size, sizeof(struct seg_hdr), scan_one, &c, &i);
	munmap((void *)base, size);
	if (end < size) {
		pr_warn("recorder: %s: corrupt record at byte %zu; the rest is not read\n", path,
			end);
		s->corrupt++;
	} else if (cand->open) {
		recs_walk(buf, buf_len, 0, scan_one, &c, &i);
	}
	s->read++;
	return 0;
}

static int cand_newest_first(const void *a, const void *b)
{
	const struct scan_cand *x = a, *y = b;

	if (x->seg.max_ts != y->seg.max_ts)
		return x->seg.max_ts > y->seg.max_ts ? -1 : 1;
	return x->seg.no > y->seg.no ? -1 : x->seg.no < y->seg.no;
}

/*
 * Copies, under the lock, the entries of the segments that overlap the
 * window, and for the open segment its summary's verdict and the buffered
 * samples (at most WRITE_BUF_SIZE bytes, into buf). Returns the count.
 */
static size_t scan_collect(struct xcap_recorder *r, const struct xcap_recorder_scan *s,
			   struct scan_cand **cand, uint8_t *buf, size_t *buf_len)
{
	struct scan_cand *c;
	const struct seg *g;
	size_t i, n = 0;

	*buf_len = 0;
	pthread_mutex_lock(&r->lock);
	c = malloc((r->nsegs ?: 1) * sizeof(*c));
	for (i = 0; c && i < r->nsegs; i++) {
		g = &r->segs[i];
		if (!g->count || g->min_ts >= s->to_ns || g->max_ts < s->from_ns)
			continue;
		c[n] = (struct scan_cand){ .seg = *g, .open = seg_is_open(r, i) };
		if (c[n].open) {
			c[n].open_may_match = !s->filter || summary_may_match(&r->live, s->filter);
			memcpy(buf, r->buf, r->buf_len);
			*buf_len = r->buf_len;
		}
		n++;
	}
	pthread_mutex_unlock(&r->lock);
	*cand = c;
	return n;
}

int xcap_recorder_scan(struct xcap_recorder *r, struct xcap_recorder_scan *s)
{
	struct scan_cand *cand = NULL;
	uint64_t *bloom = NULL;
	uint8_t *buf;
	size_t i, n, buf_len;
	int err = 0;

	s->segments = s->read = s->skipped = s->unneeded = 0;
	s->records = s->corrupt = 0;
	buf = malloc(WRITE_BUF_SIZE);
	if (s->filter)
		bloom = malloc(BLOOM_BYTES(BLOOM_MAX_LOG2));
	n = buf ? scan_collect(r, s, &cand, buf, &buf_len) : 0;
	if (!cand || (s->filter && !bloom)) {
		err = -ENOMEM;
		goto out;
	}
	/* From here on, no lock: the files are read while the writer goes on. */
	qsort(cand, n, sizeof(*cand), cand_newest_first);
	s->segments = n;
	for (i = 0; i < n && !err; i++) {
		if (s->want && !s->want(s->arg, cand[i].seg.max_ts))
			s->unneeded++;
		else if (!seg_may_match(r, &cand[i], s->filter, bloom))
			s->skipped++;
		else
			err = seg_scan(r, &cand[i], buf, buf_len, s);
	}
out:
	free(bloom);
	free(buf);
	free(cand);
	return err;
}
