#!/usr/bin/env bash
# The Debian package: tools/deb (what `make deb` runs once the build
# dependencies are there) builds xcap_VERSION_ARCH.deb with dpkg-buildpackage in
# a copy of the tree, and lintian finds no error. Unpacked into a throwaway root
# (dpkg -x): the programs, the XDP program, the config as a conffile (0600),
# the unit, the man pages and the completion are there; the unpacked xcapd
# prints its version and accepts the packaged config; the unit is enabled but
# neither started nor stopped by an upgrade. The maintainer scripts run for real
# in a private mount namespace (/etc an overlay, /var/lib and /run tmpfs, the
# systemd helpers recorded): postinst creates the system user xcap and
# /var/lib/xcap (root, 0700), remove keeps both, purge removes both.
# Needs root (the mount namespace).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
FAILED=0
T=$(mktemp -d "${TMPDIR:-/tmp}/xcap-deb.$$.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - deb: $1"; }
not_ok() {
	echo "not ok - deb: $1: $2"
	FAILED=$((FAILED + 1))
}
diag() { sed 's/^/# /' "$@"; }
WHY=()
expect() {
	local why=$1
	shift
	"$@" || WHY+=("$why")
}
# report NAME [FILE...]: one result line for the expectations since the last one.
report() {
	local name=$1 why
	shift
	if [ ${#WHY[@]} -eq 0 ]; then
		ok "$name"
	else
		why=$(printf '%s; ' "${WHY[@]}")
		not_ok "$name" "${why%; }"
		[ $# -eq 0 ] || diag "$@" 2>/dev/null
	fi
	WHY=()
}

missing=()
for tool in dpkg-buildpackage dpkg-deb dpkg-parsechangelog dh lintian scdoc man unshare \
	systemd-analyze git; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
	not_ok "setup" "missing tools: ${missing[*]} (tools/install-deps installs them)"
	exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
	not_ok "setup" "needs root (the maintainer scripts run in a mount namespace)"
	exit 1
fi

VERSION=$(cd "$ROOT" && dpkg-parsechangelog -S Version)
ARCH=$(dpkg --print-architecture)
OUT=$T/build/deb
DEB=$OUT/xcap_${VERSION}_${ARCH}.deb

# --- the build ---

if (cd "$ROOT" && BUILD="$T/build" tools/deb) >"$T/deb.out" 2>&1; then
	ok "tools/deb (make deb) builds the package and lintian finds no error"
else
	not_ok "tools/deb (make deb) builds the package and lintian finds no error" "it failed"
	tail -n 40 "$T/deb.out" | diag
	[ -f "$DEB" ] || exit 1
fi
expect "no $DEB" [ -f "$DEB" ]
expect "no -dbgsym package" [ -f "$OUT/xcap-dbgsym_${VERSION}_${ARCH}.deb" ]
expect "no .changes" [ -f "$OUT/xcap_${VERSION}_${ARCH}.changes" ]
expect "the source tree's parent got build products" \
	eval "! ls '$ROOT'/../xcap_*.deb '$ROOT'/../xcap_*.changes >/dev/null 2>&1"
expect "the source tree got debian/build or debian/xcap" \
	eval "[ ! -e '$ROOT/debian/build' ] && [ ! -e '$ROOT/debian/xcap' ]"
report "the products are xcap_${VERSION}_${ARCH}.deb, its -dbgsym and .changes, in \$BUILD/deb only"

if [ -f "$OUT/lintian.txt" ]; then
	grep -E '^[EW]: ' "$OUT/lintian.txt" | diag
	expect "lintian errors: $(grep -c '^E: ' "$OUT/lintian.txt")" eval "! grep -q '^E: ' '$OUT/lintian.txt'"
else
	WHY+=("no lintian.txt")
fi
report "lintian reports no error (its warnings follow as diagnostics)"

# --- the contents ---

dpkg-deb -f "$DEB" >"$T/control"
dpkg-deb -c "$DEB" | awk '{ print $1, $NF }' | sed 's| \./| /|' >"$T/list"
dpkg-deb -e "$DEB" "$T/ctl"
has() { grep -q " $1\$" "$T/list" || WHY+=("no $1 in the package"); }
mode() { grep -q "^$1 $2\$" "$T/list" || WHY+=("$2 is not $1: $(grep " $2\$" "$T/list" | cut -d' ' -f1)"); }
expect_eq() { [ "$2" = "$3" ] || WHY+=("$1: expected '$2', got '${3:-nothing}'"); }

expect_eq "Package" xcap "$(dpkg-deb -f "$DEB" Package)"
expect_eq "Version" "$VERSION" "$(dpkg-deb -f "$DEB" Version)"
expect_eq "Architecture" "$ARCH" "$(dpkg-deb -f "$DEB" Architecture)"
expect "Depends does not name adduser" grep -q '^Depends:.*\badduser\b' "$T/control"
expect "Depends does not name libxdp1 (shlibs)" grep -q '^Depends:.*\blibxdp1\b' "$T/control"
report "the control fields: xcap, the changelog's version, this architecture, adduser and the libraries"

mode -rwxr-xr-x /usr/bin/xcapd
mode -rwxr-xr-x /usr/bin/xcapctl
mode -rw-r--r-- /usr/lib/xcap/xcap.bpf.o
mode -rw------- /etc/xcap/xcapd.json
mode -rw-r--r-- /lib/systemd/system/xcapd.service
has /usr/share/man/man8/xcapd.8.gz
has /usr/share/man/man1/xcapctl.1.gz
has /usr/share/bash-completion/completions/xcapd
has /usr/share/bash-completion/completions/xcapctl
has /usr/share/xcap/xcapd.example.json
has /usr/share/doc/xcap/README.Debian
has /usr/share/doc/xcap/README.md
has /usr/share/doc/xcap/copyright
has /usr/share/doc/xcap/examples/xcap.json
has /usr/share/doc/xcap/examples/xcap-alerts.yml
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
link=$(dpkg-deb -c "$DEB" | awk -v p="./usr/lib/$MA/wireshark/extcap/xcapctl" '$6 == p { print $1, $8 }')
expect_eq "the Wireshark extcap link usr/lib/$MA/wireshark/extcap/xcapctl" "lrwxrwxrwx ../../../../bin/xcapctl" "$link"
expect "Suggests does not name wireshark | tshark" grep -q '^Suggests:.*\bwireshark | tshark\b' "$T/control"
expect "var/lib/xcap is in the package (postinst makes it, purge only removes it)" \
	eval "! grep -q ' /var/lib/xcap' '$T/list'"
expect_eq "conffiles" /etc/xcap/xcapd.json "$(cat "$T/ctl/conffiles" 2>/dev/null)"
report "programs, XDP program, conffile (0600), unit, man pages, completion, docs, examples, the extcap link" "$T/list"

R=$T/root
if ! dpkg -x "$DEB" "$R" 2>"$T/x.err"; then
	not_ok "dpkg -x unpacks the package" "$(head -n 1 "$T/x.err")"
	exit 1
fi
ok "dpkg -x unpacks the package into a throwaway root"

same() { cmp -s "$1" "$2" || WHY+=("$2 differs from $1"); }
same "$ROOT/contrib/completion/xcapd" "$R/usr/share/bash-completion/completions/xcapd"
same "$ROOT/contrib/completion/xcapctl" "$R/usr/share/bash-completion/completions/xcapctl"
same "$ROOT/userspace/xcapd.example.json" "$R/usr/share/xcap/xcapd.example.json"
same "$ROOT/debian/xcapd.json" "$R/etc/xcap/xcapd.json"
same "$ROOT/contrib/grafana/xcap.json" "$R/usr/share/doc/xcap/examples/xcap.json"
for p in xcapd.8 xcapctl.1; do
	m=$R/usr/share/man/man${p##*.}/$p.gz
	scdoc <"$ROOT/docs/man/$p.scd" >"$T/$p" 2>/dev/null
	diff <(zcat "$m" | grep -v '^\.TH') <(grep -v '^\.TH' "$T/$p") >/dev/null ||
		WHY+=("$m is not the rendering of docs/man/$p.scd")
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$m" \
		>/dev/null 2>"$T/$p.warn"
	[ -s "$T/$p.warn" ] && WHY+=("$m: $(head -n 1 "$T/$p.warn")")
done
report "the packaged completion, configs, dashboard and man pages are the sources' (the pages rendered)"

# --- the programs, from the throwaway root ---

for prog in xcapd xcapctl; do
	if "$R/usr/bin/$prog" --version >"$T/version" 2>&1; then
		expect "'$prog --version' says '$(head -n 1 "$T/version")', not $prog $VERSION" \
			grep -qx -- "$prog $VERSION" "$T/version"
		report "the unpacked $prog --version prints the package's version"
	else
		not_ok "the unpacked $prog --version prints the package's version" "it fails"
		diag "$T/version"
	fi
done

if "$R/usr/bin/xcapd" --check-config "$R/etc/xcap/xcapd.json" >"$T/check" 2>&1 &&
	grep -q ': ok: ' "$T/check"; then
	ok "the unpacked xcapd --check-config accepts the packaged /etc/xcap/xcapd.json"
else
	not_ok "the unpacked xcapd --check-config accepts the packaged /etc/xcap/xcapd.json" "it refuses it"
	diag "$T/check"
fi
if "$R/usr/bin/xcapd" --check-config "$R/usr/share/xcap/xcapd.example.json" >"$T/check2" 2>&1; then
	ok "the unpacked xcapd --check-config accepts the packaged example"
else
	not_ok "the unpacked xcapd --check-config accepts the packaged example" "it refuses it"
	diag "$T/check2"
fi

# The packaged config is safe to start with: loopback only, no interface, the
# state in /var/lib/xcap, and no credentials (xcapd makes them on its first start).
python3 - "$R/etc/xcap/xcapd.json" >"$T/conf.why" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
why = []
if not c.get("listen", "127.0.0.1:8080").startswith(("127.", "[::1]")):
    why.append(f"listen is {c['listen']}")
if c.get("interfaces"):
    why.append(f"interfaces {c['interfaces']}")
if c.get("state_dir") != "/var/lib/xcap":
    why.append(f"state_dir is {c.get('state_dir')}")
if c.get("credentials") or c.get("accounts"):
    why.append("it names credentials or accounts")
if why:
    print("; ".join(why))
PY
if [ ! -s "$T/conf.why" ]; then
	ok "the packaged config listens on the loopback only, with no interface and no credentials"
else
	not_ok "the packaged config listens on the loopback only, with no interface and no credentials" \
		"$(cat "$T/conf.why")"
fi

U=$R/lib/systemd/system/xcapd.service
expect "ExecStart is '$(grep '^ExecStart=' "$U")'" grep -qx \
	'ExecStart=/usr/bin/xcapd serve --config /etc/xcap/xcapd.json --state-dir /var/lib/xcap' "$U"
expect "the unit names /usr/local" eval "! grep -v '^#' '$U' | grep -q /usr/local"
expect "Documentation= names a file the package does not have" \
	eval "[ -f '$R'\$(sed -n 's|^Documentation=file://||p' '$U') ]"
sed "s|^ExecStart=/usr/bin/xcapd|ExecStart=$R/usr/bin/xcapd|" "$U" >"$T/xcapd.service"
systemd-analyze verify "$T/xcapd.service" >"$T/verify" 2>&1 && [ ! -s "$T/verify" ] ||
	WHY+=("systemd-analyze verify complains")
expect "postinst does not enable the unit" grep -q "deb-systemd-helper enable 'xcapd.service'" "$T/ctl/postinst"
for f in preinst postinst prerm; do
	[ -f "$T/ctl/$f" ] || continue
	grep -Eq "deb-systemd-invoke .*(start|stop|restart)\b" "$T/ctl/$f" &&
		! grep -q 'try-restart' "$T/ctl/$f" && WHY+=("$f starts, stops or restarts the unit")
done
report "the unit: /usr/bin/xcapd, a Documentation= file that exists, verified, enabled, not started" "$T/verify"

# --- the maintainer scripts, for real, in a private mount namespace ---

# Recorded, not run: the systemd helpers (no systemd here, and the host's
# state is not theirs to change). Everything else is real: adduser, deluser,
# getent, install, rm, on an overlay of /etc and a tmpfs /var/lib and /run.
mkdir -p "$T/stubs" "$T/up" "$T/work"
for s in deb-systemd-helper deb-systemd-invoke systemctl; do
	printf '#!/bin/sh\necho "%s $*" >>"%s"\nexit 0\n' "$s" "$T/calls" >"$T/stubs/$s"
	chmod +x "$T/stubs/$s"
done
cat >"$T/ns.sh" <<NS
set -u
mount -t overlay overlay -o lowerdir=/etc,upperdir=$T/up,workdir=$T/work /etc || exit 10
mount -t tmpfs tmpfs /var/lib || exit 11
mount -t tmpfs tmpfs /run || exit 12
mkdir -p /run/systemd/system
export PATH=$T/stubs:/usr/sbin:/usr/bin:/sbin:/bin
facts() { # STEP: what the scripts left
	echo "\$1 user: \$(getent passwd xcap | cut -d: -f1,3,6,7)"
	echo "\$1 group: \$(getent group xcap | cut -d: -f1)"
	echo "\$1 dir: \$(stat -c '%U:%G %a' /var/lib/xcap 2>/dev/null)"
	echo "\$1 calls: \$(paste -sd '|' $T/calls 2>/dev/null)"
	: >$T/calls
}
sh $T/ctl/postinst configure >$T/ms.out 2>&1; echo "install rc: \$?"
facts install
sh $T/ctl/postinst configure >>$T/ms.out 2>&1; echo "again rc: \$?"
facts again
touch /var/lib/xcap/xcap.db
if [ -f $T/ctl/preinst ]; then
	sh $T/ctl/preinst upgrade 0.0.1 >>$T/ms.out 2>&1; echo "preinst-upgrade rc: \$?"
else
	echo "preinst-upgrade rc: 0"
fi
sh $T/ctl/postinst configure 0.0.1 >>$T/ms.out 2>&1; echo "upgrade rc: \$?"
facts upgrade
sh $T/ctl/postrm remove >>$T/ms.out 2>&1; echo "remove rc: \$?"
facts remove
echo "remove db: \$(ls /var/lib/xcap 2>/dev/null)"
sh $T/ctl/postrm purge >>$T/ms.out 2>&1; echo "purge rc: \$?"
facts purge
NS
unshare -m --propagation private bash "$T/ns.sh" >"$T/facts" 2>"$T/ns.err"
rc=$?
fact() { sed -n "s/^$1: //p" "$T/facts"; }
if [ $rc -ne 0 ]; then
	not_ok "the maintainer scripts run in a mount namespace" "setup failed (exit $rc)"
	diag "$T/ns.err"
else
	expect_eq "postinst configure (install) exit status" 0 "$(fact 'install rc')"
	user=$(fact 'install user')
	expect "no system user xcap (home /var/lib/xcap, nologin) after install: '$user'" \
		eval "[[ '$user' =~ ^xcap:[0-9]+:/var/lib/xcap:/usr/sbin/nologin$ ]]"
	uid=$(cut -d: -f2 <<<"$user")
	expect "xcap's uid $uid is not a system uid (< 1000)" [ "${uid:-1000}" -lt 1000 ]
	expect_eq "group after install" xcap "$(fact 'install group')"
	expect_eq "/var/lib/xcap after install" "root:root 700" "$(fact 'install dir')"
	expect "install enables nothing: $(fact 'install calls')" \
		eval "[[ '$(fact 'install calls')' == *'deb-systemd-helper enable xcapd.service'* ]]"
	expect "install starts xcapd: $(fact 'install calls')" \
		eval "[[ '$(fact 'install calls')' != *deb-systemd-invoke* ]]"
	expect_eq "a second configure's exit status" 0 "$(fact 'again rc')"
	expect_eq "user after a second configure" "$user" "$(fact 'again user')"
	expect_eq "preinst upgrade exit status" 0 "$(fact 'preinst-upgrade rc')"
	expect_eq "postinst configure (upgrade) exit status" 0 "$(fact 'upgrade rc')"
	expect "an upgrade does not try-restart xcapd (or stops it): $(fact 'upgrade calls')" \
		eval "[[ '$(fact 'upgrade calls')' == *'deb-systemd-invoke try-restart xcapd.service'* &&
			'$(fact 'upgrade calls')' != *'invoke stop'* ]]"
	expect_eq "postrm remove exit status" 0 "$(fact 'remove rc')"
	expect_eq "user after remove" "$user" "$(fact 'remove user')"
	expect_eq "/var/lib/xcap after remove" "xcap.db" "$(fact 'remove db')"
	expect_eq "postrm purge exit status" 0 "$(fact 'purge rc')"
	expect_eq "user after purge" "" "$(fact 'purge user')"
	expect_eq "group after purge" "" "$(fact 'purge group')"
	expect_eq "/var/lib/xcap after purge" "" "$(fact 'purge dir')"
	report "postinst makes the system user xcap and /var/lib/xcap (root, 0700); remove keeps them, purge removes them" \
		"$T/facts" "$T/ms.out"
fi

[ "$FAILED" -eq 0 ]
