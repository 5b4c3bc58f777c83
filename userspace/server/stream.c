// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The live stream (stream.h). The file grows at record boundaries (pcap.c
 * flushes whole records), but a reader may still see a record cut short by
 * the disk, or a file whose end it reads before the writer's next flush: it
 * sends only records it has seen whole, which it tells by walking their
 * headers (pcap.c's xcap_pcap_record) in a buffer of its own.
 *
 * Skipping ahead walks packet records only: a pcapng interface description
 * (or the file's header) is always sent, since the packets after it name it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "agent/pcap.h"
#include "common/log.h"
#include "server/stream.h"

#define STREAM_BUF (256 << 10) /* more than the largest record xcap writes */
#define NOTE_MAX (XCAP_FRAME_MAX + 1024) /* a packet block and its comment */

struct xcap_stream {
	int fd;
	bool (*live)(void *arg, const char *id);
	void *arg;
	char id[64];
	uint64_t lag_max;
	bool sniffed; /* format is known */
	enum xcap_pcap_format format;
	uint64_t joined; /* the file's size when the reader came */
	uint64_t pos; /* the next byte of the file to send */
	uint64_t sendable; /* whole records end here */
	uint64_t missed; /* packets skipped */
	uint64_t comment_due; /* pcapng: skipped since the last comment */
	uint8_t *buf; /* file bytes [buf_off, buf_off + buf_len) */
	uint64_t buf_off;
	size_t buf_len;
	uint8_t *note; /* sent before the file: a packet block with the comment */
	size_t note_len;
	size_t note_sent;
};

struct xcap_stream *xcap_stream_new(const struct xcap_stream_opts *o)
{
	struct xcap_stream *s = calloc(1, sizeof(*s));
	struct stat st;
	int err;

	if (!s) {
		close(o->fd);
		return NULL;
	}
	s->fd = o->fd;
	s->buf = malloc(STREAM_BUF);
	s->note = malloc(NOTE_MAX);
	if (!s->buf || !s->note || fstat(s->fd, &st)) {
		err = s->buf && s->note ? errno : ENOMEM;
		xcap_stream_free(s);
		errno = err;
		return NULL;
	}
	s->live = o->live;
	s->arg = o->arg;
	snprintf(s->id, sizeof(s->id), "%s", o->id);
	s->lag_max = o->lag_max ?: XCAP_STREAM_LAG_MAX;
	s->joined = st.st_size;
	return s;
}

void xcap_stream_free(struct xcap_stream *s)
{
	if (!s)
		return;
	close(s->fd);
	free(s->note);
	free(s->buf);
	free(s);
}

uint64_t xcap_stream_missed(const struct xcap_stream *s)
{
	return s->missed;
}

/* The record at off, whole in the file of `size` bytes: 0, 1 when it is not (yet), or -EIO. */
static int record_at(struct xcap_stream *s, uint64_t off, uint64_t size, uint32_t *len,
		     bool *packet)
{
	uint8_t head[16];
	ssize_t n = pread(s->fd, head, sizeof(head), off);
	int err;

	if (n < 0)
		return -errno;
	err = xcap_pcap_record(s->format, off, head, n, len, packet);
	if (err == -EAGAIN || (!err && off + *len > size))
		return 1;
	return err ? -EIO : 0;
}

/*
 * The reader is more than lag_max behind what was written since it came:
 * skips whole packet records until the newest lag_max / 2 bytes are left.
 * Returns 1 when a record that is not a packet stopped it, which is then
 * sent alone before the next look; else 0 or -errno.
 */
static int skip_ahead(struct xcap_stream *s, uint64_t size)
{
	uint64_t skipped = 0;
	uint32_t len;
	bool packet;
	int err = 0;

	while (size - s->pos > s->lag_max / 2) {
		err = record_at(s, s->pos, size, &len, &packet);
		if (err < 0)
			return err;
		if (err || !packet) {
			err = !err;
			break;
		}
		s->pos += len;
		skipped++;
	}
	s->sendable = s->pos;
	s->missed += skipped;
	s->comment_due += skipped;
	if (skipped)
		pr_debug("stream of %s: the reader was too slow; %llu packets skipped\n", s->id,
			 (unsigned long long)skipped);
	return err;
}

/*
 * pcapng: the first packet after a skip goes out with a comment that says so.
 * False when the block cannot take one (none that xcap wrote): it goes as it is.
 */
static bool comment_packet(struct xcap_stream *s, uint32_t len)
{
	char comment[160];

	snprintf(comment, sizeof(comment),
		 "xcap: %llu packets before this one were skipped: this stream's reader was too "
		 "slow (the capture file has them)",
		 (unsigned long long)s->comment_due);
	s->note_len = xcap_pcapng_comment_packet(s->buf, len, comment, s->note, NOTE_MAX);
	s->note_sent = 0;
	s->comment_due = 0;
	if (!s->note_len)
		return false;
	s->pos += len;
	s->sendable = s->pos;
	return true;
}

/* The file's format, from its magic: 0 (*known set), or -EIO when it is not one xcap writes. */
static int sniff(struct xcap_stream *s, bool *known)
{
	uint8_t magic[4];
	ssize_t n;

	*known = s->sniffed;
	if (s->sniffed)
		return 0;
	n = pread(s->fd, magic, sizeof(magic), 0);
	if (n < 0)
		return -errno;
	if (n < (ssize_t)sizeof(magic))
		return 0; /* not written yet */
	if (xcap_pcap_sniff(magic, n, &s->format))
		return -EIO;
	*known = s->sniffed = true;
	return 0;
}

/* Reads what follows pos and finds where the whole records in it end: one when `one`. */
static int extend(struct xcap_stream *s, uint64_t size, bool one)
{
	uint32_t len;
	bool packet;
	size_t off = 0;
	ssize_t n;
	int err;

	if (s->pos >= size)
		return 0;
	n = pread(s->fd, s->buf, STREAM_BUF, s->pos);
	if (n < 0)
		return -errno;
	s->buf_off = s->pos;
	s->buf_len = n;
	while (off < s->buf_len) {
		err = xcap_pcap_record(s->format, s->pos + off, s->buf + off, s->buf_len - off,
				       &len, &packet);
		if (err == -EAGAIN || (!err && off + len > s->buf_len))
			break;
		if (err)
			return -EIO;
		if (s->comment_due && packet && s->format == XCAP_PCAPNG && !off &&
		    comment_packet(s, len))
			return 0;
		off += len;
		/* After a skip, one record at a time until the comment has its packet. */
		if (one || (s->comment_due && s->format == XCAP_PCAPNG))
			break;
	}
	/* A record longer than the buffer is none that xcap wrote. */
	if (!off && s->buf_len == STREAM_BUF)
		return -EIO;
	s->sendable = s->pos + off;
	return 0;
}

ssize_t xcap_stream_read(struct xcap_stream *s, void *buf, size_t max)
{
	bool live, known;
	uint64_t size, since;
	struct stat st;
	size_t n;
	int err;

	if (s->note_sent == s->note_len && s->pos == s->sendable) {
		/* Asked before the size: once it says no, the file is complete. */
		live = s->live(s->arg, s->id);
		if (fstat(s->fd, &st))
			return -errno;
		size = st.st_size;
		since = s->pos > s->joined ? s->pos : s->joined;
		err = sniff(s, &known);
		if (!err && known && size > since && size - since > s->lag_max)
			err = skip_ahead(s, size);
		if (err >= 0 && known)
			err = extend(s, size, err);
		if (err)
			return err;
		if (s->note_sent == s->note_len && s->pos == s->sendable)
			return live ? 0 : -ENODATA;
	}
	if (s->note_sent < s->note_len) {
		n = s->note_len - s->note_sent < max ? s->note_len - s->note_sent : max;
		memcpy(buf, s->note + s->note_sent, n);
		s->note_sent += n;
		if (s->note_sent == s->note_len)
			s->note_len = s->note_sent = 0;
		return n;
	}
	n = s->sendable - s->pos < max ? s->sendable - s->pos : max;
	memcpy(buf, s->buf + (s->pos - s->buf_off), n);
	s->pos += n;
	return n;
}
