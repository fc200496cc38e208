#!/usr/bin/env bash
# devtoken.sh: make sure a SoftHSM2 development token exists under .state/
# (ignored by git) and write .state/wasihsm.yaml, a configuration that uses
# it. Prints the configuration's path. Installs softhsm2 with apt-get when it
# is missing and we are root; otherwise says what to install.
#
# The token's PINs are random, made once, and kept in .state/softhsm/ with
# mode 0600; the configuration names the PIN file (pin: file:PATH), never
# the PIN.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
state="$root/.state/softhsm"
label=wasihsm-dev

find_module() {
	for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
		/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
		[[ -f $m ]] && { echo "$m"; return 0; }
	done
	return 1
}

if ! command -v softhsm2-util >/dev/null || ! find_module >/dev/null; then
	if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
		echo "devtoken: installing softhsm2 (apt-get)" >&2
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >&2
		apt-get install -y -qq --no-install-recommends softhsm2 >&2
	else
		echo "devtoken: SoftHSM2 is missing. Install it, e.g. 'sudo apt-get install softhsm2' (Debian/Ubuntu)," >&2
		echo "devtoken: then run this again." >&2
		exit 1
	fi
fi
module=$(find_module)

umask 077
mkdir -p "$state/tokens"
conf="$state/softhsm2.conf"
cat >"$conf" <<CONF
directories.tokendir = $state/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
export SOFTHSM2_CONF=$conf

if ! softhsm2-util --show-slots 2>/dev/null | grep -q "Label: *$label *$"; then
	od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$state/pin"
	od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$state/so-pin"
	softhsm2-util --init-token --free --label "$label" \
		--pin "$(cat "$state/pin")" --so-pin "$(cat "$state/so-pin")" >&2
fi

cfg="$root/.state/wasihsm.yaml"
cat >"$cfg" <<YAML
# Made by scripts/devtoken.sh: the SoftHSM2 development token.
backend: pkcs11
fallback: allow
pkcs11:
  module: $module
  token: $label
  pin: file:$state/pin
YAML
# wasihsm refuses a configuration file that others could write, whatever
# the umask (and an older file's mode) made it.
chmod 0600 "$cfg"
echo "$cfg"
