// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Kernel feature probes: one place for every "does this kernel have X". */
#include <errno.h>
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
	pr_debug("features: ring buffer, bpf_loop, bpf_xdp_load_bytes; multi-buffer frames: %s\n",
		 f->frags ? "yes" : "no (frames larger than a page are not seen)");
	return 0;
}
