# shellcheck shell=bash
# Bounded polls for the integ tests, sourced after lib.sh (and lib_api.sh for
# expect_capture): an assertion waits for the condition it needs (a state
# through the API, a file, a counter, a process), never for a fixed time.
#
# A condition is a command that succeeds once it holds. It runs in this shell,
# so it may set variables, and it may set WAIT_LAST to what it saw last, which
# a failed wait then reports.

WAIT_LAST=

# now_us: the wall clock in microseconds.
now_us() {
	echo "${EPOCHREALTIME/./}"
}

# wait_until SECONDS CMD...: runs CMD every 0.05 s until it succeeds; fails
# when it still fails after SECONDS (a whole number). CMD runs at least once.
wait_until() {
	local limit=$(($(now_us) + $1 * 1000000))

	shift
	WAIT_LAST=
	while :; do
		"$@" && return 0
		[ "$(now_us)" -lt "$limit" ] || return 1
		sleep 0.05
	done
}

# expect_within SECONDS WHAT CMD...: inside check_begin ... check_end, waits
# for CMD (wait_until); when the bound is reached the check fails with
# "WHAT: not within SECONDS s (last seen: WAIT_LAST)".
expect_within() {
	local secs=$1 what=$2

	shift 2
	wait_until "$secs" "$@" ||
		CHECK_WHY+=("$what: not within $secs s${WAIT_LAST:+ (last seen: $WAIT_LAST)}")
}

# pcap_has FILE N [FILTER...]: a condition: FILE holds N packets (matching
# the tcpdump filter). A file being written may read as "unreadable" for a
# moment (a record cut short): that is only a wrong count.
pcap_has() {
	local file=$1 n=$2

	shift 2
	WAIT_LAST="$(pcap_count "$file" "$@") packets${*:+ matching '$*'} in $file"
	[ "${WAIT_LAST%% *}" = "$n" ]
}

# expect_capture ID REGEX SECONDS [AUTH]: inside a check, waits (lib_api's
# wait_capture) until the capture's status matches the extended REGEX; the
# last GET stays in $RB. On timeout the check fails naming the last status
# and error_message seen (not the ones before the wait).
expect_capture() {
	local msg

	wait_capture "$@" && return 0
	msg=$(jget result.error_message 2>/dev/null)
	case $msg in "<missing>" | "<invalid>") msg= ;; esac
	CHECK_WHY+=("capture $1: status did not reach '$2' within $3 s (last: ${CAP_STATUS:-no answer}${msg:+; $msg})")
}
