// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Kernel feature probes: one place for every "does this kernel have X". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "common/log.h"
#include "common/util.h"
#include "agent/probe.h"

static bool probe_frags(void)
{
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = XDP_PASS }, /* r0 = XDP_PASS */
		{ .code = 0x95 }, /* exit */
	};
	LIBBPF_OPTS(bpf_prog_load_opts, opts, .prog_flags = BPF_F_XDP_HAS_FRAGS);
	int fd;

	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, NULL, "GPL", insns, 2, &opts);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* True when the environment variable `name` asks to leave a feature out (set, not "0"). */
static bool env_refuses(const char *name)
{
	const char *no = getenv(name);

	return no && *no && strcmp(no, "0");
}

/*
 * A tcx link to ifindex 0: a kernel with tcx looks the device up and finds
 * none (-ENODEV); one without does not know the attach type (-EINVAL).
 * XCAP_PROBE_NO_TCX=1 takes the clsact path of older kernels anyway (tests).
 */
static bool probe_tcx(void)
{
	struct bpf_insn insns[] = {
		{ .code = 0xb7, .dst_reg = 0, .imm = -1 }, /* r0 = TC_ACT_UNSPEC */
		{ .code = 0x95 }, /* exit */
	};
	int fd, link;

	if (env_refuses("XCAP_PROBE_NO_TCX"))
		return false;
	fd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, NULL, "GPL", insns, 2, NULL);
	if (fd < 0)
		return false;
	link = bpf_link_create(fd, 0, XCAP_BPF_TCX_EGRESS, NULL);
	if (link >= 0)
		close(link); /* cannot happen: there is no device 0 */
	close(fd);
	return link == -ENODEV;
}

/* The program needs ring buffers (5.8), bpf_loop (5.17) and bpf_xdp_load_bytes (5.18). */
int xcap_probe_features(struct xcap_features *f)
{
	static const struct {
		enum bpf_func_id id;
		const char *name;
	} helpers[] = {
		{ BPF_FUNC_loop, "bpf_loop (Linux 5.17)" },
		{ BPF_FUNC_xdp_load_bytes, "bpf_xdp_load_bytes (Linux 5.18)" },
		{ BPF_FUNC_xdp_get_buff_len, "bpf_xdp_get_buff_len (Linux 5.18)" },
	};
	size_t i;

	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) != 1) {
		pr_err("the kernel has no BPF ring buffer (Linux 5.8)\n");
		return -EOPNOTSUPP;
	}
	for (i = 0; i < ARRAY_SIZE(helpers); i++) {
		if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_XDP, helpers[i].id, NULL) != 1) {
			pr_err("the kernel lacks the BPF helper %s\n", helpers[i].name);
			return -EOPNOTSUPP;
		}
	}
	f->frags = probe_frags();
	f->tcx = probe_tcx();
	/* XCAP_PROBE_NO_XDP=1 takes the path of interfaces XDP cannot attach to (tests). */
	f->xdp = !env_refuses("XCAP_PROBE_NO_XDP");
	pr_debug("features: ring buffer, bpf_loop, bpf_xdp_load_bytes; multi-buffer frames: %s\n",
		 f->frags ? "yes" : "no (frames larger than a page are not seen)");
	pr_debug("sent frames: %s\n",
		 f->tcx ? "tcx links (Linux 6.6)" : "a clsact filter (tcx links need Linux 6.6)");
	return 0;
}
