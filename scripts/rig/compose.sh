#!/usr/bin/env bash
# compose.sh: `make rig`. The rig of docker/softhsm/docker-compose.yml, as
# containers, in a Compose project of its own (scripts/rig/compose-lib.sh),
# checked from outside:
#
#   0. the base images are there, made here when no registry answers
#      (docker/softhsm/base-images.sh); random PINs as the secrets; the
#      images are built; without its PIN secrets the token service refuses
#      its first start and makes no token;
#   1. `docker-compose up --build --exit-code-from wasihsm`: the token is
#      initialised, wasihsm generates the managed key, doctor passes, the
#      guest's JWS verifies (openssl) with the public key it printed;
#   2. both run as uid 10001, and the token's socket is reachable by that
#      user only (another uid in the wasihsm image finds no token);
#   3. `docker-compose restart token`: the token and the key persist, and
#      wasihsm (a new container) signs with the same key again;
#   4. the token container is killed: wasihsm fails, saying why; the token
#      container is started again and wasihsm signs again;
#   5. no PIN in any log, output or wasihsm's state volume;
#   6. teardown: nothing of the run is left in the engine but the base
#      images.
#
# Environment: RIG_KEEP=1 keeps the logs and outputs (the project is torn
# down anyway). Needs a Docker engine and docker-compose; root when a base
# image must be made (debootstrap).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { echo "rig: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }
# shellcheck source=scripts/rig/lib.sh
. "$here/lib.sh"
# shellcheck source=scripts/rig/compose-lib.sh
. "$here/compose-lib.sh"

export RIG_TOKEN_LABEL=wasihsm-rig
key=jws-signer # RIG_KEY_LABEL of the compose file
start=$SECONDS

say "0. base images, secrets, images"
rig_init "$rig_root/docker/softhsm/docker-compose.yml"
dir=$rig_dir
rig_build
say "   without its PIN secrets the token service refuses its first start"
if compose run --rm --no-deps -T -e RIG_TOKEN_PIN_FILE= -e RIG_TOKEN_SO_PIN_FILE= token >"$dir/no-pins.log" 2>&1; then
	die "the token service started without PINs"
fi
grep -q "needs RIG_TOKEN_PIN(_FILE) and RIG_TOKEN_SO_PIN(_FILE)" "$dir/no-pins.log" || die "no clear error without PINs: $(cat "$dir/no-pins.log")"
tokens=$(compose run --rm --no-deps -T --entrypoint ls token -A /var/lib/softhsm/tokens 2>>"$dir/no-pins.log") ||
	die "cannot list the tokens volume: $(cat "$dir/no-pins.log")"
[[ -z $tokens ]] || die "a token was made without PINs"

say "1. docker-compose up --build --exit-code-from wasihsm"
compose up --build --exit-code-from wasihsm >"$dir/up.log" 2>&1 || {
	cat "$dir/up.log" >&2
	die "docker-compose up failed"
}
grep -v -E '^(Step [0-9]+/|Building |Successfully |Removing intermediate | ---> )' "$dir/up.log" >&2
wasihsm_id=$(cid wasihsm)
docker logs "$wasihsm_id" >"$dir/first.out" 2>"$dir/first.err"
docker logs "$(cid token)" >"$dir/token.log" 2>&1
grep -q "initialised" "$dir/token.log" || die "the token service did not initialise the token"
grep -q "generated ES256 key \"$key\"" "$dir/first.err" || die "the managed key was not generated"
grep -q "^PASS  managed key \"$key\"" "$dir/first.err" || die "wasihsm doctor did not pass the managed key"
verify_jws "$dir/first.out"
say "   the JWS verifies with the token's key (openssl)"

say "2. users and the socket"
compose up -d token >/dev/null 2>&1
wait_healthy token
for service in token wasihsm; do
	user=$(docker image inspect -f '{{.Config.User}}' "wasihsm-rig/$service:$RIG_TAG")
	[[ $user == wasihsm ]] || die "the $service image runs as \"$user\", not wasihsm"
done
[[ $(compose exec -T token id -u) == 10001 ]] || die "the token service does not run as uid 10001"
compose exec -T token stat -c '%A %u:%g %n' /run/p11-kit /run/p11-kit/pkcs11.sock | tee "$dir/socket.txt" | sed 's/^/     /' >&2
grep -q '^drwxrwx--- 10001:10001 /run/p11-kit$' "$dir/socket.txt" || die "the socket's directory is open to others"
# slots through the socket, as the wasihsm user and as another one.
slots='exec wasihsm slots --backend pkcs11 --pkcs11-module "$(ls /usr/lib/*/pkcs11/p11-kit-client.so)"'
address=P11_KIT_SERVER_ADDRESS=unix:path=/run/p11-kit/pkcs11.sock
compose run --rm --no-deps -T -e "$address" --entrypoint sh wasihsm -c "$slots" >"$dir/slots.out" 2>&1 ||
	{ cat "$dir/slots.out" >&2; die "the wasihsm user cannot list the token"; }
grep -q "label *$RIG_TOKEN_LABEL" "$dir/slots.out" || die "the wasihsm user does not see the token: $(cat "$dir/slots.out")"
compose run --rm --no-deps -T -u 10002:10002 -e "$address" --entrypoint sh wasihsm -c "ls /run/p11-kit; $slots" >"$dir/slots-other.out" 2>&1 || true
grep -q '^module ' "$dir/slots-other.out" || die "uid 10002 did not get as far as loading the module: $(cat "$dir/slots-other.out")"
! grep -q '^slot ' "$dir/slots-other.out" || die "uid 10002 reaches the token"
say "   uid 10001 lists the token; uid 10002 gets no slot ($(grep -m 1 'Permission denied' "$dir/slots-other.out" || echo "its socket connection refused"))"

say "3. docker-compose restart token: the token and the key persist"
compose restart token >/dev/null 2>&1
wait_healthy token
compose run --rm --no-deps -T wasihsm >"$dir/second.out" 2>"$dir/second.err" ||
	{ cat "$dir/second.err" >&2; die "wasihsm failed after the token restarted"; }
docker logs "$(cid token)" >"$dir/token.log" 2>&1
grep -q "token \"$RIG_TOKEN_LABEL\" found" "$dir/token.log" || die "the token was not found again after the restart"
grep -q "managed key \"$key\" found" "$dir/second.err" || die "the managed key did not persist"
verify_jws "$dir/second.out"
cmp -s "$dir/first.out.pub" "$dir/second.out.pub" || die "the second run signed with another key"
say "   the same key signs again"

say "4. docker-compose kill token: wasihsm fails, and says why"
compose kill token >/dev/null 2>&1
compose ps token | sed 's/^/     /' >&2
t=$SECONDS
if compose run --rm --no-deps -T wasihsm >"$dir/dead.out" 2>"$dir/dead.err"; then
	die "wasihsm signed with its token container killed"
fi
grep -v '^Creating ' "$dir/dead.err" | sed 's/^/     | /' >&2
grep -q "^wasihsm: .*$RIG_TOKEN_LABEL" "$dir/dead.err" || die "wasihsm does not name the token it misses"
[[ ! -s $dir/dead.out ]] || die "the guest wrote output with its token down"
say "   it failed after $((SECONDS - t)) s; docker-compose start token"
compose start token >/dev/null 2>&1
wait_healthy token
compose run --rm --no-deps -T wasihsm >"$dir/third.out" 2>"$dir/third.err" ||
	{ cat "$dir/third.err" >&2; die "wasihsm failed after the token container came back"; }
verify_jws "$dir/third.out"
cmp -s "$dir/first.out.pub" "$dir/third.out.pub" || die "the third run signed with another key"
say "   the same key signs again"

say "5. no PIN in the logs, the outputs or wasihsm's state volume"
compose logs --no-color >"$dir/compose.log" 2>&1
if [[ -r $RIG_SECRETS/token_pin ]]; then
	status=0
	grep -qFf "$RIG_SECRETS/token_pin" "$dir"/*.log "$dir"/*.out "$dir"/*.err || status=$?
	((status == 1)) || die "a PIN is in a log or an output (grep: $status)"
fi
compose run --rm --no-deps -T --entrypoint sh wasihsm -c 'grep -rqFf /run/secrets/token_pin /var/lib/wasihsm; [ $? -eq 1 ]' 2>>"$dir/pin-check.log" ||
	die "a PIN is in wasihsm's state volume"

cat "$dir/third.out"
say "OK: the JWS example signed through the token container (SoftHSM2 + p11-kit server) and p11-kit-client.so, across a restart and a kill of the token container, in $((SECONDS - start)) s"
