#!/usr/bin/env bash
# compose-group.sh: `make rig-group`. The group rig of
# docker/softhsm/docker-compose.group.yml, as containers, in a Compose
# project of its own (scripts/rig/compose-lib.sh):
#
#   0. base images, secrets, images (those of `make rig`, one Dockerfile);
#      the managed keys' escrowed material: an ES256 key (openssl) and an
#      HMAC key, in the run's temporary directory;
#   1. three token services (token-0..2), each with its own token and
#      socket volume; `group-service.sh provision` imports the same keys
#      into all three through p11-kit-proxy (wasihsm keys import) and
#      doctor passes;
#   2. users and sockets: uid 10001 everywhere, each socket's directory
#      open to that user only;
#   3. load: RIG_GROUP_GUESTS guests (3) sign (ES256) and MAC (HS256) with
#      the managed keys, each in its own `wasihsm run`; meanwhile token-0
#      is killed (docker kill, SIGKILL) and started again, then token-1 is
#      paused (docker pause: a hang) and unpaused;
#   4. checked from inside the wasihsm container: 0 failed guest calls,
#      every token left `healthy` during its fault (the fault was felt), and
#      rejoined (healthy in every guest's wasihsm) within 5 s of being back;
#      some results verify (openssl, with the escrowed keys);
#   5. teardown: nothing of the run is left but the base images.
#
# Environment: RIG_KEEP=1 keeps the logs and outputs. Needs a Docker engine
# and docker-compose; root when a base image must be made.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { echo "rig-group: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }
# shellcheck source=scripts/rig/lib.sh
. "$here/lib.sh"
# shellcheck source=scripts/rig/compose-lib.sh
. "$here/compose-lib.sh"

rejoin_within=5
start=$SECONDS

say "0. base images, secrets, images"
rig_init "$rig_root/docker/softhsm/docker-compose.group.yml"
dir=$rig_dir
rig_build
escrow=$dir/escrow
(umask 077 && mkdir -p "$escrow" &&
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$escrow/sig.pem" 2>/dev/null &&
	openssl pkey -in "$escrow/sig.pem" -pubout -out "$escrow/sig.pub" &&
	openssl rand 32 >"$escrow/mac.key") || die "cannot make the escrowed keys"
chmod 0755 "$escrow"
mac_hex=$(od -An -v -tx1 "$escrow/mac.key" | tr -d ' \n') # before the key is the containers' user's
if [[ $(id -u) -eq 0 ]]; then
	chown 10001:10001 "$escrow"/sig.pem "$escrow"/mac.key
else
	docker run --rm --network none -v "$escrow:/s" debian:bookworm-slim chown 10001:10001 /s/sig.pem /s/mac.key
fi

say "1. three token services; the same keys imported into each (wasihsm keys import)"
compose up -d token-0 token-1 token-2 >"$dir/up.log" 2>&1 || { cat "$dir/up.log" >&2; die "the token services did not start"; }
for i in 0 1 2; do wait_healthy "token-$i"; done
compose run --rm --no-deps -T -v "$escrow:/run/escrow:ro" wasihsm provision >"$dir/provision.out" 2>"$dir/provision.err" ||
	{ cat "$dir/provision.out" "$dir/provision.err" >&2; die "provisioning failed"; }
sed 's/^/     /' "$dir/provision.out" >&2
grep -E '^(PASS|WARN|FAIL) .*(token|managed key)|passed' "$dir/provision.err" | sed 's/^/     /' >&2
grep -q '^PASS  managed key "sig"' "$dir/provision.err" || die "doctor did not pass the managed key sig"
grep -q '^PASS  managed key "mac"' "$dir/provision.err" || die "doctor did not pass the managed key mac"

say "2. users and sockets"
for i in 0 1 2; do
	[[ $(compose exec -T "token-$i" id -u) == 10001 ]] || die "token-$i does not run as uid 10001"
	compose exec -T "token-$i" stat -c '%A %u:%g %n' /run/p11-kit /run/p11-kit/pkcs11.sock | sed "s/^/     token-$i: /" | tee -a "$dir/socket.txt" >&2
done
[[ $(grep -c ' drwxrwx--- 10001:10001 /run/p11-kit$' "$dir/socket.txt") == 3 ]] || die "a socket's directory is open to others"
compose run --rm --no-deps -T -u 10002:10002 --entrypoint sh wasihsm -c 'for i in 0 1 2; do cat /run/p11-kit/token-$i/pkcs11.sock; done' >"$dir/other.out" 2>&1 || true
[[ $(grep -c 'Permission denied' "$dir/other.out") == 3 ]] || die "uid 10002 reaches a socket: $(cat "$dir/other.out")"
say "   uid 10002 in the wasihsm image: $(grep -m 1 'Permission denied' "$dir/other.out")"

say "3. load: guests sign and MAC; token-0 killed and started, token-1 paused and unpaused"
compose up -d --no-deps wasihsm >>"$dir/up.log" 2>&1 || { cat "$dir/up.log" >&2; die "wasihsm did not start"; }
wasihsm_id=$(cid wasihsm)
inside() { docker exec "$wasihsm_id" "$@"; }
for _ in $(seq 1 300); do
	inside test -e /var/lib/wasihsm/load/started 2>/dev/null && break
	[[ $(docker inspect -f '{{.State.Running}}' "$wasihsm_id") == true ]] || { docker logs "$wasihsm_id" >&2; die "wasihsm ended before the load began"; }
	sleep 0.2
done
inside test -e /var/lib/wasihsm/load/started || die "the guests did not begin within 60 s"
now() { date +%s.%N; }
events=$dir/events
say "   every guest has results; faults begin"
sleep 2
t=$(now); docker kill "$(cid token-0)" >/dev/null; echo "kill 0 $t" >>"$events"
say "   docker kill token-0; what an operator sees meanwhile:"
sleep 1
compose ps token-0 | sed 's/^/     /' >&2
# doctor, as an operator runs it in the wasihsm container (exit 1: a check failed)
inside wasihsm doctor --config /var/lib/wasihsm/wasihsm.yaml 2>&1 | grep -E '^(PASS|WARN|FAIL) .*(token|managed key)|passed' | sed 's/^/     | /' >&2 || true
inside bash -c 'exec 3<>/dev/tcp/127.0.0.1/9464 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 && cat <&3' |
	grep -E '^wasihsm_(group_token_state\{.*token="0"\} 1|token_healthy )' | sed 's/^/     | /' >&2 || true
sleep 1
docker start "$(cid token-0)" >/dev/null
for _ in $(seq 1 100); do compose exec -T token-0 test -S /run/p11-kit/pkcs11.sock 2>/dev/null && break; sleep 0.05; done
t=$(now); echo "back 0 $t" >>"$events"
say "   docker start token-0: its server is back"
sleep 3
t=$(now); docker pause "$(cid token-1)" >/dev/null; echo "pause 1 $t" >>"$events"
say "   docker pause token-1"
sleep 4
docker unpause "$(cid token-1)" >/dev/null
t=$(now); echo "back 1 $t" >>"$events"
say "   docker unpause token-1"
rc=$(docker wait "$wasihsm_id")
docker logs "$wasihsm_id" >"$dir/load.out" 2>"$dir/load.err"
[[ $rc == 0 ]] || { cat "$dir/load.out" "$dir/load.err" >&2; die "the load ended with status $rc"; }

say "4. the figures, from inside the wasihsm container"
# The container has ended; its state volume is read by a new one.
compose run --rm --no-deps -T --entrypoint sh wasihsm -c 'cd /var/lib/wasihsm/load && tar cf - .' | tar xf - -C "$dir" --one-top-level=load ||
	die "cannot read the load's results"
sed 's/^/     /' "$dir/load/summary" >&2
calls=$(cat "$dir"/load/guest-*.out | grep -c '^\(sig\|mac\|err\) ' || true)
failed=$(cat "$dir"/load/guest-*.out | grep -c '^err ' || true)
finished=$(grep -l '^done ' "$dir"/load/guest-*.out | wc -l)
guests=$(ls "$dir"/load/guest-*.out | wc -l)
((finished == guests)) || die "$((guests - finished)) guest(s) did not finish"
((calls > 0)) || die "no guest call"
# A sample of results verifies with the escrowed keys (openssl).
verify=0
for out in "$dir"/load/guest-*.out; do
	g=${out##*guest-}; g=${g%.out}
	while read -r op round hex _; do
		msg="groupguest $g round $round"
		case $op in
		mac)
			want=$(printf '%s' "$msg" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$mac_hex" -r | cut -d' ' -f1)
			[[ $want == "$hex" ]] || die "guest $g round $round: the MAC does not verify"
			;;
		sig)
			printf '%s' "$msg" >"$dir/msg"
			r=$(der_int "${hex:0:64}"); s=$(der_int "${hex:64:64}")
			body="$r$s"
			printf '30%02x%s' $((${#body} / 2)) "$body" | sed 's/../\\x&/g' | xargs -0 printf '%b' >"$dir/sig.der"
			openssl dgst -sha256 -verify "$escrow/sig.pub" -signature "$dir/sig.der" "$dir/msg" >/dev/null ||
				die "guest $g round $round: the signature does not verify"
			;;
		esac
		verify=$((verify + 1))
	done < <(grep -E '^(sig|mac) ' "$out" | sed -n '1,2p;$p')
done
say "   $calls guest calls on the managed keys, $failed failed; $verify results checked with openssl"
((failed == 0)) || die "$failed guest call(s) failed with a token healthy"
# Rejoin: from watch.log ("EPOCH GUEST TOKEN STATE"), per token, the first
# moment after it was back at which every guest's wasihsm has it healthy.
for i in 0 1; do
	from=$(awk -v i=$i '$2 == i && ($1 == "kill" || $1 == "pause") { print $3 }' "$events")
	back=$(awk -v i=$i '$1 == "back" && $2 == i { print $3 }' "$events")
	felt=$(awk -v i=$i -v a="$from" -v b="$back" '$3 == i && $1 >= a && $1 <= b + 0.5 && $4 != "healthy" { n++ } END { print n + 0 }' "$dir/load/watch.log")
	((felt > 0)) || die "token $i never left healthy during its fault: the fault was not felt"
	took=$(awk -v i=$i -v b="$back" -v n="$guests" '
		$3 != i || $1 < b { next }
		{ st[$2] = $4
		  ok = 1; for (g = 0; g < n; g++) if (st[g] != "healthy") ok = 0
		  if (ok) { printf "%.2f\n", $1 - b; found = 1; exit } }
		END { if (!found) print "never" }' "$dir/load/watch.log")
	[[ $took != never ]] || die "token $i did not rejoin"
	awk -v t="$took" -v w=$rejoin_within 'BEGIN { exit !(t <= w) }' || die "token $i rejoined after $took s (want at most $rejoin_within s)"
	say "   token $i: not healthy in $felt samples during its fault; healthy in every guest's wasihsm $took s after it was back"
done
cat "$dir/load/summary"
say "OK: $calls guest calls on the group's managed keys through a kill and a pause of token containers, $failed failed; in $((SECONDS - start)) s"
