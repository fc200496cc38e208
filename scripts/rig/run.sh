#!/usr/bin/env bash
# run.sh: `make rig`. The topology of docker/softhsm/docker-compose.yml, as
# processes on this machine (no Docker engine needed): the token service
# (SoftHSM2 behind `p11-kit server`) and the wasihsm service (the JWS
# example through p11-kit-client.so), run by the same scripts the
# containers run, in a temporary state directory that stands in for the
# volumes. Then it checks what the containers would show:
#
#   0. without its PIN secrets, the token service refuses its first start;
#   1. first start: the token is initialised, the managed key generated, and
#      the guest's JWS verifies (openssl) with the public key it printed;
#   2. the token service restarts: the token and the key persist, and the
#      guest signs with the same key again;
#   3. teardown: the server is stopped and the state directory removed.
#
# Environment: WASIHSM (the wasihsm binary) and JWS_WASM (the example,
# built for wasip1); the Makefile sets both. RIG_KEEP=1 keeps the state
# directory.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { echo "rig: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }

[[ -x ${WASIHSM:-} ]] || die "WASIHSM must name the wasihsm binary (make rig builds it)"
[[ -r ${JWS_WASM:-} ]] || die "JWS_WASM must name examples/jws built for wasip1 (make rig builds it)"
for tool in softhsm2-util p11-kit openssl base64 od; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install softhsm2 p11-kit p11-kit-modules openssl)"
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/wasihsm-rig.XXXXXX")
server_pid=
stop_token() {
	if [[ -n $server_pid ]]; then
		# The server and the p11-kit-remote children it forks, by group.
		kill -TERM -- "-$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}
cleanup() {
	stop_token
	if [[ ${RIG_KEEP:-} == 1 ]]; then
		say "state kept in $dir"
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT

# The Docker secrets: random PINs in files of mode 0600.
umask 077
mkdir -p "$dir/secrets" "$dir/guest"
od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$dir/secrets/token_pin"
od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$dir/secrets/token_so_pin"
cp "$JWS_WASM" "$dir/guest/jws.wasm"

export RIG_TOKEN_LABEL=wasihsm-rig
export RIG_SOCKET="$dir/p11-kit/pkcs11.sock" # the shared socket volume

start_token() {
	rm -f "$RIG_SOCKET"
	# setsid: a process group of its own, to stop it with its children.
	RIG_STATE="$dir/softhsm" \
		RIG_TOKEN_PIN_FILE="$dir/secrets/token_pin" RIG_TOKEN_SO_PIN_FILE="$dir/secrets/token_so_pin" \
		setsid "$here/token-service.sh" >>"$dir/token-service.log" 2>&1 &
	server_pid=$!
}

run_wasihsm() {
	RIG_STATE="$dir/wasihsm" RIG_PIN_FILE="$dir/secrets/token_pin" RIG_GUEST="$dir/guest/jws.wasm" \
		"$here/wasihsm-service.sh" >"$1" 2>>"$dir/wasihsm-service.log" || {
		cat "$dir/wasihsm-service.log" >&2
		die "the wasihsm service failed"
	}
}

# b64url FILE-OF-ONE-PART: decode base64url.
b64url() {
	local s
	s=$(tr '_-' '/+' <<<"$1")
	while ((${#s} % 4)); do s+="="; done
	base64 -d <<<"$s"
}

# der_int HEX: a DER INTEGER of the unsigned big-endian HEX.
der_int() {
	local h=$1
	while [[ ${#h} -gt 2 && ${h:0:2} == 00 ]]; do h=${h:2}; done
	[[ ${h:0:1} =~ [89a-f] ]] && h="00$h"
	printf '02%02x%s' $((${#h} / 2)) "$h"
}

# verify OUTPUT: the JWS on the first line of OUTPUT verifies with the PEM
# public key after it (ES256: r‖s, turned into the DER openssl wants).
verify() {
	local out=$1 jws h p s sig r body
	jws=$(head -n 1 "$out")
	IFS=. read -r h p s <<<"$jws"
	[[ -n $h && -n $p && -n $s ]] || die "no JWS in the guest's output: $(head -c 200 "$out")"
	sed -n '/-----BEGIN PUBLIC KEY-----/,/-----END PUBLIC KEY-----/p' "$out" >"$out.pub"
	openssl pkey -pubin -in "$out.pub" -noout 2>/dev/null || die "no public key in the guest's output"
	sig=$(b64url "$s" | od -An -v -tx1 | tr -d ' \n')
	[[ ${#sig} -eq 128 ]] || die "an ES256 signature is 64 bytes, got $((${#sig} / 2))"
	r=$(der_int "${sig:0:64}")
	body="$r$(der_int "${sig:64:64}")"
	printf '30%02x%s' $((${#body} / 2)) "$body" | sed 's/../\\x&/g' | xargs -0 printf '%b' >"$out.sig"
	printf '%s.%s' "$h" "$p" >"$out.input"
	openssl dgst -sha256 -verify "$out.pub" -signature "$out.sig" "$out.input" >/dev/null ||
		die "the JWS does not verify with the guest's public key"
}

say "state in $dir"
say "0. a first start without the PIN secrets refuses, and makes no token"
if RIG_STATE="$dir/softhsm" "$here/token-service.sh" >"$dir/no-pins.log" 2>&1; then
	die "the token service started without PINs"
fi
grep -q "needs RIG_TOKEN_PIN(_FILE) and RIG_TOKEN_SO_PIN(_FILE)" "$dir/no-pins.log" || die "no clear error without PINs: $(cat "$dir/no-pins.log")"
[[ -z $(ls -A "$dir/softhsm/tokens") ]] || die "a token was made without PINs"
[[ ! -e $RIG_SOCKET ]] || die "the server started without PINs"
say "1. first start: initialise the token, serve it on $RIG_SOCKET, generate the key, sign"
start_token
run_wasihsm "$dir/first.out"
grep -q "initialised" "$dir/token-service.log" || die "the token service did not initialise the token"
grep -q 'generated ES256 key "jws-signer"' "$dir/wasihsm-service.log" || die "the managed key was not generated"
grep -q '^PASS  managed key "jws-signer"' "$dir/wasihsm-service.log" || die "wasihsm doctor did not pass the managed key"
verify "$dir/first.out"
say "   the JWS verifies with the token's key (openssl)"

say "2. restart the token service: the token and the key persist"
stop_token
start_token
: >"$dir/wasihsm-service.log"
run_wasihsm "$dir/second.out"
grep -q 'token "wasihsm-rig" found' "$dir/token-service.log" || die "the token was not found again after the restart"
grep -q 'managed key "jws-signer" found' "$dir/wasihsm-service.log" || die "the managed key did not persist"
verify "$dir/second.out"
cmp -s "$dir/first.out.pub" "$dir/second.out.pub" || die "the second run signed with another key"
! grep -rqf "$dir/secrets/token_pin" "$dir/wasihsm" "$dir"/*.log "$dir"/*.out || die "a PIN was written where it should not be"
say "   the same key signs again"

cat "$dir/second.out"
say "3. teardown"
say "OK: the JWS example signed through SoftHSM2 + p11-kit server + p11-kit-client.so, across a token service restart"
