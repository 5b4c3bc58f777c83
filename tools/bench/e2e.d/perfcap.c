// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * perfcap: the perf-buffer XDP capture of the end-to-end benchmark, written
 * like xdpdump (which needs fentry, absent on the test machines) and xdpcap:
 * an XDP program in native mode sends every frame to a per-CPU perf buffer,
 * and this loop writes them to a pcap file (nanosecond timestamps).
 *
 *   perfcap -i IFACE -w FILE [--pages N] [--wakeup N] [--skb-mode]
 *   perfcap -i IFACE --pass
 *
 * Per-CPU perf buffers of --pages pages (default 256, xdpdump's), woken every
 * --wakeup samples (default 64, the most xdpdump uses), drained on a 100 ms
 * poll timeout as well. Ends on SIGINT or SIGTERM and prints one line on
 * stderr: "perfcap: N seen, N written to FILE; lost: N perf buffer full,
 * N lost records". Exit status: 0, 1 runtime error, 2 bad arguments.
 * --pass attaches a program that returns XDP_PASS and does nothing else
 * (the benchmark's measure of what having an XDP program at all costs) and
 * writes no file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <linux/if_link.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "perfcap.h"
#include "perfcap.skel.h"

#define PCAP_MAGIC_NS 0xa1b23c4d

struct pcap_hdr {
	uint32_t magic;
	uint16_t major, minor;
	int32_t thiszone;
	uint32_t sigfigs, snaplen, linktype;
};

struct pcap_rec {
	uint32_t sec, nsec, incl_len, orig_len;
};

struct perf_sample {
	struct perf_event_header header;
	uint32_t size;
	uint8_t data[];
};

struct perf_lost {
	struct perf_event_header header;
	uint64_t id;
	uint64_t lost;
};

struct state {
	FILE *out;
	uint64_t mono_to_real;
	uint64_t written, lost_records, bad;
	int write_err;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static enum bpf_perf_event_ret on_event(void *ctx, int cpu, struct perf_event_header *ev)
{
	struct state *s = ctx;
	struct perf_sample *smp = (void *)ev;
	struct perfcap_meta meta;
	struct pcap_rec r;
	uint64_t ts;

	(void)cpu;
	if (ev->type == PERF_RECORD_LOST) {
		s->lost_records += ((struct perf_lost *)ev)->lost;
		return LIBBPF_PERF_EVENT_CONT;
	}
	if (ev->type != PERF_RECORD_SAMPLE)
		return LIBBPF_PERF_EVENT_CONT;
	memcpy(&meta, smp->data, sizeof(meta));
	if (smp->size < sizeof(meta) + meta.cap_len) {
		s->bad++;
		return LIBBPF_PERF_EVENT_CONT;
	}
	ts = meta.ts_ns + s->mono_to_real;
	r = (struct pcap_rec){ ts / 1000000000ULL, ts % 1000000000ULL, meta.cap_len, meta.pkt_len };
	if (fwrite(&r, sizeof(r), 1, s->out) != 1 ||
	    fwrite(smp->data + sizeof(meta), meta.cap_len, 1, s->out) != 1) {
		s->write_err = errno ?: EIO;
		return LIBBPF_PERF_EVENT_ERROR;
	}
	s->written++;
	return LIBBPF_PERF_EVENT_CONT;
}

static const char usage[] =
	"usage: perfcap -i IFACE -w FILE [--pages N] [--wakeup N] [--skb-mode]\n"
	"       perfcap -i IFACE --pass [--skb-mode]\n"
	"Captures every frame IFACE receives through XDP and per-CPU perf buffers into a\n"
	"pcap file, until SIGINT or SIGTERM.\n";

int main(int argc, char **argv)
{
	static const struct option longopts[] = { { "interface", required_argument, NULL, 'i' },
						  { "write", required_argument, NULL, 'w' },
						  { "pages", required_argument, NULL, 'p' },
						  { "wakeup", required_argument, NULL, 'k' },
						  { "skb-mode", no_argument, NULL, 'S' },
						  { "pass", no_argument, NULL, 'P' },
						  { "help", no_argument, NULL, 'h' },
						  {} };
	static char buf[1 << 20];
	struct pcap_hdr h = { PCAP_MAGIC_NS, 2, 4, 0, 0, 65535, 1 };
	struct perf_event_attr attr = {
		.type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_BPF_OUTPUT,
		.sample_type = PERF_SAMPLE_RAW,
		.sample_period = 1,
	};
	const char *ifname = NULL, *path = NULL;
	struct perfcap_counters sum = {}, *pc;
	struct sigaction sa = { .sa_handler = on_signal };
	unsigned int pages = 256, wakeup = 64, flags = XDP_FLAGS_DRV_MODE;
	struct perf_buffer *pb = NULL;
	struct perfcap_bpf *skel;
	struct state s = {};
	bool pass = false;
	int c, ifindex, err, ncpu, i, ret = 1;
	__u32 key = 0;

	while ((c = getopt_long(argc, argv, "i:w:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			ifname = optarg;
			break;
		case 'w':
			path = optarg;
			break;
		case 'p':
			pages = strtoul(optarg, NULL, 10);
			break;
		case 'k':
			wakeup = strtoul(optarg, NULL, 10);
			break;
		case 'S':
			flags = XDP_FLAGS_SKB_MODE;
			break;
		case 'P':
			pass = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (pass)
		path = "/dev/null";
	if (!ifname || !path || !pages || (pages & (pages - 1)) || !wakeup) {
		fputs(usage, stderr);
		return 2;
	}
	ifindex = if_nametoindex(ifname);
	if (!ifindex) {
		fprintf(stderr, "perfcap: %s: %s\n", ifname, strerror(errno));
		return 1;
	}
	attr.wakeup_events = wakeup;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	libbpf_set_print(NULL);

	s.out = fopen(path, "wb");
	if (!s.out) {
		fprintf(stderr, "perfcap: %s: %s\n", path, strerror(errno));
		return 1;
	}
	setvbuf(s.out, buf, _IOFBF, sizeof(buf));
	fwrite(&h, sizeof(h), 1, s.out);
	skel = perfcap_bpf__open_and_load();
	if (!skel) {
		fprintf(stderr, "perfcap: cannot load the program: %s\n", strerror(errno));
		goto out;
	}
	if (pass) {
		err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.perfcap_pass),
				     flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
		if (err) {
			fprintf(stderr, "perfcap: attaching to %s: %s\n", ifname, strerror(-err));
			goto out;
		}
		fprintf(stderr, "perfcap: XDP_PASS program attached to %s\n", ifname);
		while (!stop)
			pause();
		bpf_xdp_detach(ifindex, flags, NULL);
		ret = 0;
		goto out;
	}
	pb = perf_buffer__new_raw(bpf_map__fd(skel->maps.perfcap_events), pages, &attr, on_event,
				  &s, NULL);
	if (!pb) {
		fprintf(stderr, "perfcap: perf buffers: %s\n", strerror(errno));
		goto out;
	}
	s.mono_to_real = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_MONOTONIC);
	err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.perfcap),
			     flags | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
	if (err) {
		fprintf(stderr, "perfcap: attaching to %s: %s\n", ifname, strerror(-err));
		goto out;
	}
	fprintf(stderr, "perfcap: attached to %s (%s mode)\n", ifname,
		flags == XDP_FLAGS_DRV_MODE ? "native" : "generic");
	while (!stop && !s.write_err) {
		err = perf_buffer__poll(pb, 100);
		/* Fewer than --wakeup samples wake nobody: take them on the timeout. */
		if (err == 0)
			err = perf_buffer__consume(pb);
		if (err < 0 && err != -EINTR) {
			fprintf(stderr, "perfcap: reading the perf buffers: %s\n", strerror(-err));
			break;
		}
	}
	bpf_xdp_detach(ifindex, flags, NULL);
	perf_buffer__consume(pb);
	ret = s.write_err ? 1 : 0;
out:
	if (skel && (ncpu = libbpf_num_possible_cpus()) > 0 && (pc = calloc(ncpu, sizeof(*pc)))) {
		if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.perfcap_cnt), &key, pc))
			for (i = 0; i < ncpu; i++) {
				sum.seen += pc[i].seen;
				sum.output += pc[i].output;
				sum.output_failed += pc[i].output_failed;
			}
		free(pc);
	}
	if (fclose(s.out) && !s.write_err)
		s.write_err = errno;
	if (s.write_err) {
		fprintf(stderr, "perfcap: writing %s: %s\n", path, strerror(s.write_err));
		ret = 1;
	}
	fprintf(stderr,
		"perfcap: %llu seen, %llu written to %s; lost: %llu perf buffer full, "
		"%llu lost records, %llu malformed\n",
		(unsigned long long)sum.seen, (unsigned long long)s.written, path,
		(unsigned long long)sum.output_failed, (unsigned long long)s.lost_records,
		(unsigned long long)s.bad);
	perf_buffer__free(pb);
	perfcap_bpf__destroy(skel);
	return ret;
}
