#!/usr/bin/env bash
# make-secrets.sh [DIR]: the secrets of docker-compose.yml, made once: random
# user and SO PINs in DIR (default docker/softhsm/secrets/, which git and
# the build context ignore; compose takes DIR as RIG_SECRETS), mode 0600, owned
# by uid 10001, the user the containers run as (Compose mounts secrets
# files with their owner and mode, and `wasihsm doctor` fails a PIN file
# that others can read). Existing secrets are kept: the token was
# initialised with them.
set -euo pipefail

dir=${1:-"$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/secrets"}
umask 077
mkdir -p "$dir"
for name in token_pin token_so_pin; do
	if [[ -s $dir/$name ]]; then
		echo "make-secrets: $dir/$name exists; kept" >&2
		continue
	fi
	od -An -N12 -tx1 /dev/urandom | tr -d ' \n' >"$dir/$name"
	echo "make-secrets: wrote $dir/$name" >&2
done
if [[ $(id -u) -eq 0 ]]; then
	chown 10001:10001 "$dir"/token_pin "$dir"/token_so_pin
else
	echo "make-secrets: now give them to the containers' user: sudo chown 10001:10001 $dir/token_pin $dir/token_so_pin" >&2
fi
