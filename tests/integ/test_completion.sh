#!/usr/bin/env bash
# Bash completion (contrib/completion/xcapctl, contrib/completion/xcapd), driven
# the way bash drives it: a bash that loaded bash-completion and the file finds
# the function with `complete -p`, gets COMP_WORDS, COMP_CWORD, COMP_LINE and
# COMP_POINT set as for a TAB at the end of a line, and answers in COMPREPLY.
# Commands and options must be those of the programs' --help; capture and bucket
# ids and bucket URIs come from a running xcapd (in the receiving namespace)
# when credentials and an account are set, in the environment or on the line,
# and not otherwise. Also without the bash-completion package.
. "$(dirname "$0")/lib_api.sh"
api_init

if [ ! -r /usr/share/bash-completion/bash_completion ]; then
	not_ok "completion setup" "no /usr/share/bash-completion/bash_completion (tools/install-deps installs bash-completion)"
	integ_done
fi
if [ ! -x "$BUILD/xcapctl" ]; then
	not_ok "completion setup" "$BUILD/xcapctl not found (run make)"
	integ_done
fi

# The driver: `bash $T/drive.sh [-n] LINE` prints the sorted completions of LINE
# (the cursor at its end) one a line, and "complete: SPEC" first; -n: without
# the bash-completion package. Words are split at blanks (no line here has
# quotes or COMP_WORDBREAKS characters before the cursor).
cat >"$T/drive.sh" <<'DRIVE'
if [ "$1" = -n ]; then
	shift
else
	. /usr/share/bash-completion/bash_completion || exit 3
	declare -F _init_completion >/dev/null || exit 3
fi
line=$1
. "$COMPLETION_DIR/xcapctl" || exit 3
. "$COMPLETION_DIR/xcapd" || exit 3
read -ra COMP_WORDS <<<"$line"
[[ $line == *' ' ]] && COMP_WORDS+=('')
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE=$line
COMP_POINT=${#line}
spec=$(complete -p "${COMP_WORDS[0]}") || exit 4
echo "complete: $spec"
fn=${spec#*-F }
fn=${fn%% *}
COMPREPLY=()
"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
printf '%s\n' "${COMPREPLY[@]}" | sort -u | grep -v '^$'
exit 0
DRIVE

# comp [-n] LINE: the completions of LINE (run in the receiving namespace, with
# $BUILD first in PATH), one a line, into $T/comp; the `complete -p` line into
# $T/spec. The environment's connection variables are cleared unless given in
# COMP_ENV (an array of NAME=VALUE). Fails when the driver does.
COMP_ENV=()
comp() {
	local rc
	in_rx env -u XCAP_URL -u XCAP_TOKEN -u XCAP_ACCOUNT -u CLOUDFLARE_BASE_URL \
		-u CLOUDFLARE_API_TOKEN -u CLOUDFLARE_EMAIL -u CLOUDFLARE_API_KEY \
		-u CLOUDFLARE_ACCOUNT_ID -u XCAPCTL_COMPLETE_IDS \
		PATH="$BUILD:$PATH" COMPLETION_DIR="$INTEG_ROOT/contrib/completion" "${COMP_ENV[@]}" \
		timeout 20 bash --norc --noprofile "$T/drive.sh" "$@" >"$T/comp.all" 2>"$T/comp.err"
	rc=$?
	grep '^complete: ' "$T/comp.all" | sed 's/^complete: //' >"$T/spec"
	grep -v '^complete: ' "$T/comp.all" >"$T/comp"
	[ $rc -eq 0 ] || CHECK_WHY+=("the driver failed on '${*: -1}' (exit $rc): $(head -n 1 "$T/comp.err")")
	[ $rc -eq 0 ]
}
# words: the completions as one line.
words() { tr '\n' ' ' <"$T/comp" | sed 's/ $//'; }
# expect_words WHAT WANT: the completions are exactly WANT (sorted, blank-separated).
expect_words() {
	local want
	want=$(tr ' ' '\n' <<<"$2" | grep -v '^$' | sort -u | tr '\n' ' ' | sed 's/ $//')
	expect_eq "$1" "$want" "$(words)"
}
# help_flags ARGS...: the flags of `ARGS --help` (lines starting with at most 8
# spaces and a dash), sorted, one line.
help_flags() {
	"$@" --help 2>/dev/null | awk '/^ +-/ && index($0, "-") <= 9 {
		n = split($0, t, /[ ,]+/)
		for (i = 1; i <= n; i++) { if (t[i] == "") continue; if (t[i] !~ /^-/) break; print t[i] }
	}' | sort -u | tr '\n' ' ' | sed 's/ $//'
}
only_long() { tr ' ' '\n' <<<"$1" | grep '^--' | tr '\n' ' ' | sed 's/ $//'; }

# --- without a server: commands and options ---

check_begin "completion: complete -p names the functions of both files"
comp "xcapctl " && expect_eq "xcapctl's spec" "complete -F _xcapctl xcapctl" "$(cat "$T/spec")"
comp "xcapd " && expect_eq "xcapd's spec" "complete -F _xcapd xcapd" "$(cat "$T/spec")"
check_end "$T/comp.err"

CMDS=$("$BUILD/xcapctl" --help | awk '/^commands/ { on = 1; next } on && /^$/ { exit }
	on && /^  [a-z]/ { print $1 }' | sort -u | tr '\n' ' ' | sed 's/ $//')
check_begin "completion: xcapctl's first word is one of the commands of its --help"
expect "xcapctl --help lists no commands" [ -n "$CMDS" ]
comp "xcapctl " && expect_words "xcapctl <TAB>" "$CMDS"
comp "xcapctl -q --timeout 5 b" && expect_words "xcapctl -q --timeout 5 b<TAB>" "bucket"
comp "xcapctl help " && expect_words "xcapctl help <TAB>" "$CMDS"
check_end "$T/comp.err"

check_begin "completion: xcapctl create and bucket complete their second words"
comp "xcapctl create " && expect_words "create <TAB>" "full simple"
comp "xcapctl bucket " && expect_words "bucket <TAB>" "add delete list validate"
comp "xcapctl bucket v" && expect_words "bucket v<TAB>" "validate"
check_end "$T/comp.err"

G=$(help_flags "$BUILD/xcapctl")
check_begin "completion: xcapctl's options are those of its --help, and each command's own"
comp "xcapctl -" && expect_words "xcapctl -<TAB>" "$G"
comp "xcapctl create full --" &&
	expect_words "create full --<TAB>" "$(only_long "$G $(help_flags "$BUILD/xcapctl" create)")"
comp "xcapctl download 0123 -" &&
	expect_words "download ID -<TAB>" "$G $(help_flags "$BUILD/xcapctl" download)"
comp "xcapctl list --" && expect_words "list --<TAB>" "$(only_long "$G")"
comp "xcapctl create simple --offset" && expect_words "create simple --offset<TAB>" "--offset-time"
check_end "$T/comp.err"

check_begin "completion: xcapctl option values (--proto names, files for -o, nothing for a number)"
comp "xcapctl create full --proto " && expect_words "--proto <TAB>" "icmp icmp6 sctp tcp udp"
comp "xcapctl create full --time 5 --proto ic" && expect_words "--proto ic<TAB>" "icmp icmp6"
mkdir -p "$T/files" && touch "$T/files/one.pcap" "$T/files/two.pcap"
comp "xcapctl download 0123 -o $T/files/o" && expect_words "-o DIR/o<TAB>" "$T/files/one.pcap"
comp "xcapctl create simple --time " && expect_words "--time <TAB>" ""
comp "xcapctl --timeout 5 create simple --packets 3 --time 9 --src 10.0.0.1 --wait " &&
	expect_words "a line of options and values, then <TAB>" ""
check_end "$T/comp.err"

check_begin "completion: without the bash-completion package, the same answers"
comp -n "xcapctl " && expect_words "xcapctl <TAB>" "$CMDS"
comp -n "xcapctl create full --pro" && expect_words "create full --pro<TAB>" "--proto"
comp -n "xcapctl --proto=u" && expect_words "--proto=u<TAB>" "udp"
comp -n "xcapd capture -" && expect_words "xcapd capture -<TAB>" "$(help_flags "$BUILD/xcapd" capture)"
check_end "$T/comp.err"

check_begin "completion: xcapd's commands, each command's options, and their values"
DCMDS=$("$BUILD/xcapd" --help | awk '/^commands/ { on = 1; next } on && /^$/ { exit }
	on && /^  [a-z]/ { print $1 }' | sort -u | tr '\n' ' ' | sed 's/ $//')
expect "xcapd --help lists no commands" [ -n "$DCMDS" ]
comp "xcapd " && expect_words "xcapd <TAB>" "$DCMDS"
comp "xcapd -" && expect_words "xcapd -<TAB> (serve's)" "$(help_flags "$BUILD/xcapd" serve)"
comp "xcapd serve --hist" && expect_words "serve --hist<TAB>" \
	"$(tr ' ' '\n' <<<"$(help_flags "$BUILD/xcapd" serve)" | grep '^--hist' | tr '\n' ' ')"
comp "xcapd capture -" && expect_words "capture -<TAB>" "$(help_flags "$BUILD/xcapd" capture)"
comp "xcapd capture -i " && expect_words "capture -i <TAB> (the namespace's interfaces)" "lo rx0"
comp "xcapd -i r" && expect_words "serve -i r<TAB>" "rx0"
comp "xcapd capture -i rx0 --proto s" && expect_words "capture --proto s<TAB>" "sctp"
comp "xcapd capture -i rx0 -w $T/files/t" && expect_words "-w DIR/t<TAB>" "$T/files/two.pcap"
comp "xcapd capture -i rx0 -c " && expect_words "-c <TAB>" ""
check_end "$T/comp.err"

# --- with a server: ids and URIs ---

if ! xcapd_start; then
	not_ok "completion: xcapd serve starts and listens" "no 'listening on' line within 10 s"
	diag "$XERR"
	integ_done
fi

check_begin "completion: a running full capture, a finished simple one and a validated bucket"
expect "the bucket $DEST1 cannot be added and validated" bucket_add_validate "$DEST1"
B_ID=${BUCKET_ID-}
api aw POST "$PA" "$(full_body 120 "$DEST1")"
expect_eq "full create status" 200 "$ST"
FULL=$(jget result.id)
api aw POST "$PA" '{"type":"simple","system":"magic-transit","time_limit":60,"packet_limit":5}'
expect_eq "simple create status" 200 "$ST"
SIMPLE=$(jget result.id)
expect "the simple capture did not end" wait_capture "$SIMPLE" 'success|failed' 10
SIMPLE_STATUS=$CAP_STATUS
expect "the full capture is not running" wait_capture "$FULL" running 10
api_check_end

COMP_ENV=(XCAP_URL="$BASE" XCAP_TOKEN="$TOK_AW" XCAP_ACCOUNT="$ACC_A")
check_begin "completion: with XCAP_URL, XCAP_TOKEN and XCAP_ACCOUNT, capture ids from xcapctl list"
comp "xcapctl get " && expect_words "get <TAB>" "$FULL $SIMPLE"
comp "xcapctl wait ${FULL:0:3}" && expect_words "wait PREFIX<TAB>" "$FULL"
comp "xcapctl stop " && expect_words "stop <TAB> (pending or running only)" "$FULL"
if [ "$SIMPLE_STATUS" = success ]; then
	comp "xcapctl download " && expect_words "download <TAB> (success only)" "$SIMPLE"
else
	comp "xcapctl download " && expect_words "download <TAB> (success only; the simple one $SIMPLE_STATUS)" ""
fi
check_end "$T/comp.err"

check_begin "completion: bucket ids and URIs from xcapctl bucket list, interfaces from xcapctl list"
comp "xcapctl bucket delete " && expect_words "bucket delete <TAB>" "$B_ID"
comp "xcapctl bucket validate " && expect_words "bucket validate <TAB>" "$DEST1"
comp "xcapctl create full --dest " && expect_words "--dest <TAB> (validated)" "$DEST1"
comp "xcapctl create full --interface " && expect_words "--interface <TAB> (the captures')" "$DEV"
comp "xcapctl create simple -i " && expect_words "-i <TAB> (the captures')" "$DEV"
check_end "$T/comp.err"

COMP_ENV=(CLOUDFLARE_BASE_URL="$BASE" CLOUDFLARE_EMAIL="$EMAIL_A" CLOUDFLARE_API_KEY="$KEY_A"
	CLOUDFLARE_ACCOUNT_ID="$ACC_A")
check_begin "completion: with the CLOUDFLARE_* variables (e-mail and key), the same ids"
comp "xcapctl get " && expect_words "get <TAB>" "$FULL $SIMPLE"
check_end "$T/comp.err"

COMP_ENV=()
check_begin "completion: with the connection on the command line only, the same ids"
comp "xcapctl --url $BASE --token $TOK_AR --account $ACC_A get " &&
	expect_words "--url --token --account get <TAB>" "$FULL $SIMPLE"
comp "xcapctl --url=$BASE --token=$TOK_AR --account=$ACC_A stop " &&
	expect_words "--url= --token= --account= stop <TAB>" "$FULL"
check_end "$T/comp.err"

check_begin "completion: no ids without credentials or account, or with XCAPCTL_COMPLETE_IDS=0"
COMP_ENV=(XCAP_URL="$BASE" XCAP_ACCOUNT="$ACC_A")
comp "xcapctl get " && expect_words "get <TAB> without a token" ""
COMP_ENV=(XCAP_URL="$BASE" XCAP_TOKEN="$TOK_AW")
comp "xcapctl get " && expect_words "get <TAB> without an account" ""
COMP_ENV=(XCAP_URL="$BASE" XCAP_TOKEN="$TOK_AW" XCAP_ACCOUNT="$ACC_A" XCAPCTL_COMPLETE_IDS=0)
comp "xcapctl get " && expect_words "get <TAB> with XCAPCTL_COMPLETE_IDS=0" ""
check_end "$T/comp.err"

check_begin "completion: a server that does not answer costs no more than the 2 s limit"
# A port of the loopback where nothing listens: refused at once.
COMP_ENV=(XCAP_URL="http://127.0.0.1:9/client/v4" XCAP_TOKEN="$TOK_AW" XCAP_ACCOUNT="$ACC_A")
start=$(date +%s%N)
comp "xcapctl get " && expect_words "get <TAB>" ""
took=$((($(date +%s%N) - start) / 1000000))
expect "it took $took ms" [ "$took" -lt 5000 ]
check_end "$T/comp.err"

xcapd_term
integ_done
