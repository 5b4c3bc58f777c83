# shellcheck shell=bash
# Running xcapctl in the integ tests (test_xcapctl.sh, test_cli_xcapctl.sh), on
# top of lib_api.sh. ctl_init, once xcapd listens, sets what every run gets:
# CTL_ENV (nothing of the caller's environment: no XCAP_* or CLOUDFLARE_*),
# OUT and ERR; `ctl` runs xcapctl, and the expectations read what it wrote.

XCAPCTL=$BUILD/xcapctl

# ctl_init NAME: the environment of every run; exits (not ok "NAME setup")
# without the xcapctl binary.
ctl_init() {
	if [ ! -x "$XCAPCTL" ]; then
		not_ok "$1 setup" "$XCAPCTL not found (run make)"
		exit 1
	fi
	CTL_ENV=(XCAP_URL="$BASE" XCAP_TOKEN="$TOK_AW" XCAP_ACCOUNT="$ACC_A")
	OUT=$T/ctl.out ERR=$T/ctl.err
}

# ctl ARGS...: runs xcapctl in the receiving namespace (30 s at most) with
# CTL_ENV; stdout in $OUT, stderr in $ERR, exit status in RC.
ctl() {
	in_rx timeout -s KILL 30 env -i PATH="$PATH" "${CTL_ENV[@]}" "$XCAPCTL" "$@" \
		>"$OUT" 2>"$ERR"
	RC=$?
}

excerpt() { head -c 400 "$1" | tr '\n' '|'; }
expect_rc() {
	[ "$RC" = "$1" ] || CHECK_WHY+=("exit status: expected $1, got $RC (stderr: $(excerpt "$ERR"))")
}
# expect_out REGEX / expect_err REGEX: an extended regex matches a line of stdout / stderr.
expect_out() {
	grep -Eq -- "$1" "$OUT" || CHECK_WHY+=("stdout has no line matching /$1/: $(excerpt "$OUT")")
}
expect_err() {
	grep -Eq -- "$1" "$ERR" || CHECK_WHY+=("stderr has no line matching /$1/: $(excerpt "$ERR")")
}
# field NAME: the value of a "name: value" line of stdout.
field() {
	sed -n "s/^$1: *//p" "$OUT" | head -n 1
}
