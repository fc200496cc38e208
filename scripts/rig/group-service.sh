#!/usr/bin/env bash
# group-service.sh: wasihsm of the group rig (docker/softhsm/
# docker-compose.group.yml), in the wasihsm image. It reaches the token
# services' sockets (/run/p11-kit/token-N/pkcs11.sock) through
# p11-kit-proxy.so, one module file per server in the user's p11-kit
# configuration, and uses them as one group of tokens (pkcs11.tokens).
#
#   group-service.sh provision   imports the escrowed managed keys into
#                                every token of the group (wasihsm keys
#                                import: "sig", ES256, from
#                                /run/escrow/sig.pem; "mac", HS256, from
#                                /run/escrow/mac.key), writes the
#                                configuration and runs wasihsm doctor
#   group-service.sh load        runs RIG_GROUP_GUESTS load guests
#                                (groupguest.wasm, each its own `wasihsm
#                                run` with its own metrics address) for
#                                RIG_GROUP_SECONDS, watches every token's
#                                state in each one's metrics, and prints
#                                the guests' calls and failed calls
#
# load writes into $RIG_STATE/load/: guest-I.out (each result), guest-I.err,
# watch.log (every 0.1 s, "EPOCH GUEST TOKEN STATE" for each guest and
# token, read from wasihsm_group_token_state), started (once every guest
# has a result: the time the faults may begin) and summary.
#
# Environment:
#   RIG_PIN_FILE        the tokens' user PIN (a Docker secret; required)
#   RIG_GROUP_TOKENS    the tokens' labels, in group order (default: group-0 group-1 group-2)
#   RIG_GROUP_GUESTS    load guests (default 3)
#   RIG_GROUP_SECONDS   how long each guest runs (default 40)
#   RIG_GROUP_CALL_TIMEOUT  pkcs11.call_timeout (default 5s: each attempt on
#                       one token gets a quarter of it)
#   RIG_STATE           state directory (default: /var/lib/wasihsm)
#   RIG_GROUP_GUEST     the load guest (default: /opt/wasihsm/groupguest.wasm)
set -euo pipefail

say() { echo "group-service: $*" >&2; }
die() { say "$*"; exit 1; }

pin_file=${RIG_PIN_FILE:-}
read -r -a labels <<<"${RIG_GROUP_TOKENS:-group-0 group-1 group-2}"
guests=${RIG_GROUP_GUESTS:-3}
seconds=${RIG_GROUP_SECONDS:-40}
state=${RIG_STATE:-/var/lib/wasihsm}
guest=${RIG_GROUP_GUEST:-/opt/wasihsm/groupguest.wasm}
config=$state/wasihsm.yaml
load=$state/load

[[ -n $pin_file && -r $pin_file ]] || die "RIG_PIN_FILE must name a readable file holding the tokens' user PIN"
proxy=
for m in /usr/lib/x86_64-linux-gnu/p11-kit-proxy.so /usr/lib/aarch64-linux-gnu/p11-kit-proxy.so /usr/lib64/p11-kit-proxy.so; do
	[[ -f $m ]] && { proxy=$m; break; }
done
[[ -n $proxy ]] || die "p11-kit-proxy.so not found (apt-get install p11-kit-modules)"
umask 077

# One module file per token server: p11-kit-proxy reads the user's
# module files (~/.config/pkcs11/modules) when the process loads it.
modules=${HOME:?}/.config/pkcs11/modules
mkdir -p "$modules"
for i in "${!labels[@]}"; do
	socket=/run/p11-kit/token-$i/pkcs11.sock
	for _ in $(seq 1 150); do
		[[ -S $socket ]] && break
		sleep 0.2
	done
	[[ -S $socket ]] || die "no token service socket at $socket after 30 s"
	echo "remote: unix:path=$socket" >"$modules/rig-token-$i.module"
done

base() {
	cat <<YAML
# Written by scripts/rig/group-service.sh.
backend: pkcs11
fallback: deny
pkcs11:
  module: $proxy
  pin: file:$pin_file
  call_timeout: ${RIG_GROUP_CALL_TIMEOUT:-5s}
  policy: balance
  tokens:
YAML
	for label in "${labels[@]}"; do
		echo "    - token: \"pkcs11:token=$label\""
	done
}

case ${1:-} in
provision)
	base >"$config.base"
	export WASIHSM_CONFIG=$config.base
	[[ -r /run/escrow/sig.pem && -r /run/escrow/mac.key ]] || die "the escrowed keys are not in /run/escrow"
	{
		echo "keys:"
		wasihsm keys import --algorithm ES256 --label sig --id 01 --guest "$guest" --print config /run/escrow/sig.pem | sed -n '/^  /p'
		wasihsm keys import --algorithm HS256 --label mac --id 02 --guest "$guest" --print config /run/escrow/mac.key | sed -n '/^  /p'
	} >"$config.keys"
	cat "$config.base" "$config.keys" >"$config"
	rm -f "$config.base" "$config.keys"
	export WASIHSM_CONFIG=$config
	wasihsm keys list
	wasihsm doctor >&2 || die "wasihsm doctor found a problem (above)"
	;;
load)
	[[ -r $config ]] || die "no configuration: run group-service.sh provision first"
	export WASIHSM_CONFIG=$config
	rm -rf "$load"
	mkdir -p "$load"
	pids=()
	for ((g = 0; g < guests; g++)); do
		wasihsm run --metrics-addr "127.0.0.1:$((9464 + g))" "$guest" "$g" "$seconds" >"$load/guest-$g.out" 2>"$load/guest-$g.err" &
		pids+=($!)
	done
	say "$guests guests of $(basename "$guest") running for $seconds s"
	# metrics G: guest G's metrics (bash's /dev/tcp: the image has no HTTP client).
	metrics() {
		timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3 && cat <&3' _ "$((9464 + $1))" 2>/dev/null || true
	}
	running() { local p; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
	while running; do
		if [[ ! -e $load/started ]]; then
			all=1
			for ((g = 0; g < guests; g++)); do
				grep -q '^\(sig\|mac\|err\) ' "$load/guest-$g.out" 2>/dev/null || all=
			done
			[[ -n $all ]] && date +%s.%N >"$load/started"
		fi
		for ((g = 0; g < guests; g++)); do
			now=$(date +%s.%N)
			metrics "$g" | sed -n 's/^wasihsm_group_token_state{state="\([a-z]*\)",token="\([0-9]*\)"} 1$/\2 \1/p' |
				while read -r token st; do echo "$now $g $token $st"; done >>"$load/watch.log"
		done
		sleep 0.1
	done
	status=0
	for p in "${pids[@]}"; do wait "$p" || status=1; done
	{
		for ((g = 0; g < guests; g++)); do
			echo "guest $g: $(grep -c '^\(sig\|mac\) ' "$load/guest-$g.out") results, $(grep -c '^err ' "$load/guest-$g.out") failed, $(grep '^done ' "$load/guest-$g.out" || echo 'did not finish')"
		done
	} | tee "$load/summary"
	((status == 0)) || { cat "$load"/guest-*.err >&2; die "a guest's wasihsm failed"; }
	;;
*)
	die "usage: group-service.sh provision|load"
	;;
esac
