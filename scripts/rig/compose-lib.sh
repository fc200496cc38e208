# compose-lib.sh: one run of a compose rig (sourced; bash), for
# scripts/rig/compose.sh and any other compose file of the rig: a project
# of its own, built and torn down without a trace.
#
#   rig_init COMPOSE_FILE   makes the base images (docker/softhsm/base-images.sh)
#                           and random PINs, serves the Go modules (rig_goproxy),
#                           and sets the run's project; its
#                           EXIT trap tears everything down and checks that
#                           nothing is left
#   rig_build               docker-compose build, timed
#   compose ARGS...         docker-compose on the run's project
#   cid SERVICE             the container of SERVICE
#   wait_healthy SERVICE    until SERVICE's healthcheck passes
#
# The run's project is wasihsm-rig-RANDOM (COMPOSE_PROJECT_NAME): its
# containers, volumes and network carry Compose's project label, its images
# are tagged with the project (RIG_TAG), and every layer it builds, the
# intermediate ones too, carries io.wasihsm.rig.run=PROJECT (RIG_RUN, the
# Dockerfile's LABEL). The teardown removes all of these and then looks
# for each again; only the base images stay, for the next run.
#
# Set by rig_init: rig_dir (a temporary directory: secrets/, logs, outputs),
# rig_root (the repository). The caller defines say and die.

rig_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
rig_dir=
rig_compose_file=
rig_goproxy_pid=
rig_pid=
rig_torn_down=

compose() { docker-compose --ansi never -f "$rig_compose_file" "$@"; }

# cid SERVICE: the id of SERVICE's container (running or not).
cid() {
	local id
	id=$(compose ps -q "$1")
	[[ -n $id ]] || die "no container for service $1"
	echo "$id"
}

# wait_healthy SERVICE: until SERVICE's healthcheck passes (30 s at most).
wait_healthy() {
	local id status=
	id=$(cid "$1")
	for _ in $(seq 1 60); do
		status=$(docker inspect -f '{{.State.Health.Status}}' "$id")
		[[ $status == healthy ]] && return 0
		sleep 0.5
	done
	die "$1 is not healthy after 30 s ($status)"
}

# rig_leftovers: what of this run is still in the engine, one line each.
rig_leftovers() {
	local project=$COMPOSE_PROJECT_NAME
	docker ps -aq --filter "label=com.docker.compose.project=$project" | sed 's/^/container /'
	docker ps -aq --filter "label=io.wasihsm.rig.run=$project" | sed 's/^/container /'
	docker volume ls -q --filter "label=com.docker.compose.project=$project" | sed 's/^/volume /'
	docker volume ls -q --filter "name=${project}_" | sed 's/^/volume /'
	docker network ls -q --filter "label=com.docker.compose.project=$project" | sed 's/^/network /'
	docker images -aq --filter "label=io.wasihsm.rig.run=$project" | sed 's/^/image /'
	docker images --format '{{.Repository}}:{{.Tag}}' | grep -F ":$project" | sed 's/^/image /' || true
}

rig_teardown() {
	local rc=$? ids left
	# Once, and by the shell that set the trap (not by a subshell of it).
	[[ $BASHPID == "$rig_pid" && -z $rig_torn_down ]] || exit "$rc"
	rig_torn_down=1
	set +e
	if [[ -n $rig_goproxy_pid ]]; then
		kill "$rig_goproxy_pid" 2>/dev/null
		wait "$rig_goproxy_pid" 2>/dev/null
	fi
	if [[ -n ${COMPOSE_PROJECT_NAME:-} ]]; then
		say "teardown: docker-compose down --volumes --rmi all --remove-orphans"
		# A paused container (a test of hangs) does not stop.
		ids=$(docker ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" --filter status=paused)
		[[ -z $ids ]] || docker unpause $ids >/dev/null
		compose down --volumes --rmi all --remove-orphans >"$rig_dir/down.log" 2>&1 || cat "$rig_dir/down.log" >&2
		# What a failed build left: its containers and layers.
		ids=$(docker ps -aq --filter "label=io.wasihsm.rig.run=$COMPOSE_PROJECT_NAME")
		[[ -z $ids ]] || docker rm -f $ids >/dev/null
		ids=$(docker images -aq --filter "label=io.wasihsm.rig.run=$COMPOSE_PROJECT_NAME")
		[[ -z $ids ]] || docker rmi -f $ids >/dev/null 2>&1
		left=$(rig_leftovers | sort -u)
		if [[ -n $left ]]; then
			say "FAIL: the teardown left:"$'\n'"$left"
			rc=1
		else
			say "teardown: no container, volume, network or image of $COMPOSE_PROJECT_NAME is left (base images kept: $(rig_base_images))"
		fi
	fi
	if [[ ${RIG_KEEP:-} == 1 ]]; then
		say "logs and outputs kept in $rig_dir"
	else
		rm -rf "$rig_dir"
	fi
	exit "$rc"
}

# rig_base_images: the Dockerfile's base images.
rig_base_images() { "$rig_root/docker/softhsm/base-images.sh" --list | paste -sd ' '; }

# rig_init COMPOSE_FILE
rig_init() {
	local tool
	for tool in docker docker-compose openssl base64 od; do
		command -v "$tool" >/dev/null || die "$tool not found (apt-get install docker.io docker-compose openssl)"
	done
	docker info >/dev/null 2>&1 || die "no Docker engine answers (make rig-native runs the rig without one)"
	rig_compose_file=$1
	rig_dir=$(mktemp -d "${TMPDIR:-/tmp}/wasihsm-rig.XXXXXX")
	chmod 0755 "$rig_dir" # the secrets' directory is bind-mounted
	export COMPOSE_PROJECT_NAME
	COMPOSE_PROJECT_NAME=wasihsm-rig-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	export RIG_TAG=$COMPOSE_PROJECT_NAME RIG_RUN=$COMPOSE_PROJECT_NAME RIG_SECRETS=$rig_dir/secrets
	export RIG_VERSION
	RIG_VERSION=$(git -C "$rig_root" describe --tags --always --dirty 2>/dev/null || echo devel)
	# The classic builder, which labels every layer it makes (RIG_RUN);
	# Debian's docker-compose 1.29 builds with it by default.
	export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
	rig_pid=$BASHPID
	trap rig_teardown EXIT
	trap 'exit 130' INT TERM
	say "project $COMPOSE_PROJECT_NAME, $rig_compose_file"

	say "base images: docker/softhsm/base-images.sh"
	"$rig_root/docker/softhsm/base-images.sh"

	say "secrets: random PINs in $RIG_SECRETS (docker/softhsm/make-secrets.sh)"
	"$rig_root/docker/softhsm/make-secrets.sh" "$RIG_SECRETS" 2>/dev/null
	if [[ $(id -u) -ne 0 ]]; then
		# Not root: the containers' user gets them through a container.
		docker run --rm --network none -v "$RIG_SECRETS:/s" debian:bookworm-slim \
			chown 10001:10001 /s/token_pin /s/token_so_pin
	fi
	rig_goproxy
}

# rig_goproxy: the Go build's modules from this machine's module cache.
# Containers here reach Debian's mirror (plain HTTP, checked by apt's
# signatures) but not proxy.golang.org over TLS, and no registry may hold
# a builder image with the modules: so this machine downloads them (go mod
# download, as its own builds do), and serves its module cache's download
# directory, which is laid out as a GOPROXY, on the Docker bridge's
# gateway for the run (python3's http.server: docker-compose needs python3
# anyway). The build checks every module against go.sum as usual. Without
# Go here, the build uses Go's default proxy.
rig_goproxy() {
	local bridge gateway port=
	command -v go >/dev/null && command -v python3 >/dev/null && command -v ip >/dev/null || {
		say "modules: no go, python3 or ip here; the build downloads them itself"
		return 0
	}
	(cd "$rig_root" && go mod download) || die "go mod download failed"
	# The default bridge's gateway: this machine's address on its interface.
	bridge=$(docker network inspect bridge -f '{{index .Options "com.docker.network.bridge.name"}}')
	gateway=$(ip -4 -o addr show dev "${bridge:-docker0}" 2>/dev/null | awk '{ sub(/\/.*/, "", $4); print $4; exit }')
	[[ -n $gateway ]] || die "no address on the Docker bridge ${bridge:-docker0}"
	python3 -u -m http.server --bind "$gateway" --directory "$(go env GOMODCACHE)/cache/download" 0 \
		>"$rig_dir/goproxy.log" 2>&1 &
	rig_goproxy_pid=$!
	for _ in $(seq 1 50); do
		port=$(sed -n 's/^Serving HTTP on .* port \([0-9]*\) .*/\1/p' "$rig_dir/goproxy.log" 2>/dev/null || true)
		[[ -n $port ]] && break
		sleep 0.1
	done
	[[ -n $port ]] || die "the module server did not start: $(cat "$rig_dir/goproxy.log")"
	export RIG_GOPROXY=http://$gateway:$port
	say "modules: this machine's module cache, served at $RIG_GOPROXY for the build"
}

# rig_build: the images of the compose file, built (from the base images).
rig_build() {
	local start=$SECONDS
	say "docker-compose build"
	compose build --force-rm >"$rig_dir/build.log" 2>&1 || {
		tail -n 40 "$rig_dir/build.log" >&2
		die "docker-compose build failed"
	}
	say "   images built in $((SECONDS - start)) s"
}
