#!/usr/bin/env bash
# The man pages (docs/man/*.scd, rendered by scdoc into $BUILD/man/) against the
# programs they describe, so that a changed flag, command, config key, exit
# status, environment variable or state file fails here until the page says it:
#   - $BUILD/man/ holds the rendering of each current source, and man(1) renders
#     it without a warning (what lintian checks);
#   - every flag of `xcapd serve --help` and `xcapd capture --help` is an option
#     term of xcapd(8)'s SERVE OPTIONS and CAPTURE OPTIONS, every flag of
#     `xcapctl --help` one of xcapctl(1)'s OPTIONS, and every flag of `xcapctl
#     COMMAND --help` one of OPTIONS or "COMMAND OPTIONS"; and no term names a
#     flag that the program does not have (a removed or renamed flag);
#   - every command of `xcapd --help` and `xcapctl --help` is described;
#   - every config key (the reference atop userspace/server/config.c, the keys of
#     userspace/xcapd.example.json, the keys behind the serve flags) is in
#     CONFIGURATION; every exit status of the help texts in EXIT STATUS; every
#     environment variable of the help texts and of getenv() in the sources in
#     ENVIRONMENT; every file and folder xcapd makes in its state folder in FILES.
# Needs no privileges.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) ;;
*) BUILD=$ROOT/$BUILD ;;
esac
FAILED=0
T=$(mktemp -d "${TMPDIR:-/tmp}/xcap-man.$$.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

ok() { echo "ok - man: $1"; }
not_ok() {
	echo "not ok - man: $1: $2"
	FAILED=$((FAILED + 1))
}
diag() { sed 's/^/# /' "$@"; }

missing=()
for tool in scdoc man python3; do
	command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
	not_ok "setup" "missing tools: ${missing[*]} (tools/install-deps installs them)"
	exit 1
fi
for f in "$BUILD/xcapd" "$BUILD/xcapctl"; do
	if [ ! -x "$f" ]; then
		not_ok "setup" "$f not found (run make)"
		exit 1
	fi
done

pages=()
for src in "$ROOT"/docs/man/*.scd; do
	pages+=("$(basename "$src" .scd)")
done
if [ ${#pages[@]} -eq 0 ]; then
	not_ok "setup" "no docs/man/*.scd"
	exit 1
fi

# The built pages are the sources' rendering (the date aside: SOURCE_DATE_EPOCH).
stale=()
for p in "${pages[@]}"; do
	if ! scdoc <"$ROOT/docs/man/$p.scd" >"$T/$p" 2>"$T/$p.err"; then
		not_ok "scdoc renders docs/man/$p.scd" "$(head -n 1 "$T/$p.err")"
		continue
	fi
	ok "scdoc renders docs/man/$p.scd"
	if [ ! -f "$BUILD/man/$p" ] ||
		! diff <(grep -v '^\.TH' "$T/$p") <(grep -v '^\.TH' "$BUILD/man/$p") >/dev/null; then
		stale+=("$p")
	fi
done
if [ ${#stale[@]} -eq 0 ]; then
	ok "make built every page into \$BUILD/man/ from its current source"
else
	not_ok "make built every page into \$BUILD/man/ from its current source" \
		"missing or stale: ${stale[*]} (make)"
fi

# lintian's check: man --warnings must print nothing.
for p in "${pages[@]}"; do
	[ -s "$T/$p" ] || continue
	LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$T/$p" \
		>/dev/null 2>"$T/$p.warn"
	if [ -s "$T/$p.warn" ]; then
		not_ok "$p renders without a groff warning" "$(head -n 1 "$T/$p.warn")"
		diag "$T/$p.warn"
	else
		ok "$p renders without a groff warning"
	fi
done

# The help texts the pages are checked against, each into a file; a help that
# fails is a failure of its own.
help() { # NAME PROGRAM ARGS...
	local name=$1
	shift
	if ! "$@" >"$T/help.$name" 2>"$T/help.$name.err"; then
		not_ok "'${*##*/} --help' prints the help" "exit status $? ($(head -n 1 "$T/help.$name.err"))"
		: >"$T/help.$name"
	fi
}
help xcapd "$BUILD/xcapd" --help
help xcapd-serve "$BUILD/xcapd" serve --help
help xcapd-capture "$BUILD/xcapd" capture --help
help xcapctl "$BUILD/xcapctl" --help
# The commands of xcapctl: the first words of the lines of its "commands" block.
cmds=$(awk '/^commands/ { on = 1; next } on && /^$/ { exit } on && /^  [a-z]/ { print $1 }' \
	"$T/help.xcapctl" | sort -u)
if [ -z "$cmds" ]; then
	not_ok "xcapctl --help lists commands" "no 'commands' block found"
fi
for c in $cmds; do
	# help takes no --help of its own ('xcapctl help --help' is 'xcapctl --help help')
	[ "$c" = help ] || help "xcapctl-$c" "$BUILD/xcapctl" "$c" --help
done

python3 - "$ROOT" "$T" "${pages[@]}" <<'PY' || FAILED=$((FAILED + 1))
import json, os, re, sys

root, tmp, pages = sys.argv[1], sys.argv[2], sys.argv[3:]
failed = 0


def result(good, name, why=""):
    global failed
    if good:
        print(f"ok - man: {name}")
    else:
        failed += 1
        print(f"not ok - man: {name}: {why}")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def sections(page):
    """scd source -> {SECTION TITLE: text}; '# TITLE' lines start a section."""
    out, cur = {}, None
    for line in read(os.path.join(root, "docs/man", page + ".scd")).splitlines():
        if line.startswith("# "):
            cur = line[2:].strip()
            out[cur] = []
        elif cur:
            out[cur].append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def terms(text):
    """The option terms of a section: the flags in bold on lines that start with *-."""
    flags = set()
    for line in text.splitlines():
        if line.startswith("*-"):
            flags.update(re.findall(r"\*(--?[A-Za-z0-9][A-Za-z0-9-]*)\*", line))
    return flags


def help_flags(name):
    """The flags of a help text: the lines that start with at most 8 spaces and a dash."""
    path = os.path.join(tmp, "help." + name)
    if not os.path.exists(path):
        return None
    flags = set()
    for line in read(path).splitlines():
        m = re.match(r"^ {1,8}(-.*)$", line)
        if not m:
            continue
        for tok in re.split(r"[ ,]+", m.group(1)):
            if not tok.startswith("-"):
                break
            flags.add(tok)
    return flags


def helptext(name):
    path = os.path.join(tmp, "help." + name)
    return read(path) if os.path.exists(path) else ""


def fmt(s):
    return " ".join(sorted(s)) if s else "none"


want = {"xcapd.8", "xcapctl.1"}
result(want <= set(pages), "docs/man has xcapd.8.scd and xcapctl.1.scd", f"has {fmt(set(pages))}")
if not want <= set(pages):
    sys.exit(1)
D, C = sections("xcapd.8"), sections("xcapctl.1")
for page, secs in (("xcapd.8", D), ("xcapctl.1", C)):
    need = {"NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "ENVIRONMENT", "FILES", "SEE ALSO"}
    result(need <= set(secs), f"{page} has the sections {fmt(need)}", f"lacks {fmt(need - set(secs))}")


def same_flags(name, helpname, page, sec, secs, extra=frozenset()):
    """Every flag of the help is a term of the section (or of extra), and back."""
    got = help_flags(helpname)
    if got is None or not got:
        result(False, name, f"no flags in '{helpname} --help'")
        return
    have = terms(secs.get(sec, ""))
    missing = got - have - extra
    stale = have - got
    why = []
    if missing:
        why.append(f"in --help, not in {page} {sec}: {fmt(missing)}")
    if stale:
        why.append(f"in {page} {sec}, not in --help: {fmt(stale)}")
    result(not why, name, "; ".join(why))


same_flags("every flag of 'xcapd serve --help' is in xcapd(8) SERVE OPTIONS, and no other",
           "xcapd-serve", "xcapd(8)", "SERVE OPTIONS", D)
same_flags("every flag of 'xcapd capture --help' is in xcapd(8) CAPTURE OPTIONS, and no other",
           "xcapd-capture", "xcapd(8)", "CAPTURE OPTIONS", D)
same_flags("every flag of 'xcapctl --help' is in xcapctl(1) OPTIONS, and no other",
           "xcapctl", "xcapctl(1)", "OPTIONS", C)
glob = help_flags("xcapctl") or set()
helps = sorted(f[len("help.xcapctl-"):] for f in os.listdir(tmp)
               if f.startswith("help.xcapctl-") and not f.endswith(".err"))
for cmd in helps:
    own = (help_flags("xcapctl-" + cmd) or set()) - glob
    sec = cmd.upper() + " OPTIONS"
    have = terms(C.get(sec, ""))
    why = []
    if own - have:
        why.append(f"not in xcapctl(1) {sec}: {fmt(own - have)}")
    if have - own:
        why.append(f"in {sec}, not in 'xcapctl {cmd} --help': {fmt(have - own)}")
    result(not why, f"every flag of 'xcapctl {cmd} --help' is in xcapctl(1) OPTIONS or {sec}",
           "; ".join(why))
# An options section of a command that xcapctl does not have.
for sec in C:
    if sec.endswith(" OPTIONS") and sec != "OPTIONS":
        cmd = sec[: -len(" OPTIONS")].lower()
        result(cmd in helps, f"xcapctl(1) {sec} is about an existing command",
               f"'xcapctl {cmd}' is not a command of 'xcapctl --help'")

# Commands: xcapd's in its SYNOPSIS, xcapctl's (with their second words) as COMMANDS terms.
dcmds = re.findall(r"^  ([a-z]+) ", helptext("xcapd"), re.M)
nodoc = [c for c in dcmds if not re.search(rf"\*(xcapd )?{c}\*", D.get("SYNOPSIS", ""))]
result(dcmds and not nodoc, "every command of 'xcapd --help' is in xcapd(8) SYNOPSIS",
       f"missing: {fmt(set(nodoc))}" if dcmds else "no commands in 'xcapd --help'")
block = re.search(r"^commands[^\n]*\n(.*?)\n\n", helptext("xcapctl"), re.S | re.M)
ccmds = set()
for line in (block.group(1) if block else "").splitlines():
    m = re.match(r"^  ([a-z]+)(?: ([a-z]+)\b)?", line)
    if m:
        ccmds.add(" ".join(w for w in m.groups() if w))
cterms = set(re.findall(r"^\*([a-z]+(?: [a-z]+)?)\*", C.get("COMMANDS", ""), re.M))
result(ccmds and ccmds <= cterms, "every command of 'xcapctl --help' is a term of xcapctl(1) COMMANDS",
       f"missing: {fmt(ccmds - cterms)}")

# Config keys.
src = read(os.path.join(root, "userspace/server/config.c"))
head = src[src.index("/*"): src.index("*/")]
keys = set()
for line in head.splitlines():
    # "   key   type..." or "   key, key   ...", indented 3..8: continuation lines are deeper
    m = re.match(r"^ \* {3,8}([a-z][a-z0-9_]*)(?:, ([a-z][a-z0-9_]*))?"
                 r"(?: {2,}| +(?:string|integer|array|object)\b)", line)
    if m:
        keys.update(k for k in m.groups() if k)
result(len(keys) >= 10, "the key reference atop userspace/server/config.c is readable",
       f"found only {fmt(keys)}")
def json_keys(v):
    if isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from json_keys(x)
    elif isinstance(v, list):
        for x in v:
            yield from json_keys(x)
keys |= set(json_keys(json.loads(read(os.path.join(root, "userspace/xcapd.example.json")))))
for f in help_flags("xcapd-serve") or set():
    if f.startswith("--") and f not in ("--config", "--check-config", "--verbose", "--quiet", "--help"):
        k = f[2:].replace("-", "_")
        # A flag that adds one item to a list key: --interface, --file-bucket-root, ...
        keys.add(k + "s" if k + "s" in keys or k == "interface" else k)
conf = D.get("CONFIGURATION", "")
nodoc = {k for k in keys if f"*{k}*" not in conf}
result(not nodoc, "every config key is in xcapd(8) CONFIGURATION", f"missing: {fmt(nodoc)}")

# Exit statuses.
def exit_terms(secs):
    return set(re.findall(r"^\*(\d+)\*", secs.get("EXIT STATUS", ""), re.M))
m = re.search(r"Exit status:(.*)", helptext("xcapd-capture"), re.S)
dcodes = set(re.findall(r"\b(\d+) [a-z]", m.group(1))) if m else set()
result(dcodes and dcodes <= exit_terms(D), "every exit status of 'xcapd capture --help' is in xcapd(8) EXIT STATUS",
       f"missing: {fmt(dcodes - exit_terms(D))}" if dcodes else "no 'Exit status:' in the help")
m = re.search(r"^exit status:\n(.*?)(?:\n\n|\Z)", helptext("xcapctl"), re.S | re.M)
ccodes = set(re.findall(r"^  (\d+) ", m.group(1), re.M)) if m else set()
result(ccodes and ccodes <= exit_terms(C), "every exit status of 'xcapctl --help' is in xcapctl(1) EXIT STATUS",
       f"missing: {fmt(ccodes - exit_terms(C))}" if ccodes else "no 'exit status:' block in the help")

# Environment variables: the help texts', and those the sources read (getenv, or
# a table of names passed to it): cli/ is xcapctl's, the rest xcapd's.
def src_env(want_cli):
    names = set()
    for d, _, files in os.walk(os.path.join(root, "userspace")):
        for f in files:
            if not f.endswith(".c") or (("/cli" in d[len(root):]) != want_cli):
                continue
            text = read(os.path.join(d, f))
            if "getenv" not in text:
                continue
            names |= set(re.findall(r'getenv\("([A-Z][A-Z0-9_]+)"\)', text))
            names |= set(re.findall(r'"((?:XCAP|AWS|CLOUDFLARE)_[A-Z0-9_]+)"', text))
    return names
def env_terms(secs):
    return set(re.findall(r"\*([A-Z][A-Z0-9_]+)\*", secs.get("ENVIRONMENT", "")))
cenv = src_env(True) | set(re.findall(r"\b((?:XCAP|CLOUDFLARE|AWS)_[A-Z0-9_]+)\b", helptext("xcapctl")))
denv = src_env(False)
result(cenv and cenv <= env_terms(C), "every environment variable of xcapctl is in xcapctl(1) ENVIRONMENT",
       f"missing: {fmt(cenv - env_terms(C))}" if cenv else "none found in its help and sources")
result(denv and denv <= env_terms(D), "every environment variable xcapd reads is in xcapd(8) ENVIRONMENT",
       f"missing: {fmt(denv - env_terms(D))}" if denv else "none found in the sources")

# The state folder's files: #define X_FILE/X_DIR "name" and "%s/name" under state_dir.
names = set()
for d, _, files in os.walk(os.path.join(root, "userspace")):
    for f in files:
        if f.endswith((".c", ".h")):
            text = read(os.path.join(d, f))
            names |= set(re.findall(r'#define [A-Z_]*(?:FILE|DIR) "([A-Za-z0-9._-]+)"', text))
            names |= set(re.findall(r'"%s/([A-Za-z0-9._-]+)",[^;]*state_dir', text))
files_sec = D.get("FILES", "")
nodoc = {n for n in names if not re.search(rf"_{re.escape(n)}/?_", files_sec)}
result(names and not nodoc, "every file and folder of xcapd's state folder is in xcapd(8) FILES",
       f"missing: {fmt(nodoc)}" if names else "none found in the sources")
for p in ("/etc/xcap/xcapd.json", "/var/lib/xcap", "/usr/lib/xcap/xcap.bpf.o"):
    result(f"_{p}_" in files_sec, f"xcapd(8) FILES names {p}", "missing")
sys.exit(1 if failed else 0)
PY

[ "$FAILED" -eq 0 ]
