# xcap: one build, every product in $(BUILD). `make help` lists the targets.
# A sanitized build has its own folder: make does not rebuild objects when only flags change.
ifneq ($(SANITIZE),)
BUILD ?= build-san
endif
BUILD ?= build
CC ?= gcc
CLANG ?= clang
BPFTOOL ?= bpftool
CFLAGS ?= -O2 -g
V ?= 0

# The one version, from the package's changelog: xcapd --version, xcapctl --version, the .deb.
VERSION := $(shell sed -n '1s/^[^(]*(\([^)]*\)).*/\1/p' debian/changelog)
ARCH := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX := vmlinux/$(ARCH)/vmlinux.h

# SANITIZE=address,undefined builds userspace with those sanitizers.
ifneq ($(SANITIZE),)
SAN_FLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer
endif

# snprintf truncation is bounded and checked where it matters; the warning is noise.
XCAP_CFLAGS := $(CFLAGS) $(SAN_FLAGS) -Wall -Wextra -Werror -Wno-format-truncation -std=gnu11 -DXCAP_VERSION='"$(VERSION)"' -I$(BUILD) -Iinclude -Iuserspace
XCAP_LDFLAGS := $(LDFLAGS) $(SAN_FLAGS)
LDLIBS := -lxdp -lbpf -lelf -lz -lmicrohttpd -ljson-c -lsqlite3 -lpq -lcurl -lcrypto -lpthread
BPF_CFLAGS := -target bpf -g -O2 -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -I$(dir $(VMLINUX)) -Iinclude -Ibpf \
	-Wall -Werror

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# userspace/{common,agent,server,cli}/ hold the modules; every module but the programs' mains goes
# into one library that tests link too. Objects mirror the source tree under $(BUILD)/obj/.
MAINS := userspace/xcapd.c userspace/cli/xcapctl.c
SRCS := $(wildcard userspace/*.c userspace/*/*.c)
HDRS := $(wildcard userspace/*/*.h) include/xcap_abi.h
obj = $(patsubst userspace/%.c,$(BUILD)/obj/%.o,$(1))
LIB_OBJS := $(call obj,$(filter-out $(MAINS),$(SRCS)))
BINS := $(BUILD)/xcapd $(BUILD)/xcapctl
TEST_SRCS := $(wildcard tests/unit/*.c tests/unit/*/*.c tests/bpf/*.c)
TEST_BINS := $(addprefix $(BUILD)/tests/,$(basename $(notdir $(TEST_SRCS))))
BENCH_BINS := $(BUILD)/bench_xdp $(BUILD)/bench_recorder

.DELETE_ON_ERROR:
.PHONY: all deps test mutate bench bench-e2e fuzz sanitize demo demo-fleet install deb vmtest vmlinux format clean help

all: $(BINS)

deps:
	$(Q)tools/install-deps

$(BUILD) $(BUILD)/tests:
	$(Q)mkdir -p $@

# One object, one skeleton (xcap_bpf): bpf/xcap.bpf.c compiles both entry points (xdp.bpf.c,
# tc.bpf.c) as one unit, so that they share the maps.
$(BUILD)/xcap.bpf.o: bpf/xcap.bpf.c bpf/*.bpf.c bpf/*.bpf.h include/xcap_abi.h $(VMLINUX) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/xcap.skel.h: $(BUILD)/xcap.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name xcap_bpf > $@

$(BUILD)/obj/agent/engine.o: $(BUILD)/xcap.skel.h

$(BUILD)/obj/%.o: userspace/%.c $(HDRS) | $(BUILD)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(XCAP_CFLAGS) -c $< -o $@

$(BUILD)/libxcap.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BUILD)/xcapd: $(call obj,userspace/xcapd.c) $(BUILD)/libxcap.a
$(BUILD)/xcapctl: $(call obj,userspace/cli/xcapctl.c) $(BUILD)/libxcap.a
$(BINS):
	$(call msg,LINK,$@)
	$(Q)$(CC) $(XCAP_LDFLAGS) $^ $(LDLIBS) -o $@

# A test binary is named after its source, wherever it sits under tests/unit/ or tests/bpf/.
vpath %.c $(sort $(dir $(TEST_SRCS)))
$(BUILD)/tests/%: %.c tests/*.h $(BUILD)/libxcap.a $(BUILD)/xcap.bpf.o | $(BUILD)/tests
	$(call msg,TEST-CC,$@)
	$(Q)$(CC) $(XCAP_CFLAGS) -Itests -DXCAP_BPF_OBJ='"$(abspath $(BUILD)/xcap.bpf.o)"' \
		$(filter %.c,$^) $(BUILD)/libxcap.a $(LDLIBS) -lpcap -o $@

$(BUILD)/bench_%: tools/bench/bench_%.c $(BUILD)/libxcap.a | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(XCAP_CFLAGS) -Itests $< $(BUILD)/libxcap.a $(LDLIBS) -o $@

# The README's test command: installs what is missing, builds, runs every tier.
test: deps
	$(Q)$(MAKE) --no-print-directory all $(TEST_BINS)
	$(Q)BUILD=$(BUILD) tests/run

# Plants each mutant of tests/mutants (a plausible bug), runs the tests named for it, reports the
# kill rate; not part of `make test` (minutes). MUTANTS="name ..." selects some.
mutate: deps
	$(Q)tools/mutate $(MUTANTS)

bench: deps
	$(Q)$(MAKE) --no-print-directory all $(BENCH_BINS)
	$(Q)$(BUILD)/bench_xdp
	$(Q)BUILD=$(BUILD) $(BUILD)/bench_recorder

# End-to-end: xcap against tcpdump, netsniff-ng and a perf-buffer XDP capture; writes BENCHMARKS.md.
bench-e2e: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tools/bench/e2e

# libFuzzer harnesses with ASan+UBSan, FUZZ_SECONDS each (tools/fuzz --smoke: a short run).
FUZZ_SECONDS ?= 60
fuzz: deps
	$(Q)BUILD=$(BUILD) tools/fuzz $(FUZZ_SECONDS)

# The unit and integ tiers under ASan+UBSan (build-asan/), valgrind memcheck on the unit tier.
sanitize: deps
	$(Q)tools/sanitize-check

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tools/demo

# The fleet: a PostgreSQL cluster, four agents and two API processes on a throwaway network.
demo-fleet: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)BUILD=$(BUILD) tools/demo-fleet

PREFIX ?= /usr/local
install: all
	$(Q)PREFIX=$(PREFIX) DESTDIR=$(DESTDIR) BUILD=$(BUILD) tools/install

# Runs the bpf and integ tiers inside QEMU on other kernels: make vmtest KERNELS="6.1 6.12".
vmtest: all $(TEST_BINS)
	$(Q)tools/vmtest-deps
	$(Q)BUILD=$(BUILD) tools/vmtest $(KERNELS)

# Regenerates the checked-in vmlinux.h from the running kernel's BTF.
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX)

format:
	clang-format -i bpf/*.c bpf/*.h include/*.h userspace/*.c userspace/*/*.[ch] tests/*/*.c tests/unit/*/*.c tests/*.h

clean:
	rm -rf $(BUILD)

help:
	@echo 'make            build xcapd and the XDP program into $(BUILD)/'
	@echo 'make test       install missing packages, build, run the unit, bpf and integ tiers'
	@echo 'make mutate     plant the mutants of tests/mutants, report which the tests kill'
	@echo 'make bench      XDP program (ratios to a bare program) and sampled-history benchmarks'
	@echo 'make bench-e2e  capture tools compared end to end on veth traffic (BENCHMARKS.md)'
	@echo 'make fuzz       libFuzzer harnesses, FUZZ_SECONDS each (default 60)'
	@echo 'make sanitize   unit and integ tiers under ASan+UBSan, valgrind on the unit tier'
	@echo 'make demo       the service on a throwaway network: buckets, full and simple captures'
	@echo 'make demo-fleet four agents and two API processes on PostgreSQL, on a throwaway network'
	@echo 'make install    binaries, BPF object, config example, systemd unit (PREFIX, DESTDIR)'
	@echo 'make deb        the Debian package into $(BUILD)/deb/ (dpkg-buildpackage -b, lintian)'
	@echo 'make vmtest     bpf and integ tiers in QEMU on other kernels (KERNELS="6.1 6.12")'
	@echo 'make vmlinux    regenerate $(VMLINUX) from this kernel'
	@echo 'make format     clang-format the sources'
	@echo 'options: V=1 (full commands), SANITIZE=address,undefined, BUILD=dir'

# ---- packaging (issue 19): man pages, bash completion, the Debian package ----------------
# One scdoc source per man page in docs/man/ (NAME.SECTION.scd), rendered into $(BUILD)/man/
# by `make`; tools/install installs them and contrib/completion/. tests/integ/test_man.sh
# checks them against the programs' --help.
SCDOC ?= scdoc
MANS := $(patsubst docs/man/%.scd,$(BUILD)/man/%,$(wildcard docs/man/*.scd))

.PHONY: man
all: $(MANS)
man: $(MANS)

$(BUILD)/man/%: docs/man/%.scd | $(BUILD)
	$(call msg,SCDOC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(SCDOC) <$< >$@

# The missing build dependencies (tools/install-deps), then dpkg-buildpackage -b -us -uc in a
# copy of the tree (it writes next to the source) and lintian: xcap_VERSION_ARCH.deb and the
# rest land in $(BUILD)/deb/ (tools/deb).
deb: deps
	$(Q)BUILD=$(BUILD) tools/deb
# ---- end of packaging ----------------------------------------------------------------------
