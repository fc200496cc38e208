#!/usr/bin/env bash
# run.sh: `make rig-native`. The topology of docker/softhsm/docker-compose.yml,
# as processes on this machine (no Docker engine needed; `make rig` runs the
# containers, scripts/rig/compose.sh): the token service
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
# shellcheck source=scripts/rig/lib.sh
. "$here/lib.sh"

[[ -x ${WASIHSM:-} ]] || die "WASIHSM must name the wasihsm binary (make rig-native builds it)"
[[ -r ${JWS_WASM:-} ]] || die "JWS_WASM must name examples/jws built for wasip1 (make rig-native builds it)"
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
verify_jws "$dir/first.out"
say "   the JWS verifies with the token's key (openssl)"

say "2. restart the token service: the token and the key persist"
stop_token
start_token
: >"$dir/wasihsm-service.log"
run_wasihsm "$dir/second.out"
grep -q 'token "wasihsm-rig" found' "$dir/token-service.log" || die "the token was not found again after the restart"
grep -q 'managed key "jws-signer" found' "$dir/wasihsm-service.log" || die "the managed key did not persist"
verify_jws "$dir/second.out"
cmp -s "$dir/first.out.pub" "$dir/second.out.pub" || die "the second run signed with another key"
! grep -rqf "$dir/secrets/token_pin" "$dir/wasihsm" "$dir"/*.log "$dir"/*.out || die "a PIN was written where it should not be"
say "   the same key signs again"

cat "$dir/second.out"
say "3. teardown"
say "OK: the JWS example signed through SoftHSM2 + p11-kit server + p11-kit-client.so, across a token service restart"
