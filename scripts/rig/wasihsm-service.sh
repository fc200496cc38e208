#!/usr/bin/env bash
# wasihsm-service.sh: the wasihsm service of the rig. The `wasihsm`
# container of docker/softhsm runs it, and so does `make rig-native`
# (scripts/rig/run.sh), natively, with other paths.
#
# It reaches the token of token-service.sh through p11-kit-client.so and
# the server's socket, writes a configuration for it, makes sure the managed
# key exists (`wasihsm keys generate` on first start, `wasihsm keys show`
# afterwards: the key is a token object and outlives every process), checks
# everything with `wasihsm doctor`, and runs the JWS example guest, which
# signs with the managed key. Its arguments go to the guest.
#
# Environment:
#   RIG_SOCKET          the token service's socket (default: /run/p11-kit/pkcs11.sock)
#   RIG_TOKEN_LABEL     token label (default: wasihsm)
#   RIG_PIN_FILE        file holding the user PIN (a Docker secret; required)
#   RIG_KEY_LABEL       the managed key's label and name (default: jws-signer)
#   RIG_STATE           where the configuration is written (default: /var/lib/wasihsm)
#   RIG_GUEST           the guest (default: /opt/wasihsm/jws.wasm)
#   RIG_CLIENT_MODULE   p11-kit-client.so (default: found in the usual places)
#   WASIHSM             the wasihsm binary (default: wasihsm on PATH)
set -euo pipefail

say() { echo "wasihsm-service: $*" >&2; }
die() { say "$*"; exit 1; }

socket=${RIG_SOCKET:-/run/p11-kit/pkcs11.sock}
label=${RIG_TOKEN_LABEL:-wasihsm}
pin_file=${RIG_PIN_FILE:-}
key=${RIG_KEY_LABEL:-jws-signer}
state=${RIG_STATE:-/var/lib/wasihsm}
guest=${RIG_GUEST:-/opt/wasihsm/jws.wasm}
wasihsm=${WASIHSM:-wasihsm}

find_client() {
	local m
	for m in "${RIG_CLIENT_MODULE:-}" /usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so \
		/usr/lib/aarch64-linux-gnu/pkcs11/p11-kit-client.so /usr/lib64/pkcs11/p11-kit-client.so \
		/usr/lib/pkcs11/p11-kit-client.so /usr/local/lib/pkcs11/p11-kit-client.so; do
		[[ -n $m && -f $m ]] && { echo "$m"; return 0; }
	done
	return 1
}

[[ -n $pin_file ]] || die "RIG_PIN_FILE must name the file that holds the token's user PIN"
[[ -r $pin_file ]] || die "RIG_PIN_FILE: $pin_file is not readable"
[[ -r $guest ]] || die "RIG_GUEST: $guest is not readable"
client=$(find_client) || die "p11-kit-client.so not found (apt-get install p11-kit-modules, or set RIG_CLIENT_MODULE)"

# The token service may still be starting: wait for its socket.
for _ in $(seq 1 150); do
	[[ -S $socket ]] && break
	sleep 0.2
done
[[ -S $socket ]] || die "no token service socket at $socket after 30s"
export P11_KIT_SERVER_ADDRESS="unix:path=$socket"

# The configuration: the token through p11-kit, nothing in software but
# keyless work, and the PIN read from its file when wasihsm logs in.
umask 077
mkdir -p "$state"
config="$state/wasihsm.yaml"
cat >"$config.base" <<YAML
# Written by scripts/rig/wasihsm-service.sh.
backend: pkcs11
fallback: public-only
pkcs11:
  module: $client
  token: $label
  pin: file:$pin_file
YAML
export WASIHSM_CONFIG="$config.base"
guest_name=$(basename "$guest")
if "$wasihsm" keys show --label "$key" --algorithm ES256 --guest "$guest_name" --operations sign,export-public --print config >"$config.key" 2>/dev/null; then
	say "managed key \"$key\" found on token \"$label\""
else
	"$wasihsm" keys generate --algorithm ES256 --label "$key" --guest "$guest_name" \
		--operations sign,export-public --print config >"$config.key"
fi
cat "$config.base" "$config.key" >"$config"
rm -f "$config.base" "$config.key"
export WASIHSM_CONFIG="$config"

"$wasihsm" doctor >&2 || die "wasihsm doctor found a problem (above)"
say "running $guest_name with the managed key \"$key\""
exec "$wasihsm" run "$guest" -key "$key" "$@"
