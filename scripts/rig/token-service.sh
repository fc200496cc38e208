#!/usr/bin/env bash
# token-service.sh: the SoftHSM2 token service of the rig. The `token`
# container of docker/softhsm runs it, and so does `make rig-native`
# (scripts/rig/run.sh), natively, with other paths.
#
# On first start it initialises a token in the state directory (a volume in
# Docker); on every start it serves that token to other processes (other
# containers) through `p11-kit server` on a Unix socket, which they reach
# with p11-kit-client.so and P11_KIT_SERVER_ADDRESS=unix:path=SOCKET.
#
# Environment:
#   RIG_TOKEN_LABEL        token label (default: wasihsm)
#   RIG_TOKEN_PIN_FILE     file holding the user PIN (a Docker secret), or
#   RIG_TOKEN_PIN          the user PIN itself
#   RIG_TOKEN_SO_PIN_FILE  file holding the security officer PIN, or
#   RIG_TOKEN_SO_PIN       the SO PIN itself
#                          (the PINs are needed on first start only)
#   RIG_STATE              state directory: softhsm2.conf and tokens/
#                          (default: /var/lib/softhsm)
#   RIG_SOCKET             the server's socket (default: /run/p11-kit/pkcs11.sock)
#   SOFTHSM2_MODULE        libsofthsm2.so (default: found in the usual places)
#
# No PIN is ever printed; the PINs are passed to softhsm2-util once, at
# initialisation.
set -euo pipefail

say() { echo "token-service: $*" >&2; }
die() { say "$*"; exit 1; }

label=${RIG_TOKEN_LABEL:-wasihsm}
state=${RIG_STATE:-/var/lib/softhsm}
socket=${RIG_SOCKET:-/run/p11-kit/pkcs11.sock}

# secret NAME: the value of $NAME_FILE's file (first line), else of $NAME.
secret() {
	local file_var="$1_FILE" value_var="$1"
	if [[ -n ${!file_var:-} ]]; then
		[[ -r ${!file_var} ]] || die "$file_var: ${!file_var} is not readable"
		head -n 1 "${!file_var}" | tr -d '\r\n'
	else
		printf '%s' "${!value_var:-}"
	fi
}

find_module() {
	local m
	for m in "${SOFTHSM2_MODULE:-}" /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
		/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
		[[ -n $m && -f $m ]] && { echo "$m"; return 0; }
	done
	return 1
}

# The label goes into a PKCS#11 URI and a grep pattern unescaped.
[[ $label =~ ^[A-Za-z0-9._-]{1,32}$ ]] || die "RIG_TOKEN_LABEL \"$label\": want 1 to 32 letters, digits, '.', '_' or '-'"
command -v softhsm2-util >/dev/null || die "softhsm2-util not found (apt-get install softhsm2)"
command -v p11-kit >/dev/null || die "p11-kit not found (apt-get install p11-kit)"
module=$(find_module) || die "libsofthsm2.so not found (apt-get install softhsm2, or set SOFTHSM2_MODULE)"

umask 077
mkdir -p "$state/tokens"
export SOFTHSM2_CONF="$state/softhsm2.conf"
cat >"$SOFTHSM2_CONF" <<CONF
directories.tokendir = $state/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF

# Read whole before grep: `grep -q` in a pipe may stop softhsm2-util with
# SIGPIPE, and pipefail would take that for "no token" and make a second.
slots=$(softhsm2-util --show-slots 2>/dev/null) || die "softhsm2-util --show-slots failed"
if grep -q "Label: *$label *\$" <<<"$slots"; then
	say "token \"$label\" found in $state/tokens"
else
	pin=$(secret RIG_TOKEN_PIN)
	so_pin=$(secret RIG_TOKEN_SO_PIN)
	[[ -n $pin && -n $so_pin ]] || die "first start: token \"$label\" must be initialised, and that needs RIG_TOKEN_PIN(_FILE) and RIG_TOKEN_SO_PIN(_FILE)"
	# softhsm2-util takes the PINs as arguments only; they are visible in
	# /proc of this container for the second it runs.
	softhsm2-util --init-token --free --label "$label" --pin "$pin" --so-pin "$so_pin" >/dev/null ||
		die "softhsm2-util --init-token failed"
	unset pin so_pin
	say "token \"$label\" initialised in $state/tokens"
fi

# The socket's directory is shared with the clients (a volume in Docker).
# p11-kit server makes the socket writable by its owner only: clients
# connect as the same user (uid 10001 in both images).
mkdir -p "$(dirname "$socket")"
rm -f "$socket"
say "serving token \"$label\" on $socket (P11_KIT_SERVER_ADDRESS=unix:path=$socket)"
exec p11-kit server --provider "$module" -f -n "$socket" "pkcs11:token=$label"
