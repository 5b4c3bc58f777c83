#!/usr/bin/env bash
# `make install DESTDIR=... PREFIX=/usr` produces the expected tree (files,
# modes, the unit's paths rewritten to the prefix, the man pages and the bash
# completion), the installed programs run,
# a second run changes nothing, and tools/install alone honours the default
# PREFIX and refuses a relative one. Needs no privileges.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$ROOT/$BUILD ;;
esac
FAILED=0
T=$(mktemp -d "${TMPDIR:-/tmp}/xcap-install.$$.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - install: $1"; }
not_ok() {
	echo "not ok - install: $1: $2"
	FAILED=$((FAILED + 1))
}
diag() { sed 's/^/# /' "$@"; }
# check NAME WHY CMD...: one result line for one expectation.
check() {
	local name=$1 why=$2

	shift 2
	if "$@"; then
		ok "$name"
	else
		not_ok "$name" "$why"
	fi
}

# do_install DEST OUT: `make install` into DEST with PREFIX=/usr; where there is no
# make (a test VM), what it runs after building: tools/install.
do_install() {
	if command -v make >/dev/null; then
		timeout 600 make -C "$ROOT" --no-print-directory install DESTDIR="$1" PREFIX=/usr \
			BUILD="$BUILD" >"$2" 2>&1
	else
		(cd "$ROOT" && PREFIX=/usr DESTDIR="$1" BUILD="$BUILD" tools/install) >"$2" 2>&1
	fi
}

D=$T/dest
if ! do_install "$D" "$T/make1.out"; then
	not_ok "make install DESTDIR=... PREFIX=/usr succeeds" "make failed"
	tail -n 20 "$T/make1.out" | diag
	exit 1
fi
ok "make install DESTDIR=... PREFIX=/usr succeeds"

# tree: "MODE PATH" of every file and link under DIR, sorted.
tree() {
	(cd "$1" && find . \( -type f -o -type l \) -printf '%m %p\n' | sort)
}

cat >"$T/want.tree" <<'EOF'
644 ./usr/lib/systemd/system/xcapd.service
644 ./usr/lib/xcap/xcap.bpf.o
644 ./usr/share/doc/xcap/README.md
644 ./usr/share/doc/xcap/api.md
644 ./usr/share/xcap/xcapd.example.json
644 ./usr/share/man/man8/xcapd.8
644 ./usr/share/man/man1/xcapctl.1
644 ./usr/share/bash-completion/completions/xcapd
644 ./usr/share/bash-completion/completions/xcapctl
755 ./usr/bin/xcapctl
755 ./usr/bin/xcapd
EOF
sort -o "$T/want.tree" "$T/want.tree"
tree "$D" >"$T/got.tree"
if diff -u "$T/want.tree" "$T/got.tree" >"$T/tree.diff"; then
	ok "the tree has exactly the $(wc -l <"$T/want.tree") files, with their modes"
else
	not_ok "the tree has exactly the $(wc -l <"$T/want.tree") files, with their modes" "it differs"
	diag "$T/tree.diff"
fi

same() { cmp -s "$1" "$2"; }
copies() {
	same "$BUILD/xcapd" "$D/usr/bin/xcapd" && same "$BUILD/xcapctl" "$D/usr/bin/xcapctl" &&
		same "$BUILD/xcap.bpf.o" "$D/usr/lib/xcap/xcap.bpf.o" &&
		same "$ROOT/userspace/xcapd.example.json" "$D/usr/share/xcap/xcapd.example.json" &&
		same "$ROOT/README.md" "$D/usr/share/doc/xcap/README.md" &&
		same "$ROOT/docs/api.md" "$D/usr/share/doc/xcap/api.md" &&
		same "$BUILD/man/xcapd.8" "$D/usr/share/man/man8/xcapd.8" &&
		same "$BUILD/man/xcapctl.1" "$D/usr/share/man/man1/xcapctl.1" &&
		same "$ROOT/contrib/completion/xcapd" "$D/usr/share/bash-completion/completions/xcapd" &&
		same "$ROOT/contrib/completion/xcapctl" "$D/usr/share/bash-completion/completions/xcapctl"
}
check "the files are copies of the build and the sources" "one differs" copies

U=$D/usr/lib/systemd/system/xcapd.service
check "the unit starts /usr/bin/xcapd with the config and /var/lib/xcap" \
	"ExecStart is '$(grep '^ExecStart=' "$U")'" \
	grep -qx 'ExecStart=/usr/bin/xcapd serve --config /etc/xcap/xcapd.json --state-dir /var/lib/xcap' "$U"
check "the unit names no /usr/local path in its directives" \
	"$(grep -v '^#' "$U" | grep /usr/local | head -n 1)" eval "! grep -v '^#' '$U' | grep -q /usr/local"
check "the unit keeps its state in StateDirectory=xcap and bounds its capabilities" \
	"a directive is missing" eval "grep -qx 'StateDirectory=xcap' '$U' &&
	grep -qx 'CapabilityBoundingSet=CAP_BPF CAP_PERFMON CAP_NET_ADMIN CAP_SYS_ADMIN' '$U' &&
	grep -qx 'NoNewPrivileges=yes' '$U' && grep -qx 'ProtectSystem=strict' '$U' &&
	grep -qx 'Restart=on-failure' '$U'"

if command -v systemd-analyze >/dev/null; then
	# verify wants ExecStart's program to exist: point it at the installed one.
	sed "s|^ExecStart=/usr/bin/xcapd|ExecStart=$D/usr/bin/xcapd|" "$U" >"$T/xcapd.service"
	if systemd-analyze verify "$T/xcapd.service" >"$T/verify.out" 2>&1 &&
		[ ! -s "$T/verify.out" ]; then
		ok "systemd-analyze verify accepts the unit without a warning"
	else
		not_ok "systemd-analyze verify accepts the unit without a warning" "it complains"
		diag "$T/verify.out"
	fi
else
	not_ok "systemd-analyze verify accepts the unit without a warning" \
		"no systemd-analyze (tools/install-deps installs systemd)"
fi

programs_run() {
	"$D/usr/bin/xcapctl" --help >/dev/null && "$D/usr/bin/xcapd" --help >/dev/null
}
check "the installed xcapctl and xcapd run (--help)" "one exits non-zero" programs_run

check "the example config is JSON" "python3 cannot read it" \
	python3 -c 'import json, sys; json.load(open(sys.argv[1]))' \
	"$D/usr/share/xcap/xcapd.example.json"

# A second run: every file "unchanged", the tree as it was.
tree "$D" >"$T/before.tree"
(cd "$D" && find . -type f -exec md5sum {} + | sort) >"$T/before.sum"
if do_install "$D" "$T/make2.out"; then
	(cd "$D" && find . -type f -exec md5sum {} + | sort) >"$T/after.sum"
	if [ "$(grep -c '^  unchanged  ' "$T/make2.out")" = "$(wc -l <"$T/want.tree")" ] &&
		! grep -q '^  installed  ' "$T/make2.out" && same "$T/before.sum" "$T/after.sum" &&
		[ "$(tree "$D")" = "$(cat "$T/before.tree")" ]; then
		ok "a second make install changes nothing and says so"
	else
		not_ok "a second make install changes nothing and says so" "it did something"
		diag "$T/make2.out"
	fi
else
	not_ok "a second make install changes nothing and says so" "make failed"
	tail -n 20 "$T/make2.out" | diag
fi

# tools/install alone, as `make install` calls it, with the default PREFIX.
D2=$T/dest2
if (cd "$ROOT" && env -u PREFIX DESTDIR="$D2" BUILD="$BUILD" tools/install) >"$T/inst.out" 2>&1 &&
	grep -qx 'ExecStart=/usr/local/bin/xcapd serve --config /etc/xcap/xcapd.json --state-dir /var/lib/xcap' \
		"$D2/usr/local/lib/systemd/system/xcapd.service" &&
	[ -x "$D2/usr/local/bin/xcapctl" ]; then
	ok "tools/install defaults PREFIX to /usr/local"
else
	not_ok "tools/install defaults PREFIX to /usr/local" "the tree or the unit is not as expected"
	diag "$T/inst.out"
fi

(cd "$ROOT" && PREFIX=usr DESTDIR="$T/dest3" BUILD="$BUILD" tools/install) >"$T/rel.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q 'PREFIX must be an absolute path' "$T/rel.out" && [ ! -e "$T/dest3" ]; then
	ok "a relative PREFIX is refused (exit 2) and nothing is installed"
else
	not_ok "a relative PREFIX is refused (exit 2) and nothing is installed" "exit status $rc"
	diag "$T/rel.out"
fi

[ "$FAILED" -eq 0 ]
